"""Localization files in and out: Picasso hdf5 and csv, ThunderSTORM csv, Deep-STORM csv.

All readers return ``(table, report)``: the table follows :mod:`imagesumming.schema` (frames
1-based, x/y in nm from the pixel corner) and the report says what was done to get there. A file
is read right or refused: a unit, a frame base or a column is never guessed.

Conventions of the formats (see the project's FORMATS notes and README's Conventions):

* Picasso hdf5: ``/locs`` compound dataset, frames 0-based, x/y/sx/sy/lpx/lpy in camera pixels,
  a pixel's **centre** at an integer coordinate: ``x_nm = (x_px + 0.5) * pixel_size``.
* Picasso plain csv (``picasso hdf2csv``: a pandas index then ``frame,x,y,photons,sx,sy,bg,lpx,
  lpy,...``; Picasso Filter's "Export as CSV": the same without the index): the hdf5 columns as
  they are, so the same conventions; the pixel size from ``--pixel-size`` or the same-stem yaml
  Picasso keeps beside it.
* Picasso csv export ("for ThunderSTORM", picasso.io.export_thunderstorm): ``id`` and ``frame``
  0-based, ``x [nm] = x_px * pixel_size`` (centre convention), so the half-pixel shift needs the
  pixel size; ``bkgstd [photon]`` always 0; 2D ``sigma [nm]`` is ``sx`` (the mean of sx and sy up
  to 0.8.8, which also quoted the header), 3D files have ``sigma1``/``sigma2``; ``len`` becomes
  ``detections``.
* ThunderSTORM csv: quoted header, units in brackets, ``id``/``frame`` 1-based, corner convention;
  its tab-separated export is read too.
* Deep-STORM csv: unnamed index 1..N, ``frame,x [nm],y [nm],Photon #,Sigma [nm]``, 1-based.
* Deep-STORM prediction csv: ``frame,x [nm],y [nm],confidence [a.u]``, 1-based, no index.
* Any other csv: described by the caller (``columns=``, ``frame_base=``, ``unit=``; CLI
  ``--columns frame=Frame,x=X (nm),y=Y (nm) --frame-base 0 --unit nm``), coordinates from the
  image corner.

Auto-detection rule for csv files (override with ``format=``; describe others with ``columns=``):

1. ``frame``, ``x``, ``y``, ``lpx``, ``lpy`` without units (Picasso's own field names), after an
   optional unnamed index column -> Picasso plain csv;
2. a ``confidence`` column and no ``id`` or index column -> Deep-STORM prediction;
3. an unnamed first column -> Deep-STORM csv;
4. an ``id`` column -> Picasso csv export when its ids start at 0 and ``bkgstd [photon]`` is
   all zero (Picasso writes 0 there), else ThunderSTORM;
5. anything else with ``frame`` and ``x``/``y`` -> ThunderSTORM-style csv.

Length columns must state their unit (``x [nm]``, ``[um]``, ``[px]``), else ``unit=`` gives it;
a csv whose x/y carry no unit and match no layout above is refused.

Frame base: from the format (Picasso 0-based, the others 1-based), never from the data; a frame 0
in a 1-based file is refused with its row count (``frame_base=`` overrides). Frames must be exact
whole numbers, from 0 to :data:`MAX_FRAME` in the file (hdf5 and csv alike).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .._files import atomic_path, check_input_file, check_outputs, json_ready
from ..errors import InputError
from ..schema import CANONICAL, NM_COLUMNS, REQUIRED, make_locs, sort_locs
from ..validate import check_pixel_size
from ._csvtext import check_rows, clip, read_layout, write_columns

__all__ = [
    "ReadReport",
    "LocsFile",
    "FORMATS",
    "MAX_FRAME",
    "UNITS",
    "ORIGINS",
    "read_locs",
    "write_locs",
    "detect_format",
    "split_label",
    "normalize_format",
    "parse_columns",
    "read_picasso_yaml",
    "write_deepstorm_csv",
    "write_thunderstorm_csv",
    "write_picasso_hdf5",
    "write_prediction_csv",
]

log = logging.getLogger("imagesumming")

FORMATS = ("picasso-hdf5", "picasso-csv", "picasso-plain-csv", "thunderstorm", "deepstorm",
           "deepstorm-prediction", "mapped-csv")
#: aliases accepted for ``format=`` / ``--to``
_ALIASES = {
    "picasso": "picasso-hdf5", "hdf5": "picasso-hdf5", "h5": "picasso-hdf5",
    "deepstorm-csv": "deepstorm", "prediction": "deepstorm-prediction", "ts": "thunderstorm",
    "picasso-plain": "picasso-plain-csv", "hdf2csv": "picasso-plain-csv", "mapped": "mapped-csv",
}
#: frame base of each format (the mapped csv's comes from the caller)
_FRAME_BASE = {"picasso-hdf5": 0, "picasso-csv": 0, "picasso-plain-csv": 0, "thunderstorm": 1,
               "deepstorm": 1, "deepstorm-prediction": 1}
_FORMAT_NAMES = {"picasso-hdf5": "Picasso hdf5", "picasso-csv": "Picasso csv export",
                 "picasso-plain-csv": "Picasso plain csv", "thunderstorm": "ThunderSTORM csv",
                 "deepstorm": "Deep-STORM csv", "deepstorm-prediction": "Deep-STORM prediction csv",
                 "mapped-csv": "csv (columns given)"}
#: the largest frame number accepted in a file (no movie has more frames; beyond it numbers are damage)
MAX_FRAME = 2**31 - 1
#: length units a column label (``x [nm]``) or ``unit=`` may state, as nm per unit (None: camera pixels)
UNITS = {"nm": 1.0, "um": 1000.0, "µm": 1000.0, "μm": 1000.0, "micron": 1000.0, "px": None, "pixel": None}
#: missing values in csv text. ThunderSTORM formats numbers with Java's DecimalFormat, which writes
#: infinity as "∞" and, on Java 8 (Fiji's), NaN as U+FFFD ("\ufffd"); they are missing values too.
_NA = ["", "NaN", "nan", "-nan", "NA", "Infinity", "-Infinity", "inf", "-inf", "\u221e", "-\u221e", "\ufffd"]


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


@dataclasses.dataclass(frozen=True, eq=False)  # eq=False: hashed as an object (its mapping is a dict)
class LocsFile(os.PathLike):
    """A localization file together with how to read it; usable wherever a path is.

    The CLI wraps every localization path in one, so that ``--columns``, ``--frame-base`` and
    ``--unit`` reach :func:`read_locs` through the summing, the add-ons and the evaluation
    unchanged. Arguments given to :func:`read_locs` itself take precedence.

    Examples
    --------
    >>> src = LocsFile("oni.csv", columns="frame=Frame,x=X (nm),y=Y (nm)", frame_base=0)  # doctest: +SKIP
    >>> locs, report = read_locs(src)  # doctest: +SKIP
    """

    path: str | os.PathLike
    format: str = "auto"
    frame_base: int | None = None
    columns: str | dict | None = None
    unit: str | None = None
    origin: str | None = None

    def __post_init__(self):
        if self.columns is not None:
            object.__setattr__(self, "columns", parse_columns(self.columns))
        if self.unit is not None:
            object.__setattr__(self, "unit", _check_unit(self.unit))
        if self.origin is not None:
            object.__setattr__(self, "origin", _check_origin(self.origin))
        normalize_format(self.format)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __str__(self) -> str:
        return os.fspath(self.path)


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
_PAREN_UNIT = re.compile(r"^\s*(?P<name>.*?)\s*\((?P<unit>[^)]*)\)\s*$")
_LENGTH_UNITS = UNITS
#: Picasso's own field names: a csv with these (and no units) is Picasso's plain csv
_PICASSO_SIGNATURE = ("frame", "x", "y", "lpx", "lpy")


def split_label(label: str) -> tuple[str, str | None]:
    """A csv column label's name and unit: ``'x [nm]'`` -> ``('x', 'nm')``, ``'frame'`` -> ``('frame', None)``."""
    m = _LABEL.match(str(label))
    name, unit = m.group("name"), m.group("unit")
    return name, (unit.strip() if unit is not None else None)


