"""Patch the ZeroCostDL4Mic Deep-STORM 2D notebook: reproducible edits, checked, minimal diffs.

Each patch is data: a YAML file in :mod:`imagesumming.patches` (id, purpose, which cell, the
operations) whose replacement or injected text comes from :mod:`imagesumming.templates` (``cells/``),
with ``{{placeholders}}`` filled at patch time. The engine reads the notebook as JSON, applies the
patches in order and writes it back in the input's own serialization (indent, separators, key order,
``ensure_ascii``, trailing newline), so untouched cells keep their bytes and ``git diff`` shows only
the patches.

Cells are found by their Colab id (``metadata.id``) first, then by a heading (the first code cell
after a markdown cell whose first line matches) or an anchor line. Lines are matched after
``rstrip()`` with tolerant regular expressions. Every patched or injected cell is marked in its
metadata (``metadata.imagesumming.patches = {patch id: package version}``), so a second run finds
the marks and reports "already applied" instead of patching twice.

Operations (keys of an ``operations`` entry):

``require``
    ``match`` must match a line of the cell (nothing changes).
``replace_line``
    The one line matching ``match`` is replaced by ``text`` or ``template`` (named groups of the
    match are placeholders; each template line is indented like the matched line).
``insert_after`` / ``insert_before``
    ``text``/``template`` lines go after/before the one line matching ``match``, indented like it.
``set_param``
    Sets the value of the Colab form field ``name = value #@param ...`` to ``value``, keeping the
    spacing and the annotation; ``at_least: true`` only raises a numeric value; ``when: PARAM``
    skips the operation when that patch parameter is None.
``insert_cells_before``
    Inserts ``cells`` (each ``cell_type`` + ``template``) before the target cell; a cell with
    ``when: PARAM`` is left out when that patch parameter is None, one with ``payload: true`` is
    collapsed in Colab and JupyterLab and abbreviated in diffs.

Any operation may say ``optional: true`` (a miss is a note, not a failure).
"""

from __future__ import annotations

import ast
import base64
import copy
import dataclasses
import difflib
import hashlib
import itertools
import json
import logging
import os
import re
from pathlib import Path

from . import __version__
from ._files import atomic_path, check_input_file
from .errors import InputError, OutputExistsError

__all__ = [
    "PATCH_IDS",
    "NotebookStyle",
    "PatchError",
    "PatchReport",
    "PatchResult",
    "check_destination",
    "install_cells",
    "load_notebook",
    "load_patches",
    "patch_notebook",
    "patch_notebook_file",
    "strip_shell_lines",
    "validate_notebook",
    "write_notebook",
]

log = logging.getLogger("imagesumming")

#: status values of :class:`PatchResult`
APPLIED, ALREADY, MISSING, SKIPPED = "applied", "already applied", "missing", "skipped"

MARK_KEY = "imagesumming"
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_LINES = re.compile(r"[^\n]*\n|[^\n]+\Z")
_OPS = {"require", "replace_line", "insert_after", "insert_before", "set_param", "insert_cells_before"}


