"""Defaults of the original ImageSumming notebook, in a module without imports.

:data:`imagesumming.summing.DEFAULTS` is this dict; the CLI reads it here so that ``--help`` does
not import the summing (and its pandas, tifffile).
"""

#: Defaults of the original ImageSumming notebook (pixel size 107 nm there; here it comes from the files).
DEFAULTS = dict(camera_offset=100.0, patch_size=30, n_patches=200, n_summed=100, bin_size=10, min_emitters=2)
