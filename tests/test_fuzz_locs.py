"""Fuzz test (issue 10): mutated localization files are read right or refused, never anything else.

Valid csv files of every supported layout and Picasso hdf5 + yaml pairs are written by hand here
(not with the package's writers), then mutated: byte flips, insertions, deletions, truncation,
other delimiters, trailing delimiters, quoting, encodings, units, frame values and dtypes. Each
mutated input goes through ``imagesumming convert`` (to a Deep-STORM csv, invalid rows kept) and
every run must either

* refuse: exit 2 with one error line and nothing written, or
* give numbers equal to an independent reading of the same bytes: this file's own parser (the
  csv module, h5py, yaml) applying the conventions README documents (encoding, delimiter, row
  shape, format detection, units, frame base, half-pixel shift, whole frames).

In every case: no traceback, no Python warning, no hang (a 10 s alarm), inputs unchanged (hashed).
An unmutated input must be read (so that "refuse everything" cannot pass).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import re
import signal
import tempfile
import warnings
from pathlib import Path

import h5py
import numpy as np
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from imagesumming.cli import main

PS = 100.0  # pixel size given for csv files (needed for Picasso's csv layouts and [px] columns)
MAX_FRAME = 2**31 - 1
MAP = "frame=Frame,x=X (nm),y=Y (nm)"
_FUZZ = settings(max_examples=70, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------------------------------------
# running the CLI
# ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _alarm(seconds: int):
    def hang(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")
    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _hashes(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def convert(folder: Path, src: Path, *extra):
    """Run ``convert SRC -o out.csv --keep-invalid``: (rows of the output or None if refused)."""
    out = folder / "out" / "o.csv"
    out.parent.mkdir()
    before = _hashes(folder)
    stderr = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr), \
            contextlib.redirect_stdout(io.StringIO()), _alarm(10):
        warnings.simplefilter("always")
        code = main(["convert", str(src), "-o", str(out), "--keep-invalid", *map(str, extra)])
    assert not caught, [str(w.message) for w in caught]
    assert _hashes(folder) == before, "an input was changed"
    errors = [ln for ln in stderr.getvalue().splitlines() if ": error: " in ln]
    if code != 0:
        assert code == 2, stderr.getvalue()
        assert len(errors) == 1, stderr.getvalue()
        assert "Traceback" not in stderr.getvalue()
        assert not out.exists()
        return None
    assert not errors
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:4] == ["", "frame", "x [nm]", "y [nm]"]
    num = lambda v: float(v) if v else math.nan  # noqa: E731
    return [(int(r[1]), num(r[2]), num(r[3])) for r in rows[1:]]


def same(got, want):
    assert got is not None and want is not None
    assert len(got) == len(want), (got, want)
    for (f1, x1, y1), (f2, x2, y2) in zip(got, want):
        assert f1 == f2, (got, want)
        for a, b in ((x1, x2), (y1, y2)):
            assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9), (got, want)


def check(got, want):
    """The property: refused, or the same numbers as the independent reading."""
    event("refused" if got is None else "read")
    if got is None:
        return
    assert want is not None, f"read although the rules say refuse: {got}"
    same(got, want)


# ---------------------------------------------------------------------------------------------
# the independent csv reading (README's Conventions, implemented with the csv module)
# ---------------------------------------------------------------------------------------------

_NA = {"", "NaN", "nan", "-nan", "NA", "Infinity", "-Infinity", "inf", "-inf"}
_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_UNITS = {"nm": 1.0, "um": 1000.0, "µm": 1000.0, "μm": 1000.0, "micron": 1000.0, "px": PS, "pixel": PS}
_NAMES = {"frame": "frame", "x": "x", "y": "y", "z": "z", "photon #": "photons", "photons": "photons",
          "intensity": "photons", "sigma": "sigma", "sigma1": "sigma_x", "sigma2": "sigma_y",
          "uncertainty_xy": "uncertainty", "uncertainty": "uncertainty", "offset": "bg", "bg": "bg",
          "background": "bg", "confidence": "confidence"}
_LENGTHS = {"x", "y", "z", "sigma", "sigma_x", "sigma_y", "uncertainty"}
_PICASSO_NUMERIC = ("frame", "x", "y", "sx", "sy", "lpx", "lpy", "photons", "bg", "z")


class Refuse(Exception):
    pass


def number(text: str) -> float:
    if text in _NA:
        return math.nan
    t = text.strip(" \t")
    if not _NUM.match(t):
        raise Refuse(f"not a number: {text!r}")
    v = float(t)
    return math.nan if math.isinf(v) else v


def split_label(label):
    m = re.match(r"^\s*(.*?)\s*(?:\[([^\]]*)\])?\s*$", label)
    return m.group(1), (m.group(2).strip() if m.group(2) is not None else None)


def read_rows(data: bytes):
    """Labels and rows by the text rules: UTF-8, no NUL or lone CR, one delimiter, rows of the header's shape."""
    if b"\x00" in data or re.search(rb"\r(?!\n)", data):
        raise Refuse("NUL or lone CR")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refuse("not UTF-8") from None
    header, _, rest = text.partition("\n")
    header = header.rstrip("\r\n")
    if not header.strip() or header.lstrip().startswith("# <localizations"):
        raise Refuse("no header")
    cands = {}
    for d in (",", "\t", ";"):
        try:
            fields = next(csv.reader([header], delimiter=d, strict=True))
        except csv.Error:
            continue
        if len(fields) > 1:
            cands[d] = fields
    if len(cands) != 1:
        raise Refuse("delimiter")
    delim, fields = next(iter(cands.items()))
    labels = [f.strip() for f in fields]
    if len(labels) > 2 and labels[-1] == "":
        labels = labels[:-1]
    if len(set(labels)) < len(labels):
        raise Refuse("duplicate labels")
    n = len(labels)
    rows = []
    try:
        for row in csv.reader(io.StringIO(rest, newline=""), delimiter=delim, strict=True):
            if not row:
                continue
            if any("\n" in f or "\r" in f for f in row):
                raise Refuse("line break in a field")
            if len(row) == n + 1 and row[-1] == "":
                row = row[:-1]
            if len(row) != n:
                raise Refuse("row shape")
            rows.append(row)
    except csv.Error:
        raise Refuse("csv syntax") from None
    return labels, rows


