r"""Heo et al. (ICLR 2021): momentum grows scale-invariant norms; SGDP stops it.

AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant
Weights, arXiv 2006.08217. For scale-invariant f, :math:`w \perp \nabla f(w)`
and the effective step is :math:`\eta/\|w\|^2`. With heavy-ball momentum
:math:`p_t = \beta p_{t-1} + \nabla f(w_t)`, :math:`w_{t+1} = w_t - \eta p_t`:

.. math::
  \|w_{t+1}\|^2 = \|w_t\|^2 + \eta^2\|p_t\|^2 + 2\eta^2 \sum_{k<t}
  \beta^{t-k}\|p_k\|^2 ,

so the norm grows much faster than under GD and the effective step decays
prematurely. Projecting the update onto the tangent space (SGDP) leaves only
:math:`\|w_{t+1}\|^2 = \|w_t\|^2 + \eta^2\|\Pi_{w_t} p_t\|^2`.

The identity is the paper's Lemma as recalled in the shared references [R] and
derived there [D] (and re-derived for this module from
:math:`\langle w_t, p_t\rangle = \beta(\langle w_{t-1}, p_{t-1}\rangle -
\eta\|p_{t-1}\|^2)`); the paper's lemma number was not read:
``verified=False``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import optax

from boundlab import algorithms, figures, landscapes, theory
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)

PAPER = Paper(
    key="heo2021",
    title="AdamP: Slowing Down the Slowdown for Momentum Optimizers on "
    "Scale-invariant Weights", authors="B. Heo et al.", arxiv="2006.08217",
    version="v1", venue="ICLR 2021")

_METHODS = ("momentum", "sgdp", "gd")
_NORM_EVERY = 10     # steps between the recorded ||w_t||^2 of the figure


def _config(quick: bool) -> dict:
  return {"num_examples": 40, "dim": 20, "learning_rate": 0.05,
          "momentum": 0.9, "steps": 300 if quick else 2000}


def _measure(config, seeds):
  landscape = landscapes.scale_invariant_regression(config["num_examples"],
                                                    config["dim"])
  eta, beta = config["learning_rate"], config["momentum"]
  # chain(mean_aggregate, opt): the momentum buffer is the TraceState inside
  # opt's state.
  with_buffer = lambda w, s: {"w": w, "p": s[1][0].trace}
  momentum, sgdp, gd = (
      algorithms.run(landscape, algorithms.with_mean_gradient(opt), seeds,
                     steps=config["steps"], record_every=1,
                     metrics=metrics).seeds()
      for opt, metrics in ((optax.sgd(eta, momentum=beta), with_buffer),
                           (algorithms.sgdp(eta, beta), with_buffer),
                           (optax.sgd(eta), lambda w, s: {"w": w})))
  return [{
      "momentum_residual": _momentum_identity_residual(
          mom.metrics["w"], mom.metrics["p"], eta, beta),
      "sgdp_residual": _projected_identity_residual(
          proj.metrics["w"], proj.metrics["p"], eta),
      **{f"norm2_{name}": (run.metrics["w"]**2).sum(1)[::_NORM_EVERY]
         for name, run in zip(_METHODS, (mom, proj, plain))},
      "diverged_at": algorithms.first_divergence(
          [mom.diverged_at, proj.diverged_at, plain.diverged_at])}
          for mom, proj, plain in zip(momentum, sgdp, gd)]


def _momentum_identity_residual(w, p, eta, beta) -> float:
  """max_t |lhs - rhs| / lhs of the momentum identity (p[t+1] is p_t)."""
  norm2 = (w**2).sum(1)
  p2 = (p[1:]**2).sum(1)                        # ||p_t||^2, t = 0..T-1
  accumulated = 0.0                             # sum_{k<t} beta^{t-k} ||p_k||^2
  worst = 0.0
  for t in range(len(p2)):
    if t > 0:
      accumulated = beta * (accumulated + p2[t - 1])
    rhs = norm2[t] + eta**2 * p2[t] + 2 * eta**2 * accumulated
    worst = max(worst, abs(norm2[t + 1] - rhs) / norm2[t + 1])
  return float(worst)


def _projected_identity_residual(w, p, eta) -> float:
  """max_t relative residual of |w_{t+1}|^2 = |w_t|^2 + eta^2 |Pi p_t|^2."""
  norm2 = (w**2).sum(1)
  w_hat = w[:-1] / np.sqrt(norm2[:-1])[:, None]
  tangential = p[1:] - (w_hat * p[1:]).sum(1, keepdims=True) * w_hat
  rhs = norm2[:-1] + eta**2 * (tangential**2).sum(1)
  return float(np.max(np.abs(norm2[1:] - rhs) / norm2[1:]))


def _evaluate(field):
  def evaluate(config, records, alpha):
    del alpha  # exact identities per run: the interval is the range
    _, ci = theory.range_interval(records[field])
    growth = {name: (records[f"norm2_{name}"][:, -1] /
                     records[f"norm2_{name}"][:, 0]).mean()
              for name in _METHODS}
    return Evaluation(
        measured=ci[1], ci=ci,
        notes=f"Max over {config['steps']} steps of the relative residual, "
        f"range over {len(records)} runs. ||w_T||^2 / ||w_0||^2: momentum "
        f"{growth['momentum']:.3f}, SGDP {growth['sgdp']:.3f}, GD "
        f"{growth['gd']:.3f}; the effective step eta/||w||^2 of momentum SGD "
        f"ends {growth['momentum'] / growth['sgdp']:.2f}x smaller than "
        "SGDP's.")
  return evaluate


def _plot(config, records, evaluation):
  fig, axes = figures.new_figure()
  ax = axes[0, 0]
  for name, color in zip(_METHODS, ("alternative", "measured", "reference")):
    norm2 = records[f"norm2_{name}"]
    figures.band(ax, np.arange(norm2.shape[1]) * _NORM_EVERY,
                 norm2 / norm2[:, :1], label=name,
                 color=figures.PALETTE[color])
  ax.set(xlabel="step", ylabel=r"$\|w_t\|^2 / \|w_0\|^2$",
         title="Scale-invariant weights: norm growth")
  ax.legend()
  return fig


_CITATION = PAPER.cite(
    "Section 2, norm-growth lemma (number unverified)",
    "Identity recalled [R] and derived [D] (shared references and this "
    "module's docstring); projection rule from the authors' sgdp.py [V].")
RUNS = Experiment("heo2021.scale_invariant_runs", _config, _measure, seeds=16,
                  quick_seeds=8)
_SHARED = dict(
    relation=Relation.APPROX, tolerance=1e-12, experiment=RUNS, plot=_plot,
    tolerance_reason="float64 rounding accumulated over the run's recursion "
    "and the sums of squares (relative 1e-12 >> observed 1e-15 scale).")

MOMENTUM_IDENTITY = Claim(
    id="heo2021.momentum_norm_growth_identity", paper=PAPER,
    statement="For scale-invariant weights under heavy-ball momentum, "
    "||w_{t+1}||^2 = ||w_t||^2 + eta^2 ||p_t||^2 + 2 eta^2 sum_{k<t} "
    "beta^{t-k} ||p_k||^2 exactly.",
    measurement="Max relative residual of the identity along momentum-SGD "
    "runs (beta = 0.9, eta = 0.05) on a scale-invariant regression, every "
    "step recorded.",
    bound=Bound(
        name="relative residual = 0", expression=0,
        statement_latex=r"\|w_{t+1}\|^2 = \|w_t\|^2 + \eta^2\|p_t\|^2 + "
        r"2\eta^2\sum_{k<t}\beta^{t-k}\|p_k\|^2", citation=_CITATION),
    evaluate=_evaluate("momentum_residual"), **_SHARED)

PROJECTION_IDENTITY = Claim(
    id="heo2021.projection_removes_momentum_growth", paper=PAPER,
    statement="With SGDP's projection the norm grows only at second order, "
    "||w_{t+1}||^2 = ||w_t||^2 + eta^2 ||Pi_w p_t||^2, removing the "
    "momentum-accumulated growth that shrinks the effective step.",
    measurement="Max relative residual of the projected identity along SGDP "
    "runs (same problem and hyperparameters); norm growth vs momentum SGD in "
    "the notes and figure.",
    bound=Bound(
        name="relative residual = 0", expression=0,
        statement_latex=r"\|w_{t+1}\|^2 = \|w_t\|^2 + \eta^2\|\Pi_{w_t} "
        r"p_t\|^2", citation=_CITATION),
    evaluate=_evaluate("sgdp_residual"), **_SHARED)

CLAIMS = (MOMENTUM_IDENTITY, PROJECTION_IDENTITY)


def example_figures(out_dir, quick: bool = True):
  """Adam vs AdamP on the scale-invariant regression: ||w_t||^2 / ||w_0||^2.

  The weights are a (1, d) matrix so that AdamP's cosine test applies (it
  only projects tensors with ndim > 1).
  """
  base = landscapes.scale_invariant_regression(40, 20)
  as_matrix = dataclasses.replace(
      base, init=lambda key: base.init(key)[None, :],
      loss=lambda w, example: base.loss(w[0], example),
      objective=lambda w: base.objective(w[0]))
  seeds = list(range(8 if quick else 32))
  steps, every = (1000, 20) if quick else (5000, 50)
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  data = {}
  for ax, eta in zip(axes[0], (0.01, 0.05)):
    for name, opt, color in (
        ("Adam", optax.adam(eta), figures.PALETTE["alternative"]),
        ("AdamP", algorithms.adamp(eta), figures.PALETTE["measured"])):
      result = algorithms.run(
          as_matrix, algorithms.with_mean_gradient(opt), seeds, steps=steps,
          record_every=every, metrics=lambda w, s: {"norm2": (w**2).sum()})
      ratio = result.metrics["norm2"] / result.metrics["norm2"][:, :1]
      figures.band(ax, result.record_steps, ratio, label=name, color=color)
      data[f"{name}_eta{eta:g}_final"] = ratio[:, -1].tolist()
    ax.set(xlabel="step", ylabel=r"$\|w_t\|^2 / \|w_0\|^2$",
           title=f"scale-invariant weights, lr {eta:g}")
    ax.legend()
  return [figures.save_figure(
      fig, out_dir / "heo2021_adam_vs_adamp.png", data=data,
      config={"steps": steps, "seeds": len(seeds), "dim": 20})[0]]
