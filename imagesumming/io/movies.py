"""Movies in and out: multi-frame tifs (lazy) and Picasso ``.raw`` + yaml; tifs the notebook reads.

A :class:`Movie` is a lazy ``(frames, height, width)`` array-like: memory-mapped when the file
allows it (uncontiguous or compressed tifs are read page by page), so only the frames asked for
are read. Frames are indexed from 0 here (the array index); localization tables count from 1.

Pixel sizes travel in the tif resolution tags: :func:`write_tif` and :class:`TifWriter` write
``ResolutionUnit = centimetre`` and ``X/YResolution = 1e7 / pixel_size_nm`` so that the
ZeroCostDL4Mic notebook (which reads these tags with Pillow) recovers the pixel size.
"""

from __future__ import annotations

import contextlib
import logging
import math
import mmap
import os
import re
import struct
import types
import warnings
from pathlib import Path

import numpy as np

from .._files import atomic_path, check_input_file
from ..errors import InputError
from ..validate import check_pixel_size

__all__ = [
    "Movie",
    "open_movie",
    "as_movie",
    "write_tif",
    "TifWriter",
    "tif_pixel_size",
    "smallest_dtype",
]

log = logging.getLogger("imagesumming")

# tifffile writes classic TIFF up to 4 GiB; leave room for the page headers
_CLASSIC_TIFF_LIMIT = 2**32 - 2**25
# windows per fancy-index gather in Movie.read_windows (bounds the index temporaries)
_WINDOWS_PER_GATHER = 4096
_NM_PER_UNIT = {"nm": 1.0, "nanometer": 1.0, "um": 1e3, "µm": 1e3, "μm": 1e3, "micron": 1e3,
                "microns": 1e3, "micrometer": 1e3, "\\u00b5m": 1e3, "mm": 1e6, "cm": 1e7, "m": 1e9}


