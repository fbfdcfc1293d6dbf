"""The self-contained notebooks, end to end: a wheel built from this checkout is installed (no
source beside it), patches the Deep-STORM notebook and writes the companion notebooks with default
options; their install cells then run in a fresh environment that has Colab's packages
(``.ci/colab-constraints.txt``) and no package index at all. imagesumming must import there with
the patcher's version, and no other package may change version.

These tests build a virtual environment from the constraints (a minute or two, with an index), so
they are marked ``slow`` and run only with ``--run-slow`` (``.ci/run`` passes it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imagesumming import __version__

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS = REPO / ".ci" / "colab-constraints.txt"
FIXTURE = Path(__file__).parent / "fixtures" / "deepstorm2d_anchors.ipynb"


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _offline_env() -> dict:
    """No package index, no find-links, no pip configuration: pip can only use what it is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
    env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _packages(venv: Path) -> dict:
    out = _run([_bin(venv, "python"), "-m", "pip", "list", "--format=json"], env=_offline_env()).stdout
    return {p["name"].lower(): p["version"] for p in json.loads(out)}


@pytest.fixture(scope="session")
def colab_venv(tmp_path_factory) -> Path:
    """A fresh environment with Colab's packages (the constraints file's pins) and no imagesumming."""
    venv = tmp_path_factory.mktemp("colab") / "venv"
    _run([sys.executable, "-m", "venv", venv])
    _run([_bin(venv, "python"), "-m", "pip", "install", "-q", "-r", CONSTRAINTS])
    assert "imagesumming" not in _packages(venv)
    return venv


@pytest.fixture(scope="session")
def installed_patcher(tmp_path_factory) -> dict:
    """imagesumming installed from a wheel built from this checkout, into a folder without its source:
    the environment to run it with (``PYTHONPATH``) and the wheel's name."""
    from imagesumming.selfwheel import _wheel_from_source

    tmp = tmp_path_factory.mktemp("patcher")
    wheel = _wheel_from_source(REPO, __version__)
    path = tmp / wheel.name
    path.write_bytes(wheel.data)
    target = tmp / "site"
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", target, path], env=_offline_env())
    env = dict(os.environ, PYTHONPATH=str(target))
    where = _run([sys.executable, "-c", "import imagesumming; print(imagesumming.__file__)"], env=env, cwd=tmp).stdout
    assert Path(where.strip()).is_relative_to(target)  # the installed copy, not this checkout
    return {"env": env, "cwd": tmp, "wheel": wheel}


def _install_and_check(colab_venv: Path, script: str, tmp_path: Path) -> str:
    """Run the install cell(s) in the Colab-like environment offline; check what changed; uninstall."""
    before = _packages(colab_venv)
    cell = tmp_path / "install_cells.py"
    cell.write_text(script, encoding="utf-8")
    python = _bin(colab_venv, "python")
    out = _run([python, cell], env=_offline_env(), cwd=tmp_path).stdout
    after = _packages(colab_venv)
    assert after.pop("imagesumming") == __version__
    assert after == before, "other packages changed version"
    assert f"installed imagesumming {__version__} from the wheel stored in this notebook" in out
    assert "other packages: none changed" in out
    version = _run([python, "-c", "import imagesumming, sys; print(imagesumming.__version__, imagesumming.__file__)"],
                   env=_offline_env(), cwd=tmp_path).stdout.split()
    assert version[0] == __version__ and Path(version[1]).is_relative_to(colab_venv)
    again = _run([python, cell], env=_offline_env(), cwd=tmp_path).stdout  # a second run: nothing to do
    assert f"imagesumming {__version__} is installed already: nothing to install." in again
    _run([python, "-m", "pip", "uninstall", "-y", "-q", "imagesumming"], env=_offline_env())
    assert _packages(colab_venv) == before
    return out


def _same_files(wheel_cell: str, built) -> None:
    """The wheel in the cell holds the same files, byte for byte, as the wheel that was installed
    (only RECORD, which lists them with their hashes, and the zip's timestamps differ)."""
    import base64
    import io
    import zipfile

    namespace = {}
    exec(wheel_cell, namespace)
    name, _, lines = namespace["imagesumming_wheel"]
    assert name == built.name
    with zipfile.ZipFile(io.BytesIO(base64.b64decode("".join(lines)))) as a, zipfile.ZipFile(io.BytesIO(built.data)) as b:
        files = {n for n in a.namelist() if not n.endswith("/RECORD")}
        assert files == {n for n in b.namelist() if not n.endswith("/RECORD")}
        assert all(a.read(n) == b.read(n) for n in files)


@pytest.mark.parametrize("which", ["fixture", "real"])
def test_patched_notebook_installs_offline_exactly_the_patchers_version(which, installed_patcher, colab_venv,
                                                                        tmp_path):
    if which == "real":
        from conftest import real_deepstorm_notebook

        source = real_deepstorm_notebook()
    else:
        source = FIXTURE
    patched = tmp_path / "patched.ipynb"
    proc = _run([sys.executable, "-m", "imagesumming", "patch-notebook", source, "-o", patched],
                env=installed_patcher["env"], cwd=installed_patcher["cwd"])
    assert "from the installed files" in proc.stdout  # rebuilt from the install, no source needed
    nb = json.loads(patched.read_text(encoding="utf-8"))
    injected = [c for c in nb["cells"] if c["metadata"].get("imagesumming", {}).get("injected")]
    wheel_cell, install_cell = ("".join(c["source"]) for c in injected[1:3])
    _same_files(wheel_cell, installed_patcher["wheel"])
    _install_and_check(colab_venv, wheel_cell + "\n" + install_cell, tmp_path)


def test_companion_notebooks_install_offline_exactly_the_writers_version(installed_patcher, colab_venv, tmp_path):
    import nbformat

    out = tmp_path / "nbs"
    _run([sys.executable, "-m", "imagesumming", "notebooks", out], env=installed_patcher["env"],
         cwd=installed_patcher["cwd"])
    names = sorted(p.name for p in out.iterdir())
    assert names == ["DeepSTORM2DAddOns.ipynb", "ImageSumming.ipynb", "VisualizeDeepSTORM2DLocs.ipynb"]
    for name in names:
        nb = nbformat.read(out / name, as_version=4)
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        _same_files(code[0], installed_patcher["wheel"])
        _install_and_check(colab_venv, code[0] + "\n" + code[1], tmp_path)
