"""Property test of movie reading: a tif is read right or refused with one line (issue 10).

Valid tifs are built with tifffile in many layouts (one series, page by page, appended, ImageJ, OME,
BigTIFF, big-endian, compressed, several strips), some with one odd page (another dtype, shape,
two samples per pixel, another compression) or ImageJ channels instead of frames, then damaged
(byte flips, truncation, a page claiming another compression). Every run of
``imagesumming info`` and :func:`open_movie` must either refuse with one line naming the file
(exit 2, :class:`InputError`) or give frames equal to an independent reading of the same bytes;
never a traceback, never a changed input. Unequal pages are always refused; undamaged equal pages
always read back exactly.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from pathlib import Path

import numpy as np
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagesumming.cli import main
from imagesumming.errors import InputError
from imagesumming.io import open_movie

DTYPES = ["uint8", "uint16", "int16", "uint32", "int32", "float32", "float64"]
LAYOUTS = ["imwrite", "pages", "append", "imagej", "ome", "bigtiff", "bigendian", "zlib", "strips"]
MIXES = [None, None, "dtype", "shape", "samples", "compression", "channels"]


def _data(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 1000).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, shape, dtype=dtype)


@st.composite
def movies(draw):
    n = draw(st.integers(1, 5))
    layout = draw(st.sampled_from(LAYOUTS))
    # tifffile's ImageJ and OME writers squeeze 1-px sides ((n, h, 1) becomes one h x n image, or fails)
    side = 2 if layout in ("imagej", "ome") else 1
    h, w = draw(st.integers(side, 9)), draw(st.integers(side, 9))
    dtype = draw(st.sampled_from(["uint8", "uint16", "float32"] if layout == "imagej" else DTYPES))
    mix = draw(st.sampled_from(MIXES))
    if mix in ("dtype", "shape", "channels") and n == 1:
        mix = None  # one page of any dtype or shape is a valid movie; one channel is one frame
    if mix == "channels":  # an ImageJ hyperstack of n channels and no frames
        layout, dtype, h, w = "imagej", "uint16", max(h, 2), max(w, 2)
    elif mix:
        layout = "pages"
    spec = {"n": n, "h": h, "w": w, "dtype": dtype, "layout": layout, "mix": mix,
            "page": draw(st.integers(0, n - 1)), "other": draw(st.sampled_from([d for d in DTYPES if d != dtype])),
            "seed": draw(st.integers(0, 2**16))}
    where = st.integers(0, 2**16).map(lambda i: i / 2**16)
    damage = st.tuples(st.sampled_from(["flip", "flip", "truncate", "codec"]), where, st.integers(1, 255))
    spec["damage"] = draw(st.lists(damage, min_size=1, max_size=3)) if draw(st.integers(0, 2)) else []
    return spec


def _write(path: Path, spec) -> np.ndarray:
    """Write the tif a spec describes; return the frames a reader must give (when not refused)."""
    rng = np.random.default_rng(spec["seed"])
    n, h, w, dtype, layout = spec["n"], spec["h"], spec["w"], spec["dtype"], spec["layout"]
    frames = _data(rng, (n, h, w), dtype)
    kw = {"photometric": "minisblack"}
    if layout == "imwrite":
        tifffile.imwrite(path, frames, **kw)
    elif layout == "imagej":
        tifffile.imwrite(path, frames, imagej=True, metadata={"axes": "CYX" if spec["mix"] == "channels" else "TYX"})
    elif layout == "ome":
        one = n == 1  # tifffile's OME writer drops a leading axis of 1
        tifffile.imwrite(path, frames[0] if one else frames, ome=True, photometric="minisblack",
                         metadata={"axes": "YX" if one else "TYX", "PhysicalSizeX": 0.1})
    elif layout in ("bigtiff", "bigendian", "zlib", "strips"):
        extra = {"bigtiff": {"bigtiff": True}, "bigendian": {"byteorder": ">"}, "zlib": {"compression": "zlib"},
                 "strips": {"rowsperstrip": 2}}[layout]
        tifffile.imwrite(path, frames, **kw, **extra)
    elif layout == "append":
        for frame in frames:
            tifffile.imwrite(path, frame, append=True, **kw)
    else:  # one page at a time, one of them maybe odd
        with tifffile.TiffWriter(path) as tw:
            for i, frame in enumerate(frames):
                page, page_kw = frame, dict(kw, metadata=None)
                if i == spec["page"] and spec["mix"] == "dtype":
                    page = _data(rng, (h, w), spec["other"])
                elif i == spec["page"] and spec["mix"] == "shape":
                    page = _data(rng, (h + 1, w), dtype)
                elif i == spec["page"] and spec["mix"] == "samples":
                    page = _data(rng, (h, w, 2), dtype)
                    page_kw["planarconfig"] = "contig"
                elif i == spec["page"] and spec["mix"] == "compression":
                    page_kw["compression"] = "zlib"
                tw.write(page, **page_kw)
    return frames


CODECS = [5, 7, 32773, 34712, 50000, 12345]  # LZW, JPEG, PackBits, JPEG 2000, Zstandard, none


def _damage(path: Path, damage) -> None:
    raw = bytearray(path.read_bytes())
    for kind, where, value in damage:
        at = min(8 + int(where * (len(raw) - 8)), len(raw) - 1)  # past the 8-byte header, mostly
        if kind == "flip":
            raw[at] ^= value
        elif kind == "truncate":
            del raw[max(at, 1):]
        else:  # one page claims another compression (codecs imagecodecs has, or no codec at all)
            path.write_bytes(bytes(raw))
            try:
                with tifffile.TiffFile(path) as tif:
                    page = tif.pages[int(where * len(tif.pages)) % len(tif.pages)]
                    entry, order = page.tags["Compression"].offset, tif.byteorder
            except Exception:  # noqa: BLE001  (already damaged beyond tifffile)
                continue
            raw[entry + 8:entry + 10] = CODECS[value % len(CODECS)].to_bytes(2, "little" if order == "<" else "big")
    path.write_bytes(bytes(raw))


def _reference(path: Path):
    """An independent reading: every page decoded by tifffile with its own tags (ImageJ's one-IFD
    layout of > 4 GB files: tifffile's ImageJ series); None when tifffile cannot read it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with tifffile.TiffFile(path) as tif:
                if tif.is_imagej and len(tif.pages) == 1 and len(tif.series[0].shape) > 2:
                    return tif.series[0].asarray()
                tif.pages.useframes = False
                return np.concatenate([p.asarray().ravel() for p in tif.pages])
    except Exception:  # noqa: BLE001  (a damaged file tifffile cannot read either)
        return None


def _one_line(text: str, path: Path) -> None:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in text, text


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=movies())
def test_tif_read_right_or_refused(spec):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.tif"
        frames = _write(path, spec)
        _damage(path, spec["damage"])
        before = path.read_bytes()
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["info", str(path)])
        assert rc in (0, 2), (rc, err.getvalue())
        if rc == 2:
            _one_line(err.getvalue(), path)
        unequal = spec["mix"] in ("dtype", "shape", "samples", "channels")
        if not spec["damage"]:
            assert rc == (2 if unequal else 0), (spec, err.getvalue())
            if unequal:
                assert any(w in err.getvalue() for w in ("page", "samples per pixel", "channels and no frames"))
            else:
                assert f"frames: {spec['n']}" in out.getvalue()
        try:
            movie = open_movie(path)
        except InputError as exc:
            _one_line(str(exc), path)
            assert rc == 2
        else:
            with movie:
                assert rc == 0
                read = []
                for i in range(movie.n_frames):
                    try:
                        read.append(np.asarray(movie[i]))
                    except InputError as exc:  # a damaged page found when it is read: one line
                        _one_line(str(exc), path)
                        read = None
                        break
                if read is not None:
                    got = np.stack(read)
                    assert got.shape == movie.shape and got.dtype.newbyteorder("=") == movie.dtype.newbyteorder("=")
                    ref = _reference(path)
                    assert ref is not None, "frames returned that tifffile cannot read"
                    assert got.size == ref.size and ref.dtype.newbyteorder("=") == got.dtype.newbyteorder("=")
                    np.testing.assert_array_equal(got.ravel(), ref.ravel())
                    if not spec["damage"]:
                        np.testing.assert_array_equal(got, frames)
        assert path.read_bytes() == before
