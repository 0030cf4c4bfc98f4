r"""Lu, Wu, Yang & Zou (ICLR 2024): benign oscillation of SGD with large steps.

Benign Oscillation of Stochastic Gradient Descent with Large Learning Rates,
arXiv 2310.17074 (v1). Abstract [V]: with a large learning rate, SGD
oscillates, and the oscillation lets a two-layer network learn *weak*
features (small norm, present in every point) that small-step SGD never
picks up; only the large-step network then classifies test points that carry
weak features alone. The paper body could not be read here: the data model,
the network, the loss and every constant are reconstructed
(:mod:`boundlab.landscapes.feature_noise`, [U]); Assumption 3's learning-rate
window, Assumption 4's :math:`\delta \in (0.2, 0.8)`, Theorem 5's scale
:math:`\delta/4` and Proposition 6's :math:`\tilde O(\sigma_0\|v\|)` are
quoted by a review [R]. Every claim is therefore ``verified=False``.

Experiment (one data set per seed; d = 64, n = 16, m = 8 as in the paper's
synthetic experiment [R]): SGD with batch size 1 (shuffled epochs,
"multi-pass SGD" [R]) at the middle of the paper's window,
:math:`\eta = 1.3\,m/(4\|u\|^2)`, and at a tenth of it; full-batch GD at the
large step as the control the issue asks for. GD averages over all n points,
of which only the strong points of one label drive a given sign's neurons, so
its effective oscillation parameter is about that share times 1.3, below 1:
it is a non-oscillating control at the same step size. GD at n / (strong /
2) times the step has SGD's effective k: it oscillates without sampling
noise, and separates the oscillation from the noise. One compiled program
per run serves every seed (a landscape family with per-seed data).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import sympy

from boundlab import algorithms, figures, theory
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Records, Relation)
from boundlab.landscapes.feature_noise import (feature_noise_classification,
                                               feature_overlaps, margins)

PAPER = Paper(
    key="lu2024",
    title="Benign Oscillation of Stochastic Gradient Descent with Large "
    "Learning Rates", authors="M. Lu, B. Wu, X. Yang, D. Zou",
    arxiv="2310.17074", version="v1", venue="ICLR 2024")

RUNS = ("large", "small", "gd", "gd_matched")
_LABELS = dict(zip(RUNS, ("SGD, large step", "SGD, small step",
                          "GD, large step", "GD, matched k")))
_COLORS = {run: figures.PALETTE[c] for run, c in zip(
    RUNS, ("measured", "alternative", "neutral", "reference"))}


def _config(quick: bool) -> dict:
  # Quick mode keeps the full horizon: the oscillation and the weak-feature
  # growth take thousands of steps whatever the number of seeds.
  del quick
  return {"dim": 64, "num_examples": 16, "width": 8, "strong_norm": 1.0,
          "weak_norm": 0.1, "noise_std": None, "init_std": None,
          "weak_fraction": 0.125, "num_test": 256,
          # k = 4 eta |u|^2 / m; the paper's window is k in [1, 1.6] [R].
          "k_large": 1.3, "k_small": 0.13, "steps": 20_000,
          "record_every": 20,
          # Assumption 4's delta ranges over (0.2, 0.8) [R]; the smallest
          # value makes Theorem 5's delta/4 the least demanding target.
          "delta_min": 0.2, "trace_start": 2_000, "trace_length": 200}


def landscape_for(config: dict, seed: int):
  """The feature-noise landscape of one seed (the seed draws the data)."""
  keys = ("strong_norm", "weak_norm", "noise_std", "init_std",
          "weak_fraction", "num_test")
  return feature_noise_classification(
      config["dim"], config["num_examples"], config["width"], seed=seed,
      **{k: config[k] for k in keys})


def learning_rates(config: dict, land) -> dict:
  """SGD's two steps, and GD's step with the same effective k: a full batch
  averages over n points, of which about half the strong ones drive a given
  sign's neurons, so GD needs n / (strong / 2) times the SGD step."""
  per_k = 1.0 / land.constants["oscillation_parameter"]
  strong = int(np.sum(land.constants["strong_mask"]))
  large = config["k_large"] * per_k
  return {"large": large, "small": config["k_small"] * per_k,
          "gd_matched": large * config["num_examples"] / (strong / 2)}


