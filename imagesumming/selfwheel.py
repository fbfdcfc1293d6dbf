"""The running imagesumming as a wheel file, to embed in the notebooks it writes.

A notebook that carries the wheel installs exactly the version that wrote it, with no package index
and no upload. Where the wheel comes from depends on how imagesumming was installed:

* **installed from a wheel or an sdist** (``pip install imagesumming-*.whl``, ``pip install .``): the
  wheel is rebuilt from the installed files listed in the distribution's ``RECORD``. Every file is
  checked against the sha256 that ``RECORD`` holds, so an edited install is refused rather than
  passed on under the release's version. This needs no source and no network, and the result is
  the same bytes every time (sorted entries, fixed timestamps).
* **imported from a source checkout** (``pip install -e .``, or ``PYTHONPATH``): the checkout is
  built with ``pip wheel`` (in a temporary copy, so the checkout gets no ``build/`` folder). It needs
  the build backend (setuptools) installed, or a package index to fetch it from.

:func:`package_wheel` caches the result for the life of the process.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import functools
import hashlib
import importlib.metadata
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .errors import InputError

__all__ = ["Wheel", "package_wheel", "read_wheel", "wheel_summary"]

#: dist-info files that belong to an installation, not to the wheel
_INSTALL_ONLY = {"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"}
_WHEEL_NAME = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")
_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: the same bytes on every rebuild


@dataclasses.dataclass(frozen=True)
class Wheel:
    """A wheel file's name and bytes, and where they came from."""

    name: str
    data: bytes
    origin: str  # how it was made, for messages

    @property
    def version(self) -> str:
        return _WHEEL_NAME.match(self.name).group("version")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def base64_lines(self, width: int = 76) -> list[str]:
        """The bytes in base64, as lines of ``width`` characters."""
        text = base64.b64encode(self.data).decode("ascii")
        return [text[i:i + width] for i in range(0, len(text), width)]


def read_wheel(path) -> Wheel:
    """A wheel file given by the user, checked to be an imagesumming wheel (one-line error otherwise)."""
    p = Path(path)
    m = _WHEEL_NAME.match(p.name)
    if not p.is_file():
        raise InputError("no such wheel file", p)
    if not m or m.group("name").lower().replace(".", "_") != "imagesumming":
        raise InputError("is not an imagesumming wheel (expected imagesumming-VERSION-...-none-any.whl)", p)
    data = p.read_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if "imagesumming/__init__.py" not in z.namelist():
                raise InputError("is not an imagesumming wheel (no imagesumming/__init__.py in it)", p)
    except zipfile.BadZipFile:
        raise InputError("is not a wheel (not a zip file)", p) from None
    return Wheel(p.name, data, f"the wheel file {p}")


@functools.lru_cache(maxsize=1)
def package_wheel() -> Wheel:
    """A wheel of the imagesumming that is running (see the module docstring for how it is made).

    Raises
    ------
    InputError
        The install was edited after installation, or a checkout could not be built (the message
        says why and what to do instead).
    """
    import imagesumming

    init = Path(imagesumming.__file__).resolve()
    try:
        dist = importlib.metadata.distribution("imagesumming")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    # a wheel install (dist-info with WHEEL and RECORD; not an egg-info of a checkout) of the imported files
    if (dist is not None and dist.read_text("WHEEL") is not None
            and _installed_file(dist, "imagesumming/__init__.py") == init):
        return _wheel_from_record(dist)
    root = init.parents[1]
    if (root / "pyproject.toml").is_file() and re.search(r'(?m)^name\s*=\s*"imagesumming"',
                                                         (root / "pyproject.toml").read_text(encoding="utf-8")):
        return _wheel_from_source(root, imagesumming.__version__)
    raise InputError(f"cannot make a wheel of the imagesumming imported from {init.parent}: it is neither an "
                     "installed distribution nor a source checkout", hint="give {wheel} or {install_spec}")


def _installed_file(dist, relative: str) -> Path | None:
    for f in dist.files or ():
        if f.as_posix() == relative:
            return Path(dist.locate_file(f)).resolve()
    return None


