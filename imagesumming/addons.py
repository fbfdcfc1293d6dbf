"""Add-ons: split a movie, merge movies, write single frames, sum consecutive frames.

Every function streams: frames are read one at a time from the lazy :class:`~imagesumming.io.Movie`
and written at once with :class:`~imagesumming.io.TifWriter`, so a movie is never held whole in
memory. Pixel data are copied bit for bit (the dtype is kept); :func:`sum_frames` widens to an
integer type that holds the exact sums. Localizations follow their frames and keep the input's
format (unless ``to=`` says otherwise); ids are renumbered by the writers.

Outputs are checked before anything is written (existing files are refused unless ``force``, an
output may never be one of the inputs, also through a link) and land as one set
(:func:`imagesumming._files.output_set`): the folder is locked, every file is written into
``DIR/.imagesumming/run-<id>/`` and moved into place only when everything succeeded, so an error
writes nothing and a kill midway leaves a set that ``imagesumming info`` reports as incomplete.

Output names (``<stem>`` is the movie's file name without ``.tif``/``.ome.tif``/``.raw``):

=============  =====================================================================================
function       files
=============  =====================================================================================
split_movie    ``DIR/<stem>_part1.tif`` (frames 1..at) and ``DIR/<stem>_part2.tif`` (the rest), each
               with its localizations ``<stem>_partK.csv`` or, for Picasso,
               ``<stem>_partK_locs.hdf5`` + ``.yaml``
merge_movies   ``OUT.tif`` and ``OUT.csv`` (or ``OUT_locs.hdf5`` + ``OUT_locs.yaml``)
split_frames   ``DIR/<stem>_01.tif`` ... ``<stem>_12.tif`` for 12 frames: one per frame, zero-padded
               to the width of the frame count, each with its localizations (``.csv`` /
               ``_locs.hdf5``; an empty frame gets a file with the header only)
sum_frames     ``OUT.tif``, its localizations as for merge_movies, and ``OUT_groups.json`` (the
               source frames of every summed frame, the frames left out, N, offset, seed)
=============  =====================================================================================

Localization formats: the output keeps the input's format, except that a Picasso csv export is
written as a ThunderSTORM csv (the format that export is made for; frames 1-based, x/y from the
pixel corner), and a table given as a DataFrame is written as a Deep-STORM csv. Picasso yaml
sidecars keep the input yaml's documents (camera, localize settings; for merge those of the first
Picasso input) with the new ``Frames``, ``Width``, ``Height`` and ``Pixelsize``, and end with a
document for this step that names them too (Picasso reads the first document, this project the
last).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from ._files import check_not_inputs, check_outputs, output_set
from .errors import InputError, worded
from .io.locs import (
    ReadReport,
    normalize_format,
    read_locs,
    read_picasso_yaml,
    write_locs,
    write_picasso_hdf5,
)
from .io.movies import Movie, TifWriter, as_movie, smallest_dtype, write_tif
from .schema import make_locs, sort_locs
from .validate import check_locs, check_pixel_size

__all__ = [
    "WRITABLE_FORMATS",
    "AddonResult",
    "frame_groups",
    "merge_movies",
    "split_frames",
    "split_movie",
    "sum_frames",
]

#: localization formats the add-ons can write (``to=`` / ``--to``; aliases as in :func:`read_locs`)
WRITABLE_FORMATS = ("deepstorm", "thunderstorm", "picasso-hdf5", "deepstorm-prediction")
# columns each csv writer keeps (ThunderSTORM and Picasso hdf5 keep extra columns too)
_KEPT = {"deepstorm": ("frame", "x", "y", "photons", "sigma"),
         "deepstorm-prediction": ("frame", "x", "y", "confidence")}
_MOVIE_SUFFIXES = (".ome.tiff", ".ome.tif", ".tiff", ".tif", ".raw")

log = logging.getLogger("imagesumming")


@dataclasses.dataclass
class AddonResult:
    """What an add-on wrote.

    Attributes
    ----------
    command : str
        "split", "merge", "frames" or "sum-frames".
    movies : dict
        Written tif -> number of frames, in order.
    locs : dict
        Written localization file -> number of localizations, in order.
    sidecars : list of Path
        Other files written (Picasso yaml, the sum-frames json).
    locs_format : str or None
        Format of the written localization files.
    dtype : str
        Pixel dtype of the written movies.
    pixel_size : float or None
        Camera pixel size in nm written into the tif tags (and Picasso yaml).
    dropped : dict
        Reason -> localizations dropped as invalid (only with ``on_invalid="drop"``).
    left_out : int
        Localizations not written because their frame was left out (sum-frames remainder).
    remainder : list of int
        1-based frames left out by sum-frames.
    groups : list of list of int
        sum-frames: the 1-based source frames of each summed frame.
    negative_pixels : int
        sum-frames: pixels below zero after subtracting the offset (kept, not clipped).
    seed : int or None
        Seed of the random choices (sum-frames with shuffle).
    notes : list of str
    """

    command: str
    movies: dict = dataclasses.field(default_factory=dict)
    locs: dict = dataclasses.field(default_factory=dict)
    sidecars: list = dataclasses.field(default_factory=list)
    locs_format: str | None = None
    dtype: str = ""
    pixel_size: float | None = None
    dropped: dict = dataclasses.field(default_factory=dict)
    left_out: int = 0
    remainder: list = dataclasses.field(default_factory=list)
    groups: list = dataclasses.field(default_factory=list)
    negative_pixels: int = 0
    seed: int | None = None
    notes: list = dataclasses.field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        """Every file written."""
        return list(self.movies) + list(self.locs) + list(self.sidecars)

    def summary(self) -> str:
        """One line: what was written, where, and everything left out."""
        where = {p.parent for p in self.paths}
        place = str(next(iter(where))) if len(where) == 1 else "several folders"
        frames = sum(self.movies.values())
        ps = "" if self.pixel_size is None else f", {self.pixel_size:g} nm pixels"
        if len(self.movies) <= 2:
            movies = " + ".join(f"{p.name} ({n} frame{'s' * (n != 1)})" for p, n in self.movies.items())
        else:
            movies = f"{len(self.movies)} tifs ({frames} frames)"
        text = f"{self.command}: wrote {movies} ({self.dtype}{ps})"
        if self.locs:
            n = sum(self.locs.values())
            text += f" and {len(self.locs)} {self.locs_format} file{'s' * (len(self.locs) != 1)} ({n} localizations)"
        text += f" in {place}"
        if self.remainder:
            text += f"; {len(self.remainder)} remainder frame(s) left out"
        if self.left_out:
            text += f" with {self.left_out} localization(s)"
        if self.negative_pixels:
            text += f"; {self.negative_pixels} pixel(s) below 0 after subtracting the offset (kept)"
        if self.dropped:
            text += "; dropped " + ", ".join(f"{n} {k}" for k, n in self.dropped.items())
        if self.seed is not None:
            text += f"; shuffled with seed {self.seed}"
        return text


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Input:
    movie: Movie
    locs: pd.DataFrame | None
    report: ReadReport | None
    pixel_size: float | None
    paths: list  # input files (never to be overwritten)
    opened: bool
    dropped: dict
    locs_source: str | None
    history: list  # documents of a Picasso input's yaml (one per processing step), else empty


def _native(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    return dtype.newbyteorder("=") if dtype.byteorder not in ("=", "|") else dtype


def _frame(movie: Movie, i: int) -> np.ndarray:
    """Frame ``i`` (0-based) in native byte order (values unchanged)."""
    frame = movie[i]
    return frame.astype(_native(frame.dtype), copy=False)


def _read_input_locs(locs, pixel_size, movie_ps):
    if locs is None:
        return None, None, None
    if isinstance(locs, pd.DataFrame):
        return make_locs(locs), None, "localization table"  # make_locs copies: the caller's table is untouched
    # Picasso files in camera pixels without metadata: the movie's tif tags may know the pixel size
    table, report = read_locs(locs, pixel_size=pixel_size, fallback_pixel_size=movie_ps, fallback_source="the movie")
    if report.pixel_size_source == "the movie":
        report.notes.append(f"pixel size {movie_ps:g} nm taken from the movie")
    return table, report, str(locs)


def _prepare(movie, locs, *, pixel_size, on_invalid) -> _Input:
    """Open a movie lazily, read its localizations, agree on the pixel size, check the rows."""
    if on_invalid not in ("error", "drop"):
        raise InputError(f"on_invalid must be 'error' or 'drop', not {on_invalid!r}")
    if pixel_size is not None:
        pixel_size = check_pixel_size(pixel_size)
    opened = isinstance(movie, (str, os.PathLike))
    m = as_movie(movie)  # no pixel_size here: as_movie would overwrite it on the caller's Movie
    paths = [m.path] if m.path is not None else []
    try:
        table, report, source = _read_input_locs(locs, pixel_size, m.pixel_size)
        history = []
        if report is not None:
            paths.append(Path(report.path))
            if report.format == "picasso-hdf5":
                paths.append(Path(report.path).with_suffix(".yaml"))
                history = read_picasso_yaml(paths[-1]) if paths[-1].exists() else []
        if m.path is not None and m.path.suffix.lower() == ".raw":
            paths.append(m.path.with_suffix(".yaml"))
        ps = pixel_size
        if ps is None:
            l_ps = None if report is None else report.pixel_size
            if m.pixel_size is not None and l_ps is not None and not math.isclose(m.pixel_size, l_ps, rel_tol=1e-6):
                raise InputError(
                    f"pixel size {m.pixel_size:g} nm of the movie ({m.pixel_size_source}) differs from "
                    f"{l_ps:g} nm of the localizations ({report.pixel_size_source})", m.path or source,
                    hint="give the right one with {pixel_size}")
            ps = l_ps if l_ps is not None else m.pixel_size
        dropped = {}
        if table is not None:
            table, dropped = check_locs(table, pixel_size=ps, width=m.width, height=m.height, n_frames=m.n_frames,
                                        on_invalid=on_invalid, source=source)
            if dropped and on_invalid == "drop":  # a warning on stderr, as sum's (the summary counts them too)
                log.warning("%s: dropped %s", source, ", ".join(f"{n} {r}" for r, n in dropped.items()))
        if report is not None:  # a Picasso yaml that describes another movie hints at a wrong pairing
            said = {k: report.metadata[k] for k in ("Frames", "Width", "Height") if k in report.metadata}
            has = {"Frames": m.n_frames, "Width": m.width, "Height": m.height}
            differ = [f"{k} {v} (movie: {has[k]})" for k, v in said.items() if str(v) != str(has[k])]
            if differ:
                report.notes.append(f"the file's metadata say {', '.join(differ)}")
        return _Input(m, table, report, ps, paths, opened, dropped, source, history)
    except BaseException:
        if opened:
            m.close()
        raise


def _close(inputs) -> None:
    for inp in inputs:
        if inp.opened:
            inp.movie.close()


def _out_format(to, inputs) -> str | None:
    """The localization format to write: ``to``, else the inputs' (which must agree)."""
    if all(i.locs is None for i in inputs):
        if to is not None:
            _writable(to)
        return None
    if to is not None:
        return _writable(to)
    fmts = {("deepstorm" if i.report is None else i.report.format) for i in inputs}
    if len(fmts) > 1:
        raise InputError(f"the localization files have different formats ({', '.join(sorted(fmts))})",
                         hint="choose the output format with {to}")
    fmt = fmts.pop()
    return "thunderstorm" if fmt in _WRITTEN_AS_THUNDERSTORM else fmt


