r"""Ganesh, McMahan & Thakurta (PPML 2025): design principles for private adaptive optimizers.

On Design Principles for Private Adaptive Optimizers, arXiv 2507.01129 (v1).
Abstract [V]: aiming for unbiased second-moment estimates is misguided; the
*scale-then-privatize* technique (precondition, then clip and noise in the
preconditioned geometry) is better motivated and was best on a small
language-model task. The definition is read from ``jax_privacy``'s
implementation of the paper's Algorithm 8 [V, code]; the paper body was not
read, so the citation is ``verified=False``.

Check (shared references, S1): on a diagonal quadratic with curvatures
spanning :math:`10^4` and per-coordinate gradient-noise scales spanning
:math:`10^3` (:func:`boundlab.landscapes.ill_conditioned_quadratic`), at
equal noise multiplier z = 1 and clip norm C = 1, Adam with
scale-then-privatize should reach a lower loss than standard DP-Adam
(privatize-then-scale). Each method gets its best learning rate from one
shared grid, chosen by the median tail loss on half of the seeds; the
measured value is the mean over the other half of :math:`\log_{10}` of the
ratio of tail losses, which the claim says is below 0.
"""

from __future__ import annotations

import numpy as np

from boundlab import algorithms, landscapes
from boundlab.algorithms.private_adaptive import (privatize_then_scale_adam,
                                                  scale_then_privatize_adam)
from boundlab.claims import Bound, Claim, Experiment, Paper, Relation
from boundlab.experiments.tuned_comparison import TunedComparison

PAPER = Paper(
    key="ganesh2025",
    title="On Design Principles for Private Adaptive Optimizers",
    authors="A. Ganesh, H. B. McMahan, A. Thakurta", arxiv="2507.01129",
    version="v1", venue="PPML 2025")

METHODS = {"privatize_then_scale": privatize_then_scale_adam,
           "scale_then_privatize": scale_then_privatize_adam}


def _config(quick: bool) -> dict:
  return {"dim": 16, "condition_number": 1e4, "noise_scale_spread": 1e3,
          "clip_norm": 1.0, "noise_multiplier": 1.0, "batch_size": 32,
          "learning_rates": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1],
          "steps": 2_000 if quick else 8_000, "records": 40,
          "tail_fraction": 0.25}


def _measure(config, seeds):
  """Tail-averaged loss of each method at every grid learning rate."""
  land = landscapes.ill_conditioned_quadratic(
      config["dim"], config["condition_number"], config["noise_scale_spread"])
  out = [{"diverged_at": -1} for _ in seeds]
  start = int(round((1 - config["tail_fraction"]) * (config["records"] + 1)))
  for name, make in METHODS.items():
    result = algorithms.run(
        land, lambda key, lr, make=make: make(
            lr, config["clip_norm"], config["noise_multiplier"], key),
        list(seeds), steps=config["steps"],
        record_every=config["steps"] // config["records"],
        batch_size=config["batch_size"],
        metrics=lambda p, s: {"loss": land.objective(p)},
        hyperparams={"lr": config["learning_rates"]})
    for i, view in enumerate(result.seeds()):
      loss = view.metrics["loss"]                    # (rates, records)
      out[i][name] = {"score": loss[:, start:].mean(-1),
                      "initial": loss[0, 0],
                      "grid_diverged_at": view.diverged_at}
  return out


COMPARISON = TunedComparison(methods=tuple(METHODS), grid="learning_rates")

SCALE_THEN_PRIVATIZE = Claim(
    id="ganesh2025.scale_then_privatize_lower_loss", paper=PAPER,
    statement="At equal noise multiplier and clip norm, Adam with "
    "scale-then-privatize reaches a lower loss than privatize-then-scale "
    "(standard DP-Adam) on an ill-conditioned diagonal quadratic with "
    "heterogeneous per-coordinate gradient scales.",
    measurement="Mean over evaluation seeds of log10(tail loss ratio), each "
    "method at its best learning rate from a shared grid, chosen on other "
    "seeds; z = 1, C = 1, B = 32.",
    bound=Bound(
        name="log10(loss_STP / loss_PTS) <= 0", expression=0,
        statement_latex=r"\log_{10}\frac{f(x_T^{\mathrm{STP}}) - f^\star}"
        r"{f(x_T^{\mathrm{PTS}}) - f^\star} \le 0",
        citation=PAPER.cite(
            "Abstract; Algorithm 8 as implemented in jax_privacy",
            "The paper's thesis, tested on the shared references' synthetic "
            "check S1; the paper's own experiment is a small language model, "
            "not this quadratic.")),
    relation=Relation.LE,
    experiment=Experiment("ganesh2025.scale_then_privatize_lower_loss",
                          _config, _measure, seeds=16, quick_seeds=8),
    evaluate=COMPARISON.evaluate_log_ratio(
        "scale_then_privatize", "privatize_then_scale",
        notes=lambda config, records: (
            f"Tail: the last {config['tail_fraction']:g} of {config['records']}"
            f" records; initial loss "
            f"{np.median(records['privatize_then_scale']['initial']):.3g}; z "
            f"= {config['noise_multiplier']}, C = {config['clip_norm']}, B = "
            f"{config['batch_size']}, T = {config['steps']}.")),
    plot=COMPARISON.plot)

CLAIMS = (SCALE_THEN_PRIVATIZE,)
