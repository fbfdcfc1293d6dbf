"""The three companion notebooks in a real browser: Voilà and JupyterLab serve them, headless Chromium
drives them and presses every button.

Needs Debian's ``chromium`` (or ``IMAGESUMMING_CHROMIUM``), ``voila``, ``jupyterlab`` and ``playwright``
(``tests/requirements-browser.txt``; ``.ci/browser-setup.sh`` installs them). Outside CI the tests
skip with the reason when something is missing; in CI (``CI=true``) they fail instead. Every test
fails on "Error displaying widget", a widget "javascript error" or a "Traceback" anywhere on the
page, at any moment (the page is polled while the buttons work, not only at the end).
Screenshots go to ``$IMAGESUMMING_ARTIFACTS`` (default: a pytest temporary folder).
Run time: 2.5-3 minutes for the six tests on a shared 2-core machine (ipywidgets 8: 174 s, 7.7: 145 s;
two servers, one kernel per notebook and front end; JupyterLab pages take longest).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("IMAGESUMMING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
TIMEOUT_MS = 90_000  # first page load starts a kernel and imports numpy, pandas, matplotlib
NOTEBOOKS = ("ImageSumming.ipynb", "DeepSTORM2DAddOns.ipynb", "VisualizeDeepSTORM2DLocs.ipynb")
#: what must never be on the page; polled every 100 ms from the moment the page loads
BAD_TEXT = ("Error displaying widget", "Click to show javascript error", "Traceback")
_WATCH = """
window.__imsBad = [];
setInterval(() => {
  const text = document.body ? document.body.innerText : "";
  for (const bad of %s) {
    const i = text.indexOf(bad);
    if (i >= 0 && window.__imsBad.length < 20) { window.__imsBad.push(text.slice(Math.max(0, i - 200), i + 300)); }
  }
}, 100);
""" % (list(BAD_TEXT),)
# JupyterLab: render every cell (no windowing, so that locators find off-screen widgets), no news pop-up
_LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": '{"fetchNews": "false"}',
}


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"the browser test cannot run in CI: {reason} (run .ci/browser-setup.sh)")
    pytest.skip(reason)


def _check_tools() -> None:
    if not Path(CHROMIUM).is_file():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    for module in ("playwright", "voila", "jupyterlab"):
        if importlib.util.find_spec(module) is None:
            _unavailable(f"python package {module!r} missing (pip install -r tests/requirements-browser.txt)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = os.environ.get("IMAGESUMMING_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("browser-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _wait_http(proc, url: str, log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # any HTTP status: the server is up
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not answer within 60 s: {log.read_text()[-2000:]}")
            time.sleep(0.2)


def _stop(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A folder with the three notebooks and the demo (movie, ground truth, summed data, prediction)."""
    _check_tools()
    from imagesumming.demo import run_demo

    root = tmp_path_factory.mktemp("site")
    home = tmp_path_factory.mktemp("home")  # Jupyter, IPython, matplotlib and Chromium write here
    for name in NOTEBOOKS:
        shutil.copy(REPO / "templates" / name, root / name)
    for rel, text in _LAB_SETTINGS.items():
        target = home / ".jupyter" / "lab" / "user-settings" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    demo = run_demo(root / "demo", seed=3, plots=False)  # also summed.tif/csv: never offered as inputs
    env = {k: v for k, v in os.environ.items() if k not in ("IMAGESUMMING_DEMO_DIR", "JUPYTER_CONFIG_DIR")}
    env.update(HOME=str(home), MPLBACKEND="Agg", PYTHONUNBUFFERED="1",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    return {"root": root, "home": home, "env": env, "movie": demo["movie"], "locs": demo["locs"],
            "prediction": demo["prediction"]["folder"], "n_truth": _rows(demo["locs"])}


def _rows(csv: Path) -> int:
    return sum(1 for _ in csv.open()) - 1


def _serve(site, what: str, args: list[str], probe: str):
    port = _free_port()
    log_path = site["root"] / f"{what}.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", *[a.format(port=port) for a in args]], cwd=site["root"],
                            env=site["env"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(proc, url + probe, log_path, what)
        yield url
    finally:
        _stop(proc)
        log.close()


@pytest.fixture(scope="module")
def voila_url(site):
    yield from _serve(site, "voila", ["voila", str(site["root"]), "--no-browser", "--port={port}",
                                      "--Voila.ip=127.0.0.1", "--show_tracebacks=True"], "/voila/static/")


@pytest.fixture(scope="module")
def lab_url(site):
    yield from _serve(site, "jupyterlab", ["jupyterlab", "--no-browser", "--port={port}", "--ip=127.0.0.1",
                                           "--allow-root", "--IdentityProvider.token=", "--ServerApp.password=",
                                           f"--ServerApp.root_dir={site['root']}", "--LabApp.news_url=",
                                           "--ServerApp.open_browser=False"], "/api/status")


@pytest.fixture(scope="module")
def browser(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                  env={**os.environ, "HOME": str(site["home"])})
        except Exception as exc:  # noqa: BLE001 - report why the browser did not start
            _unavailable(f"Chromium did not start: {exc}")
        yield b
        b.close()


@pytest.fixture
def page(browser, site, artifacts, request):
    # an ordinary screen: results must come into view by themselves, not because the window is tall
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(_WATCH)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    yield pg
    try:
        pg.screenshot(path=str(artifacts / f"{request.node.name}-last.png"), full_page=True)
    finally:
        context.close()


class Notebook:
    """One notebook open in a front end, with the helpers the tests share."""

    def __init__(self, page, frontend: str, url: str, name: str, first_button: str, artifacts: Path):
        self.page, self.frontend, self.artifacts = page, frontend, artifacts
        if frontend == "voila":
            page.goto(f"{url}/voila/render/{name}", timeout=TIMEOUT_MS)
        else:
            page.goto(f"{url}/lab/tree/{name}?reset", timeout=TIMEOUT_MS)
            page.locator(".jp-Notebook").first.wait_for()
            # the notebooks name no kernel (Colab's style): JupyterLab asks once
            select = page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True)
            try:
                select.wait_for(timeout=15_000)
                select.click()
            except Exception:  # noqa: BLE001 - no dialog: the kernel was chosen by itself
                pass
            page.get_by_text(re.compile(r"\| Idle$")).first.wait_for()
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        button = self.button(first_button)
        broken = page.get_by_text("Click to show javascript error")
        button.or_(broken).first.wait_for()
        if broken.count():
            pytest.fail("the widgets did not render (javascript error: front end and kernel ipywidgets versions "
                        "differ? ipywidgets 7 needs jupyterlab_widgets<2, see .ci/browser-setup.sh)")
        self.clean()

    def button(self, name: str):
        return self.page.locator(".widget-button").get_by_text(name, exact=True).first

    def click(self, name: str, scope=None):
        (scope or self.page).locator(".widget-button").get_by_text(name, exact=True).first.click()

    def panel(self, heading: str):
        """The form (a VBox) whose heading is ``heading``."""
        return self.page.locator(".widget-vbox", has=self.page.locator("h3", has_text=heading)).last

    @staticmethod
    def field(scope, label: str):
        """The text box (or text area) labelled ``label`` inside ``scope``."""
        box = scope.locator(".widget-text, .widget-textarea", has=scope.page.get_by_text(label, exact=True))
        return box.first.locator("input, textarea").first

    def message(self, scope, pattern: str):
        """Wait for a status line matching ``pattern`` (regex) inside ``scope``; return its text."""
        loc = scope.locator(".widget-html").filter(has_text=re.compile(pattern)).first
        loc.wait_for()
        return loc.inner_text()

    def clean(self) -> None:
        bad = self.page.evaluate("window.__imsBad || []")
        assert not bad, f"{self.frontend}: bad text on the page: {bad[0]!r}"
        for text in BAD_TEXT:
            assert self.page.get_by_text(text).count() == 0, f"{self.frontend}: {text!r} on the page"

    def in_view(self, locator) -> None:
        """Wait until the element is (partly) inside the visible part of the window."""
        locator.wait_for()
        handle = locator.element_handle()
        self.page.wait_for_function(
            "el => { const r = el.getBoundingClientRect(); return r.height > 0 && r.top < window.innerHeight "
            "&& r.bottom > 0; }", arg=handle, timeout=15_000)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.artifacts / f"{self.frontend}-{name}.png"), full_page=True)


