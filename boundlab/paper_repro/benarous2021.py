r"""Ben Arous, Gheissari & Jagannath (JMLR 2021): online SGD needs d^(k*-1).

Online stochastic gradient descent on non-convex losses from high-dimensional
inference, arXiv 2003.10409. Abstract [V]: the sample complexity of online SGD
to recover a hidden direction is governed by the information exponent k*;
Theorem 1.3 [R]: :math:`n \gg d^{k^\star-1}` samples suffice for
:math:`k^\star \ge 3` (:math:`d\log d` for 2, d for 1), and Theorem 1.4 [V,
"nearly sharp"]: fewer fail.

Measured as a phase diagram (:mod:`boundlab.theory.phase_diagram`): spherical
online SGD with one fresh sample per step and step size
:math:`\eta = \delta d^{-\max(1, k^\star/2)}`, simulated exactly by the O(1)
overlap chains of :mod:`boundlab.algorithms.spherical_sgd` (validated against
the O(d) sampler and a materialized-tensor simulation in the tests). Success
within n samples is the first passage of :math:`m = \langle x, v\rangle` above
0.5 by step n. Tensor PCA uses noise convention C (per-sample
:math:`T = \lambda v^{\otimes k} + W`, W entries N(0, 1), :math:`\lambda = 1`);
the single-index models use the correlation loss with the teacher's link and no
label preprocessing (so the CSQ exponent, not the generative one, applies). The
theorem's exact joint conditions on step size and sample size are [U] in the
shared references: the step-size scale :math:`\delta = 0.5` is ours, so
``verified=False``.
"""

from __future__ import annotations

import jax
import numpy as np
import sympy

from boundlab import figures
from boundlab.algorithms.spherical_sgd import (online_step_size,
                                               tensor_pca_overlap_chain)
from boundlab.claims import Bound, Paper
from boundlab.experiments.phase_diagram import OnlineSGDChains, PhaseDiagram

PAPER = Paper(
    key="benarous2021", title="Online stochastic gradient descent on "
    "non-convex losses from high-dimensional inference",
    authors="G. Ben Arous, R. Gheissari, A. Jagannath", arxiv="2003.10409",
    version="v4", venue="JMLR 22 (2021)")

_STEP_SCALE = 0.5        # delta in eta = delta d^{-max(1, k/2)}
_k = sympy.Symbol("k_star", positive=True, integer=True)

BOUND = Bound(
    name="sample-complexity exponent = max(1, k* - 1)",
    expression=sympy.Max(1, _k - 1),
    statement_latex=r"n_{1/2}(d) \asymp d^{\max(1, k^\star - 1)}",
    constants=lambda config: {"k_star": config["information_exponent"]},
    symbol_meanings={"k_star": "information exponent"},
    citation=PAPER.cite(
        "Theorem 1.3 (sufficiency) and Theorem 1.4 (near-sharpness)",
        "Rates n ~ d^{k*-1} (k* >= 3), d log d (k* = 2), d (k* = 1) from the "
        "abstract and the shared references [R], and max(1, k* - 1) as the "
        "abstract of arXiv 2603.06028 restates it [R]; the exact step-size "
        "conditions are [U], ours is delta d^{-max(1,k*/2)} with delta = "
        "0.5."))


def _claim(name, problem, k, quick_dims, full_dims, statement, measurement,
           seeds=64):
  family = PhaseDiagram(
      experiment_id=f"benarous2021.{name}", sampler=OnlineSGDChains(
          problem, k, step_scale=_STEP_SCALE, step_power=max(1.0, k / 2),
          # at most 8 d^{k*-1} / (2 delta) steps: ~8x the median escape time
          budget=8.0 / (2 * _STEP_SCALE)),
      expected_exponent=max(1, k - 1), quick_dims=quick_dims,
      full_dims=full_dims, seeds=seeds)
  return family.claim(
      id=f"benarous2021.{name}", paper=PAPER, statement=statement,
      measurement=measurement, bound=BOUND, tolerance=0.25,
      # Percentile-bootstrap interval of the fitted exponent at level 1 - alpha.
      evidence="statistical",
      tolerance_reason="A fitted exponent carries finite-d and polylog "
      "corrections; 0.25 is half the gap (0.5) between the competing "
      "exponents k*-1 and k*/2 at k* = 3, so 'holds' and 'violated' still "
      "separate them.")


