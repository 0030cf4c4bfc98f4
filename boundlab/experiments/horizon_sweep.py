r"""Horizon sweeps: a convergence measure against the horizon T it is run for.

Rates such as "the averaged stationarity measure is at most
:math:`A/\sqrt T + \bar b`" are statements about a run of length T whose
step size may depend on T (:math:`\eta = 1/\sqrt T`). The family runs, for
every T of a grid, one run per seed of T steps and averages per-step
quantities over all T steps *exactly* (the run loop's ``step_metrics``), so
the record of a seed is one value per T and per quantity. Two readings:

* :meth:`HorizonSweep.evaluate_exponent` -- the decay exponent: a
  least-squares slope of :math:`\log(\text{measure})` on :math:`\log T` per
  seed (optionally over the largest T only, a local exponent), Student-t
  interval over seeds;
* :meth:`HorizonSweep.evaluate_ratio` -- the worst ratio over T of the
  measure to the stated right-hand side, with simultaneous intervals
  (Bonferroni over the T's). The right-hand side may depend on a quantity
  estimated along the same runs (a mean clipping bias), monotone in it: the
  interval is the range of the ratio over the box of the two intervals
  (attained at its corners).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from boundlab import algorithms, figures, theory
from boundlab.claims import Evaluation


@dataclasses.dataclass(frozen=True)
class HorizonSweep:
  """The family.

  Attributes:
    landscape: ``config -> Landscape``.
    optimizer: ``(config, T) -> optax transformation`` for a run of T steps.
    step_metrics: ``(config, landscape) -> step_metrics(params, key)``; each
      metric is averaged over all T steps of a run.
    constants: names of ``landscape.constants`` to record (the bound's
      constants: an initial gap, a smoothness).
    rhs: ``(config, records, T, estimate) -> value``: the stated right-hand
      side at every T (``T`` and ``estimate`` arrays over the horizons),
      positive and monotone in the estimate; drawn in the figure and used by
      :meth:`evaluate_ratio`.
    estimated: record field the right-hand side depends on (or ``None``).
    batch_size: examples per step.
    horizons: config key of the grid of T.
  """

  landscape: Callable
  optimizer: Callable
  step_metrics: Callable
  constants: tuple[str, ...] = ()
  rhs: Callable | None = None
  estimated: str | None = None
  batch_size: int | None = 1
  horizons: str = "horizons"

  def measure(self, config, seeds):
    landscape = self.landscape(config)
    step_metrics = self.step_metrics(config, landscape)
    averages, diverged_at = [], []
    for horizon in config[self.horizons]:
      result = algorithms.run(
          landscape, self.optimizer(config, horizon), seeds, steps=horizon,
          record_every=horizon, batch_size=self.batch_size,
          step_metrics=step_metrics)
      averages.append({k: result.window_average(k, 0)
                       for k in result.step_sums})
      diverged_at.append(result.diverged_at)
    first = algorithms.first_divergence(diverged_at, axis=0)
    constants = {k: landscape.constants[k] for k in self.constants}
    return [{**{k: [a[k][i] for a in averages] for k in averages[0]},
             **constants, "diverged_at": first[i]} for i in range(len(seeds))]

  def _tables(self, config, records) -> dict:
    if self.rhs is None:
      return {}
    estimate = (records[self.estimated].mean(0) if self.estimated
                else np.zeros(len(config[self.horizons])))
    return {"estimate": estimate, "rhs": self.rhs(
        config, records, np.asarray(config[self.horizons]), estimate)}

  def slopes(self, config, records, field, window=None) -> np.ndarray:
    """Least-squares slope of log(field) on log(T) for every seed, over the
    largest ``window`` horizons (all by default)."""
    x = np.log(config[self.horizons])[-window:] if window else np.log(
        config[self.horizons])
    y = np.log(records[field][:, -window:] if window else records[field])
    x_c = x - x.mean()
    return (y - y.mean(axis=1, keepdims=True)) @ x_c / (x_c @ x_c)

  def evaluate_exponent(self, field: str, window: int | None = None,
                        notes: Callable | None = None):
    """``evaluate`` of the decay exponent of ``field`` (local over the
    largest ``window`` horizons if given)."""

    def evaluate(config, records, alpha):
      horizons = config[self.horizons][-window:] if window else config[
          self.horizons]
      slope, ci = theory.mean_ci(self.slopes(config, records, field, window),
                                 alpha)
      return Evaluation(
          measured=slope, ci=ci, tables=self._tables(config, records),
          notes=f"Log-log slope of the averaged {field} over T in "
          f"[{horizons[0]}, {horizons[-1]}], one fit per seed, t-CI over "
          f"{len(records)} seeds. " + (notes(config, records) if notes else ""))
    return evaluate

  def evaluate_ratio(self, field: str, notes: Callable | None = None):
    """``evaluate`` of ``field / rhs <= 1`` at every T: the worst ratio, with
    simultaneous intervals over T (split between ``field`` and the estimate
    when there is one)."""

    def evaluate(config, records, alpha):
      horizons = np.asarray(config[self.horizons])
      level = alpha / 2 if self.estimated else alpha
      m, m_ci = theory.simultaneous_mean_cis(records[field], level)
      if self.estimated:
        b, b_ci = theory.simultaneous_mean_cis(records[self.estimated], level)
      else:
        b, b_ci = np.zeros(len(horizons)), np.zeros((len(horizons), 2))
      rhs = lambda estimate: self.rhs(config, records, horizons, estimate)
      points = m / rhs(b)
      # Every pairing of the two intervals' ends: the ratio is monotone in
      # each, so its range over the box is attained at a corner (the
      # measure's interval may straddle 0).
      corners = np.array([m_end / rhs(b_end) for m_end in m_ci.T
                          for b_end in b_ci.T])
      lows, highs = corners.min(axis=0), corners.max(axis=0)
      worst = int(np.argmax(points))
      return Evaluation(
          measured=points[worst], ci=(lows.max(), highs.max()),
          tables=self._tables(config, records),
          notes=f"Ratio of the averaged {field} to the bound, worst over T in "
          f"{list(horizons)} (T = {horizons[worst]}); t intervals at level "
          f"alpha/({2 if self.estimated else 1} #T) for the {field}"
          + (f" and the {self.estimated}" if self.estimated else "")
          + ". " + (notes(config, records) if notes else ""))
    return evaluate

  def plot(self, field: str, *, xlabel: str, ylabel: str, rhs_label: str,
           estimate_label: str = "", title: Callable | None = None):
    """The measure per T (median, 10-90% band over seeds), the bound and
    the estimate it depends on."""

    def plot(config, records, evaluation):
      horizons, t = config[self.horizons], evaluation.tables
      fig, axes = figures.new_figure()
      ax = axes[0, 0]
      figures.band(ax, horizons, records[field],
                   label="measured (median, 10-90%)")
      if "rhs" in t:
        ax.plot(horizons, t["rhs"], "--", color=figures.PALETTE["bound"],
                label=rhs_label)
        if np.any(np.asarray(t["estimate"]) > 0):
          ax.plot(horizons, t["estimate"], ":", label=estimate_label,
                  color=figures.PALETTE["reference"])
      ax.set_xscale("log", base=2)
      ax.set(yscale="log", xlabel=xlabel, ylabel=ylabel)
      if title:
        ax.set_title(title(config), fontsize=8)
      ax.legend()
      return fig
    return plot