def frames_1based(values, base):
    out = []
    for v in values:
        if math.isnan(v):
            out.append(None)  # dropped (reported)
            continue
        if abs(v) > MAX_FRAME or v != math.floor(v):
            raise Refuse("frame")
        if v < base:
            raise Refuse("frame below the first")
        out.append(int(v) + 1 - base)
    return out


def independent_csv(data: bytes, mapped: bool):
    """(frame, x, y) rows sorted by frame, or None when the documented rules refuse the file."""
    try:
        labels, rows = read_rows(data)
        cols = {lab: [r[i] for r in rows] for i, lab in enumerate(labels)}
        if mapped:
            if not all(lab in cols for lab in ("Frame", "X (nm)", "Y (nm)")):
                raise Refuse("mapped column missing")
            f = frames_1based([number(v) for v in cols["Frame"]], 0)
            x = [number(v) for v in cols["X (nm)"]]
            y = [number(v) for v in cols["Y (nm)"]]
            return _sorted(f, x, y)
        names = [split_label(lab)[0].lower() for lab in labels]
        body = labels[1:] if labels[0] == "" else labels
        if all(k in body for k in ("frame", "x", "y", "lpx", "lpy")):
            fields = {lab: v for lab, v in cols.items() if lab != "" or labels[0] != ""}
            for k in _PICASSO_NUMERIC:
                if k in fields:
                    fields[k] = [number(v) for v in fields[k]]
            f = frames_1based(fields["frame"], 0)
            return _sorted(f, [(v + 0.5) * PS for v in fields["x"]], [(v + 0.5) * PS for v in fields["y"]])
        if "confidence" in names and "id" not in names and names[0] != "":
            fmt = "prediction"
        elif names[0] == "":
            fmt = "deepstorm"
        elif "id" in names:
            def coerce(v):
                try:
                    return number(v)
                except Refuse:
                    return math.nan
            ids = [coerce(v) for v in cols[labels[names.index("id")]]]
            ids = [v for v in ids if not math.isnan(v)]
            bk = [coerce(v) for v in cols[labels[names.index("bkgstd")]]] if "bkgstd" in names else None
            fmt = "picasso-csv" if ids and min(ids) == 0 and bk is not None and all(v == 0 for v in bk) \
                else "thunderstorm"
        elif {"frame", "x", "y"} <= set(names):
            fmt = "thunderstorm"
        else:
            raise Refuse("unknown layout")
        start = 1 if names[0] == "" else 0
        data_cols = {}
        for lab, name in zip(labels[start:], names[start:]):
            key = _NAMES.get(name)
            if name == "id" or key is None or key in data_cols:
                continue
            values = [number(v) for v in cols[lab]]
            if key in _LENGTHS:
                unit = split_label(lab)[1]
                if unit is None or unit.lower() not in _UNITS:
                    raise Refuse("unit")
                values = [v * _UNITS[unit.lower()] for v in values]
            data_cols[key] = values
        if not {"frame", "x", "y"} <= set(data_cols):
            raise Refuse("missing column")
        base = 0 if fmt == "picasso-csv" else 1
        f = frames_1based(data_cols["frame"], base)
        shift = PS / 2 if fmt == "picasso-csv" else 0.0
        return _sorted(f, [v + shift for v in data_cols["x"]], [v + shift for v in data_cols["y"]])
    except Refuse:
        return None


