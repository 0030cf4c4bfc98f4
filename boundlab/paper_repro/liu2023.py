r"""Liu, Li, Hall, Liang & Ma (ICLR 2024): Sophia, clipped diagonal curvature.

Sophia: A Scalable Stochastic Second-order Optimizer for Language Model
Pre-training, arXiv 2305.14342. The update (paper v1 as recalled in the
shared references [R]; the later form and code [V])

.. math::
  \theta_{t+1} = \theta_t - \eta\,\operatorname{clip}\!\big(m_t /
  \max\{\gamma h_t, \epsilon\}, 1\big),

preconditions by a positive-part diagonal curvature estimate :math:`h_t` and
clips per coordinate, so negative curvature turns the step into a sign step
downhill. We run ``optax.contrib.sophia`` (no re-implementation), with the
curvature estimators of :mod:`boundlab.algorithms.hessian_diagonal`.

Claims:

* The 2-D toy of the paper's Figure 2 [R]: from starts where the sharp
  coordinate has negative curvature, Newton's method converges to the saddle
  (0, 4) while Sophia reaches the minimum (1, 4). The paper's start point, step
  sizes and step counts are not recorded [U]; the start box
  :math:`\theta_1 \in [0.02, 0.4]` is the part of Newton's basin of the saddle
  right of the maximum (found numerically, [D]); from :math:`\theta_1 < 0`
  Sophia's sign steps lead to the local minimum instead (example figure).
* Hutchinson's :math:`u \odot Hu` and Gauss-Newton-Bartlett's
  :math:`B\nabla\hat L\odot\nabla\hat L` are unbiased for diag(H) and
  diag(G): a two-sided z-test per coordinate, Bonferroni over all
  coordinates, estimators and parameter points, at the claim's declared
  false-fail rate.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import sympy
from jax.flatten_util import ravel_pytree

from boundlab import algorithms, figures, landscapes, theory
from boundlab.algorithms.hessian_diagonal import exact_hessian_diagonal
from boundlab.algorithms.newton import newton
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)
from boundlab.theory.gauss_newton import (gauss_newton_bartlett_diagonal,
                                          gauss_newton_diagonal)

PAPER = Paper(
    key="liu2023",
    title="Sophia: A Scalable Stochastic Second-order Optimizer for Language "
    "Model Pre-training", authors="H. Liu, Z. Li, D. Hall, P. Liang, T. Ma",
    arxiv="2305.14342", version="v1", venue="ICLR 2024")

def _toy_config(quick: bool) -> dict:
  # Step sizes of the shared references' numerical check [D]: Sophia 0.5 with
  # clip 1 on the exact diagonal (gamma = 1, eps = 1e-12, no momentum, so the
  # deterministic toy isolates the preconditioner), full Newton steps, GD
  # 0.01, SignGD 0.1. The claims are about endpoints, so 200 steps suffice
  # for geometric convergence to ~1e-30 (quick and full identical).
  del quick
  return {"init_low": 0.02, "init_high": 0.4, "steps": 200,
          "sophia_learning_rate": 0.5, "sophia_clip": 1.0, "sophia_eps": 1e-12,
          "gd_learning_rate": 0.01, "sign_gd_learning_rate": 0.1,
          "trajectory_every": 5}


def _toy_optimizers(config, landscape):
  return {
      "sophia": optax.contrib.sophia(
          config["sophia_learning_rate"], b1=0.0, b2=0.0,
          eps=config["sophia_eps"], weight_decay=0.0, gamma=1.0,
          clip_threshold=config["sophia_clip"], update_interval=1,
          hessian_diagonal_fn=exact_hessian_diagonal(landscape.objective)),
      "newton": newton(landscape.objective),
      "gd": optax.sgd(config["gd_learning_rate"]),
      "sign_gd": optax.sign_sgd(config["sign_gd_learning_rate"])}


def _measure_toy(config, seeds):
  landscape = landscapes.heterogeneous_curvature_toy(config["init_low"],
                                                     config["init_high"])
  records = [{} for _ in seeds]
  for name, opt in _toy_optimizers(config, landscape).items():
    result = algorithms.run(
        landscape, algorithms.with_mean_gradient(opt), seeds,
        steps=config["steps"], record_every=config["trajectory_every"],
        batch_size=1, metrics=lambda p, s: {"theta": p})
    for record, path, diverged_at in zip(records, result.metrics["theta"],
                                         result.diverged_at):
      record[name] = {"path": path, "run_diverged_at": diverged_at}
  return records


def _distance_evaluate(name, target_key):
  def evaluate(config, records, alpha):
    del alpha   # deterministic per start: the interval is the range
    target = np.asarray(
        landscapes.heterogeneous_curvature_toy().constants[target_key])
    distances = np.linalg.norm(records[name]["path"][:, -1] - target, axis=1)
    _, ci = theory.range_interval(np.where(np.isfinite(distances), distances,
                                           np.inf))
    others = {o: records[o]["path"][:, -1].mean(0).round(3).tolist()
              for o in records.keys()}
    return Evaluation(
        measured=ci[1], ci=ci,
        notes=f"Distance of {name}'s iterate after {config['steps']} steps to "
        f"{target_key} {tuple(float(t) for t in target)}, range over "
        f"{len(records)} starts uniform in [{config['init_low']}, "
        f"{config['init_high']}] x [-1, 1]. Mean endpoints: {others}.")
  return evaluate


def _plot_toy(config, records, evaluation):
  fig, axes = figures.new_figure()
  ax = axes[0, 0]
  grid = np.meshgrid(np.linspace(-1.0, 1.5, 200), np.linspace(-1.5, 5.5, 200))
  loss = landscapes.heterogeneous_curvature_toy().objective(np.stack(grid))
  ax.contour(*grid, np.log1p(loss), levels=20, colors="0.8", linewidths=0.5)
  colors = {"sophia": figures.PALETTE["measured"],
            "newton": figures.PALETTE["bound"],
            "gd": figures.PALETTE["reference"],
            "sign_gd": figures.PALETTE["alternative"]}
  for name in colors:
    for i, path in enumerate(records[name]["path"][:4]):
      ax.plot(path[:, 0], path[:, 1], "-", color=colors[name], alpha=0.8,
              linewidth=1.0, label=name if i == 0 else None)
  ax.plot(1, 4, "*", color="k", markersize=9, label="minimum (1, 4)")
  ax.plot(0, 4, "x", color="k", markersize=7, label="saddle (0, 4)")
  ax.set(xlabel=r"$\theta_1$ (sharp, non-convex)",
         ylabel=r"$\theta_2$ (flat)", title=f"{config['steps']} steps from 4 "
         "starts")
  ax.legend(fontsize=6, loc="lower right")
  return fig


def _estimator_config(quick: bool) -> dict:
  return {"num_examples": 64, "dim": 4, "width": 6, "num_classes": 3,
          "estimates": 2000 if quick else 20_000}


def _measure_estimators(config, seeds):
  landscape = landscapes.mlp_classifier(
      config["num_examples"], config["dim"], config["width"],
      config["num_classes"])
  inputs = landscape.data["x"]
  flat_of = lambda tree: ravel_pytree(tree)[0]
  records = []
  for seed in seeds:   # each seed: a fresh parameter point and fresh noise
    key_params, key_h, key_g = jax.random.split(jax.random.key(seed), 3)
    params = landscape.init(key_params)
    exact_h = jnp.diag(theory.dense_hessian(landscape.objective, params))
    exact_g = flat_of(gauss_newton_diagonal(landscape.predict, params, inputs))
    hvp, dim = theory.flat_hvp(landscape.objective, params)
    probes = jax.random.rademacher(key_h, (config["estimates"], dim),
                                   dtype=exact_h.dtype)
    hutchinson = jax.lax.map(lambda u: u * hvp(u), probes, batch_size=256)
    gnb = jax.lax.map(
        lambda k: flat_of(gauss_newton_bartlett_diagonal(
            landscape.predict, params, inputs, k)),
        jax.random.split(key_g, config["estimates"]), batch_size=256)
    records.append({
        name: {"exact": exact, "mean": samples.mean(0),
               "std": samples.std(0, ddof=1)}
        for name, exact, samples in (("hutchinson", exact_h, hutchinson),
                                     ("gnb", exact_g, gnb))})
  return records


_alpha, _tests = sympy.symbols("alpha K", positive=True)

BONFERRONI = Bound(
    name="max |z| <= Bonferroni critical value",
    expression=sympy.sqrt(2) * sympy.erfinv(1 - _alpha / _tests),
    statement_latex=r"E[u\odot Hu] = \mathrm{diag}\,H,\quad "
    r"E[B\,\nabla\hat L\odot\nabla\hat L] = \mathrm{diag}\,G",
    from_evaluation=("alpha", "K"),
    symbol_meanings={"alpha": "declared false-fail rate",
                     "K": "number of coordinate tests"},
    citation=PAPER.cite(
        "Section 2.3, Hutchinson and Gauss-Newton-Bartlett estimators "
        "(numbering unverified)", "Estimator definitions from the authors' "
        "code [V] and the shared references [R]; unbiasedness derived in "
        "boundlab.theory.gauss_newton [D]."))


def _evaluate_estimators(config, records, alpha):
  scores, relative = {}, {}
  for name in ("hutchinson", "gnb"):
    exact = records[name]["exact"]
    error = np.abs(records[name]["mean"] - exact)
    se = records[name]["std"] / np.sqrt(config["estimates"])
    # Zero variance (an estimator exact in that coordinate) must match exactly.
    scores[name] = np.where(se > 0, error / np.where(se > 0, se, 1.0),
                            np.where(error <= 1e-12, 0.0, np.inf))
    relative[name] = float(np.median(error / (np.abs(exact) + 1e-12)))
  tests = sum(z.size for z in scores.values())
  critical = BONFERRONI.evaluate(alpha=alpha, K=tests)
  worst = {name: float(z.max()) for name, z in scores.items()}
  measured = max(worst.values())
  return Evaluation(
      measured=measured, ci=(measured, measured),
      bound_values={"alpha": alpha, "K": tests},
      tables={"critical": critical},
      notes=f"max |mean - exact| / s.e. over {tests} coordinate tests "
      f"({len(records)} parameter points x 2 estimators x "
      f"{scores['gnb'].shape[1]} parameters), {config['estimates']} "
      f"estimates each; Bonferroni critical value at alpha = {alpha:g}: "
      f"{critical:.3f}. Worst |z|: Hutchinson {worst['hutchinson']:.2f}, GNB "
      f"{worst['gnb']:.2f}. Median relative error of the means: Hutchinson "
      f"{relative['hutchinson']:.2e}, GNB {relative['gnb']:.2e}.")


def _plot_estimators(config, records, evaluation):
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  for ax, name, label in ((axes[0, 0], "hutchinson", "Hutchinson vs diag H"),
                          (axes[0, 1], "gnb", "GNB vs diag G")):
    exact, mean = records[name]["exact"].ravel(), records[name]["mean"].ravel()
    se = records[name]["std"].ravel() / np.sqrt(config["estimates"])
    ax.errorbar(exact, mean - exact, yerr=evaluation.tables["critical"] * se,
                fmt="o", markersize=2, color=figures.PALETTE["measured"],
                alpha=0.6, elinewidth=0.5)
    figures.horizontal_reference(ax, 0.0, label="unbiased")
    ax.set(xlabel="exact diagonal entry", ylabel="mean estimate - exact",
           title=label)
    ax.legend(fontsize=7)
  return fig


_CITATION_TOY = PAPER.cite(
    "Figure 2 (toy example)", "Toy function and the qualitative outcome "
    "recalled from annotated notes [R]; start point, step sizes and step "
    "counts of the figure not recorded [U]; ours are in the config.")

_TOY_TOLERANCE = ("Endpoint after 200 steps: Sophia's unclipped steps near "
                  "the minimum and Newton's steps near the saddle converge "
                  "geometrically or faster, leaving < 1e-12; 1e-8 only "
                  "absorbs float rounding of the polynomial's derivatives.")

_TOY_RUNS = Experiment("liu2023.toy_trajectories", _toy_config, _measure_toy,
                       seeds=32, quick_seeds=16)

SOPHIA_REACHES_MINIMUM = Claim(
    id="liu2023.toy_sophia_reaches_minimum", paper=PAPER,
    statement="On the 2-D heterogeneous-curvature toy, Sophia reaches the "
    "global minimum (1, 4).",
    measurement="Distance of optax.contrib.sophia's (exact diagonal, clip 1, "
    "lr 0.5) iterate after 200 steps to (1, 4); worst start.",
    bound=Bound(name="distance to the minimum = 0", expression=0,
                statement_latex=r"\theta_T \to (1, 4)",
                citation=_CITATION_TOY),
    relation=Relation.APPROX, tolerance=1e-8, tolerance_reason=_TOY_TOLERANCE,
    experiment=_TOY_RUNS, evaluate=_distance_evaluate("sophia", "optimum"),
    plot=_plot_toy)

NEWTON_REACHES_SADDLE = Claim(
    id="liu2023.toy_newton_reaches_saddle", paper=PAPER,
    statement="On the same toy and starts, Newton's method converges to the "
    "saddle point (0, 4).",
    measurement="Distance of the Newton iterate (full steps, dense Hessian) "
    "after 200 steps to (0, 4); worst start.",
    bound=Bound(name="distance to the saddle = 0", expression=0,
                statement_latex=r"\theta_T \to (0, 4)",
                citation=_CITATION_TOY),
    relation=Relation.APPROX, tolerance=1e-8, tolerance_reason=_TOY_TOLERANCE,
    experiment=_TOY_RUNS, evaluate=_distance_evaluate("newton", "saddle"),
    plot=_plot_toy)

ESTIMATORS_UNBIASED = Claim(
    id="liu2023.curvature_estimators_unbiased", paper=PAPER,
    statement="Hutchinson's u * (H u) is unbiased for diag(H) and "
    "Gauss-Newton-Bartlett's B grad(L_hat) * grad(L_hat) (labels sampled from "
    "the model) is unbiased for diag of the Gauss-Newton matrix.",
    measurement="Per-coordinate z-scores of the mean of many estimates "
    "against the exact diagonals (dense Hessian; dense Jacobian Gauss-Newton) "
    "of a 51-parameter tanh MLP classifier at random parameter points; the "
    "largest |z|.", bound=BONFERRONI, relation=Relation.LE,
    experiment=Experiment("liu2023.curvature_estimators_unbiased",
                          _estimator_config, _measure_estimators, seeds=8,
                          quick_seeds=4),
    evaluate=_evaluate_estimators, plot=_plot_estimators,
    false_fail_rate=0.01)

CLAIMS = (SOPHIA_REACHES_MINIMUM, NEWTON_REACHES_SADDLE, ESTIMATORS_UNBIASED)


def example_figures(out_dir, quick: bool = True):
  """Where each optimizer ends, as a function of the start's theta_1."""
  starts = np.linspace(-0.6, 0.95, 32 if quick else 128)
  landscape = landscapes.heterogeneous_curvature_toy()
  config = _toy_config(quick)
  # One run per start: a landscape family whose init is the start (args).
  from_start = lambda theta1: dataclasses.replace(
      landscape, init=lambda key: jnp.stack([theta1, jnp.zeros_like(theta1)]))
  ends = {name: algorithms.run(
      from_start, algorithms.with_mean_gradient(opt), range(len(starts)),
      args=starts, steps=config["steps"], record_every=config["steps"],
      batch_size=1).final_params[:, 0]
      for name, opt in _toy_optimizers(config, landscape).items()
      if name in ("sophia", "newton")}
  fig, axes = figures.new_figure()
  ax = axes[0, 0]
  ax.plot(starts, ends["sophia"], "o", color=figures.PALETTE["measured"],
          markersize=3, label="Sophia")
  ax.plot(starts, ends["newton"], "x", color=figures.PALETTE["bound"],
          markersize=4, label="Newton")
  ax.axvspan(config["init_low"], config["init_high"], color="0.9",
             label="claims' start box")
  ax.set(xlabel=r"start $\theta_1$ ($\theta_2 = 0$)",
         ylabel=r"final $\theta_1$",
         title="endpoint vs start: 1 = minimum, 0 = saddle")
  ax.legend(fontsize=7)
  return [figures.save_figure(
      fig, out_dir / "liu2023_endpoint_vs_start.png",
      data={"start": starts.tolist(), "sophia": ends["sophia"].tolist(),
            "newton": ends["newton"].tolist()}, config=config)[0]]
