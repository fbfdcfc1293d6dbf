"""Pieces shared by the notebook user interfaces (ipywidgets 7.7 and 8.x).

Only APIs present in both ipywidgets 7.7 (Google Colab) and 8.x are used. Figures are shown by
putting a PNG display record into an :class:`ipywidgets.Output` (its synced ``outputs``), which
renders as an ``<img>`` in every front end (JupyterLab, Notebook 7, VS Code, Colab, Voilà) and
needs neither pyplot nor a matplotlib backend, nor a running kernel (tests drive the widgets
from plain Python).
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import logging
from pathlib import Path
from types import SimpleNamespace

import ipywidgets as w

from ..errors import ImageSummingError, InputError

log = logging.getLogger("imagesumming")

#: suffixes of files the readers accept
MOVIE_SUFFIXES = (".tif", ".tiff", ".raw")
LOCS_SUFFIXES = (".csv", ".hdf5", ".h5")

_STYLE = {"description_width": "initial"}
_COLORS = {"ok": "#1a7f37", "error": "#cf222e", "info": "#57606a", "busy": "#9a6700", "warning": "#9a6700"}
_PREFIX = {"error": "<b>Error:</b> ", "warning": "<b>Warning:</b> "}


class UI:
    """Base of the UIs: shown as their :attr:`widget` (leave the UI as the last expression of a cell)."""

    widget: w.Widget

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


# --- small widget factories ---------------------------------------------------------------------
def text(description: str, value="", placeholder: str = "", width: str = "95%") -> w.Text:
    """A labelled text box (paths, names)."""
    return w.Text(value=str(value or ""), description=description, placeholder=placeholder,
                  style=_STYLE, layout=w.Layout(width=width))


def number(description: str, value, *, kind=float, minimum=None):
    """A labelled number box (BoundedIntText / BoundedFloatText), bounded below by ``minimum``."""
    cls = w.BoundedIntText if kind is int else w.BoundedFloatText
    lo = minimum if minimum is not None else (-(2**31) if kind is int else -1e12)
    hi = 2**31 - 1 if kind is int else 1e12
    # the description takes part of the width: long labels get a wider box
    return cls(value=value, min=lo, max=hi, description=description, style=_STYLE,
               layout=w.Layout(width=f"{max(260, 7 * len(description) + 110)}px"))


def button(description: str, style: str = "primary", icon: str = "") -> w.Button:
    return w.Button(description=description, button_style=style, icon=icon, layout=w.Layout(width="auto"))


def heading(title: str, level: int = 3) -> w.HTML:
    return w.HTML(f"<h{level} style='margin:0.6em 0 0.2em 0'>{html.escape(title)}</h{level}>")


def message() -> w.HTML:
    """An empty status line; fill it with :func:`say`."""
    return w.HTML("")


def _line(text_: str, kind: str) -> str:
    lines = "<br>".join(html.escape(line) for line in str(text_).splitlines())
    return f"<div style='color:{_COLORS.get(kind, 'black')}'>{_PREFIX.get(kind, '')}{lines}</div>"


def say(widget: w.HTML, text_: str, kind: str = "ok", warnings=()) -> None:
    """Show a one-line (or few-line) message: kind is ok, error, info, busy or warning.

    Each of ``warnings`` is added below it as its own line, marked "Warning:".
    """
    widget.value = _line(text_, kind) + "".join(_line(m, "warning") for m in warnings)


def message_text(widget: w.HTML) -> str:
    """The plain text of a message widget (for tests and logs)."""
    import re

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", widget.value)).split())


class _Warnings(logging.Handler):
    """Collects the warnings the API logs (e.g. a typed pixel size overriding a file's)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


#: how the forms word an error's hint (:meth:`~imagesumming.errors.ImageSummingError.render`): by
#: their fields; any other parameter by its name with spaces
FORM_WORDS = {
    "force": "tick 'overwrite existing files'",
    "on_invalid": "choose 'drop them (counted)' for localizations outside the movie",
    "pixel_size": "the pixel size field",
    "pixel_size_hr": "the prediction pixel size",
    "patch_size": "patch size",
    "n_patches": "source patches",
    "min_emitters": "min. emitters per patch",
    "n_summed": "summed frames",
    "unique": "untick 'use each source patch once'",
    "origin": "the 'pixel centre (columns)' field",
}


def error_text(exc: ImageSummingError) -> str:
    """An error in the forms' words ("tick 'overwrite existing files'", not "--force")."""
    return exc.render(FORM_WORDS, lambda name: name.replace("_", " "))


@contextlib.contextmanager
def reporting(status: w.HTML, busy: str | None = None):
    """Run a block; an exception becomes a readable message in ``status`` instead of a traceback.

    :class:`ImageSummingError` (bad input) is shown in the forms' words (:func:`error_text`); any other exception as
    ``<type>: <message>`` (the traceback goes to the log at debug level). Warnings the API logs
    meanwhile are added below the message (in a kernel they would land in no visible place).
    Yields an object whose ``ok`` is True when the block finished without an exception.
    """
    outcome = SimpleNamespace(ok=False)
    warnings = _Warnings()
    log.addHandler(warnings)
    if busy:
        say(status, busy, "busy")
    try:
        yield outcome
        outcome.ok = True
    except ImageSummingError as exc:
        say(status, error_text(exc), "error")
    except Exception as exc:  # a widget must never show a traceback
        log.debug("widget action failed", exc_info=True)
        say(status, f"{type(exc).__name__}: {exc}", "error")
    finally:
        log.removeHandler(warnings)
    if warnings.messages:
        status.value += "".join(_line(m, "warning") for m in warnings.messages)


@contextlib.contextmanager
def capture(out: w.Output):
    """Route what the block displays or prints into ``out`` while it runs; empty ``out`` afterwards.

    The forms call the API with ``progress=False`` and show their own bars: a tqdm notebook bar is a
    widget, and one that closes inside an Output (its work done before the front end drew it) shows
    "Error displaying widget: model not found" in Voila and JupyterLab. Emptying the Output when the
    block ends also removes any widget record that something else displayed meanwhile.
    Exceptions pass through to :func:`reporting`: an Output used as a context manager in a
    kernel would swallow them and print a traceback into itself instead.
    """
    error = None
    clear(out)
    try:
        with out:
            try:
                yield
            except Exception as exc:  # noqa: BLE001 - re-raised below, outside the Output
                error = exc
    finally:
        clear(out)
    if error is not None:
        raise error


# --- figures and tables in Output widgets ----------------------------------------------------------
def figure_png(fig, dpi: int = 80) -> bytes:
    """PNG bytes of a matplotlib Figure (no pyplot involved)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # a Figure made without pyplot may have no canvas able to print
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _record(data: dict) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": {}}


def show(out: w.Output, *items) -> None:
    """Replace the content of ``out`` by figures (matplotlib Figures) and/or HTML strings."""
    records = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, str):
            records.append(_record({"text/html": item, "text/plain": item}))
        else:
            png = base64.b64encode(figure_png(item)).decode("ascii")
            records.append(_record({"image/png": png, "text/plain": "<Figure>"}))
    out.outputs = tuple(records)


def clear(out: w.Output) -> None:
    """Empty ``out``, also of what the front end captured into it (bars of the API)."""
    out.outputs = ()
    out.send_state("outputs")  # the kernel's copy may already be empty: send it anyway


_SCROLL_JS = """
(function () {{
  var el = document.querySelector('.{hook}');
  if (el && el.scrollIntoView) {{ el.scrollIntoView({{behavior: 'smooth', block: 'nearest'}}); }}
}})();
"""


def hook_class(widget: w.Widget, name: str) -> str:
    """Give ``widget`` a CSS class unique to it (``imagesumming-<name>-<id>``) and return it."""
    hook = f"imagesumming-{name}-{widget.model_id[:8]}"
    widget.add_class(hook)
    return hook


def bring_into_view(anchor: w.Output, hook: str) -> None:
    """Scroll the page so that the element with class ``hook`` is in view (front ends running JavaScript).

    A result drawn below the fold is otherwise easy to miss. JupyterLab, Notebook, Voila and Colab run
    such JavaScript outputs (the browser test checks it); where they do not (e.g. VS Code), nothing
    happens. ``anchor`` is a small, empty-looking Output kept for this.
    """
    js = _SCROLL_JS.format(hook=hook)
    anchor.outputs = (_record({"application/javascript": js, "text/plain": ""}),)


def shown_images(out: w.Output) -> int:
    """How many PNG images an Output shows (for tests)."""
    return sum("image/png" in rec.get("data", {}) for rec in out.outputs)


def html_table(rows, header=None) -> str:
    """A small HTML table from rows of cells (escaped)."""
    head = ""
    if header:
        head = "<tr>" + "".join(f"<th style='text-align:left;padding:0 8px'>{html.escape(str(h))}</th>"
                                for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td style='padding:0 8px'>{html.escape(str(c))}</td>" for c in r)
                   + "</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


# --- paths and uploads ---------------------------------------------------------------------------
def path_or_none(value: str) -> Path | None:
    value = str(value).strip()
    return Path(value).expanduser() if value else None


def need_path(value: str, what: str) -> Path:
    """The path typed in a box, or an InputError naming the missing field."""
    p = path_or_none(value)
    if p is None:
        raise InputError(f"give the {what}")
    return p


def paths_list(value: str) -> list[Path]:
    """Several paths in one box, separated by commas, semicolons or new lines."""
    import re

    return [Path(p.strip()).expanduser() for p in re.split(r"[,;\n]", str(value)) if p.strip()]


def uploaded_files(upload: w.FileUpload) -> list[tuple[str, bytes]]:
    """``(name, content)`` of the files in a FileUpload, for ipywidgets 7 and 8.

    ipywidgets 7 stores ``{name: {"metadata": {...}, "content": bytes}}``; 8 a tuple of
    ``{"name", "type", "size", "content": memoryview, "last_modified"}``.
    """
    value = upload.value
    if isinstance(value, dict):  # ipywidgets 7
        return [(name, bytes(item["content"])) for name, item in value.items()]
    return [(item["name"], bytes(item["content"])) for item in value]


def save_uploads(upload: w.FileUpload, folder: Path, force: bool = False) -> list[Path]:
    """Write uploaded files into ``folder`` (atomically, existing files refused unless force)."""
    from .._files import atomic_path, check_outputs

    items = uploaded_files(upload)
    targets = [Path(folder) / Path(name).name for name, _ in items]
    check_outputs(targets, force=force)
    for (_, content), target in zip(items, targets):
        with atomic_path(target, force=force) as tmp:
            tmp.write_bytes(content)
    return targets


def reset_upload(upload: w.FileUpload) -> None:
    """Empty a FileUpload after its files were taken (ipywidgets 7 and 8)."""
    if isinstance(upload.value, dict):  # 7.x: value is read-only, rebuilt from metadata + data
        upload.metadata, upload.data = [], []
        upload.set_trait("value", {})
        upload._counter = 0  # the button shows this count
    else:
        upload.value = ()


def written_by_imagesumming(folder: Path) -> set[str]:
    """Names of the files in ``folder`` that imagesumming wrote, as its records there name them.

    ``NAME_params.json`` (summing) lists its outputs; ``OUT_groups.json`` (sum-frames) belongs to
    ``OUT.tif`` and ``OUT.csv``. Such files are results, never raw measurements to sum again.
    """
    import json

    names: set[str] = set()
    for rec in Path(folder).glob("*_params.json"):
        try:
            outputs = json.loads(rec.read_text(encoding="utf-8")).get("outputs") or {}
        except (OSError, ValueError, AttributeError):
            continue  # not one of ours (or unreadable): it names nothing
        if isinstance(outputs, dict):
            names.update(Path(str(v)).name for v in outputs.values())
            names.add(rec.name)
    for rec in Path(folder).glob("*_groups.json"):
        stem = rec.name[: -len("_groups.json")]
        names.update({f"{stem}.tif", f"{stem}.csv", f"{stem}_locs.hdf5", f"{stem}_locs.yaml", rec.name})
    return names


def find_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """Movies in ``folder`` with their localization file (same stem, or ``<stem>_locs``).

    When the folder holds exactly one movie and one localization file they are paired whatever
    their names. Files imagesumming wrote (:func:`written_by_imagesumming`) and Deep-STORM's
    ``Localizations_*`` predictions are never offered as inputs.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    ours = written_by_imagesumming(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in ours)
    movies = [p for p in files if p.suffix.lower() in MOVIE_SUFFIXES]
    locs = [p for p in files if p.suffix.lower() in LOCS_SUFFIXES and not p.name.startswith("Localizations_")]
    if len(movies) == 1 and len(locs) == 1:
        return [(movies[0], locs[0])]
    pairs = []
    for m in movies:
        stem = m.name[: -len(m.suffix)]
        base = stem.removesuffix("_movie")
        for cand in locs:
            cstem = cand.name[: -len(cand.suffix)]
            if cstem in (stem, f"{stem}_locs", base, f"{base}_locs"):
                pairs.append((m, cand))
                break
    return pairs
