"""Movies: lazy tif and raw reading, tifs the notebook reads (pixel size via Pillow), dtypes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from imagesumming.errors import InputError, OutputExistsError
from imagesumming.io import Movie, TifWriter, as_movie, open_movie, smallest_dtype, write_tif


def _stack(n=5, h=12, w=16, dtype=np.uint16, seed=0):
    return np.random.default_rng(seed).integers(0, 4000, (n, h, w)).astype(dtype)


def notebook_pixel_size(path) -> float:
    """The ZeroCostDL4Mic notebook's reader: Pillow tags XResolution and ResolutionUnit."""
    with Image.open(path) as im:
        tags = im.tag_v2
        xres = float(tags[282])
        unit = tags.get(296)
    if unit == 3:
        return 1e7 / xres
    if unit == 2:
        return 0.025 * 1e9 / xres
    return 1e3 / xres  # anything else is taken as µm


# ---------------------------------------------------------------------------------------------
# writing tifs the notebook reads
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pixel_size", [107.0, 160.0, 13.375, 100 / 3])
@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.int32, np.float32])
def test_written_tif_pixel_size_read_back_with_pillow(tmp_path, pixel_size, dtype):
    path = write_tif(tmp_path / "m.tif", _stack(2, dtype=dtype), pixel_size)
    assert abs(notebook_pixel_size(path) - pixel_size) < 0.01
    with open_movie(path) as m:
        assert m.pixel_size == pytest.approx(pixel_size, rel=1e-9)  # exact rational, any tifffile
        assert m.pixel_size_source == "tif resolution tags (cm)"
        assert m.dtype == np.dtype(dtype)


@pytest.mark.parametrize("n", [3, 4])
@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32])
def test_three_or_four_frames_stay_a_stack(tmp_path, n, dtype):
    data = _stack(n, dtype=dtype)
    path = write_tif(tmp_path / "s.tif", data, 100)
    with Image.open(path) as im:
        assert im.n_frames == n and im.size == (16, 12)
        assert im.mode in ("I;16", "I", "F")
    with tifffile.TiffFile(path) as tif:
        assert tif.series[0].shape == (n, 12, 16)
        assert tif.series[0].axes[-2:] == "YX" and not tif.series[0].axes.endswith("S")
    with TifWriter(tmp_path / "w.tif", pixel_size=100, n_frames=n) as w:
        for frame in data:
            w.write(frame)
    with Image.open(tmp_path / "w.tif") as im:
        assert im.n_frames == n
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "w.tif"), data)
    assert abs(notebook_pixel_size(tmp_path / "w.tif") - 100) < 0.01


def test_tifffile_default_resolution_is_unknown_not_1000_nm(tmp_path):
    tifffile.imwrite(tmp_path / "d.tif", _stack(), photometric="minisblack")
    assert notebook_pixel_size(tmp_path / "d.tif") == pytest.approx(1000)  # the notebook's mistake
    with open_movie(tmp_path / "d.tif") as m:
        assert m.pixel_size is None and m.pixel_size_source is None
    with open_movie(tmp_path / "d.tif", pixel_size=107) as m:
        assert m.pixel_size == 107 and m.pixel_size_source == "given by the caller"


@pytest.mark.parametrize("unit", ["micron", "um", "\\u00B5m"])
def test_imagej_metadata_unit(tmp_path, unit):
    tifffile.imwrite(tmp_path / "ij.tif", _stack(), imagej=True, resolution=(1 / 0.107, 1 / 0.107),
                     metadata={"unit": unit, "axes": "TYX"})
    with open_movie(tmp_path / "ij.tif") as m:
        assert m.shape == (5, 12, 16)
        assert m.pixel_size == pytest.approx(107, abs=1e-6)
        assert m.pixel_size_source == "ImageJ metadata"


def test_ome_physical_size(tmp_path):
    tifffile.imwrite(tmp_path / "o.ome.tif", _stack(), metadata={"axes": "TYX", "PhysicalSizeX": 0.0975,
                                                                  "PhysicalSizeY": 0.0975})
    with open_movie(tmp_path / "o.ome.tif") as m:
        assert m.pixel_size == pytest.approx(97.5)
        assert m.pixel_size_source == "OME metadata"


