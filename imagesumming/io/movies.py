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
import os
import re
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

    try:
        tif = tifffile.TiffFile(path)
        try:
            all_series = list(tif.series)
            n_pages = len(tif.pages)
        except BaseException:
            tif.close()
            raise
    except Exception as exc:  # tifffile raises several types for bad files
        raise InputError(f"not a readable tif ({_first_line(exc)})", path) from None
    try:
        broken = [m for m in collect.messages if "invalid page offset" in m or "failed to reshape" in m]
        if broken:
            raise InputError(f"tif is truncated or corrupt ({broken[0].split('>')[-1].strip()})", path)
        if not all_series:
            raise InputError("tif holds no image", path)
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
            # ImageJ/OME hyperstacks: any one axis (T, Z or C) may hold the frames, the rest must be 1
            sizes = {a: int(n) for a, n in zip(series.axes[:-2], shape[:-2]) if n != 1}
            if len(sizes) > 1:
                what = ("several channels: split them (Fiji: Image > Color > Split Channels) and give one"
                        if "C" in sizes else "frames on more than one axis: expected one axis of frames")
                raise InputError(f"tif hyperstack has {' x '.join(f'{a}={n}' for a, n in sizes.items())} "
                                 f"(axes {series.axes}), {what}", path)
            shape = (int(np.prod(shape[:-2])),) + shape[-2:]
        # a Micro-Manager OME dataset larger than 4 GB spans several files (..._1.ome.tif, ...):
        # tifffile's series holds the pages of all of them
        lost = [m.split(">")[-1].strip() for m in collect.messages if "failed to read" in m]
        multifile = bool(getattr(series, "is_multifile", False)) or bool(lost)
        # files written one page at a time (camera software, tifffile append=True) may hold one
        # series per page: all pages of one shape and dtype are the frames of one movie
        many = (len(all_series) > 1 and not tif.is_ome
                and all(s.dtype == series.dtype and tuple(s.shape[-2:]) == shape[1:] and not s.axes.endswith("S")
                        for s in all_series)
                and sum(_frames_of(s) for s in all_series) == n_pages)
        if many:
            shape = (n_pages,) + shape[1:]
        expected = _expected_frames(tif)
        if expected is not None and not many and expected > shape[0]:
            raise InputError(f"tif is truncated or corrupt: its metadata announce {expected} frames, "
                             f"{shape[0]} found", path)
        ps, source = tif_pixel_size(tif)
        dtype = series.dtype
        _check_data_in_file(tif, path)
        if not many and not multifile:
            try:
                data = tifffile.memmap(path, mode="r")
                data = data.reshape(shape)
                tif.close()
                return Movie(data, path=path, pixel_size=ps, pixel_size_source=source)
            except (ValueError, OSError):
                pass  # compressed or scattered pages: read page by page
        broken = [m for m in collect.messages if "invalid page offset" in m]
        if multifile:
            pages = series.pages
            missing = sum(p is None for p in pages)
            if missing:
                raise InputError(f"multi-file OME-TIFF: {missing} of {shape[0]} frames are in files that are "
                                 "missing or unreadable; keep all ..._N.ome.tif files of the dataset together "
                                 f"({lost[0] if lost else 'pages not found'})", path)
        else:
            # detecting the series parsed (and cached) every page, ~10 kB each: a fresh handle
            # with the cache off keeps only page offsets, whatever the length of the movie
            tif.close()
            tif = tifffile.TiffFile(path)
            pages = tif.pages
            pages.cache = False
            pages.useframes = True
        if len(pages) < shape[0] or broken:
            raise InputError(f"tif is truncated or corrupt: {shape[0]} frames expected, {len(pages)} page(s) found",
                             path)

        def reader(i):
            try:
                with _tifffile_log(), warnings.catch_warnings():
                    # pages in the other files of a multi-file OME dataset: tifffile reopens their
                    # files for each read and warns about it
                    warnings.filterwarnings("ignore", ".*reading array from closed file")
                    return pages[i].asarray()
            except Exception as exc:  # decoder errors of a damaged page: one line naming the file
                raise InputError(f"tif is corrupt: frame {i} (0-based) unreadable ({_first_line(exc)})", path) from None

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


def tif_pixel_size(tif) -> tuple[float | None, str | None]:
    """Pixel size in nm from an open ``tifffile.TiffFile``, and where it came from.

    Order: OME ``PhysicalSizeX``; ImageJ ``unit`` with the resolution tags; resolution tags with
    unit centimetre or inch. A resolution of 1 with no unit (tifffile's default) means unknown, and
    so do damaged tags.
    """
    try:
        return _tif_pixel_size(tif)
    except (ValueError, TypeError, ArithmeticError, KeyError, IndexError, AttributeError):
        return None, None


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
