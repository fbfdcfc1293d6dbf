"""Benchmark: accuracy of the density estimate, and its time and memory on a long dense movie.

1. Accuracy table: a low-density calibration movie (0.2 emitters/µm², background 20 photons/px)
   and dense movies of the same simulator (same PSF, photons, camera) at several densities and
   backgrounds (1x, 1.5x, 2x the calibration's); true density (localizations / frame area) against
   the estimate, mean over ``--seeds`` dense movies, with the worst relative error; then
   backgrounds that vary across the frame (a ramp and a dome, 20 -> 40 photons/px).
2. Streaming: a dense movie of ``--frames`` frames (default 10,000 of 128 x 128 px uint16, written
   frame by frame by cycling 50 simulated frames) estimated from its tif path; wall time and peak
   ``RssAnon`` (the process's own memory; memory-mapped pages are file cache and do not count).

Usage::

    python benchmarks/bench_density.py                 # both parts
    python benchmarks/bench_density.py --frames 2000   # a shorter movie
    python benchmarks/bench_density.py --no-stream     # the accuracy table only
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _memory import MB, PeakMemory, status_bytes  # benchmarks/ is on sys.path when run as a script

from imagesumming.density import calibrate, estimate_density
from imagesumming.io import Movie, TifWriter
from imagesumming.synthetic import simulate_movie

PS = 107.0


def accuracy(size, frames, seeds, densities, backgrounds):
    low, locs = simulate_movie(n_frames=200, height=size, width=size, pixel_size=PS, density=0.2, seed=1)
    cal = calibrate(Movie(low, pixel_size=PS), locs, progress=False)
    print(f"calibration: {len(locs)} localizations in 200 frames of {size}x{size} px, "
          f"{cal.signal_per_loc_adu:.0f} ± {cal.signal_per_loc_se / cal.pixel_area:.0f} ADU per localization, "
          f"fit intercept {cal.intercept:+.3f} /µm²")
    print(f"dense movies: {frames} frames of {size}x{size} px, {seeds} seeds each\n")
    print(f"{'background':>10} {'true /µm²':>10} {'estimate':>10} {'error':>8} {'worst':>8} {'± (1 sd)':>9} "
          f"{'bg err ADU':>11} {'noise ADU':>10}")
    for bg in backgrounds:
        for d in densities:
            true, est, unc, bgerr, noise = [], [], [], [], []
            for s in range(seeds):
                m, l = simulate_movie(n_frames=frames, height=size, width=size, pixel_size=PS, density=d,
                                      background=bg * 20.0, seed=1000 + s)
                r = estimate_density(m, cal, progress=False)
                true.append(len(l) / (frames * (size * PS / 1000) ** 2))
                est.append(r.density)
                unc.append(r.uncertainty)
                bgerr.append(r.background - 100 - bg * 20.0)
                noise.append(r.background_noise)
            true, est = np.array(true), np.array(est)
            if d > 0:
                rel = est / true - 1
                err, worst = f"{rel.mean():+8.1%}", f"{rel[np.argmax(abs(rel))]:+8.1%}"
            else:
                err, worst = f"{est.mean():+8.3f}", f"{est[np.argmax(abs(est))]:+8.3f}"
            print(f"{bg:>9g}x {true.mean():10.3f} {est.mean():10.3f} {err} {worst} {np.mean(unc):9.3f} "
                  f"{np.mean(bgerr):+11.2f} {np.mean(noise):10.2f}")
    return cal


def profiles(cal, sizes=(64, 128), densities=(0.5, 1.0, 4.0), frames=16):
    """Backgrounds that vary across the frame: a ramp and a dome from 20 to 40 photons/px."""
    print(f"\nbackground varying across the frame (20 -> 40 photons/px), {frames} frames, error of the estimate:")
    print(f"{'profile':>8} {'frame px':>9} " + " ".join(f"{d:>8g}/µm²" for d in densities))
    for size in sizes:
        yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
        for name, bg in (("ramp", 20 + 20 * xx), ("dome", 20 + 20 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.18))):
            errs = []
            for d in densities:
                m, l = simulate_movie(n_frames=frames, height=size, width=size, pixel_size=PS, density=d, background=bg,
                                      seed=12)
                r = estimate_density(m, cal, progress=False)
                errs.append(r.density / (len(l) / (frames * (size * PS / 1000) ** 2)) - 1)
            print(f"{name:>8} {size:>9} " + " ".join(f"{e:>+12.1%}" for e in errs))


def stream(cal, frames, size, folder):
    path = Path(folder) / "dense.tif"
    block, _ = simulate_movie(n_frames=50, height=size, width=size, pixel_size=PS, density=3.0, seed=7)
    with TifWriter(path, pixel_size=PS, n_frames=frames) as w:
        for i in range(frames):
            w.write(block[i % len(block)])
    del block
    mib = path.stat().st_size / MB
    before = status_bytes("RssAnon")
    with PeakMemory() as mem:
        t = time.perf_counter()
        r = estimate_density(path, cal, progress=False)
        dt = time.perf_counter() - t
    print(f"\nstreamed: {frames} frames of {size}x{size} px ({mib:.0f} MiB tif): {dt:.1f} s "
          f"({1e3 * dt / frames:.2f} ms/frame), density {r.density:.3f} ± {r.uncertainty:.3f} /µm²")
    print(f"peak RssAnon {mem.peak_anon / MB:.0f} MiB (+{(mem.peak_anon - before) / MB:.1f} MiB for the estimate; "
          f"the tif is {mib:.0f} MiB), peak RssFile {mem.peak_file / MB:.0f} MiB")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=64, help="frame size of the accuracy table (px)")
    ap.add_argument("--dense-frames", type=int, default=20, help="frames per dense movie of the table")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=10000, help="frames of the streamed movie")
    ap.add_argument("--stream-size", type=int, default=128, help="frame size of the streamed movie (px)")
    ap.add_argument("--no-stream", action="store_true")
    ap.add_argument("--dir", help="folder for the streamed movie (default: a temporary one)")
    a = ap.parse_args(argv)
    cal = accuracy(a.size, a.dense_frames, a.seeds, (0.0, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0), (1.0, 1.5, 2.0))
    profiles(cal)
    if not a.no_stream:
        with tempfile.TemporaryDirectory(dir=a.dir) as d:
            stream(cal, a.frames, a.stream_size, d)


if __name__ == "__main__":
    main()
