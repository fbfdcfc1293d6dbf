"""Outputs land as one complete set, never over an input (imagesumming._files.output_set).

The kill and two-writers tests run the CLI in forked child processes (the imports are done once,
so each run takes a fraction of a second) and look at the folder afterwards: it must hold the old
complete set, the new complete set, or files that imagesumming reports as incomplete (``info``,
the next run, and :func:`~imagesumming.summing.check_summed_set`, which the notebook cell calls).
Mixed sets are recognised by comparing each file with the outputs of clean runs of each seed.
"""

from __future__ import annotations

import errno
import filecmp
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from imagesumming._files import STAGING_DIR, output_set, set_problems, set_report
from imagesumming.cli import main
from imagesumming.errors import InputError
from imagesumming.io import write_locs, write_tif
from imagesumming.summing import check_summed_set

PS = 100.0
SUM = ["--patch-size", "16", "--patches", "30", "--summed", "12", "--bin-size", "3", "--min-emitters", "1"]
SET = ["summed.tif", "summed.csv", "summed_provenance.csv", "summed_params.json"]
COMPARED = SET[:3]  # params.json names its folder: compared through its manifest instead

fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs os.fork")


@pytest.fixture
def inputs(tmp_path, small_movie):
    movie, truth = small_movie
    d = tmp_path / "in"
    d.mkdir()
    tif = write_tif(d / "m.tif", movie, PS)
    csv = write_locs(d / "m.csv", truth, "deepstorm")
    return tif, csv


def sum_args(inputs, out, seed, *extra):
    tif, csv = inputs
    return ["-q", "sum", "--movie", str(tif), "--locs", str(csv), "-o", str(out), "--seed", str(seed), *SUM, *extra]


@pytest.fixture
def refs(tmp_path, inputs):
    """Clean runs of seed 1 (the old set) and seed 2 (the new set)."""
    out = {}
    for seed in (1, 2):
        assert main(sum_args(inputs, tmp_path / f"ref{seed}", seed)) == 0
        out[seed] = tmp_path / f"ref{seed}"
    assert not filecmp.cmp(out[1] / "summed.csv", out[2] / "summed.csv", shallow=False)
    return out


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def origin(path, refs):
    """Which reference run a file is from (1, 2, or None: neither / missing)."""
    if not Path(path).exists():
        return None
    for seed, ref in refs.items():
        if digest(path) == digest(ref / Path(path).name):
            return seed
    return None


def classify(folder, refs) -> str:
    """'old', 'new', or 'incomplete' -- asserting that a mix is never accepted as whole."""
    sources = {name: origin(folder / name, refs) for name in COMPARED}
    accepted = not set_problems(*(folder / n for n in SET))
    try:
        check_summed_set(folder / "summed.tif", folder / "summed.csv")
        cell_accepts = True
    except InputError:
        cell_accepts = False
    assert accepted == cell_accepts, (sources, set_problems(*(folder / n for n in SET)))
    if len(set(sources.values())) == 1 and None not in sources.values() and accepted:
        return {1: "old", 2: "new"}[sources["summed.tif"]]
    assert not accepted, f"a mixed set is accepted as whole: {sources}"
    return "incomplete"


def fresh_old_set(folder, refs):
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(refs[1], folder)
    assert classify(folder, refs) == "old"


def _child(argv, kill_at, counter):
    """Run the CLI; SIGKILL ourselves just before rename number ``kill_at`` (after it if negative; 0: never)."""
    real = os.replace

    def replace(src, dst, *a, **k):
        with counter.get_lock():
            counter.value += 1
            n = counter.value
        if n == kill_at:  # right before the rename
            os.kill(os.getpid(), signal.SIGKILL)
        done = real(src, dst, *a, **k)
        if n == -kill_at:  # right after it
            os.kill(os.getpid(), signal.SIGKILL)
        return done

    os.replace = replace
    os._exit(main(argv))


def run_child(argv, kill_at=0, kill_after=None):
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("i", 0)
    p = ctx.Process(target=_child, args=(argv, kill_at, counter))
    p.start()
    if kill_after is not None:
        p.join(kill_after)
        if p.is_alive():
            p.kill()
    p.join(20)
    assert not p.is_alive()
    return p.exitcode, counter.value


# -------------------------------------------------------------------------------------------------
# kills
# -------------------------------------------------------------------------------------------------