#: csv formats that are read but not written: their outputs are ThunderSTORM csv (nm, units in the labels)
_WRITTEN_AS_THUNDERSTORM = {"picasso-csv": "Picasso csv export", "picasso-plain-csv": "Picasso plain csv",
                            "mapped-csv": "csv read with --columns"}


def _writable(to) -> str:
    fmt = normalize_format(to)
    if fmt not in WRITABLE_FORMATS:
        raise InputError(f"cannot write localization format {fmt!r}; choose one of {', '.join(WRITABLE_FORMATS)}")
    return fmt


def _common_pixel_size(inputs) -> float | None:
    """The movies' one pixel size (a pixel size given by the caller is every input's already)."""
    known = [(i.pixel_size, i.movie.path or i.locs_source) for i in inputs if i.pixel_size is not None]
    for ps, src in known[1:]:
        if not math.isclose(ps, known[0][0], rel_tol=1e-6):
            raise InputError(f"pixel size {ps:g} nm differs from {known[0][0]:g} nm of {known[0][1]}: movies "
                             "to merge must have the same pixel size", src)
    return known[0][0] if known else None


def _stem(movie: Movie, default: str = "movie") -> str:
    if movie.path is None:
        return default
    name = movie.path.name
    for suf in _MOVIE_SUFFIXES:
        if name.lower().endswith(suf):
            return name[: -len(suf)]
    return movie.path.stem


