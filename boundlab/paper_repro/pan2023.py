r"""Pan & Li (2023): few sharp, large-gradient coordinates make SGD's direction sharp.

Toward Understanding Why Adam Converges Faster Than SGD for Transformers,
arXiv 2306.00204. Abstract [V]: "coordinate-wise clipping improves the local
loss reduction when only a small fraction of the coordinates has bad
sharpness". Directional sharpness :math:`v^\top H v/\|v\|^2` and the best
local loss change :math:`-\langle g, v\rangle^2 / (2 v^\top H v)` by HVPs.

Instances: diagonal quadratics in d = 100 with 1-3 sharp coordinates
(curvature 500-2000, gradient 20-80) and 97-99 flat ones (curvature 0.5-2,
gradient N(0, 1)). The paper's own experiments are on transformers; this toy
isolates its mechanism (shared references, [D]), hence ``verified=False``.
The same instances race GD, top-5%-clipped GD and signGD at their best
learning rates (a per-instance ``TunedComparison``, one compiled run).

The two sharpness claims fit no family: exact quantities per instance.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax

from boundlab import algorithms, figures, landscapes, theory
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Records, Relation)
from boundlab.experiments.tuned_comparison import TunedComparison

PAPER = Paper(
    key="pan2023", title="Toward Understanding Why Adam Converges Faster Than "
    "SGD for Transformers", authors="Y. Pan, Y. Li", arxiv="2306.00204",
    version="v1", venue="OPT 2022 workshop")


def _config(quick: bool) -> dict:
  return {"dim": 100, "max_sharp": 3, "clip_fraction": 0.05}


def _instance(seed: int, config):
  """Curvatures h, gradient g and number of sharp coordinates of one seed."""
  rng, d = np.random.default_rng(seed), config["dim"]
  k = int(rng.integers(1, config["max_sharp"] + 1))
  h, g = rng.uniform(0.5, 2.0, d), rng.standard_normal(d)
  h[:k] = rng.uniform(500.0, 2000.0, k)
  g[:k] = rng.uniform(20.0, 80.0, k) * rng.choice([-1.0, 1.0], k)
  return h, g, k


def _quantities(h, g, clip_fraction) -> dict:
  """Both quantities at x = g / h along the gradient, clipped and signed."""
  landscape = landscapes.noisy_quadratic(landscapes.gaussian(len(h)),
                                         curvature=h)
  x = jnp.asarray(g / h)
  grad = landscape.grad(x)
  clip = algorithms.coordinate_clip(clip_fraction)
  directions = {"sgd": grad, "clipped": clip.update(grad, None)[0],
                "sign": jnp.sign(grad)}
  return {quantity: {name: float(estimate(landscape.objective, x, v))
                     for name, v in directions.items()}
          for quantity, estimate in (
              ("sharpness", theory.directional_sharpness),
              ("loss_change", theory.best_local_loss_change))}


def _measure(config, seeds):
  # Three HVPs per instance, evaluated eagerly: no run loop to batch.
  return [{"num_sharp": k, **_quantities(h, g, config["clip_fraction"])}
          for h, g, k in (_instance(seed, config) for seed in seeds)]


def _plot(config, records, evaluation):
  """Per direction, the median (bar) and every instance (dots)."""
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  for ax, (quantity, sign, title) in zip(axes[0], (
      ("sharpness", 1, "directional sharpness"),
      ("loss_change", -1, "best local loss reduction"))):
    for j, ((name, v), color) in enumerate(zip(
        records[quantity].items(), ("alternative", "measured", "reference"))):
      ax.bar(name, np.median(sign * v), color=figures.PALETTE[color], alpha=0.4)
      ax.scatter(np.full(len(v), j), sign * v, s=6, alpha=0.5,
                 color=figures.PALETTE[color])
    ax.set(yscale="log", title=title)
  return fig


_CITATION = PAPER.cite(
    "Abstract; directional sharpness (Section 3, number unverified)",
    "Statement read in the abstract [V]; clipping rule from the authors' "
    "code [V, shared references]; the instance family is ours [D].")

INSTANCES = Experiment("pan2023.sharp_coordinate_instances", _config,
                       _measure, seeds=256, quick_seeds=64)


def _instance_claim(quantity, worst, worst_label, relation, bound_name,
                    latex, **fields) -> Claim:
  """The clipped/SGD ratio of ``quantity`` at its ``worst`` end (0: smallest);
  deterministic instances, so the interval is the range over them."""

  def evaluate(config, records, alpha):
    del alpha
    values = records[quantity]
    _, ci = theory.range_interval(values["clipped"] / values["sgd"])
    return Evaluation(measured=ci[worst], ci=ci, notes=(
        f"{len(records)} random instances; medians of {quantity}: " + ", ".join(
            f"{name} {np.median(v):.4g}" for name, v in values.items())
        + f" (clipped: top {config['clip_fraction']:g}); {worst_label} "
        f"{ci[worst]:.3g}."))

  return Claim(paper=PAPER, relation=relation, experiment=INSTANCES,
               evaluate=evaluate, plot=_plot, evidence="all-instances",
               **fields, bound=Bound(
                   name=bound_name, expression=1, statement_latex=latex,
                   citation=_CITATION))


CLIPPING_LOWERS_SHARPNESS = _instance_claim(
    "sharpness", 1, "worst clipped/SGD ratio", Relation.LE,
    "sharpness(clipped) / sharpness(SGD) < 1", r"\frac{\tilde g^\top H\tilde "
    r"g}{\|\tilde g\|^2} < \frac{g^\top H g}{\|g\|^2}",
    id="pan2023.clipping_lowers_directional_sharpness",
    statement="When a few coordinates are both sharp and large-gradient, "
    "coordinate-wise clipping makes the update direction much less sharp than "
    "SGD's.",
    measurement="Directional sharpness of the top-5%-clipped gradient over "
    "the gradient's, random diagonal quadratics (d = 100, 1-3 sharp); worst.")

CLIPPING_IMPROVES_LOSS = _instance_claim(
    "loss_change", 0, "smallest improvement factor clipped/SGD", Relation.GE,
    "DeltaL(clipped) / DeltaL(SGD) >= 1", r"\frac{\langle g,\tilde g\rangle^2}"
    r"{\tilde g^\top H \tilde g} \ge \frac{\|g\|^4}{g^\top H g}",
    id="pan2023.clipping_improves_local_loss_change",
    statement="Coordinate-wise clipping improves the best local loss reduction "
    "along the update when only a small fraction of coordinates has bad "
    "sharpness.",
    measurement="Best local loss change along the clipped direction over the "
    "gradient's (both negative: ratio > 1 improves), same instances; worst.")


def _race_config(quick: bool) -> dict:
  # One grid wide enough that every method's best rate is interior (GD is
  # stable below 2/2000 = 1e-3, the clipped and sign methods up to O(1)).
  return {**_config(quick), "steps": 300 if quick else 1000,
          "learning_rates": np.geomspace(1e-4, 10.0, 31).tolist()}


def _quadratic(args) -> landscapes.Landscape:
  """0.5 sum_i h_i x_i^2 as a one-example finite sum from x0 = g / h."""
  return landscapes.finite_sum(
      name="diagonal_quadratic", init=lambda key: args["x0"],
      loss=lambda x, example: 0.5 * jnp.sum(example["h"] * x**2),
      data={"h": args["h"][None]}, constants={})


def _race_measure(config, seeds):
  """Loss after ``steps`` full-gradient steps at every grid learning rate."""
  h, g, k = (np.array(x) for x in zip(*[_instance(s, config) for s in seeds]))
  clip = algorithms.coordinate_clip(config["clip_fraction"])
  racers = {"gd": optax.sgd, "sign": optax.sign_sgd,
            "clipped": lambda lr: optax.chain(clip, optax.sgd(lr))}
  records = [{"num_sharp": int(ki), "initial_loss": float(0.5 * np.sum(
      gi**2 / hi))} for hi, gi, ki in zip(h, g, k)]
  for name, racer in racers.items():
    result = algorithms.run(
        _quadratic, lambda key, lr, racer=racer: algorithms.with_mean_gradient(
            racer(lr)), seeds, steps=config["steps"],
        record_every=config["steps"], args={"h": h, "x0": g / h},
        metrics=lambda x, state, args: {
            "loss": 0.5 * jnp.sum(args["h"] * x**2)},
        hyperparams={"lr": config["learning_rates"]})
    for record, view in zip(records, result.seeds()):
      loss = view.metrics["loss"][:, -1]      # (rates,); diverged: +inf
      record[name] = {"final_loss": np.where(np.isfinite(loss), loss, np.inf),
                      "grid_diverged_at": view.diverged_at}
  return records


RACE = TunedComparison(methods=("gd", "clipped", "sign"), per_seed=True,
                       grid="learning_rates", score="final_loss")

CLIPPING_CONVERGES_FASTER = Claim(
    id="pan2023.clipping_converges_faster", paper=PAPER,
    statement="With a few sharp, large-gradient coordinates, coordinate-wise "
    "clipped gradient descent converges faster than gradient descent.",
    measurement="Loss after T full-gradient steps on the same instances, each "
    "method at its best rate of one grid; log10 ratio clipped/GD, worst one.",
    bound=Bound(name="log10 L_T(clipped) / L_T(GD) <= 0", expression=0,
                statement_latex=r"\min_\eta L_T^{\mathrm{clip}}(\eta) "
                r"\le \min_\eta L_T^{\mathrm{GD}}(\eta)", citation=_CITATION),
    relation=Relation.LE,
    # Deterministic full-gradient races, one random instance per seed
    # (per_seed=True): the interval is the range over instances.
    evidence="all-instances",
    experiment=Experiment("pan2023.learning_rate_race", _race_config,
                          _race_measure, seeds=64, quick_seeds=16),
    evaluate=RACE.evaluate_log_ratio(
        "clipped", "gd", floor=np.finfo(float).tiny,
        notes=lambda config, records: (
            f"{config['steps']} full-gradient steps; log10 floored at "
            "float64's tiny (converged losses compare as a factor); median "
            f"initial loss {np.median(records['initial_loss']):.3g}.")),
    plot=RACE.plot)

CLAIMS = (CLIPPING_LOWERS_SHARPNESS, CLIPPING_IMPROVES_LOSS,
          CLIPPING_CONVERGES_FASTER)


def example_figures(out_dir, quick: bool = True):
  """The shared references' worked toy: h0 = 1000, g0 = 50, 99 flat coords
  (the clipped direction keeps the top 1%)."""
  values = _quantities(np.r_[1000.0, np.ones(99)], np.r_[50.0, np.ones(99)],
                       0.01)
  return [figures.save_figure(
      _plot(None, Records([values]), None), out_dir / "pan2023_toy.png",
      data=values, config={"h0": 1000.0, "g0": 50.0, "clip_fraction": 0.01})[0]]