FRONTENDS = ["voila", "lab"]


@pytest.fixture(params=FRONTENDS)
def frontend(request):
    url = request.getfixturevalue("voila_url" if request.param == "voila" else "lab_url")
    return request.param, url


def test_summing_notebook(page, site, frontend, artifacts):
    kind, url = frontend
    nb = Notebook(page, kind, url, "ImageSumming.ipynb", "Load inputs", artifacts)
    inputs = nb.panel("Inputs: movies and their localizations")
    movie_box = inputs.get_by_placeholder("movie.tif").first
    locs_box = inputs.get_by_placeholder("locs.csv / _locs.hdf5").first
    assert inputs.locator(".widget-text input").nth(2).input_value() in ("0", "0.0")  # pixel size: from the files
    movie_box.fill(str(site["root"] / "missing.tif"))
    locs_box.fill(str(site["locs"]))
    nb.click("Load inputs", inputs)  # a bad path: a one-line message, no traceback
    assert "missing.tif: no such file" in nb.message(inputs, r"^Error:")
    nb.clean()
    movie_box.fill(str(site["movie"]))
    nb.click("Load inputs", inputs)
    nb.message(inputs, r"loaded 1 input pair")
    page.locator(".imagesumming-input-frame img").wait_for()
    assert "localization file" in page.locator(".widget-html table").first.inner_text()

    # Add a pair, upload a file into it, remove it again
    nb.click("Add a pair", inputs)
    inputs.get_by_placeholder("movie.tif").nth(1).wait_for()
    upload = site["root"] / f"to-upload-{kind}" / f"locs_{kind}.csv"  # the uploads folder is shared
    upload.parent.mkdir(exist_ok=True)
    shutil.copy(site["locs"], upload)
    with page.expect_file_chooser() as chooser:  # the Upload button opens the browser's file dialog
        inputs.locator(".widget-upload").first.click()
    chooser.value.set_files(str(upload))
    nb.message(inputs, r"uploaded 1 file")
    page.wait_for_function("([p, n]) => { const b = document.querySelectorAll(p);"
                           " return b.length === 2 && b[1].value.endsWith(n); }",
                           arg=['input[placeholder="locs.csv / _locs.hdf5"]', upload.name])
    inputs.locator(".widget-button").get_by_text("✕", exact=True).nth(1).click()
    page.wait_for_function("() => document.querySelectorAll('input[placeholder=\"movie.tif\"]').length === 1")
    nb.clean()

    run = nb.panel("Parameters")
    nb.click("Run", run)
    status = nb.message(run, r"^(done:|Error:)")
    assert status.startswith("done: 100 summed frames"), status
    nb.in_view(page.locator(".imagesumming-result-frame img"))  # the summed frame comes into view
    page.locator(".imagesumming-density img").first.wait_for()
    assert "patch_size" in page.content()  # the notebook settings table
    # the summary wraps between words only ("per_patch", not "pe r_patch")
    pre = page.locator(".widget-html pre").filter(has_text="min_number_of_emitters_per_patch").first
    assert pre.evaluate("el => [getComputedStyle(el).wordBreak, getComputedStyle(el).overflowWrap]") == [
        "normal", "normal"]
    nb.clean()
    result = nb.panel("Result")
    nb.click("Show single", result)
    nb.in_view(page.locator(".imagesumming-single img"))
    nb.shot("summing-result")
    nb.clean()

    save = nb.panel("Save")
    nb.field(save, "folder").fill(str(site["root"] / f"summed-{kind}"))
    nb.click("Save", save)
    assert "saved 4 file(s)" in nb.message(save, r"^(saved|Error:)")
    nb.click("Save", save)  # again: refused, nothing overwritten
    assert "exists already" in nb.message(save, r"^Error:")
    assert sorted(p.name for p in (site["root"] / f"summed-{kind}").iterdir()) == [
        "summed.csv", "summed.tif", "summed_params.json", "summed_provenance.csv"]
    nb.clean()


