r"""Pan & Li (2023): few sharp, large-gradient coordinates make SGD's direction sharp.

Toward Understanding Why Adam Converges Faster Than SGD for Transformers,
arXiv 2306.00204. Abstract [V]: "coordinate-wise clipping improves the local
loss reduction when only a small fraction of the coordinates has bad
sharpness". Directional sharpness :math:`v^\top H v/\|v\|^2` and the best
local loss change :math:`-\langle g, v\rangle^2 / (2 v^\top H v)` are computed
with boundlab's HVP toolkit.

Instances: diagonal quadratics in d = 100 with 1-3 sharp coordinates
(curvature 500-2000, gradient 20-80) and 97-99 flat ones (curvature 0.5-2,
gradient N(0, 1)): "a small fraction of coordinates with bad sharpness". The
paper's own experiments are on transformers; this is the toy that isolates its
mechanism (shared references, [D]). Hence ``verified=False``. The same
instances also race full-gradient GD, top-5%-clipped GD and signGD
(``optax.sign_sgd``), each at its best learning rate, for a fixed number of
steps: a per-instance :class:`~boundlab.experiments.tuned_comparison.
TunedComparison`, all instances and learning rates in one compiled run.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax

from boundlab import algorithms, figures, landscapes, theory
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)
from boundlab.experiments.tuned_comparison import TunedComparison

PAPER = Paper(
    key="pan2023",
    title="Toward Understanding Why Adam Converges Faster Than SGD for "
    "Transformers", authors="Y. Pan, Y. Li", arxiv="2306.00204", version="v1",
    venue="OPT 2022 workshop")

_DIRECTIONS = ("sgd", "clipped", "sign")


def _config(quick: bool) -> dict:
  return {"dim": 100, "max_sharp": 3, "clip_fraction": 0.05}


def _instance(seed: int, config):
  """Curvatures h, gradient g and number of sharp coordinates of one seed."""
  rng = np.random.default_rng(seed)
  d = config["dim"]
  k = int(rng.integers(1, config["max_sharp"] + 1))
  h = rng.uniform(0.5, 2.0, d)
  g = rng.standard_normal(d)
  h[:k] = rng.uniform(500.0, 2000.0, k)
  g[:k] = rng.uniform(20.0, 80.0, k) * rng.choice([-1.0, 1.0], k)
  return h, g, k


def _measure(config, seeds):
  # Three HVPs per instance, evaluated eagerly: no run loop to batch.
  records = []
  for seed in seeds:
    h, g, k = _instance(seed, config)
    landscape = landscapes.noisy_quadratic(landscapes.gaussian(config["dim"]),
                                           curvature=h)
    x = jnp.asarray(g / h)                 # the point where grad f = g
    grad = landscape.grad(x)
    clip = algorithms.coordinate_clip(config["clip_fraction"])
    directions = {"sgd": grad, "sign": jnp.sign(grad),
                  "clipped": clip.update(grad, clip.init(grad))[0]}
    records.append({"num_sharp": k, **{quantity: {
        name: float(estimate(landscape.objective, x, directions[name]))
        for name in _DIRECTIONS} for quantity, estimate in (
            ("sharpness", theory.directional_sharpness),
            ("loss_change", theory.best_local_loss_change))}})
  return records


def _range_evaluate(quantity, label, worst, worst_label):
  """``evaluate`` of the clipped/SGD ratio of ``quantity`` at its ``worst``
  end (0: smallest, 1: largest); deterministic per instance, so the interval
  is the range over instances."""

  def evaluate(config, records, alpha):
    del alpha
    values = records[quantity]
    _, ci = theory.range_interval(values["clipped"] / values["sgd"])
    return Evaluation(
        measured=ci[worst], ci=ci,
        notes=f"{len(records)} random instances; {label}: SGD median "
        f"{np.median(values['sgd']):.4g}, clipped (top "
        f"{config['clip_fraction']:g}) {np.median(values['clipped']):.4g}, "
        f"sign {np.median(values['sign']):.4g}; {worst_label} "
        f"{ci[worst]:.3g}.")

  return evaluate


def _plot(config, records, evaluation):
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  for ax, quantity, sign, title in (
      (axes[0, 0], "sharpness", 1, "directional sharpness"),
      (axes[0, 1], "loss_change", -1, "best local loss reduction")):
    values = [sign * records[quantity][n] for n in _DIRECTIONS]
    ax.boxplot(values, tick_labels=_DIRECTIONS)
    for j, (v, color) in enumerate(zip(values, ("alternative", "measured",
                                                "reference"))):
      ax.scatter(np.full(len(v), j + 1.0), v, s=6, alpha=0.5,
                 color=figures.PALETTE[color])
    ax.set(yscale="log", title=title)
  return fig


def _race_config(quick: bool) -> dict:
  # One shared learning-rate grid wide enough that every method's best
  # value is interior (GD is stable below 2/2000 = 1e-3, the clipped and
  # sign methods up to O(1)); the best-tuned run of each method is compared.
  return {**_config(quick), "steps": 300 if quick else 1000,
          "learning_rates": np.geomspace(1e-4, 10.0, 31).tolist()}


def _quadratic(args) -> landscapes.Landscape:
  """One instance, 0.5 sum_i h_i x_i^2 as a one-example finite sum, started
  at x0 = g / h: its exact gradient is h x."""
  return landscapes.finite_sum(
      name="diagonal_quadratic", init=lambda key: args["x0"],
      loss=lambda x, example: 0.5 * jnp.sum(example["h"] * x**2),
      data={"h": args["h"][None]}, constants={})


RACE = TunedComparison(methods=("gd", "clipped", "sign"),
                       grid="learning_rates", score="final_loss",
                       per_seed=True)


def _race_measure(config, seeds):
  """Loss after ``steps`` full-gradient steps at every grid learning rate."""
  instances = [_instance(seed, config) for seed in seeds]
  h, g = (np.array([x[i] for x in instances]) for i in (0, 1))
  clip = algorithms.coordinate_clip(config["clip_fraction"])
  racers = {"gd": optax.sgd, "sign": optax.sign_sgd,
            "clipped": lambda lr: optax.chain(clip, optax.sgd(lr))}
  records = [{"num_sharp": k, "initial_loss": float(0.5 * np.sum(gi**2 / hi))}
             for hi, gi, k in instances]
  for name in RACE.methods:
    result = algorithms.run(
        _quadratic, lambda key, lr, name=name: algorithms.with_mean_gradient(
            racers[name](lr)), seeds, steps=config["steps"],
        record_every=config["steps"], args={"h": h, "x0": g / h},
        metrics=lambda x, state, args: {
            "loss": 0.5 * jnp.sum(args["h"] * x**2)},
        hyperparams={"lr": config["learning_rates"]})
    final = result.metrics["loss"][..., -1]                 # (rates, seeds)
    final = np.where(np.isfinite(final), final, np.inf)     # diverged: +inf
    for i, record in enumerate(records):
      record[name] = {"final_loss": final[:, i],
                      "grid_diverged_at": result.diverged_at[:, i]}
  return records


def _race_notes(config, records) -> str:
  best = {m: RACE.tuned(records, m) for m in RACE.methods}
  return (f"{config['steps']} full-gradient steps; log10 floored at float64's "
          "tiny (converged losses compare as a factor). Median best loss, "
          "instances with the best rate at the grid edge: " + ", ".join(
              f"{m} {np.median(t.values):.3g}, {int(np.sum(t.at_edge))}"
              for m, t in best.items())
          + f" (initial loss {np.median(records['initial_loss']):.3g}).")


def _race_plot(config, records, evaluation):
  fig = RACE.plot(config, records, evaluation)
  # Diverging runs pass ~1e300 before overflowing, which defeats log-scale
  # autoscaling: show from the smallest median loss to the initial one.
  medians = np.concatenate([np.median(records[m]["final_loss"], axis=0)
                            for m in RACE.methods])
  fig.axes[0].set_ylim(max(medians.min(), np.finfo(float).tiny) / 10,
                       10 * np.max(records["initial_loss"]))
  return fig


_CITATION = PAPER.cite(
    "Abstract; directional sharpness (Section 3, number unverified)",
    "Statement read in the abstract [V]; clipping rule from the authors' "
    "code [V, shared references]; the instance family is ours [D].")

INSTANCES = Experiment("pan2023.sharp_coordinate_instances", _config,
                       _measure, seeds=256, quick_seeds=64)

CLIPPING_LOWERS_SHARPNESS = Claim(
    id="pan2023.clipping_lowers_directional_sharpness", paper=PAPER,
    statement="When a few coordinates are both sharp and large-gradient, "
    "coordinate-wise clipping makes the update direction much less sharp than "
    "SGD's.",
    measurement="Directional sharpness of the top-5%-clipped gradient over "
    "that of the gradient, on random diagonal quadratics (d = 100, 1-3 sharp "
    "coordinates); worst instance.",
    bound=Bound(name="sharpness(clipped) / sharpness(SGD) < 1", expression=1,
                statement_latex=r"\frac{\tilde g^\top H\tilde g}"
                r"{\|\tilde g\|^2} < \frac{g^\top H g}{\|g\|^2}",
                citation=_CITATION),
    relation=Relation.LE, experiment=INSTANCES, plot=_plot,
    evaluate=_range_evaluate("sharpness", "directional sharpness", 1,
                             "worst clipped/SGD ratio"))

CLIPPING_IMPROVES_LOSS = Claim(
    id="pan2023.clipping_improves_local_loss_change", paper=PAPER,
    statement="Coordinate-wise clipping improves the best local loss reduction "
    "along the update when only a small fraction of coordinates has bad "
    "sharpness.",
    measurement="Best local loss change along the clipped direction over that "
    "along the gradient (both negative; ratio > 1 is an improvement), same "
    "instances; worst instance.",
    bound=Bound(name="DeltaL(clipped) / DeltaL(SGD) >= 1", expression=1,
                statement_latex=r"\frac{\langle g,\tilde g\rangle^2}"
                r"{\tilde g^\top H \tilde g} \ge \frac{\|g\|^4}"
                r"{g^\top H g}", citation=_CITATION),
    relation=Relation.GE, experiment=INSTANCES, plot=_plot,
    evaluate=_range_evaluate("loss_change", "best local loss change", 0,
                             "smallest improvement factor clipped/SGD"))

CLIPPING_CONVERGES_FASTER = Claim(
    id="pan2023.clipping_converges_faster", paper=PAPER,
    statement="With a few sharp, large-gradient coordinates, coordinate-wise "
    "clipped gradient descent converges faster than gradient descent.",
    measurement="Loss after a fixed number of full-gradient steps on the same "
    "random diagonal quadratics, each method at its best learning rate from "
    "one shared grid; log10 ratio clipped/GD, worst instance.",
    bound=Bound(name="log10 L_T(clipped) / L_T(GD) <= 0", expression=0,
                statement_latex=r"\min_\eta L_T^{\mathrm{clip}}(\eta) "
                r"\le \min_\eta L_T^{\mathrm{GD}}(\eta)",
                citation=_CITATION),
    relation=Relation.LE,
    experiment=Experiment("pan2023.learning_rate_race", _race_config,
                          _race_measure, seeds=64, quick_seeds=16),
    evaluate=RACE.evaluate_log_ratio(
        "clipped", "gd", floor=np.finfo(float).tiny, notes=_race_notes),
    plot=_race_plot)

CLAIMS = (CLIPPING_LOWERS_SHARPNESS, CLIPPING_IMPROVES_LOSS,
          CLIPPING_CONVERGES_FASTER)


def example_figures(out_dir, quick: bool = True):
  """The shared references' worked toy: h0 = 1000, g0 = 50, 99 flat coords."""
  h, g = np.ones(100), np.ones(100)
  h[0], g[0] = 1000.0, 50.0
  landscape = landscapes.noisy_quadratic(landscapes.gaussian(100), curvature=h)
  x, grad = jnp.asarray(g / h), jnp.asarray(g)
  clip = algorithms.coordinate_clip(0.01)
  directions = {"sgd": grad, "clipped (top 1%)":
                clip.update(grad, clip.init(None))[0], "sign": jnp.sign(grad)}
  values = {name: tuple(float(f(landscape.objective, x, d)) for f in (
      theory.directional_sharpness, theory.best_local_loss_change))
            for name, d in directions.items()}
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  names = list(values)
  axes[0, 0].bar(names, [values[n][0] for n in names],
                 color=figures.PALETTE["measured"])
  axes[0, 0].set(yscale="log", title="directional sharpness")
  axes[0, 1].bar(names, [-values[n][1] for n in names],
                 color=figures.PALETTE["reference"])
  axes[0, 1].set_title("best local loss reduction")
  return [figures.save_figure(fig, out_dir / "pan2023_toy.png", data=values,
                              config={"h0": 1000.0, "g0": 50.0})[0]]