class Movie:
    """A lazy ``(frames, height, width)`` movie.

    Use :func:`open_movie` to make one. Index it like an array (``movie[i]`` is frame ``i``,
    0-based; ``movie[a:b]`` a block); only the frames asked for are read.

    Attributes
    ----------
    path : Path or None
    shape : tuple (frames, height, width)
    dtype : numpy.dtype
    pixel_size : float or None
        Camera pixel size in nm, None when unknown.
    pixel_size_source : str or None
        Where the pixel size came from ("tif resolution tags", "ImageJ metadata", "yaml", ...).
    memmapped : bool
    """

    def __init__(self, data=None, *, path=None, pixel_size=None, pixel_size_source=None, reader=None,
                 shape=None, dtype=None, closer=None):
        self.path = None if path is None else Path(path)
        self._data = data
        self._reader = reader
        self._closer = closer
        if data is not None:
            shape, dtype = data.shape, data.dtype
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.pixel_size = None if pixel_size is None else float(pixel_size)
        self.pixel_size_source = pixel_size_source
        self.memmapped = isinstance(data, np.memmap)

    # array-like protocol ------------------------------------------------------------------
    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return 3

    @property
    def n_frames(self) -> int:
        return self.shape[0]

    @property
    def height(self) -> int:
        return self.shape[1]

    @property
    def width(self) -> int:
        return self.shape[2]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __getitem__(self, key):
        if self._data is not None:
            return np.asarray(self._data[key])
        if isinstance(key, tuple):
            first, rest = key[0], key[1:]
        else:
            first, rest = key, ()
        if isinstance(first, (int, np.integer)):
            i = int(first)
            if i < 0:
                i += len(self)
            if not 0 <= i < len(self):
                raise IndexError(f"frame index {first} out of range for {len(self)} frames")
            frame = self._reader(i)
            return frame[rest] if rest else frame
        if isinstance(first, slice):
            idx = range(len(self))[first]
        else:
            first = np.asarray(first)
            if first.dtype == bool:
                first = np.flatnonzero(first)
            idx = [int(i) + len(self) if i < 0 else int(i) for i in first.ravel()]
        block = np.empty((len(idx),) + self.shape[1:], self.dtype)
        for j, i in enumerate(idx):
            block[j] = self._reader(i)
        return block[(slice(None),) + rest] if rest else block

    def __array__(self, dtype=None, copy=None):
        arr = self[:]
        return arr if dtype is None else arr.astype(dtype)

    def read_windows(self, frames, rows, cols, size: int, *, progress=None) -> np.ndarray:
        """Square windows ``movie[frames[i], rows[i]:rows[i]+size, cols[i]:cols[i]+size]``.

        Parameters
        ----------
        frames, rows, cols : array-like of int
            0-based frame index and top-left pixel (row, column) of each window.
        size : int
            Window side in pixels.
        progress : callable, optional
            Called with the number of windows just read, after each step.

        Returns
        -------
        ndarray (n, size, size) of the movie's dtype, in the order given.

        Memory-mapped (array-backed) movies are gathered window by window without reading the
        rest of a frame; other movies (compressed or scattered tifs) are read page by page, each
        needed frame once, in increasing order. Never the whole movie.
        """
        frames, rows, cols = (np.asarray(a, dtype=np.int64).ravel() for a in (frames, rows, cols))
        size = int(size)
        out = np.empty((len(frames), size, size), self.dtype)
        if not len(frames):
            return out
        if (frames.min() < 0 or frames.max() >= self.n_frames or rows.min() < 0 or cols.min() < 0
                or rows.max() + size > self.height or cols.max() + size > self.width):
            raise IndexError(f"windows of {size} px reach outside the {self.n_frames} frames of "
                             f"{self.width}x{self.height} px")
        if self._data is not None:
            # window by window from a plain ndarray view: about twice as fast as one fancy-indexed
            # gather (which builds (n, size, size) index arrays) and np.memmap's per-slice overhead
            data = np.asarray(self._data)
            for s in range(0, len(frames), _WINDOWS_PER_GATHER):
                stop = min(s + _WINDOWS_PER_GATHER, len(frames))
                for i, f, r, c in zip(range(s, stop), frames[s:stop].tolist(), rows[s:stop].tolist(),
                                      cols[s:stop].tolist()):
                    out[i] = data[f, r:r + size, c:c + size]
                if progress is not None:
                    progress(stop - s)
            return out
        order = np.argsort(frames, kind="stable")
        for group in np.split(order, np.flatnonzero(np.diff(frames[order])) + 1):
            image = self[int(frames[group[0]])]
            for i in group:
                out[i] = image[rows[i]:rows[i] + size, cols[i]:cols[i] + size]
            if progress is not None:
                progress(len(group))
        return out

    def iter_frames(self, start: int = 0, stop: int | None = None):
        """Yield frames ``start .. stop-1`` (0-based) one at a time."""
        stop = len(self) if stop is None else stop
        for i in range(start, stop):
            yield self[i]

    def close(self) -> None:
        """Release the file: the tif handle, or the memory map of a file we opened."""
        if self._closer is not None:
            self._closer()
            self._closer = None
        if self.path is not None and isinstance(self._data, np.memmap):
            # drop our reference only: frames handed out may still view the map (closing it
            # under them would crash); the map goes when the last of them does
            self._data = None
            self._reader = _closed_reader(self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        ps = "unknown" if self.pixel_size is None else f"{self.pixel_size:g} nm"
        return f"Movie({self.path or 'array'}, shape={self.shape}, dtype={self.dtype}, pixel_size={ps})"


def _closed_reader(path):
    def reader(i):
        raise ValueError(f"{path}: the movie was closed")

    return reader


def as_movie(obj, pixel_size=None) -> Movie:
    """A :class:`Movie` from a path, a Movie or an array (2-D arrays become one frame)."""
    if isinstance(obj, Movie):
        if pixel_size is not None:
            obj.pixel_size, obj.pixel_size_source = check_pixel_size(pixel_size, obj.path), "given by the caller"
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return open_movie(obj, pixel_size=pixel_size)
    arr = np.asarray(obj)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InputError(f"a movie must be 2-D or 3-D (frames, height, width), got shape {arr.shape}")
    if pixel_size is not None:
        pixel_size = check_pixel_size(pixel_size)
    return Movie(arr, pixel_size=pixel_size, pixel_size_source=None if pixel_size is None else "given by the caller")


def open_movie(path, pixel_size=None) -> Movie:
    """Open a movie lazily: a multi-frame tif (incl. BigTIFF) or a Picasso ``.raw`` with its yaml.

    Parameters
    ----------
    path : str or Path
    pixel_size : float, optional
        Camera pixel size in nm; overrides the file's metadata.

    Returns
    -------
    Movie
        ``(frames, height, width)``; a 2-D tif is one frame.
    """
    path = check_input_file(path)
    if pixel_size is not None:
        pixel_size = check_pixel_size(pixel_size, path)
    if path.suffix.lower() == ".raw":
        movie = _open_raw(path)
    else:
        movie = _open_tif(path)
    if pixel_size is not None:
        movie.pixel_size, movie.pixel_size_source = pixel_size, "given by the caller"
    return movie


def _open_raw(path: Path) -> Movie:
    from .locs import _lookup, picasso_pixel_size, read_picasso_yaml

    yml = path.with_suffix(".yaml")
    if not yml.exists():
        raise InputError(f"a Picasso .raw movie needs its sidecar {yml.name} (Frames, Height, Width, Data Type)", path)
    docs = read_picasso_yaml(yml)
    try:
        frames, height, width = (int(_lookup(docs, k)) for k in ("Frames", "Height", "Width"))
    except (TypeError, ValueError):
        raise InputError(f"{yml.name} lacks whole numbers for Frames, Height or Width", path) from None
    try:
        dtype = np.dtype(str(_lookup(docs, "Data Type") or "uint16")).newbyteorder(str(_lookup(docs, "Byte Order") or "<"))
    except (TypeError, ValueError):
        raise InputError(f"{yml.name}: unknown Data Type {_lookup(docs, 'Data Type')!r} or Byte Order", path) from None
    expected = frames * height * width * dtype.itemsize
    size = path.stat().st_size
    if size < expected:
        raise InputError(f"raw file is truncated: {size} bytes, expected {expected} for {frames}x{height}x{width} {dtype}", path)
    if size > expected:  # a wrong Data Type misreads every pixel; a wrong Frames leaves frames out
        raise InputError(f"raw file has {size} bytes, but {yml.name} describes {expected} ({frames} frames of "
                         f"{width}x{height} px {dtype.name}): check its Frames, Width, Height and Data Type", path)
    data = np.memmap(path, dtype=dtype, mode="r", shape=(frames, height, width))
    ps = picasso_pixel_size(docs)
    return Movie(data, path=path, pixel_size=ps, pixel_size_source=None if ps is None else f"yaml {yml.name}")


class _Collect(logging.Handler):
    """Collect tifffile's warnings (it logs, not raises, when page offsets point past the end)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _expected_frames(tif) -> int | None:
    """Frames announced by the writer's metadata (tifffile's shaped or ImageJ description)."""
    try:
        if tif.is_imagej and tif.imagej_metadata and "images" in tif.imagej_metadata:
            return int(tif.imagej_metadata["images"])
        if tif.is_shaped and tif.shaped_metadata:
            shape = tif.shaped_metadata[0].get("shape")
            if shape and len(shape) >= 2:
                return int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        return None
    return None


def _frames_of(series) -> int:
    return int(np.prod(series.shape[:-2])) if len(series.shape) > 2 else 1


@contextlib.contextmanager
def _tifffile_log():
    """Collect tifffile's log records instead of printing them (they become one InputError line)."""
    tlog = logging.getLogger("tifffile")
    collect, propagate = _Collect(), tlog.propagate
    tlog.addHandler(collect)
    tlog.propagate = False
    try:
        yield collect
    finally:
        tlog.removeHandler(collect)
        tlog.propagate = propagate


def _open_tif(path: Path) -> Movie:
    with _tifffile_log() as collect:
        return _open_tif_logged(path, collect)


