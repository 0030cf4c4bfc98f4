r"""Monotone sweeps: a quantity along a swept parameter rises (or falls).

"The bias decreases as k grows" is checked on a grid :math:`k_1 < \dots <
k_m`: every column (one grid value) gets a Student-t interval over seeds at
level :math:`\alpha/m` (Bonferroni, :func:`~boundlab.theory.
simultaneous_mean_cis`), so all m hold at once with probability
:math:`\ge 1-\alpha`; the difference of consecutive means then lies in
:math:`[lo_{j+1} - hi_j,\ hi_{j+1} - lo_j]`. "Decreasing" is the claim that
the *largest* consecutive increase is :math:`\le 0`; "increasing", that the
*smallest* is :math:`\ge 0`. ``absolute=True`` tests :math:`|\text{mean}|`
(a bias of either sign), with the interval for :math:`|\mu|` that the
interval for :math:`\mu` implies (same coverage).

Records: per seed, a field of one value per grid point.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from boundlab import figures, theory
from boundlab.claims import Evaluation


@dataclasses.dataclass(frozen=True)
class MonotoneSweep:
  """The family.

  Attributes:
    parameter: config key of the swept values.
    field: record field of the quantity, ``(grid,)`` per seed.
    decreasing: the claimed direction.
    absolute: compare :math:`|\\text{mean}|` instead of the mean.
    label: the quantity's name in notes and figures.
    parameter_label: the swept parameter's name in notes and figures
      (default: ``parameter``).
  """

  parameter: str
  field: str
  decreasing: bool
  absolute: bool = False
  label: str = ""
  parameter_label: str = ""

  def column_intervals(self, records, alpha):
    """Means (or |means|) and simultaneous intervals per grid value."""
    means, cis = theory.simultaneous_mean_cis(records[self.field], alpha)
    if self.absolute:
      means = np.abs(means)
      cis = np.array([theory.abs_interval(tuple(ci)) for ci in cis])
    return means, cis

  def evaluate(self, config, records, alpha):
    means, cis = self.column_intervals(records, alpha)
    steps = means[1:] - means[:-1]
    lows, highs = cis[1:, 0] - cis[:-1, 1], cis[1:, 1] - cis[:-1, 0]
    pick, arg = (np.max, np.argmax) if self.decreasing else (np.min,
                                                             np.argmin)
    worst = int(arg(steps))
    grid = config[self.parameter]
    label = self.label or self.field
    parameter = self.parameter_label or self.parameter
    return Evaluation(
        measured=float(steps[worst]),
        ci=(float(pick(lows)), float(pick(highs))),
        tables={"means": means, "cis": cis},
        notes=("Largest increase" if self.decreasing else "Smallest increase")
        + f" of {'|' + label + '|' if self.absolute else label} between "
        f"consecutive {parameter} ({grid[worst]:g} -> "
        f"{grid[worst + 1]:g}); Student-t intervals per value at level "
        f"alpha/{len(means)} (Bonferroni), {len(records)} seeds. Per value: "
        + ", ".join(f"{g:g}: {m:.3g}" for g, m in zip(grid, means)) + ".")

  def plot(self, *, title: str = "", color: str = "measured",
           yscale: str | None = None):
    """``plot`` of the claim: the quantity per grid value with the
    simultaneous intervals the verdict uses."""

    def plot(config, records, evaluation):
      t = evaluation.tables
      fig, axes = figures.new_figure()
      ax = axes[0, 0]
      figures.intervals(ax, [f"{g:g}" for g in config[self.parameter]],
                        t["means"], t["cis"], color=figures.PALETTE[color])
      label = self.label or self.field
      ax.set(xlabel=self.parameter_label or self.parameter,
             ylabel=f"|{label}|" if self.absolute else label,
             title=f"{title or label} (Bonferroni intervals)")
      if yscale == "symlog":    # a quantity that is exactly 0 at one end
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_ylim(bottom=0)
      elif yscale:
        ax.set_yscale(yscale)
      return fig
    return plot
