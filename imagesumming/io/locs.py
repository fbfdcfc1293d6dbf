"""Localization files in and out: Picasso hdf5 and csv, ThunderSTORM csv, Deep-STORM csv.

All readers return ``(table, report)``: the table follows :mod:`imagesumming.schema` (frames
1-based, x/y in nm from the pixel corner) and the report says what was done to get there.

Conventions of the formats (see the project's FORMATS notes):

* Picasso hdf5: ``/locs`` compound dataset, frames 0-based, x/y/sx/sy/lpx/lpy in camera pixels,
  a pixel's **centre** at an integer coordinate: ``x_nm = (x_px + 0.5) * pixel_size``.
* Picasso csv export ("for ThunderSTORM", picasso.io.export_thunderstorm): ``id`` and ``frame``
  0-based, ``x [nm] = x_px * pixel_size`` (centre convention), so the half-pixel shift needs the
  pixel size; ``bkgstd [photon]`` always 0; 2D ``sigma [nm]`` is ``sx`` (the mean of sx and sy up
  to 0.8.8, which also quoted the header), 3D files have ``sigma1``/``sigma2``; ``len`` becomes
  ``detections``.
* ThunderSTORM csv: quoted header, units in brackets, ``id``/``frame`` 1-based, corner convention.
* Deep-STORM csv: unnamed index 1..N, ``frame,x [nm],y [nm],Photon #,Sigma [nm]``, 1-based.
* Deep-STORM prediction csv: ``frame,x [nm],y [nm],confidence [a.u]``, 1-based, no index.

Auto-detection rule for csv files (override with ``format=``, ``frame_base=``):

1. a ``confidence`` column and no ``id`` or index column -> Deep-STORM prediction;
2. an unnamed first column -> Deep-STORM csv;
3. an ``id`` column -> Picasso csv export when its ids start at 0 and ``bkgstd [photon]`` is
   all zero (Picasso writes 0 there), else ThunderSTORM;
4. anything else with ``frame`` and ``x``/``y`` -> ThunderSTORM-style csv.

Frame base: Picasso formats are 0-based, the others 1-based; a 1-based format whose frames
contain 0 cannot be 1-based and is read as 0-based, and the report says so.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .._files import atomic_path, check_input_file, check_outputs, json_ready
from ..errors import InputError
from ..schema import CANONICAL, REQUIRED, make_locs, sort_locs
from ..validate import check_pixel_size

__all__ = [
    "ReadReport",
    "FORMATS",
    "read_locs",
    "write_locs",
    "detect_format",
    "split_label",
    "normalize_format",
    "read_picasso_yaml",
    "write_deepstorm_csv",
    "write_thunderstorm_csv",
    "write_picasso_hdf5",
    "write_prediction_csv",
]

log = logging.getLogger("imagesumming")

FORMATS = ("picasso-hdf5", "picasso-csv", "thunderstorm", "deepstorm", "deepstorm-prediction")
#: aliases accepted for ``format=`` / ``--to``
_ALIASES = {
    "picasso": "picasso-hdf5", "hdf5": "picasso-hdf5", "h5": "picasso-hdf5",
    "deepstorm-csv": "deepstorm", "prediction": "deepstorm-prediction", "ts": "thunderstorm",
}


@dataclasses.dataclass
class ReadReport:
    """What a reader did to bring a file into the canonical table."""

    path: str
    format: str
    frame_base: int
    units: str
    pixel_size: float | None = None
    pixel_size_source: str | None = None
    origin: str = "corner"
    rows_read: int = 0
    rows_dropped: dict = dataclasses.field(default_factory=dict)
    renamed: dict = dataclasses.field(default_factory=dict)
    extra_columns: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    metadata: dict = dataclasses.field(default_factory=dict)

    def summary(self) -> str:
        ps = "unknown" if self.pixel_size is None else f"{self.pixel_size:g} nm ({self.pixel_size_source})"
        lines = [
            f"format: {self.format}",
            f"rows: {self.rows_read}" + (f", dropped {self.rows_dropped}" if self.rows_dropped else ""),
            f"frames in file: {self.frame_base}-based (table: 1-based)",
            f"units in file: {self.units}; origin: {self.origin}",
            f"pixel size: {ps}",
        ]
        if self.extra_columns:
            lines.append(f"extra columns kept: {', '.join(map(str, self.extra_columns))}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# column names
# ---------------------------------------------------------------------------------------------

# csv label (without unit) -> canonical name; units are parsed separately
_CSV_NAMES = {
    "frame": "frame", "x": "x", "y": "y", "z": "z",
    "photon #": "photons", "photons": "photons", "intensity": "photons",
    "sigma": "sigma", "sigma1": "sigma_x", "sigma2": "sigma_y",
    "uncertainty_xy": "uncertainty", "uncertainty": "uncertainty",
    "offset": "bg", "bg": "bg", "background": "bg",
    "confidence": "confidence",
}
_LABEL = re.compile(r"^\s*(?P<name>.*?)\s*(?:\[(?P<unit>[^\]]*)\])?\s*$")
_LENGTH_UNITS = {"nm": 1.0, "um": 1000.0, "µm": 1000.0, "μm": 1000.0, "micron": 1000.0, "px": None, "pixel": None}


def split_label(label: str) -> tuple[str, str | None]:
    """A csv column label's name and unit: ``'x [nm]'`` -> ``('x', 'nm')``, ``'frame'`` -> ``('frame', None)``."""
    m = _LABEL.match(str(label))
    name, unit = m.group("name"), m.group("unit")
    return name, (unit.strip() if unit is not None else None)


