"""Benchmark of start-up time (a script that prints figures; not a test).

Times, each in a fresh process and best of N runs (wall clock, warm file cache):

* ``python -c "import numpy"``: the yardstick (a bare Python that imports numpy);
* ``imagesumming --help`` and ``--version``: goal within 3x the yardstick, by importing nothing
  heavy (no pandas, matplotlib, scipy, tifffile);
* ``python -c "import imagesumming"``: the package's names are imported on first use;
* ``imagesumming info`` on a small Deep-STORM csv and on a small tif: what a command costs that
  imports only what it uses.

It also lists the heavy modules each of the first three imports (there should be none).

Usage::

    python benchmarks/bench_startup.py            # best of 7
    python benchmarks/bench_startup.py --runs 15
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("pandas", "matplotlib", "scipy", "tifffile", "h5py", "yaml", "ipywidgets", "tqdm")


def command(*args: str) -> list[str]:
    """``imagesumming ARGS`` as a user runs it: the console script beside this Python, else ``-m``."""
    script = Path(sys.executable).with_name("imagesumming")
    if script.exists():
        return [str(script), *args]
    found = shutil.which("imagesumming")
    return [found, *args] if found else [sys.executable, "-m", "imagesumming", *args]


def best_time(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return min(times)


# runs the CLI in the probe process, its output out of the way
_RUN_CLI = ("import contextlib, io\nfrom imagesumming.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['%s'])\n    except SystemExit:\n        pass")


def heavy_imports(code: str) -> list[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules} & set(%r))))" % (HEAVY,)
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return out.stdout.split()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="runs per measurement; the best counts (default: 7)")
    runs = ap.parse_args().runs

    with tempfile.TemporaryDirectory() as tmp:
        import numpy as np

        from imagesumming.io import write_tif

        csv = Path(tmp) / "small.csv"
        rows = "\n".join(f"{i},{1 + i % 10},{100.0 + i:.1f},{200.0 + i:.1f}" for i in range(1, 201))
        csv.write_text(",frame,x [nm],y [nm]\n" + rows + "\n")
        tif = write_tif(Path(tmp) / "small.tif", np.zeros((10, 64, 64), np.uint16), 100.0)

        base = best_time([sys.executable, "-c", "import numpy"], runs)
        rows = [
            ("imagesumming --help", best_time(command("--help"), runs),
             heavy_imports(_RUN_CLI % "--help")),
            ("imagesumming --version", best_time(command("--version"), runs),
             heavy_imports(_RUN_CLI % "--version")),
            ('python -c "import imagesumming"', best_time([sys.executable, "-c", "import imagesumming"], runs),
             heavy_imports("import imagesumming")),
            ("imagesumming info small.csv (200 rows)", best_time(command("info", str(csv)), runs), None),
            ("imagesumming info small.tif (10 frames)", best_time(command("info", str(tif)), runs), None),
        ]

    print(f"start-up, best of {runs} fresh processes (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    yardstick = 'python -c "import numpy"'
    print(f"  {yardstick:<42} {base * 1000:7.0f} ms   (yardstick)")
    for name, t, heavy in rows:
        extra = "" if heavy is None else ("   heavy modules: " + (", ".join(heavy) if heavy else "none"))
        print(f"  {name:<42} {t * 1000:7.0f} ms   {t / base:5.2f}x{extra}")
    ratio = rows[0][1] / base
    print(f"--help / import numpy = {ratio:.2f}x (goal <= 3x): {'met' if ratio <= 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