# ---------------------------------------------------------------------------------------------
# serialization: reproduce the input's bytes
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class NotebookStyle:
    """How a notebook file is serialized (``json.dumps`` arguments, line ending, trailing newline).

    The default is Colab's: ``json.dumps(nb, indent=2, ensure_ascii=False)``, no trailing newline.
    ``exact`` says whether the style reproduced the file it was detected from byte for byte.
    """

    indent: int | str | None = 2
    separators: tuple = (",", ": ")
    ensure_ascii: bool = False
    sort_keys: bool = False
    trailing_newline: bool = False
    newline: str = "\n"
    exact: bool = True

    def dumps(self, nb: dict) -> str:
        """Serialize ``nb`` in this style."""
        text = json.dumps(nb, indent=self.indent, separators=self.separators,
                          ensure_ascii=self.ensure_ascii, sort_keys=self.sort_keys)
        text = text + "\n" if self.trailing_newline else text
        # JSON strings escape their newlines, so every literal newline is formatting
        return text.replace("\n", self.newline) if self.newline != "\n" else text

    @classmethod
    def detect(cls, raw: str, nb: dict) -> NotebookStyle:
        """The style that reproduces ``raw`` (the text ``nb`` was parsed from), else a close guess."""
        newline = "\r\n" if "\r\n" in raw else "\n"
        text = raw.replace("\r\n", "\n")
        trailing = text.endswith("\n")
        body = text[:-1] if trailing else text
        if "\n" not in body:
            indent, seps = None, ((",", ":"), (", ", ": "))
        else:
            second = body.split("\n", 2)[1]
            lead = second[: len(second) - len(second.lstrip())]
            indent, seps = ("\t" if lead.startswith("\t") else len(lead)), ((",", ": "), (",", ":"))
        if any(ord(ch) > 127 for ch in raw):
            ascii_options = (False,)
        elif re.search(r"(?<!\\)\\u(?!00[0-7][0-9a-fA-F])[0-9a-fA-F]{4}", raw):
            ascii_options = (True,)
        else:
            ascii_options = (False, True)  # the same bytes either way for what is in the file
        for separators, ensure_ascii, sort_keys in itertools.product(seps, ascii_options, (False, True)):
            style = cls(indent, separators, ensure_ascii, sort_keys, trailing, newline)
            if style.dumps(nb) == raw:
                return style
        log.info("notebook formatting not reproduced byte for byte; writing with indent %r", indent)
        return cls(indent, seps[0], ascii_options[0], False, trailing, newline, exact=False)


def load_notebook(path) -> tuple[dict, NotebookStyle, str]:
    """Read a notebook file: ``(notebook dict, its serialization style, raw text)``.

    Raises :class:`InputError` when the file is missing, not JSON or not an nbformat 4 notebook.
    """
    p = check_input_file(path)
    try:
        raw = p.read_bytes().decode("utf-8")  # not read_text: keep \r\n as it is
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason} at byte {exc.start})", p) from None
    try:
        nb = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"not a notebook: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})", p) from None
    _check_notebook(nb, p)
    return nb, NotebookStyle.detect(raw, nb), raw


def _check_notebook(nb, path=None) -> None:
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise InputError("not a Jupyter notebook (no list of cells)", path)
    if nb.get("nbformat") != 4:
        raise InputError(f"nbformat {nb.get('nbformat')!r} is not supported (nbformat 4 expected; "
                         "open and save it in Jupyter to upgrade)", path)


def validate_notebook(nb: dict, path=None) -> None:
    """Check ``nb`` against the nbformat schema; raise :class:`InputError` naming the first problem."""
    import nbformat

    try:
        nbformat.validate(copy.deepcopy(nb))  # validate may repair ids in place: never on ours
    except nbformat.ValidationError as exc:
        where = "/".join(str(p) for p in getattr(exc, "absolute_path", []) or [])
        raise InputError(f"the patched notebook does not validate with nbformat ({where}: {exc.message})",
                         path) from None


