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
steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import sympy

from boundlab import algorithms, figures, landscapes, theory
from boundlab.theory import Relation

PAPER = theory.Paper(
    key="pan2023",
    title="Toward Understanding Why Adam Converges Faster Than SGD for "
    "Transformers", authors="Y. Pan, Y. Li", arxiv="2306.00204", version="v1",
    venue="OPT 2022 workshop")

_DIRECTIONS = ("sgd", "clipped", "sign")


def _config(quick: bool) -> dict:
  return {"dim": 100, "max_sharp": 3, "clip_fraction": 0.05}


def _instance(seed: int, config):
  rng = np.random.default_rng(seed)
  d = config["dim"]
  k = int(rng.integers(1, config["max_sharp"] + 1))
  h = rng.uniform(0.5, 2.0, d)
  g = rng.standard_normal(d)
  h[:k] = rng.uniform(500.0, 2000.0, k)
  g[:k] = rng.uniform(20.0, 80.0, k) * rng.choice([-1.0, 1.0], k)
  return h, g, k


def _measure(config, seeds):
  records = []
  for seed in seeds:
    h, g, k = _instance(seed, config)
    landscape = landscapes.noisy_quadratic(landscapes.gaussian(config["dim"]),
                                           curvature=h)
    x = jnp.asarray(g / h)                 # the point where grad f = g
    grad = landscape.grad(x)
    clip = algorithms.coordinate_clip(config["clip_fraction"])
    directions = {"sgd": grad,
                  "clipped": clip.update(grad, clip.init(grad))[0],
                  "sign": jnp.sign(grad)}
    row = {"num_sharp": k}
    for name, direction in directions.items():
      row[f"{name}_sharpness"] = float(theory.directional_sharpness(
          landscape.objective, x, direction))
      row[f"{name}_loss_change"] = float(theory.best_local_loss_change(
          landscape.objective, x, direction))
    records.append(row)
  return records


def _arrays(records, key):
  return {name: np.array([r[f"{name}_{key}"] for r in records])
          for name in _DIRECTIONS}


def _sharpness_evaluate(config, records, alpha):
  del alpha  # deterministic per instance: the interval is the range
  s = _arrays(records, "sharpness")
  ratio = s["clipped"] / s["sgd"]
  measured, ci = theory.range_interval(ratio)
  return theory.Evaluation(
      measured=ci[1], ci=ci, bound=1.0,
      notes=f"{len(records)} random instances; directional sharpness: SGD "
      f"median {np.median(s['sgd']):.4g}, clipped (top "
      f"{config['clip_fraction']:g}) {np.median(s['clipped']):.4g}, sign "
      f"{np.median(s['sign']):.4g}; worst clipped/SGD ratio {ci[1]:.3g}.")


def _loss_change_evaluate(config, records, alpha):
  del alpha
  dl = _arrays(records, "loss_change")
  gain = dl["clipped"] / dl["sgd"]          # both negative: > 1 is better
  measured, ci = theory.range_interval(gain)
  return theory.Evaluation(
      measured=ci[0], ci=ci, bound=1.0,
      notes=f"{len(records)} random instances; best local loss change: SGD "
      f"median {np.median(dl['sgd']):.4g}, clipped "
      f"{np.median(dl['clipped']):.4g}, sign {np.median(dl['sign']):.4g}; "
      f"smallest improvement factor clipped/SGD {ci[0]:.3g}.")


def _plot(config, records, evaluation):
  s = _arrays(records, "sharpness")
  dl = _arrays(records, "loss_change")
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  colors = (figures.PALETTE["alternative"], figures.PALETTE["measured"],
            figures.PALETTE["reference"])
  for ax, values, label in ((axes[0, 0], s, "directional sharpness"),
                            (axes[0, 1], {k: -x for k, x in dl.items()},
                             "best local loss reduction")):
    ax.boxplot([values[n] for n in _DIRECTIONS], tick_labels=_DIRECTIONS)
    for j, (name, color) in enumerate(zip(_DIRECTIONS, colors)):
      ax.scatter(np.full(len(values[name]), j + 1.0), values[name], s=6,
                 color=color, alpha=0.5)
    ax.set_yscale("log")
    ax.set_title(label)
  return fig


def _race_config(quick: bool) -> dict:
  # One shared learning-rate grid wide enough that every method's best
  # value is interior (GD is stable below 2/2000 = 1e-3, the clipped and
  # sign methods up to O(1)); the best-tuned run of each method is compared.
  return {"dim": 100, "max_sharp": 3, "clip_fraction": 0.05,
          "steps": 300 if quick else 1000,
          "learning_rates": np.geomspace(1e-4, 10.0, 31).tolist()}


