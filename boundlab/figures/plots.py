"""Reusable plot functions; each draws into a given Axes and returns it."""

from __future__ import annotations

import matplotlib.axes
import numpy as np

from boundlab import _validation as v
from boundlab.figures.style import PALETTE


def _check_axes(ax):
  v.check_instance("ax", ax, matplotlib.axes.Axes, "a matplotlib Axes")


def band(ax, x, samples, *, label, color=None, log=False, quantiles=(0.1, 0.9)):
  """Median over seeds (axis 0 of ``samples``) with a quantile band."""
  _check_axes(ax)
  x = v.check_finite_array("x", x, ndim=1)
  samples = v.check_real_array("samples", samples, ndim=2)
  if samples.shape[1] != x.shape[0]:
    raise ValueError(f"samples must be (seeds, {x.shape[0]}) (one column per "
                     f"x), got {samples.shape}")
  q = v.check_finite_array("quantiles", quantiles, ndim=1)
  if q.shape != (2,) or not 0 <= q[0] <= q[1] <= 1:
    raise ValueError(f"quantiles must be (low, high) with 0 <= low <= high "
                     f"<= 1, got {quantiles!r}")
  color = color or PALETTE["measured"]
  med = np.nanmedian(samples, axis=0)
  lo, hi = np.nanquantile(samples, quantiles, axis=0)
  ax.plot(x, med, color=color, label=label)
  ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0)
  if log:
    ax.set_yscale("log")
  return ax


def intervals(ax, labels, points, cis, *, color=None, label=None, offset=0.0,
              marker="o"):
  """Point estimates with interval error bars at categorical positions."""
  _check_axes(ax)
  if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
    raise ValueError(f"labels must be a sequence of labels, got {labels!r}")
  points = v.check_real_array("points", points, ndim=1)
  cis = v.check_real_array("cis", cis, ndim=2)
  if points.shape != (len(labels),):
    raise ValueError(f"points must have one value per entry of labels "
                     f"({len(labels)}), got shape {points.shape}")
  if cis.shape != (len(labels), 2) or np.any(cis[:, 0] > cis[:, 1]):
    raise ValueError(f"cis must be ({len(labels)}, 2) intervals with lo <= "
                     f"hi, got {cis.tolist()!r}"[:200])
  offset = v.check_in_range("offset", offset, -1e6, 1e6)
  x = np.arange(len(labels)) + offset
  err = np.stack([points - cis[:, 0], cis[:, 1] - points])
  ax.errorbar(x, points, yerr=np.maximum(err, 0), fmt=marker, capsize=3,
              color=color or PALETTE["measured"], label=label)
  ax.set_xticks(np.arange(len(labels)), labels)
  return ax


def horizontal_reference(ax, y, *, label, color=None, style="--"):
  """A horizontal line for a bound or a reference value."""
  _check_axes(ax)
  y = v.check_in_range("y", y, -np.inf, np.inf, closed="()")
  ax.axhline(y, color=color or PALETTE["bound"], linestyle=style, label=label,
             linewidth=1.2)
  return ax
