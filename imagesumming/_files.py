"""Output files that land as one complete set, never over an input (one mechanism for every command).

How a command writes its outputs (:func:`output_set`; :func:`atomic_path` is the one-file case):

1. **Lock.** ``DIR/.imagesumming/lock`` is locked (``fcntl.flock``, released by the system when the
   process dies, even on SIGKILL). A second imagesumming run into the same folder fails at once
   with one line naming the run that holds it. Where the filesystem has no locks (some FUSE
   mounts) the run goes on without one and says so once; the checks below still catch a mix.
2. **Check**, under the lock: an output that exists is refused unless ``force``; an output that is
   one of the inputs (the same file, also through a symlink or a hard link) is always refused.
3. **Stage.** Every output is written under its own name into ``DIR/.imagesumming/run-<id>/``
   (so any name a folder takes, up to 255 bytes, works). On any error this folder is removed and
   the outputs are untouched; a full disk names the output being written.
4. **Manifest** (sets that have one, e.g. ``NAME_params.json`` of ``sum``): an ``output_set``
   record is added with the run id and the size and sha256 of every other file of the set.
5. **Commit.** A journal ``set.json`` (run id, command, the files with their inode numbers) is
   written into the staging folder, the files are renamed into place, the manifest last, and the
   staging folder is removed.

After a kill, a fault or a race the folder therefore holds the old set, the new set, or a set that
:func:`set_problems` reports as incomplete: a journal left in ``.imagesumming`` whose files were
moved only in part, or a manifest whose sizes/hashes do not match the files beside it. The next run
into the folder removes leftovers that hold no information (staging of a run killed before its
commit; journals whose files all or none moved) and warns about incomplete sets; a run that writes
every file of an incomplete set again (``--force``) clears it.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import hashlib
import json
import logging
import math
import os
import re
import secrets
import shutil
import socket
from pathlib import Path
from typing import Iterable, Iterator

from .errors import InputError, OutputExistsError

__all__ = ["atomic_path", "output_set", "OutputSet", "OutputBusyError", "check_outputs", "check_input_file",
           "check_not_inputs", "set_problems", "set_report", "file_sha256", "json_ready", "STAGING_DIR"]

log = logging.getLogger("imagesumming")

STAGING_DIR = ".imagesumming"  # the one hidden place, beside the outputs, for locks and staged files
_JOURNAL = "set.json"
_LOCK = "lock"
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}


class OutputBusyError(InputError):
    """Another imagesumming run is writing into the same output folder."""


def check_input_file(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path, or raise InputError if it is missing, a folder or empty."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", p)
    if p.is_dir():
        raise InputError("is a directory, expected a file", p)
    if p.stat().st_size == 0:
        raise InputError("file is empty", p)
    return p


def check_outputs(paths: Iterable[str | os.PathLike], force: bool = False) -> list[Path]:
    """Refuse (before anything is written) when an output exists and ``force`` is False."""
    out = [Path(p) for p in paths]
    for p in out:
        if p.is_dir():
            raise OutputExistsError("is a directory, expected an output file name", p)
        if p.exists() and not force:
            raise OutputExistsError("exists already", p, hint="{force} to overwrite")
    return out


def check_not_inputs(outputs: Iterable[str | os.PathLike], inputs: Iterable) -> None:
    """Refuse an output that is one of ``inputs`` (same file: path, symlink or hard link), even with force.

    ``inputs`` may hold arrays, tables or None (ignored): only paths are compared.
    """
    ins = []
    for i in inputs:
        if isinstance(i, (str, os.PathLike)):
            with contextlib.suppress(OSError):
                st = os.stat(i)
                ins.append((st.st_dev, st.st_ino, Path(i)))
    if not ins:
        return
    for out in outputs:
        try:
            st = os.stat(out)
        except OSError:
            continue
        for dev, ino, src in ins:
            if (st.st_dev, st.st_ino) == (dev, ino):
                same = "" if Path(out) == src else f" ({src}, the same file)"
                raise InputError(f"output would overwrite an input{same}; outputs never replace inputs, even with "
                                 "--force: choose another output name or folder", out)


def file_sha256(path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (never the whole file in memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# the folder lock
# ---------------------------------------------------------------------------------------------

_held: dict = {}  # folder -> [fd or None, depth]: one process may nest sets in a folder it holds
_warned_no_lock: set = set()


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _acquire(folder: Path, command: str):
    """Lock ``folder`` for this process: the lock's fd, or None where the filesystem has no locks."""
    key = os.path.realpath(folder)
    if key in _held:
        _held[key][1] += 1
        return _held[key][0]
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no lock (the manifests still catch mixes)
        _held[key] = [None, 1]
        return None
    base = folder / STAGING_DIR
    lock = base / _LOCK
    for _ in range(50):
        base.mkdir(exist_ok=True)
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:  # a finishing run removed the folder just now
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = ""
            with contextlib.suppress(OSError):
                holder = os.read(fd, 300).decode("utf-8", "replace").strip()
            os.close(fd)
            raise OutputBusyError(f"another imagesumming run ({holder or 'unknown'}) is writing into this folder",
                                  folder, hint="wait for it to finish, or choose another folder") from None
        except OSError as exc:
            os.close(fd)
            if exc.errno not in _NO_LOCKS:
                raise
            if key not in _warned_no_lock:
                _warned_no_lock.add(key)
                log.warning("%s: this filesystem has no file locks: make sure no other imagesumming run writes "
                            "into this folder at the same time", folder)
            _held[key] = [None, 1]
            return None
        try:  # the lock file may have been removed (and made anew) between open and flock: try again
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        if os.fstat(fd).st_size:  # a truncation would make ext4 flush the file when it is closed
            os.ftruncate(fd, 0)
        os.write(fd, f"{command or 'imagesumming'}, pid {os.getpid()} on {socket.gethostname()}, "
                     f"since {_now()}".encode())
        _held[key] = [fd, 1]
        return fd
    raise InputError("cannot lock the output folder (its lock file keeps changing)", folder)


