"""DiceSGD at equal privacy: the loss against DP-SGD-GC at one (epsilon,
delta) (a tuned comparison), and the worst-case canary under the noise the
official code calibrates (the shared DiceSGD audit). Both methods are
accounted for Poisson sampling under add/remove neighbours (sensitivity C per
step; the code's recipe adds its sqrt(1 + 2 C2/C1) factor for the error
term)."""

from __future__ import annotations

import numpy as np

from boundlab import algorithms, landscapes
from boundlab.claims import Bound, Claim, Experiment, Relation
from boundlab.experiments.canary_audit import DICE_AUDIT
from boundlab.experiments.tuned_comparison import TunedComparison
from boundlab.paper_repro.dicesgd2024 import PAPER, sweep
from boundlab.theory import privacy_accounting as accounting

def _equal_epsilon_config(quick: bool) -> dict:
  return {"num_examples": 200, "dim": 5, "sampling_rate": 0.1,
          "epochs": 50 if quick else 200, "target_epsilon": 2.0,
          "delta": 1e-5, "error_clip_ratio": 1.0, "tail_fraction": 0.25,
          "clip_norms": sweep.sweep_config(quick)["clip_norms"],
          "records": 50,
          "base_learning_rates": [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1]}


def _equal_epsilon_measure(config, seeds):
  """Per method, the tail-averaged excess loss at every (C, lr0)."""
  land = landscapes.skewed_logistic_regression(config["num_examples"],
                                               config["dim"])
  q, ratio, epochs = (config["sampling_rate"], config["error_clip_ratio"],
                      config["epochs"])
  batch, per_epoch = q * config["num_examples"], int(round(1 / q))
  steps, privacy = epochs * per_epoch, (config["target_epsilon"],
                                        config["delta"])
  # Both by PLD, so that "equal epsilon" means one accountant (the code's own
  # RDP accountant gives about 8% more noise).
  noise = {"steps": steps, "gc": accounting.dp_sgd_noise_multiplier(
      *privacy, steps=steps, sampling_rate=q),
           "dice": accounting.dice_sgd_code_noise_multiplier(
               *privacy, sampling_rate=q, epochs=epochs, accountant="pld",
               steps_per_epoch=per_epoch, error_clip_ratio=ratio)}
  # lr = lr0 / C as in the authors' code; DiceSGD as the code runs it: the
  # *summed* error clipped to r C and noise z C on the sum, i.e. r C / (qN)
  # and z C / (qN) on Algorithm 1's averaged scale.
  makers = {"dice": lambda key, c, lr0: algorithms.dice_sgd(
      lr0 / c, c, ratio * c / batch, key=key, sampling_rate=q,
      noise_std=noise["dice"] * c / batch),
            "gc": lambda key, c, lr0: algorithms.dp_sgd_gc(
                lr0 / c, c, noise["gc"], key, sampling_rate=q)}
  clips, lrs = config["clip_norms"], config["base_learning_rates"]
  start = int(round((1 - config["tail_fraction"]) * (config["records"] + 1)))
  # A diverging (C, lr0) point is a losing grid point, not an outcome of the
  # claim: it is recorded per grid point and never selected.
  out = [{"noise_multipliers": noise} for _ in seeds]
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

EQUAL_EPSILON = Claim(
    id="dicesgd2024.lower_loss_than_gc_at_equal_epsilon", paper=PAPER,
    statement="At the same (epsilon, delta), DiceSGD reaches a loss no worse "
    "than DP-SGD with gradient clipping for every clip norm C in [0.01, 10].",
    measurement="Skewed logistic regression (N = 200, d = 5), Poisson q = "
    "0.1, (2, 1e-5); noise: DP-SGD-GC by PLD, DiceSGD by its official code's "
    "recipe (C2 = C1, PLD); lr = lr0/C, lr0 tuned per method and C on other "
    "seeds; largest mean log10 loss ratio over C.",
    bound=Bound(
        name="log10(loss_DiceSGD / loss_GC) <= 0 for every C", expression=0,
        statement_latex=r"\max_C \log_{10}\frac{f(x^{\mathrm{Dice}}_T) - "
        r"f^\star}{f(x^{\mathrm{GC}}_T) - f^\star} \le 0", citation=PAPER.cite(
            "Abstract and Section 4 (experiments at the same DP guarantee)",
            "The headline claim as stated in the abstract [V]; the noise "
            "calibration is the official code's (246fcd2); the privacy "
            "theorem (Theorem 3.8 in the submission the reviews read [R]; "
            "its v2 number not read) could not be read.")),
    relation=Relation.LE,
    # Bonferroni t intervals over evaluation seeds, one per clip norm.
    evidence="statistical",
    experiment=Experiment("dicesgd2024.lower_loss_than_gc_at_equal_epsilon",
                          _equal_epsilon_config, _equal_epsilon_measure,
                          seeds=16, quick_seeds=8),
    evaluate=COMPARISON.evaluate_log_ratio("dice", "gc", notes=lambda c, r: (
        "Tail: the last {tail_fraction:g} of {records} records; lr = lr0/C. "
        "Equal (epsilon, delta) = ({target_epsilon:g}, {delta:g}), Poisson q "
        "= {sampling_rate}, ".format(**c) + "{steps} steps: z = {gc:.3f} "
        "(DP-SGD-GC, PLD) and {dice:.3f} (DiceSGD, code recipe, PLD, ".format(
            **{k: x[0] for k, x in r["noise_multipliers"].items()})
        + f"C2/C1 = {c['error_clip_ratio']:g}).")),
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
        r"\varepsilon_{\mathrm{stated}}", citation=PAPER.cite(
            "Privacy theorem (3.8 in the submission [R]; not read, v2 number "
            "unknown), as calibrated by the official code",
            "Noise recipe read in github.com/564612540/DiceSGD at 246fcd2 "
            "[V]: sigma(E floor(ln E + 1) epochs) sqrt(1 + 2 C2/C1) on the "
            "summed update, error clipped to C2 on the sum. The canary's "
            "per-step sensitivity C1 + C2 exceeds the sqrt(C1^2 + 2 C1 C2) "
            "that recipe covers [D].")),
    relation=Relation.LE, experiment=DICE_AUDIT.experiment,
    # Bonferroni normal intervals of the GDP reading mu_hat over simulated
    # trials, at level 1 - alpha: holds needs the upper end below 1.
    evidence="statistical",
    evaluate=DICE_AUDIT.evaluate_gdp_epsilon, plot=DICE_AUDIT.plot_gdp_epsilon)
