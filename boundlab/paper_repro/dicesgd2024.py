r"""Zhang, Bu, Wu & Hong (ICLR 2024): DiceSGD, private SGD without clipping bias.

Differentially Private SGD Without Clipping Bias: An Error-Feedback Approach,
arXiv 2311.14632 (v2). DiceSGD (Algorithm 1) feeds the clipping error back
through a second clipped channel, so its fixed points are stationary points of
f for any clipping threshold C_1, where DP-SGD with gradient clipping
(DP-SGD-GC) keeps an O(1) bias.

What was confirmed: the abstract ("without the O(1) term caused by clipping",
"arbitrary choice of clipping threshold independent of the problem" [V]);
Algorithm 1 as transcribed by two independent sources [V, secondary]; the
convergence theorem (Theorem 3.7, strongly convex f, per OpenReview) and the
privacy theorem (Theorem 3.8) by number only. The noise calibration sigma_1 of
Theorem 3.8 was not confirmed, so the DP noise below is a stated multiple of
the sensitivity C_1 + C_2 of the released update, not the paper's formula, and
every citation carries ``verified=False``.

Families: a ``TunedComparison`` (equal privacy) and the shared DiceSGD canary
audit. The sweep claims fit none: they bound the norm of a mean vector in
every (problem, C1, z) cell, neither a tuned comparison nor a trend.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from boundlab import algorithms, figures, landscapes, theory
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)
from boundlab.experiments.canary_audit import DICE_AUDIT
from boundlab.experiments.tuned_comparison import TunedComparison
from boundlab.theory import privacy_accounting as accounting

PAPER = Paper(
    key="dicesgd2024",
    title="Differentially Private SGD Without Clipping Bias: An Error-Feedback "
    "Approach", authors="X. Zhang, Z. Bu, Z. S. Wu, M. Hong",
    arxiv="2311.14632", version="v2", venue="ICLR 2024")


def _sweep_config(quick: bool) -> dict:
  # Each problem starts at distance init_distance from x*, direction drawn
  # per seed, so seeds of the noise-free cells are distinct runs.
  return {"problems": {
      "scalar": {"kind": "mean_of_squares", "points": [-3.0, -3.0, 9.0],
                 "init_distance": 1.0, "steps": 100_000 if quick else 400_000},
      "logistic": {"kind": "skewed_logistic_regression", "num_examples": 200,
                   "dim": 5, "init_distance": 1.0,
                   "steps": 20_000 if quick else 80_000}},
          "clip_norms": ([0.01, 0.1, 1.0, 10.0] if quick else
                         [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]),
          "error_clip_ratio": 1.0, "noise_multipliers": [0.0, 1.0],
          "learning_rate": 0.5, "records": 200, "tail_fraction": 0.5}


def _landscape(problem: dict) -> landscapes.Landscape:
  base = (landscapes.mean_of_squares(problem["points"])
          if problem["kind"] == "mean_of_squares" else
          landscapes.skewed_logistic_regression(problem["num_examples"],
                                                problem["dim"]))
  x_star = jnp.asarray(base.constants["optimum"])

  def init(key):
    direction = jax.random.normal(key, x_star.shape)
    return x_star + problem["init_distance"] * direction / jnp.linalg.norm(
        direction)

  return dataclasses.replace(base, init=init)


def _cells(config) -> list[tuple]:
  """(name, problem, C1, z) of every cell, problems outermost."""
  return [(f"{p} C1={c1:g} z={z:g}", p, c1, z) for p in config["problems"]
          for c1 in config["clip_norms"] for z in config["noise_multipliers"]]


def _sweep_measure(config, seeds):
  """Per cell, both methods' tail offsets from x* and DiceSGD's error."""
  eta, ratio = config["learning_rate"], config["error_clip_ratio"]
  c1s, zs = config["clip_norms"], config["noise_multipliers"]
  grid = {"c1": np.repeat(c1s, len(zs)), "z": np.tile(zs, len(c1s))}
  out, diverged = [{"cells": {}} for _ in seeds], []
  for name, problem in config["problems"].items():
    land = _landscape(problem)
    n = len(jax.tree.leaves(land.data)[0])
    every = problem["steps"] // config["records"]
    # DP noise on the averaged update: multiplier z times the sensitivity
    # C1 + C2 of the summed update (as in the authors' code), over B = N.
    makers = {"dice": lambda key, c1, z: algorithms.dice_sgd(
        eta, c1, ratio * c1, noise_std=z * (1 + ratio) * c1 / n, key=key),
              "gc": lambda key, c1, z: algorithms.dp_sgd_gc(eta, c1, z, key)}
    runs = {m: algorithms.run(
        land, make, seeds, steps=problem["steps"], record_every=every,
        metrics=(lambda p, s: {"error": s[0].error}) if m == "dice" else None,
        step_metrics=lambda x, key: {"x": x}, hyperparams=grid)
        for m, make in makers.items()}
    diverged += [r.diverged_at for r in runs.values()]
    errors = runs["dice"].metrics["error"]
    errors = errors.reshape(errors.shape[:3] + (-1,))  # (grid, seeds, R, d)
    norms = np.linalg.norm(errors, axis=-1)
    start = int(round(config["tail_fraction"] * config["records"])) * every
    # The noise-free limit of e: at a fixed point v = 0, so clip(e_bar, C2)
    # = -(1/N) sum_i clip(g_i(x*), C1), of norm <= C1 <= C2: e_bar is that.
    x_star = jnp.asarray(land.constants["optimum"])
    grads = land.per_example_grads(x_star, land.data)
    e_limit = np.repeat([np.atleast_1d(-np.asarray(algorithms.clipped_mean(
        grads, c1))) for c1 in c1s], len(zs), axis=0)        # (grid, d)
    fields = {f"{m}_offset": r.window_average("x", start).reshape(
        errors.shape[:2] + (-1,)) - np.atleast_1d(x_star)
              for m, r in runs.items()}
    fields.update(
        error_final_deviation=np.linalg.norm(
            errors[:, :, -1] - e_limit[:, None], axis=-1),
        error_limit_norm=np.broadcast_to(
            np.linalg.norm(e_limit, axis=-1)[:, None], errors.shape[:2]),
        error_tail_sup=norms[..., -max(1, norms.shape[-1] // 10):].max(-1),
        error_sup=norms.max(-1),
        error_trace=norms[..., ::max(1, norms.shape[-1] // 100)])
    cells = [c[0] for c in _cells(config) if c[1] == name]
    for i, record in enumerate(out):
      record["cells"].update({cell: {k: x[j, i] for k, x in fields.items()}
                              for j, cell in enumerate(cells)})
  first = algorithms.first_divergence(np.stack(diverged), axis=(0, 1))
  return [{**r, "diverged_at": int(d)} for r, d in zip(out, first)]


def _norm_interval(offsets: np.ndarray, alpha: float):
  """||E offset|| and an interval from (seeds, d) samples: coordinate t
  intervals (Bonferroni) bound the norm from both sides; a deterministic
  coordinate (zero spread over seeds) contributes its exact value."""
  _, cis = theory.simultaneous_mean_cis(offsets, alpha)
  exact = (np.ptp(offsets, axis=0) == 0)[:, None]
  lo, hi = np.where(exact, offsets[0][:, None], cis).T
  nearest = np.where((lo <= 0) & (hi >= 0), 0.0,
                     np.minimum(np.abs(lo), np.abs(hi)))
  farthest = np.maximum(np.abs(lo), np.abs(hi))
  return [np.linalg.norm(x) for x in (offsets.mean(0), nearest, farthest)]


def _relative_bias(config, records, method, alpha, keep=lambda c1: True):
  """{cell: (point, lo, hi)} of ||E tail - x*|| / ||x0 - x*||, Bonferroni
  over the kept cells."""
  cells = [c for c in _cells(config) if keep(c[2])]
  return {name: np.divide(_norm_interval(
      records["cells"][name][f"{method}_offset"], alpha / len(cells)),
      config["problems"][problem]["init_distance"])
          for name, problem, _, _ in cells}


def _both(config, records, alpha) -> dict:
  """What the figure draws: both methods, Bonferroni over all cells."""
  return {m: _relative_bias(config, records, m, alpha) for m in ("dice", "gc")}


def _bias_evaluate(method, pick, keep=lambda c1: True, scope=""):
  """``evaluate``: the ``pick`` (max, min) of ``method``'s relative bias."""

  def evaluate(config, records, alpha):
    table = _relative_bias(config, records, method, alpha, keep)
    cell = pick(table, key=lambda name: table[name][0])
    tables = _both(config, records, alpha)
    per_cell = lambda m: ", ".join(f"{name}: {row[0]:.2g}"
                                   for name, row in tables[m].items())
    return Evaluation(
        measured=table[cell][0], tables=tables,
        ci=tuple(pick(row[k] for row in table.values()) for k in (1, 2)),
        notes=f"Relative bias ||mean tail iterate - x*|| / ||x0 - x*|| of "
        f"{method}, {pick.__name__} over {len(table)} cells{scope} ({cell}); "
        "coordinate t-CIs, Bonferroni over these cells and coordinates. "
        f"DiceSGD: {per_cell('dice')}. DP-SGD-GC: {per_cell('gc')}.")

  return evaluate


