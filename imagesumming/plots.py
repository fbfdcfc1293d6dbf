"""Shared matplotlib views: a frame with localizations as crosses, density box plots.

Functions return (or draw into) matplotlib objects and never call ``plt.show()``; figures are
made with :class:`matplotlib.figure.Figure` directly so that nothing depends on pyplot's global
state (safe in scripts, notebooks and widgets).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["new_figure", "plot_frame", "plot_density_boxes"]


def new_figure(ncols: int = 1, nrows: int = 1, *, size=(4.0, 4.0), **kwargs):
    """A pyplot-free Figure with a grid of axes: returns ``(fig, axes)`` (axes squeezed)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, **kwargs)
    return fig, axes


def plot_frame(ax, image, locs: pd.DataFrame | None = None, *, pixel_size: float, frame: int | None = None,
               origin_nm=(0.0, 0.0), color="red", marker="+", markersize=8, title=None, cmap="gray",
               colorbar_values=None, colorbar: str | None = None):
    """Draw an image with localizations as crosses at their true positions.

    The image is shown with pixel ``k`` spanning ``[k, k+1) * pixel_size`` nm (corner
    convention), so a cross at ``(x, y)`` nm lands on the pixel ``floor(x / pixel_size)``.

    Parameters
    ----------
    ax : matplotlib Axes
    image : 2-D array
    locs : DataFrame, optional
        Canonical table; only rows of ``frame`` (1-based) are drawn when ``frame`` is given.
    pixel_size : float
        Pixel size of ``image`` in nm.
    origin_nm : (x0, y0)
        Position of the image's corner in the table's coordinates (for a patch cut out of a frame).
    colorbar_values : str, optional
        Column used to colour the markers (e.g. ``"confidence"``); returns the scatter artist.
    colorbar : str, optional
        Label of an intensity colorbar beside the image (e.g. ``"ADU"``); none by default.
    """
    image = np.asarray(image)
    h, w = image.shape
    x0, y0 = origin_nm
    im = ax.imshow(image, cmap=cmap, interpolation="nearest",
                   extent=(x0 / 1000, (x0 + w * pixel_size) / 1000, (y0 + h * pixel_size) / 1000, y0 / 1000))
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label=colorbar, shrink=0.85)
    artist = None
    if locs is not None and len(locs):
        sel = locs if frame is None else locs[locs["frame"] == frame]
        if colorbar_values is not None and colorbar_values in sel:
            # line markers take their colour from c, so the crosses stay see-through
            artist = ax.scatter(sel["x"] / 1000, sel["y"] / 1000, c=sel[colorbar_values], marker="x",
                                s=markersize * 4, linewidths=1.2, cmap="viridis")
        else:
            ax.plot(sel["x"] / 1000, sel["y"] / 1000, linestyle="none", marker=marker, color=color,
                    markersize=markersize)
    ax.set_xlim(x0 / 1000, (x0 + w * pixel_size) / 1000)
    ax.set_ylim((y0 + h * pixel_size) / 1000, y0 / 1000)
    ax.set_xlabel("x [µm]")
    ax.set_ylabel("y [µm]")
    if title:
        ax.set_title(title)
    return artist


def plot_density_boxes(ax, densities: dict, *, ylabel="emitters / µm² per frame"):
    """Box plots of per-frame densities, one box per entry of ``{label: values}``, means marked."""
    labels = list(densities)
    data = [np.asarray(densities[k], float) for k in labels]
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(labels) + 1), labels)
    for i, d in enumerate(data, start=1):
        if d.size:
            ax.annotate(f"mean {d.mean():.3g}", (i, d.mean()), textcoords="offset points", xytext=(8, 0),
                        fontsize=8, va="center")
    ax.set_ylabel(ylabel)
    return ax
