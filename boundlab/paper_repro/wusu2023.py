r"""Wu & Su (ICML 2023): the implicit regularization of dynamical stability.

arXiv 2305.17490, abstract [V]: "If a global minimum is linearly stable for
SGD, then the trace of Hessian must be <= 2/eta", while GD only constrains
lambda_max; on diagonal linear networks the trace is a parameter norm, so
SGD-stable minima have small l1 norm and GD-stable ones need not. Theorem
number and constants not read (abstract only): ``verified=False``; the
shared references derive the B = 1 trace bound from Mulayoff & Michaeli's
necessary condition (16).

No experiment family fits: each claim is an inequality at every converged
run's limit (range over runs).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax

from boundlab import algorithms, figures, landscapes, theory
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)
from boundlab.theory.path_norm import path_norm, relu_spread_constant

PAPER = Paper(key="wusu2023", title="The Implicit Regularization of Dynamical "
              "Stability in Stochastic Gradient Descent", authors="L. Wu, W. "
              "J. Su", arxiv="2305.17490", version="v1", venue="ICML 2023")
_METHODS = {"sgd": ("o", "measured"), "gd": ("s", "alternative")}  # plot style


def _config(quick: bool) -> dict:
  return {"num_examples": 10, "dim": 30, "sparsity": 3, "init_scale": 0.5,
          "batch_size": 1, "learning_rates": [0.02, 0.05, 0.1, 0.15],
          "steps": 20_000 if quick else 60_000, "converged_loss": 1e-16}


def _measure(config, seeds):
  landscape = landscapes.diagonal_linear_network(*(config[k] for k in (
      "num_examples", "dim", "sparsity", "init_scale")))
  def summary(params, state):
    hessian = theory.dense_hessian(landscape.objective, params)
    return {"loss": landscape.objective(params), "trace": jnp.trace(hessian),
            "lambda_max": jnp.linalg.eigvalsh(hessian)[-1],
            "l1": jnp.sum(jnp.abs(params["u"] * params["v"]))}
  views = {m: algorithms.run(
      landscape, lambda key, eta: algorithms.with_mean_gradient(optax.sgd(eta)),
      seeds, steps=config["steps"], record_every=config["steps"],
      metrics=summary, batch_size=config["batch_size"] if m == "sgd" else None,
      hyperparams={"eta": config["learning_rates"]}).seeds() for m in _METHODS}
  # A diverging SGD run is an outcome (notes), not a failed experiment.
  return [{m: {k: x[:, -1] for k, x in v[i].metrics.items()}
           | {"run_diverged_at": v[i].diverged_at} for m, v in views.items()}
          for i in range(len(seeds))]


def _plot(config, records, evaluation):
  etas = np.asarray(config["learning_rates"])
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  for ax, key, title in zip(axes[0], ("trace", "lambda_max"), (
      "trace: bounded for SGD (B = 1) only", "lambda_max: bounded for both")):
    for method, (marker, color) in _METHODS.items():
      ok = evaluation.tables["converged"][method]
      ax.scatter(np.broadcast_to(etas, ok.shape)[ok], records[method][key][ok],
                 s=12, marker=marker, color=figures.PALETTE[color], alpha=0.6,
                 label=f"{method.upper()} limits")
    ax.plot(etas, 2 / etas, "--", c=figures.PALETTE["bound"], label=r"$2/\eta$")
    ax.set(xscale="log", yscale="log", xlabel=r"learning rate $\eta$",
           ylabel=f"{key} of the Hessian at the limit", title=title)
  axes[0, 0].legend(fontsize=7)
  return fig


_CITATION = PAPER.cite(
    "Abstract; main stability theorem (number unverified)",
    "Statement read in the abstract [V]; Tr H <= 2/eta for B = 1 derived "
    "from Mulayoff & Michaeli arXiv 2306.07850 eq. (16) [D]; ||beta||_1 <= "
    "1/eta from Tr H = ||u||^2 + ||v||^2 >= 2||beta||_1 for +-1 features "
    "[D]; the paper's own ||beta||_1 constant was found in no source [U].")
_RUNS = Experiment("wusu2023.diagonal_net_runs", _config, _measure, seeds=32,
                   quick_seeds=16)


def _claim(name, method, key, scale, statement, measurement, bound_name, latex):
  """On ``scale eta key`` at converged limits, max over eta per run."""
  sgd = method == "sgd"
  def evaluate(config, records, alpha):
    del alpha  # deterministic given the run: the interval is the range
    etas = np.asarray(config["learning_rates"])
    tables = {"converged": {m: records[m]["loss"] < config["converged_loss"]
                            for m in _METHODS}}
    ok = tables["converged"][method]
    if not ok.any():
      return Evaluation.undetermined("No run converged.", tables=tables)
    values = np.where(ok, records[method][key] * etas * scale, np.nan)
    _, ci = theory.range_interval(np.nanmax(values[ok.any(1)], axis=1))
    diverged = records[method]["run_diverged_at"] >= 0
    rows = "; ".join(
        f"eta={eta:g}: {o.sum()}/{len(records)} converged, {d.sum()} "
        "diverged, max ratio " + (f"{np.nanmax(v):.3f}" if o.any() else "none")
        for eta, o, d, v in zip(etas, ok.T, diverged.T, values.T))
    # One instance per seed with a converged run (its max over eta).
    return Evaluation(
        measured=ci[1] if sgd else ci[0], ci=ci, tables=tables,
        instances=int(ok.any(1).sum()),
        notes=f"{method.upper()} (batch {config['batch_size'] if sgd else 'n'}"
        f"): {key} scaled to the bound, max over eta per run; range over "
        f"converged runs (loss < {config['converged_loss']:g}). {rows}.")
  return Claim(
      id=f"wusu2023.{name}", paper=PAPER, statement=statement,
      measurement=measurement, relation=Relation.LE if sgd else Relation.GE,
      bound=Bound(name=bound_name, expression=1, statement_latex=latex,
                  citation=_CITATION),
      tolerance=1e-6 if sgd else 0.0, tolerance_reason="Converged means loss "
      "< 1e-16: the iterate is ~1e-8 from the limit, whose curvature it "
      "matches to ~1e-7 relative." if sgd else "", experiment=_RUNS,
      # An inequality at every converged run's limit (SGD's sampling makes
      # the runs random, but the interval is the range over them).
      evidence="all-instances", evaluate=evaluate, plot=_plot)


SGD_TRACE = _claim(
    "sgd_trace_le_2_over_eta", "sgd", "trace", 0.5,
    "Minima that SGD with batch size 1 converges to satisfy Tr H <= 2/eta.",
    "eta Tr H / 2 (dense Hessian) at the end of every converged SGD (B = 1) "
    "run on the diagonal net, eta in {0.02, 0.05, 0.1, 0.15}; worst run.",
    "eta Tr H / 2 <= 1", r"\mathrm{Tr}\,\nabla^2 L(\theta_\infty) \le "
    r"\frac{2}{\eta}\quad (B = 1)")
SGD_L1 = _claim(
    "sgd_l1_le_1_over_eta", "sgd", "l1", 1.0,
    "On a diagonal linear network with +-1 features, SGD (B = 1) limits have "
    "||beta||_1 <= 1/eta: a larger learning rate regularizes more.",
    "eta ||u * v||_1 at the end of every converged SGD (B = 1) run; worst run.",
    "eta ||beta||_1 <= 1", r"\|\beta_\infty\|_1 \le \frac{1}{\eta}")
GD_TRACE_UNCONSTRAINED = _claim(
    "gd_trace_not_constrained", "gd", "trace", 0.5,
    "GD-stability only constrains lambda_max: GD converges to minima whose "
    "trace exceeds 2/eta (while lambda_max <= 2/eta).",
    "max over step sizes of eta Tr H / 2 at the end of converged full-batch GD "
    "runs on the same problem.", "max eta Tr H / 2 over GD limits >= 1",
    r"\exists\ \text{GD limits with } \mathrm{Tr}\,H > \frac{2}{\eta}")


def _relu_config(quick: bool) -> dict:
  return {"num_examples": 12, "dim": 3, "width": 16, "teacher_width": 3,
          "runs": [["gd", 0.05], ["gd", 0.2], ["sgd", 0.05], ["sgd", 0.1],
                   ["sgd", 0.2]], "steps": 40_000, "converged_loss": 1e-10,
          "spread_directions": 200_000 if quick else 2_000_000}


def _measure_relu(config, seeds):
  landscape = landscapes.two_layer_relu_regression(*(config[k] for k in (
      "num_examples", "dim", "width", "teacher_width")))
  metrics = lambda p, s: {"loss": landscape.objective(p), "trace": jnp.trace(
      theory.dense_hessian(landscape.objective, p))}
  runs = [algorithms.run(
      landscape, algorithms.with_mean_gradient(optax.sgd(eta)), seeds,
      steps=config["steps"], metrics=metrics, record_every=config["steps"],
      batch_size=1 if m == "sgd" else None) for m, eta in config["runs"]]
  c = relu_spread_constant(landscape.data["x"], config["spread_directions"])
  last = lambda key, i: [r.metrics[key][i, -1] for r in runs]
  # One entry per run of config["runs"]; path norms of finite limits only.
  return [{"spread_constant": c, "loss": last("loss", i),
           "trace": last("trace", i), "path_norm": [
               path_norm(r.final_params["a"][i], r.final_params["b"][i])
               if np.isfinite(loss) else np.nan
               for r, loss in zip(runs, last("loss", i))],
           "run_diverged_at": [r.diverged_at[i] for r in runs]}
          for i in range(len(seeds))]


def _relu_evaluate(config, records, alpha):
  del alpha  # an inequality at every converged run: the interval is the range
  c = records["spread_constant"][:, None]
  converged = records["loss"] < config["converged_loss"]
  two_c_path_norm = 2 * c * records["path_norm"]
  methods, eta = map(np.array, zip(*config["runs"]))
  tables = {"converged": converged, "two_c_path_norm": two_c_path_norm,
            "sgd": methods == "sgd"}
  if not converged.any():
    return Evaluation.undetermined("No run converged.", tables=tables)
  _, ci = theory.range_interval((records["trace"] / two_c_path_norm)[converged])
  largest = lambda x: np.nanmax(np.where(converged & tables["sgd"], x, np.nan))
  # Instances: the seeds with a converged run. A seed's runs (GD and SGD at
  # several steps) share its initial point, so they are not independent
  # draws; the relation holds on all pairs iff on each seed's worst one.
  return Evaluation(
      measured=ci[0], ci=ci, tables=tables,
      instances=int(converged.any(1).sum()),
      notes=f"Tr H / (2c path-norm) at {converged.sum()} converged runs (loss "
      f"< {config['converged_loss']:g}) of {converged.size} (GD and SGD B=1, "
      f"eta in {sorted(set(eta.tolist()))}); c = {c[0, 0]:.4f}, min over "
      f"{config['spread_directions']} directions (overestimate: conservative)."
      f" SGD: max eta Tr H / 2 = {largest(eta * records['trace'] / 2):.3f} "
      "(stability: <= 1), max eta c path-norm = "
      f"{largest(eta * c * records['path_norm']):.3f} (implied: <= 1).")


def _relu_plot(config, records, evaluation):
  fig, ((ax,),) = figures.new_figure()
  sgd = evaluation.tables["sgd"]
  for (method, (_, color)), mask in zip(_METHODS.items(), (sgd, ~sgd)):
    ok = evaluation.tables["converged"] & mask
    ax.scatter(evaluation.tables["two_c_path_norm"][ok], records["trace"][ok],
               s=12, color=figures.PALETTE[color],
               label=f"{method.upper()} limits")
  ax.axline((0, 0), slope=1, linestyle="--", color=figures.PALETTE["bound"],
            label=r"Tr H = 2c $\cdot$ path norm")
  ax.set(xlabel=r"$2c\sum_k |a_k|\,\|b_k\|$", ylabel=r"$\mathrm{Tr}\,H$ at "
         "the limit", title="two-layer ReLU: trace vs path norm")
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
    relation=Relation.GE, evidence="all-instances", evaluate=_relu_evaluate,
    plot=_relu_plot,
    experiment=Experiment("wusu2023.relu_runs", _relu_config, _measure_relu,
                          seeds=16, quick_seeds=8))
CLAIMS = (SGD_TRACE, SGD_L1, GD_TRACE_UNCONSTRAINED, RELU_TRACE_PATH_NORM)


def example_figures(out_dir, quick: bool = True):
  """Tr H = ||u||^2 + ||v||^2 >= 2||beta||_1 along a balancing path."""
  t = np.linspace(0.2, 5.0, 200)          # u = t, v = 1/t: beta = 1 fixed
  fig, ((ax,),) = figures.new_figure()
  ax.plot(t, t**2 + 1 / t**2, color=figures.PALETTE["measured"],
          label=r"$\mathrm{Tr}\,H = u^2 + v^2$ at $uv = 1$")
  figures.horizontal_reference(ax, 2.0, label=r"$2\|\beta\|_1$ (balanced)")
  ax.set(xscale="log", yscale="log", xlabel="u (with v = 1/u)")
  ax.legend()
  return [figures.save_figure(fig, out_dir / "wusu2023_trace_vs_l1.png",
                              data={"t": t[::20].tolist()}, config={})[0]]