def _release(folder: Path) -> None:
    key = os.path.realpath(folder)
    entry = _held[key]
    entry[1] -= 1
    if entry[1]:
        return
    del _held[key]
    fd = entry[0]
    base = folder / STAGING_DIR
    try:  # nothing left but the lock: remove the hidden folder (others re-check the lock's inode)
        if os.listdir(base) == [_LOCK]:
            os.unlink(base / _LOCK)
            os.rmdir(base)
    except OSError:
        pass
    finally:
        if fd is not None:
            os.close(fd)


# ---------------------------------------------------------------------------------------------
# journals of interrupted runs
# ---------------------------------------------------------------------------------------------

def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _moved(folder: Path, entry: dict) -> bool:
    """Whether the file the journal staged is now in place (a rename keeps the inode and the mtime)."""
    try:
        st = os.stat(folder / entry["name"])
    except OSError:
        return False
    if (st.st_dev, st.st_ino) == (entry.get("dev"), entry.get("ino")):
        return True
    # filesystems that give a renamed file a new inode (some FUSE mounts) keep its size and mtime
    return (st.st_size, st.st_mtime_ns) == (entry.get("bytes"), entry.get("mtime_ns"))


def _journals(folder: Path):
    """``(staging dir, journal or None)`` of every run staged in ``folder`` (other than running ones)."""
    base = folder / STAGING_DIR
    try:
        runs = sorted(p for p in base.iterdir() if p.name.startswith("run-") and p.is_dir() and p not in _active)
    except OSError:
        return []
    return [(run, _read_json(run / _JOURNAL) if (run / _JOURNAL).exists() else None) for run in runs]


def _incomplete(folder: Path, journal: dict):
    """``(moved names, not moved names)`` when the journal's set was moved only in part, else None."""
    files = journal.get("files") or []
    moved = [f["name"] for f in files if _moved(folder, f)]
    if not moved or len(moved) == len(files):
        return None
    return moved, [f["name"] for f in files if f["name"] not in moved]


