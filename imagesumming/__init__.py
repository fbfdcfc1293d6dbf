"""imagesumming: high-density Deep-STORM training data from real low-density SMLM movies.

The localization table (:mod:`imagesumming.schema`) has frames 1-based and x/y in nm from the
pixel corner, whatever file it came from.

The public names below are imported on first use (PEP 562), so ``import imagesumming`` and
``imagesumming --help`` stay quick: pandas, tifffile and matplotlib load only when something needs them.
"""

from __future__ import annotations

import importlib
import importlib.util

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY = {
    "ImageSummingError": "errors", "InputError": "errors", "OutputExistsError": "errors",
    "FORMATS": "io", "Movie": "io", "ReadReport": "io", "TifWriter": "io", "open_movie": "io",
    "read_locs": "io", "write_locs": "io", "write_tif": "io", "LocsFile": "io",
    "CANONICAL": "schema", "make_locs": "schema",
    "counts_per_frame": "stats", "density_per_frame": "stats",
    "SimulationParams": "synthetic", "simulate_movie": "synthetic",
    "check_locs": "validate",
    "SummingResult": "summing", "sum_patches": "summing",
    "merge_movies": "addons", "split_frames": "addons", "split_movie": "addons", "sum_frames": "addons",
    "calibrate": "density", "estimate_density": "density", "measure_density": "density",
    "DensityResult": "density", "sum_matching": "target",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
            return importlib.import_module(f".{name}", __name__)  # ``imagesumming.summing`` as before
        raise AttributeError(f"module 'imagesumming' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next look-up does not come here
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
