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
  """

  parameter: str
  field: str
  decreasing: bool
  absolute: bool = False
  label: str = ""

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
    return Evaluation(
        measured=float(steps[worst]), ci=(float(pick(lows)), float(pick(highs))),
        tables={"means": means, "cis": cis},
        notes=f"{'Largest increase' if self.decreasing else 'Smallest increase'}"
        f" of {'|' + label + '|' if self.absolute else label} between "
        f"consecutive {self.parameter} ({grid[worst]:g} -> "
        f"{grid[worst + 1]:g}); Student-t intervals per value at level "
        f"alpha/{len(means)} (Bonferroni), {len(records)} seeds. Per value: "
        + ", ".join(f"{g:g}: {m:.3g}" for g, m in zip(grid, means)) + ".")

  def draw(self, ax, config, evaluation, **style):
    """The quantity per grid value with its simultaneous intervals."""
    t = evaluation.tables
    figures.intervals(ax, [f"{g:g}" for g in config[self.parameter]],
                      t["means"], t["cis"], **style)
    ax.set_xlabel(self.parameter.replace("_", " "))
    ax.set_ylabel(("|" + (self.label or self.field) + "|") if self.absolute
                  else (self.label or self.field))
    return ax