def _label_unit(label: str) -> str | None:
    """The unit a user-named column states: ``x [nm]`` or ``X (nm)``; None if it states none."""
    unit = split_label(label)[1]
    if unit is None:
        m = _PAREN_UNIT.match(str(label))
        unit = m.group("unit").strip() if m and m.group("unit").strip().lower() in UNITS else None
    return unit


#: Where a csv read by a column mapping puts a pixel's centre: ``corner`` (pixel k spans [k, k+1), its
#: centre at k + 0.5: ThunderSTORM, Deep-STORM) or ``centre`` (at k: Picasso).
ORIGINS = ("corner", "centre")


def _check_origin(origin) -> str:
    o = str(origin).strip().lower()
    o = {"center": "centre"}.get(o, o)
    if o not in ORIGINS:
        raise InputError(f"unknown origin {clip(o, 20)}: give corner (pixel k spans [k, k+1)) or centre (pixel k's "
                         "centre at k, as Picasso)")
    return o


def _check_unit(unit) -> str:
    u = str(unit).strip()
    if u.lower() not in UNITS:
        raise InputError(f"unknown length unit {clip(u, 20)}: give nm, um or px")
    return u.lower()


def parse_columns(spec) -> dict:
    """A column mapping ``"frame=Frame,x=X (nm),y=Y (nm)"`` (or a dict) as ``{canonical: label}``.

    Keys are canonical column names (:mod:`imagesumming.schema`; ``frame``, ``x`` and ``y`` are
    required), values the file's column labels, exactly as in its header.
    """
    if isinstance(spec, dict):
        pairs = [(str(k).strip(), str(v).strip()) for k, v in spec.items()]
    else:
        pairs = []
        for part in str(spec).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise InputError(f"--columns part {clip(part.strip(), 30)} is not NAME=LABEL "
                                 "(e.g. frame=Frame,x=X (nm),y=Y (nm))")
            k, v = part.split("=", 1)
            pairs.append((k.strip(), v.strip()))
    mapping = {}
    for k, v in pairs:
        if k not in CANONICAL:
            raise InputError(f"--columns: {clip(k, 20)} is not a column name; use {', '.join(CANONICAL)}")
        if not v:
            raise InputError(f"--columns: {k}= names no column")
        if k in mapping:
            raise InputError(f"--columns: {k} is given twice")
        mapping[k] = v
    missing = [c for c in REQUIRED if c not in mapping]
    if missing:
        raise InputError(f"--columns must name the file's columns for {', '.join(missing)} "
                         "(e.g. frame=Frame,x=X (nm),y=Y (nm))")
    if len(set(mapping.values())) < len(mapping):
        raise InputError("--columns: one file column is mapped twice")
    return mapping


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


def _yaml_text(path) -> tuple[str, str]:
    """The text of a yaml file and its encoding: UTF-8, else cp1252 (Picasso on Windows writes the
    yaml in the system's encoding; the numbers read from it are ASCII either way)."""
    raw = Path(path).read_bytes()
    if b"\x00" in raw:
        raise InputError("contains NUL bytes: not a YAML text file (binary or damaged)", path)
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise InputError(f"not a text YAML file (byte 0x{raw[exc.start]:02x} is neither UTF-8 nor cp1252)",
                         path) from None


def read_picasso_yaml(path: str | os.PathLike) -> list[dict]:
    """Read all YAML documents of a Picasso sidecar file (never executing any tag)."""
    text, _ = _yaml_text(path)
    try:
        docs = [d for d in yaml.load_all(text, Loader=_IgnoreUnknownTags) if d is not None]
    except yaml.YAMLError as exc:
        raise InputError(f"not a readable YAML file ({clip(str(exc).splitlines()[0], 80)})", path) from None
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. an unhashable key, deep nesting
        raise InputError(f"not a readable YAML file ({type(exc).__name__})", path) from None
    return [d for d in docs if isinstance(d, dict)]


