"""Deep-STORM prediction folders in, filtered prediction csv files out.

The ZeroCostDL4Mic notebook (section 6.1) writes, for an input movie ``<name>.tif``:

* ``Localizations_<name>_avg.csv`` or ``_max.csv``: ``frame,x [nm],y [nm],confidence [a.u]``,
  frames 1-based, x/y = high-res pixel index x high-res pixel size (nm);
* ``Predicted_<name>.tif`` and ``Widefield_<name>.tif``: 2-D float32 sums over all frames at the
  high-res pixel size (in their resolution tags);
* with the project's notebook patch, ``PredictedStack_<name>.tif``: one prediction frame per
  input frame (read lazily, frame by frame).

Pixel sizes come from the tifs' resolution tags or from the caller; files that disagree (two
tifs with different high-res pixel sizes, or a movie whose pixel size does not match the
image-size ratio) raise a one-line :class:`~imagesumming.errors.InputError`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .._files import atomic_path, check_input_file, check_not_inputs, check_outputs
from ..errors import InputError
from ..io.locs import read_locs, split_label
from ..io.movies import Movie, open_movie

__all__ = ["PredictionFolder", "load_prediction_folder", "find_prediction_files", "prediction_name",
           "filter_confidence", "filter_prediction_file"]

log = logging.getLogger("imagesumming")

_LOCS_NAME = re.compile(r"^Localizations_(?P<name>.+)_(?P<method>avg|max)\.csv$")
_REL_TOL = 1e-3  # pixel sizes that differ by more than 0.1 % disagree


@dataclasses.dataclass
class PredictionFolder:
    """A Deep-STORM prediction with what belongs to it; missing parts are None.

    Attributes
    ----------
    locs : DataFrame
        Predicted localizations, canonical (frames 1-based, x/y nm, ``confidence``).
    locs_path : Path
    name : str or None
        ``<name>`` of the notebook's file names.
    predicted, widefield : ndarray (2-D) or None
        Sum of all prediction frames / the upsampled widefield sum, at ``pixel_size_hr``.
    stack : Movie or None
        Per-frame predictions (``PredictedStack_<name>.tif``), lazy; ``stack[f - 1]`` is frame f.
    movie : Movie or None
        The input movie (camera pixels), lazy.
    gt : DataFrame or None
        Ground truth, canonical.
    pixel_size : float or None
        Camera pixel size of the input movie in nm.
    pixel_size_hr : float or None
        Pixel size of the prediction images in nm.
    paths : dict
        What was loaded from where.
    notes : list of str
        Where each pixel size came from, and other remarks.
    """

    locs: pd.DataFrame
    locs_path: Path | None = None
    name: str | None = None
    predicted: np.ndarray | None = None
    widefield: np.ndarray | None = None
    stack: Movie | None = None
    movie: Movie | None = None
    gt: pd.DataFrame | None = None
    pixel_size: float | None = None
    pixel_size_hr: float | None = None
    paths: dict = dataclasses.field(default_factory=dict)
    notes: list = dataclasses.field(default_factory=list)

    @property
    def upsampling(self) -> float | None:
        """Camera pixel size / prediction pixel size (e.g. 8), when both are known."""
        if self.pixel_size and self.pixel_size_hr:
            return self.pixel_size / self.pixel_size_hr
        return None

    @property
    def n_frames(self) -> int:
        """Frames of the input movie (else of the stack, else the last frame of any table)."""
        for m in (self.movie, self.stack):
            if m is not None:
                return len(m)
        last = [int(t["frame"].max()) for t in (self.locs, self.gt) if t is not None and len(t)]
        return max(last or [0])

    @property
    def field_nm(self) -> tuple[float, float] | None:
        """(width, height) of the field of view in nm, when an image and its pixel size are known."""
        if self.movie is not None and self.pixel_size:
            return self.movie.width * self.pixel_size, self.movie.height * self.pixel_size
        for img in (self.predicted, self.widefield):
            if img is not None and self.pixel_size_hr:
                return img.shape[1] * self.pixel_size_hr, img.shape[0] * self.pixel_size_hr
        if self.stack is not None and self.pixel_size_hr:
            return self.stack.width * self.pixel_size_hr, self.stack.height * self.pixel_size_hr
        return None

    def close(self) -> None:
        for m in (self.stack, self.movie):
            if m is not None:
                m.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def prediction_name(path) -> tuple[str, str] | None:
    """``(name, method)`` from ``Localizations_<name>_avg.csv`` / ``_max.csv``, else None."""
    m = _LOCS_NAME.match(Path(path).name)
    return (m.group("name"), m.group("method")) if m else None


def find_prediction_files(folder, name: str | None = None, method: str | None = None) -> dict:
    """The notebook's files in a prediction folder: ``locs``, ``predicted``, ``widefield``, ``stack``.

    Parameters
    ----------
    folder : path
    name : str, optional
        Needed when the folder holds predictions of several movies.
    method : {"avg", "max"}, optional
        Needed when both csv files of one name are present.

    Returns
    -------
    dict
        ``name`` and the paths found (absent files are left out).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("prediction folder does not exist or is not a folder", folder)
    found = [(prediction_name(p), p) for p in sorted(folder.glob("Localizations_*.csv"))]
    found = [(nm, p) for nm, p in found if nm is not None
             and (name is None or nm[0] == name) and (method is None or nm[1] == method)]
    if not found:
        what = f"Localizations_{name or '<name>'}_{method or '<avg|max>'}.csv"
        raise InputError(f"no {what} in the prediction folder", folder)
    names = sorted({nm[0] for nm, _ in found})
    if len(names) > 1:
        raise InputError(f"predictions of several movies ({', '.join(names)})", folder, hint="choose one with {name}")
    if len(found) > 1:
        raise InputError(f"both _avg and _max localizations of {names[0]!r}: choose one with method=", folder)
    (nm, method), locs = found[0]
    return {"name": nm, "method": method, "locs": locs, **_image_paths(folder, nm)}