def _sorted(f, x, y):
    kept = [(fr, a, b) for fr, a, b in zip(f, x, y) if fr is not None]
    return sorted(kept, key=lambda r: r[0])  # stable, as the writer sorts


# ---------------------------------------------------------------------------------------------
# valid csv files, written by hand, and their mutations
# ---------------------------------------------------------------------------------------------

LAYOUTS = ("deepstorm", "thunderstorm", "picasso-csv", "picasso-hdf2csv", "picasso-filter", "prediction", "oni")


@st.composite
def localizations(draw):
    n = draw(st.integers(1, 5))
    frames = draw(st.lists(st.integers(1, 40), min_size=n, max_size=n))
    xy = st.floats(0, 6000, allow_nan=False).map(lambda v: round(v, 3))
    return frames, draw(st.lists(xy, min_size=n, max_size=n)), draw(st.lists(xy, min_size=n, max_size=n))


def write_layout(layout: str, frames, xs, ys) -> str:
    """A valid file of ``layout`` holding the 1-based frames and nm positions (corner convention)."""
    rows = list(zip(frames, xs, ys))
    if layout == "deepstorm":
        head = ",frame,x [nm],y [nm],Photon #,Sigma [nm]"
        body = [f"{i + 1},{f},{x!r},{y!r},1000.0,130.0" for i, (f, x, y) in enumerate(rows)]
    elif layout == "thunderstorm":
        head = '"id","frame","x [nm]","y [nm]","sigma [nm]","intensity [photon]","offset [photon]",' \
               '"bkgstd [photon]","uncertainty_xy [nm]"'
        body = [f"{i + 1},{f},{x!r},{y!r},130.0,1000.0,10.0,4.5,8.0" for i, (f, x, y) in enumerate(rows)]
    elif layout == "picasso-csv":
        head = "id,frame,x [nm],y [nm],sigma [nm],intensity [photon],offset [photon],bkgstd [photon]," \
               "uncertainty_xy [nm]"
        body = [f"{i},{f - 1},{x - PS / 2!r},{y - PS / 2!r},130.0,1000,10,0,8.0" for i, (f, x, y) in enumerate(rows)]
    elif layout in ("picasso-hdf2csv", "picasso-filter"):
        head = "frame,x,y,photons,sx,sy,bg,lpx,lpy,ellipticity,net_gradient"
        body = [f"{f - 1},{x / PS - 0.5!r},{y / PS - 0.5!r},1000.0,1.3,1.3,10.0,0.08,0.08,0.0,2000.0"
                for f, x, y in rows]
        if layout == "picasso-hdf2csv":
            head = "," + head
            body = [f"{i},{b}" for i, b in enumerate(body)]
    elif layout == "prediction":
        head = "frame,x [nm],y [nm],confidence [a.u]"
        body = [f"{f},{x!r},{y!r},0.5" for f, x, y in rows]
    else:  # an ONI Nanoimager-like export, read with --columns
        head = "Channel,Frame,X (nm),Y (nm),Photons,Background"
        body = [f"0,{f - 1},{x!r},{y!r},1000,10" for f, x, y in rows]
    return "\n".join([head] + body) + "\n"