def _error_evaluate(config, records, alpha):
  del alpha  # deterministic (noise-free) cells: the interval is the range
  cells = records["cells"]
  quiet = [(name, c1) for name, _, c1, z in _cells(config) if z == 0.0]
  per_run = lambda field: np.concatenate([cells[name][field] / c1
                                          for name, c1 in quiet])
  deviations = per_run("error_final_deviation")   # (cell, seed) order
  measured, ci = theory.range_interval(deviations)
  noisy = max(np.max(cells[name]["error_tail_sup"]
                     / (config["error_clip_ratio"] * c1))
              for name, _, c1, z in _cells(config) if z > 0)
  return Evaluation(
      measured=measured, ci=ci,
      notes=f"Noise-free cells, {deviations.size} runs (random initial "
      "directions): ||e_T - e_bar|| / C1 with e_bar = -(1/N) sum_i "
      "clip(g_i(x*), C1); worst "
      f"{quiet[int(np.argmax(deviations)) // len(records)][0]}. Largest "
      f"||e_bar|| / C1 = {per_run('error_limit_norm').max():.3g} (<= 1, so "
      "the feedback ends unclipped); largest transient ||e_t|| / C1 = "
      f"{per_run('error_sup').max():.3g}. With DP noise the tail sup of "
      f"||e_t|| / C2 reaches {noisy:.3g}: the error stays bounded but the "
      "feedback channel saturates at times.")


