r"""Mulayoff & Michaeli (2023): the exact mean-square stability threshold.

Exact Mean Square Linear Stability Analysis for SGD, arXiv 2306.07850.
Theorem 3 [V per shared references]: at an interpolating minimum, SGD with
batch size B is mean-square linearly stable iff
:math:`\eta \le \eta^\star_{\rm var} = 2/\lambda_{\max}(C^\dagger D)`.
Checked on random interpolating least squares (linear, so the linearisation
is exact; :math:`H_i = x_i x_i^\top`) by the exact expectation over batches
(numpy, one instance per seed): sampled runs have heavy-tailed mean squares.

No experiment family fits: an exact computation per random instance,
the interval the range over instances.
"""

from __future__ import annotations

import numpy as np

from boundlab import figures, theory
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)
from boundlab.theory.linear_stability import (
    mulayoff_threshold, second_moment_operator, spectral_radius)

PAPER = Paper(key="mulayoff2023", title="Exact Mean Square Linear Stability "
              "Analysis for SGD", authors="R. Mulayoff, T. Michaeli",
              arxiv="2306.07850", version="v1", venue="COLT 2024")
_CONFIG = {"dim": 6, "num_examples": 12, "batch_sizes": [1, 2, 4, 12],
           "factors": [0.9, 1.1]}   # the same in quick and full mode


def _hessians(seed, config):
  x = np.random.default_rng(seed).standard_normal(
      (config["num_examples"], config["dim"]))
  return np.einsum("ni,nj->nij", x, x)


def _radius(hs, batch_size, factor):
  """Spectral radius of the second-moment operator at factor x eta*_var."""
  eta = factor * mulayoff_threshold(hs, batch_size)
  return spectral_radius(second_moment_operator(hs, batch_size, eta))


def _measure(config, seeds):
  bs, fs = config["batch_sizes"], config["factors"]
  return [{"threshold": [mulayoff_threshold(hs, b) for b in bs],
           "radius": [[_radius(hs, b, f) for b in bs] for f in fs],
           "lambda_max_threshold": 2 / np.linalg.eigvalsh(hs.mean(0))[-1]}
          for hs in (_hessians(s, config) for s in seeds)]


def _plot(config, records, evaluation):
  fig, ((ax,),) = figures.new_figure()
  for j, color in enumerate(("measured", "alternative")):   # 0.9, 1.1 eta*
    radii = records["radius"][:, j]
    figures.intervals(ax, [str(b) for b in config["batch_sizes"]],
                      radii.mean(0), np.stack([radii.min(0), radii.max(0)], 1),
                      label=f"{config['factors'][j]} eta*_var",
                      offset=0.2 * j - 0.1, color=figures.PALETTE[color])
  figures.horizontal_reference(ax, 1.0, label="stability boundary")
  ax.set(xlabel="batch size B", title="Mean-square stability switches at "
         "eta*_var", ylabel=r"spectral radius of $E[(I-\eta H_B)^{\otimes 2}]$")
  ax.legend()
  return fig


_CITATION = PAPER.cite(
    "Theorem 3", "Threshold 2/lambda_max(C^+ D), p = (n-B)/(B(n-1)), C, D as "
    "in the shared references, which mark Theorem 3 and Proposition 1 [V] "
    "(checked against the paper). Version v1 assumed.", verified=True)
_RUNS = Experiment("mulayoff2023.exact_second_moment", lambda _: dict(_CONFIG),
                   _measure, seeds=64, quick_seeds=16)


def _claim(name, below, statement, measurement):
  """Below eta*: the largest radius over B; above: the smallest."""
  factor, op, latex_op = (0.9, "<=", r"\le") if below else (1.1, ">=", ">")
  def evaluate(config, records, alpha):
    del alpha  # exact computation per instance: the interval is the range
    radii, bs = records["radius"][:, 0 if below else 1], config["batch_sizes"]
    _, ci = theory.range_interval(radii.max(1) if below else radii.min(1))
    ratio = records["threshold"] / records["lambda_max_threshold"][:, None]
    return Evaluation(
        measured=ci[1] if below else ci[0], ci=ci,
        notes=f"{len(records)} random instances (d = {config['dim']}, n = "
        f"{config['num_examples']}); exact second-moment operator's spectral "
        f"radius at {factor} eta*_var, {'largest' if below else 'smallest'} "
        f"over B in {bs}. Median eta*_var / (2/lambda_max(H)) by B: "
        + ", ".join(f"B={b}: {m:.3f}" for b, m in zip(bs, np.median(ratio, 0)))
        + " (1 at B = n, as Proposition 1 states).")
  return Claim(
      id=f"mulayoff2023.{name}", paper=PAPER, statement=statement,
      measurement=measurement, bound=Bound(
          name=f"rho(M({factor} eta*_var)) {op} 1", expression=1,
          citation=_CITATION, statement_latex=rf"\eta {latex_op} \frac{{2}}"
          r"{\lambda_{\max}(C^\dagger D)} \Rightarrow \rho\big(\mathbb E[(I-"
          rf"\eta H_{{\mathcal B}})^{{\otimes 2}}]\big) {latex_op} 1"),
      relation=Relation.LE if below else Relation.GE, experiment=_RUNS,
      # An exact computation on each of the random instances (one per seed):
      # the interval is the range over them.
      evidence="all-instances", evaluate=evaluate, plot=_plot)


STABLE_BELOW = _claim(
    "stable_below_threshold", True, "At an interpolating minimum, SGD with "
    "batch size B is mean-square stable for eta below eta*_var = "
    "2/lambda_max(C^+ D).",
    "Spectral radius of the exact second-moment operator (all batches) at 0.9 "
    "eta*_var on random least squares, B in {1, 2, 4, n}; worst case.")
UNSTABLE_ABOVE = _claim(
    "unstable_above_threshold", False,
    "Above eta*_var the second moment of SGD's error diverges: the threshold "
    "is exact.", "Spectral radius of the same operator at 1.1 eta*_var; "
    "smallest over batch sizes and instances.")
CLAIMS = (STABLE_BELOW, UNSTABLE_ABOVE)


def example_figures(out_dir, quick: bool = True):
  """Spectral radius as a function of eta / eta*_var for one instance."""
  hs = _hessians(0, _CONFIG)
  factors = np.linspace(0.5, 1.5, 21 if quick else 51)
  data = {f"B={b}": [_radius(hs, b, f) for f in factors] for b in (1, 4, 12)}
  fig, ((ax,),) = figures.new_figure()
  ax.plot(factors, np.transpose(list(data.values())), label=list(data))
  ax.axhline(1.0, color=figures.PALETTE["bound"], linestyle="--")
  ax.set(xlabel="eta / eta*_var", ylabel="spectral radius")
  ax.legend()
  return [figures.save_figure(fig, out_dir / "mulayoff2023_radius.png",
                              data=data, config={"factors": list(factors)})[0]]