_BYTES = b',;\t"\n\r\x00\xb5.-e09 x[]'


@st.composite
def csv_mutation(draw, text: str) -> bytes:
    data = text.encode()
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "delimiter", "trailing", "quote_all",
                                     "quote_header", "unit", "frame_float", "encoding", "blank_line"]))
        if not data:
            break
        p = draw(st.integers(0, len(data) - 1))
        b = bytes([draw(st.sampled_from(list(_BYTES)))])
        if kind == "flip":
            data = data[:p] + b + data[p + 1:]
        elif kind == "insert":
            data = data[:p] + b + data[p:]
        elif kind == "delete":
            data = data[:p] + data[p + 1:]
        elif kind == "truncate":
            data = data[:p]
        elif kind == "delimiter":
            data = data.replace(b",", draw(st.sampled_from([b"\t", b";"])))
        elif kind == "trailing":
            lines = data.split(b"\n")
            data = b"\n".join([lines[0]] + [ln + b"," if ln and draw(st.booleans()) else ln for ln in lines[1:]])
        elif kind == "quote_all":
            data = b"\n".join(b",".join(b'"' + f + b'"' for f in ln.split(b",")) if ln else ln
                              for ln in data.split(b"\n"))
        elif kind == "quote_header":
            head, _, rest = data.partition(b"\n")
            data = b",".join(b'"' + f.strip(b'"') + b'"' for f in head.split(b",")) + b"\n" + rest
        elif kind == "unit":
            new = draw(st.sampled_from([b"[um]", b"[px]", b"[\xc2\xb5m]", b"", b"[mm]", b"[ nm ]", b"[nm"]))
            data = data.replace(b"[nm]", new, draw(st.integers(1, 3)))
        elif kind == "frame_float":  # the second field of a data row (frame in most layouts) as a float
            lines = data.split(b"\n")
            i = draw(st.integers(1, max(1, len(lines) - 1)))
            if i < len(lines) and lines[i]:
                parts = lines[i].split(b",")
                k = 1 if len(parts) > 1 else 0
                parts[k] = parts[k] + draw(st.sampled_from([b".0", b".5", b"e20", b"0000000000000"]))
                lines[i] = b",".join(parts)
            data = b"\n".join(lines)
        elif kind == "encoding":
            enc = draw(st.sampled_from(["latin-1", "utf-16", "utf-8-sig", "crlf"]))
            try:
                text2 = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if enc == "crlf":
                data = text2.replace("\n", "\r\n").encode()
            else:
                data = text2.replace("[nm]", "[µm]", 1).encode(enc, errors="replace")
        elif kind == "blank_line":
            data = data[:p] + b"\n\n" + data[p:]
    return data


@_FUZZ
@given(st.sampled_from(LAYOUTS), localizations(), st.data())
def test_mutated_csv_is_read_right_or_refused(layout, locs, data):
    text = write_layout(layout, *locs)
    mutated = data.draw(csv_mutation(text))
    mapped = layout == "oni"
    extra = ["--pixel-size", PS] + (["--columns", MAP, "--frame-base", 0] if mapped else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src = folder / ("locs.xls" if b"\t" in mutated[:200] else "locs.csv")
        src.write_bytes(mutated)
        got = convert(folder, src, *extra)
    want = independent_csv(mutated, mapped)
    if mutated == text.encode():  # the unmutated file is read, and right
        assert got is not None and want is not None
        frames, xs, ys = locs
        same(want, sorted(zip(frames, xs, ys), key=lambda r: r[0]))
    check(got, want)


# ---------------------------------------------------------------------------------------------
# Picasso hdf5 + yaml
# ---------------------------------------------------------------------------------------------

class _Loader(yaml.SafeLoader):
    """Unknown tags as plain data (the documented rule: tags are never executed)."""


_Loader.add_multi_constructor("", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
    else loader.construct_sequence(node, deep=True) if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node, deep=True)))


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _yaml_docs(raw: bytes):
    if b"\x00" in raw:
        raise Refuse("NUL in yaml")
    for enc in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Refuse("yaml encoding")
    try:
        docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        raise Refuse("yaml syntax") from None
    return [d for d in docs if isinstance(d, dict)]