def _lookup(docs: list[dict], key: str):
    """Picasso's rule: look a key up from the last document to the first."""
    for d in reversed(docs):
        if key in d:
            return d[key]
    return None


def _number(value, key, source, *, whole=False, lo=None, hi=None):
    """A metadata value as a number, or a one-line InputError naming the key and the file."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if ok:
        v = float(value)
        ok = np.isfinite(v) and (not whole or v.is_integer()) and (lo is None or v >= lo) and (hi is None or v <= hi)
    if not ok:
        what = "a whole number" if whole else "a number"
        rng = f" from {lo:d} to {hi:d}" if whole and hi is not None else " above 0" if lo is not None else ""
        raise InputError(f"{key}: {clip(value, 30)} is not {what}{rng}", source)
    return int(v) if whole else v


def picasso_pixel_size(docs: list[dict], source="the Picasso metadata"):
    """Pixel size in nm from Picasso metadata (``Pixelsize``, else ``Camera.Pixelsize``), or None.

    Picasso simulate writes ``Camera.Pixelsize`` as one flat key (``Camera: Simulation`` is a
    separate key); a nested ``Camera: {Pixelsize: ...}`` mapping is accepted too. A value that is
    not a positive number is refused (one line naming the key and ``source``).
    """
    key, ps = "Pixelsize", _lookup(docs, "Pixelsize")
    if ps is None:
        key, ps = "Camera.Pixelsize", _lookup(docs, "Camera.Pixelsize")
    if ps is None:
        for d in reversed(docs):
            cam = d.get("Camera")
            if isinstance(cam, dict) and "Pixelsize" in cam:
                key, ps = "Camera: Pixelsize", cam["Pixelsize"]
                break
    if ps is None:
        return None
    v = _number(ps, key, source)
    if v <= 0:
        raise InputError(f"{key}: {v:g} is not a pixel size (nm, above 0)", source)
    return v


def _picasso_metadata(docs: list[dict], source) -> dict:
    """Width, Height, Frames of Picasso metadata as checked whole numbers (absent keys left out)."""
    out = {}
    for key in ("Width", "Height", "Frames"):
        v = _lookup(docs, key)
        if v is not None:
            out[key] = _number(v, key, source, whole=True, lo=1, hi=MAX_FRAME)
    return out


def _csv2hdf_note(docs: list[dict], pixel_size) -> str | None:
    """Picasso's ``csv2hdf`` imports a ThunderSTORM csv without subtracting half a pixel."""
    for d in docs:
        if "csv2hdf" in str(d.get("Generated by", "")):
            half = f" ({pixel_size / 2:g} nm)" if pixel_size else ""
            return (f"made by Picasso csv2hdf ({clip(d['Generated by'], 40)}) from a ThunderSTORM csv: Picasso's "
                    f"import does not subtract half a pixel, so x/y are half a pixel{half} off (and frames count "
                    "from the csv's first frame); read the original ThunderSTORM csv instead")
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
    layout = read_layout(path)
    check_rows(path, layout)
    raw = _read_table(path, layout, nrows=2000)
    return _detect_csv(path, layout.labels, raw)


def _names(labels) -> list[str]:
    return [split_label(h)[0].lower() for h in labels]


def _detect_csv(path: Path, labels: list[str], raw: pd.DataFrame) -> str:
    names = _names(labels)
    body = labels[1:] if labels[:1] == [""] else labels
    if all(n in body for n in _PICASSO_SIGNATURE):
        return "picasso-plain-csv"
    if "confidence" in names and "id" not in names and names[:1] != [""]:
        return "deepstorm-prediction"  # a ThunderSTORM csv may carry a confidence column too
    if names and names[0] == "":
        return "deepstorm"
    if "id" in names:
        cols = {}
        for n, lab in zip(names, labels):
            cols.setdefault(n, lab)  # the first column of a name, as for the columns read
        ids = pd.to_numeric(raw[cols["id"]], errors="coerce")
        bk = cols.get("bkgstd")
        zero_bkgstd = bk is not None and bool((pd.to_numeric(raw[bk], errors="coerce") == 0).all())
        if len(ids) and ids.min() == 0 and zero_bkgstd:
            return "picasso-csv"
        if len(ids) and zero_bkgstd:
            # ThunderSTORM's fits never give a zero background std in every row; Picasso writes 0.
            # Its ids run from 0 unless rows were filtered out or ThunderSTORM re-saved the file:
            # 0-based frames and pixel-centre positions, or ThunderSTORM's? Not a guess to make.
            raise InputError(f"'bkgstd [photon]' is 0 in every row as in Picasso's csv export, but the ids start at "
                             f"{ids.min():.10g}, not 0 (filtered or re-saved?): state the format (convert --from "
                             "picasso-csv --pixel-size NM, or --from thunderstorm)", path)
        return "thunderstorm"
    if {"frame", "x", "y"} <= set(names):
        return "thunderstorm"
    raise InputError(
        f"unknown localization format: columns {clip(', '.join(labels[:6]), 70)} have no frame/x/y", path,
        hint="name them with {columns} frame=LABEL,x=LABEL,y=LABEL (and {frame_base}, {unit})")


def normalize_format(fmt: str) -> str:
    """A format name or alias (``picasso``, ``hdf5``, ``ts``, ...) as one of :data:`FORMATS` or ``"auto"``."""
    fmt = str(fmt).lower().replace("_", "-")
    fmt = _ALIASES.get(fmt, fmt)
    if fmt not in FORMATS + ("auto",):
        raise InputError(f"unknown format {clip(fmt, 30)}; choose one of {', '.join(FORMATS)}")
    return fmt