def write_notebook(nb: dict, path, *, style: NotebookStyle | None = None, force: bool = False) -> Path:
    """Validate ``nb`` and write it atomically in ``style`` (default: Colab's). Returns the path."""
    validate_notebook(nb, path)
    text = (style or NotebookStyle()).dumps(nb)
    with atomic_path(path, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
    return Path(path)


# ---------------------------------------------------------------------------------------------
# patch specs and templates
# ---------------------------------------------------------------------------------------------

def load_patches() -> list[dict]:
    """The patch specs shipped in :mod:`imagesumming.patches`, sorted by their ``order``."""
    from importlib.resources import files

    import yaml

    specs = []
    for res in files("imagesumming.patches").iterdir():
        if not res.name.endswith((".yaml", ".yml")):
            continue
        spec = yaml.safe_load(res.read_text(encoding="utf-8"))
        _check_spec(spec, res.name)
        specs.append(spec)
    specs.sort(key=lambda s: (s.get("order", 100), s["id"]))
    return specs


def _check_spec(spec, name) -> None:
    missing = [k for k in ("id", "title", "target", "operations") if k not in (spec or {})]
    if missing:
        raise ValueError(f"patch spec {name}: missing {', '.join(missing)}")
    for op in spec["operations"]:
        if op.get("op") not in _OPS:
            raise ValueError(f"patch spec {name}: unknown operation {op.get('op')!r}")


PATCH_IDS = ("inject-imagesumming", "summed-training-data", "prediction-stack", "training-patch-params",
             "qc-upsampling-factor")


def _render(text: str, params: dict, where: str) -> str:
    def sub(m):
        key = m.group(1)
        if key not in params or params[key] is None:
            raise ValueError(f"{where}: no value for placeholder {{{{{key}}}}}")
        return str(params[key])

    return _PLACEHOLDER.sub(sub, text)


def _op_text(op: dict, params: dict, where: str) -> str:
    if "template" in op:
        from importlib.resources import files

        text = files("imagesumming.templates").joinpath("cells", op["template"]).read_text(encoding="utf-8")
        text = text.removesuffix("\n")
    else:
        text = op["text"]
    return _render(text, params, where)


# ---------------------------------------------------------------------------------------------
# cells
# ---------------------------------------------------------------------------------------------

def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _split_lines(text: str) -> list[str]:
    """Lines ending in "\\n" (the last may not), split as Jupyter and Colab store them (only at "\\n",
    unlike ``str.splitlines``, which also splits at form feeds and other separators)."""
    return _LINES.findall(text)


def _set_source(cell, text: str) -> None:
    if isinstance(cell.get("source"), list):
        cell["source"] = _split_lines(text)
    else:
        cell["source"] = text


def _cell_label(cell, index: int) -> str:
    cid = (cell.get("metadata") or {}).get("id") or cell.get("id")
    return f"#{index} {cid}" if cid else f"#{index}"


def _marks(cell) -> dict:
    mark = (cell.get("metadata") or {}).get(MARK_KEY) or {}
    patches = mark.get("patches") if isinstance(mark, dict) else None
    return patches if isinstance(patches, dict) else {}


def _mark(cell, patch_id: str, extra: dict | None = None) -> None:
    meta = cell.setdefault("metadata", {})
    mark = meta.setdefault(MARK_KEY, {})
    mark.setdefault("patches", {})[patch_id] = __version__
    if extra:
        mark.update(extra)


def strip_shell_lines(source: str) -> str:
    """Replace IPython ``!shell`` and ``%magic`` lines by ``pass`` (at their indent) so that
    ``ast.parse`` can check the rest, also when such a line is all a block holds."""
    out = []
    for line in source.splitlines():
        code = line.lstrip()
        out.append(line[: len(line) - len(code)] + "pass" if code.startswith(("!", "%")) else line)
    return "\n".join(out)


def _parses(source: str) -> str | None:
    try:
        ast.parse(strip_shell_lines(source))
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    return None


def _heading(cell) -> str:
    for line in _source(cell).splitlines():
        if line.strip():
            return line.strip()
    return ""


# ---------------------------------------------------------------------------------------------
# operations on the lines of one cell
# ---------------------------------------------------------------------------------------------

class _Miss(Exception):
    """An operation could not find its line."""


def _find(lines: list[str], pattern: str, what: str, *, unique: bool = True) -> tuple[int, re.Match]:
    rx = re.compile(pattern)
    hits = [(i, m) for i, line in enumerate(lines) if (m := rx.search(line.rstrip()))]
    if not hits:
        raise _Miss(f"no line matching /{pattern}/ ({what})")
    if unique and len(hits) > 1:
        raise _Miss(f"{len(hits)} lines match /{pattern}/ ({what}), expected one")
    return hits[0]


def _indented(block: str, indent: str) -> list[str]:
    return [(indent + line) if line.strip() else line for line in block.split("\n")]


def _splice(lines: list[str], start: int, stop: int, new: list[str]) -> list[str]:
    """Replace ``lines[start:stop]`` by ``new`` (lines without newlines), keeping line endings."""
    last_has_nl = stop < len(lines) or (stop > start and lines[stop - 1].endswith("\n"))
    out = [line + "\n" for line in new]
    if not last_has_nl and out:
        out[-1] = out[-1][:-1]
    before = lines[:start]
    if before and not before[-1].endswith("\n"):
        before[-1] += "\n"
    return before + out + lines[stop:]


def _apply_op(lines: list[str], op: dict, params: dict, where: str) -> tuple[list[str], str | None]:
    """Apply one line operation; returns the new lines and a note (or raises _Miss)."""
    kind = op["op"]
    if kind == "require":
        _find(lines, op["match"], "required line", unique=False)
        return lines, None
    if kind == "set_param":
        name = op["name"]
        when = op.get("when")
        if when and params.get(when) is None:
            return lines, f"{name} left as it is (no {when} given)"
        pattern = (r"^(?P<indent>\s*)" + re.escape(name) + r"(?P<eq>\s*=\s*)(?P<value>[^#]*?)(?P<sep>\s*)"
                   r"(?P<comment>#\s*@param\b.*)$")
        i, m = _find(lines, pattern, f"form field {name}")
        value = _render(str(op["value"]), params, where)
        old = m.group("value")
        if op.get("at_least"):
            try:
                if float(old) >= float(value):
                    return lines, f"{name} = {old} kept (at least {value})"
            except ValueError:
                pass
        if old == value:
            return lines, f"{name} = {value} already"
        line = lines[i]
        tail = line[len(line.rstrip()):]
        new = m.group("indent") + name + m.group("eq") + value + m.group("sep") + m.group("comment") + tail
        return lines[:i] + [new] + lines[i + 1:], f"{name} = {old} -> {value}"
    i, m = _find(lines, op["match"], kind.replace("_", " "))
    groups = {k: v for k, v in m.groupdict().items() if v is not None}
    indent = groups.pop("indent", "")
    block_params = dict(params, **groups)
    block = _op_text(op, block_params, where)
    if kind == "replace_line":
        line = lines[i]
        tail = line[len(line.rstrip()):]
        new = _indented(block, indent)
        new_lines = _splice(lines, i, i + 1, new)
        if tail.rstrip("\n"):  # keep trailing spaces of the replaced line on the last new line
            j = i + len(new) - 1
            new_lines[j] = new_lines[j].rstrip("\n") + tail
        return new_lines, None
    at = i + 1 if kind == "insert_after" else i
    return _splice(lines, at, at, _indented(block, indent)), None


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class PatchResult:
    """What happened to one patch: ``status`` is applied, already applied, missing or skipped."""

    id: str
    title: str
    status: str
    cell: str = ""
    found_by: str = ""
    message: str = ""
    looked_for: str = ""
    notes: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class PatchReport:
    """Per-patch results of :func:`patch_notebook`, the diffs of changed cells, and the file style."""

    results: list
    style: NotebookStyle
    changes: list = dataclasses.field(default_factory=list)  # (patch id, cell label, old, new)
    source: str | None = None
    params: dict = dataclasses.field(default_factory=dict)

    @property
    def missing(self) -> list:
        return [r for r in self.results if r.status == MISSING]

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def table(self) -> str:
        """A text table: patch, cell, status (and how the cell was found, or what was looked for)."""
        rows = [("patch", "cell", "status")]
        for r in self.results:
            status = r.status
            if r.status == APPLIED and r.found_by:
                status += f" (cell found by {r.found_by})"
            if r.message:
                status += f": {r.message}"
            rows.append((r.id, r.cell or "-", status))
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        lines = [f"{a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows]
        for r in self.results:
            for note in r.notes:
                lines.append(f"  note ({r.id}): {note}")
        if not self.style.exact:
            lines.append("  note: the input's formatting could not be reproduced byte for byte; "
                         "untouched cells may show whitespace changes")
        return "\n".join(lines)

    def diff(self) -> str:
        """A unified diff of the changed and injected cells (sources only)."""
        out = []
        for patch_id, label, old, new in self.changes:
            a = f"a/cell {label}" if old is not None else "/dev/null"
            b = f"b/cell {label} ({patch_id})"
            out.extend(difflib.unified_diff((old or "").splitlines(keepends=True), new.splitlines(keepends=True),
                                            fromfile=a, tofile=b))
            if out and not out[-1].endswith("\n"):
                out[-1] += "\n"
        return "".join(out)


class PatchError(InputError):
    """Some patches could not find their place; ``report`` has the details."""

    def __init__(self, message, path=None, report: PatchReport | None = None, *, hint: str | None = None):
        super().__init__(message, path, hint=hint)
        self.report = report


# ---------------------------------------------------------------------------------------------
# finding the cell of a patch
# ---------------------------------------------------------------------------------------------

def _candidates(cells: list, target: dict) -> list[tuple[int, str]]:
    """Cells that may hold the patch's place, best first: (index, how found)."""
    ctype = target.get("cell_type", "code")
    out = []
    cid = target.get("colab_id")
    if cid:
        out += [(i, f"metadata.id {cid}") for i, c in enumerate(cells)
                if (c.get("metadata") or {}).get("id") == cid and c.get("cell_type") == ctype]
    heading = target.get("heading")
    if heading:
        rx = re.compile(heading)
        for i, c in enumerate(cells):
            if c.get("cell_type") == "markdown" and rx.search(_heading(c)):
                if ctype == "markdown":
                    out.append((i, "heading"))
                else:
                    nxt = next((j for j in range(i + 1, len(cells)) if cells[j].get("cell_type") == ctype), None)
                    if nxt is not None:
                        out.append((nxt, "heading"))
    anchor = target.get("anchor")
    if anchor:
        rx = re.compile(anchor)
        out += [(i, "anchor line") for i, c in enumerate(cells) if c.get("cell_type") == ctype
                and any(rx.search(line.rstrip()) for line in _source(c).splitlines())]
    seen, uniq = set(), []
    for i, how in out:
        if i not in seen:
            seen.add(i)
            uniq.append((i, how))
    return uniq


def _looked_for(target: dict) -> str:
    parts = []
    ctype = target.get("cell_type", "code")
    if target.get("colab_id"):
        parts.append(f"the {ctype} cell with metadata.id {target['colab_id']}")
    if target.get("heading"):
        parts.append(("the heading" if ctype == "markdown" else f"the first {ctype} cell after the heading")
                     + f" /{target['heading']}/")
    if target.get("anchor"):
        parts.append(f"a {ctype} cell with a line matching /{target['anchor']}/")
    return " or ".join(parts)


def _new_cell_id(spec_id: str, n: int, taken: set) -> str:
    salt = 0
    while True:
        digest = hashlib.sha256(f"imagesumming:{spec_id}:{n}:{salt}".encode()).digest()
        cid = base64.urlsafe_b64encode(digest).decode()[:12]
        if cid not in taken:
            taken.add(cid)
            return cid
        salt += 1


def _new_cell(nb: dict, cell_type: str, text: str, cid: str, source_as_list: bool, hidden: bool = False) -> dict:
    """A cell in the notebook's own style: key order of its cells, Colab id, form view for code."""
    cells = nb["cells"]
    meta = {"id": cid}
    if cell_type == "code":
        meta = {"cellView": "form", "id": cid}
        cell = {"cell_type": "code", "execution_count": None, "metadata": meta, "outputs": [], "source": None}
    else:
        cell = {"cell_type": "markdown", "metadata": meta, "source": None}
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5):
        cell["id"] = cid  # 4.5+ requires a top-level id; 4.0-4.4 forbid it
    model = next((c for c in cells if c.get("cell_type") == cell_type), None)
    if model is not None:  # same key order as the notebook's cells, so the diff looks native
        order = list(model.keys())
        cell = {k: cell[k] for k in order if k in cell} | {k: v for k, v in cell.items() if k not in order}
        mmeta = model.get("metadata") or {}
        morder = [k for k in mmeta if k in meta]
        cell["metadata"] = {k: meta[k] for k in morder} | {k: v for k, v in meta.items() if k not in morder}
    if hidden:  # Colab shows the #@title of a form cell only; JupyterLab and Notebook 7 collapse the input
        cell["metadata"]["jupyter"] = {"source_hidden": True}
    cell["source"] = _split_lines(text) if source_as_list else text
    return cell


# ---------------------------------------------------------------------------------------------
# the engine
# ---------------------------------------------------------------------------------------------

def _install_params(install_spec: str | None = None, wheel=None) -> dict:
    """Placeholders of the install cells: what pip installs and, unless ``install_spec`` is given,
    the embedded wheel (``wheel``: a wheel file, default the running imagesumming's, see
    :func:`imagesumming.selfwheel.package_wheel`)."""
    from .selfwheel import package_wheel, read_wheel

    if install_spec is not None and wheel is not None:
        raise InputError("give either an install spec (installed from an index or URL) or a wheel to embed, not both")
    if install_spec is not None:
        spec = install_spec.strip()
        if not spec or any(ch in spec for ch in '"\\\n'):  # it goes into a Python string literal of the install cell
            raise InputError(f"install spec must be one pip requirement without quotes or backslashes, got {install_spec!r}")
        return {"install_spec": spec, "wheel_name": None}
    w = read_wheel(wheel) if wheel is not None else package_wheel()
    return {"install_spec": "", "wheel_name": w.name, "wheel_sha256": w.sha256, "wheel_kib": round(len(w.data) / 1024),
            "wheel_version": w.version, "wheel_origin": w.origin,
            "wheel_base64": "\n".join(f'"{line}",' for line in w.base64_lines())}


def install_cells(install_spec: str | None = None, wheel=None) -> tuple[str | None, str, dict]:
    """The sources of the two install cells the notebooks share: the embedded wheel (None when
    ``install_spec`` is given) and the cell that installs it, plus their placeholder values."""
    from importlib.resources import files

    params = dict(_install_params(install_spec, wheel), version=__version__)
    folder = files("imagesumming.templates").joinpath("cells")
    install = _render(folder.joinpath("inject_install.py.tmpl").read_text(encoding="utf-8").removesuffix("\n"),
                      params, "install cell")
    payload = None
    if params["wheel_name"] is not None:
        payload = _render(folder.joinpath("inject_wheel.py.tmpl").read_text(encoding="utf-8").removesuffix("\n"),
                          params, "wheel cell")
    return payload, install, params


def _patch_params(patch_size, upsampling_factor, summed_frames) -> dict:
    def count(value, name, minimum):
        try:
            v = int(value)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be an integer, got {value!r}") from None
        if v != value or v < minimum:
            raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
        return v

    P = count(patch_size, "patch size", 2)
    U = count(upsampling_factor, "upsampling factor", 1)
    N = None if summed_frames is None else count(summed_frames, "number of summed frames", 1)
    return {"version": __version__, "patch_size": P, "patch_size_lr": P - 1, "upsampling_factor": U,
            "summed_frames": N, "summed_frames_default": N or 100}


#: headings whose numbers the injected text cites; DL4MicEverywhere removes section 2 and renumbers the rest
_SECTIONS = {"sec_load": (r"(\d+\.\d+)\.?\s*-?\s*a\)\s*Load training data", "3.1"),
             "sec_patches": (r"(\d+\.\d+)\.?\s*Generate training patches", "3.2"),
             "drive_section": (r"(\d+\.\d+)\.?\s*Mount your Google Drive", None)}


def _section_numbers(cells) -> dict:
    """The notebook's own numbers of the sections the injected cells refer to (e.g. 3.1 in the
    official notebook, 2.1 once DL4MicEverywhere has removed section 2)."""
    out = {}
    headings = [_heading(c).lstrip("#").strip().strip("*").strip() for c in cells if c.get("cell_type") == "markdown"]
    for key, (pattern, default) in _SECTIONS.items():
        hit = next((m.group(1) for h in headings if (m := re.match(pattern, h))), default)
        out[key] = hit
    out["drive_section"] = f" (section {out['drive_section']})" if out["drive_section"] else ""
    return out


def _select(specs, only, skip) -> tuple[set, set]:
    def ids(value, flag):
        if value is None:
            return set()
        items = value.split(",") if isinstance(value, str) else list(value)
        items = {s.strip() for s in items if s and s.strip()}
        known = {s["id"] for s in specs}
        unknown = sorted(items - known)
        if unknown:
            raise InputError(f"unknown patch id(s) for {flag}: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return items

    return ids(only, "only"), ids(skip, "skip")


def _injected_cells(nb: dict, pid: str, cell_defs: list, params: dict, source_as_list: bool, taken: set) -> list:
    """The new cells of an ``insert_cells_before`` operation, marked as injected by ``pid``."""
    new_cells = []
    for n, cdef in enumerate(cell_defs):
        if cdef.get("when") and params.get(cdef["when"]) is None:
            continue
        text = _op_text(cdef, params, f"patch {pid}")
        if cdef["cell_type"] == "code" and (err := _parses(text)):
            raise ValueError(f"patch {pid}: template {cdef.get('template')} does not parse ({err})")
        cell = _new_cell(nb, cdef["cell_type"], text, _new_cell_id(pid, n, taken), source_as_list,
                         hidden=bool(cdef.get("payload")))
        _mark(cell, pid, {"injected": True})
        new_cells.append(cell)
    return new_cells


def _abbreviated(text: str, keep: int = 4) -> str:
    """A payload cell for diffs: its first lines and a count of the rest."""
    lines = text.splitlines(keepends=True)
    if len(lines) <= 2 * keep:
        return text
    return "".join(lines[:keep]) + f"... {len(lines) - keep - 1} more lines (base64) ...\n" + lines[-1]


def _patched_source(source: str, ops: list, params: dict, where: str) -> tuple[str, list]:
    """``source`` with the line operations applied, and their notes; raises _Miss when a required
    line is not there (an ``optional`` operation that misses only adds a note)."""
    lines, notes = _split_lines(source), []
    for op in ops:
        try:
            lines, note = _apply_op(lines, op, params, where)
        except _Miss as miss:
            if not op.get("optional"):
                raise
            note = f"optional step skipped: {miss}"
        if note:
            notes.append(note)
    return "".join(lines), notes


def _apply_spec(nb: dict, spec: dict, params: dict, source_as_list: bool, taken: set) -> tuple[PatchResult, list]:
    cells = nb["cells"]
    pid, target = spec["id"], spec["target"]
    result = PatchResult(pid, spec["title"], MISSING, looked_for=_looked_for(target))
    for i, c in enumerate(cells):
        if pid in _marks(c):
            result.status, result.cell = ALREADY, _cell_label(c, i)
            result.message = f"by imagesumming {_marks(c)[pid]}"
            return result, []
    ops, failures = spec["operations"], []
    for index, how in _candidates(cells, target):
        label = _cell_label(cells[index], index)
        if ops[0]["op"] == "insert_cells_before":
            new_cells = _injected_cells(nb, pid, ops[0]["cells"], params, source_as_list, taken)
            cells[index:index] = new_cells
            result.status, result.cell, result.found_by = APPLIED, f"before {label}", how
            result.message = f"{len(new_cells)} cells inserted"
            if params.get("wheel_name"):
                result.notes.append(f"imagesumming {params['wheel_version']} stored in the notebook: {params['wheel_name']} "
                                    f"({params['wheel_kib']} KiB, from {params['wheel_origin']})")
            return result, [(pid, f"new {c['metadata']['id']}", None,
                             _abbreviated(_source(c)) if c["metadata"].get("jupyter") else _source(c))
                            for c in new_cells]
        cell, old = cells[index], _source(cells[index])
        try:
            new, notes = _patched_source(old, ops, params, f"patch {pid}")
        except _Miss as miss:
            failures.append(f"{label} (found by {how}): {miss}")
            continue
        if cell.get("cell_type") == "code" and _parses(old) is None and (err := _parses(new)):
            failures.append(f"{label}: the patched cell would not parse ({err})")
            continue
        _set_source(cell, new)
        _mark(cell, pid)
        result.status, result.cell, result.found_by, result.notes = APPLIED, label, how, notes
        return result, [(pid, label, old, new)]
    result.message = f"looked for {result.looked_for}" + (f"; {'; '.join(failures)}" if failures else
                                                             ": no such cell")
    return result, []


def patch_notebook(nb_or_path, *, patch_size: int = 30, upsampling_factor: int = 8, summed_frames: int | None = None,
                   install_spec: str | None = None, wheel=None, only=None, skip=None, allow_missing: bool = False):
    """Apply the Deep-STORM 2D patches to a notebook.

    Parameters
    ----------
    nb_or_path : dict or path
        The notebook (a dict as parsed from JSON; it is not modified) or its file.
    patch_size : int
        Side P of the summed patches (camera pixels): section 3.2 gets ``patch_size = P - 1``.
    upsampling_factor : int
        The factor QC (5.2) uses when the model's ``model_metadata.mat`` cannot be read.
    summed_frames : int, optional
        Number of summed frames: raises ``max_num_patches`` in 3.2 to at least this, and is the
        default of the injected form.
    install_spec : str, optional
        What the injected install cell has pip install (a release ``imagesumming==0.1.0``, a wheel
        path or a git URL). Default: the wheel of the running imagesumming, stored in a cell of its
        own, so the notebook installs exactly this version without a package index.
    wheel : path, optional
        An imagesumming wheel file to store instead of the running one.
    only, skip : str or list of str, optional
        Patch ids (comma-separated string or list) to apply only / to leave out.
    allow_missing : bool
        Apply the patches that find their place even when others do not; otherwise a missing
        patch raises :class:`PatchError`.

    Returns
    -------
    notebook : dict
        The patched notebook (a new dict).
    report : PatchReport
        One :class:`PatchResult` per patch (applied, already applied, missing, skipped), the
        changed cells (``report.diff()``) and the input's serialization style (``report.style``).

    Raises
    ------
    PatchError
        A patch could not find its place and ``allow_missing`` is False (the message names it and
        what it looked for; ``exc.report`` has the full report).
    InputError
        Bad parameters, unknown patch ids, or an input that is not an nbformat 4 notebook.

    Examples
    --------
    >>> nb, report = patch_notebook("Deep-STORM_2D_ZeroCostDL4Mic.ipynb", summed_frames=500)  # doctest: +SKIP
    >>> print(report.table())  # doctest: +SKIP
    """
    params = _patch_params(patch_size, upsampling_factor, summed_frames)
    source = None
    specs = load_patches()
    only_ids, skip_ids = _select(specs, only, skip)
    if isinstance(nb_or_path, dict):
        _check_notebook(nb_or_path)
        nb, style = copy.deepcopy(nb_or_path), NotebookStyle()
    else:
        source = os.fspath(nb_or_path)
        nb, style, _ = load_notebook(source)
    cells = nb["cells"]
    params.update(_section_numbers(cells))
    injecting = "inject-imagesumming" not in skip_ids and (not only_ids or "inject-imagesumming" in only_ids)
    if injecting and not any("inject-imagesumming" in _marks(c) for c in cells):
        params.update(_install_params(install_spec, wheel))  # builds the wheel only when it goes in
    source_as_list = not cells or isinstance(cells[0].get("source"), list)
    taken = {(c.get("metadata") or {}).get("id") for c in cells} | {c.get("id") for c in cells}
    report = PatchReport([], style, source=source, params=params)
    for spec in specs:
        if (only_ids and spec["id"] not in only_ids) or spec["id"] in skip_ids:
            report.results.append(PatchResult(spec["id"], spec["title"], SKIPPED, message="not selected"))
            continue
        result, changes = _apply_spec(nb, spec, params, source_as_list, taken)
        report.results.append(result)
        report.changes.extend(changes)
    if report.missing and not allow_missing:
        names = "; ".join(f"{r.id}: {r.message}" for r in report.missing)
        raise PatchError(f"{len(report.missing)} patch(es) could not be placed ({names}); nothing was written",
                         source, report, hint="{allow_missing} applies the others")
    return nb, report


def patch_notebook_file(src, dst=None, *, in_place: bool = False, force: bool = False, **kwargs) -> PatchReport:
    """Patch the notebook file ``src`` and write it to ``dst`` (validated, atomic).

    The input is never overwritten unless ``in_place`` (then ``dst`` may be omitted). When every
    patch was already applied and ``in_place`` is set, the file is left untouched. Other keyword
    arguments go to :func:`patch_notebook`. Returns the report.
    """
    src = Path(src)
    dst = check_destination(src, dst, in_place=in_place, force=force)
    nb, report = patch_notebook(src, **kwargs)
    if in_place and not report.changed:
        return report
    write_notebook(nb, dst, style=report.style, force=force or in_place)
    return report


def check_destination(src, dst, *, in_place: bool = False, force: bool = False) -> Path:
    """The output path for patching ``src``; refuses (before any work) to overwrite the input
    unless ``in_place``, and an existing output unless ``force``."""
    src = Path(src)
    if in_place:
        if dst is not None and Path(dst).resolve() != src.resolve():
            raise InputError("in-place writes back to the input: give no other output", dst)
        return src
    if dst is None:
        raise InputError("no output file given (use -o OUT.ipynb or --in-place)", src)
    dst = Path(dst)
    if dst.exists() and dst.resolve() == src.resolve():
        raise OutputExistsError("is the input notebook: use --in-place to overwrite it", dst)
    if dst.exists() and not force:
        raise OutputExistsError("exists already", dst, hint="{force} to overwrite")
    return dst
