"""The companion notebooks: shipped in the package, copied by ``imagesumming notebooks``, stored
without outputs, and executed headless (nbclient + ipykernel) on demo data without errors."""

from __future__ import annotations

import json
import re
from importlib import resources

import nbformat
import numpy as np
import pytest

from imagesumming.cli import main
from imagesumming.widgets import NOTEBOOKS, copy_notebooks, notebook_text
from imagesumming.widgets._templates import self_installing

pytest.importorskip("ipywidgets")


def _nb(name):
    return nbformat.reads(notebook_text(name), as_version=4)


def test_the_three_notebooks_ship_in_the_package():
    files = resources.files("imagesumming.templates")
    assert set(NOTEBOOKS) == {"ImageSumming.ipynb", "DeepSTORM2DAddOns.ipynb", "VisualizeDeepSTORM2DLocs.ipynb"}
    for name in NOTEBOOKS:
        assert files.joinpath(name).is_file()
    with pytest.raises(ValueError, match="unknown notebook"):
        notebook_text("Other.ipynb")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_clean_short_and_colab_ready(name):
    nb = _nb(name)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    markdown = [cell for cell in nb.cells if cell.cell_type == "markdown"]
    assert code and len(markdown) >= len(code) - 1  # a short explanation per step
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None  # stored without outputs
    setup = [cell for cell in code if "google.colab" in cell.source]
    assert len(setup) == 1 and "enable_custom_widget_manager()" in setup[0].source
    assert "except ImportError" in setup[0].source  # elsewhere it does nothing
    # the shipped setup cell is the shared install cell (for the PyPI release) + the widget manager
    from imagesumming.widgets._templates import shipped_setup_source

    assert setup[0].source == shipped_setup_source(), "re-render the setup cell from shipped_setup_source()"
    # one or two lines per cell, apart from the Colab setup
    assert all(len(cell.source.strip().splitlines()) <= 2 for cell in code if cell is not setup[0])
    assert any("IMAGESUMMING_DEMO_DIR" in cell.source for cell in code)
    assert any("from imagesumming.widgets import" in cell.source for cell in code)


