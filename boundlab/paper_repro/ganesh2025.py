r"""Ganesh, McMahan & Thakurta (PPML 2025): design principles for private adaptive optimizers.

On Design Principles for Private Adaptive Optimizers, arXiv 2507.01129 (v1).
Abstract [V]: aiming for unbiased second-moment estimates is misguided; the
*scale-then-privatize* technique (precondition, then clip and noise in the
preconditioned geometry) is better motivated and was best on a small
language-model task. The definition is read from ``jax_privacy``'s
implementation of the paper's Algorithm 8 [V, code]; the paper body was not
read, so the citation is ``verified=False``. Check (shared references, S1):
a diagonal quadratic with curvatures spanning :math:`10^4` and per-coordinate
gradient-noise scales spanning :math:`10^3`
(:func:`boundlab.landscapes.ill_conditioned_quadratic`).
"""

from __future__ import annotations

import numpy as np

from boundlab import algorithms, landscapes
from boundlab.algorithms import private_adaptive
from boundlab.claims import Bound, Claim, Experiment, Paper, Relation
from boundlab.experiments.tuned_comparison import TunedComparison

PAPER = Paper(
    key="ganesh2025", title="On Design Principles for Private Adaptive "
    "Optimizers", authors="A. Ganesh, H. B. McMahan, A. Thakurta",
    arxiv="2507.01129", version="v1", venue="PPML 2025")

METHODS = {"privatize_then_scale": private_adaptive.privatize_then_scale_adam,
           "scale_then_privatize": private_adaptive.scale_then_privatize_adam}


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
  start = int(round((1 - config["tail_fraction"]) * (config["records"] + 1)))
  out = [{"diverged_at": -1} for _ in seeds]
  for name, make in METHODS.items():
    result = algorithms.run(
        land, lambda key, lr, make=make: make(
            lr, config["clip_norm"], config["noise_multiplier"], key),
        list(seeds), steps=config["steps"], batch_size=config["batch_size"],
        record_every=config["steps"] // config["records"],
        metrics=lambda p, s: {"loss": land.objective(p)},
        hyperparams={"lr": config["learning_rates"]})
    for record, view in zip(out, result.seeds()):
      loss = view.metrics["loss"]                    # (rates, records)
      record[name] = {"score": loss[:, start:].mean(-1), "initial": loss[0, 0],
                      "grid_diverged_at": view.diverged_at}
  return out


COMPARISON = TunedComparison(methods=tuple(METHODS), grid="learning_rates",
                             score_label="tail loss")

SCALE_THEN_PRIVATIZE = Claim(
    id="ganesh2025.scale_then_privatize_lower_loss", paper=PAPER,
    statement="At equal noise multiplier and clip norm, Adam with "
    "scale-then-privatize reaches a lower loss than privatize-then-scale "
    "(standard DP-Adam) on an ill-conditioned diagonal quadratic with "
    "heterogeneous per-coordinate gradient scales.",
    measurement="log10 tail-loss ratio STP / PTS, each at its best learning "
    "rate of one grid (chosen on other seeds); seed mean; z = C = 1, B = 32.",
    bound=Bound(
        name="log10(loss_STP / loss_PTS) <= 0", expression=0,
        statement_latex=r"\log_{10}\frac{f(x_T^{\mathrm{STP}}) - f^\star}"
        r"{f(x_T^{\mathrm{PTS}}) - f^\star} \le 0",
        citation=PAPER.cite(
            "Abstract; Algorithm 8 as implemented in jax_privacy",
            "The paper's thesis, on the shared references' synthetic check "
            "S1; its own experiment is a small language model, not this one.")),
    relation=Relation.LE,
    # A Student-t interval over evaluation seeds at level 1 - alpha.
    evidence="statistical",
    experiment=Experiment("ganesh2025.scale_then_privatize_lower_loss",
                          _config, _measure, seeds=16, quick_seeds=8),
    evaluate=COMPARISON.evaluate_log_ratio(
        "scale_then_privatize", "privatize_then_scale",
        notes=lambda config, records: (
            f"Tail: the last {config['tail_fraction']:g} of {config['records']}"
            f" records, T = {config['steps']}; initial loss "
            f"{np.median(records['privatize_then_scale']['initial']):.3g}.")),
    plot=COMPARISON.plot)

CLAIMS = (SCALE_THEN_PRIVATIZE,)
