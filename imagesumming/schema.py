"""The canonical localization table: one column schema, documented here and nowhere else.

Every reader converts into it and every writer converts out of it.

=================  =========  ======================================================================
column             dtype      meaning
=================  =========  ======================================================================
``frame``          int64      frame number, **1-based** (first frame of the movie is 1)
``x``, ``y``       float64    position in **nm from the corner** of the image: camera pixel ``k``
                              spans ``[k, k+1) * pixel_size`` (ThunderSTORM / Deep-STORM convention)
``z``              float64    axial position in nm (optional)
``photons``        float64    emitter photons (Deep-STORM ``Photon #``, ThunderSTORM ``intensity``)
``sigma``          float64    PSF width in nm (Deep-STORM ``Sigma [nm]``)
``sigma_x/_y``     float64    PSF widths along x and y in nm (Picasso ``sx``, ``sy``)
``uncertainty``    float64    lateral localization precision in nm
``uncertainty_x``  float64    ... along x and y in nm (Picasso ``lpx``, ``lpy``)
``bg``             float64    background in photons per pixel (ThunderSTORM ``offset``)
``confidence``     float64    Deep-STORM prediction confidence (a.u.)
=================  =========  ======================================================================

Only ``frame``, ``x`` and ``y`` are required; other columns of a file are carried through under
their own names (e.g. Picasso's ``net_gradient`` or ``group``). An ``id`` is not part of the
table: writers number rows themselves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "REQUIRED",
    "CANONICAL",
    "NM_COLUMNS",
    "empty_locs",
    "make_locs",
    "sort_locs",
    "locs_equal",
]

REQUIRED = ("frame", "x", "y")
CANONICAL = (
    "frame", "x", "y", "z", "photons", "sigma", "sigma_x", "sigma_y",
    "uncertainty", "uncertainty_x", "uncertainty_y", "bg", "confidence",
)
#: columns measured in nm (lengths), as opposed to counts or photons
NM_COLUMNS = ("x", "y", "z", "sigma", "sigma_x", "sigma_y", "uncertainty", "uncertainty_x", "uncertainty_y")


def empty_locs(columns=REQUIRED) -> pd.DataFrame:
    """An empty canonical table with the given columns."""
    return make_locs({c: [] for c in columns})


def make_locs(data) -> pd.DataFrame:
    """Build a canonical table from a dict or DataFrame: canonical columns first, dtypes fixed.

    ``frame`` becomes int64 and the other canonical columns float64; extra columns keep their
    dtype and follow the canonical ones. The index is a fresh RangeIndex.
    """
    if isinstance(data, dict) and data and all(type(v) is np.ndarray and v.ndim == 1 and v.dtype.kind in "biufcO"
                                               for v in data.values()):
        # the readers' case: 1-D arrays need no DataFrame of their own (no index to align, no inference);
        # bytes, text and date arrays go through one (it makes them object / str / datetime64[s] columns)
        if len({len(v) for v in data.values()}) > 1:
            raise ValueError("All arrays must be of the same length")
        columns = data
    else:
        columns = pd.DataFrame(data)  # the index is dropped: the arrays are taken below
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise KeyError(f"localization table lacks column(s) {missing}")

    def values(c, dtype=None):
        v = columns[c]
        if isinstance(v, np.ndarray):
            return v.astype(dtype or v.dtype, copy=True)
        return v.to_numpy(dtype=dtype, copy=True)

    out = {}
    for c in CANONICAL:
        if c in columns:
            out[c] = values(c, np.int64 if c == "frame" else np.float64)
    for c in columns:
        if c not in out:
            out[c] = values(c)
    return pd.DataFrame(out, columns=list(out), copy=False)


def sort_locs(df: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by frame (stable: the order within a frame is kept), with a fresh index."""
    order = np.argsort(df["frame"].to_numpy(), kind="stable")
    return df.iloc[order].reset_index(drop=True)


def locs_equal(a: pd.DataFrame, b: pd.DataFrame, *, atol_nm: float = 1e-6, columns=None) -> bool:
    """True when two tables hold the same rows (frame exact, other columns within ``atol_nm``)."""
    columns = list(columns or REQUIRED)
    if len(a) != len(b):
        return False
    a, b = sort_locs(a), sort_locs(b)
    if not np.array_equal(a["frame"].to_numpy(), b["frame"].to_numpy()):
        return False
    for c in columns:
        if c == "frame":
            continue
        if not np.allclose(a[c].to_numpy(float), b[c].to_numpy(float), atol=atol_nm, rtol=0, equal_nan=True):
            return False
    return True