def test_ome_physical_size_in_nm_and_unknown_unit(tmp_path):
    for unit, expected in (("nm", 97.5), ("parsec", None)):
        path = tmp_path / f"{unit}.ome.tif"
        tifffile.imwrite(path, _stack(), metadata={"axes": "TYX", "PhysicalSizeX": 97.5, "PhysicalSizeXUnit": unit})
        with open_movie(path) as m:
            assert m.pixel_size == (None if expected is None else pytest.approx(expected)), unit


def test_resolution_in_inch(tmp_path):
    # TIFF's own inch unit: 2.54 cm (the notebook's reader takes 2.5 cm, a 1.6 % error)
    tifffile.imwrite(tmp_path / "inch.tif", _stack(), photometric="minisblack",
                     resolution=(2.54e7 / 107, 2.54e7 / 107), resolutionunit="INCH")
    with open_movie(tmp_path / "inch.tif") as m:
        assert m.pixel_size == pytest.approx(107, abs=0.01)  # tifffile 2024 stores a coarser rational
        assert m.pixel_size_source == "tif resolution tags (inch)"
    # 72 or 300 pixels per inch are screen/print defaults, not a microscope's pixel size
    tifffile.imwrite(tmp_path / "dpi.tif", _stack(), photometric="minisblack", resolution=(72, 72),
                     resolutionunit="INCH")
    with open_movie(tmp_path / "dpi.tif") as m:
        assert m.pixel_size is None


def test_imagej_unit_without_resolution_unit_tag(tmp_path):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, _stack(), imagej=True, resolution=(1 / 0.107, 1 / 0.107),
                     metadata={"unit": "um", "axes": "TYX"})
    with tifffile.TiffFile(path) as t:
        entry = t.pages[0].tags["ResolutionUnit"].offset
    raw = bytearray(path.read_bytes())
    raw[entry:entry + 2] = (65000).to_bytes(2, "little" if raw[:2] == b"II" else "big")  # tag gone
    path.write_bytes(bytes(raw))
    with open_movie(path) as m:
        assert m.pixel_size == pytest.approx(107, abs=1e-3) and m.pixel_size_source == "ImageJ metadata"


def test_micromanager_pixel_size_tag(tmp_path):
    import json

    meta = json.dumps({"PixelSizeUm": 0.108, "Camera": "Cam"})
    tifffile.imwrite(tmp_path / "mm.tif", _stack(), photometric="minisblack",
                     extratags=[(51123, "s", 0, meta, True)])
    with open_movie(tmp_path / "mm.tif") as m:
        assert m.pixel_size == pytest.approx(108) and m.pixel_size_source == "Micro-Manager metadata"


def test_write_tif_dtype_never_wraps(tmp_path):
    data = np.array([[[0, 40000]]], dtype=np.int64)
    with pytest.raises(InputError, match="do not fit in int16") as exc:
        write_tif(tmp_path / "o.tif", data, 100, dtype=np.int16)
    assert "o.tif" in str(exc.value)
    assert not (tmp_path / "o.tif").exists() and not list(tmp_path.iterdir())  # no temp file left
    with pytest.raises(InputError, match="NaN"):
        write_tif(tmp_path / "n.tif", np.array([[np.nan, 1.0]]), 100, dtype=np.uint16)
    with pytest.raises(InputError):
        with TifWriter(tmp_path / "w.tif", 100, dtype=np.uint16) as w:
            w.write(np.full((4, 4), 7))
            w.write(np.full((4, 4), -1))
    assert not (tmp_path / "w.tif").exists() and not list(tmp_path.iterdir())
    write_tif(tmp_path / "ok.tif", data, 100, dtype=np.int32)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "ok.tif"), data)


def test_smallest_dtype():
    assert smallest_dtype(0, 65535) == np.uint16
    assert smallest_dtype(-1, 100) == np.int32
    assert smallest_dtype(0, 2**40) == np.int64
    assert smallest_dtype(0, 1, floating=True) == np.float32


def test_existing_output_refused_unless_force(tmp_path):
    path = write_tif(tmp_path / "e.tif", _stack(1), 100)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="exists") as exc:
        write_tif(path, _stack(2), 100)
    assert str(path) in str(exc.value)
    with pytest.raises(OutputExistsError):
        with TifWriter(path, 100) as w:
            w.write(_stack(1)[0])
    assert path.read_bytes() == before
    write_tif(path, _stack(2), 100, force=True)
    assert open_movie(path).n_frames == 2