def _describe(folder: Path, run: Path, journal: dict, moved, missing) -> str:
    """One line: which run left which files half moved, and what to do (the part after 'incomplete output set')."""
    def names(xs):
        return ", ".join(xs[:2]) + (f" +{len(xs) - 2}" if len(xs) > 2 else "")

    return (f"a `{journal.get('command') or 'imagesumming'}` run of {str(journal.get('started', '?'))[:16]} was killed "
            f"while moving its files in ({names(moved)} new; {names(missing)} old or missing); rerun it with --force, "
            f"or delete them and {folder / STAGING_DIR}")


def _tidy_leftovers(folder: Path) -> list[tuple[Path, dict, list, list]]:
    """Under the lock: remove leftovers that carry no information; return the incomplete sets."""
    incomplete = []
    for run, journal in _journals(folder):
        state = _incomplete(folder, journal) if journal else None
        if state is None:  # killed before its commit, or after the last rename: nothing to report
            shutil.rmtree(run, ignore_errors=True)
            continue
        for p in run.iterdir():  # keep the journal (it marks the set incomplete), free the staged data
            if p.name != _JOURNAL:
                with contextlib.suppress(OSError):
                    p.unlink() if not p.is_dir() else shutil.rmtree(p)
        incomplete.append((run, journal, *state))
    return incomplete


def set_problems(*paths: str | os.PathLike, only_these: bool = False) -> list[str]:
    """Why the output files ``paths`` are not one complete set (empty list: no problem known).

    Looks at the journals of interrupted runs in each file's folder, and at the manifest of its
    set (``<stem>_params.json``, ``<stem>_groups.json`` or ``metrics.json`` beside it, or the file
    itself when it is one): a file whose size or sha256 differs from the manifest comes from another run or was
    changed. Files given together must belong to the same manifest when any has one.
    ``only_these``: compare only ``paths`` with their manifest (are they files of one run?), not the
    rest of the set (figures or a provenance csv left behind when copying do not matter then).
    """
    problems, checked, owners = [], set(), {}
    given = {Path(p) for p in paths}
    for path in paths:
        p = Path(path)
        folder = p.parent
        for run, journal in _journals(folder):
            if journal and any(f.get("name") == p.name for f in journal.get("files", [])):
                state = _incomplete(folder, journal)
                if state:
                    problems.append("incomplete output set: " + _describe(folder, run, journal, *state))
        for manifest in _manifests_of(p):
            record = (_read_json(manifest) or {}).get("output_set")
            if not isinstance(record, dict):
                continue
            files = record.get("files", {})
            if p.name not in files and p != manifest:
                continue
            owners[p] = manifest
            if manifest in checked:
                continue
            checked.add(manifest)
            bad = []
            for name, want in files.items():
                f = folder / name
                if only_these and f not in given:
                    continue
                if not f.exists():
                    bad.append(f"{name} is missing")
                elif f.stat().st_size != want.get("bytes") or file_sha256(f) != want.get("sha256"):
                    bad.append(f"{name} differs")
            if bad:
                problems.append(f"not one complete output set: {'; '.join(bad[:2])} from {manifest.name} (run "
                                f"{record.get('run_id')}): files of different runs, or changed since")
    if owners and (len(owners) < len(paths) or len(set(owners.values())) > 1):
        problems.append(f"{', '.join(Path(p).name for p in paths)} are not the outputs of one run "
                        f"(manifests: {', '.join(sorted({m.name for m in owners.values()})) or 'none'})")
    return list(dict.fromkeys(problems))


def set_report(path: str | os.PathLike) -> str | None:
    """One line on the output set ``path`` belongs to (complete or not), or None when none is known."""
    problems = set_problems(path)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return f"{problems[0]}{more}"
    for manifest in _manifests_of(Path(path)):
        record = (_read_json(manifest) or {}).get("output_set")
        if isinstance(record, dict) and (Path(path).name in record.get("files", {}) or Path(path) == manifest):
            return (f"complete ({len(record.get('files', {})) + 1} files of the `{record.get('command')}` run "
                    f"{record.get('run_id')} match {manifest.name})")
    return None


