"""The companion notebooks in a real browser: Voilà serves them, headless Chromium drives them.

Needs Debian's ``chromium`` (or ``IMAGESUMMING_CHROMIUM``), ``voila`` and ``playwright``
(``tests/requirements-browser.txt``; ``.ci/browser-setup.sh`` installs them). Outside CI the tests
skip with the reason when something is missing; in CI (``CI=true``) they fail instead.
Screenshots go to ``$IMAGESUMMING_ARTIFACTS`` (default: a pytest temporary folder).
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


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"the browser test cannot run in CI: {reason} (run .ci/browser-setup.sh)")
    pytest.skip(reason)


def _check_tools() -> None:
    if not Path(CHROMIUM).is_file():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    for module in ("playwright", "voila"):
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


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A folder with the notebooks and demo data, served by one Voilà server on 127.0.0.1."""
    _check_tools()
    from imagesumming.demo import make_demo_data, make_demo_prediction
    from imagesumming.io import open_movie, read_locs

    root = tmp_path_factory.mktemp("voila-site")
    home = tmp_path_factory.mktemp("home")  # Jupyter, IPython, matplotlib and Chromium write here
    for name in ("ImageSumming.ipynb", "VisualizeDeepSTORM2DLocs.ipynb"):
        shutil.copy(REPO / "templates" / name, root / name)
    movie_path, locs_path = make_demo_data(root / "demo", seed=3)
    truth, _ = read_locs(locs_path)
    with open_movie(movie_path) as movie:
        pred = make_demo_prediction(root / "demo" / "prediction", truth, pixel_size=movie.pixel_size,
                                    height=movie.height, width=movie.width, movie=np.asarray(movie), seed=3)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "IMAGESUMMING_DEMO_DIR"}
    env.update(HOME=str(home), MPLBACKEND="Agg", PYTHONUNBUFFERED="1",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    log = open(root / "voila.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen([sys.executable, "-m", "voila", str(root), "--no-browser", f"--port={port}",
                             "--Voila.ip=127.0.0.1", "--show_tracebacks=True"],
                            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"voila exited with {proc.returncode}: {(root / 'voila.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/voila/static/", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # any HTTP status: the server is up
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("voila did not answer within 60 s")
                time.sleep(0.2)
        yield {"url": url, "root": root, "home": home, "movie": movie_path, "locs": locs_path,
               "prediction": pred["folder"]}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()


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
    context = browser.new_context(viewport={"width": 1400, "height": 3400})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    yield pg
    pg.screenshot(path=str(artifacts / f"{request.node.name}-last.png"), full_page=True)
    context.close()


def _open(page, site, notebook, first_button):
    """Open a notebook and wait for its first button (fail at once if the widgets cannot render)."""
    page.goto(f"{site['url']}/voila/render/{notebook}", timeout=TIMEOUT_MS)
    button = page.get_by_role("button", name=first_button)
    broken = page.get_by_text("Click to show javascript error")
    button.or_(broken).first.wait_for()
    if broken.count():
        pytest.fail("the widgets did not render (javascript error: front end and kernel ipywidgets versions "
                    "differ? ipywidgets 7 needs jupyterlab_widgets<2, see .ci/browser-setup.sh)")
    return button


def test_summing_notebook_in_browser(page, site, artifacts):
    load = _open(page, site, "ImageSumming.ipynb", "Load inputs")
    page.get_by_placeholder("movie.tif").fill(str(site["root"] / "missing.tif"))
    page.get_by_placeholder("locs.csv / _locs.hdf5").fill(str(site["locs"]))
    load.click()  # a bad path: a one-line message, no traceback
    error = page.locator(".widget-html", has_text="Error:").first
    error.wait_for()
    assert "missing.tif: no such file" in error.inner_text()
    assert page.get_by_text("Traceback").count() == 0
    page.get_by_placeholder("movie.tif").fill(str(site["movie"]))
    page.get_by_placeholder("locs.csv / _locs.hdf5").fill(str(site["locs"]))
    load.click()
    page.get_by_text("loaded 1 input pair").wait_for()
    page.locator(".widget-output img").first.wait_for()  # the input frame with crosses
    n_input_images = page.locator(".widget-output img").count()
    assert n_input_images >= 2  # frame view + density box plot

    page.get_by_role("button", name="Run").click()
    page.get_by_text(re.compile(r"^(done:|Error:)")).first.wait_for()
    status = page.get_by_text(re.compile(r"^(done:|Error:)")).first.inner_text()
    assert status.startswith("done: 100 summed frames"), status
    # result frame + density are added to the input figures
    page.locator(".imagesumming-result-frame img").wait_for()
    page.locator(".imagesumming-density img").first.wait_for()
    assert "patch_size" in page.content()  # the notebook settings table
    page.get_by_role("button", name="Show single").click()
    page.locator(".imagesumming-single img").wait_for()
    page.screenshot(path=str(artifacts / "summing-result.png"), full_page=True)
    assert (artifacts / "summing-result.png").stat().st_size > 10_000


def test_prediction_viewer_in_browser(page, site, artifacts):
    load = _open(page, site, "VisualizeDeepSTORM2DLocs.ipynb", "Load")
    page.get_by_placeholder("folder with Localizations_*.csv").fill(str(site["prediction"]))
    page.get_by_placeholder("ground truth (optional)").fill(str(site["locs"]))
    page.get_by_placeholder("input movie .tif (optional)").fill(str(site["movie"]))
    load.click()
    metrics = page.locator(".imagesumming-metrics")
    metrics.get_by_text("Jaccard").first.wait_for()
    page.locator(".widget-output img").first.wait_for()
    before = metrics.inner_text()
    page.screenshot(path=str(artifacts / "viewer-loaded.png"), full_page=True)

    handle = page.locator(".imagesumming-threshold .noUi-handle, .imagesumming-threshold .ui-slider-handle").first
    handle.focus()
    for _ in range(15):
        handle.press("ArrowRight")
    # the metrics follow the slider: wait until they show the value the slider reads out
    readout = page.locator(".imagesumming-threshold .widget-readout")
    page.wait_for_function(
        "([m, r, old]) => { const a = document.querySelector(m), b = document.querySelector(r);"
        " return a && b && a.innerText !== old && a.innerText.includes('threshold ' + b.innerText.trim()); }",
        arg=[".imagesumming-metrics", ".imagesumming-threshold .widget-readout", before])
    after = metrics.inner_text()
    assert after != before and float(readout.inner_text()) > 0.05
    page.screenshot(path=str(artifacts / "viewer-threshold.png"), full_page=True)