def _image_paths(folder: Path, name: str) -> dict:
    """``predicted``, ``widefield``, ``stack``: the notebook's images of movie ``name`` that exist."""
    out = {}
    for key, stem in (("predicted", "Predicted"), ("widefield", "Widefield"), ("stack", "PredictedStack")):
        for suffix in (".tif", ".tiff"):
            p = folder / f"{stem}_{name}{suffix}"
            if p.exists():
                out[key] = p
                break
    return out


def _images_for(folder, locs, name: str | None) -> tuple[str, dict]:
    """The images that go with a given prediction csv: ``(name, paths)``.

    Both _avg and _max csv files of a movie share its images, so the method does not matter;
    the name comes from the caller, else the csv's file name, else the folder's only movie.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("prediction folder does not exist or is not a folder", folder)
    name = name or (prediction_name(locs) or (None,))[0]
    if name is None:
        names = sorted({nm[0] for nm in map(prediction_name, folder.glob("Localizations_*.csv")) if nm})
        if len(names) != 1:
            listing = f"predictions of several movies ({', '.join(names)})" if names else "no Localizations_<name>_*.csv"
            raise InputError(f"{listing} in the prediction folder and {Path(locs).name} does not say which", folder,
                             hint="choose one with {name}")
        name = names[0]
    return name, _image_paths(folder, name)


def _differ(a: float, b: float) -> bool:
    return abs(a - b) > _REL_TOL * max(abs(a), abs(b))


def load_prediction_folder(folder=None, *, locs=None, name: str | None = None, method: str | None = None,
                           movie=None, gt=None, gt_format: str = "auto", pixel_size: float | None = None,
                           pixel_size_hr: float | None = None) -> PredictionFolder:
    """Load a Deep-STORM prediction folder, its input movie and a ground truth.

    Parameters
    ----------
    folder : path, optional
        The notebook's result folder (see the module docstring). Without it only ``locs`` is read.
    locs : path, optional
        The prediction csv (default: the folder's ``Localizations_<name>_<method>.csv``).
    name, method : str, optional
        Choose among several predictions in the folder. With ``locs`` given, the images are
        those of ``name`` (default: from the csv's name, else the folder's only movie), whatever
        the method: the _avg and _max csv files of a movie share its images.
    movie : path, optional
        The input movie (tif or Picasso raw), opened lazily.
    gt : path, optional
        Ground truth in any format :func:`~imagesumming.io.read_locs` reads.
    gt_format : str, default "auto"
    pixel_size : float, optional
        Camera pixel size in nm (overrides the movie's tags; needed for Picasso ground truth
        without metadata).
    pixel_size_hr : float, optional
        Prediction pixel size in nm (overrides the tifs' tags).

    Returns
    -------
    PredictionFolder
        Close it (or use ``with``) to release the lazy stack and movie.

    Raises
    ------
    InputError
        Missing files, unknown formats, or pixel sizes that disagree between files.
    """
    paths: dict = {}
    notes: list = []
    if locs is not None:
        paths["locs"] = Path(locs)
        if folder is not None:
            name, images = _images_for(folder, locs, name)
            paths.update(images)
        elif name is None and prediction_name(locs):
            name = prediction_name(locs)[0]
    elif folder is not None:
        files = find_prediction_files(folder, name=name, method=method)
        name = files.pop("name")
        files.pop("method")
        paths.update(files)
    else:
        raise InputError("give a prediction folder or a prediction csv (locs=)")
    table, rep = read_locs(paths["locs"])
    if "confidence" not in table.columns:
        notes.append(f"{Path(paths['locs']).name} has no confidence column ({rep.format})")
    out = PredictionFolder(locs=table, locs_path=Path(paths["locs"]), name=name, paths=paths, notes=notes)
    try:
        _load_images(out, pixel_size_hr)
        if movie is not None:
            out.movie = open_movie(movie)
            paths["movie"] = Path(movie)
        _camera_pixel_size(out, pixel_size)
        if gt is not None:
            out.gt = _read_gt(gt, gt_format, out, pixel_size)
            paths["gt"] = Path(gt)
        _note_outside(out)
    except BaseException:
        out.close()
        raise
    return out


def _load_images(out: PredictionFolder, pixel_size_hr) -> None:
    sizes = {}
    for key in ("predicted", "widefield", "stack"):
        p = out.paths.get(key)
        if p is None:
            continue
        m = open_movie(p)
        if key == "stack":
            out.stack = m
        else:
            if len(m) != 1:
                m.close()
                raise InputError(f"expected a 2-D image (sum over frames), found {len(m)} frames", p)
            img = np.asarray(m[0])
            m.close()
            setattr(out, key, img)
        if m.pixel_size is not None:
            sizes[Path(p).name] = m.pixel_size
    shapes = {Path(out.paths[k]).name: (out.stack.shape[1:] if k == "stack" else getattr(out, k).shape)
              for k in ("predicted", "widefield", "stack") if k in out.paths}
    if len(set(shapes.values())) > 1:
        listing = ", ".join(f"{k} {v[1]}x{v[0]} px" for k, v in shapes.items())
        raise InputError(f"prediction images differ in size: {listing}", Path(out.paths["locs"]).parent)
    values = list(sizes.values())
    if any(_differ(v, values[0]) for v in values):
        raise InputError("pixel sizes disagree: " + ", ".join(f"{k} {v:g} nm" for k, v in sizes.items()),
                         Path(out.paths["locs"]).parent)
    if pixel_size_hr is not None:
        out.pixel_size_hr = float(pixel_size_hr)
        if values and _differ(values[0], out.pixel_size_hr):
            log.warning("prediction pixel size %g nm given overrides %g nm in the tif tags",
                        out.pixel_size_hr, values[0])
        out.notes.append(f"prediction pixel size {out.pixel_size_hr:g} nm given by the caller")
    elif values:
        out.pixel_size_hr = values[0]
        out.notes.append(f"prediction pixel size {values[0]:g} nm from the resolution tags of {', '.join(sizes)}")


def _camera_pixel_size(out: PredictionFolder, pixel_size) -> None:
    m = out.movie
    if pixel_size is not None:
        out.pixel_size = float(pixel_size)
        if m is not None and m.pixel_size is not None and _differ(m.pixel_size, out.pixel_size):
            log.warning("camera pixel size %g nm given overrides %g nm of %s", out.pixel_size, m.pixel_size, m.path)
        out.notes.append(f"camera pixel size {out.pixel_size:g} nm given by the caller")
    elif m is not None and m.pixel_size is not None:
        out.pixel_size = m.pixel_size
        out.notes.append(f"camera pixel size {m.pixel_size:g} nm from {m.path.name} ({m.pixel_size_source})")
    # the image sizes fix the ratio of the two pixel sizes
    hr_shape = None
    if out.predicted is not None:
        hr_shape = out.predicted.shape
    elif out.widefield is not None:
        hr_shape = out.widefield.shape
    elif out.stack is not None:
        hr_shape = out.stack.shape[1:]
    if m is None or hr_shape is None:
        return
    ratio = (hr_shape[0] / m.height, hr_shape[1] / m.width)
    if _differ(*ratio):
        raise InputError(f"prediction images ({hr_shape[1]}x{hr_shape[0]} px) are not a uniform upscaling of the "
                         f"movie ({m.width}x{m.height} px)", m.path)
    if out.stack is not None and len(out.stack) != len(m):
        raise InputError(f"the prediction stack has {len(out.stack)} frames but the movie {len(m)}", out.paths["stack"])
    if out.pixel_size and out.pixel_size_hr:
        if _differ(out.pixel_size / out.pixel_size_hr, ratio[1]):
            raise InputError(
                f"pixel sizes do not match the image sizes: camera {out.pixel_size:g} nm / prediction "
                f"{out.pixel_size_hr:g} nm = {out.pixel_size / out.pixel_size_hr:g}, but the prediction images are "
                f"{ratio[1]:g}x the movie (fix the tags or give --pixel-size / --pixel-size-hr)"
                + _notebook_hint(out.pixel_size, out.pixel_size_hr * ratio[1], m.pixel_size_source), m.path)
    elif out.pixel_size_hr:
        out.pixel_size = out.pixel_size_hr * ratio[1]
        out.notes.append(f"camera pixel size {out.pixel_size:g} nm from the prediction pixel size x {ratio[1]:g}"
                         + _notebook_hint(None, out.pixel_size, None))
        if not _differ(out.pixel_size, 1000.0):
            log.warning("%s", out.notes[-1])
    elif out.pixel_size:
        out.pixel_size_hr = out.pixel_size / ratio[1]
        out.notes.append(f"prediction pixel size {out.pixel_size_hr:g} nm from the camera pixel size / {ratio[1]:g}")


def _notebook_hint(camera_nm, notebook_nm: float, source) -> str:
    """Known ways the notebook's camera pixel size (``notebook_nm``) goes wrong, as a hint.

    Its tag reader (getPixelSizeTIFFmetadata) takes a tif without resolution unit as µm per
    pixel, so a tif without tags gives 1000 nm; and it converts inches with 2.5 cm, not 2.54 cm.
    Either way its nm (the predicted positions too) are off: predict again with the pixel size given.
    """
    redo = ": predict again with the pixel size given (section 6.1, get_pixel_size_from_file off)"
    if not _differ(notebook_nm, 1000.0):
        return ("; 1000 nm camera pixels is what the notebook assumes for a tif without resolution tags, "
                "which makes every predicted position wrong if the pixels are smaller" + redo)
    if camera_nm and "inch" in str(source) and not _differ(camera_nm / notebook_nm, 2.54 / 2.5):
        return ("; the movie's resolution is in inches, which the notebook converts with 2.5 cm (not 2.54 cm): "
                "its nm, the predicted positions too, are 1.6 % short" + redo)
    return ""


def _note_outside(out: PredictionFolder) -> None:
    """Count (never drop) localizations outside the movie's image or frames: they stay in the
    evaluation (as unmatched points, usually) and the notes say how many there are."""
    from ..validate import check_locs

    m = out.movie
    for what, table in (("predictions", out.locs), ("ground truth", out.gt)):
        if table is None or m is None:
            continue
        _, counts = check_locs(table, pixel_size=out.pixel_size, width=m.width, height=m.height,
                               n_frames=len(m), on_invalid="keep")
        if counts:
            detail = ", ".join(f"{n} {k}" for k, n in counts.items())
            out.notes.append(f"{what}: {detail} (of {len(table)}; kept in the evaluation)")
            log.warning("%s: %s (of %d; kept in the evaluation)", what, detail, len(table))


def _read_gt(path, fmt, out: PredictionFolder, caller_pixel_size) -> pd.DataFrame:
    """Read the ground truth; its own pixel size (Picasso metadata) must match the movie's.

    A pixel size given by the caller overrides the file's (as in read_locs); one derived from
    the movie or the images is only used when the file has none.
    """
    if caller_pixel_size is not None:
        table, rep = read_locs(path, pixel_size=caller_pixel_size, format=fmt)
    else:
        table, rep = read_locs(path, format=fmt, fallback_pixel_size=out.pixel_size,
                               fallback_source="the movie or the images")
        src = rep.pixel_size_source or ""
        if rep.pixel_size and out.pixel_size and _differ(rep.pixel_size, out.pixel_size):
            raise InputError(f"ground-truth pixel size {rep.pixel_size:g} nm ({src}) differs from the camera pixel "
                             f"size {out.pixel_size:g} nm", path, hint="give {pixel_size} to override")
    out.notes.append(f"ground truth: {len(table)} localizations read as {rep.format}")
    return table


# ---------------------------------------------------------------------------------------------
# filtering
# ---------------------------------------------------------------------------------------------


def _check_threshold(threshold) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise InputError(f"threshold must be a number, got {threshold!r}") from None
    if not np.isfinite(t):
        raise InputError(f"threshold must be a finite number, got {t}")
    return t


def filter_confidence(locs: pd.DataFrame, threshold: float, *, column: str = "confidence") -> pd.DataFrame:
    """Rows with ``column >= threshold`` (rows without a confidence value are left out).

    Examples
    --------
    >>> from imagesumming.schema import make_locs
    >>> t = make_locs({"frame": [1, 1, 2], "x": [1.0, 2, 3], "y": [1.0, 2, 3], "confidence": [0.2, 0.5, 0.9]})
    >>> filter_confidence(t, 0.5)["confidence"].tolist()
    [0.5, 0.9]
    """
    if column not in locs.columns:
        raise InputError(f"the localizations have no {column!r} column to filter on "
                         f"(columns: {', '.join(map(str, locs.columns))})")
    threshold = _check_threshold(threshold)
    conf = locs[column].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        keep = conf >= threshold
    return locs.loc[keep].reset_index(drop=True)


def filter_prediction_file(path, threshold: float, output, *, force: bool = False) -> dict:
    """Write the rows of a prediction csv with confidence ``>= threshold`` to ``output``.

    The output has the same header and the kept rows exactly as they were in the input (text
    unchanged, order kept); an unnamed id column (Deep-STORM csv) is renumbered 1..N.

    Returns
    -------
    dict
        ``kept``, ``total`` and ``no_confidence`` (rows with an empty or NaN confidence, left out).
    """
    path = check_input_file(path)
    threshold = _check_threshold(threshold)
    check_not_inputs([output], [path])  # also through a symlink or a hard link
    check_outputs([output], force=force)
    fmt = read_locs(path)[1].format  # validates the file (and raises on unknown formats)
    if path.suffix.lower() in (".hdf5", ".h5") or fmt.startswith("picasso-hdf5"):
        raise InputError("filtering works on csv files (no confidence in Picasso hdf5)", path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    labels = [c for c in raw.columns if split_label(c)[0].lower() == "confidence"]
    if not labels:
        named = [str(c) for c in raw.columns if not str(c).startswith("Unnamed:")]  # pandas' name of an unnamed index
        raise InputError(f"no confidence column to filter on (columns: {', '.join(named) or 'none named'})", path)
    text = raw[labels[0]].str.strip()
    conf = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
    bad = np.isnan(conf) & ~text.str.lower().isin(["", "nan"])  # empty or NaN: no confidence
    if bad.any():
        raise InputError(f"column {labels[0]!r} has {int(bad.sum())} value(s) that are not numbers", path)
    with np.errstate(invalid="ignore"):
        keep = conf >= threshold
    kept = raw.loc[keep].copy()
    first = str(raw.columns[0])
    if first.startswith("Unnamed"):
        kept[first] = [str(i) for i in range(1, len(kept) + 1)]
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = fh.readline().rstrip("\r\n")  # verbatim (ThunderSTORM quotes its labels)
    with atomic_path(output, force=force, inputs=[path]) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
        out.write(header + "\n")
        kept.to_csv(out, index=False, header=False, lineterminator="\n")
    return {"kept": int(keep.sum()), "total": len(raw), "no_confidence": int(np.isnan(conf).sum()),
            "column": labels[0]}
