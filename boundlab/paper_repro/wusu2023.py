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

import jax
import jax.numpy as jnp
import numpy as np
import optax
import sympy

from boundlab import algorithms, figures, landscapes, theory
from boundlab.theory import Relation
from boundlab.theory.path_norm import path_norm, relu_spread_constant

PAPER = theory.Paper(
    key="wusu2023",
    title="The Implicit Regularization of Dynamical Stability in Stochastic "
    "Gradient Descent", authors="L. Wu, W. J. Su", arxiv="2305.17490",
    version="v1", venue="ICML 2023")

# Runs count as converged when the loss is below this: the iterate is then
# within ~1e-8 of the interpolating set, where trace and lambda_max are those
# of the limit to ~1e-7 relative.
_CONVERGED_LOSS = 1e-16


def _config(quick: bool) -> dict:
  return {"num_examples": 10, "dim": 30, "sparsity": 3, "init_scale": 0.5,
          "batch_size": 1, "learning_rates": [0.02, 0.05, 0.1, 0.15],
          "steps": 20_000 if quick else 60_000,
          "converged_loss": _CONVERGED_LOSS}


def _measure(config, seeds):
  landscape = landscapes.diagonal_linear_network(
      config["num_examples"], config["dim"], config["sparsity"],
      config["init_scale"])

  def summary(params):
    hessian = theory.dense_hessian(landscape.objective, params)
    return {"loss": landscape.objective(params), "trace": jnp.trace(hessian),
            "lambda_max": jnp.linalg.eigvalsh(hessian)[-1],
            "l1": jnp.sum(jnp.abs(params["u"] * params["v"]))}

  out = {s: {"sgd": [], "gd": []} for s in seeds}
  for eta in config["learning_rates"]:
    for method, batch in (("sgd", config["batch_size"]), ("gd", None)):
      result = algorithms.run(
          landscape, algorithms.with_mean_gradient(optax.sgd(eta)), seeds,
          steps=config["steps"], record_every=config["steps"],
          batch_size=batch)
      stats = jax.vmap(summary)(jax.tree.map(jnp.asarray,
                                             result.final_params))
      for i, s in enumerate(seeds):
        row = {k: float(np.asarray(x)[i]) for k, x in stats.items()}
        # SGD diverging from a start it cannot stabilise is an outcome
        # counted in the notes, not a failure of the experiment.
        row["run_diverged_at"] = int(result.diverged_at[i])
        out[s][method].append(row)
  return [out[s] for s in seeds]


def _table(config, records, method, key):
  return np.array([[row[key] for row in r[method]] for r in records])


def _converged(config, records, method):
  loss = _table(config, records, method, "loss")
  return np.isfinite(loss) & (loss < config["converged_loss"])


def _ratio_evaluate(config, records, method, key, scale, direction):
  etas = np.asarray(config["learning_rates"])
  ok = _converged(config, records, method)
  ratio = _table(config, records, method, key) * etas[None, :] * scale
  values = np.where(ok, ratio, np.nan)
  per_seed = np.nanmax(values, axis=1)
  per_seed = per_seed[np.isfinite(per_seed)]
  if per_seed.size == 0:
    return theory.Evaluation(float("nan"), (float("nan"),) * 2, 1.0,
                             notes="No run converged.")
  measured, ci = theory.range_interval(per_seed)
  diverged = _table(config, records, method, "run_diverged_at") >= 0
  rows = "; ".join(
      f"eta={eta:g}: {int(ok[:, j].sum())}/{len(records)} converged, "
      f"{int(diverged[:, j].sum())} diverged, max ratio "
      + (f"{np.nanmax(values[:, j]):.3f}" if ok[:, j].any() else "none")
      for j, eta in enumerate(etas))
  return theory.Evaluation(
      measured=ci[1] if direction == "max" else ci[0], ci=ci, bound=1.0,
      notes=f"{method.upper()} (batch {config['batch_size'] if method == 'sgd' else 'n'}"
      f"), {key} scaled to the bound, max over step sizes per run, interval = "
      f"range over runs that converged (loss < {config['converged_loss']:g}). "
      + rows + ".")


