"""Findings of a newcomer's attack on output sets, movies and the notebook cell (each failed before its fix)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from imagesumming._files import output_set
from imagesumming.cli import main
from imagesumming.io import write_locs, write_tif


def test_a_failed_run_removes_only_the_empty_folders_it_made(tmp_path):
    """A run into results/a that fails (or is interrupted with Ctrl-C) must not delete what another
    command wrote meanwhile into results/, a folder the failed run had made."""
    results = tmp_path / "results"
    with pytest.raises(RuntimeError, match="boom"):
        with output_set([results / "a" / "x.txt"]) as stage:
            (results / "b").mkdir()
            (results / "b" / "other_run.tif").write_text("another command's output")
            (results / "mine.csv").write_text("written by convert meanwhile")
            stage(results / "a" / "x.txt").write_text("x")
            raise RuntimeError("boom")
    assert (results / "b" / "other_run.tif").read_text() == "another command's output"
    assert (results / "mine.csv").exists()
    assert not (results / "a").exists()  # the folder made for the failed run, empty, is gone


def test_a_failed_run_into_new_folders_leaves_nothing(tmp_path):
    deep = tmp_path / "new" / "sub" / "out"
    with pytest.raises(RuntimeError):
        with output_set([deep / "x.txt"]) as stage:
            stage(deep / "x.txt").write_text("x")
            raise RuntimeError("boom")
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process")
def test_ctrl_c_on_sum_keeps_files_another_command_wrote_beside_it(tmp_path, small_movie):
    movie, truth = small_movie
    tif = write_tif(tmp_path / "m.tif", movie, 100.0)
    csv = write_locs(tmp_path / "m.csv", truth, "deepstorm")
    results = tmp_path / "results"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # a run long enough to be interrupted while it sums (it holds its folder from the start)
    cmd = [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
           "from imagesumming.cli import main; sys.exit(main(sys.argv[1:]))",
           "-q", "sum", "--movie", str(tif), "--locs", str(csv), "-o", str(results / "run1"),
           "--patch-size", "16", "--patches", "30", "--summed", "400000", "--bin-size", "3", "--min-emitters", "1"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (results / "run1" / ".imagesumming").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        assert main(["-q", "convert", str(csv), "-o", str(results / "mine.csv"), "--to", "thunderstorm"]) == 0
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert (results / "mine.csv").exists(), "the interrupted sum removed a file another command wrote"
    assert not (results / "run1").exists()
