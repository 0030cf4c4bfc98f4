r"""Chen, Wu & Hong (NeurIPS 2020): clipping in private SGD, geometrically.

Understanding Gradient Clipping in Private SGD: A Geometric Perspective,
arXiv 2006.15429 (v2). Clipped SGD
:math:`x_{t+1} = x_t - \alpha\,\mathrm{clip}(\nabla f(x_t) + \xi_t, c)` is
biased when the gradient noise :math:`\xi_t \sim p_t` is asymmetric; the bias
is bounded by a Wasserstein distance from :math:`p_t` to a symmetric law, and
vanishes for symmetric noise; perturbing before clipping removes it.

What was confirmed against the paper (see ``../shared/references`` and the
closing note of issue 2): the abstract's statement of the Wasserstein bound and
the perturbation fix, and Example 2 (a = (-3, 3), c = 1: every x in [-2, 2] is
a fixed point of clipped GD). Theorem numbers, the constants c/4 and 3c/4, the
definition of W_{v,c} and the instance a = (-3, -3, 9) are recalled, not read:
every claim here carries ``verified=False``. Where the paper writes O(.), the
explicit constant used is our own derivation (descent lemma), marked [D].
"""

from __future__ import annotations

import numpy as np

from boundlab import figures, landscapes, theory
from boundlab.claims import Paper

PAPER = Paper(
    key="chen2020",
    title="Understanding Gradient Clipping in Private SGD: A Geometric "
    "Perspective",
    authors="X. Chen, Z. S. Wu, M. Hong", arxiv="2006.15429", version="v2",
    venue="NeurIPS 2020")


def noise_law(case) -> landscapes.NoiseDistribution:
  """The gradient-noise law a config names (``{"noise", "kwargs"}``)."""
  return getattr(landscapes, case["noise"])(**case["kwargs"])


# One module per experiment; they import PAPER and noise_law from here.
from boundlab.paper_repro.chen2020 import (  # noqa: E402
    rates, stall, wasserstein)

RATE_BOUND = rates.RATE_BOUND     # the theorem's bound (tested on its own)

CLAIMS = (wasserstein.BIAS_LE_WASSERSTEIN, rates.SYMMETRIC_RATE,
          rates.ASYMMETRIC_PLATEAU, rates.CLIPPED_SGD_BOUND,
          stall.STALL_FIXED_POINT, stall.PERTURBATION_BIAS,
          stall.PERTURBATION_VARIANCE)


def example_figures(out_dir, quick: bool = True):
  """The paper's Example 2 and the stalling instance (``boundlab repro``)."""
  del quick  # exact curves: the same at every size
  grid, written = np.linspace(-8.0, 12.0, 2001), []
  for name, points, title in (
      ("example2_flat_zero_set", [-3.0, 3.0],
       "Example 2: a = (-3, 3), c = 1: every x in [-2, 2] is stationary"),
      ("stall_instance", [-3.0, -3.0, 9.0],
       "a = (-3, -3, 9), c = 1: clipped GD stalls at -2.5, x* = 1")):
    clipped = theory.expected_clipped_gradient(grid, points, 1.0)
    fig, axes = figures.new_figure()
    ax = axes[0, 0]
    ax.plot(grid, grid - np.mean(points), color=figures.PALETTE["reference"],
            label=r"$f'(x)$ (no clipping)")
    ax.plot(grid, clipped, color=figures.PALETTE["measured"],
            label=r"$\frac{1}{N}\sum_i \mathrm{clip}(x-a_i, 1)$")
    ax.axhline(0.0, color=figures.PALETTE["neutral"], linewidth=0.8)
    ax.set(ylim=(-4, 4), xlabel="x")
    ax.set_title(title, fontsize=8)
    ax.legend()
    zero = grid[np.abs(clipped) < 1e-12]
    written.append(figures.save_figure(
        fig, out_dir / f"chen2020_{name}.png", config={
            "grid": [grid[0], grid[-1], len(grid)]}, data={
            "points": points, "clip_norm": 1.0,
            "zero_set": [zero.min(), zero.max()] if zero.size else None,
            "fixed_point": theory.clipped_fixed_point(points, 1.0)})[0])
  return written

