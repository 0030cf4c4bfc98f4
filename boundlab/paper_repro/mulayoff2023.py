r"""Mulayoff & Michaeli (2023): the exact mean-square stability threshold.

Exact Mean Square Linear Stability Analysis for SGD, arXiv 2306.07850.
Theorem 3 [V per shared references]: at an interpolating minimum, SGD with
batch size B is mean-square linearly stable iff
:math:`\eta \le \eta^\star_{\rm var} = 2/\lambda_{\max}(C^\dagger D)`.

Checked on random least-squares problems at interpolation (linear model, so
the linearisation is exact; :math:`H_i = x_i x_i^\top`, d = 6, n = 12): the
second-moment operator, built by brute force over all batches, has spectral
radius below 1 at 0.9 eta* and above 1 at 1.1 eta*, for B in {1, 2, 4, 12}.
Mean-square stability is a statement about an expectation; sampled runs
estimate it with heavy tails, so the check uses the exact expectation over
batches (in numpy, one instance per seed) instead of simulated trajectories.
"""

from __future__ import annotations

import numpy as np

from boundlab import figures, theory
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)
from boundlab.theory import linear_stability

PAPER = Paper(
    key="mulayoff2023",
    title="Exact Mean Square Linear Stability Analysis for SGD",
    authors="R. Mulayoff, T. Michaeli", arxiv="2306.07850", version="v1",
    venue="COLT 2024")


def _config(quick: bool) -> dict:
  return {"dim": 6, "num_examples": 12, "batch_sizes": [1, 2, 4, 12],
          "factors": [0.9, 1.1]}


def _radius(hs, batch_size, eta):
  return linear_stability.spectral_radius(
      linear_stability.second_moment_operator(hs, batch_size, eta))


def _measure(config, seeds):
  records = []
  for seed in seeds:
    x = np.random.default_rng(seed).standard_normal(
        (config["num_examples"], config["dim"]))
    hs = np.einsum("ni,nj->nij", x, x)
    etas = [linear_stability.mulayoff_threshold(hs, b)
            for b in config["batch_sizes"]]
    below, above = ([_radius(hs, b, f * eta) for b, eta in
                     zip(config["batch_sizes"], etas)]
                    for f in config["factors"])
    records.append({"threshold": etas, "radius_below": below,
                    "radius_above": above, "lambda_max_threshold":
                    2 / np.linalg.eigvalsh(hs.mean(0))[-1]})
  return records


def _evaluate(side):
  """``evaluate`` of the largest (below eta*) or smallest (above) spectral
  radius over batch sizes, range over instances."""

  def evaluate(config, records, alpha):
    del alpha  # exact computation per instance: the interval is the range
    below = side == "below"
    radii = records[f"radius_{side}"]
    _, ci = theory.range_interval(radii.max(1) if below else radii.min(1))
    ratio = records["threshold"] / records["lambda_max_threshold"][:, None]
    lead = (f"{len(records)} random instances (d = {config['dim']}, n = "
            f"{config['num_examples']}); spectral radius of the exact "
            f"second-moment operator at {config['factors'][0]} eta*_var, "
            f"worst over B in {config['batch_sizes']}." if below else
            f"Same instances; spectral radius at {config['factors'][1]} "
            "eta*_var, smallest over batch sizes.")
    return Evaluation(
        measured=ci[1] if below else ci[0], ci=ci,
        notes=f"{lead} Median eta*_var / (2/lambda_max(H)) by B: " + ", ".join(
            f"B={b}: {m:.3f}" for b, m in zip(config["batch_sizes"],
                                              np.median(ratio, axis=0)))
        + " (1 at B = n, as Proposition 1 states).")
  return evaluate