# ---------------------------------------------------------------------------------------------
# Picasso metadata
# ---------------------------------------------------------------------------------------------


class _IgnoreUnknownTags(yaml.SafeLoader):
    """A safe loader that reads ``!!python/...`` and other unknown tags as plain data."""


def _construct_unknown(loader, tag_suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_IgnoreUnknownTags.add_multi_constructor("", _construct_unknown)


def read_picasso_yaml(path: str | os.PathLike) -> list[dict]:
    """Read all YAML documents of a Picasso sidecar file (never executing any tag)."""
    try:
        with open(path, encoding="utf-8") as fh:
            docs = [d for d in yaml.load_all(fh, Loader=_IgnoreUnknownTags) if d is not None]
    except yaml.YAMLError as exc:
        raise InputError(f"not a readable YAML file ({str(exc).splitlines()[0]})", path) from None
    return [d for d in docs if isinstance(d, dict)]


def _lookup(docs: list[dict], key: str):
    """Picasso's rule: look a key up from the last document to the first."""
    for d in reversed(docs):
        if key in d:
            return d[key]
    return None


def picasso_pixel_size(docs: list[dict]):
    """Pixel size in nm from Picasso metadata (``Pixelsize``, else ``Camera.Pixelsize``).

    Picasso simulate writes ``Camera.Pixelsize`` as one flat key (``Camera: Simulation`` is a
    separate key); a nested ``Camera: {Pixelsize: ...}`` mapping is accepted too.
    """
    ps = _lookup(docs, "Pixelsize")
    if ps is None:
        ps = _lookup(docs, "Camera.Pixelsize")
    if ps is None:
        for d in reversed(docs):
            cam = d.get("Camera")
            if isinstance(cam, dict) and "Pixelsize" in cam:
                ps = cam["Pixelsize"]
                break
    try:
        return None if ps is None else float(ps)
    except (TypeError, ValueError):
        return None


def _sidecar_yaml(path: Path) -> Path:
    return path.with_suffix(".yaml")


# ---------------------------------------------------------------------------------------------
# readers
# ---------------------------------------------------------------------------------------------


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89HDF\r\n\x1a\n"


def detect_format(path: str | os.PathLike) -> str:
    """Guess a localization file's format from its content (see the module docstring)."""
    path = check_input_file(path)
    if _is_hdf5(path):
        return "picasso-hdf5"
    if path.suffix.lower() in (".hdf5", ".h5"):
        raise InputError("has an .hdf5 name but is not an HDF5 file (corrupt or truncated?)", path)
    header = _csv_header(path)
    return _detect_csv(path, header)


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", errors="strict", newline="") as fh:
            first = fh.readline()
    except UnicodeDecodeError:
        raise InputError("not a text csv file (binary content)", path) from None
    if not first.strip():
        raise InputError("csv file has no header line", path)
    try:  # the csv module: pandas takes milliseconds to set up a parser for one line
        return next(csv.reader([first.rstrip("\r\n")], strict=True))
    except csv.Error as exc:
        raise InputError(f"cannot parse the csv header ({exc})", path) from None


def _detect_csv(path: Path, header: list[str]) -> str:
    names = [split_label(h)[0].lower() for h in header]
    if "confidence" in names and "id" not in names and names[:1] != [""]:
        return "deepstorm-prediction"  # a ThunderSTORM csv may carry a confidence column too
    if names and (names[0] == "" or names[0].startswith("unnamed")):
        return "deepstorm"
    if "id" in names:
        try:
            head = pd.read_csv(path, nrows=2000, encoding="utf-8-sig")
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot parse csv ({str(exc).splitlines()[0]})", path) from None
        cols = {split_label(c)[0].lower(): c for c in head.columns}
        ids = pd.to_numeric(head[cols["id"]], errors="coerce")
        bk = cols.get("bkgstd")
        zero_bkgstd = bk is not None and bool((pd.to_numeric(head[bk], errors="coerce") == 0).all())
        if len(ids) and ids.min() == 0 and zero_bkgstd:
            return "picasso-csv"
        return "thunderstorm"
    if {"frame", "x", "y"} <= set(names):
        return "thunderstorm"
    raise InputError(
        f"unknown localization format: header {header[:6]} has no frame/x/y columns "
        "(expected Picasso hdf5, ThunderSTORM or Deep-STORM csv)", path)


def normalize_format(fmt: str) -> str:
    """A format name or alias (``picasso``, ``hdf5``, ``ts``, ...) as one of :data:`FORMATS` or ``"auto"``."""
    fmt = str(fmt).lower().replace("_", "-")
    fmt = _ALIASES.get(fmt, fmt)
    if fmt not in FORMATS + ("auto",):
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def read_locs(path, pixel_size=None, format="auto", *, frame_base=None):
    """Read a localization file into the canonical table.

    Parameters
    ----------
    path : str or Path
        Picasso ``*_locs.hdf5``, Picasso csv export, ThunderSTORM csv, Deep-STORM csv or
        Deep-STORM prediction csv.
    pixel_size : float, optional
        Camera pixel size in nm. Needed for files in pixel units (Picasso; ``[px]`` columns) and
        for the half-pixel shift of Picasso's csv export. Overrides the file's metadata.
    format : str, default "auto"
        One of :data:`FORMATS`, or "auto" to detect it from the content.
    frame_base : {0, 1}, optional
        Override the frame base of the file (by default the format's own, see module docstring).

    Returns
    -------
    table : pandas.DataFrame
        Canonical table (:mod:`imagesumming.schema`): frames 1-based, x/y in nm from the corner.
    report : ReadReport
        Format, frame base, units, pixel size and its source, rows dropped and why.

    Examples
    --------
    >>> locs, report = read_locs("testdata_locs.hdf5", pixel_size=160)  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
    """
    path = check_input_file(path)
    fmt = normalize_format(format)
    if fmt == "auto":
        fmt = detect_format(path)
    if pixel_size is not None:
        pixel_size = check_pixel_size(pixel_size, path)
    if fmt == "picasso-hdf5":
        table, report = _read_picasso_hdf5(path, pixel_size)
    else:
        table, report = _read_csv(path, fmt, pixel_size)
    if frame_base is not None:
        frame_base = int(frame_base)
        if frame_base not in (0, 1):
            raise InputError(f"frame_base must be 0 or 1, not {frame_base}", path)
        if frame_base != report.frame_base:
            table["frame"] += report.frame_base - frame_base  # undo the reader's choice
            report.notes.append(f"frame base overridden by the caller: file read as {frame_base}-based")
            report.frame_base = frame_base
    if len(table) and table["frame"].min() < 1:
        raise InputError(
            f"{int((table['frame'] < 1).sum())} localization(s) have frame numbers below the first frame "
            f"after reading as {report.frame_base}-based", path)
    return table, report


def _metadata_json_docs(meta_json) -> list[dict]:
    """Documents of Picasso 0.11's ``/metadata`` JSON dataset (a dict or a list of dicts)."""
    try:
        if isinstance(meta_json, np.ndarray):
            meta_json = meta_json.item() if meta_json.size == 1 else None
        if isinstance(meta_json, bytes):
            meta_json = meta_json.decode("utf-8")
        meta = json.loads(str(meta_json))
    except (ValueError, TypeError, UnicodeDecodeError):
        return []
    docs = meta if isinstance(meta, list) else [meta]
    return [d for d in docs if isinstance(d, dict)]


def _read_picasso_hdf5(path: Path, pixel_size):
    import h5py

    docs, source = [], None
    yml = _sidecar_yaml(path)
    if yml.exists():
        docs = read_picasso_yaml(yml)
        source = f"yaml {yml.name}"
    try:
        with h5py.File(path, "r") as f:
            if "locs" not in f:
                raise InputError(f"HDF5 file has no '/locs' dataset (found {list(f.keys())[:5]})", path)
            locs = f["locs"][...]
            # Picasso 0.11 embeds the metadata as JSON and may omit the yaml. Read only when
            # needed: HDF5 can hang on a damaged heap of a variable-length string.
            need_json = "metadata" in f and picasso_pixel_size(docs) is None
            meta_json = f["metadata"][()] if need_json else None
    except InputError:
        raise
    except Exception as exc:  # h5py raises OSError, RuntimeError, KeyError, ... for damaged files
        raise InputError(f"cannot read HDF5 file, corrupt or truncated? ({type(exc).__name__}: {exc})", path) from None
    if locs.dtype.names is None:
        raise InputError("'/locs' is not a compound (table) dataset", path)
    missing = [c for c in ("frame", "x", "y") if c not in locs.dtype.names]
    if missing:
        raise InputError(f"'/locs' lacks field(s) {missing}", path)

    if meta_json is not None:
        meta_docs = _metadata_json_docs(meta_json)
        if meta_docs:
            docs, source = meta_docs, "hdf5 /metadata"
    file_ps = picasso_pixel_size(docs)
    if pixel_size is not None:
        ps, ps_source = pixel_size, "given by the caller"
        if file_ps is not None and abs(file_ps - pixel_size) > 1e-6:
            log.warning("%s: pixel size %g nm given overrides %g nm in %s", path, pixel_size, file_ps, source)
    elif file_ps is not None:
        ps, ps_source = file_ps, source
    else:
        raise InputError(
            "Picasso coordinates are in camera pixels and no pixel size was found "
            f"(no Pixelsize in {yml.name if yml.exists() else 'a sidecar .yaml'} or /metadata)", path,
            hint="give the pixel size in nm with {pixel_size}")

    report = ReadReport(path=str(path), format="picasso-hdf5", frame_base=0, units="camera pixels",
                        pixel_size=ps, pixel_size_source=ps_source, origin="pixel centre",
                        rows_read=len(locs))
    for key in ("Width", "Height", "Frames"):
        v = _lookup(docs, key)
        if v is not None:
            report.metadata[key] = v
    placeholders = _lookup(docs, _PLACEHOLDER_KEY) or []
    if placeholders:  # fields our writer filled with placeholders: not data
        report.notes.append(f"fields {list(placeholders)} hold only placeholders (no data) and were left out")
    data = {}
    frame = locs["frame"]
    if np.issubdtype(frame.dtype, np.floating):
        rounded = np.rint(frame)
        if not np.allclose(frame[np.isfinite(frame)], rounded[np.isfinite(frame)]):
            report.notes.append("float frame numbers (molecule map) rounded to the nearest frame")
        frame = rounded
    data["frame"] = frame.astype(np.float64) + 1  # int conversion after the NaN check
    data["x"] = (locs["x"].astype(np.float64) + 0.5) * ps
    data["y"] = (locs["y"].astype(np.float64) + 0.5) * ps
    renamed = {"x": "x", "y": "y", "frame": "frame"}
    px_fields = {"sx": "sigma_x", "sy": "sigma_y", "lpx": "uncertainty_x", "lpy": "uncertainty_y"}
    renamed.update((f, None) for f in placeholders)
    for src, dst in px_fields.items():
        if src in locs.dtype.names and src not in placeholders:
            data[dst] = locs[src].astype(np.float64) * ps
            renamed[src] = dst
    if "sigma_x" in data and "sigma_y" in data:
        data["sigma"] = (data["sigma_x"] + data["sigma_y"]) / 2
    if "uncertainty_x" in data and "uncertainty_y" in data:
        data["uncertainty"] = np.sqrt((data["uncertainty_x"] ** 2 + data["uncertainty_y"] ** 2) / 2)
    for src, dst in (("photons", "photons"), ("bg", "bg"), ("z", "z")):
        if src in locs.dtype.names and src not in placeholders:
            data[dst] = locs[src].astype(np.float64)
            renamed[src] = dst
    extras = [n for n in locs.dtype.names if n not in renamed]
    for n in extras:
        data[n] = locs[n].copy()
    report.renamed = {k: v for k, v in renamed.items() if k != v and v is not None}
    report.extra_columns = extras
    table = _finish(pd.DataFrame(data), report)
    return table, report


def _check_last_row(path: Path, n_fields: int) -> None:
    """Refuse a csv whose last row has fewer fields than the header (a truncated file).

    pandas would fill the missing fields with NaN and keep the row.
    """
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - 65536))
        lines = [ln for ln in fh.read().splitlines() if ln.strip()]
    if len(lines) < 2:
        return
    fields = next(csv.reader([lines[-1].decode("utf-8", "replace")]))
    if len(fields) < n_fields:
        raise InputError(f"last row has {len(fields)} of {n_fields} fields: csv file is truncated or corrupt", path)