def _open_tif_logged(path: Path, collect: _Collect) -> Movie:
    import tifffile

    if path.stat().st_size == 0:
        raise InputError("not a readable tif (empty file)", path)
    scan = _scan_pages(path)  # every page's header, before tifffile guesses a series from a few
    try:
        tif = tifffile.TiffFile(path)
        try:
            n_pages = len(tif.pages)
            if _has_flavour(tif):
                all_series = list(tif.series)
            else:  # no writer metadata: tifffile's generic series would parse every page again
                all_series = [types.SimpleNamespace(shape=(n_pages, scan.height, scan.width), axes="IYX",
                                                    dtype=scan.dtype.newbyteorder("="))]
        except BaseException:
            tif.close()
            raise
    except Exception as exc:  # tifffile raises several types for bad files
        raise InputError(f"not a readable tif ({_first_line(exc)})", path) from None
    try:
        broken = [m for m in collect.messages if "invalid page offset" in m or "failed to reshape" in m]
        if broken:
            raise InputError(f"tif is truncated or corrupt ({broken[0].split('>')[-1].strip()})", path)
        if n_pages != scan.n_pages:
            raise InputError(f"tif is corrupt: {scan.n_pages} page directories, tifffile reads {n_pages}", path)
        if not all_series:
            raise InputError("tif holds no frames", path)
        series = all_series[0]
        if tif.is_ome and len(all_series) > 1:
            # e.g. Micro-Manager positions: reading only the first would drop the others silently
            raise InputError(f"OME-TIFF holds {len(all_series)} image series (positions), shapes "
                             f"{[tuple(s.shape) for s in all_series][:4]}: save each as its own file "
                             "(Fiji: Bio-Formats importer, 'open all series', then save)", path)
        if series.axes.endswith("S"):
            raise InputError(f"tif is an RGB image (axes {series.axes}): expected a single-channel movie", path)
        shape = tuple(int(s) for s in series.shape)
        if len(shape) == 2:
            shape = (1,) + shape
        elif len(shape) > 3:
            # ImageJ/OME hyperstacks: any one axis (T, Z) may hold the frames, the rest must be 1
            sizes = {a: int(n) for a, n in zip(series.axes[:-2], shape[:-2]) if n != 1}
            if len(sizes) > 1:
                what = ("several channels: split them (Fiji: Image > Color > Split Channels) and give one"
                        if "C" in sizes else "frames on more than one axis: expected one axis of frames")
                raise InputError(f"tif hyperstack has {' x '.join(f'{a}={n}' for a, n in sizes.items())} "
                                 f"(axes {series.axes}), {what}", path)
            shape = (int(np.prod(shape[:-2])),) + shape[-2:]
        if len(series.shape) > 2 and series.axes[:-2].strip("1") and _only_channels(series):
            # channels are not frames: taking them as frames would sum channels into training data
            n = int(np.prod(series.shape[:-2]))
            # tifffile.imwrite(..., imagej=True) stores a 3-D array as channels unless told its axes
            by_tifffile = str(tif.pages[0].description or "").startswith("ImageJ=1.11a")
            how = f"Fiji: Image > Properties, Channels 1, Frames {n}" + (
                "; tifffile: imwrite(..., imagej=True, metadata={'axes': 'TYX'})" if by_tifffile else "")
            raise InputError(f"tif is a hyperstack of {n} channels and no frames (axes {series.axes}); if they "
                             f"are frames, say so ({how}) and save", path)
        # a Micro-Manager OME dataset larger than 4 GB spans several files (..._1.ome.tif, ...):
        # tifffile's series holds the pages of all of them
        lost = [m.split(">")[-1].strip() for m in collect.messages if "failed to read" in m]
        multifile = bool(getattr(series, "is_multifile", False)) or bool(lost)
        # files written one page at a time (camera software, tifffile append=True) may hold one
        # series per page; the page scan showed that all pages are equal frames
        many = len(all_series) > 1 and sum(_frames_of(s) for s in all_series) == n_pages
        if many:
            shape = (n_pages,) + shape[1:]
        # tifffile stores frames with a side of 1 px in pages of another shape (a (2, 1, 1) stack
        # is one 1x2 page) and says so in its shape metadata: the same bytes, memory-mapped
        reshaped = (tif.is_shaped and shape[1:] != (scan.height, scan.width)
                    and int(np.prod(shape)) == n_pages * scan.height * scan.width)
        per_page = 1  # frames held by one page (tifffile's squeezed pages hold several)
        if reshaped:
            per_page = scan.height * scan.width // (shape[1] * shape[2])
            if scan.data_offset is None and per_page * shape[1] * shape[2] != scan.height * scan.width:
                raise InputError(f"tif stores {shape[0]} frames of {shape[2]}x{shape[1]} px in {n_pages} compressed "
                                 f"pages of {scan.width}x{scan.height} px; save it uncompressed", path)
        if (shape[1:] != (scan.height, scan.width) and not reshaped) \
                or np.dtype(series.dtype) != scan.dtype.newbyteorder("="):
            raise InputError(f"tif is corrupt: its metadata describe {series.dtype} {shape[2]}x{shape[1]} px, "
                             f"its pages are {scan.dtype.newbyteorder('=')} {scan.width}x{scan.height} px", path)
        expected = _expected_frames(tif)
        if expected is not None and not many and expected > shape[0]:
            raise InputError(f"tif is truncated or corrupt: its metadata announce {expected} frames, "
                             f"{shape[0]} found", path)
        one_ifd = n_pages == 1 and shape[0] > 1 and not multifile  # ImageJ > 4 GB: one IFD, frames after it
        if not multifile and not one_ifd and not reshaped and shape[0] != n_pages:
            raise InputError(f"tif holds {n_pages} pages but its metadata describe {shape[0]} frames: save the "
                             "frames as one stack", path)
        _check_codecs(scan, path)
        ps, source = tif_pixel_size(tif)
        if not multifile and scan.data_offset is not None:
            tif.close()
            try:
                data = np.memmap(path, dtype=scan.dtype, mode="r", offset=scan.data_offset, shape=shape)
            except ValueError:  # the frames announced need more bytes than the file has
                raise InputError(f"tif is truncated: {shape[0]} frames announced, the file is too short", path) \
                    from None
            return Movie(data, path=path, pixel_size=ps, pixel_size_source=source)
        _check_data_in_file(tif, path)
        broken = [m for m in collect.messages if "invalid page offset" in m]
        if multifile:
            pages = series.pages
            missing = sum(p is None for p in pages)
            if missing:
                raise InputError(f"multi-file OME-TIFF: {missing} of {shape[0]} frames are in files that are "
                                 "missing or unreadable; keep all ..._N.ome.tif files of the dataset together "
                                 f"({lost[0] if lost else 'pages not found'})", path)
        else:
            # detecting a series parses (and caches) every page, ~10 kB each: a fresh handle with
            # the cache off keeps only page offsets, whatever the length of the movie; each page is
            # decoded with its own tags (pages may differ in compression)
            if isinstance(series, tifffile.TiffPageSeries):
                tif.close()
                tif = tifffile.TiffFile(path)
            pages = tif.pages
            pages.cache = False
            pages.useframes = False
        if (len(pages) if multifile else n_pages * per_page) < shape[0] or broken:
            raise InputError(f"tif is truncated or corrupt: {shape[0]} frames expected, {n_pages} page(s) found",
                             path)
        dtype = scan.dtype.newbyteorder("=")
        frame_shape = shape[1:]

        def reader(i):
            try:
                with _tifffile_log(), warnings.catch_warnings():
                    # pages in the other files of a multi-file OME dataset: tifffile reopens their
                    # files for each read and warns about it
                    warnings.filterwarnings("ignore", ".*reading array from closed file")
                    frame = pages[i // per_page].asarray()
            except Exception as exc:  # decoder errors of a damaged page: one line naming the file
                if _needs_imagecodecs(exc):
                    code = getattr(pages[i], "compression", None)
                    raise _imagecodecs_error(f"{_codec_name('compression', int(code or 0))} compression", path) \
                        from None
                raise InputError(f"tif is corrupt: frame {i} (0-based) unreadable ({_first_line(exc)})", path) from None
            if reshaped and frame.size == per_page * frame_shape[0] * frame_shape[1]:
                frame = frame.reshape((per_page,) + frame_shape)[i % per_page]
            if frame.shape != frame_shape or frame.dtype.newbyteorder("=") != dtype:
                raise InputError(f"tif is corrupt: frame {i} (0-based) decodes to {frame.dtype} "
                                 f"{'x'.join(map(str, frame.shape[::-1]))} px, expected {dtype} "
                                 f"{frame_shape[1]}x{frame_shape[0]} px", path)
            return frame

        # truncation check: the last page must decode
        reader(shape[0] - 1)
        return Movie(path=path, reader=reader, shape=shape, dtype=dtype, pixel_size=ps,
                     pixel_size_source=source, closer=tif.close)
    except InputError:
        tif.close()
        raise
    except Exception as exc:  # damaged IFDs or tags surface as many exception types
        tif.close()
        raise InputError(f"tif is corrupt ({_first_line(exc)})", path) from None
    except BaseException:
        tif.close()
        raise


# tifffile's kinds of writer metadata that shape a series (TiffFile.is_<kind>); files with none
# are a plain sequence of pages
_FLAVOURS = ("shaped", "lsm", "mmstack", "micromanager", "ome", "imagej", "ndtiff", "fluoview", "stk", "sis",
             "svs", "scn", "qpi", "ndpi", "bif", "avs", "eer", "philips", "scanimage", "nih", "mdgel", "indica")


def _has_flavour(tif) -> bool:
    return any(getattr(tif, "is_" + kind, False) for kind in _FLAVOURS)


def _only_channels(series) -> bool:
    """A hyperstack whose only axis of more than one image is C (channels)."""
    sizes = [a for a, n in zip(series.axes[:-2], series.shape[:-2]) if n != 1]
    return sizes == ["C"]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _check_data_in_file(tif, path: Path) -> None:
    """Refuse a tif whose last page's pixel data lie beyond the end of the file (truncated)."""
    size = path.stat().st_size
    page = tif.pages[-1] if len(tif.pages) else None
    try:
        offsets, counts = page.dataoffsets, page.databytecounts
    except AttributeError:
        return
    if offsets and counts and max(o + c for o, c in zip(offsets, counts)) > size:
        raise InputError(f"tif is truncated: pixel data end beyond the file's {size} bytes", path)


# ---------------------------------------------------------------------------------------------
# page headers: a movie is a stack of equal pages (read from the IFDs, never from pixel data)
# ---------------------------------------------------------------------------------------------

# TIFF field types -> bytes per value
_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
_WIDTH, _LENGTH, _BITS, _COMPRESSION, _FILLORDER, _STRIPS, _SAMPLES = 256, 257, 258, 259, 266, 273, 277
_STRIP_BYTES, _PREDICTOR, _TILES, _SAMPLE_FORMAT = 279, 317, 324, 339
_SCANNED_TAGS = frozenset((_WIDTH, _LENGTH, _BITS, _COMPRESSION, _FILLORDER, _STRIPS, _SAMPLES, _STRIP_BYTES,
                           _PREDICTOR, _TILES, _SAMPLE_FORMAT))
_DTYPES = {(1, 8): "u1", (1, 16): "u2", (1, 32): "u4", (1, 64): "u8", (2, 8): "i1", (2, 16): "i2",
           (2, 32): "i4", (2, 64): "i8", (3, 16): "f2", (3, 32): "f4", (3, 64): "f8"}


class _PageScan:
    """What the page headers (IFDs) of a tif say, read without touching pixel data.

    Attributes: ``n_pages``; ``width``, ``height``, ``dtype`` (in the file's byte order) of every
    page; ``compressions`` and ``predictors`` used; ``data_offset``: where page 1's pixels start
    when every page is one uncompressed run of bytes and the runs follow each other (the movie can
    then be memory-mapped as one array), else None.
    """

    def __init__(self, n_pages, width, height, dtype, compressions, predictors, data_offset):
        self.n_pages, self.width, self.height, self.dtype = n_pages, width, height, dtype
        self.compressions, self.predictors, self.data_offset = compressions, predictors, data_offset


def _describe_page(key) -> str:
    width, height, spp, bits, fmt = key
    kind = _DTYPES.get((fmt, bits))
    kind = str(np.dtype(kind)) if kind else f"{bits}-bit (sample format {fmt})"
    return f"{kind} {width}x{height} px" + (f" with {spp} samples per pixel" if spp != 1 else "")


def _scan_pages(path: Path) -> _PageScan:
    """Walk the IFD chain of a tif and check that its pages are equal 2-D single-sample images.

    Reads each page's header only (a few hundred bytes a page). Raises a one-line InputError for
    the first page that differs from page 1, a page with several samples per pixel (RGB, interleaved
    channels), 1-bit or odd pixel sizes, a file without pages, and a broken IFD chain.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return _scan_ifds(mm, size, path)
    finally:
        with contextlib.suppress(BufferError):  # an error's traceback may still view the map: freed with it
            mm.close()


def _scan_ifds(mm, size: int, path: Path) -> _PageScan:
    order = {b"II": "<", b"MM": ">"}.get(bytes(mm[:2]))
    if order is None or size < 8:
        raise InputError("not a readable tif (no TIFF header)", path)
    version = struct.unpack_from(order + "H", mm, 2)[0]
    if version not in (42, 43):
        raise InputError(f"not a readable tif (TIFF version {version})", path)
    big = version == 43
    count_fmt, offset_fmt, first = (order + "Q", order + "Q", 8) if big else (order + "H", order + "I", 4)
    count_size, field = (8, 8) if big else (2, 4)
    entry_size = 4 + 2 * field
    if first + field > size:
        raise InputError("tif is truncated: no page directory", path)
    # 1. the chain of page directories (IFDs): where each starts and how many tags it has
    starts, n_tags = [], []
    seen = set()
    offset = struct.unpack_from(offset_fmt, mm, first)[0]
    while offset:
        page = len(starts) + 1  # 1-based, as Fiji numbers slices
        if offset in seen:
            raise InputError(f"tif is corrupt: page {page}'s directory loops back to an earlier page", path)
        if offset + count_size > size:
            raise InputError(f"tif is truncated or corrupt: page {page}'s directory lies beyond the end of the "
                             "file", path)
        seen.add(offset)
        n = struct.unpack_from(count_fmt, mm, offset)[0]
        end = offset + count_size + n * entry_size
        if n == 0 or end + field > size:
            raise InputError(f"tif is truncated or corrupt: page {page}'s directory is cut or empty", path)
        starts.append(offset + count_size)
        n_tags.append(n)
        offset = struct.unpack_from(offset_fmt, mm, end)[0]
    if not starts:
        raise InputError("tif holds no frames (no page)", path)
    # 2. the tags that make a page's pixels, for all pages at once (vectorised over pages)
    tags = _read_tags(mm, size, np.asarray(starts, np.int64), np.asarray(n_tags, np.int64), order, field, path)
    keys = np.stack([tags[c] for c in (_WIDTH, _LENGTH, _SAMPLES, _BITS, _SAMPLE_FORMAT)], axis=1)
    key0 = tuple(int(v) for v in keys[0])
    _check_first_page(key0, path)
    odd = np.flatnonzero((keys != keys[0]).any(axis=1))
    if len(odd):
        key = tuple(int(v) for v in keys[odd[0]])
        raise InputError(f"tif pages differ: page {odd[0] + 1} is {_describe_page(key)} but page 1 is "
                         f"{_describe_page(key0)}; a movie is a stack of equal pages (one 2-D shape and dtype): "
                         "save the frames as one stack", path)
    width, height = key0[:2]
    n_pages = len(starts)
    if width * height == 0:
        raise InputError(f"tif holds no frames (its page is {width}x{height} px)" if n_pages == 1 else
                         f"tif holds no frames: its pages are {width}x{height} px", path)
    dtype = np.dtype(_DTYPES[(key0[4], key0[3])]).newbyteorder(order)
    # 3. one memory-mappable array: every page one uncompressed run of bytes, each after the last
    frame_bytes = width * height * dtype.itemsize
    runs, run_bytes = tags["data"]
    simple = (tags[_COMPRESSION] == 1) & (tags[_FILLORDER] == 1) & (run_bytes == frame_bytes)
    ends = runs + run_bytes
    cut = np.flatnonzero((runs >= 0) & (ends > size))
    if len(cut):
        raise InputError(f"tif is truncated: page {cut[0] + 1}'s pixel data end beyond the file's {size} bytes", path)
    contiguous = bool(simple.all() and (np.diff(runs) == frame_bytes).all())
    return _PageScan(n_pages, width, height, dtype, set(np.unique(tags[_COMPRESSION]).tolist()),
                     set(np.unique(tags[_PREDICTOR]).tolist()), int(runs[0]) if contiguous else None)


_DEFAULTS = {_WIDTH: -1, _LENGTH: -1, _BITS: 1, _COMPRESSION: 1, _FILLORDER: 1, _SAMPLES: 1, _PREDICTOR: 1,
             _SAMPLE_FORMAT: 1}
_TYPE_SIZES = np.zeros(65536, np.int64)
_TYPE_SIZES[list(_TYPE_SIZE)] = list(_TYPE_SIZE.values())
_PAGES_PER_GATHER = 8192  # bounds the temporaries: a few MB
_SCANNED = np.array(list(_DEFAULTS) + [_STRIPS, _STRIP_BYTES, _TILES], np.int64)
_STRIP_TAG = np.isin(_SCANNED, [_STRIPS, _STRIP_BYTES, _TILES])


def _read_tags(mm, size, starts, n_tags, order, field, path) -> dict:
    """First value of each scanned tag of every page (``_DEFAULTS`` where absent), and the pixel runs.

    ``tags["data"]`` is ``(offsets, bytes)``: where a page's pixel data start and how many bytes
    they span when its strips follow each other, else ``(-1, -1)``.
    """
    n_pages = len(starts)
    buf = np.frombuffer(mm, np.uint8)
    uint = f"{order}u{field}"
    entry = np.dtype([("code", order + "u2"), ("type", order + "u2"), ("count", uint), ("value", uint)])
    out = {code: np.full(n_pages, default, np.int64) for code, default in _DEFAULTS.items()}
    runs, run_bytes = np.full(n_pages, -1, np.int64), np.full(n_pages, -1, np.int64)
    strip_tables = {}
    for n in np.unique(n_tags):
        group = np.flatnonzero(n_tags == n)
        for s in range(0, len(group), _PAGES_PER_GATHER):
            pages = group[s:s + _PAGES_PER_GATHER]
            length = int(n) * entry.itemsize
            raw = b"".join([mm[at:at + length] for at in starts[pages].tolist()])
            entries = np.frombuffer(raw, entry).reshape(len(pages), int(n))  # (pages, n) tag entries
            # every scanned tag of every page at once: (pages, tags) of the first entry with that code
            hit = entries["code"][:, :, None] == _SCANNED[None, None, :]
            has = hit.any(axis=1)
            e = entries[np.arange(len(pages))[:, None], hit.argmax(axis=1)]
            item = _TYPE_SIZES[e["type"]]
            count = e["count"].astype(np.int64)
            value = e["value"].astype(np.uint64)
            inline = count * item <= field
            # a value shorter than the field sits in its first bytes
            if order == "<":
                first = value & ((np.uint64(1) << (8 * item).astype(np.uint64)) - np.uint64(1))
            else:
                first = value >> (8 * (field - item)).astype(np.uint64)
            first = np.where(inline | (item == 8), first, 0).astype(np.int64)
            bad = has & ((item == 0) | (count == 0))
            arrays = has & ~inline & ~_STRIP_TAG[None, :]  # several samples per pixel: read the first one
            any_bad, any_arrays, any_has = (a.any(axis=0).tolist() for a in (bad, arrays, has))
            for j, code in enumerate(_SCANNED.tolist()):
                if any_bad[j]:
                    raise InputError(f"tif is corrupt: page {pages[bad[:, j].argmax()] + 1} has a damaged tag {code}",
                                     path)
                for r in np.flatnonzero(arrays[:, j]) if any_arrays[j] else ():
                    at, k = int(value[r, j]), int(item[r, j])
                    if at + k > size:
                        raise InputError(f"tif is corrupt: page {pages[r] + 1}'s tag {code} points beyond "
                                         "the end of the file", path)
                    first[r, j] = int.from_bytes(mm[at:at + k], "little" if order == "<" else "big")
                if _STRIP_TAG[j]:
                    if any_has[j]:
                        rows = np.flatnonzero(has[:, j])
                        strip_tables[code] = (pages[rows], e["type"][rows, j], count[rows, j],
                                              value[rows, j].astype(np.int64), inline[rows, j], first[rows, j])
                else:
                    out[code][pages] = np.where(has[:, j], first[:, j], out[code][pages])
            _strip_runs(buf, size, strip_tables, runs, run_bytes, order, field)
            strip_tables.clear()
    missing = (out[_WIDTH] < 0) | (out[_LENGTH] < 0)
    if missing.any():
        raise InputError(f"tif is corrupt: page {missing.argmax() + 1} has no image width or length", path)
    out["data"] = (runs, run_bytes)
    return out


def _strip_runs(buf, size, tables, runs, run_bytes, order, field) -> None:
    """Fill ``runs``/``run_bytes`` for pages whose strips are one run of bytes (tiles: never)."""
    if _STRIPS not in tables or _STRIP_BYTES not in tables:
        return
    pages, types, counts, values, inline, first = tables[_STRIPS]
    b_pages, b_types, b_counts, b_values, b_inline, b_first = tables[_STRIP_BYTES]
    if len(pages) != len(b_pages) or not np.array_equal(pages, b_pages):
        return  # pages lacking one of the tags: not memory-mappable (tifffile will tell)
    tiled = np.isin(pages, tables[_TILES][0]) if _TILES in tables else np.zeros(len(pages), bool)
    one = (counts == 1) & (b_counts == 1) & inline & b_inline & ~tiled
    runs[pages[one]], run_bytes[pages[one]] = first[one], b_first[one]
    # several strips: read both tables, for pages sharing one layout at a time
    many = np.flatnonzero(~one & ~tiled & (counts == b_counts) & (counts > 1) & ~inline & ~b_inline)
    for key in {(int(counts[i]), int(types[i]), int(b_types[i])) for i in many}:
        sel = many[(counts[many] == key[0]) & (types[many] == key[1]) & (b_types[many] == key[2])]
        arrays = []
        for vals, typ in ((values[sel], key[1]), (b_values[sel], key[2])):
            dt = {3: "u2", 4: "u4", 16: "u8"}.get(typ)
            if dt is None:
                break
            dt = np.dtype(order + dt)
            fits = vals + key[0] * dt.itemsize <= size
            if not fits.all():
                break
            arrays.append(buf[vals[:, None] + np.arange(key[0] * dt.itemsize)].view(dt).astype(np.int64))
        if len(arrays) != 2:
            continue
        offs, nbytes = arrays
        joined = (offs[:, 1:] == offs[:, :-1] + nbytes[:, :-1]).all(axis=1)
        runs[pages[sel[joined]]] = offs[joined, 0]
        run_bytes[pages[sel[joined]]] = nbytes[joined].sum(axis=1)


def _check_first_page(key, path: Path) -> None:
    width, height, spp, bits, fmt = key
    if spp != 1:
        raise InputError(f"tif has {spp} samples per pixel (RGB or interleaved channels): expected a "
                         "single-channel movie (Fiji: Image > Color > Split Channels, save one)", path)
    if bits == 1:
        raise InputError("tif is 1-bit (black and white), not a camera movie: save it as 8- or 16-bit "
                         "(Fiji: Image > Type > 8-bit)", path)
    if (fmt, bits) not in _DTYPES:
        raise InputError(f"tif pixels are {_describe_page(key).split(' ')[0]}, which no camera movie uses: "
                         "save it as 8-, 16- or 32-bit", path)


def _check_codecs(scan: _PageScan, path: Path) -> None:
    """Compressions and predictors tifffile cannot decode here: name the package that can."""
    import tifffile

    for table, codes, what in ((tifffile.TIFF.DECOMPRESSORS, scan.compressions, "compression"),
                               (getattr(tifffile.TIFF, "PREDICTORS", None), scan.predictors, "predictor")):
        for code in sorted(codes):
            if table is None or code == 1:
                continue
            try:
                table[code]
            except KeyError as exc:
                name = _codec_name(what, code)
                if "imagecodecs" in str(exc):
                    raise _imagecodecs_error(f"{name} {what}", path) from None
                raise InputError(f"tif uses {name} {what}, which tifffile cannot decode", path) from None
            except Exception:  # noqa: BLE001  (another tifffile's table: decoding will tell)
                continue


def _imagecodecs_error(what: str, path: Path) -> InputError:
    return InputError(f"tif uses {what}, which needs the imagecodecs package: pip install imagecodecs", path)


def _codec_name(what: str, code: int) -> str:
    import tifffile

    try:
        return getattr(tifffile, what.upper())(code).name
    except Exception:  # noqa: BLE001  (unknown code: a damaged tag)
        return f"unknown ({code})"


def _needs_imagecodecs(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return "imagecodecs" in text or isinstance(exc, ImportError)


_MAX_INCH_PIXEL_NM = 1e4  # resolution tags in inch that give coarser pixels than 10 µm are a print resolution


def tif_pixel_size(tif) -> tuple[float | None, str | None]:
    """Pixel size in nm from an open ``tifffile.TiffFile``, and where it came from.

    Order: OME ``PhysicalSizeX``; ImageJ ``unit`` with the resolution tags; resolution tags with
    unit centimetre or inch. A resolution of 1 with no unit (tifffile's default) means unknown, and
    so do damaged tags, sizes that are no length (0, negative), and inch tags coarser than 10 µm per
    pixel (print resolutions: 72 dpi, or pixels per µm stored under TIFF's default unit, the inch).
    """
    try:
        ps, source = _tif_pixel_size(tif)
    except (ValueError, TypeError, ArithmeticError, KeyError, IndexError, AttributeError):
        return None, None
    if ps is None or not math.isfinite(ps) or ps <= 0:  # PhysicalSizeX="0" and the like: damaged, unknown
        return None, None
    if source.endswith("(inch)") and ps > _MAX_INCH_PIXEL_NM:
        # TIFF's default unit is the inch (tifffile stores it when resolution= is given without a unit):
        # a few pixels per inch is a print resolution, not a camera pixel in the sample
        return None, None
    return ps, source


def _tif_pixel_size(tif) -> tuple[float | None, str | None]:
    page = tif.pages[0]
    if tif.is_ome and tif.ome_metadata:
        m = re.search(r'PhysicalSizeX="([0-9.eE+-]+)"', tif.ome_metadata)
        if m:
            unit = re.search(r'PhysicalSizeXUnit="([^"]+)"', tif.ome_metadata)
            factor = _NM_PER_UNIT.get(unit.group(1) if unit else "µm")  # OME's default unit: µm
            if factor is not None:  # an unknown unit is not guessed: try the tags
                return float(m.group(1)) * factor, "OME metadata"
    tags = page.tags
    xres = tags.get("XResolution")
    unit_tag = tags.get("ResolutionUnit")
    unit = int(unit_tag.value) if unit_tag is not None else None  # absent: TIFF's default, inch
    num, den = (xres.value if isinstance(xres.value, tuple) else (xres.value, 1)) if xres is not None else (0, 0)
    if num and den:
        per_unit = num / den  # pixels per unit
        ij = tif.imagej_metadata or {}
        if unit in (1, None) and ij.get("unit"):
            factor = _NM_PER_UNIT.get(str(ij["unit"]).strip().lower())
            if factor is not None:
                return factor / per_unit, "ImageJ metadata"
        if unit == 3:
            return 1e7 / per_unit, "tif resolution tags (cm)"
        if unit in (2, None) and per_unit not in (1.0, 72.0, 96.0, 300.0):
            return 2.54e7 / per_unit, "tif resolution tags (inch)"
    # Micro-Manager's per-image JSON tag (files without OME metadata); tifffile decodes it to a dict
    mm = tags.get(51123)
    mm = mm.value if mm is not None else None
    size_um = float(mm.get("PixelSizeUm") or 0) if isinstance(mm, dict) else 0.0
    if size_um > 0:
        return size_um * 1e3, "Micro-Manager metadata"
    return None, None


def smallest_dtype(lo, hi, *, floating: bool = False) -> np.dtype:
    """The smallest dtype that the notebook can read and that holds values ``lo .. hi``.

    Integers: uint16, int32, int64 (tried in that order); floats: float32 when exact enough,
    else float64.
    """
    if floating:
        return np.dtype(np.float32)
    for dt in (np.uint16, np.int32, np.int64):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dt)
    raise InputError(f"pixel values {lo}..{hi} do not fit in a 64-bit integer")


def _check_fits(arr: np.ndarray, dtype: np.dtype, path) -> None:
    dtype = np.dtype(dtype)
    if arr.dtype == dtype or dtype.kind == "f" or arr.size == 0:
        return
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError(f"pixel values include NaN or infinity, which {dtype} cannot hold", path)
    info = np.iinfo(dtype)
    lo, hi = arr.min(), arr.max()
    if lo < info.min or hi > info.max:
        raise InputError(f"pixel values {lo}..{hi} do not fit in {dtype} (they would wrap); use a wider dtype", path)


def _resolution(pixel_size: float) -> tuple[int, int]:
    """Pixels per cm as the TIFF rational closest to ``1e7 / pixel_size`` (both terms < 2**32).

    Passing a float lets some tifffile versions (e.g. 2024.12.12) pick a coarse fraction
    (130 nm came back as 130.001 nm); an explicit rational is exact for usual pixel sizes.
    """
    from fractions import Fraction

    res = 1e7 / check_pixel_size(pixel_size)
    f = Fraction(res).limit_denominator(max(1, int((2**32 - 1) / max(res, 1.0))))
    if f.numerator == 0 or f.numerator > 2**32 - 1:
        raise InputError(f"pixel size {pixel_size} nm cannot be stored in tif resolution tags")
    return f.numerator, f.denominator


def _readable_dtype(arr: np.ndarray, path) -> np.dtype | None:
    """A dtype Pillow opens for 64-bit data (None: keep ``arr.dtype``)."""
    if arr.dtype.kind in "iu" and arr.dtype.itemsize == 8:
        if arr.size == 0:
            return np.dtype(np.int32)
        lo, hi = int(arr.min()), int(arr.max())
        dt = smallest_dtype(lo, hi)
        if dt.itemsize == 8:
            raise InputError(f"pixel values {lo}..{hi} need 64-bit integers, which the notebook cannot read", path)
        return dt
    if arr.dtype == np.float64:
        finite = arr[np.isfinite(arr)]
        if finite.size and np.abs(finite).max() > np.finfo(np.float32).max:
            raise InputError("pixel values exceed the float32 range, which the notebook can read", path)
        return np.dtype(np.float32)
    return None


def _tif_kwargs(pixel_size):
    kw = {"photometric": "minisblack", "metadata": {}}
    if pixel_size is not None:
        res = _resolution(pixel_size)
        kw.update(resolution=(res, res), resolutionunit="CENTIMETER")
    return kw


def write_tif(path, data, pixel_size=None, *, dtype=None, force: bool = False) -> Path:
    """Write a 2-D image or a ``(frames, height, width)`` stack as a tif the notebook reads.

    A stack of any length stays a stack (``photometric="minisblack"``); ``pixel_size`` (nm) goes
    into the resolution tags (centimetre unit). ``dtype`` converts after checking that every
    value fits (no silent wrap). Without ``dtype``, 64-bit data (which Pillow, and so the
    notebook's pixel-size reader, cannot open) are stored in the smallest dtype that holds every
    value (uint16 or int32; float64 as float32), or refused. Written atomically.
    """
    import tifffile

    arr = np.asarray(data)
    if dtype is None:
        dtype = _readable_dtype(arr, path)
    if dtype is not None:
        _check_fits(arr, dtype, path)
        arr = arr.astype(dtype, copy=False)
    if arr.dtype == np.int8 or arr.dtype == np.uint32 or arr.dtype == np.uint64:
        log.info("%s: writing dtype %s, which some readers do not support", path, arr.dtype)
    with atomic_path(path, force=force) as tmp:
        tifffile.imwrite(tmp, arr, bigtiff=arr.nbytes > _CLASSIC_TIFF_LIMIT, **_tif_kwargs(pixel_size))
    return Path(path)


class TifWriter:
    """Write a tif stack frame by frame (streaming), atomically, with the pixel size in its tags.

    Examples
    --------
    >>> with TifWriter("out.tif", pixel_size=107, n_frames=2) as w:  # doctest: +SKIP
    ...     w.write(frame0); w.write(frame1)
    """

    def __init__(self, path, pixel_size=None, *, dtype=None, n_frames: int | None = None,
                 frame_shape=None, force: bool = False, bigtiff: bool | None = None):
        self.path = Path(path)
        self.pixel_size = pixel_size
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.force = force
        self.count = 0
        self._n_frames = n_frames
        self._frame_shape = frame_shape
        self._bigtiff = bigtiff
        self._ctx = None
        self._writer = None

    def __enter__(self):
        self._ctx = atomic_path(self.path, force=self.force)
        self._tmp = self._ctx.__enter__()
        return self

    def write(self, frame) -> None:
        """Append one 2-D frame."""
        import tifffile

        frame = np.asarray(frame)
        if frame.ndim != 2:
            raise ValueError(f"TifWriter.write takes 2-D frames, got shape {frame.shape}")
        if self.dtype is None and frame.dtype.itemsize == 8 and frame.dtype.kind in "iuf":
            # Pillow cannot open 64-bit tifs; every later frame is checked against this choice
            self.dtype = np.dtype({"i": np.int32, "u": np.uint32, "f": np.float32}[frame.dtype.kind])
        if self.dtype is not None:
            _check_fits(frame, self.dtype, self.path)
            frame = frame.astype(self.dtype, copy=False)
        if self._writer is None:
            big = self._bigtiff
            if big is None:
                n = self._n_frames or 1
                big = n * frame.nbytes > _CLASSIC_TIFF_LIMIT
            self._writer = tifffile.TiffWriter(self._tmp, bigtiff=big)
            self._big = big
            self._first_shape, self._first_dtype = frame.shape, frame.dtype
        elif frame.shape != self._first_shape or frame.dtype != self._first_dtype:
            raise ValueError(f"frame {self.count} has shape/dtype {frame.shape}/{frame.dtype}, "
                             f"expected {self._first_shape}/{self._first_dtype}")
        if not self._big and (self.count + 1) * frame.nbytes > _CLASSIC_TIFF_LIMIT:
            # a classic TIFF cannot pass 4 GiB; say how to avoid it instead of failing inside tifffile
            raise ValueError(f"{self.path}: more than 4 GiB of frames for a classic TIFF; give "
                             "TifWriter(n_frames=...) or bigtiff=True")
        self._writer.write(frame, contiguous=True, **_tif_kwargs(self.pixel_size))
        self.count += 1

    def __exit__(self, exc_type, exc, tb):
        if self._writer is not None:
            self._writer.close()
        elif exc_type is None:
            # no frame written: still write a valid empty-ish file? refuse instead
            self._ctx.__exit__(ValueError, ValueError("no frames written"), None)
            raise ValueError(f"{self.path}: no frames were written")
        return self._ctx.__exit__(exc_type, exc, tb)