def read_locs(path, pixel_size=None, format="auto", *, frame_base=None, columns=None, unit=None, origin=None,
              fallback_pixel_size=None, fallback_source=None):
    """Read a localization file into the canonical table.

    Parameters
    ----------
    path : str, Path or LocsFile
        Picasso ``*_locs.hdf5``, Picasso plain csv or csv export, ThunderSTORM csv, Deep-STORM csv,
        Deep-STORM prediction csv, or any csv described by ``columns``. A :class:`LocsFile`
        brings its own ``format``, ``frame_base``, ``columns`` and ``unit`` (arguments given here win).
    pixel_size : float, optional
        Camera pixel size in nm. Needed for files in pixel units (Picasso; ``[px]`` columns) and
        for the half-pixel shift of Picasso's csv export. Overrides the file's metadata.
    format : str, default "auto"
        One of :data:`FORMATS`, or "auto" to detect it from the content.
    frame_base : {0, 1}, optional
        The number of the movie's first frame in the file. By default the format's own (Picasso 0,
        the others 1); required with ``columns``.
    columns : str or dict, optional
        Read a csv of another layout: ``"frame=Frame,x=X (nm),y=Y (nm)"`` or ``{"frame": "Frame", ...}``
        (canonical name -> the file's label; see :func:`parse_columns`). Other columns are kept
        under their own names.
    unit : {"nm", "um", "px"}, optional
        Unit of the length columns whose labels state none (``px`` needs ``pixel_size``).
    origin : {"corner", "centre"}, optional
        With ``columns``: where the file puts a pixel's centre. ``corner``: pixel k spans [k, k+1)
        (ThunderSTORM, Deep-STORM; the default for nm and µm); ``centre``: pixel k's centre at k
        (Picasso), shifted by half a pixel (needs the pixel size). Required when x/y are in
        camera pixels, since tools differ there.
    fallback_pixel_size : float, optional
        A pixel size known from elsewhere (the movie's tags), used only when the file cannot be
        read without one and ``pixel_size`` is not given; the report then names
        ``fallback_source`` as the pixel size's source.

    Returns
    -------
    table : pandas.DataFrame
        Canonical table (:mod:`imagesumming.schema`): frames 1-based, x/y in nm from the corner.
    report : ReadReport
        Format, frame base, units, pixel size and its source, rows dropped and why.

    Examples
    --------
    >>> locs, report = read_locs("testdata_locs.hdf5", pixel_size=160)  # doctest: +SKIP
    >>> locs, report = read_locs("oni.csv", columns="frame=Frame,x=X (nm),y=Y (nm)", frame_base=0)  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
    """
    if fallback_pixel_size is not None and pixel_size is None:
        how = dict(format=format, frame_base=frame_base, columns=columns, unit=unit, origin=origin)
        try:
            return read_locs(path, **how)
        except InputError:  # e.g. camera pixels without metadata: a pixel size known elsewhere reads it
            table, report = read_locs(path, fallback_pixel_size, **how)
            report.pixel_size_source = fallback_source or "given by the caller"
            return table, report
    if isinstance(path, LocsFile):
        format = path.format if format == "auto" else format
        frame_base = path.frame_base if frame_base is None else frame_base
        columns = path.columns if columns is None else columns
        unit = path.unit if unit is None else unit
        origin = path.origin if origin is None else origin
        path = path.path
    path = check_input_file(path)
    fmt = normalize_format(format)
    if columns is not None:
        columns = parse_columns(columns)
        if fmt not in ("auto", "mapped-csv"):
            raise InputError(f"--columns describes the file itself: it cannot be combined with format {fmt}", path)
        fmt = "mapped-csv"
    elif fmt == "mapped-csv":
        raise InputError("format mapped-csv needs the column mapping", path, hint="give it with {columns}")
    if unit is not None:
        unit = _check_unit(unit)
    if origin is not None:
        origin = _check_origin(origin)
        if fmt != "mapped-csv":
            raise InputError("its format fixes where a pixel's centre lies (an origin of its own)", path,
                             hint="{origin} describes only a csv read with a column mapping ({columns})")
    if frame_base is not None:
        if isinstance(frame_base, bool) or frame_base not in (0, 1):
            raise InputError(f"frame base must be 0 or 1, not {clip(frame_base, 20)}", path)
        frame_base = int(frame_base)
    if pixel_size is not None:
        pixel_size = check_pixel_size(pixel_size, path)
    with warnings.catch_warnings():
        # numbers beyond any frame or int64 are refused below; numpy must not print about them first
        warnings.simplefilter("ignore", RuntimeWarning)
        if fmt == "mapped-csv" and _is_hdf5(path):
            raise InputError("a column mapping describes a csv file; this is an HDF5 file (Picasso hdf5 is read "
                             "without one)", path)
        if fmt == "auto" and _is_hdf5(path):
            fmt = "picasso-hdf5"
        if fmt == "picasso-hdf5":
            if unit not in (None, "px", "pixel"):
                raise InputError(f"Picasso hdf5 stores camera pixels: unit {unit} does not apply", path)
            return _read_picasso_hdf5(path, pixel_size, frame_base)
        if path.suffix.lower() in (".hdf5", ".h5"):
            raise InputError("has an .hdf5 name but is not an HDF5 file (corrupt or truncated?)", path)
        return _read_csv(path, fmt, pixel_size, frame_base, columns, unit, origin)


def _metadata_json_docs(meta_json) -> list[dict]:
    """Documents of Picasso 0.11's ``/metadata`` JSON dataset (a dict or a list of dicts)."""
    try:
        if isinstance(meta_json, np.ndarray):
            meta_json = meta_json.item() if meta_json.size == 1 else None
        if isinstance(meta_json, bytes):
            meta_json = meta_json.decode("utf-8")
        meta = json.loads(str(meta_json))
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError):
        return []
    docs = meta if isinstance(meta, list) else [meta]
    return [d for d in docs if isinstance(d, dict)]


