"""Benchmark: split, merge and sum-frames of a large movie stream (memory stays far below its size).

Writes a synthetic uint16 movie (default 16,000 frames of 256 x 128 px = 1.05 GB) with a
Deep-STORM csv of 5 localizations per frame, then runs split (at the middle), merge (of the two
parts) and sum-frames (N = 4) on it, timing each and sampling the process's anonymous resident
memory (``RssAnon`` in /proc/self/status: heap and arrays; memory-mapped file pages are
``RssFile`` and can be dropped by the kernel at any time) every 5 ms in a thread.

Usage::

    python benchmarks/bench_addons.py                   # ~1 GB movie in a temporary folder
    python benchmarks/bench_addons.py --frames 2000     # smaller
    python benchmarks/bench_addons.py --dir /scratch --keep
    python benchmarks/bench_addons.py --compressed      # zlib tif: read page by page, not memory-mapped

``frames`` runs on a separate movie of ``--single-frames`` frames (default 2,000): one tif and one
csv per frame is bound by file creation, not by memory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _memory import MB, PeakMemory  # benchmarks/ is on sys.path when run as a script

from imagesumming.addons import merge_movies, split_frames, split_movie, sum_frames
from imagesumming.io import TifWriter, open_movie, write_locs
from imagesumming.schema import make_locs


def write_movie(path, frames, height, width, seed=0, compressed=False):
    """A synthetic movie written frame by frame (never held whole) and a table of 5 rows per frame."""
    rng = np.random.default_rng(seed)
    if compressed:  # pages a reader must decode one by one (as from some camera software)
        import tifffile

        with tifffile.TiffWriter(path) as w:
            for _ in range(frames):
                w.write(rng.integers(90, 60000, size=(height, width), dtype=np.uint16), compression="zlib",
                        photometric="minisblack", resolution=(1e5, 1e5), resolutionunit="CENTIMETER")
    else:
        with TifWriter(path, pixel_size=100.0, n_frames=frames) as w:
            for _ in range(frames):
                w.write(rng.integers(90, 60000, size=(height, width), dtype=np.uint16))
    k = 5 * frames
    return make_locs({"frame": np.repeat(np.arange(1, frames + 1), 5), "x": rng.uniform(0, width * 100.0, k),
                      "y": rng.uniform(0, height * 100.0, k), "photons": rng.uniform(500, 5000, k),
                      "sigma": rng.uniform(100, 150, k)})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=16000)
    ap.add_argument("--height", type=int, default=128)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--single-frames", type=int, default=2000, metavar="K",
                    help="frames of the (separate) movie written as single frames (default: %(default)s; 0: skip)")
    ap.add_argument("--dir", help="working folder (default: a temporary folder, removed afterwards)")
    ap.add_argument("--keep", action="store_true", help="keep the files")
    ap.add_argument("--compressed", action="store_true",
                    help="write the big movie zlib-compressed, so that the add-ons read it page by page")
    args = ap.parse_args(argv)
    if args.frames < 2:
        ap.error("--frames must be at least 2")

    tmp = None if args.dir else tempfile.TemporaryDirectory(prefix="bench-addons-")
    work = Path(args.dir or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    try:
        movie, csv = work / "big.tif", work / "big.csv"
        t0 = time.perf_counter()
        with PeakMemory() as mem:
            locs = write_movie(movie, args.frames, args.height, args.width, compressed=args.compressed)
            write_locs(csv, locs, "deepstorm")
            del locs
        size = args.frames * args.height * args.width * 2  # pixel data (the file is smaller when compressed)
        with open_movie(movie) as m:
            how = "memory-mapped" if m.memmapped else "read page by page"
        print(f"movie: {args.frames} frames of {args.width} x {args.height} px uint16 = {size / MB:,.0f} MiB "
              f"({size / 1e9:.2f} GB), {5 * args.frames:,} localizations; written in "
              f"{time.perf_counter() - t0:.1f} s, peak RssAnon {mem.peak_anon / MB:,.0f} MiB; {how}")
        half = args.frames // 2
        stages = [
            ("split", lambda: split_movie(movie, csv, at=half, out_dir=work / "parts", progress=False)),
            ("merge", lambda: merge_movies([work / "parts/big_part1.tif", work / "parts/big_part2.tif"],
                                           [work / "parts/big_part1.csv", work / "parts/big_part2.csv"],
                                           output=work / "merged", progress=False)),
            ("sum-frames N=4", lambda: sum_frames(movie, csv, n=4, camera_offset=100, output=work / "summed",
                                                  progress=False)),
        ]
        if args.single_frames:
            small, small_csv = work / "small.tif", work / "small.csv"
            write_locs(small_csv, write_movie(small, args.single_frames, args.height, args.width), "deepstorm")
            stages.append((f"frames ({args.single_frames})",
                           lambda: split_frames(small, small_csv, out_dir=work / "frames", progress=False)))
        print(f"{'step':<16}{'wall time':>11}{'peak RssAnon':>15}{'(+ over start)':>16}"
              f"{'peak VmRSS':>13}   (movie {size / MB:,.0f} MiB)")
        for name, run in stages:
            t0 = time.perf_counter()
            with PeakMemory() as mem:
                result = run()
            dt = time.perf_counter() - t0
            print(f"{name:<16}{dt:>9.1f} s{mem.peak_anon / MB:>11,.0f} MiB"
                  f"{(mem.peak_anon - mem.start_anon) / MB:>12,.0f} MiB{mem.peak_rss / MB:>9,.0f} MiB")
            print(f"  {result.summary()}")
        with open_movie(movie) as a, open_movie(work / "merged.tif") as b:  # spot check: bit for bit
            idx = np.linspace(0, args.frames - 1, 50).astype(int)
            assert all(np.array_equal(a[i], b[i]) for i in idx), "merged movie differs from the input"
        print("merged movie equals the input at 50 spot-checked frames")
    finally:
        if tmp is not None and not args.keep:
            tmp.cleanup()


if __name__ == "__main__":
    main()
