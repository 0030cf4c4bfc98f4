r"""Li, Tramèr, Liang & Hashimoto (ICLR 2022): ghost clipping.

Large Language Models Can Be Strong Differentially Private Learners, arXiv
2110.05679, Section 4 [V, via the authors' ``private-transformers`` README].
For a dense layer with example i's inputs :math:`a_i \in \mathbb R^{T\times
d}` and output gradients :math:`g_i \in \mathbb R^{T\times p}`, the norm of
the per-example weight gradient :math:`g_i^\top a_i` needs two T x T Gram
matrices instead of the p x d gradient (the code's comment calls it "Eq. 3
in the paper"; the equation number is [R]). The reference path,
``vmap(grad)`` of the layer's loss, never forms a Gram matrix; each random
shape is its own program, hence the loop.

No experiment family fits: one identity evaluated two ways per shape.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from boundlab import figures
from boundlab.algorithms.ghost_norm import ghost_weight_norms_squared
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)

PAPER = Paper(
    key="li2021", title="Large Language Models Can Be Strong Differentially "
    "Private Learners", authors="X. Li, F. Tramèr, P. Liang, T. Hashimoto",
    arxiv="2110.05679", version="v6", venue="ICLR 2022")


def _measure(config, seeds):
  # A smooth loss of the layer output; its output gradient, which ghost
  # clipping reads, is g_i = tanh(a_i w^T) - y_i.
  per_example_grads = jax.vmap(jax.grad(lambda w, a_i, y_i: jnp.sum(
      jnp.log(jnp.cosh(a_i @ w.T)) - y_i * (a_i @ w.T))), in_axes=(None, 0, 0))
  def cell(rng):
    b, t, d, p = (int(rng.integers(1, config[k] + 1)) for k in (
        "max_batch", "max_sequence", "max_width", "max_width"))
    a, y = (jnp.asarray(rng.standard_normal((b, t, n))) for n in (d, p))
    w = jnp.asarray(rng.standard_normal((p, d)))
    exact = np.sum(np.asarray(per_example_grads(w, a, y)) ** 2, axis=(1, 2))
    ghost = np.asarray(ghost_weight_norms_squared(a, jnp.tanh(a @ w.T) - y))
    return {"shape": [b, t, d, p], "relative_error": float(np.max(
        np.abs(ghost - exact) / np.maximum(exact, 1e-300)))}
  return [{"cells": [cell(rng) for _ in range(config["shapes_per_seed"])]}
          for rng in map(np.random.default_rng, seeds)]


def _evaluate(config, records, alpha):
  errors = records["cells"]["relative_error"].ravel()
  return Evaluation(measured=errors.max(), ci=(errors.max(),) * 2, notes=(
      f"largest relative difference of squared norms over {errors.size} "
      f"random shapes (B <= {config['max_batch']}, T <= "
      f"{config['max_sequence']}, d, p <= {config['max_width']}), float64; "
      f"median {np.median(errors):.2e}."))


def _plot(config, records, evaluation):
  _, t, d, p = records["cells"]["shape"].reshape(-1, 4).T
  fig, axes = figures.new_figure()
  ax = axes[0, 0]
  ax.scatter(2 * t**2 / (d * p), np.maximum(
      records["cells"]["relative_error"].ravel(), 1e-18), s=12)
  ax.axvline(1.0, color="k", ls="--", lw=1, label=r"switch rule $2T^2 = dp$")
  ax.set(xscale="log", yscale="log", ylabel="relative error vs materialised",
         xlabel=r"$2T^2/(dp)$ (ghost norm preferred left of 1)")
  ax.legend(fontsize=7)
  return fig


GHOST_NORM = Claim(
    id="li2021.ghost_norm_equals_materialized", paper=PAPER,
    statement="The ghost norm <a a^T, g g^T> equals the squared Frobenius "
    "norm of the materialised per-example weight gradient of a dense layer, "
    "with or without a sequence axis.",
    measurement="Largest relative difference over random (B, T, d, p), "
    "float64, against vmap(grad) of the layer's loss.",
    bound=Bound(
        name="relative difference = 0", expression=0,
        statement_latex=r"\|g_i^\top a_i\|_F^2 = \langle a_i a_i^\top, "
        r"g_i g_i^\top\rangle_F",
        citation=PAPER.cite(
            "Section 4 (ghost clipping); 'Eq. 3' per the code comment",
            "Identity read in the authors' code [V]; the equation number is "
            "recalled [R].")),
    relation=Relation.APPROX, tolerance=1e-10,
    # Our ghost_weight_norms_squared against materialised per-example
    # gradients: an identity of our implementation, checked on every shape.
    evidence="implementation-identity",
    tolerance_reason="An algebraic identity evaluated two ways in float64: "
    "the paths differ by summation order, O(T d p) roundings of 1e-16 each; "
    "1e-10 is far above that and far below any real discrepancy.",
    experiment=Experiment(
        "li2021.ghost_norm_equals_materialized", lambda quick: {
            "shapes_per_seed": 3 if quick else 20, "max_batch": 4,
            "max_sequence": 8, "max_width": 12}, _measure, seeds=8,
        quick_seeds=4), evaluate=_evaluate, plot=_plot)
CLAIMS = (GHOST_NORM,)