def _read_picasso_hdf5(path: Path, pixel_size, frame_base):
    import h5py

    docs, source = [], None
    yml = _sidecar_yaml(path)
    notes = []
    if yml.exists():
        docs = read_picasso_yaml(yml)
        source = f"yaml {yml.name}"
        if _yaml_text(yml)[1] != "utf-8":
            notes.append(f"{yml.name} is not UTF-8: read as cp1252 (as Picasso on Windows writes it)")
    try:
        with h5py.File(path, "r") as f:
            if "locs" not in f:
                raise InputError(f"HDF5 file has no '/locs' dataset (found {clip(list(f.keys())[:5], 60)})", path)
            ds = f["locs"]
            if not isinstance(ds, h5py.Dataset):
                raise InputError("'/locs' is a group, not a table dataset", path)
            locs = ds[...]
            # Picasso 0.11 embeds the metadata as JSON and may omit the yaml. Read only when
            # needed: HDF5 can hang on a damaged heap of a variable-length string.
            need_json = "metadata" in f and picasso_pixel_size(docs, yml) is None
            meta_json = f["metadata"][()] if need_json else None
    except InputError:
        raise
    except Exception as exc:  # h5py raises OSError, RuntimeError, KeyError, ... for damaged files
        raise InputError(f"cannot read HDF5 file, corrupt or truncated? ({type(exc).__name__}: "
                         f"{clip(exc, 80)})", path) from None
    if locs.dtype.names is None or locs.ndim != 1:
        raise InputError("'/locs' is not a compound (table) dataset", path)
    missing = [c for c in ("frame", "x", "y") if c not in locs.dtype.names]
    if missing:
        raise InputError(f"'/locs' lacks field(s) {missing}", path)

    meta_source = yml
    if meta_json is not None:
        meta_docs = _metadata_json_docs(meta_json)
        if meta_docs:
            docs, source, meta_source = meta_docs, "hdf5 /metadata", f"{path} /metadata"
    file_ps = picasso_pixel_size(docs, meta_source)
    metadata = _picasso_metadata(docs, meta_source)
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
                        rows_read=len(locs), metadata=metadata, notes=notes)
    fields = {n: locs[n] for n in locs.dtype.names}
    placeholders = _lookup(docs, _PLACEHOLDER_KEY) or []
    if not isinstance(placeholders, list):
        placeholders = []
    table = _picasso_table(fields, ps, report, path, frame_base, placeholders=placeholders)
    csv2hdf = _csv2hdf_note(docs, ps)
    if csv2hdf:
        report.notes.append(csv2hdf)
        log.warning("%s: %s", path, csv2hdf)
    return table, report


def _numeric(values, name, path) -> np.ndarray:
    """A field or column as float64; text or booleans are refused (one line naming the column)."""
    values = np.asarray(values)
    if values.dtype.kind in "iuf":
        return values.astype(np.float64)
    raise InputError(f"column {clip(name, 30)} is not numeric (dtype {values.dtype})", path)


def _picasso_table(fields: dict, ps: float, report: ReadReport, path, frame_base, placeholders=()) -> pd.DataFrame:
    """Picasso fields (frame 0-based, camera pixels, pixel centre at integers) as the canonical table."""
    if placeholders:  # fields our writer filled with placeholders: not data
        report.notes.append(f"fields {list(placeholders)} hold only placeholders (no data) and were left out")
    data = {"frame": _file_frames(fields["frame"], "frame", report, path, frame_base)}
    data["x"] = (_numeric(fields["x"], "x", path) + 0.5) * ps
    data["y"] = (_numeric(fields["y"], "y", path) + 0.5) * ps
    renamed = {"x": "x", "y": "y", "frame": "frame"}
    px_fields = {"sx": "sigma_x", "sy": "sigma_y", "lpx": "uncertainty_x", "lpy": "uncertainty_y"}
    renamed.update((f, None) for f in placeholders)
    for src, dst in px_fields.items():
        if src in fields and src not in placeholders:
            data[dst] = _numeric(fields[src], src, path) * ps
            renamed[src] = dst
    if "sigma_x" in data and "sigma_y" in data:
        data["sigma"] = (data["sigma_x"] + data["sigma_y"]) / 2
    if "uncertainty_x" in data and "uncertainty_y" in data:
        data["uncertainty"] = np.sqrt((data["uncertainty_x"] ** 2 + data["uncertainty_y"] ** 2) / 2)
    for src, dst in (("photons", "photons"), ("bg", "bg"), ("z", "z")):  # z is in nm in Picasso
        if src in fields and src not in placeholders:
            data[dst] = _numeric(fields[src], src, path)
            renamed[src] = dst
    extras = [n for n in fields if n not in renamed and np.ndim(fields[n]) == 1]
    for n in extras:
        numeric = np.asarray(fields[n]).dtype.kind in "iuf"
        data[_extra_name(n, data, canonical_ok=numeric)] = np.array(fields[n], copy=True)
    report.renamed = {k: v for k, v in renamed.items() if k != v and v is not None}
    report.extra_columns = extras
    return _finish(data, report)


