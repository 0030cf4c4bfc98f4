r"""Bu, Liu, Wang, Zha & Karypis (2023): group-wise clipping in DP optimization.

On the accuracy and efficiency of group-wise clipping in differentially private
optimization, arXiv 2310.19215. Abstract [V]: clipping styles (all-layer,
layer-wise, parameter-wise, ...) have the same time complexity but trade
accuracy against memory; all-layer clipping is usually the most accurate. Every
style's privacy rests on the claim's sensitivity bound (shared references,
section 3 [V]; the standard statement, not read in this paper:
``verified=False``). Problem: a two-layer tanh regression with layer gradients
~100x apart in scale (inputs of scale 100); a total C = 1 split uniformly or
by dimension.

No experiment family fits: an exact supremum per instance.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from boundlab import figures, theory
from boundlab.algorithms.group_clipping import (
    clip_groups_per_example, clipping_groups, group_thresholds, sensitivity)
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)

PAPER = Paper(
    key="bu2023", title="On the accuracy and efficiency of group-wise "
    "clipping in differentially private optimization", arxiv="2310.19215",
    authors="Z. Bu, R. Liu, Y.-X. Wang, S. Zha, G. Karypis", version="v1")
_CELLS = tuple(itertools.product(("all-layer", "layer-wise", "param-wise"),
                                 ("uniform", "dim")))    # (style, split)


def _measure(config, seeds):
  """Per instance and (style, split): the largest clipped norm of real and of
  adversarial gradients over sqrt(sum C_k^2); cos(clipped mean, true mean)."""
  d, h, n = config["dim"], config["width"], config["num_examples"]
  scale = config["input_scale"]
  def loss(p, xi, yi):
    hidden = jnp.tanh(p["layer1"]["w"] @ (xi / scale**2) + p["layer1"]["b"])
    return 0.5 * (p["layer2"]["w"] @ hidden + p["layer2"]["b"] - yi)[0] ** 2
  per_example = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))
  max_norm = lambda t: float(jax.vmap(optax.tree_utils.tree_norm)(t).max())
  flat_mean = lambda t: ravel_pytree(jax.tree.map(lambda g: g.mean(0), t))[0]
  records = []
  for seed in seeds:
    k1, k2, k_x, k_y = jax.random.split(jax.random.key(seed), 4)
    params = {"layer1": {"w": jax.random.normal(k1, (h, d)) / np.sqrt(d),
                         "b": jnp.zeros(h)},
              "layer2": {"w": jax.random.normal(k2, (1, h)) / np.sqrt(h),
                         "b": jnp.zeros(1)}}
    grads = per_example(params, scale * jax.random.normal(k_x, (n, d)),
                        jax.random.normal(k_y, (n,)))
    adversarial = jax.tree.map(lambda g: 1e6 * jnp.ones_like(g[:1]), grads)
    true_mean, cells = flat_mean(grads), []
    for style, split in _CELLS:
      groups = clipping_groups(params, style)
      c_k = group_thresholds(params, groups, config["total_clip_norm"], split)
      clip = lambda g: clip_groups_per_example(g, groups, c_k)
      mean = flat_mean(clip(grads))
      cells.append({
          "real": max_norm(clip(grads)) / sensitivity(c_k),
          "adversarial": max_norm(clip(adversarial)) / sensitivity(c_k),
          "cosine": float(mean @ true_mean / (jnp.linalg.norm(mean) *
                                              jnp.linalg.norm(true_mean)))})
    records.append({"cells": cells})
  return records


def _evaluate(config, records, alpha):
  del alpha  # exact per instance: the interval is the range
  cells, labels = records["cells"], [f"{a}/{b}" for a, b in _CELLS]
  # The supremum the claim is about: per cell, real or adversarial.
  sups = np.maximum(cells["real"], cells["adversarial"])
  _, ci = theory.range_interval(sups)
  cosine = cells["cosine"]
  return Evaluation(measured=ci[1], ci=ci, tables={
      "labels": labels, "cosine_mean": cosine.mean(0),
      "cosine_range": np.stack([cosine.min(0), cosine.max(0)], 1)}, notes=(
          f"Largest clipped per-example norm / sqrt(sum C_k^2), range over "
          f"{sups.size} (instance, style, split) cells; real gradients alone "
          f"reach at most {cells['real'].max():.4f}. Mean cosine of the "
          f"clipped mean with the true mean gradient over {len(records)} "
          "instances: " + ", ".join(
              f"{k} {v:.3f}" for k, v in zip(labels, cosine.mean(0))) + "."))


def _plot(config, records, evaluation):
  t = evaluation.tables
  fig, axes = figures.new_figure()
  ax = figures.intervals(axes[0, 0], t["labels"], t["cosine_mean"],
                         t["cosine_range"], label="range")
  ax.set_xticklabels(t["labels"], rotation=30, ha="right", fontsize=7)
  ax.set(ylabel="cosine(clipped mean, true mean)",
         title="bias direction by clipping style and split")
  return fig


SENSITIVITY = Claim(
    id="bu2023.groupwise_sensitivity", paper=PAPER,
    statement="With group k clipped to C_k, a per-example contribution has "
    "norm at most sqrt(sum_k C_k^2), attained when every group exceeds its "
    "threshold: the clipped sum's L2 sensitivity.",
    measurement="Largest norm of a group-clipped per-example gradient over "
    "sqrt(sum C_k^2), for all-layer / layer-wise / param-wise grouping, "
    "uniform and dimension-weighted splits, real and adversarial gradients.",
    bound=Bound(
        name="max ||clip_groups(g)|| / sqrt(sum C_k^2) = 1", expression=1,
        statement_latex=r"\sup_g \|\hat g\| = \sqrt{\textstyle\sum_k C_k^2}",
        citation=PAPER.cite(
            "Section 2 (group-wise clipping; number unverified)",
            "Standard group-wise sensitivity, recalled in the shared "
            "references [V for the definition, fastDP styles]; threshold "
            "splits from the Apple FL-ASR paper [V].")),
    relation=Relation.APPROX, tolerance=1e-12, tolerance_reason="float64 "
    "rounding of the norms and the projection (~1e-16 relative per operation).",
    # The bound holds for any vectors whose groups have norms <= C_k: what
    # can fail is our group clipping (clip_groups_per_example, the thresholds
    # and sensitivity), checked on real and adversarial gradients.
    evidence="implementation-identity",
    experiment=Experiment("bu2023.groupwise_sensitivity", lambda quick: {
        "num_examples": 64 if quick else 256, "dim": 8, "width": 16,
        "input_scale": 100.0, "total_clip_norm": 1.0}, _measure, seeds=16,
        quick_seeds=4), evaluate=_evaluate, plot=_plot)
CLAIMS = (SENSITIVITY,)