def _sweep_plot(config, records, evaluation):
  fig, axes = figures.new_figure(ncols=len(config["problems"]), width=7.0)
  for ax, problem in zip(axes[0], config["problems"]):
    for method, color in (("dice", "measured"), ("gc", "alternative")):
      for z, marker in zip(config["noise_multipliers"], "os"):
        point, lo, hi = np.array([
            evaluation.tables[method][name] for name, p, _, cell_z
            in _cells(config) if p == problem and cell_z == z]).T
        ax.errorbar(config["clip_norms"], np.maximum(point, 1e-8),
                    yerr=np.maximum([point - lo, hi - point], 0), capsize=2,
                    fmt=marker + ("-" if z == 0 else "--"), markersize=4,
                    color=figures.PALETTE[color], label=f"{method}, z={z:g}")
    ax.set(xscale="log", yscale="log", title=problem,
           xlabel="clip threshold C1 (C2 = C1)")
  axes[0, 0].set_ylabel(r"$\|\bar x - x^\star\| / \|x_0 - x^\star\|$"
                        "\n(values below 1e-8 drawn at 1e-8)")
  fig.legend(*axes[0, 0].get_legend_handles_labels(), ncols=4, fontsize=7,
             loc="outside lower center", title_fontsize=7,
             title="dice: DiceSGD, gc: DP-SGD-GC; Bonferroni over all cells")
  return fig


def _error_plot(config, records, evaluation):
  fig, axes = figures.new_figure(ncols=len(config["problems"]), width=7.0)
  for ax, problem in zip(axes[0], config["problems"]):
    for name, p, c1, z in _cells(config):
      if p == problem and z == 0.0:
        trace = records["cells"][name]["error_trace"][0] / c1    # seed 0
        ax.plot(np.linspace(0, 1, len(trace)), np.maximum(trace, 1e-12),
                label=f"C1={c1:g}")
    figures.horizontal_reference(ax, 1.0, label=r"$\|e\| = C_1$")
    ax.set(yscale="log", xlabel="fraction of the run",
           title=f"{problem}, no DP noise")
  axes[0, 0].set_ylabel(r"$\|e_t\| / C_1$")
  axes[0, 0].legend(fontsize=7)
  return fig


# The three claims read one sweep, cached once.
SWEEP = Experiment("dicesgd2024.clip_sweep", _sweep_config, _sweep_measure,
                   seeds=24, quick_seeds=12)