def _file_frames(values, label, report: ReadReport, path, frame_base) -> np.ndarray:
    """Frame numbers of a file as 1-based float64 (NaN kept: dropped and counted later).

    One rule for every format: frames are exact whole numbers from 0 to MAX_FRAME; the base is
    the format's (``report.frame_base``) unless ``frame_base`` is given; a frame 0 in a 1-based
    file is refused with its row count rather than shifting the whole file.
    """
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        if values.size and (values.max() > MAX_FRAME or values.min() < -MAX_FRAME):
            big = values.max() if values.max() > MAX_FRAME else values.min()
            raise InputError(f"frame number {big} in column {clip(label, 20)} is beyond any movie "
                             f"(at most {MAX_FRAME}): damaged file?", path)
        frames = values.astype(np.float64)
    elif values.dtype.kind == "f":
        frames = values.astype(np.float64)
        finite = np.isfinite(frames)
        vals = frames[finite]
        big = np.abs(vals) > MAX_FRAME
        if big.any():
            raise InputError(f"frame number {vals[big][0]:.6g} in column {clip(label, 20)} is beyond any movie "
                             f"(at most {MAX_FRAME}): damaged file?", path)
        inf = np.isinf(frames)
        if inf.any():
            raise InputError(f"{int(inf.sum())} frame number(s) are infinite in column {clip(label, 20)}", path)
        frac = vals != np.floor(vals)
        if frac.any():
            raise InputError(
                f"{int(frac.sum())} frame number(s) are not whole numbers (e.g. {float(vals[frac][0]):.10g}): frames must be "
                "exact whole numbers (a molecule map's mean frames are not frames)", path)
    else:
        raise InputError(f"column {clip(label, 20)} (frames) is not numeric (dtype {values.dtype})", path)
    if frame_base is not None and frame_base != report.frame_base:
        report.notes.append(f"frame base overridden by the caller: file read as {frame_base}-based (the format's "
                            f"own is {report.frame_base}-based)")
        report.frame_base = frame_base
    base = report.frame_base
    with np.errstate(invalid="ignore"):
        below = frames < base
    if below.any():
        n, total = int(below.sum()), len(frames)
        fmt = _FORMAT_NAMES.get(report.format, report.format)
        if base == 1 and (frames[below] == 0).all():
            raise InputError(f"{n} of {total} localization(s) are in frame 0, but {fmt} frames start at 1", path,
                             hint="if the whole file counts frames from 0, read it with {frame_base} 0; "
                                  "otherwise remove those rows")
        raise InputError(f"{n} of {total} localization(s) have frame numbers below the first frame "
                         f"({base}, {base}-based {fmt})", path)
    return frames + (1 - base)