@fork
def test_sum_killed_at_each_rename_and_at_random_moments_leaves_no_accepted_mix(tmp_path, inputs, refs):
    out = tmp_path / "out"
    fresh_old_set(out, refs)
    t0 = time.perf_counter()
    code, n_renames = run_child(sum_args(inputs, out, 2, "--force"))
    duration = time.perf_counter() - t0
    assert code == 0 and classify(out, refs) == "new"
    assert not (out / STAGING_DIR).exists()  # nothing hidden left after a clean run
    assert n_renames >= len(SET) + 1  # the journal, then every file

    seen = set()
    for k in [*range(1, n_renames + 1), *range(-1, -n_renames - 1, -1)]:  # right before / after each rename
        fresh_old_set(out, refs)
        code, _ = run_child(sum_args(inputs, out, 2, "--force"), kill_at=k)
        assert code == -signal.SIGKILL
        state = classify(out, refs)
        seen.add(state)
        if state == "incomplete":
            report = set_report(out / "summed.tif")
            assert report and report.startswith("incomplete output set"), report
    assert seen == {"old", "incomplete", "new"}  # killed after the last rename: the new set is whole

    rng = random.Random(0)
    for _ in range(10):  # random moments, over the whole run
        fresh_old_set(out, refs)
        run_child(sum_args(inputs, out, 2, "--force"), kill_after=rng.uniform(0, 1.2 * duration))
        classify(out, refs)


@fork
def test_after_a_kill_info_and_the_next_run_say_the_set_is_incomplete(tmp_path, inputs, refs, capsys, caplog):
    out = tmp_path / "out"
    fresh_old_set(out, refs)
    _, n = run_child(sum_args(inputs, out, 2, "--force"))
    fresh_old_set(out, refs)
    run_child(sum_args(inputs, out, 2, "--force"), kill_at=n - 1)  # tif and csv new, params old
    assert classify(out, refs) == "incomplete"
    capsys.readouterr()

    assert main(["info", str(out / "summed.csv")]) == 0
    text = capsys.readouterr().out
    assert "output set: incomplete output set: a `sum` run" in text and "summed_params.json" in text

    journal = next((out / STAGING_DIR).glob("run-*/set.json"))
    doc = json.loads(journal.read_text())
    for f in doc["files"]:
        f["ino"] = 0  # as on a filesystem that gives a renamed file a new inode: size and mtime still tell
    journal.write_text(json.dumps(doc))
    assert classify(out, refs) == "incomplete"

    assert main(sum_args(inputs, out, 2)) == 2  # without --force: refused, and says why
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "incomplete output set" in err

    assert main(sum_args(inputs, tmp_path / "elsewhere", 2)) == 0  # another folder: not concerned
    caplog.clear()
    assert main(["convert", str(inputs[1]), "-o", str(out / "other.csv")]) == 0  # the next run in the folder warns
    assert "incomplete output set" in caplog.text
    assert classify(out, refs) == "incomplete"  # ... and leaves the evidence

    assert main(sum_args(inputs, out, 2, "--force")) == 0  # replacing the whole set clears it
    assert classify(out, refs) == "new"
    assert not (out / STAGING_DIR).exists()


def content(path):
    """A file's content for comparing runs: JSON manifests without their run record (which names the run)."""
    if path.suffix == ".json":
        doc = json.loads(path.read_text())
        doc.pop("output_set", None)
        return json.dumps(doc, sort_keys=True)
    return digest(path)


ADDONS = {  # command line of the old and the new set, and the set's files
    "split": (lambda tif, csv, v, out: ["split", str(tif), str(csv), "--at", str(v), "-o", str(out)], (4, 7),
              ["m_part1.tif", "m_part1.csv", "m_part2.tif", "m_part2.csv"]),
    "sum-frames": (lambda tif, csv, v, out: ["sum-frames", str(tif), "--locs", str(csv), "-n", "3", "--shuffle",
                                             "--seed", str(v), "--camera-offset", "100", "-o", str(out / "x")],
                   (1, 2), ["x.tif", "x.csv", "x_groups.json"]),
}


