"""Benchmark of imagesumming.summing (a script that prints figures; not a test).

1. The original ImageSumming workload: 50 frames of 512 x 512 px (uint16), ~5,700 localizations,
   200 patches of 30 px, 100 summed frames, k = 10. Goal: end to end (read the files, sum, write
   the four outputs; excluding interpreter start) >= 500x faster than the original's
   ``GetPatches.create_patches`` (search + sum only, on a movie and table already in memory). With
   ``--original PATH`` (or ``IMAGESUMMING_ORIGINAL``) naming the original's wheel
   (ImageSumming-221116-py3-none-any.whl from github.com/HeilemannLab/ImageSumming) or the folder
   holding its ``ImageBinner`` package, the original's code runs in the same process on the same
   movie and localizations (its progress bars disabled; seaborn, used only by its plots, stubbed
   when absent); without it the ratio uses its documented 8.7 s.
2. Scale: a 20,000-frame 256 x 256 uint16 tif (~2.6 GB, written streaming into a temporary folder and
   deleted afterwards) with ~1 M localizations; 10,000 source patches, 5,000 summed frames. Reports the
   wall time and the peak anonymous memory (RssAnon, sampled from /proc/self/status in a thread;
   memory-mapped movie pages are file-backed and do not count) of ``sum_patches`` + ``save`` in a fresh
   process, and the I/O floor measured in the same run, also in a fresh process: parse the same
   localization file (pandas.read_csv), read the same patch windows from a memory map, write the same
   output tif and csv, nothing else. Goals: time within 2x the floor; peak RssAnon below the output
   size + 300 MB.

Usage::

    python benchmarks/bench_summing.py                 # both parts, full scale
    python benchmarks/bench_summing.py --frames 2000   # quick run of part 2
    python benchmarks/bench_summing.py --skip-scale    # part 1 only
    python benchmarks/bench_summing.py --skip-scale --original ImageSumming-221116-py3-none-any.whl
    python benchmarks/bench_summing.py --skip-scale --original ... --repeats-original-code 2 --repeats-original 40
        # the README's figures: our runs in blocks before, between and after the original's two runs
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
from _memory import MB, PeakMemory  # benchmarks/_memory.py (benchmarks/ is on sys.path when run as a script)

# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


SHARED = Path(os.environ.get("IMAGESUMMING_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def original_workload(folder: Path):
    """50 frames 512x512 uint16 with ~5,700 localizations, as the original's example.

    With the shared reference data present, the localizations are the original's own example set
    (DNAPAINT_localizations.csv, 5,744 localizations in 50 frames; its movie is not public) and the
    movie is rendered at their positions; otherwise both are simulated.
    """
    from imagesumming.io import read_locs, write_deepstorm_csv, write_tif
    from imagesumming.synthetic import render_emitters, simulate_movie

    real = SHARED / "deepstorm" / "DNAPAINT_localizations.csv"
    if real.is_file():
        truth, _ = read_locs(real)
        rng = np.random.default_rng(0)
        movie = np.empty((50, 512, 512), np.uint16)
        for f in range(50):
            sel = truth[truth["frame"] == f + 1]
            expected = 20 + render_emitters(sel["x"], sel["y"], sel["photons"], height=512, width=512,
                                            pixel_size=107.0, psf_sigma=130.0)
            movie[f] = np.clip(100 + rng.poisson(expected), 0, 65535)
        source = f"the original's localizations ({real.name}), movie rendered at them"
    else:
        movie, truth = simulate_movie(n_frames=50, height=512, width=512, pixel_size=107.0,
                                      emitters_per_frame=114, seed=0)
        source = "simulated movie and localizations"
    write_tif(folder / "orig.tif", movie, 107.0)
    write_deepstorm_csv(folder / "orig.csv", truth)
    return folder / "orig.tif", folder / "orig.csv", len(truth), source


#: The original's create_patches on this workload, as documented (no copy of its code at hand).
ORIGINAL_DOCUMENTED_S = 8.7


def time_original(path: Path, movie_path: Path, locs_path: Path, repeats: int, first: int = 0) -> list:
    """Seconds of the original's ``GetPatches().create_patches`` with the notebook's defaults.

    ``path`` is the original's wheel or the folder holding its ``ImageBinner`` package; its module
    is imported from there (nothing of it is copied). The movie and the Deep-STORM csv are loaded
    as its notebook does (tifffile, pandas), untimed.
    """
    import random

    import pandas as pd
    import tifffile
    import tqdm.std

    sys.path.insert(0, str(path))
    try:
        import seaborn  # noqa: F401  (its plots only)
    except ImportError:
        sys.modules["seaborn"] = types.ModuleType("seaborn")
    from ImageBinner.tools import imageBinner

    imageBinner.tqdm = functools.partial(tqdm.std.tqdm, disable=True)  # as ours runs: no bars
    movie = tifffile.imread(movie_path)
    locs = pd.read_csv(locs_path, index_col=0)
    times = []
    for i in range(first, first + repeats):
        np.random.seed(i)
        random.seed(i)
        patches = imageBinner.GetPatches()
        t0, c0 = time.perf_counter(), time.process_time()
        patches.create_patches(200, [movie], [locs], 30, 100, 10, 2, 107.0, 100)
        times.append((time.perf_counter() - t0, time.process_time() - c0))
        assert len(patches.random_locs_binned) == 100
    return times


def scale_workload(folder: Path, n_frames: int, per_frame: float = 50.0, size: int = 256, seed: int = 0):
    """A big uint16 movie written frame by frame (TifWriter) and its Deep-STORM csv.

    Pixel values: a cycled set of noise frames plus a 7x7 Gaussian spot per emitter (what the pixels
    hold does not change the timing; generating them must stay fast).
    """
    import pandas as pd

    from imagesumming.io import TifWriter
    from imagesumming.schema import make_locs

    ps = 107.0
    rng = np.random.default_rng(seed)
    noise = (100 + rng.poisson(20, (16, size, size))).astype(np.uint16)
    yy, xx = np.mgrid[-3:4, -3:4]
    counts = rng.poisson(per_frame, n_frames)
    n = int(counts.sum())
    frame = np.repeat(np.arange(1, n_frames + 1), counts)
    x = rng.uniform(0, size * ps, n)
    y = rng.uniform(0, size * ps, n)
    photons = 300 + rng.exponential(1700, n)
    cx, cy = np.floor(x / ps).astype(int), np.floor(y / ps).astype(int)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    with TifWriter(folder / "big.tif", ps, n_frames=n_frames) as w:
        for f in range(n_frames):
            img = noise[f % 16].astype(np.float32)
            s = slice(bounds[f], bounds[f + 1])
            px = np.clip(cx[s, None, None] + xx, 0, size - 1)
            py = np.clip(cy[s, None, None] + yy, 0, size - 1)
            val = photons[s, None, None] * 0.1 * np.exp(-(xx ** 2 + yy ** 2) / 3.0)
            np.add.at(img, (py.ravel(), px.ravel()), val.ravel())
            w.write(np.minimum(img, 65535).astype(np.uint16))
    table = make_locs({"frame": frame, "x": x, "y": y, "photons": photons, "sigma": np.full(n, 130.0)})
    from imagesumming.io import write_deepstorm_csv

    write_deepstorm_csv(folder / "big.csv", table)
    del table, pd
    return folder / "big.tif", folder / "big.csv", n


# ---------------------------------------------------------------------------------------------
# children (fresh processes, so that memory figures hold only what they measure)
# ---------------------------------------------------------------------------------------------


def child_sum(folder: Path, n_patches: int, n_summed: int, out: Path) -> dict:
    from imagesumming.summing import sum_patches

    with PeakMemory() as mem:
        t0 = time.perf_counter()
        res = sum_patches(folder / "big.tif", folder / "big.csv", n_patches=n_patches, n_summed=n_summed,
                          seed=1, progress=False)
        t1 = time.perf_counter()
        paths = res.save(out, name="summed")
        t2 = time.perf_counter()
    pt = res.patch_table
    np.save(out / "windows.npy", np.stack([pt["frame"].to_numpy() - 1, pt["row"].to_numpy(), pt["col"].to_numpy()]))
    return {"time": t2 - t0, "time_sum": t1 - t0, "time_save": t2 - t1, "start_anon_mb": mem.start_anon / MB,
            "peak_anon_mb": mem.peak_anon / MB, "peak_file_mb": mem.peak_file / MB,
            "output_mb": (paths["tif"].stat().st_size + paths["csv"].stat().st_size) / 2**20,
            "localizations_out": len(res.locs), "attempts": res.params["search"]["attempts"],
            "movie_mb": (folder / "big.tif").stat().st_size / 2**20}


def child_floor(folder: Path, out: Path) -> dict:
    import pandas as pd
    import tifffile

    from imagesumming.io import write_tif

    f, r, c = np.load(out / "windows.npy")
    frames = tifffile.imread(out / "summed.tif")
    table = pd.read_csv(out / "summed.csv", index_col=0)
    P = frames.shape[1]
    ar = np.arange(P)
    floor_dir = out / "floor"
    floor_dir.mkdir(exist_ok=True)
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        locs = pd.read_csv(folder / "big.csv", index_col=0)
        t1 = time.perf_counter()
        movie = tifffile.memmap(folder / "big.tif", mode="r")
        windows = movie[f[:, None, None], (r[:, None] + ar)[:, :, None], (c[:, None] + ar)[:, None, :]]
        t2 = time.perf_counter()
        write_tif(floor_dir / "summed.tif", frames, 107.0, force=True)
        table.to_csv(floor_dir / "summed.csv")
        t3 = time.perf_counter()
    assert len(locs) and windows.shape == (len(f), P, P)
    return {"time": t3 - t0, "parse": t1 - t0, "windows": t2 - t1, "write": t3 - t2,
            "peak_anon_mb": mem.peak_anon / MB}


def _spawn(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, *map(str, args)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"child {args[:2]} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# parts
# ---------------------------------------------------------------------------------------------


def part1(tmp: Path, repeats: int, original: Path | None = None, original_repeats: int = 1) -> dict:
    from imagesumming.io import open_movie, read_locs
    from imagesumming.summing import sum_patches

    movie_path, locs_path, n_locs, source = original_workload(tmp)
    times, cpu, compute, blocks = [], [], [], []
    runs = iter(range(repeats + 1))

    def ours(n: int):
        """``n`` end-to-end runs (the very first one, which warms caches and imports, not counted)."""
        nonlocal res
        block = []
        for i in itertools.islice(runs, n):
            out = tmp / f"o{i}"
            t0, c0 = time.perf_counter(), time.process_time()
            res = sum_patches(movie_path, locs_path, seed=i, progress=False)
            res.save(out)
            t1, c1 = time.perf_counter(), time.process_time()
            if i:
                times.append(t1 - t0)
                cpu.append(c1 - c0)
                block.append(t1 - t0)
        blocks.append(block)

    res = None
    # a machine shared with other work drifts over seconds: with the original run here, our runs are
    # split into blocks before, between and after its runs, so that both see the same conditions
    n_blocks = original_repeats + 1 if original is not None else 1
    ours(repeats // n_blocks + 1)
    orig_times = []
    for b in range(1, n_blocks):
        orig_times += time_original(original, movie_path, locs_path, 1, first=b - 1)
        ours(repeats // n_blocks if b < n_blocks - 1 else repeats)
    movie = open_movie(movie_path)
    locs, _ = read_locs(locs_path)
    stats = []
    for i in range(repeats):
        t0 = time.perf_counter()
        res_i = sum_patches(movie, locs, seed=i, progress=False)
        compute.append(time.perf_counter() - t0)
        res_i.background  # noqa: B018  (computes and caches the statistics)
        stats.append(time.perf_counter() - t0 - compute[-1])
    floor = []
    for i in range(repeats):  # the same I/O with nothing else: parse, read the windows, write tif + csv
        import pandas as pd
        import tifffile

        from imagesumming.io import write_tif

        pt = res.patch_table
        f, r, c = pt["frame"].to_numpy() - 1, pt["row"].to_numpy(), pt["col"].to_numpy()
        ar = np.arange(30)
        table = pd.read_csv(tmp / "o0" / "summed.csv", index_col=0)
        t0 = time.perf_counter()
        pd.read_csv(locs_path, index_col=0)
        mm = tifffile.memmap(movie_path, mode="r")
        mm[f[:, None, None], (r[:, None] + ar)[:, :, None], (c[:, None] + ar)[:, None, :]]
        write_tif(tmp / f"floor{i}.tif", res.frames, 107.0)
        table.to_csv(tmp / f"floor{i}.csv")
        floor.append(time.perf_counter() - t0)
    med, med_compute = statistics.median(times), statistics.median(compute)
    orig_cpu = None
    if original is not None:
        orig = statistics.median(t for t, _ in orig_times)
        orig_cpu = statistics.median(c for _, c in orig_times)
        orig_text = (f"the original's create_patches measured in this run ({original.name}): "
                     f"{', '.join(format(t, '.2f') for t, _ in orig_times)} s wall, "
                     f"{', '.join(format(c, '.2f') for _, c in orig_times)} s CPU")
    else:
        orig = ORIGINAL_DOCUMENTED_S
        orig_text = (f"the original's create_patches: its documented {orig} s (not run here: give --original "
                     "with the original's wheel to measure it in the same run)")
    print("\n== 1. the original's workload: 50 frames 512x512 uint16, "
          f"{n_locs} localizations, 200 patches of 30 px, 100 summed, k = 10\n   ({source})")
    print(f"end to end (read tif + csv, search, sum, write tif/csv/provenance/json): median {med * 1e3:.1f} ms, "
          f"best {min(times) * 1e3:.1f} ms over {repeats} runs"
          + (f" (medians of the blocks before, between and after the original's runs: "
             f"{', '.join(format(statistics.median(b) * 1e3, '.1f') for b in blocks if b)} ms)" if n_blocks > 1 else ""))
    print(f"sum_patches alone on an open movie and table: median {med_compute * 1e3:.1f} ms, "
          f"best {min(compute) * 1e3:.1f} ms")
    print(f"background statistics (computed when the summary or a figure shows them): median "
          f"{statistics.median(stats) * 1e3:.1f} ms")
    print(f"I/O floor (parse the csv, read the windows from a memmap, write the tif and csv): median "
          f"{statistics.median(floor) * 1e3:.1f} ms, best {min(floor) * 1e3:.1f} ms")
    print(orig_text)
    print(f"speed-up vs the original's create_patches ({orig:.2f} s): {orig / med:.0f}x end to end (goal >= 500x), "
          f"{orig / med_compute:.0f}x for the summing itself")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if load > (os.cpu_count() or 1):
        print(f"note: load average {load:.1f} on {os.cpu_count()} CPU(s): other work competes, wall times are "
              "inflated (a ms-long run more than a s-long one); the CPU-time ratio below holds better")
    if orig_cpu is not None:  # on a machine shared with other work: best against best, and CPU time
        best_orig = min(t for t, _ in orig_times)
        print(f"best against best: ours {min(times) * 1e3:.1f} ms, the original {best_orig:.2f} s: "
              f"{best_orig / min(times):.0f}x end to end")
        print(f"in CPU time: ours end to end median {statistics.median(cpu) * 1e3:.1f} ms, the original "
              f"{orig_cpu:.2f} s: {orig_cpu / statistics.median(cpu):.0f}x")
    return {"end_to_end_ms": med * 1e3, "compute_ms": med_compute * 1e3, "speedup": orig / med,
            "floor_ms": statistics.median(floor) * 1e3, "original_s": orig}


def part2(tmp: Path, n_frames: int, n_patches: int, n_summed: int, repeats: int) -> dict:
    need = n_frames * 256 * 256 * 2 * 1.1 + 200e6
    free = shutil.disk_usage(tmp).free
    if free < need:
        print(f"\n== 2. scale: skipped, {free / 1e9:.1f} GB free in {tmp}, need {need / 1e9:.1f} GB "
              "(use --frames)")
        return {}
    t0 = time.perf_counter()
    _, _, n_locs = scale_workload(tmp, n_frames)
    gen = time.perf_counter() - t0
    runs, floors = [], []
    for i in range(repeats):
        out = tmp / f"scale{i}"
        out.mkdir()
        runs.append(_spawn("--child", "sum", tmp, n_patches, n_summed, out))
        floors.append(_spawn("--child", "floor", tmp, out))
    best = min(runs, key=lambda r: r["time"])
    floor = min(floors, key=lambda r: r["time"])
    ratio = best["time"] / floor["time"]
    budget = best["output_mb"] + 300
    print(f"\n== 2. scale: {n_frames} frames 256x256 uint16 ({best['movie_mb']:.0f} MiB tif), {n_locs} "
          f"localizations, {n_patches} source patches, {n_summed} summed (k = 10) [data written in {gen:.0f} s]")
    print(f"ours: {best['time']:.2f} s (sum_patches {best['time_sum']:.2f} s + save {best['time_save']:.2f} s), "
          f"{best['attempts']} candidate windows, {best['localizations_out']} output localizations "
          f"(best of {repeats}; all: {', '.join(format(r['time'], '.2f') for r in runs)} s)")
    print(f"I/O floor: {floor['time']:.2f} s (parse csv {floor['parse']:.2f} s, read windows from memmap "
          f"{floor['windows']:.2f} s, write tif + csv {floor['write']:.2f} s)")
    print(f"ratio to the floor: {ratio:.2f}x (goal <= 2x)")
    print(f"peak RssAnon: {best['peak_anon_mb']:.0f} MiB (at start, after imports: {best['start_anon_mb']:.0f} MiB); "
          f"output {best['output_mb']:.1f} MiB; budget output + 300 = {budget:.0f} MiB -> "
          f"{'met' if best['peak_anon_mb'] < budget else 'MISSED'}; peak RssFile {best['peak_file_mb']:.0f} MiB "
          f"of a {best['movie_mb']:.0f} MiB movie (memory-mapped pages touched)")
    print(f"floor's peak RssAnon: {floor['peak_anon_mb']:.0f} MiB")
    return {"ours": best, "floor": floor, "ratio": ratio}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20_000, help="frames of the scale movie (default: %(default)s)")
    ap.add_argument("--patches", type=int, default=10_000)
    ap.add_argument("--summed", type=int, default=5_000)
    ap.add_argument("--repeats", type=int, default=3, help="runs of part 2 (best is reported)")
    ap.add_argument("--repeats-original", type=int, default=20, help="runs of part 1 (median and best)")
    ap.add_argument("--original", type=Path, default=os.environ.get("IMAGESUMMING_ORIGINAL") or None,
                    help="the original ImageSumming wheel (or the folder holding its ImageBinner package): "
                         "runs its create_patches in the same run (default: $IMAGESUMMING_ORIGINAL)")
    ap.add_argument("--repeats-original-code", type=int, default=1,
                    help="runs of the original's create_patches (median; each takes seconds)")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-original", action="store_true")
    ap.add_argument("--tmp", default=None, help="folder for the temporary data (default: system temp)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        kind, rest = args.child[0], args.child[1:]
        if kind == "sum":
            res = child_sum(Path(rest[0]), int(rest[1]), int(rest[2]), Path(rest[3]))
        else:
            res = child_floor(Path(rest[0]), Path(rest[1]))
        print(json.dumps(res))
        return 0
    import imagesumming

    print(f"imagesumming {imagesumming.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPU(s)")
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="bench_summing_") as tmp:
        if not args.skip_original:
            d = Path(tmp) / "orig"
            d.mkdir()
            part1(d, repeats=args.repeats_original, original=args.original and Path(args.original),
                  original_repeats=args.repeats_original_code)
        if not args.skip_scale:
            d = Path(tmp) / "scale"
            d.mkdir()
            part2(d, args.frames, args.patches, args.summed, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