def test_addons_notebook(page, site, frontend, artifacts):
    kind, url = frontend
    nb = Notebook(page, kind, url, "DeepSTORM2DAddOns.ipynb", "Convert", artifacts)
    out = site["root"] / f"addons-{kind}"
    movie, locs = str(site["movie"]), str(site["locs"])
    n = site["n_truth"]

    form = nb.panel("Convert localizations to a Deep-STORM csv")
    nb.field(form, "localization file").fill(locs)
    nb.field(form, "Deep-STORM csv to write").fill(str(out / "converted.csv"))
    nb.click("Convert", form)
    assert f"wrote {n} localizations" in nb.message(form, r"(wrote|Error:)")
    nb.clean()

    form = nb.panel("Split at a frame")
    nb.field(form, "movie").fill(movie)
    nb.field(form, "localizations (optional)").fill(locs)
    nb.field(form, "output folder").fill(str(out / "split"))
    nb.click("Split", form)
    assert "split: wrote" in nb.message(form, r"(split: wrote|Error:)")
    nb.clean()

    form = nb.panel("Merge several measurements")
    nb.field(form, "movies (one per line, in order)").fill(f"{movie}\n{movie}")
    nb.field(form, "their localizations (one per line, optional)").fill(f"{locs}\n{locs}")
    nb.field(form, "merged tif").fill(str(out / "merged.tif"))
    nb.click("Merge", form)
    assert "merged.tif (120 frames)" in nb.message(form, r"(merge: wrote|Error:)")
    time.sleep(0.5)  # a widget error shows after the front end tried to draw the closed bars
    nb.clean()

    form = nb.panel("Single frames")
    nb.field(form, "movie").fill(movie)
    nb.field(form, "localizations (optional)").fill(locs)
    nb.field(form, "output folder").fill(str(out / "frames"))
    nb.click("Write single frames", form)
    assert "frames: wrote" in nb.message(form, r"(frames: wrote|Error:)")
    time.sleep(0.5)
    nb.clean()

    form = nb.panel("Sum frames")
    nb.field(form, "movie").fill(movie)
    nb.field(form, "localizations (optional)").fill(locs)
    nb.field(form, "summed tif").fill(str(out / "summed_frames.tif"))
    nb.click("Sum frames", form)
    assert "sum-frames: wrote summed_frames.tif (6 frames)" in nb.message(form, r"(sum-frames: wrote|Error:)")
    nb.click("Sum frames", form)  # again: refused with a message
    assert "exists already" in nb.message(form, r"^Error:")
    nb.shot("addons")
    assert len(list((out / "frames").glob("*.tif"))) == 60
    nb.clean()