@fork
@pytest.mark.parametrize("command", sorted(ADDONS))
def test_add_ons_killed_at_each_rename_leave_old_new_or_recognised_sets(tmp_path, inputs, command):
    tif, csv = inputs
    args, values, names = ADDONS[command]
    refs = {}
    for v in values:
        assert main(["-q", *args(tif, csv, v, tmp_path / f"r{v}")]) == 0
        refs[v] = {f: content(tmp_path / f"r{v}" / f) for f in names}
    assert refs[values[0]] != refs[values[1]]
    out = tmp_path / "out"
    argv = ["-q", *args(tif, csv, values[1], out), "--force"]
    _, n = run_child(argv)
    states = set()
    for k in [*range(1, n + 1), -n]:
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(tmp_path / f"r{values[0]}", out)
        assert run_child(argv, kill_at=k)[0] == -signal.SIGKILL
        sources = {next((v for v in values if content(out / f) == refs[v][f]), None) for f in names}
        problems = [set_problems(out / f) for f in names]
        if len(sources) == 1:
            states.add(sources.pop())
            assert not any(problems), problems
        else:
            states.add("mixed")
            assert all(problems), (sources, problems)  # every file of the set says so
    assert states == {*values, "mixed"}


# -------------------------------------------------------------------------------------------------
# two writers
# -------------------------------------------------------------------------------------------------


def _hold(folder, ready, release):
    with output_set([Path(folder) / "summed.tif"], command="test holder"):
        ready.set()
        release.wait(20)
    os._exit(0)


@fork
def test_a_second_run_into_a_busy_folder_fails_at_once_with_one_line(tmp_path, inputs, capsys):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    out = tmp_path / "out"
    p = ctx.Process(target=_hold, args=(out, ready, release))
    p.start()
    try:
        assert ready.wait(10)
        t0 = time.perf_counter()
        assert main(sum_args(inputs, out, 2, "--force")) == 2
        assert time.perf_counter() - t0 < 5  # at once, not after the work
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert "another imagesumming run (test holder, pid" in err and str(out) in err
        assert not (out / "summed.csv").exists()
    finally:
        release.set()
        p.join(10)
    assert main(sum_args(inputs, out, 2)) == 0  # the lock went with its holder


def _slow_writer(argv, start, no_locks):
    """A sum whose renames are slow (so two interleave); ``no_locks``: a filesystem without flock."""
    import fcntl

    if no_locks:
        def flock(*_):
            raise OSError(errno.ENOLCK, "No locks available")
        fcntl.flock = flock
    real = os.replace

    def replace(src, dst, *a, **k):
        time.sleep(0.05)
        return real(src, dst, *a, **k)

    os.replace = replace
    start.wait(10)
    os._exit(main(argv))


@fork
@pytest.mark.parametrize("no_locks", [False, True], ids=["flock", "no-locks"])
def test_two_writers_never_leave_a_mix_that_is_accepted(tmp_path, inputs, refs, no_locks):
    out = tmp_path / "out"
    ctx = multiprocessing.get_context("fork")
    for trial in range(3):
        fresh_old_set(out, refs)
        start = ctx.Event()
        procs = [ctx.Process(target=_slow_writer, args=(sum_args(inputs, out, seed, "--force"), start, no_locks))
                 for seed in (1, 2)]
        for p in procs:
            p.start()
        start.set()
        for p in procs:
            p.join(30)
        codes = [p.exitcode for p in procs]
        assert all(c in (0, 2) for c in codes) and 0 in codes, codes
        if not no_locks and 2 in codes:
            assert classify(out, refs) in ("old", "new")  # the loser wrote nothing
        else:
            classify(out, refs)  # either whole or recognised as incomplete


# -------------------------------------------------------------------------------------------------
# never over an input; staging; names; full disk
# -------------------------------------------------------------------------------------------------


