"""Shared fixtures: synthetic data, and the real files in ../shared/data (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

# Property tests: no per-example deadline (a shared machine is slow at times) and, in CI, a fixed
# example sequence so a run is reproducible; run locally (CI unset) they explore new examples.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("IMAGESUMMING_SHARED_DATA", REPO.parent / "shared" / "data"))


#: the official notebook 1.14.2, never committed: a copy beside the checkout (see README, Development)
REAL_NOTEBOOK = SHARED_DATA / "notebooks" / "Deep-STORM_2D_ZeroCostDL4Mic.ipynb"


def real_deepstorm_notebook() -> Path:
    """The real ZeroCostDL4Mic Deep-STORM 2D notebook, or skip saying where it was looked for."""
    if not REAL_NOTEBOOK.is_file():
        pytest.skip(f"the real Deep-STORM 2D notebook is not available ({REAL_NOTEBOOK} is absent; put "
                    "Colab_notebooks/Deep-STORM_2D_ZeroCostDL4Mic.ipynb of HenriquesLab/ZeroCostDL4Mic there)")
    return REAL_NOTEBOOK


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real files from other tools (Picasso, Deep-STORM); skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real reference files not available ({SHARED_DATA} is absent)")
    return SHARED_DATA


@pytest.fixture
def small_movie():
    """A small synthetic low-density movie and its ground truth (seeded)."""
    from imagesumming.synthetic import simulate_movie

    return simulate_movie(n_frames=12, height=40, width=48, pixel_size=100.0, emitters_per_frame=4, seed=7)


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the tests marked slow (they build a virtual environment; .ci/run passes it)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: builds virtual environments (minutes); run with --run-slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow") or os.environ.get("IMAGESUMMING_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow (builds a Colab-like virtual environment): run with --run-slow "
                                   "or IMAGESUMMING_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    import imagesumming

    return f"imagesumming {imagesumming.__version__} from {Path(imagesumming.__file__).parent}"