TENSOR_PCA_K3 = _claim(
    "tensor_pca_k3_exponent", "tensor_pca", 3, (16, 32, 64, 128),
    tuple(2**j for j in range(6, 13)),
    "Online SGD on order-3 spiked tensor PCA needs n ~ d^(k-1) = d^2 samples.",
    "Fitted exponent of the 50% sample size of spherical online SGD "
    "(lambda = 1, eta = 0.5 d^-1.5) over d (quick: 16-128; full: 64-4096).")
TENSOR_PCA_K4 = _claim(
    "tensor_pca_k4_exponent", "tensor_pca", 4, (8, 16, 32),
    tuple(2**j for j in range(5, 9)),
    "Online SGD on order-4 spiked tensor PCA needs n ~ d^(k-1) = d^3 samples.",
    "Fitted exponent of the 50% sample size (lambda = 1, eta = 0.5 d^-2) "
    "over d (quick: 8-32, 64 seeds; full: 32-256, 256 seeds).",
    # Full mode at 64 seeds read inconclusive (CI [2.68, 3.34], wider than
    # the tolerance): 4x the seeds halves the interval; decided before the
    # rerun, whatever it reads.
    seeds=256)
SINGLE_INDEX_HE3 = _claim(
    "single_index_he3_exponent", "he3", 3, (16, 32, 64, 128),
    tuple(2**j for j in range(6, 12)),
    "For a single-index model with information exponent 3 (link He_3/sqrt6), "
    "online SGD needs n ~ d^2 samples.",
    "Fitted exponent of the 50% sample size of online SGD on the correlation "
    "loss, noiseless labels, eta = 0.5 d^-1.5.")
SINGLE_INDEX_RELU = _claim(
    "single_index_relu_exponent", "relu", 1, (16, 32, 64, 128),
    tuple(2**j for j in range(6, 13)),
    "For a single-index model with information exponent 1 (ReLU link), "
    "online SGD needs n ~ d samples.",
    "Fitted exponent of the 50% sample size of online SGD on the correlation "
    "loss, noiseless labels, eta = 0.5/d.")
CLAIMS = (TENSOR_PCA_K3, TENSOR_PCA_K4, SINGLE_INDEX_HE3, SINGLE_INDEX_RELU)


def example_figures(out_dir, quick: bool = True):
  """Escape of the overlap from the equator: 256 chains at one d, k = 3."""
  d = 64 if quick else 512
  eta = online_step_size(d, 3, _STEP_SCALE)
  tau, _ = tensor_pca_overlap_chain(
      jax.random.key(0), dim=d, order=3, snr=1.0, learning_rate=eta,
      num_chains=256, max_steps=int(8 * d * d / (2 * _STEP_SCALE)))
  tau = np.sort(np.asarray(tau)[np.asarray(tau) > 0]) / d**2
  fig, axes = figures.new_figure()
  axes[0, 0].plot(tau, np.arange(1, len(tau) + 1) / 256,
                  color=figures.PALETTE["measured"])
  axes[0, 0].set(xscale="log", ylabel="fraction of chains",
                 xlabel=r"first passage of $m \geq 0.5$, in units of $d^2$",
                 title=f"online SGD, tensor PCA k = 3, d = {d}")
  return [figures.save_figure(fig, out_dir / "benarous2021_escape_times.png",
                              data={"tau_over_d2": tau.tolist()},
                              config={"d": d, "eta": eta})[0]]