def _tif_name(path) -> Path:
    """``OUT`` as given when it ends with .tif/.tiff, else ``OUT.tif``; an existing folder is refused
    (``OUT.tif`` would land beside it, not in it)."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder: give the output file's name (e.g. a name inside it, DIR/NAME.tif)", path)
    return path if path.suffix.lower() in (".tif", ".tiff") else path.with_name(path.name + ".tif")


def _locs_names(tif: Path, fmt: str | None) -> list[Path]:
    """The localization file(s) written beside ``tif`` (Picasso: hdf5 + yaml)."""
    if fmt is None:
        return []
    stem = tif.name[: -len(tif.suffix)]
    if fmt == "picasso-hdf5":
        return [tif.with_name(f"{stem}_locs.hdf5"), tif.with_name(f"{stem}_locs.yaml")]
    return [tif.with_name(f"{stem}.csv")]


def _notes_for_format(fmt, inputs, notes) -> None:
    for inp in inputs:
        if inp.report is not None and inp.report.format in _WRITTEN_AS_THUNDERSTORM and fmt == "thunderstorm":
            what = _WRITTEN_AS_THUNDERSTORM[inp.report.format]
            notes.append(f"{inp.locs_source}: {what} written as ThunderSTORM csv "
                         "(frames 1-based, x/y in nm from the pixel corner)")
        if inp.locs is not None and fmt in _KEPT:
            lost = [c for c in inp.locs.columns if c not in _KEPT[fmt] and inp.locs[c].notna().any()]
            if lost:
                notes.append(f"{inp.locs_source}: column(s) {', '.join(map(str, lost))} not written "
                             f"({fmt} csv holds {', '.join(_KEPT[fmt])})")
        if inp.report is not None:  # what the reader did (half-pixel shifts, frame base, rows without frame)
            notes += [f"{inp.locs_source}: {n}" for n in inp.report.notes]
            notes += [f"{inp.locs_source}: {n} row(s) not read: {k}" for k, n in inp.report.rows_dropped.items()]


def _check_plan(outputs, inputs, *, fmt, pixel_size, force) -> None:
    """Refuse before writing: existing outputs, outputs that are inputs, Picasso without pixel size."""
    if fmt == "picasso-hdf5" and pixel_size is None:
        raise InputError("Picasso hdf5 stores camera pixels", hint="give the pixel size in nm with {pixel_size}")
    folder = Path(outputs[0]).parent
    if folder.exists() and not folder.is_dir():
        raise InputError("is a file, expected an output folder", folder)
    check_not_inputs(outputs, [p for inp in inputs for p in inp.paths])
    check_outputs(outputs, force=force)


def _plan(command, inputs, tifs, *, to, pixel_size, dtype, force, extra=()):
    """Output names and checks before writing: ``(result, localization names per tif, all outputs)``."""
    fmt = _out_format(to, inputs)
    locs_names = [_locs_names(t, fmt) for t in tifs]
    outputs = list(tifs) + [p for names in locs_names for p in names] + list(extra)
    _check_plan(outputs, inputs, fmt=fmt, pixel_size=pixel_size, force=force)
    dtype = np.dtype(dtype)
    if dtype.itemsize == 8 and dtype.kind in "iuf":  # TifWriter narrows them: Pillow cannot read 64-bit tifs
        narrow = np.dtype({"i": np.int32, "u": np.uint32, "f": np.float32}[dtype.kind])
        how = "rounded to float32" if dtype.kind == "f" else f"refused if a value does not fit {narrow}"
        notes = [f"{dtype} pixels written as {narrow} (the notebook cannot read 64-bit tifs; {how})"]
        dtype = narrow
    else:
        notes = []
    res = AddonResult(command, locs_format=fmt, dtype=str(dtype), pixel_size=pixel_size,
                      dropped=dict(sum((Counter(i.dropped) for i in inputs), Counter())), notes=notes)
    _notes_for_format(fmt, inputs, res.notes)
    if pixel_size is None:
        res.notes.append("pixel size unknown: the tifs carry none (the notebook would assume 1000 nm); "
                         + worded("give it with {pixel_size}"))
    return res, locs_names, outputs


def _staging(command, outputs, inputs, force, manifest=None):
    """The outputs as one set (:func:`imagesumming._files.output_set`): staged, then moved in together."""
    return output_set(outputs, inputs=[p for inp in inputs for p in inp.paths], force=force, command=command,
                      manifest=manifest)


def _progress(total, desc, progress):
    from ._progress import progress_bar  # only where a person watches, only for work that lasts

    return progress_bar(show=progress, total=total, desc=desc, unit="frame")


def _write_locs_file(res, stage, names, table, movie, *, frames, meta=None, history=()) -> None:
    """Stage one localization file (Picasso: hdf5 + yaml) in ``res.locs_format`` and record it in ``res``."""
    res.locs[names[0]] = len(table)
    res.sidecars += names[1:]
    if res.locs_format != "picasso-hdf5":
        write_locs(stage(names[0]), table, res.locs_format)
        return
    write_picasso_hdf5(stage(names[0]), table, pixel_size=res.pixel_size, width=movie.width, height=movie.height,
                       frames=frames, extra_metadata=meta)
    if history:  # Picasso's convention: the input's documents (camera, localize settings...), then this step's
        new = {"Width": movie.width, "Height": movie.height, "Frames": frames, "Pixelsize": res.pixel_size}
        key = ("history", id(history), frames)
        if key not in stage.memo:  # rendered once (split_frames writes thousands of identical ones)
            import yaml

            docs = [{**doc, **{k: v for k, v in new.items() if k in doc}} for doc in history]  # Picasso reads info[0]
            stage.memo[key] = yaml.dump_all(docs, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                                            default_flow_style=False, sort_keys=False)
        yml = stage(names[1])
        yml.write_text(stage.memo[key] + "---\n" + yml.read_text(encoding="utf-8"), encoding="utf-8")


def _copy_frames(writer: TifWriter, movie: Movie, start: int, stop: int, bar, dtype=None) -> None:
    for i in range(start, stop):
        frame = _frame(movie, i)
        writer.write(frame if dtype is None else frame.astype(dtype, copy=False))  # widening only: exact
        bar.update()


def _select(table: pd.DataFrame, first: int, last: int, offset: int) -> pd.DataFrame:
    """Rows of 1-based frames ``first..last`` with ``offset`` added to their frame (a new table)."""
    f = table["frame"].to_numpy()
    part = table.loc[(f >= first) & (f <= last)].reset_index(drop=True)
    return part.assign(frame=part["frame"].to_numpy() + offset)


# ---------------------------------------------------------------------------------------------
# split
# ---------------------------------------------------------------------------------------------


def split_movie(movie, locs=None, *, at: int, out_dir, to: str | None = None, pixel_size: float | None = None,
                on_invalid: str = "error", force: bool = False, progress: bool = True) -> AddonResult:
    """Split a movie (and its localizations) in two: frames ``1..at`` and ``at+1..end``.

    Parameters
    ----------
    movie : str, Path, Movie or array
        Movie ``(frames, height, width)``; read frame by frame.
    locs : str, Path or DataFrame, optional
        Its localizations (any readable format, or a canonical table).
    at : int
        Last frame (1-based) of the first part, ``1 <= at <= frames - 1``.
    out_dir : str or Path
        Folder for ``<stem>_part1.tif``, ``<stem>_part2.tif`` and their localization files.
    to : str, optional
        Output localization format (default: the input's, see the module docstring).
    pixel_size : float, optional
        Camera pixel size in nm; overrides the files' metadata.
    on_invalid : {"error", "drop"}
        Localizations outside the image or beyond the movie: raise (default) or drop and count.
    force : bool
        Overwrite existing outputs.
    progress : bool, default True
        Show progress bars where a person watches (a terminal or a notebook) and the work lasts.

    Returns
    -------
    AddonResult
        The second part's frames are renumbered from 1, its localizations follow.

    Examples
    --------
    >>> r = split_movie("m.tif", "m.csv", at=800, out_dir="parts")  # doctest: +SKIP
    >>> print(r.summary())  # doctest: +SKIP
    """
    inp = _prepare(movie, locs, pixel_size=pixel_size, on_invalid=on_invalid)
    try:
        m, n = inp.movie, inp.movie.n_frames
        if n < 2:
            raise InputError("a movie of one frame cannot be split", m.path)
        at_int = int(at) if float(at).is_integer() else None
        if at_int is None or not 1 <= at_int <= n - 1:
            raise InputError(f"split frame {at} is out of range: the movie has {n} frames, so split after a "
                             f"frame 1..{n - 1}", m.path)
        tifs = [Path(out_dir) / f"{_stem(m)}_part{k}.tif" for k in (1, 2)]
        res, locs_names, outputs = _plan("split", [inp], tifs, to=to, pixel_size=inp.pixel_size,
                                         dtype=_native(m.dtype), force=force)
        ranges = [(0, at_int), (at_int, n)]
        with _staging("split", outputs, [inp], force) as stage, _progress(n, "split", progress) as bar:
            for k, (tif, (a, b)) in enumerate(zip(tifs, ranges, strict=True)):
                with TifWriter(stage(tif), inp.pixel_size, n_frames=b - a) as w:
                    _copy_frames(w, m, a, b, bar)
                res.movies[tif] = b - a
                if res.locs_format:
                    part = _select(inp.locs, a + 1, b, -a)
                    src = m.path.name if m.path else "the movie"
                    _write_locs_file(res, stage, locs_names[k], part, m, frames=b - a, history=inp.history,
                                     meta={"Source": f"frames {a + 1}-{b} of {src}"})
        return res
    finally:
        _close([inp])


# ---------------------------------------------------------------------------------------------
# merge
# ---------------------------------------------------------------------------------------------


def merge_movies(movies, locs=None, *, output, to: str | None = None, pixel_size: float | None = None,
                 on_invalid: str = "error", force: bool = False, progress: bool = True) -> AddonResult:
    """Stack movies in order into one; offset each movie's localization frames by the frames before.

    The offset of a movie is the number of frames of the movies before it (not the largest
    localized frame), so movies whose last frames have no localizations stay aligned.

    Parameters
    ----------
    movies : sequence of str, Path, Movie or array
        Movies of the same image size and pixel size. Different integer dtypes are widened to one
        that holds all values exactly (noted in the result).
    locs : sequence of str, Path or DataFrame, optional
        One localization file per movie, in the same order (or None for movies only).
    output : str or Path
        The merged tif (``.tif`` is appended when missing); localizations go beside it
        (``OUT.csv`` or ``OUT_locs.hdf5`` + yaml).
    to, pixel_size, on_invalid, force, progress
        As for :func:`split_movie`. The localization files must share one format unless ``to`` is
        given.

    Returns
    -------
    AddonResult
    """
    movies = list(movies)
    if not movies:
        raise InputError("nothing to merge: give at least one movie")
    if locs is not None:
        locs = list(locs)
        if len(locs) != len(movies):
            raise InputError(f"{len(movies)} movies but {len(locs)} localization files: give one per movie")
        if any(x is None for x in locs):
            raise InputError("give localizations for every movie or for none")
    inputs = []
    try:
        for k, mv in enumerate(movies):
            inputs.append(_prepare(mv, None if locs is None else locs[k], pixel_size=pixel_size,
                                   on_invalid=on_invalid))
        first = inputs[0].movie
        for inp in inputs[1:]:
            if inp.movie.shape[1:] != first.shape[1:]:
                raise InputError(f"image size {inp.movie.width}x{inp.movie.height} px differs from "
                                 f"{first.width}x{first.height} px of {first.path or 'the first movie'}: movies to "
                                 "merge must have the same size", inp.movie.path)
        ps = _common_pixel_size(inputs)
        dtype = np.result_type(*[_native(i.movie.dtype) for i in inputs])
        tif = _tif_name(output)
        res, (names,), outputs = _plan("merge", inputs, [tif], to=to, pixel_size=ps, dtype=dtype, force=force)
        total = sum(i.movie.n_frames for i in inputs)
        if any(_native(i.movie.dtype) != dtype for i in inputs):
            res.notes.append(f"movies of dtypes {sorted({str(i.movie.dtype) for i in inputs})} widened to {dtype} "
                             "(values unchanged)")
        with _staging("merge", outputs, inputs, force) as stage, _progress(total, "merge", progress) as bar:
            with TifWriter(stage(tif), ps, n_frames=total) as w:
                for inp in inputs:
                    _copy_frames(w, inp.movie, 0, inp.movie.n_frames, bar, dtype=dtype)
            res.movies[tif] = total
            if res.locs_format:
                parts, offset = [], 0
                for inp in inputs:
                    parts.append(inp.locs.assign(frame=inp.locs["frame"].to_numpy() + offset))
                    offset += inp.movie.n_frames
                table = sort_locs(pd.concat(parts, ignore_index=True)) if len(parts) > 1 else parts[0]
                srcs = [str(i.movie.path.name) if i.movie.path else "array" for i in inputs]
                _write_locs_file(res, stage, names, table, first, frames=total,
                                 meta={"Source": "merge of " + ", ".join(srcs)},
                                 history=next((i.history for i in inputs if i.history), []))
        return res
    finally:
        _close(inputs)


# ---------------------------------------------------------------------------------------------
# single frames
# ---------------------------------------------------------------------------------------------


def split_frames(movie, locs=None, *, out_dir, to: str | None = None, pixel_size: float | None = None,
                 on_invalid: str = "error", force: bool = False, progress: bool = True) -> AddonResult:
    """Write every frame as its own tif with its own localization file.

    Names are ``<stem>_<frame>.tif`` and ``.csv`` (or ``_locs.hdf5``), the 1-based frame number
    zero-padded to the width of the frame count so that the names sort (``_01`` .. ``_12``). In
    each file the frame is frame 1; an empty frame gets a file with the header only.

    Parameters
    ----------
    movie, locs, to, pixel_size, on_invalid, force, progress
        As for :func:`split_movie`.
    out_dir : str or Path
        Output folder.

    Returns
    -------
    AddonResult
    """
    inp = _prepare(movie, locs, pixel_size=pixel_size, on_invalid=on_invalid)
    try:
        m, n = inp.movie, inp.movie.n_frames
        stem, width = _stem(m), len(str(n))
        tifs = [Path(out_dir) / f"{stem}_{i + 1:0{width}d}.tif" for i in range(n)]
        res, locs_names, outputs = _plan("frames", [inp], tifs, to=to, pixel_size=inp.pixel_size,
                                         dtype=_native(m.dtype), force=force)
        if res.locs_format:
            table = sort_locs(inp.locs)
            bounds = np.searchsorted(table["frame"].to_numpy(), np.arange(1, n + 2))
        with _staging("frames", outputs, [inp], force) as stage, _progress(n, "frames", progress) as bar:
            for i in range(n):
                write_tif(stage(tifs[i]), _frame(m, i), inp.pixel_size, dtype=res.dtype)  # one dtype for all
                res.movies[tifs[i]] = 1
                if res.locs_format:
                    rows = table.iloc[bounds[i]:bounds[i + 1]].reset_index(drop=True)
                    rows = rows.assign(frame=np.ones(len(rows), np.int64))
                    _write_locs_file(res, stage, locs_names[i], rows, m, frames=1, history=inp.history)
                bar.update()
        return res
    finally:
        _close([inp])


# ---------------------------------------------------------------------------------------------
# frame summing
# ---------------------------------------------------------------------------------------------


def frame_groups(n_frames: int, n: int, *, shuffle: bool = False, seed: int | None = 0):
    """Which frames :func:`sum_frames` sums: ``(groups, remainder)``, 0-based frame indices.

    Without shuffle, groups are consecutive frames ``[0..n-1], [n..2n-1], ...``; with shuffle, all
    frames are permuted with ``numpy.random.default_rng(seed)`` and cut into groups of ``n`` (drawn
    without replacement; each group sorted). The ``n_frames % n`` frames left over form the
    remainder (sorted).
    """
    n_groups = n_frames // n
    order = np.random.default_rng(seed).permutation(n_frames) if shuffle else np.arange(n_frames)
    groups = np.sort(order[: n_groups * n].reshape(n_groups, n), axis=1)
    return groups, np.sort(order[n_groups * n:])


def sum_frames(movie, locs=None, *, n: int, camera_offset: float, output, shuffle: bool = False,
               seed: int | None = 0, to: str | None = None, pixel_size: float | None = None,
               on_invalid: str = "error", force: bool = False, progress: bool = True) -> AddonResult:
    """Sum every ``n`` consecutive frames (or ``n`` random frames) into one denser frame.

    Each output frame is ``sum of its n frames - (n - 1) * camera_offset``, computed exactly in
    64-bit integers and written in the smallest type that holds the values, as ``sum`` writes its
    frames (:func:`~imagesumming.io.movies.smallest_dtype`: uint16 when they fit, else int32): a
    first pass over the frames finds their range. The notebook cannot read 64-bit tifs: sums
    beyond int32 are refused (nothing written).
    Negative values are kept (and counted). Float movies are summed in float64 and written as
    float32. The ``frames % n`` remainder frames are left out and reported.

    Parameters
    ----------
    movie : str, Path, Movie or array
    locs : str, Path or DataFrame, optional
        Ground truth: the localizations of each group's frames are written with the group's
        1-based number as their frame.
    n : int
        Frames per sum, ``1 <= n <= frames``.
    camera_offset : float
        Camera offset in ADU (a whole number for integer movies).
    output : str or Path
        The summed tif (``.tif`` appended when missing); localizations and ``OUT_groups.json``
        (source frames of each summed frame, remainder, n, offset, seed) go beside it.
    shuffle : bool
        Draw the frames of each group at random without replacement instead of consecutively.
    seed : int, optional
        Seed of the shuffle (recorded in the result and the json); None draws a fresh one (recorded
        too).
    to, pixel_size, on_invalid, force, progress
        As for :func:`split_movie`.

    Returns
    -------
    AddonResult
        ``groups`` (1-based source frames per summed frame), ``remainder``, ``negative_pixels``.
    """
    inp = _prepare(movie, locs, pixel_size=pixel_size, on_invalid=on_invalid)
    try:
        m, nf = inp.movie, inp.movie.n_frames
        src = m.path or "movie"
        if not float(n).is_integer() or int(n) < 1:
            raise InputError(f"frames per sum must be a whole number >= 1, not {n}", m.path)
        n = int(n)
        if n > nf:
            raise InputError(f"cannot sum {n} frames: the movie has only {nf}", m.path)
        acc_dtype, out_dtype, offset = _sum_dtypes(_native(m.dtype), n, camera_offset, m.path)
        if shuffle and seed is None:  # a fresh seed, recorded so the run can be repeated
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        elif shuffle:
            if isinstance(seed, bool) or not float(seed).is_integer() or seed < 0:
                raise InputError(f"seed must be a whole number >= 0, not {seed}", m.path)
            seed = int(seed)
        tif = _tif_name(output)
        groups_json = tif.with_name(tif.name[: -len(tif.suffix)] + "_groups.json")
        res, (names,), outputs = _plan("sum-frames", [inp], [tif], to=to, pixel_size=inp.pixel_size,
                                       dtype=out_dtype, force=force, extra=[groups_json])
        groups, remainder = frame_groups(nf, n, shuffle=shuffle, seed=seed)
        res.remainder, res.groups = (remainder + 1).tolist(), (groups + 1).tolist()
        res.seed = seed if shuffle else None
        if len(remainder):
            res.notes.append(f"{len(remainder)} frame(s) left out ({nf} frames are not a multiple of {n}): "
                             f"{_ranges(remainder + 1)}")
        first_pass = out_dtype.kind != "f" and len(groups) > 0  # integers: the values' range gives the dtype
        with _staging("sum-frames", outputs, [inp], force, manifest=groups_json) as stage, \
                _progress((1 + first_pass) * (nf - len(remainder)), "sum-frames", progress) as bar:
            if first_pass:
                out_dtype = _sums_dtype(m, groups, acc_dtype, n, offset, tif, bar)
                res.dtype = str(out_dtype)
            with TifWriter(stage(tif), inp.pixel_size, n_frames=len(groups)) as w:
                for _, acc in _group_sums(m, groups, acc_dtype, n, offset, bar):
                    res.negative_pixels += int(np.count_nonzero(acc < 0))
                    w.write(acc.astype(out_dtype))  # the first pass checked the range
            res.movies[tif] = len(groups)
            meta = {"Source": str(src), "Frames summed": n, "Camera offset subtracted": offset,
                    "Shuffle": bool(shuffle), "Seed": seed if shuffle else None}
            if res.locs_format:
                group_of = np.zeros(nf + 1, np.int64)  # 1-based source frame -> 1-based group, 0 = left out
                group_of[groups.ravel() + 1] = np.repeat(np.arange(1, len(groups) + 1), n)
                new = group_of[inp.locs["frame"].to_numpy()]
                res.left_out = int(np.count_nonzero(new == 0))
                table = sort_locs(inp.locs.loc[new > 0].assign(frame=new[new > 0]))
                _write_locs_file(res, stage, names, table, m, frames=len(groups), meta=meta, history=inp.history)
                if res.left_out:
                    res.notes.append(f"{res.left_out} localization(s) in the remainder frames left out")
            record = {"imagesumming": __version__, **meta, "Output dtype": str(out_dtype),
                      "Groups (1-based source frames of each summed frame)": res.groups,
                      "Remainder (1-based frames left out)": res.remainder}
            with open(stage(groups_json), "w", encoding="utf-8") as fh:  # one key per line, lists compact
                fh.write("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in record.items()) + "\n}\n")
            res.sidecars.append(groups_json)
        return res
    finally:
        _close([inp])


def _group_sums(m, groups, acc_dtype, n, offset, bar):
    """``(group index, its sum minus (n - 1) offsets)`` for each group of frames, one frame read at a time
    (the array is reused: use it before the next)."""
    acc = np.empty(m.shape[1:], acc_dtype)
    for g, group in enumerate(groups):
        acc[...] = 0
        for i in group:
            acc += _frame(m, int(i))
            bar.update()
        acc -= (n - 1) * offset
        yield g, acc


def _sums_dtype(m, groups, acc_dtype, n, offset, tif, bar) -> np.dtype:
    """The smallest dtype holding every sum (the first pass of :func:`sum_frames`); beyond int32 refused."""
    lo, hi = None, None
    for g, acc in _group_sums(m, groups, acc_dtype, n, offset, bar):
        if acc.size:
            _check_range(acc, np.dtype(np.int32), f"summed frame {g + 1}", tif)
            a, b = int(acc.min()), int(acc.max())
            lo, hi = (a, b) if lo is None else (min(lo, a), max(hi, b))
    return smallest_dtype(lo or 0, hi or 0)


def _sum_dtypes(in_dtype: np.dtype, n: int, camera_offset, path):
    """``(accumulator dtype, output dtype, offset)`` for sums of ``n`` frames minus ``(n-1) * offset``.

    Integers: exact in int64; the output dtype here is the widest one needed (never 64-bit: the
    notebook cannot read it), the values' range then picks the smallest (:func:`_sums_dtype`).
    Floats: float64, written as float32.
    """
    offset = float(camera_offset)
    if in_dtype.kind not in "iub":
        return np.dtype(np.float64), np.dtype(np.float32), offset
    if not offset.is_integer():
        raise InputError(f"camera offset {camera_offset} must be a whole number of ADU for a movie of {in_dtype}",
                         path)
    offset = int(offset)
    info = np.iinfo(in_dtype) if in_dtype.kind != "b" else np.iinfo(np.uint8)
    lo, hi = n * int(info.min) - (n - 1) * offset, n * int(info.max) - (n - 1) * offset
    if lo < np.iinfo(np.int64).min or hi > np.iinfo(np.int64).max:
        raise InputError(f"sums of {n} frames of {in_dtype} do not fit in 64-bit integers", path)
    out_dtype = smallest_dtype(min(lo, 0), hi)
    return np.dtype(np.int64), np.dtype(np.int32) if out_dtype.itemsize == 8 else out_dtype, offset


def _check_range(values: np.ndarray, dtype: np.dtype, what: str, path) -> None:
    info = np.iinfo(dtype)
    lo, hi = int(values.min()), int(values.max())
    if lo < info.min or hi > info.max:
        raise InputError(f"{what} has values {lo}..{hi}, beyond {dtype} (the widest integer type the "
                         "notebook reads); sum fewer frames", path)


def _ranges(frames) -> str:
    """``[3, 4, 5, 9]`` -> ``"3-5, 9"`` (short text for reports)."""
    frames = list(map(int, frames))
    out, start = [], None
    for k, f in enumerate(frames):
        if start is None:
            start = f
        if k + 1 == len(frames) or frames[k + 1] != f + 1:
            out.append(str(start) if start == f else f"{start}-{f}")
            start = None
    return ", ".join(out)
