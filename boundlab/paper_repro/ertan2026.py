r"""Ertan & van Dijk (ACM CCS 2026): a hard privacy-utility limit for DP-SGD.

Fundamental Limitations of Favorable Privacy-Utility Guarantees for DP-SGD,
arXiv 2601.10237. Abstract [V, via the shared references]: shuffled DP-SGD over
one epoch of M updates, analysed in f-DP against the worst-case adversary, must
have noise multiplier :math:`\sigma \ge 1/\sqrt{2\ln M}` or a separation
:math:`\kappa \ge \frac{1}{\sqrt 8}(1 - \frac{1}{\sqrt{4\pi\ln M}})` from
perfect privacy (theorem number not read: ``verified=False``). Measured by
:func:`boundlab.theory.tradeoff.shuffled_single_epoch_separation`: a
Neyman-Pearson test of the worst-case single-epoch instance, threshold chosen
and scored on disjoint halves. Neighbouring relation: add/remove of the target
(its clipped gradient of norm 1 is absent under H0); replacing it could move a
round's release by 2.

No experiment family fits: a Monte Carlo separation per (M, sigma)
cell, the smallest cell mean with simultaneous intervals.
"""

from __future__ import annotations

import dataclasses
import itertools

import jax
import numpy as np
import sympy

from boundlab import figures, theory
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)
from boundlab.theory import tradeoff

PAPER = Paper(
    key="ertan2026", title="Fundamental Limitations of Favorable "
    "Privacy-Utility Guarantees for DP-SGD", authors="M. Ertan, M. van Dijk",
    arxiv="2601.10237", version="v1", venue="ACM CCS 2026")
_cells = lambda c: list(itertools.product(c["rounds"], c["sigma_fractions"]))


def _measure(config, seeds):
  """kappa_hat per (M, sigma) cell, M-major, one Monte Carlo key per cell."""
  return [{"kappa": [tradeoff.shuffled_single_epoch_separation(
      jax.random.fold_in(jax.random.key(seed), i), m,
      fraction * tradeoff.noise_threshold(m), samples=config["samples"]).kappa
                     for i, (m, fraction) in enumerate(_cells(config))]}
          for seed in seeds]


_M = sympy.Symbol("M", positive=True)
# The theorem's bound; the claim's verdict is on kappa over it, per cell.
KAPPA_BOUND = Bound(
    name="kappa >= (1/sqrt8)(1 - 1/sqrt(4 pi ln M))",
    expression=(1 - 1 / sympy.sqrt(4 * sympy.pi * sympy.log(_M)))
    / sympy.sqrt(8),
    statement_latex=r"\sigma < \frac{1}{\sqrt{2\ln M}} \Rightarrow \kappa "
    r"\ge \frac{1}{\sqrt 8}\Big(1 - \frac{1}{\sqrt{4\pi\ln M}}\Big)",
    citation=PAPER.cite(
        "Abstract; main theorem (number unverified)",
        "Statement and constants from the abstract as recorded in the "
        "shared references [V]; the worst-case instance is the shared "
        "references' reconstruction [D]."),
    symbol_meanings={"M": "updates in the epoch"})


def _evaluate(config, records, alpha):
  cells = _cells(config)
  bounds = np.array([KAPPA_BOUND.evaluate(M=m) for m, _ in cells])
  index, mean, ci = theory.extreme_mean_ci(records["kappa"] / bounds, alpha,
                                           which="min")
  kappa = records["kappa"].mean(0)
  return Evaluation(measured=mean, ci=ci, tables={
      "kappa": kappa.reshape(len(config["rounds"]), -1),
      "bounds": bounds[::len(config["sigma_fractions"])]},
      notes=f"kappa_hat / bound, mean over {len(records)} independent Monte "
      f"Carlo seeds ({config['samples']} draws per hypothesis), simultaneous "
      f"t intervals over the {len(cells)} (M, sigma) cells; smallest at M = "
      f"{cells[index][0]}, sigma = {cells[index][1]} x threshold. Per cell "
      "(kappa_hat vs bound): " + ", ".join(f"M={m} s={f}: {k:.3f} vs {b:.3f}"
          for (m, f), k, b in zip(cells, kappa, bounds)) + ".")


def _plot(config, records, evaluation):
  fig, axes = figures.new_figure()
  ax, t = axes[0, 0], evaluation.tables
  for m, kappa, bound, color in zip(config["rounds"], t["kappa"], t["bounds"],
                                    figures.PALETTE.values()):
    ax.plot(config["sigma_fractions"], kappa, "o-", color=color, label=f"M={m}")
    ax.axhline(bound, color=color, linestyle="--", linewidth=1)
  ax.set(xlabel=r"$\sigma$ / $(2\ln M)^{-1/2}$",
         ylabel=r"separation $\hat\kappa$ (dashed: stated bound)",
         title="shuffled single-epoch DP-SGD")
  ax.legend(fontsize=7)
  return fig


SEPARATION = Claim(
    id="ertan2026.separation_below_noise_threshold", paper=PAPER,
    statement="For shuffled single-epoch DP-SGD with sigma < 1/sqrt(2 ln M), "
    "the separation satisfies kappa >= (1/sqrt8)(1 - 1/sqrt(4 pi ln M)).",
    measurement="Monte Carlo kappa of the worst-case instance (optimal "
    "likelihood-ratio test, held-out threshold) over the stated bound; M in "
    "{10, 100, 1000}, sigma in {0.5, 0.8, 0.95} x threshold; smallest cell.",
    bound=dataclasses.replace(
        KAPPA_BOUND, expression=1, symbol_meanings={},
        name="kappa / ((1/sqrt8)(1 - 1/sqrt(4 pi ln M))) >= 1"),
    relation=Relation.GE,
    # Simultaneous t intervals over independent Monte Carlo seeds.
    evidence="statistical", experiment=Experiment(
        "ertan2026.separation_below_noise_threshold", lambda quick: {
            "rounds": [10, 100, 1000], "sigma_fractions": [0.5, 0.8, 0.95],
            "samples": 8_000 if quick else 200_000},
        _measure, seeds=8, quick_seeds=4), evaluate=_evaluate, plot=_plot)
CLAIMS = (SEPARATION,)
