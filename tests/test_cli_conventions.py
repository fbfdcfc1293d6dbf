"""One set of conventions for every command (README, "Command line").

The command list comes from the parser, so a new command is held to them too: it writes through
``-o/--output`` (or is listed in READ_ONLY), has ``-q`` that prints only errors, a help text for
every argument, and no progress bar in captured output.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from imagesumming import _progress
from imagesumming.cli import EXIT_BROKEN_PIPE, build_parser, main
from imagesumming.cli import options as o
from imagesumming.errors import ImageSummingError, OutputExistsError

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = Path(__file__).parent / "fixtures" / "deepstorm2d_anchors.ipynb"
#: commands that write nothing (every other one takes -o/--output)
READ_ONLY = {"info"}
#: the workflow order of --help: try it, look at the files, sum, prepare more, train, evaluate
WORKFLOW = ("demo", "info", "convert", "sum", "density", "split", "merge", "frames", "sum-frames", "patch-notebook",
            "notebooks", "evaluate", "filter")
HEAVY = ("pandas", "matplotlib", "scipy", "tifffile", "h5py", "yaml", "ipywidgets")


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


COMMANDS = sorted(subparsers())


def option(parser: argparse.ArgumentParser, flag: str):
    return next((a for a in parser._actions if flag in a.option_strings), None)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------
# one small data set for every command
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from imagesumming.demo import make_demo_prediction
    from imagesumming.io import write_locs, write_tif
    from imagesumming.synthetic import simulate_movie

    d = tmp_path_factory.mktemp("conventions")
    movie, truth = simulate_movie(n_frames=12, height=48, width=48, pixel_size=100.0, emitters_per_frame=6,
                                  seed=3)
    tif = write_tif(d / "m.tif", movie, 100.0)
    csv = write_locs(d / "m.csv", truth, "deepstorm")
    pred = make_demo_prediction(d / "pred", truth, pixel_size=100.0, height=48, width=48, movie=movie)
    return SimpleNamespace(tif=tif, csv=csv, pred=Path(pred["locs"]))


def argv_for(command: str, data, out: Path, output_flag: str = "-o") -> tuple[list, Path | None]:
    """A command line that works for ``command`` and the output it writes (None: writes nothing)."""
    o_ = output_flag
    lines = {
        "demo": ([o_, out], out),
        "info": ([data.csv], None),
        "convert": ([data.csv, o_, out / "c.csv"], out / "c.csv"),
        "density": ([data.tif, "--calibrate", data.tif, data.csv, "--plots", o_, out], out / "m_density.png"),
        "sum": (["--movie", data.tif, "--locs", data.csv, o_, out, "--patch-size", 16, "--patches", 20,
                 "--summed", 6, "--bin-size", 3, "--min-emitters", 1, "--seed", 1], out / "summed.tif"),
        "split": ([data.tif, data.csv, "--at", 6, o_, out], out / "m_part2.tif"),
        "merge": (["--movie", data.tif, "--locs", data.csv, "--movie", data.tif, "--locs", data.csv,
                   o_, out / "merged.tif"], out / "merged.tif"),
        "frames": ([data.tif, data.csv, o_, out], out / "m_01.tif"),
        "sum-frames": ([data.tif, "--locs", data.csv, "-n", 3, o_, out / "s.tif"], out / "s.tif"),
        "patch-notebook": ([NOTEBOOK, o_, out / "p.ipynb"], out / "p.ipynb"),
        "notebooks": ([o_, out], out / "ImageSumming.ipynb"),
        "evaluate": ([data.pred, "--gt", data.csv, "--movie", data.tif, o_, out], out / "metrics.json"),
        "filter": ([data.pred, "--threshold", 0.5, o_, out / "f.csv"], out / "f.csv"),
    }
    assert command in lines, f"add a working command line for the new command {command!r} to this test"
    args, written = lines[command]
    return [command, *args], written


# ---------------------------------------------------------------------------------------------
# -o/--output and -q on every command
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
def test_every_writing_command_takes_o_output(command):
    p = subparsers()[command]
    action = option(p, "--output")
    if command in READ_ONLY:
        assert action is None, f"{command} writes: take it out of READ_ONLY"
        return
    assert action is not None and action.option_strings == ["-o", "--output"] and action.dest == "output"
    assert re.match(r"output (folder|file): ", action.help), "the help says whether -o is a folder or a file"
    assert "-o" in p.format_usage()


@pytest.mark.parametrize("command", COMMANDS)
def test_q_prints_nothing_and_output_lands(command, data, tmp_path, capsys):
    argv, written = argv_for(command, data, tmp_path / "out", output_flag="--output")
    code, out, err = run(capsys, *argv, "-q")
    assert code == 0, err
    assert out == "" and err == "", f"-q printed: {out!r} {err!r}"
    if written is not None:
        assert written.exists()
    # the same command without -q says what it did, so the check above could fail
    argv, _ = argv_for(command, data, tmp_path / "loud")
    code, out, err = run(capsys, *argv)
    assert code == 0 and out.strip()


@pytest.mark.parametrize("command", COMMANDS)
def test_no_progress_bar_in_captured_output(command, data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_progress, "DELAY", 0.0)  # a bar would show at once where it is allowed
    argv, _ = argv_for(command, data, tmp_path / "out")
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "\r" not in out + err and "%|" not in out + err and "it/s" not in err


def test_q_and_v_before_or_after_the_command(data, capsys):
    assert run(capsys, "-q", "info", data.csv)[1] == ""
    assert run(capsys, "info", data.csv, "-q")[1] == ""
    with pytest.raises(SystemExit):
        main(["info", str(data.csv), "-q", "-v"])  # one or the other


def test_v_adds_detail(data, tmp_path, capsys):
    _, normal, _ = run(capsys, "convert", data.csv, "-o", tmp_path / "a.csv")
    _, detailed, _ = run(capsys, "convert", data.csv, "-o", tmp_path / "b.csv", "-v")
    assert len(detailed.splitlines()) > len(normal.splitlines())
    assert "units in file" in detailed and "units in file" not in normal
    argv, _ = argv_for("sum", data, tmp_path / "s1")
    _, normal, _ = run(capsys, *argv)
    argv, _ = argv_for("sum", data, tmp_path / "s2")
    _, detailed, _ = run(capsys, *argv, "-v")
    assert "versions: imagesumming" in detailed and "1-based frames" in detailed
    assert "versions:" not in normal
    _, normal, _ = run(capsys, "info", data.csv)
    _, detailed, _ = run(capsys, "info", data.csv, "-v")
    assert "columns as read" in detailed and "  x: float64, " in detailed and "columns as read" not in normal
    for i, flag in enumerate(((), ("-v",))):
        argv, _ = argv_for("evaluate", data, tmp_path / f"e{i}")
        _, text, _ = run(capsys, *argv, *flag)
        assert ("wrote " + str(tmp_path / f"e{i}" / "metrics.json") in text) == bool(flag)


# ---------------------------------------------------------------------------------------------
# same option, same meaning
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--force", "--pixel-size", "--frame-base", "--drop-invalid", "--seed"])
def test_shared_options_mean_the_same_everywhere(flag):
    found = {c: option(p, flag) for c, p in subparsers().items() if option(p, flag) is not None}
    assert found, flag
    kinds = {(type(a).__name__, a.type, a.metavar, a.choices) for a in found.values()}
    assert len(kinds) == 1, kinds
    texts = {a.help.split(" (default")[0] for a in found.values()}
    assert len(texts) == 1, texts


def test_old_out_spelling_still_works_hidden_and_noted(data, tmp_path, capsys):
    code, out, err = run(capsys, "split", data.tif, data.csv, "--at", 6, "--out", tmp_path / "old")
    assert code == 0 and (tmp_path / "old" / "m_part1.tif").exists()
    assert "--out is deprecated" in err and "-o/--output" in err
    assert "--out " not in subparsers()["split"].format_help()
    code, out, err = run(capsys, "-q", "demo", "--out", tmp_path / "demo")
    assert code == 0 and out == err == ""
    code, _, err = run(capsys, "notebooks", tmp_path / "nb")  # `notebooks DIR` (issue 11's spelling) stays
    assert code == 0 and (tmp_path / "nb" / "ImageSumming.ipynb").exists() and "deprecated" not in err


def test_to_offers_and_accepts_only_writable_formats(data, tmp_path, capsys):
    from imagesumming.io import read_locs, write_locs

    for command in ("convert", "split", "merge", "frames", "sum-frames"):
        assert all(f in option(subparsers()[command], "--to").help for f in o.WRITE_FORMATS)
    locs, _ = read_locs(data.csv)
    for fmt in o.WRITE_FORMATS:  # each one offered is written
        assert write_locs(tmp_path / f"w_{fmt}", locs, fmt, pixel_size=100.0).exists()
    for bad in ("picasso-csv", "nonsense"):
        with pytest.raises(SystemExit) as exc:
            main(["convert", str(data.csv), "-o", str(tmp_path / "x.csv"), "--to", bad, "--pixel-size", "100"])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and f"cannot write {bad!r}" in err and "choose deepstorm" in err
        assert "needs the pixel size" not in err
    assert not (tmp_path / "x.csv").exists()
    code, out, _ = run(capsys, "convert", data.csv, "-o", tmp_path / "t_locs.hdf5", "--to", "picasso-hdf5",
                       "--pixel-size", 100)  # the reader's long names are accepted too
    assert code == 0 and "(picasso)" in out


@pytest.mark.parametrize("command", ["sum", "sum-frames"])
def test_camera_offset_one_rule_default_with_a_note(command, data, tmp_path, capsys):
    p = subparsers()[command]
    assert option(p, "--camera-offset").default is None and not option(p, "--camera-offset").required
    argv, _ = argv_for(command, data, tmp_path / "a")
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "note: camera offset 100 ADU (the default)" in out
    argv, _ = argv_for(command, data, tmp_path / "b")
    code, out, _ = run(capsys, *argv, "--camera-offset", 100)
    assert code == 0 and "camera offset 100 ADU (the default)" not in out


# ---------------------------------------------------------------------------------------------
# help
# ---------------------------------------------------------------------------------------------

def test_help_lists_the_commands_in_workflow_order(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    listed = re.findall(r"^    (\S+)", text, flags=re.M)
    assert [c for c in listed if c in WORKFLOW] == list(WORKFLOW)
    assert listed.index("sum") < 4  # the main job comes early
    assert set(listed) == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_argument_has_help_text(command):
    for action in subparsers()[command]._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help.strip(), f"{command} {action.option_strings or action.dest}: no help"


def probe(code: str) -> set[str]:
    script = code + f"\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=REPO).stdout
    return set(out.split())


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["sum", "--help"], ["evaluate", "--help"]])
def test_help_and_version_import_nothing_heavy(argv):
    code = ("import contextlib, io\nfrom imagesumming.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try:\n        main({argv!r})\n    except SystemExit:\n        pass")
    assert probe(code) == set()


def test_import_imagesumming_is_lazy_and_keeps_its_names():
    assert probe("import imagesumming") == set()
    import imagesumming

    for name in imagesumming.__all__:
        assert getattr(imagesumming, name) is not None
    assert "sum_patches" in dir(imagesumming) and imagesumming.summing.DEFAULTS["patch_size"] == 30
    with pytest.raises(AttributeError):
        imagesumming.no_such_name


# ---------------------------------------------------------------------------------------------
# a closed pipe
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["info", "{csv}"], ["info", "{tif}"], ["--help"]])
def test_closed_pipe_is_not_an_error(argv, data):
    argv = [a.format(csv=data.csv, tif=data.tif) for a in argv]
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the command writes (`| head -1` that has its line)
    try:
        proc = subprocess.run([sys.executable, "-m", "imagesumming", *argv], stdout=write, stderr=subprocess.PIPE,
                              text=True, cwd=REPO, timeout=120)
    finally:
        os.close(write)
    assert proc.stderr == "", proc.stderr
    assert proc.returncode in (0, EXIT_BROKEN_PIPE)  # as `cat`, `grep`: ended by the closed pipe, not exit 1


def test_pipe_into_head_prints_no_error(data):
    proc = subprocess.run(["bash", "-c", f'"{sys.executable}" -m imagesumming info "{data.csv}" | head -1'],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("file:") and proc.stderr == ""


# ---------------------------------------------------------------------------------------------
# progress bars: only where a person watches
# ---------------------------------------------------------------------------------------------

class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal_or_in_a_notebook(monkeypatch):
    monkeypatch.setattr(_progress, "DELAY", 0.0)
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not _progress.watched()
    with _progress.progress_bar(range(3), desc="work") as bar:
        list(bar)
    assert sys.stderr.getvalue() == ""  # a pipe or a log: nothing

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert _progress.watched()
    with _progress.progress_bar(total=3, desc="work", file=terminal) as bar:
        bar.update(3)
    assert "work" in terminal.getvalue()  # the positive control: a terminal gets the bar
    with _progress.progress_bar(total=3, desc="hidden", file=terminal, show=False) as bar:
        bar.update(3)
    assert "hidden" not in terminal.getvalue()  # progress=False / -q: never

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    kernel = SimpleNamespace(get_ipython=lambda: SimpleNamespace(kernel=object()))
    monkeypatch.setitem(sys.modules, "IPython", kernel)
    assert _progress.in_notebook() and _progress.watched()
    monkeypatch.setitem(sys.modules, "IPython", SimpleNamespace(get_ipython=lambda: SimpleNamespace()))
    assert not _progress.watched()  # a terminal IPython without a kernel, stderr not a tty


def test_quick_work_shows_no_bar_even_on_a_terminal(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with _progress.progress_bar(total=3, desc="quick", file=terminal) as bar:  # default delay
        bar.update(3)
    assert "quick" not in terminal.getvalue()


# ---------------------------------------------------------------------------------------------
# one error, a hint each front end words
# ---------------------------------------------------------------------------------------------

def test_each_front_end_words_the_hint(data, tmp_path, capsys):
    from imagesumming.widgets._common import error_text as form_text

    exc = OutputExistsError("exists already", "out.csv", hint="{force} to overwrite")
    assert str(exc) == "out.csv: exists already; pass force=True to overwrite"
    assert o.error_text(exc) == "out.csv: exists already; use --force to overwrite"
    assert form_text(exc) == "out.csv: exists already; tick 'overwrite existing files' to overwrite"
    assert exc.hint_keys == ("force",)

    target = tmp_path / "exists.csv"
    target.write_text("keep me")
    code, _, err = run(capsys, "convert", data.csv, "-o", target)
    assert code == 2 and "use --force" in err and "force=True" not in err and len(err.splitlines()) == 1
    assert target.read_text() == "keep me"


def test_every_hint_in_the_package_names_options_that_exist():
    names = set(o.CLI_WORDS)
    for p in subparsers().values():
        names |= {s for a in p._actions for s in a.option_strings}
    hints = []
    for path in (REPO / "imagesumming").rglob("*.py"):
        hints += re.findall(r'hint=(?:f?"([^"]*)")', path.read_text(encoding="utf-8"))
    assert len(hints) >= 8
    for hint in hints:
        for key in ImageSummingError("x", hint=hint).hint_keys:
            assert key in o.CLI_WORDS or o.option_name(key) in names, f"hint {hint!r}: no option for {key!r}"


def test_the_api_default_follows_the_same_rule(small_movie, capsys, monkeypatch):
    from imagesumming.summing import sum_patches

    monkeypatch.setattr(_progress, "DELAY", 0.0)
    movie, truth = small_movie
    sum_patches(movie, truth, pixel_size=100.0, patch_size=10, n_patches=6, n_summed=3, bin_size=2,
                min_emitters=1, seed=1)  # progress=True by default
    out, err = capsys.readouterr()
    assert "patches" not in err and "\r" not in out + err  # captured output is not a terminal
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    sum_patches(movie, truth, pixel_size=100.0, patch_size=10, n_patches=6, n_summed=3, bin_size=2,
                min_emitters=1, seed=1)
    assert "finding patches" in terminal.getvalue()  # on a terminal the same call draws its bars


@pytest.mark.parametrize("command", COMMANDS)
def test_usage_errors_are_one_line_naming_the_help(command, capsys):
    """A mistyped option gets one line (as every other error), not argparse's whole usage block."""
    with pytest.raises(SystemExit) as exc:
        main([command, "--no-such-option"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.count("\n") == 1 and err.startswith(f"imagesumming {command}: error: "), err
    assert f"imagesumming {command} --help" in err
    # argparse names missing required arguments first, else the unknown option
    assert "--no-such-option" in err or "arguments are required" in err, err


def test_a_mistyped_command_gets_the_closest_ones(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sumframes", "x.tif"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert "unknown command 'sumframes': did you mean sum-frames" in err
    with pytest.raises(SystemExit):
        main(["zzz"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "commands: demo, info, convert, sum," in err


def test_convert_takes_the_format_from_the_name_and_refuses_a_contradiction(data, tmp_path, capsys):
    """`convert x.csv -o y.hdf5` wrote a csv into y.hdf5; `--to picasso -o y.csv` hdf5 into y.csv."""
    from imagesumming.io import read_locs

    code, out, _ = run(capsys, "convert", data.csv, "-o", tmp_path / "a_locs.hdf5", "--pixel-size", 100)
    assert code == 0 and "(picasso)" in out and read_locs(tmp_path / "a_locs.hdf5")[1].format == "picasso-hdf5"
    assert (tmp_path / "a_locs.yaml").exists()
    for name, to, words in (("b.csv", "picasso", "into a .hdf5 file"), ("b", "picasso", "into a .hdf5 file"),
                            ("b.hdf5", "deepstorm", "writes a csv file"), ("b.h5", "thunderstorm", "writes a csv")):
        code, _, err = run(capsys, "convert", data.csv, "-o", tmp_path / name, "--to", to, "--pixel-size", 100)
        assert code == 2 and words in err and "--to" in err and err.count("\n") == 1, err
        assert not (tmp_path / name).exists()
    code, out, _ = run(capsys, "convert", data.csv, "-o", tmp_path / "c.csv")
    assert code == 0 and "(deepstorm)" in out


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in READ_ONLY])
def test_outputs_land_even_when_the_reader_of_stdout_is_gone(command, data, tmp_path):
    """`imagesumming evaluate ... | grep -m1 recall` ended evaluate before it wrote anything."""
    argv, written = argv_for(command, data, tmp_path / "out")
    read, write = os.pipe()
    os.close(read)
    try:
        # not from the checkout's folder: the installed package (its templates live only there)
        proc = subprocess.run([sys.executable, "-m", "imagesumming", *map(str, argv)], stdout=write,
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=300)
    finally:
        os.close(write)
    assert proc.returncode in (0, EXIT_BROKEN_PIPE) and "Traceback" not in proc.stderr, proc.stderr
    assert written.exists(), f"{command}: nothing written after the closed pipe"


def test_a_mistyped_option_gets_the_closest_ones_and_no_command_prints_help_on_stderr(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sum", "--movie", "a.tif", "--locs", "a.csv", "-o", "x", "--patchs", "100"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "did you mean --patches" in err, err
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "COMMAND" in err and "sum-frames" in err


def test_info_q_prints_nothing_when_it_finds_problems(data, tmp_path, capsys):
    src = tmp_path / "outside.csv"
    src.write_text(",frame,x [nm],y [nm]\n1,1,-50,60\n2,2,70,80\n")
    code, out, err = run(capsys, "info", src, "--movie", data.tif, "-q")
    assert code == 0 and out == "" and err == ""
    code, out, err = run(capsys, "info", src, "--movie", data.tif)
    assert "WARNING" in out and "warning" in err


def test_into_a_file_or_terminal_what_a_command_says_comes_at_once(tmp_path):
    """Buffering is for pipes only: a long run under nohup writes its notes into the log as they come."""
    log = tmp_path / "log.txt"
    script = (
        "import sys, types\n"
        "from imagesumming.cli import _run\n"
        "def func(args):\n"
        "    print('first note', flush=True)\n"
        f"    seen = open({str(log)!r}).read()\n"
        "    print('seen:', repr(seen), file=sys.stderr)\n"
        "    return 0\n"
        "sys.exit(_run(types.SimpleNamespace(func=func, quiet=False, verbose=False)))\n")
    with log.open("w") as fh:
        proc = subprocess.run([sys.executable, "-c", script], stdout=fh, stderr=subprocess.PIPE, text=True,
                              cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "seen: 'first note\\n'" in proc.stderr
    assert log.read_text() == "first note\n"


def test_q_and_v_on_both_sides_of_the_command_are_refused_too(data, capsys):
    for argv in (["-q", "info", str(data.csv), "-v"], ["-v", "info", str(data.csv), "-q"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and "choose one" in err and err.count("\n") == 1