def test_cli_copies_the_notebooks(tmp_path, capsys):
    dest = tmp_path / "nbs"
    assert main(["notebooks", str(dest)]) == 0
    assert sorted(p.name for p in dest.iterdir()) == sorted(NOTEBOOKS)
    for name in NOTEBOOKS:  # the shipped notebook with its setup cell made self-installing
        assert (dest / name).read_text(encoding="utf-8") == self_installing(notebook_text(name))
    out = capsys.readouterr().out
    assert "wrote" in out and re.search(r"ImageSumming\.ipynb \(\d+ KiB\)", out)
    # existing notebooks are refused (nothing written) unless --force
    (dest / NOTEBOOKS[1]).write_text("mine")
    assert main(["notebooks", str(dest)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert (dest / NOTEBOOKS[1]).read_text() == "mine"
    assert main(["notebooks", str(dest), "--force"]) == 0
    assert (dest / NOTEBOOKS[1]).read_text(encoding="utf-8") == self_installing(notebook_text(NOTEBOOKS[1]))


def test_copy_notebooks_into_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = copy_notebooks()
    assert [p.name for p in paths] == list(NOTEBOOKS) and all(p.is_file() for p in paths)


# --- executed headless on demo data ------------------------------------------------------------------
@pytest.fixture
def demo_dir(tmp_path):
    from imagesumming.demo import make_demo_data, make_demo_prediction
    from imagesumming.io import open_movie, read_locs

    folder = tmp_path / "demo"
    movie_path, locs_path = make_demo_data(folder, seed=4)
    truth, _ = read_locs(locs_path)
    with open_movie(movie_path) as m:
        make_demo_prediction(folder / "prediction", truth, pixel_size=m.pixel_size, height=m.height,
                             width=m.width, movie=np.asarray(m), seed=4)
    return folder


def _execute(name, demo_dir, tmp_path, monkeypatch):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from nbclient import NotebookClient

    monkeypatch.setenv("IMAGESUMMING_DEMO_DIR", str(demo_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    workdir = tmp_path / "run"
    workdir.mkdir()
    nb = _nb(name)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}},
                   store_widget_state=True).execute()
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert not errors, errors[0].get("ename", "") + ": " + errors[0].get("evalue", "")
    # no widget shows an error message (the UIs catch exceptions and show them as text)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    assert state, "the notebook displayed no widgets"
    texts = [m["state"].get("value") for m in state.values() if isinstance(m["state"].get("value"), str)]
    shown_errors = [t for t in texts if "Error:" in t]
    assert not shown_errors, shown_errors
    return nb, texts


def test_summing_notebook_runs_on_demo_data(demo_dir, tmp_path, monkeypatch):
    _, texts = _execute("ImageSumming.ipynb", demo_dir, tmp_path, monkeypatch)
    out = demo_dir / "summed"
    assert sorted(p.name for p in out.iterdir()) == ["summed.csv", "summed.tif", "summed_params.json",
                                                      "summed_provenance.csv"]
    params = json.loads((out / "summed_params.json").read_text())
    assert params["patch_size"] == 30 and params["bin_size"] == 10 and params["output"]["frames"] == 100
    assert any(t.startswith("<div") and "saved 4 file(s)" in t for t in texts)


def test_addons_notebook_runs_on_demo_data(demo_dir, tmp_path, monkeypatch):
    _execute("DeepSTORM2DAddOns.ipynb", demo_dir, tmp_path, monkeypatch)
    out = demo_dir / "addons"
    for name in ("demo_locs_deepstorm.csv", "merged.tif", "merged.csv", "summed_frames.tif",
                 "summed_frames.csv", "split/demo_movie_part1.tif", "split/demo_movie_part2.csv",
                 "frames/demo_movie_01.tif", "frames/demo_movie_60.csv"):
        assert (out / name).is_file(), name


def test_viewer_notebook_runs_on_demo_data(demo_dir, tmp_path, monkeypatch):
    from imagesumming.io import read_locs

    _, texts = _execute("VisualizeDeepSTORM2DLocs.ipynb", demo_dir, tmp_path, monkeypatch)
    filtered = demo_dir / "prediction" / "Localizations_demo_avg_filtered.csv"
    kept, _ = read_locs(filtered)
    everything, _ = read_locs(demo_dir / "prediction" / "Localizations_demo_avg.csv")
    assert 0 < len(kept) < len(everything)  # the recommended threshold dropped some false detections
    assert any("Jaccard" in t for t in texts)


def test_errors_in_a_kernel_are_messages_not_tracebacks(tmp_path):
    """In a kernel an Output widget used as a context manager swallows exceptions and prints a
    traceback into itself: the UIs must still show the one-line message (and only that)."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    code = f"""
from imagesumming.widgets import AddOnsUI, PredictionViewerUI, SummingUI
from imagesumming.widgets._common import message_text
s = SummingUI([{str(tmp_path / 'missing.tif')!r}], [{str(tmp_path / 'missing.csv')!r}], out_dir={str(tmp_path / 'out')!r})
a = AddOnsUI()
v = PredictionViewerUI({str(tmp_path / 'nothing')!r})
results = [s.run(), a.split(), a.sum_frames(), v.load()]
print(results)
for widget in (s.run_status, a.split_form.status, a.sum_form.status, v.status):
    print(message_text(widget))
print(len(s.run_log.outputs), len(a.split_form.log.outputs))
"""
    nb = new_notebook(cells=[new_code_cell(code)])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["stream"], outputs
    lines = outputs[0].text.splitlines()
    assert lines[0] == "[False, None, None, False]"
    assert "missing.tif: no such file" in lines[1] and lines[1].startswith("Error:")
    assert lines[2] == "Error: give the movie" and lines[3] == "Error: give the movie"
    assert lines[4].startswith("Error:") and "nothing" in lines[4]
    assert lines[5] == "0 0"  # no traceback printed into the progress areas
    assert not (tmp_path / "out").exists()


def test_copied_notebooks_install_the_imagesumming_that_wrote_them(tmp_path):
    """``imagesumming notebooks`` stores the running imagesumming in each notebook, in a collapsed cell
    just before the setup cell, which installs it (a no-op here: this version is installed) and turns
    on Colab's widget manager when there is a Colab (a stand-in ``google.colab`` module here)."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    from imagesumming import __version__
    from imagesumming.selfwheel import package_wheel

    fake_colab = """
import sys, types
colab = types.ModuleType("google.colab")
colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: print("widget manager on"))
sys.modules["google"] = types.ModuleType("google"); sys.modules["google"].colab = colab
sys.modules["google.colab"] = colab
"""
    paths = copy_notebooks(tmp_path / "embedded")
    setups = []
    for path, name in zip(paths, NOTEBOOKS):
        shipped, nb = _nb(name), nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert len(nb.cells) == len(shipped.cells) + 1  # the wheel cell; everything else as shipped
        code = [c for c in nb.cells if c.cell_type == "code"]
        wheel, setup = code[0], code[1]
        assert wheel.metadata["jupyter"] == {"source_hidden": True} and package_wheel().sha256 in wheel.source
        assert 'imagesumming_install_spec = "" #@param' in setup.source and "enable_custom_widget_manager" in setup.source
        assert [c.source for c in nb.cells if c.cell_type == "markdown"] == \
            [c.source for c in shipped.cells if c.cell_type == "markdown"]
        setups.append((wheel.source, setup.source))
    with_spec = copy_notebooks(tmp_path / "spec", install_spec="git+https://x.org/imagesumming")
    nb = nbformat.read(with_spec[0], as_version=4)
    assert len(nb.cells) == len(_nb(NOTEBOOKS[0]).cells)  # no wheel cell
    assert 'imagesumming_install_spec = "git+https://x.org/imagesumming" #@param' in nb.cells[2].source

    cells = [fake_colab] + [s for pair in setups for s in pair]
    run = new_notebook(cells=[new_code_cell(s) for s in cells])
    NotebookClient(run, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    texts = ["".join(o.get("text", "") for o in c.outputs) for c in run.cells[1:]]
    for setup_text in texts[1::2]:
        assert f"imagesumming {__version__} is installed already: nothing to install." in setup_text
        assert setup_text.rstrip().endswith("widget manager on")