# ---------------------------------------------------------------------------------------------
# opening movies
# ---------------------------------------------------------------------------------------------


def test_memmapped_tif_reads_frames(tmp_path):
    data = _stack(7)
    path = write_tif(tmp_path / "m.tif", data, 100)
    with open_movie(path) as m:
        assert isinstance(m, Movie) and m.memmapped
        assert m.shape == (7, 12, 16) and len(m) == 7 and m.ndim == 3
        np.testing.assert_array_equal(m[3], data[3])
        np.testing.assert_array_equal(m[-1], data[-1])
        np.testing.assert_array_equal(m[2:5], data[2:5])
        np.testing.assert_array_equal(np.asarray(m), data)
        assert m.nbytes == data.nbytes


def test_two_d_tif_is_one_frame(tmp_path):
    img = _stack(1)[0]
    path = write_tif(tmp_path / "two.tif", img, 100)
    with open_movie(path) as m:
        assert m.shape == (1, 12, 16)
        np.testing.assert_array_equal(m[0], img)
    assert as_movie(img).shape == (1, 12, 16)


def test_bigtiff(tmp_path):
    data = _stack(6)
    tifffile.imwrite(tmp_path / "big.tif", data, bigtiff=True, photometric="minisblack",
                     resolution=(1e7 / 130, 1e7 / 130), resolutionunit="CENTIMETER")
    with tifffile.TiffFile(tmp_path / "big.tif") as tif:
        assert tif.is_bigtiff
    with open_movie(tmp_path / "big.tif") as m:
        assert m.shape == data.shape and m.pixel_size == pytest.approx(130, abs=0.01)
        np.testing.assert_array_equal(m[5], data[5])
    with TifWriter(tmp_path / "w.tif", 130, bigtiff=True) as w:
        for frame in data:
            w.write(frame)
    with open_movie(tmp_path / "w.tif") as m:
        np.testing.assert_array_equal(m[:], data)
    assert notebook_pixel_size(tmp_path / "w.tif") == pytest.approx(130, abs=0.01)  # Pillow reads BigTIFF


def _read_pages_spy(monkeypatch):
    """Count the pages decoded by tifffile."""
    calls = []
    orig = tifffile.TiffPage.asarray

    def spy(self, *a, **k):
        calls.append(self.index)
        return orig(self, *a, **k)

    monkeypatch.setattr(tifffile.TiffPage, "asarray", spy)
    if hasattr(tifffile, "TiffFrame"):
        orig_frame = tifffile.TiffFrame.asarray

        def spy_frame(self, *a, **k):
            calls.append(self.index)
            return orig_frame(self, *a, **k)

        monkeypatch.setattr(tifffile.TiffFrame, "asarray", spy_frame)
    return calls


def test_compressed_tif_read_page_by_page(tmp_path, monkeypatch):
    data = _stack(9)
    tifffile.imwrite(tmp_path / "z.tif", data, compression="zlib", photometric="minisblack")
    with open_movie(tmp_path / "z.tif") as m:
        assert not m.memmapped and m.shape == data.shape
        calls = _read_pages_spy(monkeypatch)
        np.testing.assert_array_equal(m[4], data[4])
        assert set(calls) == {4}  # only the frame asked for is decoded
        np.testing.assert_array_equal(m[[1, 8]], data[[1, 8]])
        np.testing.assert_array_equal(m[2:4, 1:3], data[2:4, 1:3])
        np.testing.assert_array_equal(list(m.iter_frames(6)), data[6:])


def test_tif_written_one_page_at_a_time_with_separate_series(tmp_path):
    data = _stack(6)
    for frame in data:  # like camera software appending page by page
        tifffile.imwrite(tmp_path / "pages.tif", frame, append=True)
    with tifffile.TiffFile(tmp_path / "pages.tif") as tif:
        assert len(tif.series) == 6  # the case to handle: one series per page
    with open_movie(tmp_path / "pages.tif") as m:
        assert m.shape == data.shape
        np.testing.assert_array_equal(m[:], data)
        np.testing.assert_array_equal(m[5], data[5])


