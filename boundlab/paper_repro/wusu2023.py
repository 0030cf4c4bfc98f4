r"""Wu & Su (ICML 2023): the implicit regularization of dynamical stability.

The Implicit Regularization of Dynamical Stability in Stochastic Gradient
Descent, arXiv 2305.17490. Abstract [V]: "If a global minimum is linearly
stable for SGD, then the trace of Hessian must be <= 2/eta", while for GD
only lambda_max is constrained; on diagonal linear networks the trace equals
a parameter norm, so SGD-stable minima have small l1 norm and GD-stable ones
need not.

Checked on a sparse-regression diagonal linear network (n = 10, d = 30, +-1
features, 3-sparse target): every SGD (batch size B = 1) run that converges
ends at a minimum with Tr H <= 2/eta and ||beta||_1 <= 1/eta; GD runs with the
same steps converge to minima whose trace exceeds 2/eta while lambda_max stays
below it. The theorem number and constants were not read in the paper (only
the abstract); the B = 1 trace bound is derived in the shared references from
Mulayoff & Michaeli's necessary condition (16), so ``verified=False``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax

from boundlab import algorithms, figures, landscapes, theory
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)
from boundlab.theory.path_norm import path_norm, relu_spread_constant

PAPER = Paper(
    key="wusu2023",
    title="The Implicit Regularization of Dynamical Stability in Stochastic "
    "Gradient Descent", authors="L. Wu, W. J. Su", arxiv="2305.17490",
    version="v1", venue="ICML 2023")

_METHODS = {"sgd": "o", "gd": "s"}      # record key -> plot marker


def _gd(eta):
  return algorithms.with_mean_gradient(optax.sgd(eta))


def _config(quick: bool) -> dict:
  # Runs count as converged when the loss is below converged_loss: the
  # iterate is then within ~1e-8 of the interpolating set, where trace and
  # lambda_max are those of the limit to ~1e-7 relative.
  return {"num_examples": 10, "dim": 30, "sparsity": 3, "init_scale": 0.5,
          "batch_size": 1, "learning_rates": [0.02, 0.05, 0.1, 0.15],
          "steps": 20_000 if quick else 60_000, "converged_loss": 1e-16}


def _measure(config, seeds):
  landscape = landscapes.diagonal_linear_network(
      config["num_examples"], config["dim"], config["sparsity"],
      config["init_scale"])

  def summary(params, state):
    hessian = theory.dense_hessian(landscape.objective, params)
    return {"loss": landscape.objective(params), "trace": jnp.trace(hessian),
            "lambda_max": jnp.linalg.eigvalsh(hessian)[-1],
            "l1": jnp.sum(jnp.abs(params["u"] * params["v"]))}

  results = {method: algorithms.run(
      landscape, lambda key, eta: _gd(eta), seeds, steps=config["steps"],
      record_every=config["steps"], metrics=summary,
      batch_size=config["batch_size"] if method == "sgd" else None,
      hyperparams={"eta": config["learning_rates"]}).seeds()
      for method in _METHODS}
  # SGD diverging from a start it cannot stabilise is an outcome counted in
  # the notes, not a failure of the experiment: "run_diverged_at".
  return [{method: {**{k: x[:, -1] for k, x in views[i].metrics.items()},
                    "run_diverged_at": views[i].diverged_at}
           for method, views in results.items()} for i in range(len(seeds))]


def _ratio_evaluate(method, key, scale, direction):
  """``evaluate`` of ``scale eta key`` at the limits of converged ``method``
  runs: the range over runs of the largest over step sizes."""

  def evaluate(config, records, alpha):
    del alpha  # deterministic given the run: the interval is the range
    etas = np.asarray(config["learning_rates"])
    converged = {m: np.isfinite(records[m]["loss"])
                 & (records[m]["loss"] < config["converged_loss"])
                 for m in _METHODS}
    ok = converged[method]
    values = np.where(ok, records[method][key] * etas[None, :] * scale, np.nan)
    per_seed = np.nanmax(values, axis=1)
    per_seed = per_seed[np.isfinite(per_seed)]
    if per_seed.size == 0:
      return Evaluation.undetermined("No run converged.",
                                     tables={"converged": converged})
    _, ci = theory.range_interval(per_seed)
    diverged = records[method]["run_diverged_at"] >= 0
    rows = "; ".join(
        f"eta={eta:g}: {int(ok[:, j].sum())}/{len(records)} converged, "
        f"{int(diverged[:, j].sum())} diverged, max ratio "
        + (f"{np.nanmax(values[:, j]):.3f}" if ok[:, j].any() else "none")
        for j, eta in enumerate(etas))
    batch = config["batch_size"] if method == "sgd" else "n"
    return Evaluation(
        measured=ci[1] if direction == "max" else ci[0], ci=ci,
        tables={"converged": converged},
        notes=f"{method.upper()} (batch {batch}), {key} scaled to the bound, "
        "max over step sizes per run, interval = range over runs that "
        f"converged (loss < {config['converged_loss']:g}). {rows}.")
  return evaluate


def _plot(config, records, evaluation):
  etas = np.asarray(config["learning_rates"])
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  for ax, key, label in ((axes[0, 0], "trace", r"$\mathrm{Tr}\,H$"),
                         (axes[0, 1], "lambda_max", r"$\lambda_{\max}(H)$")):
    for (method, marker), color in zip(_METHODS.items(), (
        figures.PALETTE["measured"], figures.PALETTE["alternative"])):
      ok = np.asarray(evaluation.tables["converged"][method], dtype=bool)
      ax.scatter(np.broadcast_to(etas, ok.shape)[ok],
                 records[method][key][ok], s=12, marker=marker, color=color,
                 alpha=0.6, label=f"{method.upper()} limits")
    grid = np.geomspace(etas.min() * 0.8, etas.max() * 1.2, 20)
    ax.plot(grid, 2 / grid, "--", color=figures.PALETTE["bound"],
            label=r"$2/\eta$")
    ax.set(xscale="log", yscale="log", xlabel=r"learning rate $\eta$",
           ylabel=label)
  axes[0, 0].set_title("trace: bounded for SGD (B = 1) only")
  axes[0, 1].set_title("lambda_max: bounded for both")
  axes[0, 0].legend(fontsize=7)
  return fig


_CITATION = PAPER.cite(
    "Abstract; main stability theorem (number unverified)",
    "Statement read in the abstract [V]; Tr H <= 2/eta for B = 1 derived "
    "from Mulayoff & Michaeli arXiv 2306.07850 eq. (16) [D]; ||beta||_1 <= "
    "1/eta from Tr H = ||u||^2 + ||v||^2 >= 2||beta||_1 for +-1 features [D].")

_RUNS = Experiment("wusu2023.diagonal_net_runs", _config, _measure, seeds=32,
                   quick_seeds=16)


def _make(claim_id, statement, measurement, name, latex, relation, evaluate):
  upper = relation is Relation.LE
  return Claim(
      id=claim_id, paper=PAPER, statement=statement, measurement=measurement,
      bound=Bound(name=name, expression=1, statement_latex=latex,
                  citation=_CITATION),
      relation=relation, tolerance=1e-6 if upper else 0.0,
      tolerance_reason="Converged means loss < 1e-16: the iterate is ~1e-8 "
      "from the limit, whose curvature it matches to ~1e-7 relative."
      if upper else "", experiment=_RUNS, evaluate=evaluate, plot=_plot)


SGD_TRACE = _make(
    "wusu2023.sgd_trace_le_2_over_eta",
    "Minima that SGD with batch size 1 converges to satisfy Tr H <= 2/eta.",
    "eta Tr H / 2 (dense Hessian) at the end of every converged SGD (B = 1) "
    "run on the diagonal net, eta in {0.02, 0.05, 0.1, 0.15}; worst run.",
    "eta Tr H / 2 <= 1", r"\mathrm{Tr}\,\nabla^2 L(\theta_\infty) \le "
    r"\frac{2}{\eta}\quad (B = 1)", Relation.LE,
    _ratio_evaluate("sgd", "trace", 0.5, "max"))

SGD_L1 = _make(
    "wusu2023.sgd_l1_le_1_over_eta",
    "On a diagonal linear network with +-1 features, SGD (B = 1) limits have "
    "||beta||_1 <= 1/eta: a larger learning rate regularizes more.",
    "eta ||u * v||_1 at the end of every converged SGD (B = 1) run; worst run.",
    "eta ||beta||_1 <= 1", r"\|\beta_\infty\|_1 \le \frac{1}{\eta}",
    Relation.LE, _ratio_evaluate("sgd", "l1", 1.0, "max"))

GD_TRACE_UNCONSTRAINED = _make(
    "wusu2023.gd_trace_not_constrained",
    "GD-stability only constrains lambda_max: GD converges to minima whose "
    "trace exceeds 2/eta (while lambda_max <= 2/eta).",
    "max over step sizes of eta Tr H / 2 at the end of converged full-batch GD "
    "runs on the same problem.",
    "max eta Tr H / 2 over GD limits >= 1",
    r"\exists\ \text{GD limits with } \mathrm{Tr}\,H > \frac{2}{\eta}",
    Relation.GE, _ratio_evaluate("gd", "trace", 0.5, "min"))


def _relu_config(quick: bool) -> dict:
  return {"num_examples": 12, "dim": 3, "width": 16, "teacher_width": 3,
          "runs": [["gd", 0.05], ["gd", 0.2], ["sgd", 0.05], ["sgd", 0.1],
                   ["sgd", 0.2]],
          "steps": 40_000, "converged_loss": 1e-10,
          "spread_directions": 200_000 if quick else 2_000_000}


def _measure_relu(config, seeds):
  landscape = landscapes.two_layer_relu_regression(
      config["num_examples"], config["dim"], config["width"],
      config["teacher_width"])
  metrics = lambda p, s: {
      "loss": landscape.objective(p),
      "trace": jnp.trace(theory.dense_hessian(landscape.objective, p))}
  runs = [algorithms.run(
      landscape, _gd(eta), seeds, steps=config["steps"], metrics=metrics,
      record_every=config["steps"], batch_size=1 if method == "sgd" else None)
      for method, eta in config["runs"]]
  c = relu_spread_constant(np.asarray(landscape.data["x"]),
                           config["spread_directions"])
  records = []
  for i in range(len(seeds)):    # one entry per run of config["runs"]
    loss = [r.metrics["loss"][i, -1] for r in runs]
    records.append({
        "spread_constant": c, "loss": loss,
        "trace": [r.metrics["trace"][i, -1] for r in runs],
        "path_norm": [path_norm(r.final_params["a"][i], r.final_params["b"][i])
                      if np.isfinite(x) else np.nan
                      for r, x in zip(runs, loss)],
        "run_diverged_at": [r.diverged_at[i] for r in runs]})
  return records


def _relu_evaluate(config, records, alpha):
  del alpha  # an inequality at every converged run: the interval is the range
  c = records["spread_constant"][:, None]
  converged = records["loss"] < config["converged_loss"]
  two_c_path_norm = 2 * c * records["path_norm"]
  tables = {"converged": converged, "two_c_path_norm": two_c_path_norm}
  if not converged.any():
    return Evaluation.undetermined("No run converged.", tables=tables)
  _, ci = theory.range_interval((records["trace"] / two_c_path_norm)[converged])
  eta = np.array([e for _, e in config["runs"]])
  sgd = converged & np.array([m == "sgd" for m, _ in config["runs"]])
  largest = lambda x: np.max(x[sgd]) if sgd.any() else float("nan")
  return Evaluation(
      measured=ci[0], ci=ci, tables=tables,
      notes=f"Tr H / (2 c path-norm) at {int(converged.sum())} converged runs "
      f"(loss < {config['converged_loss']:g}) of {converged.size} (GD and SGD "
      f"B=1, eta in {sorted(set(eta.tolist()))}); c = {c[0, 0]:.4f} (minimum "
      f"over {config['spread_directions']} directions: an overestimate, so "
      "the check is conservative). SGD runs: max eta Tr H / 2 = "
      f"{largest(eta * records['trace'] / 2):.3f} (stability: <= 1) and max "
      f"eta c path-norm = {largest(eta * c * records['path_norm']):.3f} "
      "(implied: <= 1).")


def _relu_plot(config, records, evaluation):
  converged = np.asarray(evaluation.tables["converged"], dtype=bool)
  x = np.asarray(evaluation.tables["two_c_path_norm"])
  fig, axes = figures.new_figure()
  ax = axes[0, 0]
  for method, color in (("gd", figures.PALETTE["alternative"]),
                        ("sgd", figures.PALETTE["measured"])):
    ok = converged & np.array([m == method for m, _ in config["runs"]])
    ax.scatter(x[ok], records["trace"][ok], s=12, color=color,
               label=f"{method.upper()} limits")
  lim = max(ax.get_xlim()[1], ax.get_ylim()[1])
  ax.plot([0, lim], [0, lim], "--", color=figures.PALETTE["bound"],
          label=r"Tr H = 2c $\cdot$ path norm")
  ax.set(xlabel=r"$2c\sum_k |a_k|\,\|b_k\|$",
         ylabel=r"$\mathrm{Tr}\,H$ at the limit",
         title="two-layer ReLU: trace vs path norm")
  ax.legend(fontsize=7)
  return fig


RELU_TRACE_PATH_NORM = Claim(
    id="wusu2023.relu_trace_ge_2c_path_norm", paper=PAPER,
    statement="For a two-layer ReLU net on unit-norm inputs at an "
    "interpolating minimum, Tr H >= 2c sum_k |a_k| ||b_k|| with c = "
    "min_{||w||=1} (1/n) sum_i relu(w.x_i); with SGD stability this bounds "
    "the path norm by 1/(c eta).",
    measurement="Tr H (dense Hessian) over 2c path-norm at the end of every "
    "converged GD / SGD (B = 1) run on a teacher-labelled ReLU regression "
    "(n = 12, d = 3, width 16); smallest ratio.",
    bound=Bound(
        name="Tr H / (2 c path-norm) >= 1", expression=1,
        statement_latex=r"\mathrm{Tr}\,\nabla^2L(\theta) \ge 2c\sum_k|a_k|\,"
        r"\|b_k\|", citation=PAPER.cite(
            "Section 4, two-layer ReLU networks (number unverified)",
            "Inequality derived in the shared references by AM-GM [D]; the "
            "paper's exact data condition and constants not read [R].")),
    relation=Relation.GE,
    experiment=Experiment("wusu2023.relu_runs", _relu_config, _measure_relu,
                          seeds=16, quick_seeds=8),
    evaluate=_relu_evaluate, plot=_relu_plot)

CLAIMS = (SGD_TRACE, SGD_L1, GD_TRACE_UNCONSTRAINED, RELU_TRACE_PATH_NORM)


def example_figures(out_dir, quick: bool = True):
  """Tr H = ||u||^2 + ||v||^2 >= 2||beta||_1 along a balancing path."""
  del quick
  t = np.linspace(0.2, 5.0, 200)          # u = t, v = 1/t: beta = 1 fixed
  fig, axes = figures.new_figure()
  ax = axes[0, 0]
  ax.plot(t, t**2 + 1 / t**2, color=figures.PALETTE["measured"],
          label=r"$\mathrm{Tr}\,H = u^2 + v^2$ at $uv = 1$")
  ax.axhline(2.0, color=figures.PALETTE["bound"], linestyle="--",
             label=r"$2\|\beta\|_1$ (balanced)")
  ax.set(xscale="log", yscale="log", xlabel="u (with v = 1/u)")
  ax.legend()
  return [figures.save_figure(fig, out_dir / "wusu2023_trace_vs_l1.png",
                              data={"t": t[::20].tolist()}, config={})[0]]
