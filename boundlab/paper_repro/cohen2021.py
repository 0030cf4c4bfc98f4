r"""Cohen et al. (ICLR 2021): the maximum stable sharpness of GD and momentum.

Gradient Descent on Neural Networks Typically Occurs at the Edge of Stability,
arXiv 2103.00065. The starting point of the paper: gradient descent with step
:math:`\eta` cannot converge to a minimum whose sharpness
:math:`\lambda_{\max}(\nabla^2 L)` exceeds :math:`2/\eta` (linear instability;
also Mulayoff & Michaeli, arXiv 2306.07850, Theorem 1), and with momentum the
threshold becomes :math:`(2+2\beta)/\eta` (heavy ball) or
:math:`(2+2\beta)/(\eta(1+2\beta))` (Nesterov).

Checked on :math:`L(x, y) = \tfrac12(xy-1)^2`, whose minima have every
sharpness :math:`x^2 + 1/x^2 \ge 2`: from random starts, every run that
converges must end at a minimum no sharper than the threshold. The thresholds
are derived from optax's recurrences in the tests (companion matrices); the
paper's appendix statement of the momentum thresholds was not read, so the
citations carry ``verified=False``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import sympy

from boundlab import algorithms, figures, landscapes, theory
from boundlab.theory import Relation

PAPER = theory.Paper(
    key="cohen2021",
    title="Gradient Descent on Neural Networks Typically Occurs at the Edge of "
    "Stability",
    authors="J. M. Cohen, S. Kaur, Y. Li, J. Z. Kolter, A. Talwalkar",
    arxiv="2103.00065", version="v3", venue="ICLR 2021")

_LEARNING_RATES = {"gd": [0.1, 0.25, 0.5, 0.8],
                   "heavy_ball": [0.2, 0.5, 1.0, 1.5],
                   "nesterov": [0.07, 0.17, 0.35, 0.5]}
_MOMENTUM = 0.9
# A run counts as converged when its loss is below this at the end: the
# iterate is then within ~1e-8 of the minimum set, where the sharpness is
# Lipschitz, so its Hessian is that of the limit to ~1e-7 relative.
_CONVERGED_LOSS = 1e-16


def _optimizer(method: str, eta: float) -> optax.GradientTransformation:
  momentum = None if method == "gd" else _MOMENTUM
  return algorithms.with_mean_gradient(optax.sgd(
      eta, momentum=momentum, nesterov=method == "nesterov"))


def _config(method: str, quick: bool) -> dict:
  return {"method": method, "learning_rates": _LEARNING_RATES[method],
          "momentum": 0.0 if method == "gd" else _MOMENTUM,
          "steps": 4000 if quick else 20000, "init_radius": 2.5,
          "converged_loss": _CONVERGED_LOSS}


def _measure(config, seeds):
  landscape = landscapes.product_toy(config["init_radius"])
  out = {s: {"sharpness": [], "loss": [], "run_diverged_at": []} for s in seeds}
  sharpness = lambda p: theory.top_eigenvalue_dense(
      theory.dense_hessian(landscape.objective, p))
  for eta in config["learning_rates"]:
    result = algorithms.run(landscape, _optimizer(config["method"], eta), seeds,
                            steps=config["steps"], record_every=config["steps"])
    final = jnp.asarray(result.final_params)
    sharp = np.asarray(jax.vmap(sharpness)(final))
    loss = np.asarray(jax.vmap(landscape.objective)(final))
    for i, s in enumerate(seeds):
      out[s]["sharpness"].append(float(sharp[i]))
      out[s]["loss"].append(float(loss[i]))
      # Divergence from a bad start is one of the outcomes this claim sorts
      # runs into, not a failure of the experiment: kept apart from the
      # runner's "diverged_at".
      out[s]["run_diverged_at"].append(int(result.diverged_at[i]))
  return [out[s] for s in seeds]


def _arrays(config, records):
  thresholds = np.array([algorithms.max_stable_sharpness(
      config["method"], eta, config["momentum"])
      for eta in config["learning_rates"]])
  sharp = np.array([r["sharpness"] for r in records])
  loss = np.array([r["loss"] for r in records])
  converged = np.isfinite(loss) & (loss < config["converged_loss"])
  return thresholds, sharp, converged, np.array(
      [r["run_diverged_at"] for r in records]) >= 0


def _evaluate(config, records, alpha):
  del alpha  # deterministic runs from random starts: the interval is the range
  thresholds, sharp, converged, diverged = _arrays(config, records)
  ratios = (sharp / thresholds[None, :])[converged]
  if ratios.size == 0:
    return theory.Evaluation(measured=float("nan"), ci=(float("nan"),) * 2,
                             bound=1.0, notes="No run converged.")
  measured, ci = theory.range_interval(ratios)
  rows = []
  for j, eta in enumerate(config["learning_rates"]):
    ok = converged[:, j]
    top = f"{sharp[ok, j].max():.4g}" if ok.any() else "none"
    rows.append(f"eta={eta:g}: {int(ok.sum())} converged (max sharpness {top} "
                f"vs threshold {thresholds[j]:.4g}), {int(diverged[:, j].sum())} "
                f"diverged, {int((~ok & ~diverged[:, j]).sum())} still moving")
  per_eta = "; ".join(rows)
  return theory.Evaluation(
      measured=ci[1], ci=ci, bound=1.0,
      notes=f"{config['method']}, momentum {config['momentum']:g}: sharpness "
      "of the limit / maximum stable sharpness over converged runs (loss < "
      f"{config['converged_loss']:g}); interval = range over runs. {per_eta}.")


def _plot(config, records, evaluation):
  thresholds, sharp, converged, _ = _arrays(config, records)
  fig, axes = figures.new_figure()
  ax = axes[0, 0]
  for j, eta in enumerate(config["learning_rates"]):
    ok = converged[:, j]
    ax.scatter(np.full(ok.sum(), thresholds[j]), sharp[ok, j], s=10,
               color=figures.PALETTE["measured"], alpha=0.6,
               label="limit of a converged run" if j == 0 else None)
  grid = np.linspace(min(thresholds) * 0.9, max(thresholds) * 1.05, 10)
  ax.plot(grid, grid, "--", color=figures.PALETTE["bound"],
          label="maximum stable sharpness")
  ax.axhline(2.0, color=figures.PALETTE["neutral"], linewidth=0.8,
             label="flattest minimum (2)")
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("maximum stable sharpness of the method at its step size")
  ax.set_ylabel(r"$\lambda_{\max}$ at the limit")
  ax.set_title(f"{config['method']} on (xy - 1)^2 / 2")
  ax.legend()
  return fig


def _claim(method: str, statement: str, threshold_latex, where: str):
  thresholds = {"gd": "2/eta", "heavy_ball": "(2 + 2 beta)/eta",
                "nesterov": "(2 + 2 beta)/(eta (1 + 2 beta))"}
  return theory.Claim(
      id=f"cohen2021.{method}_sharpness_at_convergence", paper=PAPER,
      statement=statement,
      measurement=f"lambda_max of the Hessian at the end of every converged "
      f"{method} run on (xy - 1)^2/2 from uniform starts in [-2.5, 2.5]^2, "
      f"four step sizes, divided by {thresholds[method]}; worst run.",
      bound=theory.Bound(
          name=f"lambda_max(limit) / ({thresholds[method]}) <= 1",
          expression=sympy.Integer(1),
          statement_latex=r"\lambda_{\max}(\nabla^2 L(\theta_\infty)) \le "
          + threshold_latex,
          citation=theory.Citation(
              arxiv=PAPER.arxiv, version=PAPER.version, where=where,
              verified=False,
              note="GD threshold 2/eta: Mulayoff & Michaeli arXiv 2306.07850 "
              "Thm 1 [V per shared references]; momentum thresholds recalled "
              "from the paper's appendix [R] and derived here from optax's "
              "companion matrices [D, tests/test_momentum_thresholds.py].")),
      relation=Relation.LE, tolerance=1e-6,
      tolerance_reason="Runs count as converged at loss < 1e-16, i.e. within "
      "~1e-8 of the minimum set; the sharpness there differs from the limit's "
      "by ~1e-7 relative.",
      config=lambda quick: _config(method, quick), measure=_measure,
      evaluate=_evaluate, plot=_plot, seeds=64, quick_seeds=32)


GD_SHARPNESS = _claim(
    "gd", "Gradient descent with step eta only converges to minima of "
    "sharpness at most 2/eta.", r"\frac{2}{\eta}",
    "Section 1-2 (linear stability of GD); cf. arXiv 2306.07850 Theorem 1")
HEAVY_BALL_SHARPNESS = _claim(
    "heavy_ball", "Heavy-ball momentum with step eta and momentum beta only "
    "converges to minima of sharpness at most (2 + 2 beta)/eta.",
    r"\frac{2+2\beta}{\eta}", "Appendix (momentum), number unverified")
NESTEROV_SHARPNESS = _claim(
    "nesterov", "Nesterov momentum only converges to minima of sharpness at "
    "most (2 + 2 beta)/(eta (1 + 2 beta)).",
    r"\frac{2+2\beta}{\eta(1+2\beta)}", "Appendix (momentum), number "
    "unverified")



# ---------------------------------------------------------------------------
# Progressive sharpening and the edge of stability (Chebyshev regression).
# ---------------------------------------------------------------------------

_EOS_BAND = (0.85, 1.15)   # lambda_max / (2/eta), declared before running
_EOS_FRACTION = 0.8        # "most late steps"


def sharpness(loss_fn, params, num_iters: int = 20):
  """lambda_max of the Hessian of ``loss_fn`` at ``params`` by Lanczos (jittable)."""
  matvec, dim = theory.flat_hvp(loss_fn, params)
  return theory.top_eigenvalues(matvec, dim, num_iters=min(num_iters, dim),
                                start=jnp.ones((dim,)))[0]


def _eos_config(quick: bool) -> dict:
  return {"landscape": "chebyshev", "degree": 3, "learning_rates": [0.2, 0.4],
          "steps": 10_000 if quick else 20_000, "record_every": 50,
          "lanczos_iters": 20, "band": list(_EOS_BAND),
          "fraction": _EOS_FRACTION}


def _deep_linear_config(quick: bool) -> dict:
  # Step sizes put 2/eta above every initial sharpness seen at this size
  # (quick: 440-780; full: 2900-6300 over 8 inits), so reaching 2/eta needs
  # progressive sharpening. Quick mode is the same setting at depth 10,
  # width 25.
  size = {"depth": 10, "width": 25} if quick else {"depth": 20, "width": 50}
  return {"landscape": "deep_linear", **size,
          "learning_rates": [2 / 2500, 2 / 1500] if quick
          else [2 / 15_000, 2 / 10_000],
          "steps": 3000 if quick else 6000, "record_every": 50,
          "lanczos_iters": 20, "band": list(_EOS_BAND),
          "fraction": _EOS_FRACTION}


def _eos_landscape(config):
  if config["landscape"] == "chebyshev":
    return landscapes.chebyshev_regression(config["degree"])
  return landscapes.deep_linear_network(config["depth"], config["width"],
                                        config["width"])


def _eos_measure(config, seeds):
  landscape = _eos_landscape(config)
  out = {s: {"sharpness": [], "loss": [], "diverged_at": -1} for s in seeds}
  metrics = lambda p, state: {
      "sharpness": sharpness(landscape.objective, p, config["lanczos_iters"]),
      "loss": landscape.objective(p)}
  for eta in config["learning_rates"]:
    result = algorithms.run(
        landscape, algorithms.with_mean_gradient(optax.sgd(eta)), seeds,
        steps=config["steps"], record_every=config["record_every"],
        metrics=metrics)
    for i, s in enumerate(seeds):
      out[s]["sharpness"].append(result.metrics["sharpness"][i].tolist())
      out[s]["loss"].append(result.metrics["loss"][i].tolist())
      out[s]["diverged_at"] = int(algorithms.first_divergence(
          [out[s]["diverged_at"], result.diverged_at[i]]))
  return [out[s] for s in seeds]


def _eos_statistics(config, records):
  """Per (seed, eta): gap closed by sharpening, fraction of late steps in band."""
  closed, in_band, reached = [], [], []
  for r in records:
    row_closed, row_band, row_reached = [], [], []
    for eta, trace in zip(config["learning_rates"], r["sharpness"]):
      s = np.asarray(trace) * eta / 2           # in units of 2/eta
      row_closed.append((s.max() - s[0]) / (1 - s[0]))
      hits = np.flatnonzero(s >= config["band"][0])
      row_reached.append(int(hits[0]) * config["record_every"]
                         if hits.size else -1)
      late = s[hits[0]:] if hits.size else np.array([])
      row_band.append(float(np.mean((late >= config["band"][0]) &
                                    (late <= config["band"][1])))
                      if late.size else 0.0)
    closed.append(row_closed)
    in_band.append(row_band)
    reached.append(row_reached)
  return np.array(closed), np.array(in_band), np.array(reached)


def _sharpening_evaluate(config, records, alpha):
  closed, _, reached = _eos_statistics(config, records)
  worst, measured, ci = theory.extreme_mean_ci(closed, alpha, which="min")
  return theory.Evaluation(
      measured=measured, ci=ci, bound=0.9,
      notes="Fraction of the gap between the initial sharpness and 2/eta "
      "closed by full-batch GD (max over the run), t-CI over seeds, Bonferroni "
      "over step sizes; worst eta = "
      f"{config['learning_rates'][worst]}. Mean first step with sharpness >= "
      f"{config['band'][0]:g} x 2/eta: " + ", ".join(
          f"eta={eta:g}: {reached[:, j][reached[:, j] >= 0].mean():.0f}"
          if (reached[:, j] >= 0).any() else f"eta={eta:g}: never"
          for j, eta in enumerate(config["learning_rates"])) + ".")


def _eos_evaluate(config, records, alpha):
  _, in_band, _ = _eos_statistics(config, records)
  _, measured, ci = theory.extreme_mean_ci(in_band, alpha, which="min")
  return theory.Evaluation(
      measured=measured, ci=ci, bound=config["fraction"],
      notes=f"Fraction of evaluations (every {config['record_every']} steps, "
      "Lanczos, 20 iterations) after sharpness first reaches "
      f"{config['band'][0]:g} x 2/eta that lie in [{config['band'][0]:g}, "
      f"{config['band'][1]:g}] x 2/eta; t-CI over seeds, Bonferroni over step "
      "sizes. Per eta: " + ", ".join(
          f"eta={eta:g}: {in_band[:, j].mean():.3f}"
          for j, eta in enumerate(config["learning_rates"])) + ".")


def _eos_plot(config, records, evaluation):
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  steps = np.arange(len(records[0]["sharpness"][0])) * config["record_every"]
  for j, (eta, color) in enumerate(zip(
      config["learning_rates"],
      (figures.PALETTE["measured"], figures.PALETTE["alternative"]))):
    sharp = np.array([r["sharpness"][j] for r in records])
    loss = np.array([r["loss"][j] for r in records])
    figures.band(axes[0, 0], steps, sharp, label=f"eta = {eta:g}", color=color)
    axes[0, 0].axhline(2 / eta, color=color, linestyle="--", linewidth=1.0)
    axes[0, 0].axhspan(config["band"][0] * 2 / eta, config["band"][1] * 2 / eta,
                       color=color, alpha=0.08)
    figures.band(axes[0, 1], steps, loss, label=f"eta = {eta:g}", color=color,
                 log=True)
  axes[0, 0].set_xlabel("step")
  axes[0, 0].set_ylabel(r"$\lambda_{\max}$ (dashed: 2/eta; shaded: band)")
  axes[0, 0].legend()
  axes[0, 1].set_xlabel("step")
  axes[0, 1].set_ylabel("training loss")
  axes[0, 0].set_title(
      "Chebyshev regression, full-batch GD" if config["landscape"] ==
      "chebyshev" else f"{config['depth']}-layer deep linear net, full-batch GD")
  return fig


_EOS_CITATION = theory.Citation(
    arxiv=PAPER.arxiv, version=PAPER.version,
    where="Section 3 (progressive sharpening, edge of stability); synthetic "
    "Chebyshev setting from the authors' code",
    verified=False,
    note="Phenomena stated in the abstract/README [V, shared references]; the "
    "band [0.85, 1.15] x 2/eta and 'most' = 80% of late evaluations are our "
    "operationalisation, declared before running, not the paper's numbers.")

# Both claims read the same runs, cached once.
_EOS_EXPERIMENT = "cohen2021.chebyshev_gd_runs"

PROGRESSIVE_SHARPENING = theory.Claim(
    id="cohen2021.progressive_sharpening", paper=PAPER,
    statement="Under full-batch GD the sharpness rises during training until "
    "it reaches 2/eta (progressive sharpening).",
    measurement="lambda_max (Lanczos) every 50 steps of GD on Chebyshev "
    "regression (degree 3, 1-100-1 tanh net), eta in {0.2, 0.4}; fraction of "
    "the gap from the initial sharpness to 2/eta that is closed.",
    bound=theory.Bound(
        name="(max_t lambda_max(t) - lambda_0) / (2/eta - lambda_0) >= 0.9",
        expression=sympy.Rational(9, 10),
        statement_latex=r"\lambda_{\max}(\theta_t) \uparrow \frac{2}{\eta}",
        citation=_EOS_CITATION),
    relation=Relation.GE, config=_eos_config, measure=_eos_measure,
    evaluate=_sharpening_evaluate, plot=_eos_plot, seeds=8, quick_seeds=4,
    experiment=_EOS_EXPERIMENT)

EDGE_OF_STABILITY = theory.Claim(
    id="cohen2021.edge_of_stability", paper=PAPER,
    statement="Once the sharpness reaches 2/eta, GD keeps it hovering around "
    "2/eta instead of diverging (edge of stability); the loss, shown in the "
    "figure, keeps falling non-monotonically.",
    measurement="Fraction of the evaluations after the sharpness first "
    "reaches 0.85 x 2/eta that lie within [0.85, 1.15] x 2/eta (same runs).",
    bound=theory.Bound(
        name="late fraction within [0.85, 1.15] x 2/eta >= 0.8",
        expression=sympy.Rational(4, 5),
        statement_latex=r"\lambda_{\max}(\theta_t) \approx \frac{2}{\eta} "
        r"\text{ for most late } t",
        citation=_EOS_CITATION),
    relation=Relation.GE, config=_eos_config, measure=_eos_measure,
    evaluate=_eos_evaluate, plot=_eos_plot, seeds=8, quick_seeds=4,
    experiment=_EOS_EXPERIMENT)

_DEEP_LINEAR_EXPERIMENT = "cohen2021.deep_linear_gd_runs"

DEEP_LINEAR_SHARPENING = dataclasses.replace(
    PROGRESSIVE_SHARPENING, id="cohen2021.deep_linear_progressive_sharpening",
    measurement="lambda_max (Lanczos) every 50 steps of GD on the deep linear "
    "net (20 layers of 50 x 50 on Cohen et al.'s linear teacher; quick: 10 x "
    "25), two step sizes with 2/eta above the initial sharpness; fraction of "
    "the gap to 2/eta closed.",
    config=_deep_linear_config, experiment=_DEEP_LINEAR_EXPERIMENT)

DEEP_LINEAR_EDGE_OF_STABILITY = dataclasses.replace(
    EDGE_OF_STABILITY, id="cohen2021.deep_linear_edge_of_stability",
    measurement="Fraction of the evaluations after the sharpness first "
    "reaches 0.85 x 2/eta that lie within [0.85, 1.15] x 2/eta (deep linear "
    "runs).",
    config=_deep_linear_config, experiment=_DEEP_LINEAR_EXPERIMENT)

CLAIMS = (GD_SHARPNESS, HEAVY_BALL_SHARPNESS, NESTEROV_SHARPNESS,
          PROGRESSIVE_SHARPENING, EDGE_OF_STABILITY, DEEP_LINEAR_SHARPENING,
          DEEP_LINEAR_EDGE_OF_STABILITY)


def example_figures(out_dir, quick: bool = True):
  """The sharpness x^2 + 1/x^2 along the minimum set, with the GD thresholds."""
  x = np.geomspace(0.2, 5.0, 400)
  fig, axes = figures.new_figure()
  ax = axes[0, 0]
  ax.plot(x, x**2 + 1 / x**2, color=figures.PALETTE["measured"],
          label=r"$\lambda_{\max}$ at the minimum $(x, 1/x)$")
  for eta in _LEARNING_RATES["gd"]:
    ax.axhline(2 / eta, color=figures.PALETTE["bound"], linestyle=":",
               linewidth=0.9)
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("x")
  ax.set_title("Minima of (xy-1)^2/2 and GD thresholds 2/eta (dotted)")
  ax.legend()
  return [figures.save_figure(fig, out_dir / "cohen2021_minimum_sharpness.png",
                              data={"x": x[::20].tolist()},
                              config={"learning_rates": _LEARNING_RATES["gd"]})[0]]
