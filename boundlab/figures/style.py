"""The one plot style of boundlab, applied as a context (no global side effects)."""

from __future__ import annotations

import contextlib

import matplotlib.pyplot as plt

from boundlab import _validation as v

# Colour-blind-safe (Okabe & Ito); fixed roles so a method keeps its colour
# across every figure.
PALETTE = {
    "measured": "#0072B2", "bound": "#D55E00", "reference": "#009E73",
    "alternative": "#CC79A7", "neutral": "#555555", "accent": "#E69F00",
}

RC = {
    "figure.figsize": (5.0, 3.4), "figure.dpi": 120, "savefig.dpi": 150,
    "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9,
    "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.25, "lines.linewidth": 1.4,
    "legend.frameon": False, "savefig.bbox": "tight",
}


@contextlib.contextmanager
def style():
  """Context manager applying boundlab's rcParams."""
  with plt.rc_context(RC):
    yield


def new_figure(ncols: int = 1, nrows: int = 1, width: float | None = None,
               height: float | None = None):
  """A figure with boundlab's style and ``nrows x ncols`` axes."""
  ncols = v.check_positive_int("ncols", ncols, maximum=100)
  nrows = v.check_positive_int("nrows", nrows, maximum=100)
  for name, size in (("width", width), ("height", height)):
    if size is not None:
      v.check_in_range(name, size, 0.0, 200.0, closed="(]")
  with style():
    w = width or RC["figure.figsize"][0] * (1 if ncols == 1 else 0.75 * ncols)
    h = height or RC["figure.figsize"][1] * (1 if nrows == 1 else 0.8 * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=(w, h), squeeze=False,
                             layout="constrained")
  return fig, axes