def test_sum_never_writes_over_its_inputs_even_with_force(tmp_path, inputs, refs, capsys):
    d = tmp_path / "d"
    shutil.copytree(refs[1], d)
    before = {f: digest(d / f) for f in SET}
    rc = main(["sum", "--movie", str(d / "summed.tif"), "--locs", str(d / "summed.csv"), "-o", str(d), "--force",
               *SUM])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "would overwrite an input" in err, err
    assert {f: digest(d / f) for f in SET} == before
    assert not (d / STAGING_DIR).exists()


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
def test_convert_never_writes_over_its_input(tmp_path, inputs, capsys, link):
    src = tmp_path / "ts.csv"
    write_locs(src, __import__("imagesumming.io", fromlist=["read_locs"]).read_locs(inputs[1])[0], "thunderstorm")
    out = tmp_path / "out.csv"
    if link == "same":
        out = src
    elif link == "symlink":
        out.symlink_to(src)
    else:
        os.link(src, out)
    before = digest(src)
    rc = main(["convert", str(src), "-o", str(out), "--force"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "would overwrite an input" in err, err
    assert digest(src) == before and os.path.samefile(src, out)


def test_filter_never_writes_over_its_input(tmp_path, small_movie, capsys):
    truth = small_movie[1].assign(confidence=np.linspace(0, 1, len(small_movie[1])))
    pred = write_locs(tmp_path / "pred.csv", truth, "deepstorm-prediction")
    before = digest(pred)
    rc = main(["filter", str(pred), "--threshold", "0.5", "-o", str(pred), "--force"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "would overwrite an input" in err, err
    assert digest(pred) == before
    assert main(["filter", str(pred), "--threshold", "0.5", "-o", str(tmp_path / "kept.csv")]) == 0


def test_outputs_with_names_of_255_bytes_work(tmp_path, inputs, capsys):
    name = "n" * (255 - len("_provenance.csv"))
    assert main(sum_args(inputs, tmp_path / "o", 1, "--name", name)) == 0
    assert (tmp_path / "o" / f"{name}_provenance.csv").exists()
    assert set_report(tmp_path / "o" / f"{name}.tif").startswith("complete")
    long_csv = tmp_path / ("é" * 125 + "c.csv")  # 255 bytes in UTF-8
    assert len(os.fsencode(long_csv.name)) == 255
    assert main(["convert", str(inputs[1]), "-o", str(long_csv)]) == 0
    assert long_csv.exists() and not (tmp_path / STAGING_DIR).exists()


def test_a_full_disk_names_the_file_and_leaves_nothing(tmp_path, inputs, refs, capsys, monkeypatch):
    import imagesumming.io.locs as locs_io

    def full(path, *a, **k):
        with open(path, "w") as fh:
            fh.write("frame,")
        raise OSError(errno.ENOSPC, "No space left on device")  # as fh.write() raises it: no file name

    monkeypatch.setattr(locs_io, "write_columns", full)
    out = tmp_path / "out"
    fresh_old_set(out, refs)
    before = {f: digest(out / f) for f in SET}
    rc = main(sum_args(inputs, out, 2, "--force"))
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1, err
    assert f"{out / 'summed.csv'}: No space left on device" in err, err
    assert {f: digest(out / f) for f in SET} == before  # the old set, untouched
    assert not (out / STAGING_DIR).exists()
    rc = main(["convert", str(inputs[1]), "-o", str(tmp_path / "c.csv")])
    assert rc == 1 and str(tmp_path / "c.csv") in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in", "out", "ref1", "ref2"])


def test_an_error_midway_removes_the_staging_and_folders_made_for_the_run(tmp_path, inputs, monkeypatch):
    import imagesumming.summing as summing

    def broken(*a, **k):
        raise InputError("broken on purpose")

    monkeypatch.setattr(summing, "write_deepstorm_csv", broken)
    out = tmp_path / "new" / "deeper"
    assert main(sum_args(inputs, out, 1)) == 2
    assert not (tmp_path / "new").exists()

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(summing, "write_deepstorm_csv", interrupted)  # Ctrl-C, or the notebook's stop button
    assert main(sum_args(inputs, tmp_path, 1)) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_a_changed_file_makes_the_set_incomplete(tmp_path, refs, capsys):
    d = tmp_path / "d"
    shutil.copytree(refs[1], d)
    check_summed_set(d / "summed.tif", d / "summed.csv")
    shutil.copy(refs[2] / "summed.csv", d / "summed.csv")  # e.g. copied in by hand from another run
    with pytest.raises(InputError, match="summed.csv differs"):
        check_summed_set(d / "summed.tif", d / "summed.csv")
    assert main(["sum", "--movie", "m.tif", "--locs", "m.csv", "-o", str(d)]) == 2  # the next run says so
    assert "exists already and is part of an incomplete output set" in capsys.readouterr().err
    shutil.copy(refs[1] / "summed.csv", d / "summed.csv")
    (d / "other.tif").write_bytes((d / "summed.tif").read_bytes())
    with pytest.raises(InputError, match="not the outputs of one run"):  # a tif no manifest lists
        check_summed_set(d / "other.tif", d / "summed.csv")
    user = tmp_path / "user"  # the user's own data: nothing to check
    user.mkdir()
    shutil.copy(refs[1] / "summed.tif", user / "a.tif")
    shutil.copy(refs[2] / "summed.csv", user / "a.csv")
    check_summed_set(user / "a.tif", user / "a.csv")


def test_the_notebook_cell_refuses_a_mixed_set(tmp_path, refs):
    from importlib.resources import files

    text = files("imagesumming.templates").joinpath("cells", "summed_training_data.py.tmpl").read_text()
    d = tmp_path / "d"
    shutil.copytree(refs[1], d)
    session = {"imagesumming_paths": {"tif": d / "summed.tif", "csv": d / "summed.csv"},
               "imagesumming_result": type("R", (), {"pixel_size": PS})(),
               "get_pixel_size_from_file": True, "pixel_size": PS}
    g = dict(session, ImageData_path="", LocalizationData_path="")
    exec(compile(text, "cell", "exec"), g)
    assert g["ImageData_path"] == str(d / "summed.tif")
    shutil.copy(refs[2] / "summed.csv", d / "summed.csv")
    for given in ("", str(d / "summed.csv")):  # the session's files, or the same paths typed in
        g = dict(session, ImageData_path=given and str(d / "summed.tif"), LocalizationData_path=given)
        with pytest.raises(InputError, match="summed.csv differs"):
            exec(compile(text, "cell", "exec"), g)


def test_add_ons_and_evaluate_stage_into_one_hidden_place(tmp_path, inputs, monkeypatch):
    """While the outputs are written they live in OUT/.imagesumming/run-*/ under their own names."""
    import imagesumming._files as files_mod

    seen = []
    real = files_mod.OutputSet._commit

    def spy(self):
        seen.append(sorted(p.name for p in self.tmp.iterdir()))
        assert self.tmp.parent == self.folder / STAGING_DIR
        return real(self)

    monkeypatch.setattr(files_mod.OutputSet, "_commit", spy)
    tif, csv = inputs
    assert main(["-q", "sum-frames", str(tif), "--locs", str(csv), "-n", "3", "--camera-offset", "100", "-o", str(tmp_path / "s" / "x")]) == 0
    assert seen[-1] == ["x.csv", "x.tif", "x_groups.json"]
    assert set_report(tmp_path / "s" / "x.tif").startswith("complete")  # the groups json is its manifest
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["x.csv", "x.tif", "x_groups.json"]


def test_evaluate_writes_one_set_with_metrics_json_as_manifest(tmp_path, capsys):
    from imagesumming.demo import make_demo_prediction
    from imagesumming.synthetic import simulate_movie

    movie, truth = simulate_movie(n_frames=4, height=16, width=20, pixel_size=PS, emitters_per_frame=4, seed=2)
    write_tif(tmp_path / "movie.tif", movie, PS)
    write_locs(tmp_path / "gt.csv", truth, "deepstorm")
    info = make_demo_prediction(tmp_path / "pred", truth, pixel_size=PS, height=16, width=20, movie=movie,
                                upsampling=4, seed=4, name="movie")
    out = tmp_path / "eval"
    args = ["evaluate", str(info["locs"]), "--gt", str(tmp_path / "gt.csv"), "--movie", str(tmp_path / "movie.tif"),
            "-o", str(out)]
    assert main(args) == 0
    record = json.loads((out / "metrics.json").read_text())["output_set"]
    assert set(record["files"]) | {"metrics.json"} == {p.name for p in out.iterdir()}
    assert set_report(out / "metrics.csv").startswith("complete")
    (out / "sweep.csv").write_text("threshold\n1\n")  # changed after the run
    assert "sweep.csv differs" in set_report(out / "metrics.csv")
    shutil.copy(tmp_path / "gt.csv", out / "metrics.csv")  # the ground truth kept where an output goes
    before = digest(out / "metrics.csv")
    capsys.readouterr()
    assert main(args + ["--gt", str(out / "metrics.csv"), "--force"]) == 2  # an output may not be an input
    assert "would overwrite an input" in capsys.readouterr().err
    assert digest(out / "metrics.csv") == before


def test_figures_of_an_earlier_run_are_named_as_such(tmp_path, inputs, caplog):
    out = tmp_path / "o"
    assert main(sum_args(inputs, out, 1, "--plots")) == 0
    caplog.clear()
    assert main(sum_args(inputs, out, 2, "--force")[1:]) == 0  # not quiet: warnings shown
    assert "summed_density.png" in caplog.text and "from an earlier run" in caplog.text