def _read_csv(path: Path, fmt: str, pixel_size):
    try:
        raw = pd.read_csv(path, na_values=["NaN", "Infinity", "-Infinity", "inf", "-inf"],
                          encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise InputError("csv file is empty", path) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot parse csv ({str(exc).splitlines()[0]})", path) from None
    _check_last_row(path, len(raw.columns))
    if len(raw.columns) and str(raw.columns[0]).startswith("Unnamed"):
        raw = raw.iloc[:, 1:]  # Deep-STORM's unnamed id column; writers renumber ids

    frame_base = 0 if fmt == "picasso-csv" else 1
    report = ReadReport(path=str(path), format=fmt, frame_base=frame_base, units="nm",
                        rows_read=len(raw), origin="pixel centre" if fmt == "picasso-csv" else "corner")
    data, renamed, extras, units = {}, {}, [], set()
    needs_px = False
    for label in raw.columns:
        name, unit = split_label(label)
        key = _CSV_NAMES.get(name.lower())
        if name.lower() == "id":
            continue  # ids are renumbered by writers
        if key is None or key in data:
            extras.append(label)
            data[label] = raw[label].to_numpy()
            continue
        column = raw[label]
        if column.dtype.kind in "biuf":  # parsed as numbers: no text to find (saves two copies)
            values = column.to_numpy(dtype=np.float64)
        else:
            numbers = pd.to_numeric(column, errors="coerce")
            bad_text = int((column.notna() & numbers.isna()).sum())
            if bad_text:
                raise InputError(f"column {label!r} has {bad_text} value(s) that are not numbers", path)
            values = numbers.to_numpy(dtype=np.float64)
        if key in ("x", "y", "z", "sigma", "sigma_x", "sigma_y", "uncertainty") and unit is not None:
            u = unit.lower()
            if u not in _LENGTH_UNITS:
                raise InputError(f"column {label!r}: unknown length unit [{unit}] (expected nm, um or px)", path)
            factor = _LENGTH_UNITS[u]
            if factor is None:
                needs_px = True
                if pixel_size is None:
                    raise InputError(f"column {label!r} is in camera pixels", path,
                                     hint="give the pixel size in nm with {pixel_size}")
                factor = pixel_size
            units.add(u)
            values = values * factor
        if key in ("photons", "bg") and unit is not None and unit.lower() == "adu":
            report.notes.append(f"column {label!r} is in camera counts (ADU), not photons; kept as {key}")
        data[key] = values
        if label != key:
            renamed[label] = key
    missing = [c for c in REQUIRED if c not in data]
    if missing:
        raise InputError(f"missing column(s) {missing} (found {list(raw.columns)[:8]})", path)
    if "sigma" not in data and "sigma_x" in data and "sigma_y" in data:  # 3D files: sigma1, sigma2
        data["sigma"] = (data["sigma_x"] + data["sigma_y"]) / 2  # as the Picasso hdf5 reader does
    report.units = "/".join(sorted(units)) or "nm"
    if needs_px:
        report.pixel_size, report.pixel_size_source = pixel_size, "given by the caller"

    frames = data["frame"]
    if frame_base == 1 and len(frames) and np.nanmin(frames) == 0:
        frame_base = 0
        report.frame_base = 0
        report.notes.append("frame 0 present: file read as 0-based (if it is not, read it with frame_base=1, or rewrite it with `imagesumming convert --frame-base 1`)")
    if fmt == "picasso-csv":
        if pixel_size is None:
            raise InputError(
                "Picasso csv export puts pixel centres at integer pixel coordinates", path,
                hint="give the pixel size in nm with {pixel_size} for the half-pixel shift")
        report.pixel_size, report.pixel_size_source = pixel_size, "given by the caller"
        data["x"] = data["x"] + pixel_size / 2
        data["y"] = data["y"] + pixel_size / 2
        report.notes.append(f"shifted x and y by half a pixel ({pixel_size / 2:g} nm) to the corner convention")
    elif pixel_size is not None and report.pixel_size is None:
        report.pixel_size, report.pixel_size_source = pixel_size, "given by the caller"
    data["frame"] = frames + (1 - frame_base)
    report.renamed, report.extra_columns = renamed, extras
    return _finish(pd.DataFrame(data, copy=False), report), report  # make_locs copies


def _finish(df: pd.DataFrame, report: ReadReport) -> pd.DataFrame:
    """Drop rows whose frame is missing (reported); keep everything else for validation."""
    bad = ~np.isfinite(df["frame"].to_numpy(dtype=np.float64))
    if bad.any():
        report.rows_dropped["frame is NaN"] = int(bad.sum())
        log.warning("%s: dropped %d row(s) with no frame number", report.path, int(bad.sum()))
        df = df.loc[~bad]
    frame = df["frame"].to_numpy(dtype=np.float64)
    if not np.allclose(frame, np.rint(frame)):
        raise InputError("frame numbers are not whole numbers", report.path)
    return make_locs(df)


# ---------------------------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------------------------


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    if name in df.columns:
        return df[name].to_numpy(dtype=np.float64)
    return np.full(len(df), np.nan)


def write_deepstorm_csv(path, locs: pd.DataFrame, *, force: bool = False) -> Path:
    """Write the csv the ZeroCostDL4Mic Deep-STORM notebook loads as is.

    Header ``,frame,x [nm],y [nm],Photon #,Sigma [nm]``; an unnamed index running 1..N; rows
    sorted by frame (stable); frames 1-based; x/y in nm from the pixel corner. Unknown photons or
    sigma are written as empty fields.
    """
    locs = sort_locs(locs)
    columns = {
        "": np.arange(1, len(locs) + 1),
        "frame": locs["frame"].to_numpy(dtype=np.int64),
        "x [nm]": _col(locs, "x"),
        "y [nm]": _col(locs, "y"),
        "Photon #": _col(locs, "photons"),
        "Sigma [nm]": _col(locs, "sigma"),
    }
    with atomic_path(path, force=force) as tmp:
        _write_plain_csv(tmp, columns)
    return Path(path)


def _write_plain_csv(path, columns: dict) -> None:
    """Write numeric columns as csv: floats as Python's shortest exact repr, NaN as an empty field.

    The same text pandas writes by default, in about half the time (this is on the summing's
    critical path).
    """
    texts = []
    for values in columns.values():
        items = np.asarray(values).tolist()
        if values.dtype.kind == "f" and np.isnan(values).any():
            texts.append(["" if v != v else repr(v) for v in items])
        else:
            texts.append(list(map(repr, items)))
    with open(path, "w", newline="") as fh:
        fh.write(",".join(columns) + "\n")
        if texts and texts[0]:
            fh.write("\n".join(map(",".join, zip(*texts))))
            fh.write("\n")


def write_prediction_csv(path, locs: pd.DataFrame, *, force: bool = False) -> Path:
    """Write a Deep-STORM prediction csv: ``frame,x [nm],y [nm],confidence [a.u]`` (no index)."""
    columns = {
        "frame": locs["frame"].to_numpy(dtype=np.int64),
        "x [nm]": _col(locs, "x"),
        "y [nm]": _col(locs, "y"),
        "confidence [a.u]": _col(locs, "confidence"),
    }
    with atomic_path(path, force=force) as tmp:
        _write_plain_csv(tmp, columns)
    return Path(path)


_TS_COLUMNS = (
    ("x", "x [nm]"), ("y", "y [nm]"), ("z", "z [nm]"), ("sigma", "sigma [nm]"),
    ("sigma_x", "sigma1 [nm]"), ("sigma_y", "sigma2 [nm]"), ("photons", "intensity [photon]"),
    ("bg", "offset [photon]"), ("uncertainty", "uncertainty_xy [nm]"), ("confidence", "confidence [a.u]"),
)


def write_thunderstorm_csv(path, locs: pd.DataFrame, *, force: bool = False) -> Path:
    """Write a ThunderSTORM csv: quoted header, ``id`` and ``frame`` 1-based, nm, corner origin.

    Canonical columns get ThunderSTORM's labels; numeric extra columns keep their names. Missing
    values are written as ``NaN`` as ThunderSTORM does (its importer skips a row with an empty or
    non-numeric field, so text columns are left out with a warning).
    """
    locs = sort_locs(locs)
    out = {"id": np.arange(1, len(locs) + 1), "frame": locs["frame"].to_numpy(dtype=np.int64)}
    for key, label in _TS_COLUMNS:
        if key in locs.columns:
            out[label] = locs[key].to_numpy(dtype=np.float64)
    for c in locs.columns:
        if c in CANONICAL:
            continue
        values = locs[c].to_numpy()
        if values.dtype.kind not in "biuf":
            log.warning("%s: column %r is not numeric and is not written (ThunderSTORM cannot read text)", path, c)
            continue
        out[str(c)] = values.astype(np.int64) if values.dtype.kind == "b" else values
    out = {label: _ts_positional(v) for label, v in out.items()}
    df = pd.DataFrame(out)
    with atomic_path(path, force=force) as tmp:
        with open(tmp, "w", newline="") as fh:
            fh.write(",".join(f'"{c}"' for c in df.columns) + "\n")
            df.to_csv(fh, index=False, header=False, na_rep="NaN")
    return Path(path)


def _ts_positional(values: np.ndarray) -> np.ndarray:
    """Floats that Python would print in exponent notation (1e-05), as exact positional text.

    ThunderSTORM parses numbers with Java's DecimalFormat, which stops at the ``e``: ``1e-05``
    would be read as 1. Other columns are returned unchanged (the common, fast case).
    """
    if values.dtype.kind != "f":
        return values
    finite = np.isfinite(values)
    mag = np.abs(values[finite])
    if not ((mag > 0) & (mag < 1e-4)).any() and not (mag >= 1e16).any():
        return values
    text = [np.format_float_positional(v, unique=True, trim="0") for v in values[finite].tolist()]
    out = np.where(np.isnan(values), "NaN", np.where(values > 0, "Infinity", "-Infinity")).astype(object)
    out[finite] = text
    return out


_PICASSO_FLOAT = ("x", "y", "photons", "sx", "sy", "bg", "lpx", "lpy")
#: Picasso's loaders (lib.ensure_sanity) drop every row with a NaN in any field, and Render needs
#: lpx/lpy: unknown values of these fields are written as placeholders (photons, camera pixels).
#: lpx/lpy get 0.1 px, not 0: Render's Gaussian blur draws nothing for a zero width.
_PICASSO_PLACEHOLDERS = {"photons": 0.0, "sx": 0.0, "sy": 0.0, "bg": 0.0, "lpx": 0.1, "lpy": 0.1}
#: yaml key listing the fields that hold only placeholders (read_locs leaves them out)
_PLACEHOLDER_KEY = "Placeholder fields (imagesumming)"


def write_picasso_hdf5(path, locs: pd.DataFrame, *, pixel_size: float, width: int | None = None,
                       height: int | None = None, frames: int | None = None, force: bool = False,
                       extra_metadata: dict | None = None) -> Path:
    """Write Picasso ``*_locs.hdf5`` + sidecar ``.yaml`` that Picasso itself opens.

    ``/locs`` is a compound dataset with Picasso's field names and dtypes: ``frame`` uint32 0-based,
    ``x``, ``y``, ``sx``, ``sy``, ``lpx``, ``lpy`` float32 in camera pixels with a pixel's centre at
    an integer coordinate. The yaml (and, as in Picasso 0.11, a JSON ``/metadata`` dataset) holds
    Width, Height, Frames and Pixelsize; image size and frame count default to the smallest that
    hold every localization.

    Picasso drops every row with a NaN in any field and Render needs ``lpx``/``lpy``: unknown
    photons, bg, sx, sy are written as 0 and unknown lpx, lpy as 0.1 px; fields that hold only
    placeholders are listed in the yaml, and :func:`read_locs` leaves them out again.
    """
    import h5py

    pixel_size = check_pixel_size(pixel_size, path)
    path = Path(path)
    locs = sort_locs(locs)
    n = len(locs)
    fields = {"frame": (locs["frame"].to_numpy(dtype=np.int64) - 1)}
    if n and fields["frame"].min() < 0:
        raise InputError("frames must be 1-based (>= 1) in the table", path)
    fields["x"] = locs["x"].to_numpy(np.float64) / pixel_size - 0.5
    fields["y"] = locs["y"].to_numpy(np.float64) / pixel_size - 0.5
    near_edge = int(((fields["x"] < 0) | (fields["y"] < 0)).sum())
    if near_edge:  # inside the image, but Picasso's loaders drop negative coordinates
        log.warning("%s: %d localization(s) within half a pixel of the left/top edge get negative Picasso "
                    "coordinates; Picasso's loaders drop them", path, near_edge)
    fields["photons"] = _col(locs, "photons")
    sx = _col(locs, "sigma_x") if "sigma_x" in locs else _col(locs, "sigma")
    sy = _col(locs, "sigma_y") if "sigma_y" in locs else _col(locs, "sigma")
    fields["sx"], fields["sy"] = sx / pixel_size, sy / pixel_size
    fields["bg"] = _col(locs, "bg")
    lpx = _col(locs, "uncertainty_x") if "uncertainty_x" in locs else _col(locs, "uncertainty")
    lpy = _col(locs, "uncertainty_y") if "uncertainty_y" in locs else _col(locs, "uncertainty")
    fields["lpx"], fields["lpy"] = lpx / pixel_size, lpy / pixel_size
    placeholders = []
    for name, value in _PICASSO_PLACEHOLDERS.items():
        unknown = ~np.isfinite(fields[name])
        if n and unknown.all():
            placeholders.append(name)
        elif unknown.any():
            log.warning("%s: %d localization(s) without %s: written as %g so that Picasso keeps them",
                        path, int(unknown.sum()), name, value)
        fields[name] = np.where(unknown, value, fields[name])
    if placeholders:
        log.info("%s: fields %s unknown, written as placeholders %s", path, placeholders,
                 {k: _PICASSO_PLACEHOLDERS[k] for k in placeholders})
    dtype = [("frame", "u4")] + [(f, "f4") for f in _PICASSO_FLOAT]
    # z (nm, as in Picasso) and a prediction's confidence have no other place among Picasso's fields
    extra_cols = [c for c in ("z", "confidence") if c in locs.columns]
    extra_cols += [c for c in locs.columns if c not in CANONICAL]
    for c in extra_cols:
        if str(c) in fields:  # e.g. an extra "sx" column from a csv: Picasso's own field wins
            log.warning("%s: column %r clashes with a Picasso field and is not written", path, c)
            continue
        arr = locs[c].to_numpy()
        if arr.dtype.kind not in "biuf":
            log.warning("%s: column %r is not numeric and is not written to hdf5", path, c)
            continue
        dtype.append((str(c), arr.dtype.str if arr.dtype.kind in "iu" else "f4"))
        fields[str(c)] = arr
    rec = np.zeros(n, dtype=dtype)
    for name in rec.dtype.names:
        rec[name] = fields[name]
    not_finite = sum(~np.isfinite(rec[f]) for f in rec.dtype.names if rec.dtype[f].kind == "f")
    if n and np.any(not_finite):
        log.warning("%s: %d localization(s) have NaN or infinite x, y or extra values; Picasso drops them",
                    path, int(np.count_nonzero(not_finite)))
    if width is None:
        width = int(np.floor(locs["x"].max() / pixel_size)) + 1 if n else 1
        log.info("%s: image width not given, using %d px from the localizations", path, width)
    if height is None:
        height = int(np.floor(locs["y"].max() / pixel_size)) + 1 if n else 1
    if frames is None:
        frames = int(locs["frame"].max()) if n else 1
    meta = {"Generated by": "imagesumming", "Width": int(width), "Height": int(height),
            "Frames": int(frames), "Pixelsize": float(pixel_size)}
    meta[_PLACEHOLDER_KEY] = placeholders  # also when empty: overrides the documents of earlier steps
    if extra_metadata:
        meta.update(extra_metadata)
    yml = _sidecar_yaml(path)
    check_outputs([path, yml], force=force)
    # render the yaml first: a value it cannot represent must fail before any file is written
    meta_json = json.dumps([json_ready(meta)], allow_nan=False)
    meta_text = yaml.safe_dump(json.loads(meta_json)[0], default_flow_style=False, sort_keys=False)
    with atomic_path(path, force=force) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("locs", data=rec)
            # as Picasso 0.11: the hdf5 alone suffices. A fixed-length string (Picasso reads it the
            # same way) keeps the text inside the dataset: no variable-length heap to damage.
            f.create_dataset("metadata", data=np.bytes_(meta_json.encode("utf-8")))
    with atomic_path(yml, force=True) as tmp:
        tmp.write_text(meta_text, encoding="utf-8")
    return path


def write_locs(path, locs: pd.DataFrame, format: str = "deepstorm", *, pixel_size=None,
               force: bool = False, **kwargs) -> Path:
    """Write a canonical table in any supported format (see :data:`FORMATS`)."""
    fmt = normalize_format(format)
    if fmt == "deepstorm":
        return write_deepstorm_csv(path, locs, force=force)
    if fmt == "thunderstorm":
        return write_thunderstorm_csv(path, locs, force=force)
    if fmt == "deepstorm-prediction":
        return write_prediction_csv(path, locs, force=force)
    if fmt == "picasso-hdf5":
        if pixel_size is None:
            raise InputError("Picasso hdf5 stores camera pixels", path, hint="give the pixel size in nm with {pixel_size}")
        return write_picasso_hdf5(path, locs, pixel_size=pixel_size, force=force, **kwargs)
    raise InputError(f"cannot write format {fmt!r} (choose deepstorm, thunderstorm or picasso)", path)