def _lookup(docs, key):
    for d in reversed(docs):
        if key in d:
            return d[key]
    return None


def _pixel_size(docs):
    ps = _lookup(docs, "Pixelsize")
    if ps is None:
        ps = _lookup(docs, "Camera.Pixelsize")
    if ps is None:
        for d in reversed(docs):
            if isinstance(d.get("Camera"), dict) and "Pixelsize" in d["Camera"]:
                ps = d["Camera"]["Pixelsize"]
                break
    if ps is None:
        return None
    if not _is_number(ps) or ps <= 0:
        raise Refuse("Pixelsize")
    return float(ps)


def independent_hdf5(h5: Path, yml: Path):
    try:
        docs = _yaml_docs(yml.read_bytes()) if yml.exists() else []
        try:
            with h5py.File(h5, "r") as f:
                rec = f["locs"][...]
                meta = f["metadata"][()] if "metadata" in f else None
        except (OSError, KeyError, RuntimeError, ValueError, TypeError):
            raise Refuse("hdf5") from None
        ps = _pixel_size(docs)
        if ps is None and meta is not None:
            try:
                jd = json.loads(meta.decode() if isinstance(meta, bytes) else str(meta))
                jd = [d for d in (jd if isinstance(jd, list) else [jd]) if isinstance(d, dict)]
            except (ValueError, UnicodeDecodeError):
                jd = []
            if jd:
                docs = jd
                ps = _pixel_size(docs)
        if ps is None:
            raise Refuse("no pixel size")
        for key in ("Width", "Height", "Frames"):
            v = _lookup(docs, key)
            if v is not None and not (_is_number(v) and float(v).is_integer() and 1 <= v <= MAX_FRAME):
                raise Refuse(key)
        if rec.dtype.names is None or not {"frame", "x", "y"} <= set(rec.dtype.names):
            raise Refuse("fields")
        for name in ("frame", "x", "y", "sx", "sy", "lpx", "lpy", "photons", "bg", "z"):
            if name in rec.dtype.names and rec.dtype[name].kind not in "iuf":
                raise Refuse("dtype")
        fr = rec["frame"]
        if fr.dtype.kind in "iu":
            if fr.size and (int(fr.max()) > MAX_FRAME or int(fr.min()) < -MAX_FRAME):
                raise Refuse("frame range")
        frames = frames_1based([float(v) for v in fr.tolist()], 0) if fr.dtype.kind == "f" else \
            frames_1based([float(v) for v in fr.tolist()], 0)
        x = [(float(v) + 0.5) * ps for v in rec["x"].astype(np.float64).tolist()]
        y = [(float(v) + 0.5) * ps for v in rec["y"].astype(np.float64).tolist()]
        return _sorted(frames, x, y)
    except Refuse:
        return None


_BAD_VALUES = {"Pixelsize": ["true", 0, -3, "abc", "[100]", "1e3"],
               "Width": ["abc", "[96]", "1e30", 0, 2.5, "true", "1.0e+30"]}
_BAD_VALUES["Height"] = _BAD_VALUES["Frames"] = _BAD_VALUES["Width"]