def _plot(config, records, evaluation):
  fig, axes = figures.new_figure()
  ax = axes[0, 0]
  for side, factor, color, offset in zip(
      ("below", "above"), config["factors"],
      (figures.PALETTE["measured"], figures.PALETTE["alternative"]),
      (-0.1, 0.1)):
    radii = records[f"radius_{side}"]
    figures.intervals(ax, [str(b) for b in config["batch_sizes"]],
                      radii.mean(0), np.stack([radii.min(0), radii.max(0)], 1),
                      label=f"{factor} eta*_var", color=color, offset=offset)
  figures.horizontal_reference(ax, 1.0, label="stability boundary")
  ax.set(xlabel="batch size B",
         ylabel="spectral radius of E[(I - eta H_B) (x) (I - eta H_B)]",
         title="Mean-square stability switches at eta*_var")
  ax.legend()
  return fig


_CITATION = PAPER.cite(
    "Theorem 3", "Threshold 2/lambda_max(C^+ D) with p = (n-B)/(B(n-1)), C "
    "and D as in the shared references, which mark Theorem 3 and "
    "Proposition 1 [V] (checked against the paper). Version number assumed "
    "v1.", verified=True)
_RUNS = Experiment("mulayoff2023.exact_second_moment", _config, _measure,
                   seeds=64, quick_seeds=16)
_RHO = (r"\Rightarrow \rho\big(\mathbb E[(I-\eta H_{\mathcal B})^{\otimes 2}]"
        r"\big)")

STABLE_BELOW = Claim(
    id="mulayoff2023.stable_below_threshold", paper=PAPER,
    statement="At an interpolating minimum, SGD with batch size B is "
    "mean-square stable for eta below eta*_var = 2/lambda_max(C^+ D).",
    measurement="Spectral radius of the exact second-moment operator "
    "(brute force over all batches) at 0.9 eta*_var, random least-squares "
    "instances, B in {1, 2, 4, n}; worst case.",
    bound=Bound(name="rho(M(0.9 eta*_var)) <= 1", expression=1,
                statement_latex=r"\eta \le \frac{2}{\lambda_{\max}(C^\dagger "
                r"D)} " + _RHO + r" \le 1", citation=_CITATION),
    relation=Relation.LE, experiment=_RUNS, evaluate=_evaluate("below"),
    plot=_plot)

UNSTABLE_ABOVE = Claim(
    id="mulayoff2023.unstable_above_threshold", paper=PAPER,
    statement="Above eta*_var the second moment of SGD's error diverges: the "
    "threshold is exact.",
    measurement="Spectral radius of the same operator at 1.1 eta*_var; "
    "smallest over batch sizes and instances.",
    bound=Bound(name="rho(M(1.1 eta*_var)) >= 1", expression=1,
                statement_latex=r"\eta > \frac{2}{\lambda_{\max}(C^\dagger "
                r"D)} " + _RHO + " > 1", citation=_CITATION),
    relation=Relation.GE, experiment=_RUNS, evaluate=_evaluate("above"),
    plot=_plot)

CLAIMS = (STABLE_BELOW, UNSTABLE_ABOVE)


def example_figures(out_dir, quick: bool = True):
  """Spectral radius as a function of eta / eta*_var for one instance."""
  x = np.random.default_rng(0).standard_normal((12, 6))
  hs = np.einsum("ni,nj->nij", x, x)
  factors = np.linspace(0.5, 1.5, 21 if quick else 51)
  fig, axes = figures.new_figure()
  ax = axes[0, 0]
  data = {}
  for b in (1, 4, 12):
    eta = linear_stability.mulayoff_threshold(hs, b)
    data[f"B={b}"] = [_radius(hs, b, f * eta) for f in factors]
    ax.plot(factors, data[f"B={b}"], label=f"B = {b}")
  ax.axhline(1.0, color=figures.PALETTE["bound"], linestyle="--")
  ax.axvline(1.0, color=figures.PALETTE["neutral"], linewidth=0.8)
  ax.set(xlabel="eta / eta*_var", ylabel="spectral radius")
  ax.legend()
  return [figures.save_figure(fig, out_dir / "mulayoff2023_radius.png",
                              data=data,
                              config={"factors": factors.tolist()})[0]]