def _read_table(path: Path, layout, nrows=None, drop_index: bool = False) -> pd.DataFrame:
    """The csv's rows as a DataFrame named by the header labels (structure already checked).

    ``drop_index``: leave out the first column (an unnamed index, which writers renumber) unparsed.
    """
    labels = layout.labels
    dup = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dup:
        raise InputError(f"column label(s) {clip(', '.join(map(repr, dup)), 60)} appear more than once", path)
    names = [lab if lab else f"_unnamed_{i}" for i, lab in enumerate(labels)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            source = path
            if layout.data_end is not None:  # the table ends before a metadata trailer (Zeiss Elyra)
                with open(path, "rb") as fh:
                    source = io.BytesIO(fh.read(layout.data_end))
            options = dict(sep=layout.delimiter, index_col=False, keep_default_na=False, na_values=_NA,
                           encoding="utf-8-sig", nrows=nrows, skip_blank_lines=True,
                           usecols=range(1, len(labels)) if drop_index else None)
            raw = None
            if not layout.header_trailing:  # pandas parses the header itself faster than it skips it
                raw = pd.read_csv(source, header=0, **options)
                if len(raw.columns) != len(labels) - drop_index:
                    raw = None
                    if isinstance(source, io.BytesIO):
                        source.seek(0)
            if raw is None:
                raw = pd.read_csv(source, header=None, skiprows=1, names=names, **options)
    except pd.errors.EmptyDataError:
        raw = pd.DataFrame({n: [] for n in names[drop_index:]})
    except (pd.errors.ParserError, pd.errors.ParserWarning, UnicodeDecodeError, ValueError, OverflowError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            raise InputError("not UTF-8 text (e.g. a latin-1 or cp1252 file): save it as UTF-8", path) from None
        raise InputError(f"cannot parse csv ({clip(str(exc).splitlines()[0] if str(exc) else exc, 100)})",
                         path) from None
    raw.columns = labels[drop_index:]
    return raw


def _column_numbers(column: pd.Series, label, path) -> np.ndarray:
    if column.dtype.kind in "iuf":  # parsed as numbers: no text to find
        return column.to_numpy(dtype=np.float64) if column.dtype.kind != "u" else column.to_numpy()
    if column.dtype.kind == "b":
        raise InputError(f"column {clip(label, 30)} holds True/False, not numbers", path)
    numbers = pd.to_numeric(column, errors="coerce")
    bad_text = column.notna() & numbers.isna()
    if bad_text.any():
        example = column[bad_text].iloc[0]
        hint = ""
        if re.fullmatch(r"\s*[-+]?\d+,\d+\s*", str(example)):
            hint = ": decimal commas? save the file with '.' as the decimal point"
        elif re.fullmatch(r"\s*[-+]?\d{1,3}([,'\u00a0 ]\d{3})+(\.\d*)?\s*", str(example)):
            hint = ": thousands separators? save the numbers without them"
        raise InputError(f"column {clip(label, 30)} has {int(bad_text.sum())} value(s) that are not numbers "
                         f"(e.g. {clip(example, 20)}){hint}", path)
    out = numbers.to_numpy()
    if out.dtype.kind in "iu":
        return out
    out = out.astype(np.float64)
    out[np.isinf(out)] = np.nan  # as read_csv does: infinite values are missing values
    return out


def _read_csv(path: Path, fmt: str, pixel_size, frame_base, columns, unit, origin=None):
    layout = read_layout(path)
    trailing = check_rows(path, layout)
    labels = layout.labels
    # an unnamed index column (Deep-STORM, pandas) is not read: writers renumber ids
    raw = _read_table(path, layout, drop_index=labels[:1] == [""])
    if fmt == "auto":
        fmt = _detect_csv(path, labels, raw)
    notes = []
    if layout.delimiter != ",":
        notes.append(f"{layout.delimiter_name}-separated")
    if trailing or layout.header_trailing:
        notes.append("rows end with a delimiter (an empty last field): ignored")
    if layout.trailer_line is not None:
        notes.append(f"Zeiss Elyra metadata from line {layout.trailer_line} (after a NUL byte): ignored")
    if layout.unterminated:  # every tool we read ends its files with a line break; a cut-off copy does not
        note = "the last line has no line break: if the file was cut off (a copy or download that stopped), its last row may hold a cut number"
        notes.append(note)
        log.warning("%s: %s", path, note)
    if fmt == "mapped-csv" and frame_base is None:
        raise InputError("a csv described by a column mapping needs its frame base", path,
                         hint="give {frame_base} 0 or 1 (the number the file gives the movie's first frame)")
    report = ReadReport(path=str(path), format=fmt, frame_base=_FRAME_BASE.get(fmt, frame_base), units="nm",
                        rows_read=len(raw), notes=notes,
                        origin="pixel centre" if fmt in ("picasso-csv", "picasso-plain-csv") else "corner")
    if fmt == "picasso-plain-csv":
        return _read_picasso_plain(path, raw, report, pixel_size, frame_base, unit)
    if fmt == "picasso-csv":  # Picasso writes 0 as bkgstd: no data (written back, it would pass for Picasso's)
        zero = [c for c in raw.columns if split_label(c)[0].lower() == "bkgstd"
                and bool((pd.to_numeric(raw[c], errors="coerce") == 0).all())]
        if zero:
            raw = raw.drop(columns=zero)
            notes.append(f"{zero[0]!r} left out: Picasso's export writes 0 there (no data)")

    data, renamed, extras, units = {}, {}, [], set()
    frame_label = "frame"
    if fmt == "mapped-csv":
        missing = [lab for lab in columns.values() if lab not in raw.columns]
        if missing:
            raise InputError(f"--columns names {clip(missing[0], 30)}, which is not a column of the file "
                             f"(columns: {clip(', '.join(raw.columns), 80)})", path)
        keys = {lab: key for key, lab in columns.items()}
    else:
        keys = {}
        for label in raw.columns:
            name = split_label(label)[0].lower()
            key = _CSV_NAMES.get(name)
            if name == "id" or key is None or key in keys.values():
                continue
            keys[label] = key
    no_unit, xy_px = [], False
    for label in raw.columns:
        if fmt != "mapped-csv" and split_label(label)[0].lower() == "id":
            continue  # ids are renumbered by writers
        key = keys.get(label)
        if key is None:
            extras.append(label)
            data[_extra_name(label, set(keys.values()) | set(data))] = raw[label].to_numpy()
            continue
        values = _column_numbers(raw[label], label, path)
        if key == "frame":
            data["frame"], frame_label = values, label
            if label != key:
                renamed[label] = key
            continue
        values = values.astype(np.float64)
        if key in NM_COLUMNS:
            stated = _label_unit(label) if fmt == "mapped-csv" else split_label(label)[1]
            if stated is not None and stated.lower() not in UNITS:
                raise InputError(f"column {clip(label, 30)}: unknown length unit [{clip(stated, 10)}] (expected nm, "
                                 "um or px)", path)
            if stated is not None and unit is not None and UNITS[stated.lower()] != UNITS[unit]:
                raise InputError(f"column {clip(label, 30)} states {stated} but the unit given is {unit}", path)
            u = (stated or unit)
            if u is None:
                no_unit.append(label)
                continue
            u = u.lower()
            factor = UNITS[u]
            if factor is None:
                if pixel_size is None:
                    raise InputError(f"column {clip(label, 30)} is in camera pixels", path,
                                     hint="give the pixel size in nm with {pixel_size}")
                factor = pixel_size
                report.pixel_size, report.pixel_size_source = pixel_size, "given by the caller"
            units.add("px" if UNITS[u] is None else u)
            xy_px = xy_px or (key in ("x", "y") and UNITS[u] is None)
            values = values * factor
        unit_of = split_label(label)[1]
        if key in ("photons", "bg") and unit_of is not None and unit_of.lower() == "adu":
            report.notes.append(f"column {label!r} is in camera counts (ADU), not photons; kept as {key}")
        data[key] = values
        if label != key:
            renamed[label] = key
    if no_unit:
        raise InputError(
            f"column(s) {clip(', '.join(no_unit), 40)} state no unit and the file matches no known layout", path,
            hint="give the unit with {unit} nm, um or px, or name the columns like 'x [nm]'")
    missing = [c for c in REQUIRED if c not in data]
    if missing:
        raise InputError(f"missing column(s) {missing} (found {clip(', '.join(map(str, raw.columns)), 80)})", path)
    if "sigma" not in data and "sigma_x" in data and "sigma_y" in data:  # 3D files: sigma1, sigma2
        data["sigma"] = (data["sigma_x"] + data["sigma_y"]) / 2  # as the Picasso hdf5 reader does
    report.units = "/".join(sorted(units)) or "nm"
    data["frame"] = _file_frames(data["frame"], frame_label, report, path, frame_base)
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
    if fmt == "mapped-csv":
        if origin is None and xy_px:  # Picasso puts a pixel's centre at k, ThunderSTORM at k + 0.5
            raise InputError("x/y in camera pixels: where the file puts a pixel's centre differs between tools",
                             path, hint="say where with {origin}: corner (pixel k spans [k, k+1)) or centre (pixel "
                                        "k's centre at k, as Picasso)")
        spec = ",".join(f"{k}={v}" for k, v in columns.items())
        where = "the image corner (pixel k spans [k, k+1) pixels)"
        if origin == "centre":
            ps = report.pixel_size or pixel_size
            if ps is None:
                raise InputError("pixel centres at integer coordinates (origin centre) are moved by half a pixel",
                                 path, hint="give the pixel size in nm with {pixel_size}")
            report.pixel_size = ps
            report.pixel_size_source = report.pixel_size_source or "given by the caller"
            data["x"] = data["x"] + ps / 2
            data["y"] = data["y"] + ps / 2
            report.origin = "pixel centre"
            where = (f"pixel centres (pixel k's centre at k), shifted by half a pixel ({ps / 2:g} nm) to the corner "
                     "convention")
        report.notes.append(f"columns mapped: {spec}; frames {report.frame_base}-based; coordinates taken from "
                            + where)
    report.renamed, report.extra_columns = renamed, extras
    return _finish(data, report), report  # make_locs copies


def _read_picasso_plain(path: Path, raw: pd.DataFrame, report: ReadReport, pixel_size, frame_base, unit):
    """Picasso's plain csv (hdf2csv, Filter's Export as CSV): the hdf5 fields in camera pixels."""
    if unit not in (None, "px", "pixel"):
        raise InputError(f"Picasso plain csv is in camera pixels (frame, x, y, lpx, lpy): unit {unit} does not "
                         "apply", path)
    report.units = "camera pixels"
    yml = _sidecar_yaml(path)
    docs = []
    if yml.exists():
        docs = read_picasso_yaml(yml)
        report.metadata = _picasso_metadata(docs, yml)
    file_ps = picasso_pixel_size(docs, yml) if docs else None
    if pixel_size is not None:
        ps, report.pixel_size_source = pixel_size, "given by the caller"
        if file_ps is not None and abs(file_ps - pixel_size) > 1e-6:
            log.warning("%s: pixel size %g nm given overrides %g nm in %s", path, pixel_size, file_ps, yml.name)
    elif file_ps is not None:
        ps, report.pixel_size_source = file_ps, f"yaml {yml.name}"
    else:
        raise InputError("Picasso plain csv (frame, x, y, lpx, lpy: camera pixels, pixel centres at integers, "
                         "frames from 0)", path, hint="give the pixel size in nm with {pixel_size}")
    report.pixel_size = ps
    fields = {}
    for label in raw.columns:
        col = raw[label]
        fields[label] = _column_numbers(col, label, path) if label in (
            "frame", "x", "y", "sx", "sy", "lpx", "lpy", "photons", "bg", "z") else col.to_numpy()
    report.notes.append("Picasso plain csv: frames 0-based, x/y in camera pixels from the pixel centre "
                        f"(x_nm = (x + 0.5) x {ps:g})")
    table = _picasso_table(fields, ps, report, path, frame_base)
    note = _csv2hdf_note(docs, ps)
    if note:
        report.notes.append(note)
        log.warning("%s: %s", path, note)
    return table, report


def _extra_name(label, taken, canonical_ok=False) -> str:
    """An extra column's name in the table: its label, unless a column of the table has that name."""
    label = str(label)
    clash = label in taken or (label in CANONICAL and not canonical_ok)
    return f"{label} (file)" if clash else label


def _finish(data: dict, report: ReadReport) -> pd.DataFrame:
    """Drop rows whose frame is missing (reported); keep everything else for validation.

    ``data``: the table's columns, 1-D arrays of one length (make_locs builds the table from them).
    """
    bad = ~np.isfinite(np.asarray(data["frame"], dtype=np.float64))
    if bad.any():
        report.rows_dropped["frame is NaN"] = int(bad.sum())
        log.warning("%s: dropped %d row(s) with no frame number", report.path, int(bad.sum()))
        data = {c: v[~bad] for c, v in data.items()}
    return make_locs(data)


# ---------------------------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------------------------


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    if name in df.columns:
        return df[name].to_numpy(dtype=np.float64)
    return np.full(len(df), np.nan)


#: names a csv of localizations is not written under: another format's (readers go by the name)
_NOT_CSV_NAMES = {".hdf5": "a Picasso hdf5 file", ".h5": "a Picasso hdf5 file", ".tif": "a movie", ".tiff": "a movie",
                  ".raw": "a movie"}


def check_csv_name(path) -> None:
    """Refuse to write a csv under a name another format owns (``x.hdf5``, ``x.tif``)."""
    suffix = Path(path).suffix
    kind = _NOT_CSV_NAMES.get(suffix.lower())
    if kind:
        raise InputError(f"a csv would be written under a {suffix} name, which readers take for {kind}", path,
                         hint="name it .csv")


def write_deepstorm_csv(path, locs: pd.DataFrame, *, force: bool = False) -> Path:
    """Write the csv the ZeroCostDL4Mic Deep-STORM notebook loads as is.

    Header ``,frame,x [nm],y [nm],Photon #,Sigma [nm]``; an unnamed index running 1..N; rows
    sorted by frame (stable); frames 1-based; x/y in nm from the pixel corner. Unknown photons or
    sigma are written as empty fields.
    """
    check_csv_name(path)
    if (np.diff(locs["frame"].to_numpy()) < 0).any():  # a summed set comes in frame order: no copy then
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
        write_columns(tmp, columns)
    return Path(path)


def write_prediction_csv(path, locs: pd.DataFrame, *, force: bool = False) -> Path:
    """Write a Deep-STORM prediction csv: ``frame,x [nm],y [nm],confidence [a.u]`` (no index)."""
    columns = {
        "frame": locs["frame"].to_numpy(dtype=np.int64),
        "x [nm]": _col(locs, "x"),
        "y [nm]": _col(locs, "y"),
        "confidence [a.u]": _col(locs, "confidence"),
    }
    with atomic_path(path, force=force) as tmp:
        write_columns(tmp, columns)
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
    check_csv_name(path)
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
    guessed = [key for key, v in (("Width", width), ("Height", height), ("Frames", frames)) if v is None]
    if width is None:
        width = int(np.floor(locs["x"].max() / pixel_size)) + 1 if n else 1
    if height is None:
        height = int(np.floor(locs["y"].max() / pixel_size)) + 1 if n else 1
    if frames is None:
        frames = int(locs["frame"].max()) if n else 1
    if guessed:  # Picasso renders and filters by these: say that they are only the localizations' extent
        log.warning("%s: %s not known: the yaml gets the localizations' extent (%d x %d px, %d frames), "
                    "which may be smaller than the movie", path, "/".join(guessed), width, height, frames)
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
