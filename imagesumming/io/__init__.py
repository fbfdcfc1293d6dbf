"""Readers and writers at the edges: localization files and movies."""

from .locs import (FORMATS, LocsFile, ReadReport, detect_format, read_locs, read_picasso_yaml, write_deepstorm_csv,
                   write_locs, write_picasso_hdf5, write_prediction_csv, write_thunderstorm_csv)
from .movies import Movie, TifWriter, as_movie, open_movie, smallest_dtype, tif_pixel_size, write_tif

__all__ = [
    "FORMATS", "LocsFile", "ReadReport", "detect_format", "read_locs", "read_picasso_yaml", "write_locs",
    "write_deepstorm_csv", "write_thunderstorm_csv", "write_picasso_hdf5", "write_prediction_csv",
    "Movie", "TifWriter", "as_movie", "open_movie", "smallest_dtype", "tif_pixel_size", "write_tif",
]