def _manifests_of(p: Path) -> list[Path]:
    if p.suffix == ".json" and p.exists():
        return [p]
    stems = {p.stem, p.stem.rsplit("_", 1)[0], re.sub(r"_locs$", "", p.stem)}
    out = [p.with_name("metrics.json")] if p.with_name("metrics.json").exists() else []  # evaluate's set
    for stem in stems:
        for suffix in ("_params.json", "_groups.json"):
            m = p.with_name(stem + suffix)
            if m.exists() and m != p:
                out.append(m)
    return out


# ---------------------------------------------------------------------------------------------
# output sets
# ---------------------------------------------------------------------------------------------

_active: dict = {}  # staging dir -> OutputSet, for atomic_path() calls made by writers inside a set


class OutputSet:
    """The outputs of one command, staged in a hidden folder and moved into place together.

    Call it with a final output path to get the path to write instead (``stage(final)``). Use it
    through :func:`output_set`.
    """

    def __init__(self, outputs, *, inputs=(), force=False, command="", manifest=None):
        self.outputs = [Path(p) for p in outputs]
        folders = {p.parent for p in self.outputs}
        if len(folders) != 1:
            raise ValueError(f"an output set lives in one folder, got {sorted(map(str, folders))}")
        self.folder = folders.pop()
        self.inputs, self.force, self.command = list(inputs), force, command
        self.manifest = None if manifest is None else Path(manifest)
        if self.manifest is not None and self.manifest not in self.outputs:
            raise ValueError("the manifest must be one of the outputs")
        self.memo = {}  # texts the writers reuse across outputs
        self._manifest_text = None  # given with write_manifest(): written once, with its record, at the commit
        self.run_id = f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        self.tmp = None
        self._last = None
        self.started = _now()

    # writing ---------------------------------------------------------------------------------
    def __call__(self, final) -> Path:
        """The staging path of the output ``final``."""
        final = Path(final)
        if final.parent != self.folder or final not in self._names:
            raise ValueError(f"{final} is not an output of this set")
        self._last = final
        return self.tmp / final.name

    def write_text(self, final, text: str) -> None:
        """Write the output ``final`` (UTF-8 text, a line break added). The manifest is written at the
        commit, its ``output_set`` record added: once, instead of written, read back and written again."""
        final = Path(final)
        if final == self.manifest:
            self(final)  # checks that it is an output of the set
            self._manifest_text = text
        else:
            self(final).write_text(text.rstrip("\n") + "\n", encoding="utf-8")

    # entering --------------------------------------------------------------------------------
    def _enter(self):
        where = self.outputs[0] if len(self.outputs) == 1 else self.folder  # what the error names
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"cannot write here ({self.folder} is a file, expected an output folder)", where)
        self._names = set(self.outputs)
        check_not_inputs(self.outputs, self.inputs)
        missing = []  # the folders this run makes, innermost first
        for p in [self.folder, *self.folder.parents]:
            if p.exists():
                break
            missing.append(p)
        self.created = missing[-1] if missing else None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._fd = _acquire(self.folder, self.command)
        except InputError:
            self._remove_created()
            raise
        except OSError as exc:  # a read-only place, a file where a folder should be, ...
            self._remove_created()
            raise InputError(f"cannot write here ({exc.strerror or exc})", where) from None
        try:
            incomplete = _tidy_leftovers(self.folder) if self._fd is not None else []
            mine = {p.name for p in self.outputs}
            for run, journal, moved, missing in incomplete:
                if not mine.issuperset(f["name"] for f in journal.get("files", [])):
                    log.warning("%s: incomplete output set: %s", self.folder,
                                _describe(self.folder, run, journal, moved, missing))
            self._incomplete = incomplete
            for p in self.outputs:
                if p.is_dir():
                    raise OutputExistsError("is a directory, expected an output file name", p)
                if p.exists() and not self.force:
                    # the journals (kept above) and the manifest: say when what is there is not whole
                    part = " and is part of an incomplete output set" if set_problems(p) else ""
                    raise OutputExistsError(f"exists already{part}", p, hint="{force} to overwrite")
            check_not_inputs(self.outputs, self.inputs)  # again, under the lock
            self.tmp = self.folder / STAGING_DIR / f"run-{self.run_id}"
            self.tmp.mkdir(parents=True)  # parents: without locks, another run may just have removed it
        except BaseException as exc:
            _release(self.folder)
            self._remove_created()
            if isinstance(exc, OSError):  # name the output when it is the culprit (e.g. a name too long)
                named = next((p for p in self.outputs if exc.filename is not None and os.fspath(exc.filename)
                              == os.fspath(p)), where)
                raise InputError(f"cannot write here ({exc.strerror or exc})", named) from None
            raise
        _active[self.tmp] = self
        self._seen = set()
        log.addFilter(self._filter)
        return self

    def _remove_created(self):
        """Remove the folders made for this run, innermost first, while they are empty: another
        command may have written into them meanwhile (a run can hold its folder for hours)."""
        if self.created is None:
            return
        for p in [self.folder, *self.folder.parents]:
            try:
                p.rmdir()
            except OSError:  # not empty (someone else's files), or gone
                return
            if p == self.created:
                return

    def _filter(self, record) -> bool:
        """Writers' log messages: name the final folder, and say each thing once (not once per frame)."""
        msg = record.getMessage()
        if str(self.tmp) not in msg:
            return True
        key = re.sub(r"\S*" + re.escape(str(self.tmp)) + r"\S*", "", msg)
        if key in self._seen:
            return False
        self._seen.add(key)
        record.msg, record.args = msg.replace(str(self.tmp), str(self.folder)), ()
        return True

    # leaving ---------------------------------------------------------------------------------
    def _commit(self) -> None:
        staged = {p: self.tmp / p.name for p in self.outputs}
        absent = [str(p) for p, s in staged.items() if not s.exists()
                  and not (p == self.manifest and self._manifest_text is not None)]
        if absent:
            raise RuntimeError(f"outputs declared but not written: {absent[:3]}")
        if self.manifest is not None:
            record = {"run_id": self.run_id, "command": self.command, "written": _now(),
                      "files": {}}
            for p, s in staged.items():
                if p != self.manifest:
                    self._last = p
                    record["files"][p.name] = {"bytes": s.stat().st_size, "sha256": file_sha256(s)}
            self._last = self.manifest
            # added as the last key of the JSON object, keeping the layout of the rest of the file
            text = self._manifest_text
            if text is None:
                text = staged[self.manifest].read_text(encoding="utf-8")
            text = text.rstrip()
            if not text.endswith("}") or "output_set" in json.loads(text):
                raise RuntimeError(f"{self.manifest}: not a JSON object to add the output_set record to")
            entry = json.dumps({"output_set": record}, indent=1)[1:-1].strip().replace("\n", "\n ")
            head = text[:-1].rstrip()
            sep = "" if head.endswith("{") else ","
            staged[self.manifest].write_text(head + sep + "\n " + entry + "\n}\n", encoding="utf-8")
        order = [p for p in self.outputs if p != self.manifest] + ([self.manifest] if self.manifest else [])
        files = []
        for p in order:
            st = staged[p].stat()
            files.append({"name": p.name, "dev": st.st_dev, "ino": st.st_ino, "bytes": st.st_size,
                          "mtime_ns": st.st_mtime_ns})
        journal = {"run_id": self.run_id, "command": self.command, "started": self.started, "pid": os.getpid(),
                   "host": socket.gethostname(), "files": files}
        self._last = None
        part = self.tmp / (_JOURNAL + ".part")
        part.write_text(json.dumps(journal), encoding="utf-8")
        os.replace(part, self.tmp / _JOURNAL)
        for p in order:  # from here on a kill leaves a journal that marks a partly moved set
            os.replace(staged[p], p)
        # sets that were incomplete and whose every file this run replaced are whole again
        mine = {p.name for p in self.outputs}
        for run, journal, *_ in getattr(self, "_incomplete", []):
            if mine.issuperset(f["name"] for f in journal.get("files", [])):
                shutil.rmtree(run, ignore_errors=True)

    def _rename_error(self, exc: BaseException) -> BaseException | None:
        """An error that names the output, not the staging folder (None: raise ``exc`` as it is)."""
        tmp = str(self.tmp)
        if isinstance(exc, InputError) and tmp in str(exc):
            path = None if exc.path is None else exc.path.replace(tmp, str(self.folder))
            return type(exc)(exc.message.replace(tmp, str(self.folder)), path, hint=exc.hint)
        if not isinstance(exc, OSError):
            return None
        name = None if exc.filename is None else os.fspath(exc.filename)
        if name is not None and tmp in name:
            name = name.replace(tmp, str(self.folder))
        elif name is None and self._last is not None:  # e.g. a full disk seen by fh.write(): no file name
            name = str(self._last)
        if name is None or name == exc.filename:
            return None
        return OSError(exc.errno, f"{exc.strerror or exc} (nothing was moved into place)", name)

    def _exit(self, exc_type, exc) -> None:
        try:
            if exc_type is None:
                self._commit()
        except BaseException as e:  # noqa: BLE001 - a failing commit is an error like any other
            exc_type, exc = type(e), e
            self._cleanup(failed=True)
            new = self._rename_error(e)
            if new is not None:
                raise new from None
            raise
        self._cleanup(failed=exc_type is not None)
        if exc_type is not None:
            new = self._rename_error(exc)
            if new is not None:
                raise new from None

    def _cleanup(self, failed: bool) -> None:
        _active.pop(self.tmp, None)
        log.removeFilter(self._filter)
        journal = self.tmp / _JOURNAL
        if failed and journal.exists() and _incomplete(self.folder, _read_json(journal) or {}):
            # a rename failed midway: keep the journal so the part moved is recognised as incomplete
            for p in self.tmp.iterdir():
                if p.name != _JOURNAL:
                    with contextlib.suppress(OSError):
                        p.unlink()
        else:
            try:  # after a commit only the journal is left
                if not failed:
                    os.unlink(journal)
                os.rmdir(self.tmp)
            except OSError:
                shutil.rmtree(self.tmp, ignore_errors=True)
        _release(self.folder)
        if failed:
            self._remove_created()