def measure(config: dict, seeds) -> list[dict]:
  """SGD at both steps, GD at the large step and at matched k, each seed on
  its own data set; one compiled program per run serves every seed."""
  lands = [landscape_for(config, seed) for seed in seeds]
  c, lrs = lands[0].constants, learning_rates(config, lands[0])
  if any(learning_rates(config, land) != lrs or not np.array_equal(
      land.constants["strong_mask"], c["strong_mask"]) for land in lands):
    raise ValueError("the learning rates and the strong mask must be the "
                     "same for every seed (one program serves them all)")
  args = jax.tree.map(lambda *a: jnp.stack(a), *[
      {"data": land.data, "test": land.constants["test"]} for land in lands])
  family = lambda args: lands[0].with_data(args["data"])
  strong = lambda args, count=None: jax.tree.map(
      lambda a: a[np.flatnonzero(c["strong_mask"])[:count]], args["data"])

  def metrics(params, opt_state, args):
    deviation = jnp.abs(margins(params, strong(args)) - 1.0)
    return {"weak_overlap": jnp.max(feature_overlaps(params, c["v"])),
            "strong_overlap": jnp.max(feature_overlaps(params, c["u"])),
            "oscillating_fraction": jnp.mean(deviation >= config["delta_min"]),
            "median_deviation": jnp.median(deviation),
            "weak_test_accuracy": jnp.mean(margins(params, args["test"]) > 0),
            "loss": family(args).objective(params)}

  def run(names, **options):
    return algorithms.run(
        family, lambda key, lr: algorithms.with_mean_gradient(optax.sgd(lr)),
        list(seeds), args=args,
        hyperparams={"lr": [lrs[name] for name in names]},
        **{"steps": config["steps"], "record_every": config["record_every"],
           "metrics": metrics, **options})

  shuffled = {"batch_size": 1, "sampling": "shuffle"}
  sgd, gd = run(("large", "small"), **shuffled), run(("large", "gd_matched"))
  # Every step of a short window (steps start .. start + length - 1), to show
  # the oscillation itself: records every 20 steps alias a period-2 orbit.
  # Same seeds, same trajectories.
  start = config["trace_start"]
  trace = run(("large", "small"), steps=start + config["trace_length"],
              record_every=1, metrics=lambda p, s, args: {
                  "margin": margins(p, strong(args, 1))[0]},
              **shuffled).metrics["margin"][..., start:-1]
  runs = {"large": (sgd, 0), "small": (sgd, 1), "gd": (gd, 0),
          "gd_matched": (gd, 1)}
  records = []
  for i in range(len(seeds)):
    record = {name: {**{k: x[g, i] for k, x in result.metrics.items()},
                     "diverged_at": int(result.diverged_at[g, i])}
              for name, (result, g) in runs.items()}
    records.append({
        **record, "learning_rates": lrs, "init_std": c["init_std"],
        "record_steps": sgd.record_steps,
        "trace": {"large": trace[0, i], "small": trace[1, i]},
        "diverged_at": int(algorithms.first_divergence(
            [record[name]["diverged_at"] for name in RUNS]))})
  return records


def _final(records, run, name="weak_overlap"):
  return records[run][name][:, -1]


def _evaluation(records, values, alpha, notes):
  """The mean over seeds of ``values`` with its Student-t interval."""
  bad = [(i, run, int(d)) for run in RUNS
         for i, d in enumerate(records[run]["diverged_at"]) if d >= 0]
  mean, ci = theory.mean_ci(values, alpha)
  return Evaluation(measured=mean, ci=ci, notes=(
      f"Diverged runs (seed index, run, step): {bad}. " if bad else "")
      + notes + f" Student-t interval over {len(records)} seeds.")


