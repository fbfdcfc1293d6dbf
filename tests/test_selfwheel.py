"""The running imagesumming as a wheel (imagesumming.selfwheel): rebuilt from an install's RECORD."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile

import pytest

from imagesumming import __version__
from imagesumming.selfwheel import package_wheel

REBUILD = ("import sys\n"
           "from imagesumming.errors import InputError\n"
           "from imagesumming.selfwheel import package_wheel\n"
           "try:\n"
           "    w = package_wheel()\n"
           "except InputError as exc:\n"
           "    print('refused:', exc)\n"
           "else:\n"
           "    sys.stdout.buffer.write(w.data)\n")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel of this imagesumming installed (no dependencies) into a folder of its own."""
    tmp = tmp_path_factory.mktemp("selfwheel")
    wheel = package_wheel()
    (tmp / wheel.name).write_bytes(wheel.data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                    str(tmp / "site"), str(tmp / wheel.name)], check=True, env=dict(env, PIP_CONFIG_FILE=os.devnull))
    return tmp, wheel


def _rebuild(tmp):
    return subprocess.run([sys.executable, "-c", REBUILD], capture_output=True, cwd=tmp, check=True,
                          env=dict(os.environ, PYTHONPATH=str(tmp / "site"))).stdout


def test_an_installed_wheel_is_rebuilt_with_the_same_files_and_bytes_each_time(installed):
    tmp, wheel = installed
    data = _rebuild(tmp)
    assert data == _rebuild(tmp)  # reproducible: sorted entries, fixed timestamps
    with zipfile.ZipFile(io.BytesIO(data)) as a, zipfile.ZipFile(io.BytesIO(wheel.data)) as b:
        files = {n for n in a.namelist() if not n.endswith("/RECORD")}
        assert files == {n for n in b.namelist() if not n.endswith("/RECORD")}
        assert all(a.read(n) == b.read(n) for n in files)
        assert a.namelist()[-1] == f"imagesumming-{__version__}.dist-info/RECORD"
        record = a.read(a.namelist()[-1]).decode()
        assert all(n in record for n in files) and "INSTALLER" not in record and ".pyc" not in record


def test_an_edited_install_is_refused(installed):
    tmp, _ = installed
    init = tmp / "site" / "imagesumming" / "summing.py"
    original = init.read_bytes()
    try:
        init.write_bytes(original + b"\n# edited\n")
        out = _rebuild(tmp).decode()
    finally:
        init.write_bytes(original)
    assert out.startswith("refused:") and "differ from what was installed" in out and "imagesumming/summing.py" in out