@pytest.mark.parametrize("kwargs", [{}, {"compression": "zlib"}, {"imagej": True, "metadata": {"axes": "TYX"}}])
def test_truncated_tif_is_an_error(tmp_path, kwargs):
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, _stack(8), **({"photometric": "minisblack"} | kwargs))
    blob = full.read_bytes()
    with tifffile.TiffFile(full) as tif:  # where the last frame's pixels end
        data_end = tif.pages[-1].dataoffsets[-1] + tif.pages[-1].databytecounts[-1]
    for cut in (len(blob) // 2, data_end - 10):
        bad = tmp_path / "trunc.tif"
        bad.write_bytes(blob[:cut])
        with pytest.raises(InputError, match="truncated|corrupt|not a readable") as exc:
            open_movie(bad)
        assert str(bad) in str(exc.value) and "\n" not in str(exc.value)


def test_not_a_tif(tmp_path):
    bad = tmp_path / "x.tif"
    bad.write_bytes(b"this is not a tif at all")
    with pytest.raises(InputError, match="not a readable tif") as exc:
        open_movie(bad)
    assert str(bad) in str(exc.value)


def test_rgb_tif_refused(tmp_path):
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((8, 8, 3), np.uint8), photometric="rgb")
    with pytest.raises(InputError, match="RGB"):
        open_movie(tmp_path / "rgb.tif")


def test_picasso_raw_movie(tmp_path):
    data = _stack(4, 8, 10)
    data.tofile(tmp_path / "m.raw")
    (tmp_path / "m.yaml").write_text("Byte Order: <\nCamera: Simulation\nCamera.Pixelsize: 130\n"
                                     "Data Type: uint16\nFrames: 4\nHeight: 8\nWidth: 10\n")
    with open_movie(tmp_path / "m.raw") as m:
        assert m.memmapped and m.shape == (4, 8, 10)
        assert m.pixel_size == 130
        np.testing.assert_array_equal(m[2], data[2])
    (tmp_path / "t.raw").write_bytes(data.tobytes()[:100])
    (tmp_path / "t.yaml").write_text((tmp_path / "m.yaml").read_text())
    with pytest.raises(InputError, match="truncated"):
        open_movie(tmp_path / "t.raw")
    (tmp_path / "n.raw").write_bytes(data.tobytes())
    with pytest.raises(InputError, match="n.yaml"):
        open_movie(tmp_path / "n.raw")
    (tmp_path / "n.yaml").write_text("Frames: many\nHeight: 8\nWidth: 10\n")
    with pytest.raises(InputError, match="whole numbers"):
        open_movie(tmp_path / "n.raw")
    (tmp_path / "n.yaml").write_text("Frames: 4\nHeight: 8\nWidth: 10\nData Type: uint17\n")
    with pytest.raises(InputError, match="Data Type"):
        open_movie(tmp_path / "n.raw")


def test_real_picasso_raw_movie(shared_data):
    with open_movie(shared_data / "picasso" / "testdata.raw") as m:
        assert m.shape == (100, 32, 32) and m.dtype == np.uint16
        assert m.memmapped
        assert m.pixel_size == 160 and "testdata.yaml" in m.pixel_size_source
        frame = m[10]
    expected = np.fromfile(shared_data / "picasso" / "testdata.raw", dtype="<u2", count=32 * 32,
                           offset=10 * 32 * 32 * 2).reshape(32, 32)
    np.testing.assert_array_equal(frame, expected)


def test_input_never_modified(tmp_path):
    path = write_tif(tmp_path / "m.tif", _stack(3), 100)
    before = path.read_bytes()
    with open_movie(path) as m:
        with pytest.raises((ValueError, TypeError)):
            m._data[0, 0, 0] = 1  # read-only memmap
        _ = m[0]
    assert path.read_bytes() == before


# ---------------------------------------------------------------------------------------------
# memory: opening a large tif and reading a few frames does not load the file
# ---------------------------------------------------------------------------------------------


