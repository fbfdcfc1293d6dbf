"""Pair movies with their localization files from what a person types into a form field.

A notebook form has one text field for the movies and one for their localizations. Several
measurements go in either as lists (separated by ``;`` or one per line, paired in the order given)
or as a pattern for the movies (``data/*.tif``) with a name template for the localizations
(``{stem}_locs.hdf5``: ``{stem}`` is the movie's file name without ``.tif``/``.tiff``/``.raw``).
Pairing is always explicit: the order the user wrote, or the movie's own name. Two globs matched
up by sorting are refused, since a file missing on one side would silently shift every pair.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from ._files import check_input_file
from .errors import InputError

__all__ = ["movie_files", "pair_files", "split_paths"]

_GLOB = re.compile(r"[*?\[]")
_MOVIE_SUFFIXES = (".ome.tif", ".ome.tiff", ".tif", ".tiff", ".raw")


def split_paths(text) -> list[str]:
    """The paths in a form field: separated by ``;`` or newlines, blanks and surrounding quotes dropped.
    A list or tuple is taken as it is (one path per item)."""
    if isinstance(text, (list, tuple)):
        items = [os.fspath(t) for t in text]
    else:
        items = re.split(r"[;\n]", os.fspath(text or ""))
    return [s for s in (item.strip().strip("'\"").strip() for item in items) if s]


def _stem(movie: Path) -> str:
    name = movie.name
    for suffix in _MOVIE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return movie.stem


def _expand(item: str, what: str) -> list[Path]:
    path = Path(item).expanduser()
    if _GLOB.search(item):
        hits = sorted(Path(p) for p in glob.glob(os.fspath(path)))
        hits = [p for p in hits if p.is_file()]
        if not hits:
            raise InputError(f"no {what} matches the pattern {item!r} (relative paths start in {Path.cwd()})")
        return hits
    if path.is_dir():
        raise InputError(f"is a folder: give the {what} files, or a pattern such as {os.path.join(item, '*.tif')!r}",
                         path)
    return [check_input_file(path)]


def movie_files(movies, what: str = "movie") -> list[Path]:
    """The movie files in a form field: paths separated by ``;`` or newlines, or patterns such as
    ``data/*.tif`` (sorted), each checked to exist; ``what`` names them in the errors."""
    return [p for item in split_paths(movies) for p in _expand(item, what)]


def pair_files(movies, localizations) -> list[tuple[Path, Path]]:
    """Pairs ``(movie, localizations)`` from two form fields (see the module docstring).

    Parameters
    ----------
    movies : str or list
        Movie files, separated by ``;`` or newlines, or patterns such as ``data/*.tif``.
    localizations : str or list
        As many localization files in the same order, or one name template with ``{stem}``; a
        template without a folder is looked for beside each movie.

    Returns
    -------
    list of (Path, Path)
        One pair per movie, every file checked to exist.

    Raises
    ------
    InputError
        A missing file, a pattern matching nothing, a movie given twice, different numbers of
        movies and localization files, or movies from a pattern without a ``{stem}`` template.
    """
    movie_items, loc_items = split_paths(movies), split_paths(localizations)
    if not movie_items or not loc_items:
        raise InputError("give both the movies and their localization files")
    movie_paths = movie_files(movie_items)
    seen = {}
    for p in movie_paths:
        key = p.resolve()
        if key in seen:
            raise InputError("is given twice as a movie", p)
        seen[key] = p
    if len(loc_items) == 1 and "{stem}" in loc_items[0]:
        template = loc_items[0]
        if _GLOB.search(template):
            raise InputError(f"the localization name {template!r} holds a pattern character; give a plain name "
                             "with {stem}, such as {stem}_locs.hdf5")
        locs = []
        for movie in movie_paths:
            name = template.replace("{stem}", _stem(movie))
            path = Path(name).expanduser()
            if not path.is_absolute() and os.path.dirname(name) == "":
                path = movie.parent / path  # a bare name: beside its movie
            if not path.exists():
                raise InputError(f"no localization file for movie {movie} (looked for {path} from {template!r})", path)
            locs.append(check_input_file(path))
    else:
        if any(_GLOB.search(item) for item in loc_items):
            raise InputError("localization files cannot be paired by a pattern (a missing file would shift every "
                             "pair): list them in the order of the movies, or use a name with {stem}, such as "
                             "{stem}_locs.hdf5")
        if any(_GLOB.search(item) for item in movie_items) and len(movie_paths) > 1:
            raise InputError(f"the movie pattern matched {len(movie_paths)} files: name their localizations with "
                             "{stem} (such as {stem}_locs.hdf5) so that each movie gets its own")
        locs = [check_input_file(Path(item).expanduser()) for item in loc_items]
        if len(locs) != len(movie_paths):
            raise InputError(f"{len(movie_paths)} movie(s) but {len(locs)} localization file(s): give one per movie, "
                             "in the same order (or a name with {stem})")
    return list(zip(movie_paths, locs))