NO_CLIPPING_BIAS = Claim(
    id="dicesgd2024.no_clipping_bias", paper=PAPER,
    statement="DiceSGD has no constant clipping bias for any threshold: for C1 "
    "in {0.01, 0.1, 1, 10} (quick; 7 values in full mode), with and without "
    "DP noise, its tail-averaged iterate is centred at the minimiser.",
    measurement="||mean over seeds of the tail-averaged iterate - x*|| / "
    "||x0 - x*|| for DiceSGD (C2 = C1, eta = 0.5, full batch) on the 1-D stall "
    "instance and a skewed logistic regression, DP noise std z (C1 + C2)/N "
    "with z in {0, 1}; worst cell.",
    bound=Bound(
        name="relative bias = 0 (no O(1) clipping term)", expression=0,
        statement_latex=r"\|\mathbb E\,\bar x_T - x^\star\| \to 0 \quad "
        r"\forall C_1",
        citation=PAPER.cite(
            "Abstract; Theorem 3.7 (convergence, strongly convex f) by number "
            "only",
            "'Without the O(1) term caused by clipping' and 'arbitrary choice "
            "of clipping threshold' read in the abstract [V]; Theorem 3.7's "
            "hypotheses (strong convexity, bounded per-example deviation) "
            "known from reviews; its constants were not read, so no rate is "
            "checked, only the absence of a constant bias.")),
    relation=Relation.LE, tolerance=0.05,
    tolerance_reason="The guarantee is asymptotic; at finite eta and T an "
    "O(eta) + O(1/sqrt(T)) residual remains. 5% of the initial distance is a "
    "round threshold fixed when the claim was written: an O(1) clipping bias "
    "is a sizeable fraction of the distance travelled.",
    experiment=SWEEP, evaluate=_bias_evaluate("dice", max), plot=_sweep_plot)

GC_KEEPS_BIAS = Claim(
    id="dicesgd2024.gc_keeps_bias", paper=PAPER,
    statement="DP-SGD with gradient clipping keeps an O(1) bias when C1 is "
    "below the per-example gradient scale, with or without DP noise.",
    measurement="Relative bias of DP-SGD-GC's tail-averaged iterate on the "
    "same cells, smallest over C1 <= 1.",
    bound=Bound(
        name="relative bias >= 0.05 (the DiceSGD threshold)", expression=0.05,
        statement_latex=r"\|\mathbb E\,\bar x^{GC}_T - x^\star\| = \Theta(1)",
        citation=PAPER.cite(
            "Section 1 (motivation: the clipping bias of DP-SGD-GC)",
            "Stated in the abstract and introduction [V]; the threshold is "
            "the DiceSGD claim's tolerance, not a paper constant.")),
    relation=Relation.GE, experiment=SWEEP, plot=_sweep_plot,
    evaluate=_bias_evaluate("gc", min, lambda c1: c1 <= 1.0, " with C1 <= 1"))

ERROR_STATE_BOUNDED = Claim(
    id="dicesgd2024.error_state_bounded", paper=PAPER,
    statement="The hidden error state stays bounded: without DP noise it "
    "converges to e_bar = -(1/N) sum_i clip(g_i(x*), C1), of norm <= C1 <= C2, "
    "so the error feedback ends unclipped.",
    measurement="||e_T - e_bar|| / C1 at the end of every noise-free run (both "
    "problems, every C1, random initial directions); worst run.",
    bound=Bound(
        name="||e_T - e_bar|| / C1 = 0", expression=0,
        statement_latex=r"e^t \to \bar e = -\frac{1}{N}\sum_i "
        r"\mathrm{clip}(g_i(x^\star), C_1),\quad \|\bar e\| \le C_1",
        citation=PAPER.cite(
            "Algorithm 1 and its fixed-point argument (Section 3)",
            "Algorithm 1 [V, secondary transcriptions]; the limit e_bar "
            "follows from the e-recursion at a fixed point [D].")),
    relation=Relation.APPROX, tolerance=1e-6,
    tolerance_reason="Finite-T residual of a noise-free recursion that "
    "converges geometrically once x is near x*: 1e-6 C1 is far above float64 "
    "rounding and far below the O(C1) size of e_bar.",
    experiment=SWEEP, evaluate=_error_evaluate, plot=_error_plot)


def _equal_epsilon_config(quick: bool) -> dict:
  return {"num_examples": 200, "dim": 5, "sampling_rate": 0.1,
          "epochs": 50 if quick else 200, "target_epsilon": 2.0,
          "delta": 1e-5, "error_clip_ratio": 1.0,
          "clip_norms": ([0.01, 0.1, 1.0, 10.0] if quick else
                         [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]),
          "base_learning_rates": [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1],
          "records": 50, "tail_fraction": 0.25}