def _rss_anon_kb() -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"RssAnon:\s+(\d+) kB", text).group(1))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("contiguous", [True, False])
def test_lazy_read_does_not_load_the_file(tmp_path, contiguous):
    """A ~200 MB tif opened and 10 frames read: RssAnon grows by far less than the file size.

    Memory-mapped pages are file-backed (not in RssAnon); the bound (file size / 4) leaves room
    for allocator noise. ``contiguous=False`` puts an IFD between frames, which forces page-by-page
    reading (as for files written one page at a time by camera software).
    """
    frame_shape, n = (512, 512), 400
    path = tmp_path / "large.tif"
    noise = np.random.default_rng(0).integers(0, 60000, frame_shape, dtype=np.uint16)
    with tifffile.TiffWriter(path) as tw:
        for i in range(n):
            tw.write(np.roll(noise, i, axis=0), photometric="minisblack", contiguous=contiguous,
                     metadata={} if contiguous else None)
    file_size = path.stat().st_size
    before = _rss_anon_kb() * 1024
    with open_movie(path) as m:
        assert m.n_frames == n and m.memmapped == contiguous
        frames = [m[i].copy() for i in range(0, n, n // 10)]
        after = _rss_anon_kb() * 1024
    assert len(frames) == 10
    np.testing.assert_array_equal(frames[1], np.roll(noise, n // 10, axis=0))
    path.unlink()  # do not leave 200 MB in pytest's kept temporary folders
    assert after - before < file_size / 4, (after - before, file_size)


def test_pixel_size_given_by_the_caller_is_checked(tmp_path):
    path = write_tif(tmp_path / "m.tif", _stack(2), 100)
    with open_movie(path, pixel_size=120) as m:
        assert m.pixel_size == 120 and m.pixel_size_source == "given by the caller"
    for bad in (0, -3, float("nan"), "abc"):
        with pytest.raises(InputError, match="pixel size") as exc:
            open_movie(path, pixel_size=bad)
        assert str(path) in str(exc.value)
        with pytest.raises(InputError, match="pixel size"):
            write_tif(tmp_path / "n.tif", _stack(1), bad)
    assert not (tmp_path / "n.tif").exists()
    assert as_movie(_stack(2), pixel_size=99).pixel_size == 99


def test_tifwriter_picks_bigtiff_from_n_frames_and_refuses_overflow(tmp_path, monkeypatch):
    import imagesumming.io.movies as movies

    monkeypatch.setattr(movies, "_CLASSIC_TIFF_LIMIT", 3 * 8 * 8 * 2)  # pretend 3 frames fill 4 GiB
    with TifWriter(tmp_path / "big.tif", 100, n_frames=5) as w:
        for frame in _stack(5, 8, 8):
            w.write(frame)
    with tifffile.TiffFile(tmp_path / "big.tif") as tif:
        assert tif.is_bigtiff and len(tif.pages) == 5
    with pytest.raises(ValueError, match="4 GiB"):
        with TifWriter(tmp_path / "small.tif", 100) as w:  # frame count unknown: classic TIFF
            for frame in _stack(5, 8, 8):
                w.write(frame)
    assert not (tmp_path / "small.tif").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.tif"]


def test_64_bit_data_are_written_in_a_dtype_pillow_opens(tmp_path):
    ints = np.array([[[0, 70000], [-3, 5]]], dtype=np.int64)
    small = np.array([[[0, 60000], [3, 5]]], dtype=np.int64)
    floats = np.array([[[0.5, 1e6], [-2.25, np.nan]]], dtype=np.float64)
    for name, data, expected in (("i", ints, np.int32), ("s", small, np.uint16), ("f", floats, np.float32)):
        path = write_tif(tmp_path / f"{name}.tif", data, 100)
        with Image.open(path) as im:
            assert im.n_frames == 1
        back = tifffile.imread(path)
        assert back.dtype == expected
        np.testing.assert_array_equal(back, data.astype(expected))
        assert abs(notebook_pixel_size(path) - 100) < 0.01
    with pytest.raises(InputError, match="64-bit"):
        write_tif(tmp_path / "huge.tif", np.array([[2**40]], dtype=np.int64), 100)
    with TifWriter(tmp_path / "w.tif", 100) as w:
        w.write(np.full((4, 4), 70000, np.int64))
        w.write(np.full((4, 4), -1.0).astype(np.int64))
    assert tifffile.imread(tmp_path / "w.tif").dtype == np.int32
    with Image.open(tmp_path / "w.tif") as im:
        assert im.n_frames == 2
    with pytest.raises(InputError, match="do not fit"):
        with TifWriter(tmp_path / "x.tif", 100) as w:
            w.write(np.zeros((4, 4), np.int64))
            w.write(np.full((4, 4), 2**40, np.int64))
    assert not (tmp_path / "x.tif").exists()


# ---------------------------------------------------------------------------------------------
# hyperstacks, Micro-Manager OME-TIFF, ImageJ files > 4 GB
# ---------------------------------------------------------------------------------------------


def test_imagej_hyperstack_with_one_movie_axis(tmp_path):
    data = _stack(6).reshape(1, 6, 1, 12, 16)  # frames saved as Z slices, one channel
    tifffile.imwrite(tmp_path / "hz.tif", data, imagej=True, metadata={"axes": "TZCYX"})
    with open_movie(tmp_path / "hz.tif") as m:
        assert m.shape == (6, 12, 16)
        np.testing.assert_array_equal(m[5], data[0, 5, 0])


@pytest.mark.parametrize("shape, expected", [((3, 4, 1), "T=3 x Z=4"), ((5, 1, 2), "several channels")])
def test_imagej_hyperstack_with_two_axes_is_refused(tmp_path, shape, expected):
    data = np.zeros(shape + (8, 9), np.uint16)
    tifffile.imwrite(tmp_path / "h.tif", data, imagej=True, metadata={"axes": "TZCYX"})
    with pytest.raises(InputError, match=expected) as exc:
        open_movie(tmp_path / "h.tif")
    assert str(tmp_path / "h.tif") in str(exc.value) and "\n" not in str(exc.value)


def test_ome_with_several_series_is_refused(tmp_path):
    # Micro-Manager positions: one series each; reading the first only would drop the others
    with tifffile.TiffWriter(tmp_path / "pos.ome.tif", ome=True) as w:
        for _ in range(2):
            w.write(_stack(4), metadata={"axes": "TYX", "PhysicalSizeX": 0.1})
    with pytest.raises(InputError, match="2 image series"):
        open_movie(tmp_path / "pos.ome.tif")


def _micromanager_multifile(folder: Path, data: np.ndarray, per_file: int) -> list[Path]:
    """A Micro-Manager style OME dataset split over files: every file's OME-XML lists all planes,
    each plane found by the UUID and FileName of its file (what MM writes past 4 GB)."""
    import uuid

    n, h, w = data.shape
    names = [f"mm_MMStack_Pos0{'' if k == 0 else f'_{k}'}.ome.tif" for k in range(-(-n // per_file))]
    uuids = [f"urn:uuid:{uuid.uuid4()}" for _ in names]
    planes = "".join(
        f'<TiffData FirstT="{t}" FirstZ="0" FirstC="0" IFD="{t % per_file}" PlaneCount="1">'
        f'<UUID FileName="{names[t // per_file]}">{uuids[t // per_file]}</UUID></TiffData>' for t in range(n))
    paths = []
    for k, name in enumerate(names):
        xml = (f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/'
               f'2016-06" UUID="{uuids[k]}"><Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" '
               f'Type="uint16" SizeX="{w}" SizeY="{h}" SizeC="1" SizeZ="1" SizeT="{n}" PhysicalSizeX="0.108" '
               f'PhysicalSizeY="0.108"><Channel ID="Channel:0:0" SamplesPerPixel="1"/>{planes}</Pixels></Image></OME>')
        tifffile.imwrite(folder / name, data[k * per_file:(k + 1) * per_file], description=xml, metadata=None,
                         photometric="minisblack")
        paths.append(folder / name)
    return paths


def test_micromanager_multifile_ome_reads_every_file(tmp_path):
    data = _stack(7)
    first, second = _micromanager_multifile(tmp_path, data, per_file=4)
    with open_movie(first) as m:
        assert m.shape == (7, 12, 16) and m.pixel_size == pytest.approx(108)
        for i in (0, 3, 4, 6):  # frames of both files
            np.testing.assert_array_equal(m[i], data[i])
    second.unlink()
    with pytest.raises(InputError, match="3 of 7 frames .* missing") as exc:
        open_movie(first)
    assert second.name in str(exc.value) and "\n" not in str(exc.value)


def test_imagej_file_beyond_4gb_layout_one_ifd(tmp_path):
    # ImageJ writes stacks > 4 GB with a single IFD: 'images=N' in the description and the
    # frames contiguous after the first; rebuilt here in small by cutting the IFD chain
    import struct

    data = _stack(7)
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, data, imagej=True, resolution=(1 / 0.16, 1 / 0.16), metadata={"unit": "um", "axes": "TYX"})
    with tifffile.TiffFile(full) as t:
        ifd = t.pages[0].offset
    raw = bytearray(full.read_bytes())
    n_tags = struct.unpack("<H", raw[ifd:ifd + 2])[0]
    raw[ifd + 2 + 12 * n_tags:ifd + 6 + 12 * n_tags] = bytes(4)  # no next IFD
    one = tmp_path / "one_ifd.tif"
    one.write_bytes(bytes(raw))
    with tifffile.TiffFile(one) as t:
        assert len(t.pages) == 1
    with open_movie(one) as m:
        assert m.shape == (7, 12, 16) and m.memmapped and m.pixel_size == pytest.approx(160)
        np.testing.assert_array_equal(m[6], data[6])


# ---------------------------------------------------------------------------------------------
# a movie is a stack of equal pages, or it is refused (issue 10, item 6), through the CLI
# ---------------------------------------------------------------------------------------------


def _cli(capsys, *argv):
    from imagesumming.cli import main

    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _refused(capsys, path, *words, command=("info",)):
    """Run a command on ``path``: exit 2 with one line naming the file and every word."""
    before = Path(path).read_bytes()
    rc, out, err = _cli(capsys, *command[:1], path, *command[1:])
    assert rc == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert Path(path).read_bytes() == before  # input untouched
    return lines[0]


def _write_pages(path, pages, *, append=False, contiguous=False):
    """One page per array: appended as separate series, or written in one TiffWriter."""
    if append:
        for page in pages:
            tifffile.imwrite(path, page, append=True)
        return path
    with tifffile.TiffWriter(path) as tw:
        for page in pages:
            tw.write(page, photometric="minisblack", contiguous=contiguous, metadata={} if contiguous else None)
    return path


@pytest.mark.parametrize("append", [False, True])
def test_pages_of_three_dtypes_are_refused(tmp_path, capsys, append):
    pages = [np.full((8, 9), 7, dt) for dt in (np.uint16, np.float32, np.uint32)]
    path = _write_pages(tmp_path / "mix.tif", pages, append=append)
    line = _refused(capsys, path, "page 2 is float32 9x8 px", "page 1 is uint16 9x8 px", "equal pages")
    assert len(line) < 260


@pytest.mark.parametrize("layout", ["contiguous", "pages", "append"])
def test_sixty_uint16_pages_and_one_float32_are_refused(tmp_path, capsys, layout):
    pages = [np.full((8, 9), i, np.uint16) for i in range(60)] + [np.full((8, 9), 7.75, np.float32)]
    path = tmp_path / "m.tif"
    if layout == "contiguous":  # 60 frames as one tifffile series, then one more page
        with tifffile.TiffWriter(path) as tw:
            tw.write(np.stack(pages[:60]), photometric="minisblack")
            tw.write(pages[60], photometric="minisblack")
    else:
        _write_pages(path, pages, append=layout == "append")
    _refused(capsys, path, "page 61 is float32")
    with pytest.raises(InputError, match="page 61"):
        open_movie(path)


def test_float32_page_inside_uint16_stack_is_not_cast(tmp_path, capsys):
    pages = [np.full((8, 9), i, np.uint16) for i in range(5)]
    pages[2] = np.full((8, 9), 7.75, np.float32)
    for append in (False, True):
        path = _write_pages(tmp_path / f"in{append}.tif", pages, append=append)
        _refused(capsys, path, "page 3 is float32")
        # split would have copied 7.75 as 7 into a uint16 part
        _refused(capsys, path, "page 3", command=("split", "--at", "2", "-o", tmp_path / "parts"))
        assert not (tmp_path / "parts").exists() or not list((tmp_path / "parts").iterdir())


def test_pages_of_two_shapes_are_refused(tmp_path, capsys):
    path = _write_pages(tmp_path / "shapes.tif", [np.zeros((8, 9), np.uint16)] * 3 + [np.zeros((8, 10), np.uint16)])
    _refused(capsys, path, "page 4 is uint16 10x8 px")


@pytest.mark.parametrize("planar", ["contig", "separate"])
def test_one_frame_with_two_samples_per_pixel_is_refused(tmp_path, capsys, planar):
    data = np.arange(2 * 8 * 9, dtype=np.uint16).reshape((8, 9, 2) if planar == "contig" else (2, 8, 9))
    path = tmp_path / f"spp_{planar}.tif"
    tifffile.imwrite(path, data, photometric="minisblack", planarconfig=planar)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 1 and tif.pages[0].samplesperpixel == 2
    _refused(capsys, path, "2 samples per pixel")


def test_channels_only_imagej_hyperstack_is_refused(tmp_path, capsys):
    data = _stack(4)
    tifffile.imwrite(tmp_path / "c4.tif", data, imagej=True, metadata={"axes": "CYX"})
    _refused(capsys, tmp_path / "c4.tif", "4 channels", "axes CYX", "Frames 4")
    # what the refusal asks for: the same pages said to be frames, read as 4 frames
    tifffile.imwrite(tmp_path / "t4.tif", data, imagej=True, metadata={"axes": "TYX"})
    rc, out, _ = _cli(capsys, "info", tmp_path / "t4.tif")
    assert rc == 0 and "frames: 4" in out
    with open_movie(tmp_path / "t4.tif") as m:
        np.testing.assert_array_equal(m[:], data)


def test_split_of_a_one_bit_tif_is_refused(tmp_path, capsys):
    bits = np.random.default_rng(0).integers(0, 2, (4, 8, 9)).astype(bool)
    tifffile.imwrite(tmp_path / "bits.tif", bits, photometric="minisblack")
    with tifffile.TiffFile(tmp_path / "bits.tif") as tif:
        assert tif.pages[0].bitspersample == 1
    _refused(capsys, tmp_path / "bits.tif", "1-bit", command=("split", "--at", "2", "-o", tmp_path / "out"))
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    _refused(capsys, tmp_path / "bits.tif", "1-bit")


def _set_tag(path, code, value):
    """Overwrite a SHORT tag's value in every page (a file that says it uses another codec)."""
    with tifffile.TiffFile(path) as tif:
        offsets = [p.tags[code].offset for p in tif.pages]
        order = "little" if tif.byteorder == "<" else "big"
    raw = bytearray(Path(path).read_bytes())
    for at in offsets:
        raw[at + 8:at + 10] = value.to_bytes(2, order)
    Path(path).write_bytes(bytes(raw))


@pytest.mark.parametrize("code, name", [(5, "LZW"), (7, "JPEG"), (34712, "JPEG2000")])
def test_compression_that_needs_imagecodecs_says_so(tmp_path, capsys, monkeypatch, code, name):
    import importlib.util

    if importlib.util.find_spec("imagecodecs") is not None:  # emulate a machine without it
        codecs = type(tifffile.TIFF.DECOMPRESSORS)
        lookup = codecs.__getitem__

        def without_imagecodecs(self, key):
            if key not in (1, 8, 32946):
                raise KeyError(f"<COMPRESSION.{name}: {key}> requires the 'imagecodecs' package")
            return lookup(self, key)

        monkeypatch.setattr(codecs, "__getitem__", without_imagecodecs)
    path = tmp_path / f"{name}.tif"
    tifffile.imwrite(path, _stack(3), photometric="minisblack")
    _set_tag(path, 259, code)
    line = _refused(capsys, path, f"{name} compression", "pip install imagecodecs")
    assert "corrupt" not in line


@pytest.mark.parametrize("kind", ["empty array", "header only", "no pages"])
def test_zero_frame_tif_says_it_holds_no_frames(tmp_path, capsys, kind):
    path = tmp_path / "zero.tif"
    if kind == "empty array":
        with pytest.warns(UserWarning):
            tifffile.imwrite(path, np.zeros((0, 8, 9), np.uint16), photometric="minisblack")
    elif kind == "header only":
        path.write_bytes(b"II*\x00\x00\x00\x00\x00")
    else:
        path.write_bytes(b"MM\x00*\x00\x00\x00\x00")
    _refused(capsys, path, "holds no frames")


@pytest.mark.parametrize("contiguous", [True, False])
def test_checking_the_pages_decodes_no_pixel_data(tmp_path, monkeypatch, contiguous):
    data = _stack(40, 8, 9)
    path = _write_pages(tmp_path / "m.tif", list(data), contiguous=contiguous)
    calls = _read_pages_spy(monkeypatch)
    with open_movie(path) as m:
        assert m.memmapped == contiguous and m.shape == data.shape
        # page-by-page movies decode their last page once (a truncation check), nothing else
        assert calls == ([] if contiguous else [39])
        np.testing.assert_array_equal(m[17], data[17])
