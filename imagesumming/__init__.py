"""imagesumming: high-density Deep-STORM training data from real low-density SMLM movies.

The localization table (:mod:`imagesumming.schema`) has frames 1-based and x/y in nm from the
pixel corner, whatever file it came from.
"""

__version__ = "0.1.0"

from .errors import ImageSummingError, InputError, OutputExistsError  # noqa: E402
from .io import (FORMATS, Movie, ReadReport, TifWriter, open_movie, read_locs, write_locs,  # noqa: E402
                 write_tif)
from .schema import CANONICAL, make_locs  # noqa: E402
from .stats import counts_per_frame, density_per_frame  # noqa: E402
from .synthetic import SimulationParams, simulate_movie  # noqa: E402
from .validate import check_locs  # noqa: E402
from .summing import SummingResult, sum_patches  # noqa: E402
from .addons import merge_movies, split_frames, split_movie, sum_frames  # noqa: E402

__all__ = [
    "__version__",
    "ImageSummingError", "InputError", "OutputExistsError",
    "FORMATS", "Movie", "ReadReport", "TifWriter", "open_movie", "read_locs", "write_locs", "write_tif",
    "CANONICAL", "make_locs", "counts_per_frame", "density_per_frame",
    "SimulationParams", "simulate_movie", "check_locs",
    "sum_patches", "SummingResult",
    "split_movie", "merge_movies", "split_frames", "sum_frames",
]
