r"""An outside paper module, as a researcher would write one (a test fixture).

Not one of boundlab's papers: the tests load it with ``--papers PATH`` and
through an installed entry point, to show that a claim written outside the
package is listed, run, cached and invalidated like a built-in one. The
statement is the textbook contraction of gradient descent on a quadratic,
:math:`f(x) = \frac1N\sum_i (x - a_i)^2/2` (L = mu = 1): from any start,
:math:`f(x_T) - f^\star = (1 - \eta)^{2T}(f(x_0) - f^\star)` exactly.
"""

import dataclasses

import jax
import optax
import sympy

from boundlab import algorithms, landscapes
from boundlab.claims import Bound, Claim, Evaluation, Experiment, Paper

PAPER = Paper(key="toy2026", title="A toy paper for boundlab's registry tests",
              authors="Test Fixture", arxiv="0000.00000", version="v1")

_eta, _steps = sympy.symbols("eta T", positive=True)


def _config(quick):
  return {"points": [-1.0, 0.5, 2.0], "learning_rate": 0.1,
          "steps": 50 if quick else 200}


def _measure(config, seeds):
  base = landscapes.mean_of_squares(config["points"])
  land = dataclasses.replace(base, init=lambda key: jax.random.uniform(
      key, (), minval=-5.0, maxval=5.0))
  result = algorithms.run(
      land, algorithms.with_mean_gradient(optax.sgd(config["learning_rate"])),
      seeds, steps=config["steps"], record_every=config["steps"],
      metrics=lambda p, s: {"gap": land.objective(p) - base.constants[
          "optimal_value"]})
  return [{"gap": view.metrics["gap"], "diverged_at": view.diverged_at}
          for view in result.seeds()]


def _evaluate(config, records, alpha):
  del alpha  # deterministic: the interval is the range over starts
  gap = records["gap"]
  ratio = gap[:, -1] / gap[:, 0]
  return Evaluation(measured=float(ratio.max()),
                    ci=(float(ratio.min()), float(ratio.max())),
                    notes=f"{len(records)} random starts; range of the ratio.")


CONTRACTION = Claim(
    id="toy2026.gd_contracts_on_a_quadratic", paper=PAPER,
    statement="GD with step eta on (1/N) sum_i (x - a_i)^2 / 2 contracts the "
    "optimality gap by exactly (1 - eta)^(2T) in T steps.",
    measurement="(f(x_T) - f*) / (f(x_0) - f*) from random starts.",
    bound=Bound(name="(1 - eta)^(2T)", expression=(1 - _eta) ** (2 * _steps),
                constants=lambda c: {"eta": c["learning_rate"],
                                     "T": c["steps"]},
                citation=PAPER.cite("Test fixture", "A textbook identity.")),
    relation="approx", tolerance=1e-9,
    tolerance_reason="float64 rounding over the run.",
    evidence="all-instances",   # deterministic GD, checked at every start
    experiment=Experiment("toy2026.gd_runs", _config, _measure, seeds=4,
                          quick_seeds=3),
    evaluate=_evaluate)

CLAIMS = (CONTRACTION,)