@contextlib.contextmanager
def output_set(outputs, *, inputs=(), force: bool = False, command: str = "",
               manifest=None) -> Iterator[OutputSet]:
    """Stage the outputs of one command and move them into place together when the block succeeds.

    Parameters
    ----------
    outputs : list of paths
        Every file the command writes, all in one folder.
    inputs : list
        The command's input files (other items are ignored): an output that is one of them is
        refused, even with ``force``.
    force : bool
        Replace existing outputs.
    command : str
        Recorded in the lock and the journal (shown to a second run and in reports).
    manifest : path, optional
        An output holding a JSON object: an ``output_set`` record (run id, size and sha256 of every
        other output) is added to it before the commit, and it is moved in last.

    Yields
    ------
    OutputSet
        ``stage(final)`` gives the path to write for output ``final``.

    A set opened inside an active set of the same folder whose outputs it shares joins that set
    (its files move in with the outer set's).
    """
    outs = [Path(p) for p in outputs]
    for outer in _active.values():
        if outs and set(outs) <= outer._names:
            check_not_inputs(outs, inputs)
            yield outer
            return
    stage = OutputSet(outs, inputs=inputs, force=force, command=command, manifest=manifest)._enter()
    try:
        yield stage
    except BaseException as exc:
        stage._exit(type(exc), exc)
        raise
    stage._exit(None, None)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, force: bool = False, *, inputs=()) -> Iterator[Path]:
    """Yield the path to write for the output ``path``, moved onto ``path`` when the block succeeds.

    A one-file :func:`output_set`. Inside an active set (the path is in its staging folder, or
    one of its outputs) it writes there directly: the set moves it in. On an exception nothing is
    left behind and ``path`` is untouched.
    """
    target = Path(path)
    if target.parent in _active:  # a writer called with a staged path
        yield target
        return
    with output_set([target], inputs=inputs, force=force) as stage:
        yield stage(target)


def json_ready(obj):
    """``obj`` with numpy values as Python ones, paths as text and NaN/inf as None (valid JSON).

    Dicts, lists and tuples are converted recursively; anything else is returned as it is, so
    ``json.dumps`` still names a type it cannot store.
    """
    import numpy as np

    if isinstance(obj, dict):
        return {(k.item() if isinstance(k, np.generic) else k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj
