"""Benchmark of lazy movie reading (a script that prints figures; not a test).

Writes a ~1 GB uint16 tif into a temporary folder (streaming, with :class:`imagesumming.io.TifWriter`),
then, in a fresh process, opens it with :func:`imagesumming.io.open_movie`, reads 10 frames spread
over the movie and prints the time and the peak anonymous memory (RssAnon, sampled from
/proc/self/status in a thread; memory-mapped file pages are file-backed and do not count). Goal:
peak RssAnon far below the file size (the whole movie is never loaded).

Two layouts are measured: a contiguous tif (memory-mapped) and a tif whose pages are written one at a
time with their IFDs in between (as camera software does; read page by page). Then a long movie of
small frames (default 20 000 frames of 64x64 px, both layouts): opening reads every page's header
(a movie is a stack of equal pages) and must stay fast; its open time is printed.

Usage::

    python benchmarks/bench_movies.py               # 1 GB per layout
    python benchmarks/bench_movies.py --size-gb 0.2 # quicker
    python benchmarks/bench_movies.py --size-gb 0 --long 100000  # only the long movie, 100 000 frames
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


from _memory import MB, PeakMemory  # noqa: E402  (benchmarks/ is on sys.path when run as a script)


def write_movie(path: Path, n_frames: int, shape, contiguous: bool) -> None:
    import tifffile

    from imagesumming.io import TifWriter

    rng = np.random.default_rng(0)
    base = rng.integers(90, 4000, shape, dtype=np.uint16)
    if contiguous:
        with TifWriter(path, pixel_size=107.0, n_frames=n_frames) as w:
            for i in range(n_frames):
                w.write(np.roll(base, i, axis=1))
    else:
        # one IFD per page between the pixel data, no shaped metadata: not memory-mappable
        with tifffile.TiffWriter(path, bigtiff=True) as tw:
            for i in range(n_frames):
                tw.write(np.roll(base, i, axis=1), photometric="minisblack", contiguous=False, metadata=None)


def child(path: str) -> None:
    """Runs in a fresh process: open, read 10 frames, report figures as JSON."""
    import imagesumming.io as sio  # import first so that the import is not counted

    with PeakMemory() as mem:
        t0 = time.perf_counter()
        with sio.open_movie(path) as m:
            t_open = time.perf_counter() - t0
            idx = np.linspace(0, m.n_frames - 1, 10).astype(int)
            t1 = time.perf_counter()
            checksum = int(sum(int(m[int(i)].sum()) for i in idx))
            t_read = time.perf_counter() - t1
            info = dict(frames=m.n_frames, shape=m.shape, memmapped=m.memmapped)
    baseline, peak = mem.start_anon / MB, mem.peak_anon / MB
    print(json.dumps(dict(info, baseline_mb=baseline, peak_mb=peak, open_s=t_open, read10_s=t_read,
                          checksum=checksum)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-gb", type=float, default=1.0, help="file size per layout (default 1)")
    ap.add_argument("--long", type=int, default=20000, metavar="N",
                    help="frames of the long movie of 64x64 px frames (default 20000; 0: skip)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    runs = []
    if args.size_gb > 0:
        shape = (512, 512)
        n_frames = max(10, int(args.size_gb * 2**30 / (shape[0] * shape[1] * 2)))
        runs += [(shape, n_frames, True, "contiguous.tif"), (shape, n_frames, False, "pages.tif")]
    if args.long > 0:
        runs += [((64, 64), args.long, True, "long_contiguous.tif"), ((64, 64), args.long, False, "long_pages.tif")]
    with tempfile.TemporaryDirectory(prefix="bench_movies_") as d:
        for shape, n_frames, contiguous, name in runs:
            path = Path(d) / name
            t0 = time.perf_counter()
            write_movie(path, n_frames, shape, contiguous)
            t_write = time.perf_counter() - t0
            size_mb = path.stat().st_size / 2**20
            res = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True,
                                 text=True)
            if res.returncode:
                sys.exit(f"reading {path.name} failed:\n{res.stderr}")
            r = json.loads(res.stdout.strip().splitlines()[-1])
            layout = "contiguous (memory-mapped)" if r["memmapped"] else "page by page"
            print(f"{path.name}: {r['frames']} frames of {shape[1]}x{shape[0]} uint16, {size_mb:,.0f} MB "
                  f"written in {t_write:.1f} s; read as {layout}")
            print(f"  open {r['open_s'] * 1000:.1f} ms, 10 frames read in {r['read10_s'] * 1000:.1f} ms")
            print(f"  RssAnon: {r['baseline_mb']:.1f} MB after import, peak {r['peak_mb']:.1f} MB "
                  f"(+{r['peak_mb'] - r['baseline_mb']:.1f} MB = "
                  f"{100 * (r['peak_mb'] - r['baseline_mb']) / size_mb:.2f} % of the file)")
            path.unlink()


if __name__ == "__main__":
    main()
