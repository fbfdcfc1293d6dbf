"""The add-ons user interface: convert, split, merge, single frames, sum frames (one small form each)."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w

from ..errors import InputError
from . import _common as c

__all__ = ["AddOnsUI"]


def _half(movie: str) -> int:
    """Half the frames of a prefilled movie (a starting value for the split), else 1."""
    from ..io import open_movie

    try:
        with open_movie(movie) as m:
            return max(1, m.n_frames // 2)
    except Exception:  # noqa: BLE001 - no or unreadable movie yet: the user fills it in
        return 1


class _Form:
    """Options every add-on form has, a button, its progress bar, a status line and an Output for prints."""

    def __init__(self, title: str, fields: list, button_text: str, action, *, pixel_size=True, invalid=True):
        self.pixel_size = c.number("pixel size [nm] (0: from the files)", 0.0, minimum=0)
        self.on_invalid = w.Dropdown(options=[("stop with an error", "error"), ("drop them (counted)", "drop")],
                                     value="error", description="localizations outside the movie",
                                     style=c._STYLE, layout=w.Layout(width="460px"))
        self.force = w.Checkbox(value=False, description="overwrite existing files", indent=False)
        self.button = c.button(button_text, "primary")
        self.button.on_click(lambda _: action())
        self.status = c.message()
        self.log = w.Output()
        # a bar of our own: the API's tqdm bars are notebook widgets that close themselves, and a
        # closed widget in an Output reads "Error displaying widget: model not found" in Voila
        self.progress = w.IntProgress(value=0, min=0, max=2, description="", bar_style="")
        options = ([self.pixel_size] if pixel_size else []) + ([self.on_invalid] if invalid else [])
        self.panel = w.VBox([c.heading(title), *fields, *options, self.force,
                             w.HBox([self.button, self.progress]), self.status, self.log])

    def options(self) -> dict:
        """The API's keyword arguments common to the forms (the API's own progress bars off)."""
        return {"pixel_size": float(self.pixel_size.value) or None, "on_invalid": self.on_invalid.value,
                "force": bool(self.force.value), "progress": False}


def _pixel_size_warnings(form: _Form, movies) -> list[str]:
    """Warnings for movies whose tags give another pixel size than the one typed in ``form``."""
    from ..io import open_movie

    typed = float(form.pixel_size.value) or None
    out = []
    for path in movies if typed else ():
        try:
            with open_movie(path) as m:
                own = m.pixel_size
        except Exception:  # noqa: BLE001 - an unreadable movie is the job's error to report
            continue
        if own and abs(own - typed) > 1e-6 * typed:
            out.append(f"{Path(path).name} says {own:g} nm per pixel; the {typed:g} nm typed above are used "
                       "(type 0 to take the files' size)")
    return out


class AddOnsUI(c.UI):
    """Notebook UI for the add-ons (:mod:`imagesumming.addons`) and localization conversion.

    Parameters
    ----------
    movie, locs : path, optional
        Prefill the movie and localization fields of every form.
    out_dir : path, optional
        Prefill the outputs: ``<out_dir>/<stem>_deepstorm.csv``, ``split/``, ``merged.tif``,
        ``frames/`` and ``summed_frames.tif``.
    movies, locs_list : sequences of paths, optional
        Prefill the merge form (default: ``movie`` and ``locs``).

    The forms are :attr:`convert_panel`, :attr:`split_panel`, :attr:`merge_panel`,
    :attr:`frames_panel` and :attr:`sum_frames_panel` (all of them when the UI is displayed); their
    buttons call :meth:`convert`, :meth:`split`, :meth:`merge`, :meth:`frames` and
    :meth:`sum_frames`, which return the API's result (None after an error, shown in the form).
    """

    def __init__(self, movie="", locs="", *, out_dir="", movies=None, locs_list=None):
        movie, locs = str(movie or ""), str(locs or "")
        out = Path(out_dir) if out_dir else None
        stem = Path(locs).stem if locs else "locs"

        def dest(name: str) -> str:
            return str(out / name) if out else ""

        # convert
        self.convert_input = c.text("localization file", locs, "Picasso _locs.hdf5 / csv, ThunderSTORM csv")
        self.convert_output = c.text("Deep-STORM csv to write", dest(f"{stem}_deepstorm.csv"), "out.csv")
        # csv files of other tools (ONI, Zeiss, ...): which columns, the first frame's number, the unit
        self.convert_columns = c.text("columns (other tools' csv)", "", "frame=Frame,x=X (nm),y=Y (nm)")
        self.convert_frame_base = w.Dropdown(
            options=[("the format's (Picasso 0, others 1)", None), ("0", 0), ("1", 1)], value=None,
            description="first frame is numbered", style=c._STYLE, layout=w.Layout(width="460px"))
        self.convert_unit = w.Dropdown(options=[("as the column labels say", None), ("nm", "nm"), ("µm", "um"),
                                                ("camera pixels", "px")], value=None,
                                       description="unit of x, y", style=c._STYLE, layout=w.Layout(width="460px"))
        self.convert_origin = w.Dropdown(
            options=[("not given (x, y in nm: corner)", None), ("corner: pixel k spans [k, k+1)", "corner"),
                     ("centre: pixel k's centre at k (Picasso)", "centre")], value=None,
            description="pixel centre (columns)", style=c._STYLE, layout=w.Layout(width="460px"))
        self.convert_form = _Form("Convert localizations to a Deep-STORM csv",
                                  [self.convert_input, self.convert_output, self.convert_columns,
                                   w.HBox([self.convert_frame_base, self.convert_unit]), self.convert_origin],
                                  "Convert", self.convert)
        # split
        self.split_movie = c.text("movie", movie, "movie.tif")
        self.split_locs = c.text("localizations (optional)", locs, "locs.csv")
        self.split_at = c.number("last frame of the first part", _half(movie), kind=int, minimum=1)
        self.split_out = c.text("output folder", dest("split"), "folder")
        self.split_form = _Form("Split at a frame", [self.split_movie, self.split_locs, self.split_at,
                                                     self.split_out], "Split", self.split)
        # merge
        movies = [str(m) for m in (movies if movies is not None else [movie] if movie else [])]
        locs_list = [str(x) for x in (locs_list if locs_list is not None else [locs] if locs else [])]
        self.merge_movies = w.Textarea(value="\n".join(movies), description="movies (one per line, in order)",
                                       placeholder="a.tif\nb.tif", style=c._STYLE,
                                       layout=w.Layout(width="95%", height="5em"))
        self.merge_locs = w.Textarea(value="\n".join(locs_list),
                                     description="their localizations (one per line, optional)",
                                     placeholder="a.csv\nb.csv", style=c._STYLE,
                                     layout=w.Layout(width="95%", height="5em"))
        self.merge_output = c.text("merged tif", dest("merged.tif"), "merged.tif")
        self.merge_form = _Form("Merge several measurements", [self.merge_movies, self.merge_locs,
                                                               self.merge_output], "Merge", self.merge)
        # single frames
        self.frames_movie = c.text("movie", movie, "movie.tif")
        self.frames_locs = c.text("localizations (optional)", locs, "locs.csv")
        self.frames_out = c.text("output folder", dest("frames"), "folder")
        self.frames_form = _Form("Single frames", [self.frames_movie, self.frames_locs, self.frames_out],
                                 "Write single frames", self.frames)
        # sum frames
        self.sum_movie = c.text("movie", movie, "movie.tif")
        self.sum_locs = c.text("localizations (optional)", locs, "locs.csv")
        self.sum_n = c.number("frames per sum (N)", 10, kind=int, minimum=1)
        self.sum_offset = c.number("camera offset [ADU]", 100.0)
        self.sum_shuffle = w.Checkbox(value=False, description="draw the N frames at random", indent=False)
        self.sum_seed = c.number("seed (with random frames)", 0, kind=int, minimum=0)
        self.sum_output = c.text("summed tif", dest("summed_frames.tif"), "summed.tif")
        self.sum_form = _Form("Sum frames", [self.sum_movie, self.sum_locs, w.HBox([self.sum_n, self.sum_offset]),
                                             w.HBox([self.sum_shuffle, self.sum_seed]), self.sum_output],
                              "Sum frames", self.sum_frames)

        self.convert_panel = self.convert_form.panel
        self.split_panel = self.split_form.panel
        self.merge_panel = self.merge_form.panel
        self.frames_panel = self.frames_form.panel
        self.sum_frames_panel = self.sum_form.panel
        self.widget = w.VBox([self.convert_panel, self.split_panel, self.merge_panel, self.frames_panel,
                              self.sum_frames_panel])

    @classmethod
    def from_folder(cls, folder="", **kwargs) -> AddOnsUI:
        """A UI prefilled with the movie/localization pairs of ``folder``; outputs in ``<folder>/addons``."""
        if not folder:
            return cls(**kwargs)
        pairs = c.find_pairs(Path(folder))
        movie, locs = pairs[0] if pairs else ("", "")
        kwargs.setdefault("out_dir", Path(folder) / "addons")
        kwargs.setdefault("movies", [m for m, _ in pairs])
        kwargs.setdefault("locs_list", [x for _, x in pairs])
        return cls(movie, locs, **kwargs)

    @staticmethod
    def _run(form: _Form, busy: str, job, movies=()):
        """Run ``job()`` (returns the result and its message) with errors shown in the form.

        ``movies()`` gives the form's movies: a typed pixel size that disagrees with their tags is
        used (the user asked for it) and said in a warning line.
        """
        result = None
        form.progress.value, form.progress.bar_style = 1, "info"
        with c.reporting(form.status, busy=busy) as done:
            warnings = _pixel_size_warnings(form, movies() if callable(movies) else movies)
            with c.capture(form.log):  # whatever the API prints lands in the form, then goes
                result, text_ = job()
            c.say(form.status, text_, warnings=warnings)
        form.progress.value, form.progress.bar_style = (2, "success") if done.ok else (0, "danger")
        return result

    def convert(self):
        """Read the localization file (any format) and write it as a Deep-STORM csv."""
        from ..io import LocsFile, read_locs, write_deepstorm_csv
        from ..validate import check_locs

        form = self.convert_form

        def job():
            src = c.need_path(self.convert_input.value, "localization file")
            dst = c.need_path(self.convert_output.value, "output csv")
            opt = form.options()
            how = LocsFile(src, columns=self.convert_columns.value.strip() or None,
                           frame_base=self.convert_frame_base.value, unit=self.convert_unit.value,
                           origin=self.convert_origin.value)  # without columns: refused, not dropped
            locs, rep = read_locs(how, pixel_size=opt["pixel_size"])
            meta = {k: int(rep.metadata[k]) for k in ("Width", "Height", "Frames") if k in rep.metadata}
            locs, invalid = check_locs(locs, pixel_size=opt["pixel_size"] or rep.pixel_size,
                                       width=meta.get("Width"), height=meta.get("Height"),
                                       n_frames=meta.get("Frames"), on_invalid=opt["on_invalid"], source=src)
            write_deepstorm_csv(dst, locs, force=opt["force"])
            lines = [f"read {rep.rows_read} rows as {rep.format} ({rep.frame_base}-based frames, {rep.units}"
                     + (f", pixel size {rep.pixel_size:g} nm" if rep.pixel_size else "") + ")"]
            lines += [f"note: {n}" for n in rep.notes]
            if invalid:
                lines.append("dropped invalid localizations: " + ", ".join(f"{n} {k}" for k, n in invalid.items()))
            lines.append(f"wrote {len(locs)} localizations to {dst} (Deep-STORM csv)")
            return dst, "\n".join(lines)

        return self._run(form, "converting ...", job)

    @staticmethod
    def _summary(result) -> str:
        return "\n".join([result.summary()] + [f"note: {n}" for n in result.notes])

    def split(self):
        """Split the movie (and localizations) after the given frame."""
        from ..addons import split_movie

        def job():
            r = split_movie(c.need_path(self.split_movie.value, "movie"), c.path_or_none(self.split_locs.value),
                            at=int(self.split_at.value), out_dir=c.need_path(self.split_out.value, "output folder"),
                            **self.split_form.options())
            return r, self._summary(r)

        return self._run(self.split_form, "splitting ...", job, lambda: [c.need_path(self.split_movie.value, "movie")])

    def merge(self):
        """Stack the movies in order (localization frames offset by the frames before)."""
        from ..addons import merge_movies

        def job():
            movies = c.paths_list(self.merge_movies.value)
            locs = c.paths_list(self.merge_locs.value) or None
            if not movies:
                raise InputError("give the movies to merge, one per line")
            r = merge_movies(movies, locs, output=c.need_path(self.merge_output.value, "merged tif"),
                             **self.merge_form.options())
            return r, self._summary(r)

        return self._run(self.merge_form, "merging ...", job, lambda: c.paths_list(self.merge_movies.value))

    def frames(self):
        """Write every frame as its own tif (and localization file)."""
        from ..addons import split_frames

        def job():
            r = split_frames(c.need_path(self.frames_movie.value, "movie"), c.path_or_none(self.frames_locs.value),
                             out_dir=c.need_path(self.frames_out.value, "output folder"),
                             **self.frames_form.options())
            return r, self._summary(r)

        return self._run(self.frames_form, "writing single frames ...", job,
                         lambda: [c.need_path(self.frames_movie.value, "movie")])

    def sum_frames(self):
        """Sum every N frames (offset subtracted N-1 times), with the localizations when given."""
        from ..addons import sum_frames

        def job():
            r = sum_frames(c.need_path(self.sum_movie.value, "movie"), c.path_or_none(self.sum_locs.value),
                           n=int(self.sum_n.value), camera_offset=float(self.sum_offset.value),
                           output=c.need_path(self.sum_output.value, "summed tif"),
                           shuffle=bool(self.sum_shuffle.value), seed=int(self.sum_seed.value),
                           **self.sum_form.options())
            return r, self._summary(r)

        return self._run(self.sum_form, "summing frames ...", job, lambda: [c.need_path(self.sum_movie.value, "movie")])
