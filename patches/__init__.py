"""Declarative patch specs for the Deep-STORM 2D notebook (data files, shipped as imagesumming.patches)."""
