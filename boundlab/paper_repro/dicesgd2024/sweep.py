"""DiceSGD, the four sweep claims: over problems x C1 x DP noise, DiceSGD's
tail iterate is centred at x*, DP-SGD-GC's is not, DiceSGD's error state does
not grow under DP noise, and without noise it converges to its predicted
limit (one sweep, cached once)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from boundlab import algorithms, figures, landscapes, theory
from boundlab.claims import Bound, Claim, Evaluation, Experiment, Relation
from boundlab.paper_repro.dicesgd2024 import PAPER

def sweep_config(quick: bool) -> dict:
  # Each problem starts at init_distance from x*, direction drawn per seed,
  # so seeds of the noise-free cells are distinct runs.
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


def _cells(config) -> list[tuple]:
  """(name, problem, grid index, C1, z) of every cell, z innermost."""
  grid = [(c1, z) for c1 in config["clip_norms"]
          for z in config["noise_multipliers"]]
  return [(f"{p} C1={c1:g} z={z:g}", p, j, c1, z) for p in config["problems"]
          for j, (c1, z) in enumerate(grid)]


def _sweep_measure(config, seeds):
  """Per problem and (C1, z): tail offsets from x*, DiceSGD's error."""
  eta, ratio = config["learning_rate"], config["error_clip_ratio"]
  c1s, zs = config["clip_norms"], config["noise_multipliers"]
  grid = {"c1": np.repeat(c1s, len(zs)), "z": np.tile(zs, len(c1s))}
  fields, diverged = {}, []
  for name, problem in config["problems"].items():
    base = (landscapes.mean_of_squares(problem["points"])
            if problem["kind"] == "mean_of_squares" else
            landscapes.skewed_logistic_regression(problem["num_examples"],
                                                  problem["dim"]))
    x_star = jnp.asarray(base.constants["optimum"])

    def init(key):
      direction = jax.random.normal(key, x_star.shape)
      return x_star + problem["init_distance"] * direction / jnp.linalg.norm(
          direction)

    land = dataclasses.replace(base, init=init)
    n = len(jax.tree.leaves(land.data)[0])
    every = problem["steps"] // config["records"]
    # DP noise on the averaged update: z times the sensitivity C1 + C2 of
    # the summed update (as in the authors' code), over B = N.
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
    grads = land.per_example_grads(x_star, land.data)
    e_limit = np.repeat([np.atleast_1d(-np.asarray(algorithms.clipped_mean(
        grads, c1))) for c1 in c1s], len(zs), axis=0)        # (grid, d)
    fields[name] = {f"{m}_offset": r.window_average("x", start).reshape(
        errors.shape[:2] + (-1,)) - np.atleast_1d(x_star)
                    for m, r in runs.items()} | {
        "error_final_deviation": np.linalg.norm(
            errors[:, :, -1] - e_limit[:, None], axis=-1),
        "error_limit_norm": np.broadcast_to(
            np.linalg.norm(e_limit, axis=-1)[:, None], errors.shape[:2]),
        "error_tail_sup": norms[..., -max(1, norms.shape[-1] // 10):].max(-1),
        "error_sup": norms.max(-1),
        "error_trace": norms[..., ::max(1, norms.shape[-1] // 100)]}
  first = algorithms.first_divergence(np.stack(diverged), axis=(0, 1))
  return [{"diverged_at": int(d)} | {p: {k: x[:, i] for k, x in f.items()}
                                     for p, f in fields.items()}
          for i, d in enumerate(first)]


def _relative_bias(config, records, method, alpha, max_c1=np.inf) -> dict:
  """{cell: (point, lo, hi)} of ||E offset|| / ||x0 - x*|| of ``method``,
  Bonferroni over the cells with C1 <= ``max_c1`` (and, inside, over the
  coordinates)."""
  cells, table = [c for c in _cells(config) if c[3] <= max_c1], {}
  for name, p, j, _, _ in cells:
    point, (lo, hi) = theory.norm_of_mean_ci(
        records[p][f"{method}_offset"][:, j], alpha / len(cells))
    table[name] = np.divide((point, lo, hi),
                            config["problems"][p]["init_distance"])
  return table


def _sweep_tables(config, records, alpha) -> dict:
  """What the sweep's figure draws: both methods over all cells."""
  return {m: _relative_bias(config, records, m, alpha) for m in ("dice", "gc")}


def _bias_evaluate(method, pick, max_c1=np.inf):
  """``evaluate``: the ``pick`` (max, min) of ``method``'s relative bias over
  the cells with C1 <= ``max_c1``."""

  def evaluate(config, records, alpha):
    table = _relative_bias(config, records, method, alpha, max_c1)
    cell = pick(table, key=lambda name: table[name][0])
    tables = _sweep_tables(config, records, alpha)
    per_cell = {m: ", ".join(f"{name}: {row[0]:.2g}" for name, row
                             in t.items()) for m, t in tables.items()}
    return Evaluation(
        measured=table[cell][0], tables=tables,
        ci=tuple(pick(row[k] for row in table.values()) for k in (1, 2)),
        notes=f"Relative bias ||mean tail iterate - x*|| / ||x0 - x*|| of "
        f"{method}, {pick.__name__} over {len(table)} cells"
        + (f" with C1 <= {max_c1:g}" if max_c1 < np.inf else "")
        + f" ({cell}); coordinate t-CIs, Bonferroni over these cells and "
        f"coordinates. DiceSGD: {per_cell['dice']}. DP-SGD-GC: "
        f"{per_cell['gc']}.")

  return evaluate


def _excess_bias_evaluate(max_c1):
  """``evaluate``: the smallest, over the cells with C1 <= ``max_c1``, of
  DP-SGD-GC's relative bias minus DiceSGD's on the same cell (same step,
  horizon and noise: DiceSGD's is the residual without a clipping bias)."""

  def evaluate(config, records, alpha):
    # Each method's intervals at alpha / (2 #cells): all 2 #cells hold at
    # once with probability >= 1 - alpha, so every difference lies in
    # [gc_lo - dice_hi, gc_hi - dice_lo] at once.
    gc, dice = (_relative_bias(config, records, m, alpha / 2, max_c1)
                for m in ("gc", "dice"))
    excess = {name: (gc[name][0] - dice[name][0], gc[name][1] - dice[name][2],
                     gc[name][2] - dice[name][1]) for name in gc}
    cell = min(excess, key=lambda name: excess[name][0])
    return Evaluation(
        measured=excess[cell][0], tables=_sweep_tables(config, records, alpha),
        ci=tuple(min(row[k] for row in excess.values()) for k in (1, 2)),
        notes=f"Relative bias ||mean tail iterate - x*|| / ||x0 - x*|| of "
        f"DP-SGD-GC minus DiceSGD's on the same cell, smallest over "
        f"{len(excess)} cells with C1 <= {max_c1:g} ({cell}: GC "
        f"{gc[cell][0]:.3g}, DiceSGD {dice[cell][0]:.3g}); coordinate "
        f"t-CIs, Bonferroni over these cells, the two methods and the "
        f"coordinates. Per cell (GC - DiceSGD): " + ", ".join(
            f"{name}: {row[0]:.2g}" for name, row in excess.items()) + ".")

  return evaluate


def _error_growth_evaluate(config, records, alpha):
  """Non-rejection test of "||e_t|| does not grow" on every DP-noise cell.

  Per run: the mean of ||e_t|| / C2 over the fourth quarter of the run minus
  that over the third (the two halves of the tail the bias claims average
  over; the trace has ~100 points per run). Per cell: a one-sided Student-t
  lower confidence bound on the mean growth over seeds at level 1 - alpha/m
  (Bonferroni over the m noisy cells). Growth is detected if a lower bound
  exceeds 0; the measured value is the largest lower bound.
  """
  noisy = [c for c in _cells(config) if c[4] > 0]
  rows = []
  for name, p, j, c1, _ in noisy:
    c2 = config["error_clip_ratio"] * c1
    trace = records[p]["error_trace"][:, j] / c2        # (seeds, points)
    tail = trace[:, trace.shape[1] // 2:]
    half = tail.shape[1] // 2
    growth = tail[:, half:].mean(1) - tail[:, :half].mean(1)
    n = len(growth)
    se = float(growth.std(ddof=1) / np.sqrt(n))
    critical = float(scipy.stats.t.ppf(1 - alpha / len(noisy), n - 1))
    rows.append({
        "cell": name, "mean": float(growth.mean()),
        "lower": float(growth.mean()) - critical * se,
        # One-sided t test at level alpha/m: 80% power at this effect.
        "detectable": (critical + float(scipy.stats.t.ppf(0.8, n - 1))) * se,
        "sup": float(records[p]["error_sup"][:, j].max() / c2),
        "tail_sup": float(records[p]["error_tail_sup"][:, j].max() / c2)})
  worst = max(rows, key=lambda row: row["lower"])
  weakest = max(rows, key=lambda row: row["detectable"])
  detectable = weakest["detectable"]
  return Evaluation(
      measured=worst["lower"], ci=(worst["lower"], worst["lower"]),
      detectable_effect=detectable,
      tables=_sweep_tables(config, records, alpha),
      notes=f"Growth of ||e_t|| / C2 along the {len(rows)} DP-noise cells "
      f"(z > 0), {len(records)} runs each: mean over the 4th quarter of the "
      "run minus mean over the 3rd; per cell a one-sided t lower confidence "
      f"bound at level 1 - alpha/{len(rows)}; the verdict is on the largest "
      f"({worst['cell']}), a failure to reject 'no growth' when <= 0. "
      f"Detectable effect (80% power in every cell: the largest over cells, "
      f"{weakest['cell']}; a cell whose runs are still in the transient from "
      f"x0 at half-time has a large one): growth {detectable:.3g} C2. Per "
      "cell (mean growth; detectable growth; max over runs of the sup of "
      "||e_t|| / C2 over the run, incl. the transient from x0, and over its "
      "last 10%): " + "; ".join(
          f"{r['cell']}: {r['mean']:.3g}; {r['detectable']:.3g}; "
          f"{r['sup']:.3g}, {r['tail_sup']:.3g}" for r in rows) + ".")


def _error_evaluate(config, records, alpha):
  # Deterministic (noise-free) cells: the interval is the range over runs;
  # alpha only sets the figure's bias intervals.
  quiet = [c for c in _cells(config) if c[4] == 0.0]
  per_run = lambda field: np.concatenate(
      [records[p][field][:, j] / c1 for _, p, j, c1, _ in quiet])
  deviations = per_run("error_final_deviation")   # (cell, seed) order
  measured, ci = theory.range_interval(deviations)
  return Evaluation(
      measured=measured, ci=ci, tables=_sweep_tables(config, records, alpha),
      notes=f"{deviations.size} noise-free runs (random initial directions): "
      "||e_T - e_bar|| / C1, e_bar = -(1/N) sum_i clip(g_i(x*), C1); worst "
      f"{quiet[int(np.argmax(deviations)) // len(records)][0]}. Max ||e_bar||"
      f" / C1 = {per_run('error_limit_norm').max():.3g} (<= 1: the feedback "
      f"ends unclipped); max transient ||e_t|| / C1 = "
      f"{per_run('error_sup').max():.3g}. Under DP noise: "
      "dicesgd2024.error_state_bounded.")


def _sweep_plot(config, records, evaluation):
  """Top: relative bias against C1 (Bonferroni intervals over all cells);
  bottom: DiceSGD's error norm along the runs of seed 0, without (solid) and
  with (dashed) DP noise."""
  fig, axes = figures.new_figure(ncols=len(config["problems"]), nrows=2,
                                 width=7.0)
  for (top, bottom), problem in zip(axes.T, config["problems"]):
    for method, label, color in (("dice", "DiceSGD", "measured"),
                                 ("gc", "DP-SGD-GC", "alternative")):
      for z, marker in zip(config["noise_multipliers"], "os"):
        point, lo, hi = np.array([evaluation.tables[method][
            f"{problem} C1={c1:g} z={z:g}"] for c1 in config["clip_norms"]]).T
        top.errorbar(config["clip_norms"], np.maximum(point, 1e-8),
                     yerr=np.maximum([point - lo, hi - point], 0), capsize=2,
                     fmt=marker + ("-" if z == 0 else "--"), markersize=4,
                     color=figures.PALETTE[color], label=f"{label}, z={z:g}")
    top.set(xscale="log", yscale="log", title=problem,
            xlabel="clip threshold C1 (C2 = C1)")
    palette = list(figures.PALETTE.values())
    for _, p, j, c1, z in _cells(config):
      if p == problem:
        trace = records[p]["error_trace"][0, j] / c1
        color = palette[config["clip_norms"].index(c1) % len(palette)]
        bottom.plot(np.linspace(0, 1, len(trace)), np.maximum(trace, 1e-12),
                    "-" if z == 0 else "--", color=color, linewidth=0.9,
                    label=f"C1={c1:g}" if z == 0 else None)
    figures.horizontal_reference(bottom, 1.0, label=r"$\|e\| = C_1$")
    bottom.set(yscale="log", xlabel="fraction of the run (dashed: z = 1)")
  axes[0, 0].set_ylabel(r"$\|\bar x - x^\star\| / \|x_0 - x^\star\|$"
                        "\n(below 1e-8 drawn at 1e-8)")
  axes[1, 0].set_ylabel(r"DiceSGD $\|e_t\| / C_1$")
  axes[0, 0].legend(fontsize=6, title="Bonferroni over all cells",
                    title_fontsize=6)
  axes[1, 0].legend(fontsize=6)
  return fig


SWEEP = Experiment("dicesgd2024.clip_sweep", sweep_config, _sweep_measure,
                   seeds=24, quick_seeds=12)

NO_CLIPPING_BIAS = Claim(
    id="dicesgd2024.no_clipping_bias", paper=PAPER,
    statement="DiceSGD has no constant clipping bias for any threshold: for C1 "
    "in {0.01, 0.1, 1, 10} (quick; 7 values in full mode), with and without "
    "DP noise, its tail-averaged iterate is centred at the minimiser.",
    measurement="||seed mean of the tail-averaged iterate - x*|| / ||x0 - "
    "x*||, DiceSGD (C2 = C1, eta = 0.5, full batch), 1-D stall instance and "
    "skewed logistic regression, noise std z (C1 + C2)/N, z in {0, 1}; worst.",
    bound=Bound(
        name="relative bias = 0 (no O(1) clipping term), up to 0.05 (our "
        "round allowance for the finite eta, T residual, not the paper's)",
        expression=0,
        statement_latex=r"\|\mathbb E\,\bar x_T - x^\star\| \to 0 \quad "
        r"\forall C_1", citation=PAPER.cite(
            "Abstract; the convergence theorem (v2 Theorem 3.6; 3.7 in the "
            "submission the reviews read) by number only",
            "The abstract's 'without the O(1) term caused by clipping' and "
            "'arbitrary choice of clipping threshold' [V]; v2's Appendix A.1 "
            "is headed 'Proof of Theorem 3.6' [V]; the hypotheses (strong "
            "convexity, bounded per-example deviation) from reviews of the "
            "submission [R], constants not read: only the absence of a "
            "constant bias is checked, no rate. The allowance 0.05 is ours.")),
    relation=Relation.LE, tolerance=0.05,
    tolerance_reason="Asymptotic guarantee: finite eta and T leave an O(eta) "
    "+ O(1/sqrt(T)) residual. 5% of the initial distance is a round threshold "
    "fixed with the claim; an O(1) clipping bias is a sizeable fraction of it.",
    # Bonferroni t intervals (cells x coordinates) over seeds.
    evidence="statistical",
    experiment=SWEEP, evaluate=_bias_evaluate("dice", max), plot=_sweep_plot)

GC_KEEPS_BIAS = Claim(
    id="dicesgd2024.gc_keeps_bias", paper=PAPER,
    statement="DP-SGD with gradient clipping keeps an O(1) bias when C1 is "
    "below the per-example gradient scale, with or without DP noise.",
    measurement="Relative bias of DP-SGD-GC's tail-averaged iterate minus "
    "DiceSGD's on the same cell (same eta, T and noise), smallest over the "
    "cells with C1 <= 1.",
    bound=Bound(
        name="relative bias of GC - that of DiceSGD >= 0 on every cell with "
        "C1 <= 1", expression=0,
        statement_latex=r"\|\mathbb E\,\bar x^{GC}_T - x^\star\| > "
        r"\|\mathbb E\,\bar x^{\mathrm{Dice}}_T - x^\star\|",
        citation=PAPER.cite(
            "Section 1 (motivation: the clipping bias of DP-SGD-GC)",
            "Stated in the abstract and introduction [V]. At one (eta, T) an "
            "O(1) bias is told from the finite-eta, T residual by the "
            "residual of the method the paper says has no clipping bias, "
            "DiceSGD, on the same cell: the statement is contradicted only "
            "if GC's bias is below it. Until this revision the bound was "
            "0.05, the DiceSGD claim's round allowance (ours), which would "
            "have read a GC bias of 3% of the initial distance as violated.")),
    relation=Relation.GE, experiment=SWEEP, plot=_sweep_plot,
    # Bonferroni t intervals (cells x methods x coordinates) over seeds.
    evidence="statistical", evaluate=_excess_bias_evaluate(max_c1=1.0))

ERROR_STATE_BOUNDED = Claim(
    id="dicesgd2024.error_state_bounded", paper=PAPER,
    statement="The hidden error state stays bounded under DP noise: along a "
    "DiceSGD run with DP noise, ||e_t|| does not grow with t.",
    measurement="Mean ||e_t|| / C2 over the 4th quarter of every DP-noise run "
    "(z = 1; both problems, every C1) minus its mean over the 3rd quarter; "
    "per cell a one-sided t lower confidence bound over seeds, Bonferroni "
    "over the cells; the largest.",
    bound=Bound(
        name="largest lower confidence bound on the growth of ||e_t|| / C2 "
        "from the 3rd to the 4th quarter of a DP-noise run <= 0 (no growth "
        "detected)", expression=0,
        statement_latex=r"\sup_t \|e^t\| < \infty:\ "
        r"\overline{\|e^t\|}_{[3T/4,\,T]} - "
        r"\overline{\|e^t\|}_{[T/2,\,3T/4)} \le 0",
        citation=PAPER.cite(
            "Algorithm 1 (the hidden state e^t)",
            "Algorithm 1 [V, secondary transcriptions]. No a-priori bound "
            "under DP noise follows from its e-recursion with C2 = C1: "
            "||e_{t+1}|| <= max(||e_t|| - C2, 0) + C1 + ||grad f(x_t)|| [D] "
            "bounds the error only by a sum over steps, which grows with T "
            "whenever the noise keeps grad f(x_t) away from 0; so "
            "boundedness is a property of the closed loop, tested here as "
            "'no growth' over the tail the bias claims average over (the "
            "test and the quarters are ours [D]). Until this revision this "
            "claim checked the noise-free limit only "
            "(dicesgd2024.error_state_fixed_point now).")),
    relation=Relation.LE, tolerance=1e-12,
    tolerance_reason="float64 rounding: in cells where clipping never binds "
    "(C1 = 10 on the logistic problem) ||e_t|| is rounding, ~1e-18 C2; 1e-12 "
    "C2 is far above that and far below the O(0.1-1) C2 the error state has "
    "where clipping binds.",
    # A one-sided test that "holds" when it fails to reject "no growth".
    evidence="non-rejection",
    experiment=SWEEP, evaluate=_error_growth_evaluate, plot=_sweep_plot)

ERROR_STATE_FIXED_POINT = Claim(
    id="dicesgd2024.error_state_fixed_point", paper=PAPER,
    statement="Without DP noise the hidden error state converges to e_bar = "
    "-(1/N) sum_i clip(g_i(x*), C1), of norm <= C1 <= C2, so the error "
    "feedback ends unclipped.",
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
    tolerance_reason="Finite-T residual of a noise-free recursion converging "
    "geometrically once x is near x*: 1e-6 C1 is far above float64 rounding "
    "and far below the O(C1) size of e_bar.",
    # Deterministic noise-free runs from random initial directions: the
    # range over runs; the instances are the seeds' initial directions.
    evidence="all-instances",
    experiment=SWEEP, evaluate=_error_evaluate, plot=_sweep_plot)