_RACERS = {
    "gd": lambda config, lr: optax.sgd(lr),
    "clipped": lambda config, lr: optax.chain(
        algorithms.coordinate_clip(config["clip_fraction"]), optax.sgd(lr)),
    "sign": lambda config, lr: optax.sign_sgd(lr),
}


def _final_losses(config, h, x0, make):
  """Loss after ``steps`` full-gradient steps, for every grid learning rate."""
  landscape = landscapes.noisy_quadratic(landscapes.gaussian(config["dim"]),
                                         curvature=h)
  objective = landscape.objective

  def final(lr):
    opt = make(config, lr)

    def step(carry, _):
      x, state = carry
      updates, state = opt.update(jax.grad(objective)(x), state, x)
      return (optax.apply_updates(x, updates), state), None

    x, _ = jax.lax.scan(step, (x0, opt.init(x0)), None,
                        length=config["steps"])[0]
    return objective(x)

  losses = np.asarray(jax.jit(jax.vmap(final))(
      jnp.asarray(config["learning_rates"])))
  return np.where(np.isfinite(losses), losses, np.inf)   # diverged: +inf


def _measure_race(config, seeds):
  records = []
  for seed in seeds:
    h, g, k = _instance(seed, config)
    x0 = jnp.asarray(g / h)
    row = {"num_sharp": k, "initial_loss": float(0.5 * np.sum(g**2 / h))}
    for name, make in _RACERS.items():
      losses = _final_losses(config, h, x0, make)
      best = int(np.argmin(losses))
      row[name] = {"best_loss": float(losses[best]),
                   "best_learning_rate": config["learning_rates"][best],
                   "best_at_grid_edge": best in (0, len(losses) - 1),
                   "losses": [float(x) if np.isfinite(x) else None
                              for x in losses]}
    records.append(row)
  return records


def _race_evaluate(config, records, alpha):
  del alpha  # deterministic per instance: the interval is the range
  best = {n: np.array([r[n]["best_loss"] for r in records]) for n in _RACERS}
  # Compare in log10 so that 1e-30 vs 1e-31 (both converged) reads as a
  # factor, not as 0 vs 0; a floor at float64's tiny avoids log(0).
  tiny = np.finfo(float).tiny
  log_ratio = (np.log10(np.maximum(best["clipped"], tiny))
               - np.log10(np.maximum(best["gd"], tiny)))
  _, ci = theory.range_interval(log_ratio)
  edges = {n: sum(r[n]["best_at_grid_edge"] for r in records) for n in _RACERS}
  return theory.Evaluation(
      measured=ci[1], ci=ci, bound=0.0,
      notes=f"log10(best loss clipped / best loss GD) after {config['steps']} "
      f"steps, each method at its best of {len(config['learning_rates'])} "
      f"learning rates in [1e-4, 10]; range over {len(records)} instances. "
      f"Median best loss: GD {np.median(best['gd']):.3g}, clipped "
      f"{np.median(best['clipped']):.3g}, sign {np.median(best['sign']):.3g} "
      f"(initial {np.median([r['initial_loss'] for r in records]):.3g}). "
      f"Best learning rate at the grid edge: {edges}.")


def _plot_race(config, records, evaluation):
  lrs = np.asarray(config["learning_rates"])
  fig, axes = figures.new_figure()
  ax = axes[0, 0]
  colors = {"gd": figures.PALETTE["alternative"],
            "clipped": figures.PALETTE["measured"],
            "sign": figures.PALETTE["reference"]}
  for name in _RACERS:
    losses = np.array([[np.inf if x is None else x for x in r[name]["losses"]]
                       for r in records])
    finite = np.isfinite(losses)
    # Learning rates where every instance diverged are left out of the line.
    median = np.array([np.median(col[ok]) if ok.any() else np.nan
                       for col, ok in zip(losses.T, finite.T)])
    ax.plot(lrs, median, "o-", markersize=3, color=colors[name], label=name)
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("learning rate")
  ax.set_ylabel(f"loss after {config['steps']} steps (median)")
  ax.set_title("few sharp coordinates: learning-rate sweep")
  ax.legend()
  return fig


_CITATION = theory.Citation(
    arxiv=PAPER.arxiv, version=PAPER.version,
    where="Abstract; directional sharpness (Section 3, number unverified)",
    verified=False,
    note="Statement read in the abstract [V]; clipping rule from the authors' "
    "code [V, shared references]; the instance family is ours [D].")

_EXPERIMENT = "pan2023.sharp_coordinate_instances"

