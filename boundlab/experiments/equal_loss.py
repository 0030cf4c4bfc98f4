r"""Equal-loss comparisons: a property of solutions compared at one training loss.

"SAM finds flatter minima than SGD" compares runs that have fit the data
equally well, not runs after equal time. Each run's training loss is
recorded along training; where it first crosses each declared level
:math:`\epsilon`, the compared quantity (here Tr H) is read at the two
bracketing records and interpolated log-log to the crossing. The claim is
about :math:`\log_{10} q_{\mathrm{method}}/q_{\mathrm{reference}}` at every
level: the largest level mean, with Bonferroni-simultaneous Student-t
intervals over the levels. Its premise -- every run reached every level --
is checked; seeds where a run did not are dropped, and the verdict is then
inconclusive.

:func:`loss_premise` states the other form of the premise, for comparisons
of solutions that all sit below one loss (Liu, Xie, Li & Ma's "same
pre-training loss").

Records (:func:`crossings`): per seed and method ``{"loss": curve,
"crossing_index": (levels,), "crossing_loss": (levels, 2),
"crossing_value": (levels, 2)}``, with index -1 and NaN where a level was
never reached.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from boundlab import figures, theory
from boundlab.claims import Evaluation


def first_crossing(losses, level) -> int:
  """Index of the first record at or below ``level``, -1 if none (or if
  the first record already is: no bracketing pair)."""
  below = np.flatnonzero(np.asarray(losses) <= level)
  return int(below[0]) if below.size and below[0] > 0 else -1


def crossings(losses, levels, value_at: Callable[[int], float]) -> dict:
  """A run's crossing of each level: the bracketing records' losses and
  ``value_at(record index)`` at both (computed only there)."""
  index = [first_crossing(losses, level) for level in levels]
  nan_pair = [np.nan, np.nan]
  return {"loss": np.asarray(losses).tolist(), "crossing_index": index,
          "crossing_loss": [[float(losses[j - 1]), float(losses[j])]
                            if j > 0 else nan_pair for j in index],
          "crossing_value": [[float(value_at(j - 1)), float(value_at(j))]
                             if j > 0 else nan_pair for j in index]}


def value_at_level(crossing_loss, crossing_value, level) -> np.ndarray:
  """Log-log interpolation of the value to where the loss equals ``level``
  (elementwise over leading axes; NaN where there is no crossing)."""
  (l0, l1), (v0, v1) = np.moveaxis(crossing_loss, -1, 0), np.moveaxis(
      crossing_value, -1, 0)
  with np.errstate(divide="ignore", invalid="ignore"):
    w = (np.log(level) - np.log(l0)) / (np.log(l1) - np.log(l0))
    interpolated = np.exp((1 - w) * np.log(v0) + w * np.log(v1))
  return np.where(l0 == l1, v1, interpolated)


def loss_premise(losses, threshold, what="a compared solution") -> str:
  """"" if every loss is finite and at most ``threshold``, else the reason
  the comparison is not at equal loss."""
  worst = float(np.max(losses))
  if not np.isfinite(worst) or worst > threshold:
    return (f"premise not met: {what} has training loss {worst:.3g} > "
            f"{threshold:g} (not an equal-loss comparison)")
  return ""


@dataclasses.dataclass(frozen=True)
class EqualLoss:
  """The family.

  Attributes:
    methods: record keys of the runs.
    reference: the method every other is compared with.
    levels: config key of the loss levels.
    label: the compared quantity's name (notes and figures).
  """

  methods: tuple[str, ...]
  reference: str
  levels: str = "loss_levels"
  label: str = "Tr H"

  def log_ratios(self, config, records, method) -> np.ndarray:
    """(seeds, levels) log10 value(method) / value(reference) at equal loss;
    NaN where a run never reached a level."""
    levels = np.asarray(config[self.levels], dtype=float)
    value = {m: value_at_level(records[m]["crossing_loss"],
                               records[m]["crossing_value"], levels)
             for m in (method, self.reference)}
    with np.errstate(invalid="ignore", divide="ignore"):
      return np.log10(value[method] / value[self.reference])

  def _levels_table(self, config, records, alpha) -> dict:
    """Per non-reference method (complete seeds only): the mean log ratio
    per level and the Bonferroni-simultaneous intervals a verdict uses."""
    table = {}
    for m in (m for m in self.methods if m != self.reference):
      ratios = self.log_ratios(config, records, m)
      ratios = ratios[np.all(np.isfinite(ratios), axis=1)]
      if len(ratios) >= 2:
        means, cis = theory.simultaneous_mean_cis(ratios, alpha)
        table[m] = {"means": means, "cis": cis}
    return table

  def evaluate_below_reference(self, method: str,
                               notes: Callable | None = None):
    """``evaluate`` of "method's value is below the reference's at every
    level": the largest level mean of the log10 ratio."""

    def evaluate(config, records, alpha):
      ratios = self.log_ratios(config, records, method)
      levels = config[self.levels]
      missing = int(np.sum(~np.isfinite(ratios)))
      reason = (f"premise not met: {missing} (seed, level) pairs where a run "
                "never reached the loss level (no equal-loss comparison)"
                if missing else "")
      complete = ratios[np.all(np.isfinite(ratios), axis=1)]
      extra = notes(config, records) if notes else ""
      if len(complete) < 2:
        return Evaluation.undetermined(
            reason or "fewer than two complete seeds",
            notes=f"fewer than two complete seeds. {extra}")
      index, mean, ci = theory.extreme_mean_ci(complete, alpha, which="max")
      crossed = {m: [np.median(c[c >= 0]) if np.any(c >= 0) else np.nan
                     for c in np.asarray(records[m]["crossing_index"]).T]
                 for m in self.methods}
      return Evaluation(
          measured=mean, ci=ci, inconclusive_reason=reason,
          tables={"log_ratio": complete,
                  "levels": self._levels_table(config, records, alpha)},
          notes=f"log10({self.label} {method} / {self.label} "
          f"{self.reference}) where the training loss first reaches each "
          f"level {levels} (log-log interpolated between records); the "
          f"largest level mean is at loss {levels[index]}, with "
          f"Bonferroni-simultaneous Student-t intervals over {len(complete)} "
          f"seeds. Mean per level: "
          + ", ".join(f"{lv}: {np.mean(complete[:, j]):.4f}"
                      for j, lv in enumerate(levels))
          + ". Median final training loss: "
          + ", ".join(f"{m} {np.median(records[m]['loss'][:, -1]):.4f}"
                      for m in self.methods)
          + ". Median record at which each level is crossed: "
          + "; ".join(f"{m} " + ", ".join(f"{x:g}" for x in crossed[m])
                      for m in self.methods) + f". {extra}")
    return evaluate

  def plot(self, colors: dict | None = None):
    """Training loss per method with the levels, and the log ratios per
    level (every non-reference method, the verdict's simultaneous
    intervals)."""

    def plot(config, records, evaluation):
      palette = colors or dict(zip(self.methods, figures.PALETTE.values()))
      fig, axes = figures.new_figure(ncols=2, width=10)
      for m in self.methods:
        loss = records[m]["loss"]
        figures.band(axes[0, 0], np.arange(loss.shape[1]), loss,
                     label=m.upper(), color=palette[m], log=True)
      for level in config[self.levels]:
        axes[0, 0].axhline(level, color=figures.PALETTE["bound"],
                           linestyle=":", linewidth=0.9)
      axes[0, 0].set_xlabel("record")
      axes[0, 0].set_ylabel("training loss (dotted: comparison levels)")
      axes[0, 0].legend(fontsize=7)
      labels = [str(lv) for lv in config[self.levels]]
      table = evaluation.tables.get("levels", {})
      for k, (m, row) in enumerate(table.items()):
        figures.intervals(axes[0, 1], labels, row["means"], row["cis"],
                          color=palette[m], label=m.upper(),
                          offset=0.1 * (k - (len(table) - 1) / 2))
      figures.horizontal_reference(axes[0, 1], 0.0,
                                   label=f"as flat as {self.reference.upper()}")
      axes[0, 1].set_xlabel("training-loss level")
      axes[0, 1].set_ylabel(f"log10 {self.label} / {self.label}"
                            f"({self.reference.upper()}) at that loss "
                            "(Bonferroni over levels)")
      axes[0, 1].legend(fontsize=7)
      return fig
    return plot
