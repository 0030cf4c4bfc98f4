"""Reusable plot functions; each draws into a given Axes and returns it."""

from __future__ import annotations

import numpy as np

from boundlab.figures.style import PALETTE


def band(ax, x, samples, *, label, color=None, log=False, quantiles=(0.1, 0.9)):
  """Median over seeds (axis 0 of ``samples``) with a quantile band."""
  samples = np.asarray(samples, dtype=float)
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
  points = np.asarray(points, dtype=float)
  cis = np.asarray(cis, dtype=float).reshape(-1, 2)
  x = np.arange(len(labels)) + offset
  err = np.stack([points - cis[:, 0], cis[:, 1] - points])
  ax.errorbar(x, points, yerr=np.maximum(err, 0), fmt=marker, capsize=3,
              color=color or PALETTE["measured"], label=label)
  ax.set_xticks(np.arange(len(labels)), labels)
  return ax


def horizontal_reference(ax, y, *, label, color=None, style="--"):
  """A horizontal line for a bound or a reference value."""
  ax.axhline(y, color=color or PALETTE["bound"], linestyle=style, label=label,
             linewidth=1.2)
  return ax