CLIPPING_LOWERS_SHARPNESS = theory.Claim(
    id="pan2023.clipping_lowers_directional_sharpness", paper=PAPER,
    statement="When a few coordinates are both sharp and large-gradient, "
    "coordinate-wise clipping makes the update direction much less sharp than "
    "SGD's.",
    measurement="Directional sharpness of the top-5%-clipped gradient over "
    "that of the gradient, on random diagonal quadratics (d = 100, 1-3 sharp "
    "coordinates); worst instance.",
    bound=theory.Bound(name="sharpness(clipped) / sharpness(SGD) < 1",
                       expression=sympy.Integer(1),
                       statement_latex=r"\frac{\tilde g^\top H\tilde g}"
                       r"{\|\tilde g\|^2} < \frac{g^\top H g}{\|g\|^2}",
                       citation=_CITATION),
    relation=Relation.LE, config=_config, measure=_measure,
    evaluate=_sharpness_evaluate, plot=_plot, seeds=256, quick_seeds=64,
    experiment=_EXPERIMENT)

CLIPPING_IMPROVES_LOSS = theory.Claim(
    id="pan2023.clipping_improves_local_loss_change", paper=PAPER,
    statement="Coordinate-wise clipping improves the best local loss reduction "
    "along the update when only a small fraction of coordinates has bad "
    "sharpness.",
    measurement="Best local loss change along the clipped direction over that "
    "along the gradient (both negative; ratio > 1 is an improvement), same "
    "instances; worst instance.",
    bound=theory.Bound(name="DeltaL(clipped) / DeltaL(SGD) >= 1",
                       expression=sympy.Integer(1),
                       statement_latex=r"\frac{\langle g,\tilde g\rangle^2}"
                       r"{\tilde g^\top H \tilde g} \ge \frac{\|g\|^4}"
                       r"{g^\top H g}", citation=_CITATION),
    relation=Relation.GE, config=_config, measure=_measure,
    evaluate=_loss_change_evaluate, plot=_plot, seeds=256, quick_seeds=64,
    experiment=_EXPERIMENT)

CLIPPING_CONVERGES_FASTER = theory.Claim(
    id="pan2023.clipping_converges_faster", paper=PAPER,
    statement="With a few sharp, large-gradient coordinates, coordinate-wise "
    "clipped gradient descent converges faster than gradient descent.",
    measurement="Loss after a fixed number of full-gradient steps on the same "
    "random diagonal quadratics, each method at its best learning rate from "
    "one shared grid; log10 ratio clipped/GD, worst instance.",
    bound=theory.Bound(name="log10 L_T(clipped) / L_T(GD) <= 0",
                       expression=sympy.Integer(0),
                       statement_latex=r"\min_\eta L_T^{\mathrm{clip}}(\eta) "
                       r"\le \min_\eta L_T^{\mathrm{GD}}(\eta)",
                       citation=_CITATION),
    relation=Relation.LE, config=_race_config, measure=_measure_race,
    evaluate=_race_evaluate, plot=_plot_race, seeds=64, quick_seeds=16,
    experiment="pan2023.learning_rate_race")

CLAIMS = (CLIPPING_LOWERS_SHARPNESS, CLIPPING_IMPROVES_LOSS,
          CLIPPING_CONVERGES_FASTER)


def example_figures(out_dir, quick: bool = True):
  """The shared references' worked toy: h0 = 1000, g0 = 50, 99 flat coords."""
  h = np.ones(100)
  h[0] = 1000.0
  g = np.ones(100)
  g[0] = 50.0
  landscape = landscapes.noisy_quadratic(landscapes.gaussian(100), curvature=h)
  x = jnp.asarray(g / h)
  clip = algorithms.coordinate_clip(0.01)
  directions = {"sgd": jnp.asarray(g), "clipped (top 1%)":
                clip.update(jnp.asarray(g), clip.init(None))[0],
                "sign": jnp.sign(jnp.asarray(g))}
  values = {name: (float(theory.directional_sharpness(landscape.objective, x,
                                                      d)),
                   float(theory.best_local_loss_change(landscape.objective, x,
                                                       d)))
            for name, d in directions.items()}
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  names = list(values)
  axes[0, 0].bar(names, [values[n][0] for n in names],
                 color=figures.PALETTE["measured"])
  axes[0, 0].set_yscale("log")
  axes[0, 0].set_title("directional sharpness")
  axes[0, 1].bar(names, [-values[n][1] for n in names],
                 color=figures.PALETTE["reference"])
  axes[0, 1].set_title("best local loss reduction")
  return [figures.save_figure(fig, out_dir / "pan2023_toy.png", data=values,
                              config={"h0": 1000.0, "g0": 50.0})[0]]
