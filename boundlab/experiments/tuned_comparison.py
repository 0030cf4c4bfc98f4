r"""Tuned comparisons: methods x a hyperparameter grid x seeds, each method at
its best hyperparameter, compared on seeds that did not choose it.

"Method A beats method B" is only a statement about tuned methods: each gets
its best value from one shared grid (a learning rate, say). Choosing that
value on the same seeds that measure the result biases the comparison toward
the chosen option, so the seeds are split (:func:`~boundlab.theory.
selection_split`): the median score over the *selection* half picks the value
per method (and per group, e.g. per clip norm), and the *evaluation* half
measures. A grid point whose run diverged scores as the worst (NaN), never as
an outcome of the claim; a chosen value at the edge of the grid is flagged in
the notes (the optimum may lie outside).

For deterministic instances (one random problem per seed, no sampling noise)
``per_seed=True`` gives each instance its own best value instead (an oracle
tuning; the interval is then the range over instances).

Records: per seed, one entry per method, ``{method: {field: values}}``, each
field shaped ``(groups, grid)`` or ``(grid,)``; the selection score field
holds NaN (or inf) where a run diverged, and ``"grid_diverged_at"`` (same
shape, -1 where finite) counts those runs.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable

import numpy as np

from boundlab import figures, theory
from boundlab.claims import Evaluation


def _nanmedian(values, axis):
  """Median over seeds leaving diverged (NaN) runs out; NaN, silently, where
  every run diverged."""
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    return np.nanmedian(values, axis=axis)


@dataclasses.dataclass(frozen=True)
class Tuned:
  """One method at its chosen grid values.

  Attributes:
    index: chosen grid index per group, ``(groups,)``; with ``per_seed``,
      ``(seeds, groups)``.
    values: the compared field at the chosen values, ``(evaluation seeds,
      groups)``.
    at_edge: whether a chosen index is the first or last grid value, per group.
  """

  index: np.ndarray
  values: np.ndarray
  at_edge: np.ndarray


@dataclasses.dataclass(frozen=True)
class TunedComparison:
  """The family. See the module docstring.

  Attributes:
    methods: record keys of the compared methods.
    grid: config key of the tuned values (e.g. ``"learning_rates"``).
    groups: config key of values compared separately, each with its own
      choice (e.g. ``"clip_norms"``), or ``None``.
    score: record field the choice optimises.
    higher_is_better: maximise ``score`` (an accuracy) instead of minimising
      it (a loss).
    per_seed: choose each seed's own best value (deterministic instances).
    score_label: the score's name in figures (default: ``score``).
  """

  methods: tuple[str, ...]
  grid: str
  groups: str | None = None
  score: str = "score"
  higher_is_better: bool = False
  per_seed: bool = False
  score_label: str = ""

  def _fields(self, records, method, field):
    values = np.asarray(records[method][field], dtype=float)
    return values if self.groups else values[:, None, :]   # (S, G, P)

  def _badness(self, scores):
    """Scores as losses, NaN and inf (diverged runs) worst."""
    loss = -scores if self.higher_is_better else scores
    return np.where(np.isfinite(loss), loss, np.inf)

  def tuned(self, records, method, field=None) -> Tuned:
    """``method`` at its chosen values; ``field`` (default: the score) read
    on the evaluation seeds there."""
    field = field or self.score
    if self.per_seed:
      index = np.argmin(self._badness(self._fields(records, method,
                                                   self.score)), axis=-1)
      values = np.take_along_axis(self._fields(records, method, field),
                                  index[..., None], axis=-1)[..., 0]
    else:
      selection, evaluation = theory.selection_split(records)
      median = np.median(self._fields(selection, method, self.score), axis=0)
      index = np.argmin(self._badness(median), axis=-1)
      values = self._fields(evaluation, method, field)[
          :, np.arange(len(index)), index]
    size = self._fields(records, method, self.score).shape[-1]
    return Tuned(index=index, values=values,
                 at_edge=np.isin(index, (0, size - 1)))

  def diverged_runs(self, records) -> int:
    return int(sum(np.sum(np.asarray(records[m]["grid_diverged_at"]) >= 0)
                   for m in self.methods))

  def describe(self, config, records, field=None) -> str:
    """Chosen values, edges, divergences, the median of ``field`` (default:
    the score) at the chosen values on the evaluation seeds, and the median
    score per grid value."""
    grid = config[self.grid]
    groups = config[self.groups] if self.groups else [None]
    field = field or self.score
    lines = []
    for m in self.methods:
      t = self.tuned(records, m, field)
      index = np.atleast_2d(t.index)
      chosen = ", ".join(
          (f"{self.groups}={g:g}: " if g is not None else "")
          + (f"{grid[int(index[0, j])]:g}" if not self.per_seed
             else f"median {np.median([grid[i] for i in index[:, j]]):g}")
          + (" (grid edge)" if np.any(t.at_edge[..., j]) else "")
          + f", median {field} {np.median(t.values[:, j]):.3g}"
          for j, g in enumerate(groups))
      medians = _nanmedian(self._fields(records, m, self.score), axis=0)
      lines.append(f"{m} at {chosen}; median {self.score} per value: "
                   + "; ".join(", ".join(f"{x:.2g}" for x in row)
                               for row in medians))
    best = "highest" if self.higher_is_better else "lowest"
    how = ("each seed's own best value" if self.per_seed else
           f"the value with the {best} median {self.score} on the selection "
           "half of the seeds")
    return (f"Each method at {how}, from {self.grid} "
            f"[{', '.join(f'{g:g}' for g in grid)}] "
            f"({self.diverged_runs(records)} diverged (seed, value) runs "
            f"lose). " + ". ".join(lines) + ".")

  def log_ratio(self, records, numerator, denominator, field=None,
                floor=None) -> np.ndarray:
    """log10 of ``field`` numerator / denominator at the tuned values,
    ``(evaluation seeds, groups)``; ``floor`` bounds both from below (so that
    two converged losses of 1e-300 compare as a factor, not 0/0)."""
    num = self.tuned(records, numerator, field).values
    den = self.tuned(records, denominator, field).values
    if floor is not None:
      num, den = np.maximum(num, floor), np.maximum(den, floor)
    with np.errstate(divide="ignore", invalid="ignore"):
      return np.log10(num / den)

  def evaluate_log_ratio(self, numerator: str, denominator: str, *,
                         field: str | None = None, floor: float | None = None,
                         premise: Callable | None = None,
                         notes: Callable | None = None):
    """``evaluate`` of "numerator's tuned ``field`` is at most
    denominator's": the mean log10 ratio over evaluation seeds (Student t),
    the largest group mean with Bonferroni intervals over groups, or the
    range over instances with ``per_seed``.

    ``premise(config, records, alpha) -> (reason, text)``: a condition the
    comparison needs (e.g. similar accuracy); a non-empty reason makes the
    verdict inconclusive. ``notes(config, records) -> str`` adds the claim's
    own notes.
    """
    field_name = field or self.score

    def evaluate(config, records, alpha):
      ratio = self.log_ratio(records, numerator, denominator, field, floor)
      groups = config[self.groups] if self.groups else None
      extra = notes(config, records) if notes else ""
      tables = {"log_ratio": ratio}
      if not np.all(np.isfinite(ratio)):
        return Evaluation.undetermined(
            f"{int(np.sum(~np.isfinite(ratio)))} (seed, group) runs have no "
            f"finite {field_name} at a chosen value (a diverged run): no "
            "verdict.", notes=extra, tables=tables)
      if self.per_seed:
        measured, ci = theory.range_interval(ratio)
        measured, how = ci[1], f"largest over {len(ratio)} instances"
      elif groups is None:
        measured, ci = theory.mean_ci(ratio[:, 0], alpha)
        how = f"mean over {len(ratio)} evaluation seeds, Student-t interval"
      else:
        index, measured, ci = theory.extreme_mean_ci(ratio, alpha, which="max")
        how = (f"largest group mean over {len(ratio)} evaluation seeds "
               f"({self.groups} = {groups[index]:g}), Bonferroni t intervals")
      reason, premise_text = (premise(config, records, alpha) if premise
                              else ("", ""))
      return Evaluation(
          measured=measured, ci=ci, tables=tables, inconclusive_reason=reason,
          notes=f"log10({field_name} {numerator} / {denominator}), {how}. "
          + ("Per group: " + ", ".join(
              f"{g:g}: {np.mean(ratio[:, j]):.3f}"
              for j, g in enumerate(groups)) + ". " if groups else "")
          + f"{premise_text} {self.describe(config, records, field)} {extra}")
    return evaluate

  def plot(self, config, records, evaluation):
    """Median score against the tuned value per method (and group), and the
    compared log ratio (per seed, per group)."""
    grid = np.asarray(config[self.grid], dtype=float)
    fig, axes = figures.new_figure(ncols=2, width=7.0)
    palette = list(figures.PALETTE.values())
    groups = config[self.groups] if self.groups else [None]
    for k, m in enumerate(self.methods):
      medians = _nanmedian(self._fields(records, m, self.score), axis=0)
      # A run that blew up without overflowing (a loss of 1e300) would set
      # the log axis' range: it is drawn as missing, like a diverged one.
      medians = np.where(np.abs(medians) < 1e100, medians, np.nan)
      for j, g in enumerate(groups):
        axes[0, 0].plot(grid, medians[j], "o-", markersize=3,
                        color=palette[k % len(palette)],
                        alpha=1.0 if len(groups) == 1 else 0.3 + 0.7 * j / max(
                            len(groups) - 1, 1),
                        label=m if j == len(groups) - 1 else None)
    axes[0, 0].set_xscale("log")
    if not self.higher_is_better:
      axes[0, 0].set_yscale("log")
    axes[0, 0].set_xlabel(self.grid.replace("_", " "))
    axes[0, 0].set_ylabel(f"median {self.score_label or self.score} over seeds"
                          + (f" (lighter: smaller {self.groups})"
                             if self.groups else ""))
    axes[0, 0].legend(fontsize=7)
    ratio = np.asarray(evaluation.tables["log_ratio"], dtype=float)
    labels = [f"{g:g}" for g in groups] if self.groups else ["all"]
    for j in range(ratio.shape[1]):
      axes[0, 1].scatter(np.full(len(ratio), j), ratio[:, j], s=10,
                         color=figures.PALETTE["measured"], alpha=0.6)
    axes[0, 1].set_xticks(range(len(labels)), labels)
    figures.horizontal_reference(axes[0, 1], 0.0, label="equal")
    axes[0, 1].set_xlabel(self.groups.replace("_", " ") if self.groups
                          else "")
    axes[0, 1].set_ylabel("log10 ratio at the tuned values (one per seed)")
    axes[0, 1].legend(fontsize=7)
    return fig