def _record_line(arcname: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [arcname, f"sha256={digest}", str(len(data))]


def _zip(entries: list[tuple[str, bytes]], dist_info: str) -> bytes:
    """A wheel archive: the entries, then a RECORD listing them (RECORD last, as the spec asks)."""
    buf, record = io.BytesIO(), io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, data in entries:
            info = zipfile.ZipInfo(arcname, _EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
            writer.writerow(_record_line(arcname, data))
        writer.writerow([f"{dist_info}/RECORD", "", ""])
        info = zipfile.ZipInfo(f"{dist_info}/RECORD", _EPOCH)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        z.writestr(info, record.getvalue().encode())
    return buf.getvalue()


def _wheel_from_record(dist) -> Wheel:
    """Rebuild the wheel from the files pip installed, each checked against its RECORD hash."""
    entries, changed, dist_info = [], [], None
    for f in dist.files or ():
        rel = f.as_posix()
        parts = rel.split("/")
        if parts[0] == ".." or "__pycache__" in parts or rel.endswith(".pyc"):
            continue  # console scripts (pip writes them from entry_points.txt) and compiled files
        if parts[0].endswith(".dist-info"):
            dist_info = parts[0]
            if len(parts) == 2 and parts[1] in _INSTALL_ONLY:
                continue
        path = Path(dist.locate_file(f))
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"the installed imagesumming lacks a file its RECORD lists ({exc.strerror})", path,
                             hint="reinstall it, or give {wheel} or {install_spec}") from None
        if f.hash is not None and f.hash.mode == "sha256":
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            if digest != f.hash.value:
                changed.append(rel)
        entries.append((rel, data))
    if changed:
        raise InputError(f"{len(changed)} installed file(s) differ from what was installed (first: {changed[0]}), "
                         f"so they are not imagesumming {dist.version} as released", Path(dist.locate_file("")),
                         hint="reinstall it, or give {wheel} or {install_spec}")
    if dist_info is None or not any(rel == f"{dist_info}/WHEEL" for rel, _ in entries):
        raise InputError("the installed imagesumming has no dist-info WHEEL file to rebuild a wheel from",
                         Path(dist.locate_file("")), hint="give {wheel} or {install_spec}")
    # package files first, then dist-info (the order wheel builders use); sorted: the same bytes each time
    entries.sort(key=lambda e: (e[0].startswith(dist_info + "/"), e[0]))
    tags = _wheel_tags(dict(entries)[f"{dist_info}/WHEEL"].decode())
    name = f"{dist_info.removesuffix('.dist-info')}-{tags}.whl"
    return Wheel(name, _zip(entries, dist_info), f"the installed files ({Path(dist.locate_file('')).resolve()})")


def _wheel_tags(wheel_file: str) -> str:
    tags = [line.split(":", 1)[1].strip() for line in wheel_file.splitlines() if line.startswith("Tag:")]
    if len(tags) != 1:  # a pure-Python wheel has one tag; anything else we do not rebuild
        raise InputError(f"the installed imagesumming's WHEEL file has {len(tags)} tags (expected one)")
    return tags[0]


def _wheel_from_source(root: Path, version: str) -> Wheel:
    """Build the checkout at ``root`` with pip, in a temporary copy (no build/ left in the checkout)."""
    with tempfile.TemporaryDirectory(prefix="imagesumming-wheel-") as tmp:
        src = Path(tmp) / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist", ".git", "*.whl")
        src.mkdir()
        for item in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "imagesumming", "patches", "templates"):
            p = root / item
            if p.is_dir():
                shutil.copytree(p, src / item, ignore=ignore)
            elif p.is_file():
                shutil.copy2(p, src / item)
        out = Path(tmp) / "dist"
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--disable-pip-version-check", "-w",
               str(out), str(src)]
        if _has_build_backend():
            cmd.insert(4, "--no-build-isolation")  # offline: the setuptools already installed
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PIP_NO_INPUT="1"))
        wheels = sorted(out.glob("imagesumming-*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel written"]
            raise InputError(f"could not build a wheel of the checkout ({tail[0]})", root,
                             hint="install setuptools>=77 or give {wheel} or {install_spec}")
        wheel = Wheel(wheels[0].name, wheels[0].read_bytes(), f"the source checkout {root}")
    if wheel.version != version:
        raise InputError(f"the checkout builds version {wheel.version} but {version} is running", root)
    return wheel


def _has_build_backend() -> bool:
    """setuptools new enough for pyproject.toml's build-system (>= 77), importable here."""
    try:
        v = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    m = re.match(r"(\d+)", v)
    return bool(m) and int(m.group(1)) >= 77


def wheel_summary(wheel: Wheel) -> str:
    """One line for messages: name, size, sha256."""
    return f"{wheel.name} ({len(wheel.data) / 1024:.0f} KiB, sha256 {wheel.sha256[:12]}...)"