def _equal_epsilon_measure(config, seeds):
  """Per method, the tail-averaged excess loss at every (C, lr0)."""
  land = landscapes.skewed_logistic_regression(config["num_examples"],
                                               config["dim"])
  q, ratio, epochs = (config["sampling_rate"], config["error_clip_ratio"],
                      config["epochs"])
  batch, per_epoch = q * config["num_examples"], int(round(1 / q))
  steps, target = epochs * per_epoch, (config["target_epsilon"],
                                       config["delta"])
  # Both by the PLD accountant so that "equal epsilon" means one accountant;
  # the code itself uses its library's RDP accountant (about 8% more noise).
  noise = {"steps": steps, "gc": accounting.calibrate_noise_multiplier(
      *target, lambda s: accounting.dp_sgd_event(s, steps, sampling_rate=q)),
           "dice": accounting.dice_sgd_code_noise_multiplier(
               *target, sampling_rate=q, epochs=epochs, accountant="pld",
               steps_per_epoch=per_epoch, error_clip_ratio=ratio)}
  # Learning rate lr0 / C as in the authors' code. DiceSGD as the code runs
  # it: the *summed* error clipped to r C and noise z C on the sum, i.e. on
  # Algorithm 1's averaged scale r C / (qN) and z C / (qN).
  makers = {"dice": lambda key, c, lr0: algorithms.dice_sgd(
      lr0 / c, c, ratio * c / batch, key=key, sampling_rate=q,
      noise_std=noise["dice"] * c / batch),
            "gc": lambda key, c, lr0: algorithms.dp_sgd_gc(
                lr0 / c, c, noise["gc"], key, sampling_rate=q)}
  clips, lrs = config["clip_norms"], config["base_learning_rates"]
  start = int(round((1 - config["tail_fraction"]) * (config["records"] + 1)))
  # A diverging (C, lr0) point is a losing grid point, not an outcome of the
  # claim: it is recorded per grid point and never selected.
  out = [{"noise_multipliers": noise, "diverged_at": -1} for _ in seeds]
  for name, make in makers.items():
    result = algorithms.run(
        land, make, list(seeds), steps=steps,
        record_every=steps // config["records"], batch_size=int(round(batch)),
        sampling="poisson", hyperparams={"c": np.repeat(clips, len(lrs)),
                                         "lr0": np.tile(lrs, len(clips))},
        metrics=lambda p, s: {"excess": land.objective(p)
                              - land.constants["optimal_value"]})
    for record, view in zip(out, result.seeds()):
      record[name] = {k: x.reshape(len(clips), len(lrs)) for k, x in (
          ("excess_loss", view.metrics["excess"][:, start:].mean(-1)),
          ("grid_diverged_at", view.diverged_at))}
  return out


COMPARISON = TunedComparison(methods=("dice", "gc"), groups="clip_norms",
                             grid="base_learning_rates", score="excess_loss")


def _equal_epsilon_notes(config, records) -> str:
  z = {k: x[0] for k, x in records["noise_multipliers"].items()}
  return (f"Tail: the last {config['tail_fraction']:g} of {config['records']} "
          f"records; lr = lr0/C. Equal (epsilon, delta) = "
          f"({config['target_epsilon']:g}, {config['delta']:g}), Poisson q = "
          f"{config['sampling_rate']}, {int(z['steps'])} steps: z = "
          f"{z['gc']:.3f} (DP-SGD-GC, PLD) and {z['dice']:.3f} (DiceSGD, code "
          f"recipe, PLD, C2/C1 = {config['error_clip_ratio']:g}).")