@st.composite
def picasso_pair(draw):
    n = draw(st.integers(1, 5))
    fdt = draw(st.sampled_from(["u4"] * 4 + ["i4", "i8", "u8", "f4", "f8", "i2", "?"]))
    xdt = draw(st.sampled_from(["f4"] * 4 + ["f8", "f2", "i4", "S4"]))
    dtype = [("frame", fdt), ("x", xdt), ("y", "f4"), ("photons", "f4"), ("sx", "f4"), ("sy", "f4"),
             ("lpx", "f4"), ("lpy", "f4")]
    rec = np.zeros(n, dtype=dtype)
    special = st.sampled_from([0, 3, 39, 7.5, math.nan, 1e20, -1, 2**31])
    odd = draw(st.integers(0, 3)) == 0  # a quarter of the files have odd frame values
    for i in range(n):
        f = draw(st.one_of(st.integers(0, 39), special) if odd else st.integers(0, 39)) if fdt != "?" \
            else draw(st.booleans())
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                rec["frame"][i] = f
            except (OverflowError, ValueError):
                rec["frame"][i] = 1
        x = draw(st.one_of(st.floats(-1, 60, width=32), st.just(math.nan)))
        rec["x"][i] = np.bytes_(b"1.5") if xdt == "S4" else (0 if xdt == "i4" and not math.isfinite(x) else x)
        rec["y"][i] = draw(st.floats(0, 60, width=32))
    meta = {}
    if draw(st.integers(0, 4)):  # else no Pixelsize in the yaml (the /metadata JSON may have one)
        meta["Pixelsize"] = draw(st.sampled_from([100, 107.5]))
    for key in ("Width", "Height", "Frames"):
        if draw(st.booleans()):
            meta[key] = 64
    if draw(st.booleans()):  # half of the yaml files have one value of the wrong type
        key = draw(st.sampled_from(sorted(_BAD_VALUES)))
        meta[key] = draw(st.sampled_from(_BAD_VALUES[key]))
    lines = [f"{k}: {v}" for k, v in meta.items()]
    if draw(st.booleans()):
        lines.insert(0, "Generated by: Picasso v0.6.2 csv2hdf" if draw(st.booleans()) else "Generated by: Picasso Localize")
    text = ("Camera: Andor \xb5Manager\n" if draw(st.booleans()) else "") + "\n".join(lines) + "\n"
    enc = draw(st.sampled_from(["utf-8", "cp1252"]))
    yml = text.encode(enc)
    json_meta = draw(st.sampled_from([None, '[{"Pixelsize": 107}]', '{"Pixelsize": true}', "not json"]))
    return rec, yml, json_meta


@_FUZZ
@given(picasso_pair(), st.data())
def test_mutated_picasso_hdf5_and_yaml_is_read_right_or_refused(pair, data):
    rec, yml_bytes, json_meta = pair
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        h5, yml = folder / "m_locs.hdf5", folder / "m_locs.yaml"
        with h5py.File(h5, "w") as f:
            ds = f.create_dataset("locs", data=rec)
            offset = ds.id.get_offset()
            if json_meta is not None:
                f.create_dataset("metadata", data=np.bytes_(json_meta.encode()))
        size = h5.stat().st_size
        raw = bytearray(h5.read_bytes())
        kind = data.draw(st.sampled_from(["none", "none", "none", "flip_data", "truncate", "yaml_flip", "yaml_truncate",
                                          "no_yaml"]))
        if kind == "flip_data" and offset is not None:
            for _ in range(data.draw(st.integers(1, 4))):
                p = offset + data.draw(st.integers(0, rec.nbytes - 1))
                raw[p] = data.draw(st.integers(0, 255))
        elif kind == "truncate":
            raw = raw[:data.draw(st.integers(0, size - 1))]
        elif kind == "yaml_flip" and yml_bytes:
            p = data.draw(st.integers(0, len(yml_bytes) - 1))
            yml_bytes = yml_bytes[:p] + bytes([data.draw(st.sampled_from(list(b":-[]{}!&*\n \xb5\x00a1.")))]) \
                + yml_bytes[p + 1:]
        elif kind == "yaml_truncate":
            yml_bytes = yml_bytes[:data.draw(st.integers(0, len(yml_bytes)))]
        h5.write_bytes(bytes(raw))
        if kind != "no_yaml":
            yml.write_bytes(yml_bytes)
        want = independent_hdf5(h5, yml) if kind != "truncate" else None
        got = convert(folder, h5)
    check(got, want)
