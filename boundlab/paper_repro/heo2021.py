r"""Heo et al. (ICLR 2021): momentum grows scale-invariant norms; SGDP stops it.

AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant
Weights, arXiv 2006.08217. For scale-invariant f, :math:`w \perp \nabla f(w)`
and the effective step is :math:`\eta/\|w\|^2`; under heavy-ball momentum
(:math:`p_t = \beta p_{t-1} + \nabla f(w_t)`, :math:`w_{t+1} = w_t - \eta p_t`)
the norm grows much faster than under GD, so the effective step decays
prematurely; SGDP's tangent-space projection stops it. The claims' identities
are the paper's Lemma, recalled [R] and derived [D] in the shared references
and re-derived here from :math:`\langle w_t, p_t\rangle = \beta(\langle
w_{t-1}, p_{t-1}\rangle - \eta\|p_{t-1}\|^2)`; the lemma's number was not read:
``verified=False``.

No experiment family fits: exact identities along every run.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import optax

from boundlab import algorithms, figures, landscapes, theory
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)

PAPER = Paper(
    key="heo2021", title="AdamP: Slowing Down the Slowdown for Momentum "
    "Optimizers on Scale-invariant Weights", authors="B. Heo et al.",
    arxiv="2006.08217", version="v1", venue="ICLR 2021")

_METHODS = ("momentum", "sgdp", "gd")
_NORM_EVERY = 10     # steps between the recorded ||w_t||^2 of the figure


def _relative_residual(run, eta, beta=None) -> float:
  """max_t relative residual: momentum identity, or projected if beta None."""
  w, p = run.metrics["w"], run.metrics["p"][1:]   # p[t+1] is p_t
  norm2 = (w**2).sum(1)
  if beta is None:   # SGDP: the tangential part of p_t only
    w_hat = w[:-1] / np.sqrt(norm2[:-1])[:, None]
    tangential = p - (w_hat * p).sum(1, keepdims=True) * w_hat
    rhs = norm2[:-1] + eta**2 * (tangential**2).sum(1)
  else:
    p2 = (p**2).sum(1)                        # ||p_t||^2, t = 0..T-1
    accumulated = [0.0]                       # sum_{k<t} beta^{t-k} ||p_k||^2
    for p2_previous in p2[:-1]:
      accumulated.append(beta * (accumulated[-1] + p2_previous))
    rhs = norm2[:-1] + eta**2 * p2 + 2 * eta**2 * np.array(accumulated)
  return float(np.max(np.abs(norm2[1:] - rhs) / norm2[1:]))


def _measure(config, seeds):
  landscape = landscapes.scale_invariant_regression(config["num_examples"],
                                                    config["dim"])
  eta, beta = config["learning_rate"], config["momentum"]
  with_buffer = lambda w, s: {"w": w, "p": s[1][0].trace}  # opt's TraceState
  runs = (algorithms.run(
      landscape, algorithms.with_mean_gradient(opt), seeds,
      steps=config["steps"], record_every=1, metrics=metrics).seeds()
          for opt, metrics in ((optax.sgd(eta, momentum=beta), with_buffer),
                               (algorithms.sgdp(eta, beta), with_buffer),
                               (optax.sgd(eta), lambda w, s: {"w": w})))
  return [{
      "momentum_residual": _relative_residual(per_seed[0], eta, beta),
      "sgdp_residual": _relative_residual(per_seed[1], eta),
      **{f"norm2_{name}": (run.metrics["w"]**2).sum(1)[::_NORM_EVERY]
         for name, run in zip(_METHODS, per_seed)},
      "diverged_at": algorithms.first_divergence(
          [run.diverged_at for run in per_seed])} for per_seed in zip(*runs)]


def _evaluate(field, config, records, alpha):
  del alpha  # exact identities per run: the interval is the range
  _, ci = theory.range_interval(records[field])
  growth = {name: (records[f"norm2_{name}"][:, -1] /
                   records[f"norm2_{name}"][:, 0]).mean() for name in _METHODS}
  return Evaluation(measured=ci[1], ci=ci, notes=(
      f"Max over {config['steps']} steps of the relative residual, range over "
      f"{len(records)} runs. ||w_T||^2 / ||w_0||^2: momentum "
      f"{growth['momentum']:.3f}, SGDP {growth['sgdp']:.3f}, GD "
      f"{growth['gd']:.3f}; the effective step eta/||w||^2 of momentum SGD "
      f"ends {growth['momentum'] / growth['sgdp']:.2f}x smaller than SGDP's."))


def _plot(config, records, evaluation):
  fig, axes = figures.new_figure()
  for name, color in zip(_METHODS, ("alternative", "measured", "reference")):
    norm2 = records[f"norm2_{name}"]
    figures.band(axes[0, 0], np.arange(norm2.shape[1]) * _NORM_EVERY,
                 norm2 / norm2[:, :1], label=name, color=figures.PALETTE[color])
  axes[0, 0].set(xlabel="step", ylabel=r"$\|w_t\|^2 / \|w_0\|^2$",
                 title="Scale-invariant weights: norm growth")
  axes[0, 0].legend()
  return fig


_CITATION = PAPER.cite(
    "Section 2, norm-growth lemma (number unverified)",
    "Identity recalled [R] and derived [D] (shared references and this "
    "module's docstring); projection rule from the authors' sgdp.py [V].")
RUNS = Experiment("heo2021.scale_invariant_runs", lambda quick: {
    "num_examples": 40, "dim": 20, "learning_rate": 0.05, "momentum": 0.9,
    "steps": 300 if quick else 2000}, _measure, seeds=16, quick_seeds=8)
MOMENTUM_IDENTITY, PROJECTION_IDENTITY = (Claim(
    id=f"heo2021.{name}", paper=PAPER, statement=statement,
    measurement=measurement, relation=Relation.APPROX, tolerance=1e-12,
    bound=Bound(name="relative residual = 0", expression=0,
                statement_latex=latex, citation=_CITATION),
    tolerance_reason="float64 rounding accumulated over the run's recursion "
    "and the sums of squares (relative 1e-12 >> observed 1e-15 scale).",
    # An algebraic identity of the implemented update (optax's heavy ball,
    # our SGDP) on a scale-invariant loss, re-derived here [D]: what the
    # check can catch is a wrong update or a wrong transcription.
    evidence="implementation-identity",
    experiment=RUNS, evaluate=functools.partial(_evaluate, field), plot=_plot)
    for name, field, statement, measurement, latex in ((
        "momentum_norm_growth_identity", "momentum_residual",
        "For scale-invariant weights under heavy-ball momentum, ||w_{t+1}||^2 "
        "= ||w_t||^2 + eta^2 ||p_t||^2 + 2 eta^2 sum_{k<t} beta^{t-k} "
        "||p_k||^2 exactly.",
        "Max relative residual of the identity along momentum-SGD runs (beta "
        "0.9, eta 0.05, scale-invariant regression), every step.",
        r"\|w_{t+1}\|^2 = \|w_t\|^2 + \eta^2\|p_t\|^2 + "
        r"2\eta^2\sum_{k<t}\beta^{t-k}\|p_k\|^2"), (
        "projection_removes_momentum_growth", "sgdp_residual",
        "With SGDP's projection the norm grows only at second order, "
        "||w_{t+1}||^2 = ||w_t||^2 + eta^2 ||Pi_w p_t||^2, removing the "
        "momentum-accumulated growth that shrinks the effective step.",
        "Max relative residual of the projected identity along SGDP runs "
        "(same setup); norm growth vs momentum SGD in notes and figure.",
        r"\|w_{t+1}\|^2 = \|w_t\|^2 + \eta^2\|\Pi_{w_t} p_t\|^2")))
CLAIMS = (MOMENTUM_IDENTITY, PROJECTION_IDENTITY)


def example_figures(out_dir, quick: bool = True):
  """Adam vs AdamP, ||w_t||^2 / ||w_0||^2, on the scale-invariant regression
  with (1, d) weights: AdamP only projects tensors with ndim > 1."""
  base = landscapes.scale_invariant_regression(40, 20)
  as_matrix = dataclasses.replace(
      base, init=lambda key: base.init(key)[None, :],
      loss=lambda w, example: base.loss(w[0], example),
      objective=lambda w: base.objective(w[0]))
  num_seeds, steps, every = (8, 1000, 20) if quick else (32, 5000, 50)
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  data = {}
  for ax, eta in zip(axes[0], (0.01, 0.05)):
    for name, opt, color in (("Adam", optax.adam(eta), "alternative"),
                             ("AdamP", algorithms.adamp(eta), "measured")):
      n2 = algorithms.run(
          as_matrix, algorithms.with_mean_gradient(opt), range(num_seeds),
          steps=steps, record_every=every,
          metrics=lambda w, s: {"norm2": (w**2).sum()}).metrics["norm2"]
      figures.band(ax, np.arange(0, steps + 1, every), n2 / n2[:, :1],
                   label=name, color=figures.PALETTE[color])
      data[f"{name}_eta{eta:g}_final"] = (n2[:, -1] / n2[:, 0]).tolist()
    ax.set(xlabel="step", ylabel=r"$\|w_t\|^2 / \|w_0\|^2$",
           title=f"scale-invariant weights, lr {eta:g}")
    ax.legend()
  return [figures.save_figure(
      fig, out_dir / "heo2021_adam_vs_adamp.png", data=data,
      config={"steps": steps, "seeds": num_seeds, "dim": 20})[0]]