EQUAL_EPSILON = Claim(
    id="dicesgd2024.lower_loss_than_gc_at_equal_epsilon", paper=PAPER,
    statement="At the same (epsilon, delta), DiceSGD reaches a loss no worse "
    "than DP-SGD with gradient clipping for every clip norm C in [0.01, 10].",
    measurement="Skewed logistic regression (N = 200, d = 5), Poisson "
    "sampling q = 0.1, (2, 1e-5); DP-SGD-GC noise by the PLD accountant, "
    "DiceSGD noise by its official code's recipe (C2 = C1, same PLD "
    "accountant); lr = lr0/C with lr0 tuned per method and C on separate "
    "seeds; largest mean log10 loss ratio over C.",
    bound=Bound(
        name="log10(loss_DiceSGD / loss_GC) <= 0 for every C", expression=0,
        statement_latex=r"\max_C \log_{10}\frac{f(x^{\mathrm{Dice}}_T) - "
        r"f^\star}{f(x^{\mathrm{GC}}_T) - f^\star} \le 0",
        citation=PAPER.cite(
            "Abstract and Section 4 (experiments at the same DP guarantee)",
            "The headline claim as stated in the abstract [V]; the noise "
            "calibration is the official code's (246fcd2) because the privacy "
            "theorem (Theorem 3.8) could not be read.")),
    relation=Relation.LE,
    experiment=Experiment("dicesgd2024.lower_loss_than_gc_at_equal_epsilon",
                          _equal_epsilon_config, _equal_epsilon_measure,
                          seeds=16, quick_seeds=8),
    evaluate=COMPARISON.evaluate_log_ratio("dice", "gc",
                                           notes=_equal_epsilon_notes),
    plot=COMPARISON.plot)

CANARY_EPSILON = Claim(
    id="dicesgd2024.code_noise_covers_worst_case_canary", paper=PAPER,
    statement="With the noise its official code calibrates for (epsilon, "
    "delta) = (2, 1e-5), DiceSGD's releases are (2, 1e-5)-DP; in particular "
    "a worst-case gradient canary's releases have epsilon <= 2.",
    measurement="Full-batch DiceSGD, C2/C1 in {1, 3}, T in {1, 2, 5, 20}: "
    "Gaussian-DP mu of the canary's Neyman-Pearson score from simulated "
    "trials, its epsilon at delta = 1e-5 over 2; largest over cells.",
    bound=Bound(
        name="epsilon(canary releases) / stated epsilon <= 1", expression=1,
        statement_latex=r"\varepsilon_{\mathrm{canary}}(\delta) \le "
        r"\varepsilon_{\mathrm{stated}}",
        citation=PAPER.cite(
            "Theorem 3.8 (privacy; not read), as calibrated by the official "
            "code",
            "Noise recipe read in github.com/564612540/DiceSGD at 246fcd2 "
            "[V]: sigma(E floor(ln E + 1) epochs) sqrt(1 + 2 C2/C1) on the "
            "summed update, error clipped to C2 on the sum. The canary's "
            "per-step sensitivity C1 + C2 exceeds the sqrt(C1^2 + 2 C1 C2) "
            "that recipe covers [D].")),
    relation=Relation.LE, experiment=DICE_AUDIT.experiment,
    evaluate=DICE_AUDIT.evaluate_gdp_epsilon, plot=DICE_AUDIT.plot_gdp_epsilon)

CLAIMS = (NO_CLIPPING_BIAS, GC_KEEPS_BIAS, ERROR_STATE_BOUNDED, EQUAL_EPSILON,
          CANARY_EPSILON)


def example_figures(out_dir, quick: bool = True):
  """Trajectories of x_t and e_t on the stall instance, GC vs DiceSGD."""
  config = {"points": [-3.0, -3.0, 9.0], "clip_norm": 1.0, "eta": 0.1,
            "steps": 4000 if quick else 20000}
  land = landscapes.mean_of_squares(config["points"], init=5.0)
  fig, axes = figures.new_figure(ncols=2, width=7.0)
  data = {}
  for label, optimizer, metrics, color in (
      ("DP-SGD-GC", algorithms.dp_sgd_gc(0.1, 1.0), lambda p, s: {"x": p},
       "alternative"),
      ("DiceSGD", algorithms.dice_sgd(0.1, 1.0, 1.0),
       lambda p, s: {"x": p, "e": s[0].error}, "measured")):
    result = algorithms.run(land, optimizer, [0], steps=config["steps"],
                            record_every=10, metrics=metrics)
    data[label] = {k: x[0][::10].tolist() for k, x in result.metrics.items()}
    for ax, key in zip(axes[0], ("x", "e")):
      if key in result.metrics:
        ax.plot(result.record_steps, result.metrics[key][0], label=label,
                color=figures.PALETTE[color])
  figures.horizontal_reference(axes[0, 0], 1.0, label="x* = 1",
                               color=figures.PALETTE["reference"], style=":")
  figures.horizontal_reference(axes[0, 0], -2.5, label="clipped fixed point")
  for ax, name in zip(axes[0], ("x_t", "DiceSGD error e_t")):
    ax.set(xlabel="step", ylabel=name)
    ax.legend()
  return [figures.save_figure(fig, out_dir / "dicesgd2024_trajectories.png",
                              data=data, config=config, seeds=[0])[0]]