def test_prediction_viewer_notebook(page, site, frontend, artifacts):
    kind, url = frontend
    nb = Notebook(page, kind, url, "VisualizeDeepSTORM2DLocs.ipynb", "Load", artifacts)
    inputs = nb.panel("Prediction, ground truth, movie")
    inputs.get_by_placeholder("folder with Localizations_*.csv").fill(str(site["prediction"]))
    inputs.get_by_placeholder("ground truth (optional)").fill(str(site["locs"]))
    inputs.get_by_placeholder("input movie .tif (optional)").fill(str(site["movie"]))
    nb.click("Load", inputs)
    metrics = page.locator(".imagesumming-metrics")
    metrics.get_by_text("Jaccard").first.wait_for()
    nb.in_view(page.locator(".imagesumming-frame img").first)  # the frame view comes into view
    before = metrics.inner_text()
    nb.shot("viewer-loaded")
    nb.clean()

    handle = page.locator(".imagesumming-threshold .noUi-handle, .imagesumming-threshold .ui-slider-handle").first
    handle.focus()
    for _ in range(15):
        handle.press("ArrowRight")
    # the metrics follow the slider and write the threshold as the slider reads it out
    page.wait_for_function(
        "([m, r, old]) => { const a = document.querySelector(m), b = document.querySelector(r);"
        " return a && b && a.innerText !== old && a.innerText.includes('threshold ' + b.innerText.trim() + ':'); }",
        arg=[".imagesumming-metrics", ".imagesumming-threshold .widget-readout", before])
    readout = page.locator(".imagesumming-threshold .widget-readout")
    assert float(readout.inner_text()) > 0.05
    nb.clean()

    panel = nb.panel("Confidence threshold")
    nb.click("Use recommended", panel)
    recommended = re.search(r"recommended threshold (\S+)", panel.inner_text()).group(1)
    page.wait_for_function(
        "([r, t]) => { const b = document.querySelector(r); return b && b.innerText.trim() === t; }",
        arg=[".imagesumming-threshold .widget-readout", recommended])
    # the metrics are recomputed by the kernel after the slider moved: wait for them, then check
    page.wait_for_function(
        "([m, t]) => { const a = document.querySelector(m); return a && a.innerText.includes('threshold ' + t + ':'); }",
        arg=[".imagesumming-metrics", recommended])
    assert f"threshold {recommended}:" in metrics.inner_text()
    nb.field(panel, "filtered csv").fill(str(site["root"] / f"filtered-{kind}.csv"))
    nb.click("Save filtered csv", panel)
    saved = nb.message(panel, r"^(kept|Error:)")
    assert f"confidence >= {recommended};" in saved, saved
    nb.shot("viewer-threshold")
    nb.clean()