def _plot(config, records, evaluation):
  etas = np.asarray(config["learning_rates"])
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  for ax, key, label in ((axes[0, 0], "trace", r"$\mathrm{Tr}\,H$"),
                         (axes[0, 1], "lambda_max", r"$\lambda_{\max}(H)$")):
    for method, color, marker in (("sgd", figures.PALETTE["measured"], "o"),
                                  ("gd", figures.PALETTE["alternative"], "s")):
      ok = _converged(config, records, method)
      values = _table(config, records, method, key)
      for j, eta in enumerate(etas):
        ax.scatter(np.full(ok[:, j].sum(), eta), values[ok[:, j], j], s=12,
                   marker=marker, color=color, alpha=0.6,
                   label=f"{method.upper()} limits" if j == 0 else None)
    grid = np.geomspace(etas.min() * 0.8, etas.max() * 1.2, 20)
    ax.plot(grid, 2 / grid, "--", color=figures.PALETTE["bound"],
            label=r"$2/\eta$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"learning rate $\eta$")
    ax.set_ylabel(label)
  axes[0, 0].set_title("trace: bounded for SGD (B = 1) only")
  axes[0, 1].set_title("lambda_max: bounded for both")
  axes[0, 0].legend(fontsize=7)
  return fig


_CITATION = theory.Citation(
    arxiv=PAPER.arxiv, version=PAPER.version,
    where="Abstract; main stability theorem (number unverified)",
    verified=False,
    note="Statement read in the abstract [V]; Tr H <= 2/eta for B = 1 derived "
    "from Mulayoff & Michaeli arXiv 2306.07850 eq. (16) [D]; ||beta||_1 <= "
    "1/eta from Tr H = ||u||^2 + ||v||^2 >= 2||beta||_1 for +-1 features [D].")

_EXPERIMENT = "wusu2023.diagonal_net_runs"


def _make(claim_id, statement, measurement, name, latex, relation, evaluate):
  return theory.Claim(
      id=claim_id, paper=PAPER, statement=statement, measurement=measurement,
      bound=theory.Bound(name=name, expression=sympy.Integer(1),
                         statement_latex=latex, citation=_CITATION),
      relation=relation, tolerance=1e-6 if relation is Relation.LE else 0.0,
      tolerance_reason="Converged means loss < 1e-16: the iterate is ~1e-8 "
      "from the limit, whose curvature it matches to ~1e-7 relative."
      if relation is Relation.LE else "",
      config=_config, measure=_measure, evaluate=evaluate, plot=_plot,
      seeds=32, quick_seeds=16, experiment=_EXPERIMENT)


SGD_TRACE = _make(
    "wusu2023.sgd_trace_le_2_over_eta",
    "Minima that SGD with batch size 1 converges to satisfy Tr H <= 2/eta.",
    "eta Tr H / 2 (dense Hessian) at the end of every converged SGD (B = 1) "
    "run on the diagonal net, eta in {0.02, 0.05, 0.1, 0.15}; worst run.",
    "eta Tr H / 2 <= 1", r"\mathrm{Tr}\,\nabla^2 L(\theta_\infty) \le "
    r"\frac{2}{\eta}\quad (B = 1)", Relation.LE,
    lambda c, r, a: _ratio_evaluate(c, r, "sgd", "trace", 0.5, "max"))

SGD_L1 = _make(
    "wusu2023.sgd_l1_le_1_over_eta",
    "On a diagonal linear network with +-1 features, SGD (B = 1) limits have "
    "||beta||_1 <= 1/eta: a larger learning rate regularizes more.",
    "eta ||u * v||_1 at the end of every converged SGD (B = 1) run; worst run.",
    "eta ||beta||_1 <= 1", r"\|\beta_\infty\|_1 \le \frac{1}{\eta}",
    Relation.LE, lambda c, r, a: _ratio_evaluate(c, r, "sgd", "l1", 1.0, "max"))

GD_TRACE_UNCONSTRAINED = _make(
    "wusu2023.gd_trace_not_constrained",
    "GD-stability only constrains lambda_max: GD converges to minima whose "
    "trace exceeds 2/eta (while lambda_max <= 2/eta).",
    "max over step sizes of eta Tr H / 2 at the end of converged full-batch GD "
    "runs on the same problem.",
    "max eta Tr H / 2 over GD limits >= 1",
    r"\exists\ \text{GD limits with } \mathrm{Tr}\,H > \frac{2}{\eta}",
    Relation.GE,
    lambda c, r, a: _ratio_evaluate(c, r, "gd", "trace", 0.5, "min"))



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
  c = relu_spread_constant(np.asarray(landscape.data["x"]),
                           config["spread_directions"])
  records = [{"spread_constant": c, "runs": []} for _ in seeds]
  # One compiled summary for every run's limits (seeds vmapped).
  summary = jax.jit(jax.vmap(lambda p: {
      "loss": landscape.objective(p),
      "trace": jnp.trace(theory.dense_hessian(landscape.objective, p))}))
  for method, eta in config["runs"]:
    result = algorithms.run(
        landscape, algorithms.with_mean_gradient(optax.sgd(eta)), seeds,
        steps=config["steps"], record_every=config["steps"],
        batch_size=1 if method == "sgd" else None)
    stats = summary(jax.tree.map(jnp.asarray, result.final_params))
    for i, record in enumerate(records):
      loss = float(stats["loss"][i])
      row = {"method": method, "learning_rate": eta, "loss": loss,
             "diverged_at": int(result.diverged_at[i])}
      if np.isfinite(loss):
        row |= {"trace": float(stats["trace"][i]),
                "path_norm": path_norm(result.final_params["a"][i],
                                       result.final_params["b"][i])}
      record["runs"].append(row)
  return records


def _relu_rows(config, records):
  return [(r["spread_constant"], row) for r in records for row in r["runs"]
          if row["loss"] < config["converged_loss"]]


def _relu_evaluate(config, records, alpha):
  del alpha  # an inequality at every converged run: the interval is the range
  rows = _relu_rows(config, records)
  if not rows:
    return theory.Evaluation(float("nan"), (float("nan"),) * 2, 1.0,
                             notes="No run converged.")
  ratios = [row["trace"] / (2 * c * row["path_norm"]) for c, row in rows]
  _, ci = theory.range_interval(ratios)
  sgd = [(c, row) for c, row in rows if row["method"] == "sgd"]
  implied = max((row["learning_rate"] * c * row["path_norm"] for c, row in sgd),
                default=float("nan"))
  sgd_trace = max((row["learning_rate"] * row["trace"] / 2 for _, row in sgd),
                  default=float("nan"))
  return theory.Evaluation(
      measured=ci[0], ci=ci, bound=1.0,
      notes=f"Tr H / (2 c path-norm) at {len(rows)} converged runs (loss < "
      f"{config['converged_loss']:g}) of {sum(len(r['runs']) for r in records)}"
      f" (GD and SGD B=1, eta in {sorted({e for _, e in config['runs']})}); "
      f"c = {rows[0][0]:.4f} (minimum over {config['spread_directions']} "
      f"directions: an overestimate, so the check is conservative). SGD runs: "
      f"max eta Tr H / 2 = {sgd_trace:.3f} (stability: <= 1) and max eta c "
      f"path-norm = {implied:.3f} (implied: <= 1).")


def _relu_plot(config, records, evaluation):
  rows = _relu_rows(config, records)
  fig, axes = figures.new_figure()
  ax = axes[0, 0]
  for method, color in (("gd", figures.PALETTE["alternative"]),
                        ("sgd", figures.PALETTE["measured"])):
    pts = np.array([[2 * c * row["path_norm"], row["trace"]] for c, row in rows
                    if row["method"] == method]).reshape(-1, 2)
    ax.scatter(pts[:, 0], pts[:, 1], s=12, color=color,
               label=f"{method.upper()} limits")
  lim = max(ax.get_xlim()[1], ax.get_ylim()[1])
  ax.plot([0, lim], [0, lim], "--", color=figures.PALETTE["bound"],
          label=r"Tr H = 2c $\cdot$ path norm")
  ax.set_xlabel(r"$2c\sum_k |a_k|\,\|b_k\|$")
  ax.set_ylabel(r"$\mathrm{Tr}\,H$ at the limit")
  ax.set_title("two-layer ReLU: trace vs path norm")
  ax.legend(fontsize=7)
  return fig


RELU_TRACE_PATH_NORM = theory.Claim(
    id="wusu2023.relu_trace_ge_2c_path_norm", paper=PAPER,
    statement="For a two-layer ReLU net on unit-norm inputs at an "
    "interpolating minimum, Tr H >= 2c sum_k |a_k| ||b_k|| with c = "
    "min_{||w||=1} (1/n) sum_i relu(w.x_i); with SGD stability this bounds "
    "the path norm by 1/(c eta).",
    measurement="Tr H (dense Hessian) over 2c path-norm at the end of every "
    "converged GD / SGD (B = 1) run on a teacher-labelled ReLU regression "
    "(n = 12, d = 3, width 16); smallest ratio.",
    bound=theory.Bound(
        name="Tr H / (2 c path-norm) >= 1", expression=sympy.Integer(1),
        statement_latex=r"\mathrm{Tr}\,\nabla^2L(\theta) \ge 2c\sum_k|a_k|\,"
        r"\|b_k\|", citation=theory.Citation(
            arxiv=PAPER.arxiv, version=PAPER.version,
            where="Section 4, two-layer ReLU networks (number unverified)",
            verified=False,
            note="Inequality derived in the shared references by AM-GM [D]; "
            "the paper's exact data condition and constants not read [R].")),
    relation=Relation.GE, config=_relu_config, measure=_measure_relu,
    evaluate=_relu_evaluate, plot=_relu_plot, seeds=16, quick_seeds=8,
    experiment="wusu2023.relu_runs")

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
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("u (with v = 1/u)")
  ax.legend()
  return [figures.save_figure(fig, out_dir / "wusu2023_trace_vs_l1.png",
                              data={"t": t[::20].tolist()}, config={})[0]]