def _evaluate_oscillation(config, records, alpha):
  large, delta = records["large"], config["delta_min"]
  # Per seed, the window ends at the first record where the weak overlap
  # reaches delta/4 (Theorem 5's conclusion), else at the last record.
  reached = large["weak_overlap"] >= delta / 4
  end = np.where(reached.any(axis=1), reached.argmax(axis=1),
                 reached.shape[1] - 1)
  fraction = large["oscillating_fraction"]
  per_seed = np.array([f[:e + 1].mean() for f, e in zip(fraction, end)])
  deviation = np.array([np.median(m[:e + 1]) for m, e in zip(
      large["median_deviation"], end)])
  late, typical = np.mean(fraction[:, fraction.shape[1] // 2:]), np.median(
      deviation)
  return _evaluation(records, per_seed, alpha, (
      f"Fraction of (record, strong point) pairs with |y f - 1| >= delta = "
      f"{delta} under the large step, from step 0 until the weak overlap "
      f"first reaches delta/4 (median step "
      f"{np.median(records['record_steps'][0][end]):.0f} of "
      f"{config['steps']}); Assumption 4 asks for all of them (fraction 1). "
      f"Median |y f - 1| in that window: {typical:.3f} (per-seed range "
      f"{deviation.min():.3f}-{deviation.max():.3f}), "
      f"{'inside' if 0.2 < typical < 0.8 else 'outside'} the paper's (0.2, "
      f"0.8); in the second half of training the fraction is {late:.3f}"
      + (": the oscillation dies out once the weak feature and the noise "
         "carry part of the fit." if late < 0.5 * per_seed.mean() else ".")))


def _evaluate_large_step_overlap(config, records, alpha):
  final = _final(records, "large")
  return _evaluation(records, final, alpha, (
      f"max_(j,r) j<w_jr, v> after {config['steps']} large steps (median "
      f"{np.median(final):.3g}, from "
      f"{np.median(records['large']['weak_overlap'][:, 0]):.3g} at "
      f"initialisation); GD at the same step ends at "
      f"{np.median(_final(records, 'gd')):.3g}, GD at the same effective k "
      f"(step x n / (strong / 2)) at "
      f"{np.median(_final(records, 'gd_matched')):.3g}. Bound delta/4 with "
      f"delta = {config['delta_min']}, the smallest value Assumption 4 "
      "allows [R]."))


def _evaluate_small_step_overlap(config, records, alpha):
  final = _final(records, "small")
  growth = final / records["small"]["weak_overlap"][:, 0]
  return _evaluation(records, final, alpha, (
      f"max_(j,r) j<w_jr, v> after {config['steps']} small steps; sigma_0 "
      f"|v| = {records['init_std'][0] * config['weak_norm']:.3g}; growth over "
      f"initialisation: median {np.median(growth):.2f}x (per seed "
      f"{np.min(growth):.2f}-{np.max(growth):.2f}x). Proposition 6's "
      "O~(sigma_0 |v|) has no explicit constant, so the check is the "
      "separation the paper draws: below the constant scale delta/4 that "
      "Theorem 5 gives the large step."))


def _evaluate_accuracy(config, records, alpha):
  acc = {run: _final(records, run, "weak_test_accuracy") for run in RUNS}
  return _evaluation(records, acc["large"] - acc["small"], alpha, (
      f"Accuracy on {config['num_test']} weak-only test points per seed, "
      "large minus small step, paired by seed; mean accuracies: "
      + "; ".join(f"{_LABELS[run]} {acc[run].mean():.3f}" for run in RUNS)
      + "; bound: two binomial standard errors of one seed's test set. The "
      "paper reports 99.38% vs 93.75% on a test set with 4 weak-only points "
      "of 32 [R] (near-perfect vs near-chance on the weak points); that "
      "level depends on the [U] noise level (see the noise-level example "
      "figure) and is not checked. GD averages the strong points of both "
      "labels: effective k about (strong points of one label / n) k_large "
      "< 1, a non-oscillating control at the same step; 'GD, matched k' "
      "scales its step back into the window, an oscillating run without "
      "sampling noise."))


def _plot(config, records, evaluation):
  """The oscillation (every step of a window, seed 0), the median deviation
  from the fit, the weak overlap and the weak-test accuracy of every run."""
  fig, axes = figures.new_figure(ncols=2, nrows=2, width=10, height=7)
  delta = config["delta_min"]
  for run in ("large", "small"):
    axes[0, 0].plot(config["trace_start"] + np.arange(config["trace_length"]),
                    records["trace"][run][0] - 1, color=_COLORS[run],
                    label=_LABELS[run], linewidth=0.8)
  for level in (delta, -delta):
    axes[0, 0].axhline(level, color=figures.PALETTE["bound"], linestyle=":",
                       linewidth=0.9)
  axes[0, 0].set_ylabel("y f(x) - 1, one strong point (seed 0)")
  for ax, name, level, ylabel in (
      (axes[0, 1], "median_deviation", (delta, "delta = 0.2"),
       "median |y f - 1| over strong points"),
      (axes[1, 0], "weak_overlap", (delta / 4, "delta/4 (Theorem 5)"),
       "max_r j <w_jr, v> (weak feature)"),
      (axes[1, 1], "weak_test_accuracy", (0.5, "chance"),
       "accuracy on weak-only test points")):
    for run in RUNS:
      figures.band(ax, records["record_steps"][0], records[run][name],
                   label=_LABELS[run], color=_COLORS[run],
                   log=name != "weak_test_accuracy")
    figures.horizontal_reference(ax, level[0], label=level[1])
    ax.set_ylabel(ylabel)
  for ax in axes.flat:
    ax.set_xlabel("step")
    ax.legend(fontsize=7)
  return fig


DYNAMICS = Experiment("lu2024.dynamics", _config, measure, seeds=16,
                      quick_seeds=6)
_RECONSTRUCTED = ("Data model, network, loss and constants reconstructed from "
                  "the abstract [V] and reviews [R]; Definition 2.1 unread.")


def _claim(name, statement, measurement, bound, evaluate, plot, relation):
  return Claim(id=f"lu2024.{name}", paper=PAPER, statement=statement,
               measurement=measurement, bound=bound, relation=relation,
               experiment=DYNAMICS, evaluate=evaluate, plot=plot)


def _quarter_delta(latex, where):
  return Bound(name="delta/4 with delta = 0.2",
               expression=sympy.Symbol("delta", positive=True) / 4,
               constants=lambda config: {"delta": config["delta_min"]},
               symbol_meanings={"delta": "Assumption 4's smallest delta"},
               statement_latex=latex,
               citation=PAPER.cite(where, _RECONSTRUCTED))


OSCILLATION = _claim(
    "oscillation_on_strong_data",
    "With a learning rate in the paper's window, SGD keeps oscillating on "
    "strong-feature data: |y f(x) - 1| >= delta for some delta in (0.2, 0.8) "
    "throughout training (assumed by the paper, not proved).",
    "Fraction of (recorded step, strong training point) pairs with "
    "|y f - 1| >= 0.2 until the weak overlap reaches delta/4, mean over seeds.",
    Bound(name="oscillating fraction = 1", expression=1,
          statement_latex=r"|y_{i_t} f(x_{i_t}; W^{(t)}) - 1| \ge "
          r"\delta\ \ \forall t",
          citation=PAPER.cite("Assumption 4", _RECONSTRUCTED)),
    _evaluate_oscillation, _plot, Relation.GE)

WEAK_FEATURE_LARGE = _claim(
    "weak_feature_constant_scale_large_step",
    "Under the oscillation, the weak-feature overlap max_r <w_r, v> reaches "
    "the constant scale delta/4.",
    "max_(j,r) j<w_jr, v> after 20k large SGD steps, mean over seeds.",
    _quarter_delta(r"\max_r \langle w_r, v\rangle \ge \delta/4", "Theorem 5"),
    _evaluate_large_step_overlap, _plot, Relation.GE)

WEAK_FEATURE_SMALL = _claim(
    "weak_feature_init_scale_small_step",
    "With a small learning rate the weak-feature overlap stays at the scale of "
    "the initialisation, O~(sigma_0 |v|), far below delta/4.",
    "max_(j,r) j<w_jr, v> after 20k small SGD steps, mean over seeds, against "
    "the constant scale delta/4.",
    _quarter_delta(r"\max_r \langle w_r, v\rangle = \tilde O(\sigma_0\|v\|) "
                   r"< \delta/4", "Proposition 6"),
    _evaluate_small_step_overlap, _plot, Relation.LE)

WEAK_TEST_ACCURACY = _claim(
    "weak_test_accuracy_large_beats_small",
    "The large-learning-rate network classifies test points that carry weak "
    "features alone better than the small-learning-rate one (the paper: only "
    "the large step classifies them correctly).",
    "Weak-only test accuracy, large minus small step, paired by seed, against "
    "two binomial standard errors of one seed's test set.",
    Bound(name="accuracy gap >= 1/sqrt(num_test)",
          expression=1 / sympy.sqrt(sympy.Symbol("N_test")),
          constants=lambda config: {"N_test": config["num_test"]},
          symbol_meanings={"N_test": "weak-only test points per seed"},
          statement_latex=r"\mathrm{acc}_{\eta_{\mathrm{large}}} - "
          r"\mathrm{acc}_{\eta_{\mathrm{small}}} \ge "
          r"2\sqrt{1/(4 N_{\mathrm{test}})}",
          citation=PAPER.cite("Section 4.2", _RECONSTRUCTED)),
    _evaluate_accuracy, _plot, Relation.GE)

CLAIMS = (OSCILLATION, WEAK_FEATURE_LARGE, WEAK_FEATURE_SMALL,
          WEAK_TEST_ACCURACY)


def noise_level_sweep(config: dict, seeds, noise_multiples) -> dict:
  """Final weak-test accuracy and weak overlap of each run against the noise
  level :math:`\\sigma_p = c\\,\\|v\\|/\\sqrt d`."""
  finals = [Records(measure(dict(config, noise_std=c * config["weak_norm"]
                                 / np.sqrt(config["dim"])), seeds))
            for c in noise_multiples]
  return {run: {out: [_final(r, run, name).tolist() for r in finals]
                for out, name in (("accuracy", "weak_test_accuracy"),
                                  ("overlap", "weak_overlap"))}
          for run in RUNS}


def example_figures(out_dir, quick: bool = True):
  """Weak-test accuracy and weak overlap against the [U] noise level."""
  config, multiples = _config(quick), [0.5, 1.0, 2.0, 3.0, 4.0]
  seeds = list(range(2 if quick else 6))
  sweep = noise_level_sweep(config, seeds, multiples)
  fig, axes = figures.new_figure(ncols=2, width=10)
  for ax, name, ylabel in (
      (axes[0, 0], "accuracy", "weak-only test accuracy (median over seeds)"),
      (axes[0, 1], "overlap", "final max_r j <w_jr, v>")):
    for run in RUNS:
      ax.plot(multiples, np.median(sweep[run][name], axis=1), "o-",
              color=_COLORS[run], label=_LABELS[run])
    ax.axvline(3.0, color=figures.PALETTE["bound"], linestyle=":",
               label="default noise level")
    ax.set_xlabel("noise level sigma_p sqrt(d) / |v|")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
  axes[0, 1].set_yscale("log")
  return [figures.save_figure(
      fig, out_dir / "lu2024_noise_level.png",
      data={"noise_multiples": multiples, "seeds": seeds, **sweep},
      config=config)[0]]
