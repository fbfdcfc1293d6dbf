"""The summing user interface: inputs, input view, parameters + Run, result view, Save."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as w

from ..errors import InputError
from . import _common as c

__all__ = ["SummingUI"]


@dataclass
class _Input:
    """One loaded movie/localization pair (the movie stays lazy)."""

    movie_path: Path
    locs_path: Path
    movie: object
    locs: object
    pixel_size: float
    density: object
    invalid: dict


class _PairRow:
    """One row of the inputs: movie path, localization path, remove button."""

    def __init__(self, movie="", locs="", on_remove=None):
        self.movie = c.text("movie", movie, "movie.tif", width="48%")
        self.locs = c.text("localizations", locs, "locs.csv / _locs.hdf5", width="42%")
        self.remove = w.Button(description="✕", tooltip="remove this pair", layout=w.Layout(width="36px"))
        if on_remove:
            self.remove.on_click(lambda _: on_remove(self))
        self.box = w.HBox([self.movie, self.locs, self.remove])


class SummingUI(c.UI):
    """Notebook UI for :func:`imagesumming.summing.sum_patches`.

    Parameters
    ----------
    movies, locs : sequences of paths
        Prefilled movie/localization pairs (same order).
    out_dir : path
        Prefilled output folder of **Save**.
    name : str
        Prefilled output name (``NAME.tif``, ``NAME.csv``, ...).
    upload_dir : path
        Where uploaded files are stored (default ``uploads`` in the current folder).
    **params
        Initial parameter values: ``pixel_size`` (107 nm), ``camera_offset`` (100 ADU),
        ``patch_size`` (30 px), ``n_patches`` (200), ``n_summed`` (100), ``bin_size`` (10),
        ``target_density`` (None: use the bin size), ``min_emitters`` (2), ``seed`` (None: random).

    Display it (last expression of a cell) for the whole UI, or its parts: :attr:`inputs_panel`,
    :attr:`input_view`, :attr:`run_panel`, :attr:`result_view`, :attr:`save_panel`. The buttons
    call :meth:`load`, :meth:`run`, :meth:`show_single` and :meth:`save`, which can also be called
    from code. The last result is :attr:`result`.
    """

    def __init__(self, movies=(), locs=(), *, out_dir="", name: str = "summed", upload_dir="uploads",
                 pixel_size: float = 107.0, camera_offset: float = 100.0, patch_size: int = 30,
                 n_patches: int = 200, n_summed: int = 100, bin_size: int = 10, target_density=None,
                 min_emitters: int = 2, seed=None):
        self.result = None
        self.saved = None
        self._inputs: list[_Input] = []
        self.upload_dir = Path(upload_dir)

        # --- inputs ----------------------------------------------------------------------------
        self.rows: list[_PairRow] = []
        self.rows_box = w.VBox([])
        movies, locs = list(movies), list(locs)
        for i in range(max(len(movies), len(locs), 1)):
            self.add_pair(movies[i] if i < len(movies) else "", locs[i] if i < len(locs) else "")
        self.add_button = c.button("Add a pair", "", "plus")
        self.add_button.on_click(lambda _: self.add_pair())
        self.upload = w.FileUpload(accept=".tif,.tiff,.csv,.hdf5,.h5,.yaml,.yml", multiple=True,
                                   description="Upload")
        self.upload.observe(self._on_upload, names="value")
        self.pixel_size = c.number("pixel size [nm] (0: from the files)", pixel_size, minimum=0)
        self.load_button = c.button("Load inputs", "primary", "folder-open")
        self.load_button.on_click(lambda _: self.load())
        self.inputs_status = c.message()
        self.inputs_panel = w.VBox([
            c.heading("Inputs: movies and their localizations"), self.rows_box,
            w.HBox([self.add_button, self.upload]), self.pixel_size, w.HBox([self.load_button]),
            self.inputs_status])

        # --- input view ------------------------------------------------------------------------
        self.input_choice = w.Dropdown(options=[], description="input", style=c._STYLE)
        self.input_frame = w.IntSlider(value=1, min=1, max=1, description="frame", continuous_update=False)
        self.input_choice.observe(lambda _: self._redraw_input(new_input=True), names="value")
        self.input_frame.observe(lambda _: self._redraw_input(), names="value")
        self.input_info = w.HTML("")
        self.input_out = w.Output()
        self.input_density_out = w.Output()
        self.input_view = w.VBox([c.heading("Inputs"), self.input_info, w.HBox([self.input_choice, self.input_frame]),
                                  w.HBox([self.input_out, self.input_density_out])])

        # --- parameters and run ----------------------------------------------------------------
        self.camera_offset = c.number("camera offset [ADU]", camera_offset)
        self.patch_size = c.number("patch size [px]", patch_size, kind=int, minimum=1)
        self.n_patches = c.number("source patches", n_patches, kind=int, minimum=1)
        self.n_summed = c.number("summed frames", n_summed, kind=int, minimum=1)
        self.mode = w.RadioButtons(options=["bin size", "target density"],
                                   value="bin size" if target_density is None else "target density",
                                   description="patches per summed frame from", style=c._STYLE)
        self.bin_size = c.number("bin size (patches per summed frame)", bin_size, kind=int, minimum=1)
        self.target_density = c.number("target density [emitters/µm²]", target_density or 1.0, minimum=0)
        self.mode.observe(lambda _: self._toggle_mode(), names="value")
        self.min_emitters = c.number("min. emitters per patch", min_emitters, kind=int, minimum=0)
        self.seed = c.text("seed", "" if seed is None else seed, "empty: random (recorded)", width="260px")
        self.unique = w.Checkbox(value=False, description="use each source patch once", indent=False)
        self.augment = w.Checkbox(value=False, description="augment (flip / rotate patches)", indent=False)
        self.on_invalid = w.Dropdown(options=[("stop with an error", "error"), ("drop them (counted)", "drop")],
                                     value="error", description="localizations outside the movie",
                                     style=c._STYLE, layout=w.Layout(width="460px"))
        # optional: the dense movie to analyze sets the target density (imagesumming.target)
        self.match_movie = c.text("movie to analyze", "", "optional: the dense movie (no localizations needed); "
                                  "its estimated density replaces bin size / target density")
        self.auto_min = w.Checkbox(value=True, indent=False,
                                   description="with it: choose min. emitters for the smallest k")
        self.run_button = c.button("Run", "success", "play")
        self.run_button.on_click(lambda _: self.run())
        self.progress = w.IntProgress(value=0, min=0, max=3, description="", bar_style="")
        self.run_status = c.message()
        self.run_log = w.Output()  # the API's own progress bars (tqdm) land here
        self._toggle_mode()
        self.run_panel = w.VBox([
            c.heading("Parameters"),
            w.HBox([w.VBox([self.patch_size, self.n_patches, self.n_summed, self.min_emitters]),
                    w.VBox([self.camera_offset, self.seed, self.unique, self.augment])]),
            self.mode, w.HBox([self.bin_size, self.target_density]), self.match_movie, self.auto_min, self.on_invalid,
            w.HBox([self.run_button, self.progress]), self.run_status, self.run_log])

        # --- result view -------------------------------------------------------------------------
        self.summary = w.HTML("")
        self.result_frame = w.IntSlider(value=1, min=1, max=1, description="summed frame", style=c._STYLE,
                                        continuous_update=False)
        self.result_frame.observe(lambda _: self._draw_result(), names="value")
        self.single_button = c.button("Show single", "info", "th")
        self.single_button.on_click(lambda _: self.show_single())
        self.result_status = c.message()
        self.result_out = w.Output()
        self.density_out = w.Output()
        self.single_out = w.Output()
        for out, hook in ((self.result_out, "result-frame"), (self.density_out, "density"),
                          (self.single_out, "single"), (self.input_out, "input-frame")):
            out.add_class(f"imagesumming-{hook}")  # stable hooks for browser tests and styling
        self.result_view = w.VBox([c.heading("Result"), self.summary,
                                   w.HBox([self.result_frame, self.single_button]), self.result_status,
                                   w.HBox([self.result_out, self.density_out]), self.single_out])

        # --- save --------------------------------------------------------------------------------
        self.out_dir = c.text("folder", out_dir, "output folder")
        self.name = c.text("name", name, "summed", width="260px")
        self.plots = w.Checkbox(value=False, description="also save the figures (PNG)", indent=False)
        self.force = w.Checkbox(value=False, description="overwrite existing files", indent=False)
        self.save_button = c.button("Save", "primary", "save")
        self.save_button.on_click(lambda _: self.save())
        self.save_status = c.message()
        self.settings = w.HTML("")
        self.save_panel = w.VBox([c.heading("Save"), self.out_dir, self.name, w.HBox([self.plots, self.force]),
                                  w.HBox([self.save_button]), self.save_status, self.settings])

        self.widget = w.VBox([self.inputs_panel, self.input_view, self.run_panel, self.result_view,
                              self.save_panel])

    # --- construction helpers --------------------------------------------------------------------
    @classmethod
    def from_folder(cls, folder="", **kwargs) -> SummingUI:
        """A UI prefilled with the movie/localization pairs found in ``folder`` (none when empty).

        Pairs are movies with a localization file of the same name (or ``<name>_locs``); the output
        folder becomes ``<folder>/summed``.
        """
        if not folder:
            return cls(**kwargs)
        pairs = c.find_pairs(Path(folder))
        kwargs.setdefault("out_dir", str(Path(folder) / "summed"))
        return cls([str(m) for m, _ in pairs], [str(loc) for _, loc in pairs], **kwargs)

    def add_pair(self, movie="", locs="") -> None:
        """Add an input row (movie path, localization path)."""
        self.rows.append(_PairRow(movie, locs, on_remove=self._remove_row))
        self.rows_box.children = tuple(r.box for r in self.rows)

    def _remove_row(self, row: _PairRow) -> None:
        if len(self.rows) > 1:
            self.rows.remove(row)
        else:  # keep one (empty) row
            row.movie.value = row.locs.value = ""
        self.rows_box.children = tuple(r.box for r in self.rows)

    def _on_upload(self, change) -> None:
        if not c.uploaded_files(self.upload):
            return
        with c.reporting(self.inputs_status, busy="storing the uploaded files ..."):
            paths = c.save_uploads(self.upload, self.upload_dir)
            c.reset_upload(self.upload)
            for p in paths:
                self._place(p)
            c.say(self.inputs_status, f"uploaded {len(paths)} file(s) into {self.upload_dir}: "
                  + ", ".join(p.name for p in paths))

    def _place(self, path: Path) -> None:
        """Put an uploaded file into the first row with a free slot of its kind."""
        suffix = path.suffix.lower()
        if suffix in c.MOVIE_SUFFIXES:
            field = "movie"
        elif suffix in c.LOCS_SUFFIXES:
            field = "locs"
        else:  # a yaml sidecar: it only needs to sit beside its file
            return
        for row in self.rows:
            if not getattr(row, field).value.strip():
                getattr(row, field).value = str(path)
                return
        self.add_pair(**{field: str(path)})

    def _pairs(self) -> list[tuple[Path, Path]]:
        pairs = []
        for i, row in enumerate(self.rows, start=1):
            m, loc = c.path_or_none(row.movie.value), c.path_or_none(row.locs.value)
            if m is None and loc is None:
                continue
            if m is None or loc is None:
                raise InputError(f"input row {i}: give both the movie and its localization file")
            pairs.append((m, loc))
        if not pairs:
            raise InputError("give at least one movie and its localization file")
        return pairs

    def _toggle_mode(self) -> None:
        by_bin = self.mode.value == "bin size"
        self.bin_size.disabled = not by_bin
        self.target_density.disabled = by_bin

    def _pixel_size(self):
        return float(self.pixel_size.value) or None

    # --- actions -------------------------------------------------------------------------------
    def load(self) -> bool:
        """Read the inputs (movies stay lazy) and show the input view. Returns True on success."""
        from ..io import open_movie, read_locs
        from ..stats import density_per_frame
        from ..validate import check_locs

        typed = self._pixel_size()
        with c.reporting(self.inputs_status, busy="loading the inputs ...") as done:
            loaded, notes = [], []
            for movie_path, locs_path in self._pairs():
                movie = open_movie(movie_path)
                locs, report = read_locs(locs_path, pixel_size=typed or movie.pixel_size)
                ps = typed or movie.pixel_size or report.pixel_size
                if ps is None:
                    raise InputError("pixel size unknown: give it in nm", movie_path)
                if typed and movie.pixel_size and abs(movie.pixel_size - typed) > 1e-6 * typed:
                    notes.append(f"{movie_path.name} says {movie.pixel_size:g} nm per pixel; the {typed:g} nm "
                                 "given above are used (0: from the files)")
                _, invalid = check_locs(locs, pixel_size=ps, width=movie.width, height=movie.height,
                                        n_frames=movie.n_frames, on_invalid="keep", source=locs_path)
                if invalid:
                    notes.append(f"{locs_path.name}: invalid localizations: "
                                 + ", ".join(f"{n} {k}" for k, n in invalid.items()))
                dens = density_per_frame(locs, movie.n_frames, width=movie.width, height=movie.height,
                                         pixel_size=ps)
                loaded.append(_Input(movie_path, locs_path, movie, locs, ps, dens, invalid))
            self._close_inputs()
            self._inputs = loaded
            self._show_inputs()
            c.say(self.inputs_status, "\n".join([f"loaded {len(loaded)} input pair(s)"] + notes),
                  "info" if notes else "ok")
        return done.ok

    def _close_inputs(self) -> None:
        for inp in self._inputs:
            inp.movie.close()
        self._inputs = []

    def _show_inputs(self) -> None:
        from ..plots import new_figure, plot_density_boxes

        rows = [(i, inp.movie_path.name, inp.locs_path.name, inp.movie.n_frames,
                 f"{inp.movie.width}×{inp.movie.height}", f"{inp.pixel_size:g}", len(inp.locs),
                 f"{inp.density.mean():.3f}") for i, inp in enumerate(self._inputs, start=1)]
        self.input_info.value = c.html_table(rows, ["#", "movie", "localizations", "frames", "size [px]",
                                                    "pixel [nm]", "localizations", "mean density [/µm²]"])
        self.input_choice.options = [(f"{i}: {inp.movie_path.name}", i - 1)
                                     for i, inp in enumerate(self._inputs, start=1)]
        self.input_choice.value = 0
        fig, ax = new_figure(1, 1, size=(3.2 + 0.8 * len(self._inputs), 3.6))
        plot_density_boxes(ax, {f"{i}": inp.density for i, inp in enumerate(self._inputs, start=1)})
        ax.set_title("density per frame")
        c.show(self.input_density_out, fig)
        self._draw_input(new_input=True)

    def _redraw_input(self, new_input: bool = False) -> None:
        with c.reporting(self.inputs_status):  # a frame that cannot be read: a message, not a traceback
            self._draw_input(new_input)

    def _draw_input(self, new_input: bool = False) -> None:
        if not self._inputs or self.input_choice.value is None:
            return
        from ..plots import new_figure, plot_frame

        inp = self._inputs[self.input_choice.value]
        if new_input:
            self.input_frame.max = inp.movie.n_frames
            self.input_frame.value = min(self.input_frame.value, inp.movie.n_frames)
        f = self.input_frame.value
        fig, ax = new_figure(1, 1, size=(4.2, 4.0))
        plot_frame(ax, inp.movie[f - 1], inp.locs, pixel_size=inp.pixel_size, frame=f,
                   title=f"{inp.movie_path.name}, frame {f}")
        c.show(self.input_out, fig)

    def parameters(self) -> dict:
        """The keyword arguments for :func:`~imagesumming.summing.sum_patches` from the form."""
        seed = self.seed.value.strip()
        if seed and not seed.lstrip("-").isdigit():
            raise InputError(f"seed must be a whole number or empty, not {seed!r}")
        by_bin = self.mode.value == "bin size"
        return {"pixel_size": self._pixel_size(), "camera_offset": float(self.camera_offset.value),
                "patch_size": int(self.patch_size.value), "n_patches": int(self.n_patches.value),
                "n_summed": int(self.n_summed.value), "bin_size": int(self.bin_size.value),
                "target_density": None if by_bin else float(self.target_density.value),
                "min_emitters": int(self.min_emitters.value), "unique": bool(self.unique.value),
                "augment": bool(self.augment.value), "seed": int(seed) if seed else None,
                "on_invalid": self.on_invalid.value}

    def run(self) -> bool:
        """Sum patches with the form's inputs and parameters; show the result. True on success."""

        self.progress.value, self.progress.bar_style = 0, ""
        with c.reporting(self.run_status, busy="summing ...") as done:
            pairs = self._pairs()
            params = self.parameters()
            self.progress.value = 1
            c.clear(self.run_log)
            with c.capture(self.run_log):  # in a kernel the API's tqdm bars show here
                result = self._sum([str(m) for m, _ in pairs], [str(loc) for _, loc in pairs], params)
            self.result, self.saved = result, None
            self.progress.value = 2
            self._show_result()
            self.progress.value, self.progress.bar_style = 3, "success"
            c.say(self.run_status, f"done: {len(result.frames)} summed frames, {len(result.locs)} localizations")
        if not done.ok:
            self.progress.bar_style = "danger"
        return done.ok

    def _show_result(self) -> None:
        r = self.result
        self.summary.value = f"<pre style='line-height:1.25'>{html.escape(r.summary())}</pre>"
        self.result_frame.max = len(r.frames)
        self.result_frame.value = 1
        self._draw_result()
        c.show(self.density_out, r.plot_density(), r.plot_background(),
               *([r.plot_match()] if "match" in r.params else []))
        c.clear(self.single_out)
        self.settings.value = self._settings_html()

    def _draw_result(self) -> None:
        if self.result is None:
            return
        with c.reporting(self.result_status):
            c.show(self.result_out, self.result.plot_frame(self.result_frame.value))
            self.result_status.value = ""

    def show_single(self) -> bool:
        """Show the source patches of the current summed frame, their sum and where they were cut."""
        with c.reporting(self.result_status) as done:
            if self.result is None:
                raise InputError("press Run first")
            c.show(self.single_out, self.result.plot_single(self.result_frame.value))
            self.result_status.value = ""
        return done.ok

    def _sum(self, movies, locs, params):
        """``sum_patches``, or ``sum_matching`` when a movie to analyze is given."""
        from ..summing import sum_patches

        dense = c.paths_list(self.match_movie.value)
        if not dense:
            return sum_patches(movies, locs, **params)
        from ..target import sum_matching

        kw = {k: v for k, v in params.items() if k not in ("bin_size", "target_density")}
        if self.auto_min.value:
            kw["min_emitters"] = "auto"
        return sum_matching(movies, locs, [str(d) for d in dense], **kw)

    def _settings_html(self) -> str:
        rows = [(k, v) for k, v in dict(self.result.notebook_settings).items()]
        return ("<b>Settings for the Deep-STORM 2D notebook</b> (3.1 a: load the saved tif and csv; "
                "3.2: generate training patches):" + c.html_table(rows, ["setting", "value"]))

    def save(self) -> bool:
        """Write the result into the folder with the name (``result.save``). True on success."""
        with c.reporting(self.save_status, busy="saving ...") as done:
            if self.result is None:
                raise InputError("nothing to save yet: press Run first")
            folder = c.need_path(self.out_dir.value, "output folder")
            name = self.name.value.strip()
            if not name or os.sep in name:
                raise InputError(f"give a file name without folders, not {name!r}")
            paths = self.result.save(folder, name=name, force=bool(self.force.value), plots=bool(self.plots.value))
            self.saved = paths
            listed = list(paths.values()) if isinstance(paths, dict) else list(paths)
            c.say(self.save_status, f"saved {len(listed)} file(s) in {folder}:\n"
                  + "\n".join(Path(p).name for p in listed))
        return done.ok
