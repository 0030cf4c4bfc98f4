r"""Canary audits: a white-box membership attack on private training.

Full-batch training on a 20-example linear regression plus a gradient canary
(:func:`boundlab.landscapes.with_gradient_canary`), run many times with the
canary present and absent. Each trial records the releases along the
canary's coordinate and scores them with the Neyman-Pearson statistic
:math:`\sum_t s_t r_t` for the canary's known per-step shifts :math:`s_t`
(:func:`canary_shifts`). DP-SGD is calibrated by the PLD accountant; DiceSGD
(arXiv 2311.14632) by its official code's recipe
(:func:`boundlab.theory.privacy_accounting.dice_sgd_code_noise_multiplier`).

Neighbouring relation: add/remove of the canary, realised as its gradient set
to zero (:func:`boundlab.landscapes.canary_absent`), so the batch size is the
same under both hypotheses.

Two readings of the same trials, one per kind of claim:

* :meth:`CanaryAudit.evaluate_lower_bound` -- the attack's error counts at a
  threshold chosen on half of the trials give a one-sided Clopper-Pearson
  lower bound on epsilon (frequentist, Bonferroni over the cells), against
  the accountant's (or the stated) epsilon; the Bayesian posterior of
  Zanella-Béguelin et al. (arXiv 2206.05199) is reported beside it.
* :meth:`CanaryAudit.evaluate_gdp_epsilon` -- the Gaussian-DP reading
  :math:`\hat\mu` of the scores (exact for this canary: equal-variance
  Gaussian scores), mapped to the epsilon of the canary's releases.

The trials are simulated by this module's own ``lax.scan``, not the run loop:
an audit's replicate is a trial (thousands per seed, keyed from the seed),
and what it records is the released update at every step, not the iterate.
The data enter that scan as an argument, so one compiled program serves both
hypotheses.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import numpy as np
import optax
import scipy.optimize
import scipy.stats

from boundlab import algorithms, figures, landscapes
from boundlab.claims import Evaluation, Experiment
from boundlab.theory import audit
from boundlab.theory import privacy_accounting as accounting

TARGET_EPSILON, DELTA = 2.0, 1e-5
CLIP_NORM, LEARNING_RATE = 1.0, 0.1


def canary_landscape(config):
  base = landscapes.linear_regression(config["num_examples"], config["dim"],
                                      feature_norm=0.3, noise=0.05)
  return landscapes.with_gradient_canary(base, config["canary_gradient"])


def simulate(landscape, make_optimizer, steps: int, coordinate: int):
  r"""Per-step releases along the canary's coordinate, vmapped over trials.

  The release of step t is the optimizer's averaged update, read back as
  :math:`-u_{t, d+1}/\eta`.
  """

  def one(key, data, noise_multiplier, error_clip):
    params = landscape.init(key)
    opt = make_optimizer(jax.random.fold_in(key, 1), noise_multiplier,
                         error_clip)
    state = opt.init(params)

    def step(carry, _):
      params, state = carry
      grads = landscape.per_example_grads(params, data)
      updates, state = opt.update(grads, state, params)
      release = -updates[coordinate] / LEARNING_RATE
      return (optax.apply_updates(params, updates), state), release

    _, releases = jax.lax.scan(step, (params, state), None, length=steps)
    return releases

  return jax.jit(jax.vmap(one, in_axes=(0, None, None, None)))


def dp_sgd(key, noise_multiplier, error_clip):
  del error_clip
  return algorithms.dp_sgd_gc(LEARNING_RATE, CLIP_NORM, noise_multiplier, key)


def dice(n_total):
  def make(key, noise_multiplier, error_clip):
    # The code clips the *summed* error to C_2 = r C_1 and adds noise to the
    # sum; on Algorithm 1's averaged scale both are divided by the batch size.
    return algorithms.dice_sgd(LEARNING_RATE, CLIP_NORM, error_clip / n_total,
                               noise_std=noise_multiplier * CLIP_NORM / n_total,
                               key=key)
  return make


def noise(cell) -> float:
  """The noise multiplier the method's calibration gives for the target."""
  if cell["method"] == "dp_sgd":
    return accounting.dp_sgd_noise_multiplier(
        TARGET_EPSILON, DELTA, steps=cell["steps"], sampling_rate=1.0)
  return accounting.dice_sgd_code_noise_multiplier(
      TARGET_EPSILON, DELTA, sampling_rate=1.0, epochs=cell["steps"],
      steps_per_epoch=1, error_clip_ratio=cell["ratio"])


def accountant_epsilon(cell) -> float:
  """DP-SGD: the PLD accountant's epsilon at the calibrated noise; DiceSGD:
  the epsilon its code is calibrated to."""
  if cell["method"] == "dp_sgd":
    return accounting.epsilon(accounting.dp_sgd_event(
        cell["noise_multiplier"], cell["steps"], sampling_rate=1.0), DELTA)
  return TARGET_EPSILON


def canary_shifts(cell) -> np.ndarray:
  """The canary's contribution to each step's summed release, in units of
  C_1: C_1 per step for DP-SGD; for DiceSGD C_1 at step 0 (e^0 = 0) and
  C_1 + C_2 afterwards, once the error feedback returns what clipping
  removed (G - C_1 >= C_2)."""
  if cell["method"] == "dp_sgd":
    return np.ones(cell["steps"])
  return np.r_[1.0, np.full(cell["steps"] - 1, 1.0 + cell["ratio"])]


def predicted_mu(cell) -> float:
  """Gaussian-DP mu of the canary's releases: ||shifts|| / noise."""
  return float(np.linalg.norm(canary_shifts(cell)) /
               cell["noise_multiplier"])


def gdp_reading(out: np.ndarray, inn: np.ndarray) -> tuple[float, float]:
  r"""mu_hat = (mean_in - mean_out) / pooled sd, and its standard error.

  Valid when the scores are Gaussian with one variance under both hypotheses
  (true here by construction). Delta method for n scores per hypothesis:
  :math:`\mathrm{se}^2 \approx 2/n + \hat\mu^2/(4n)`.
  """
  sd = math.sqrt(0.5 * (np.var(out, ddof=1) + np.var(inn, ddof=1)))
  mu = float((inn.mean() - out.mean()) / sd)
  n = min(len(out), len(inn))
  return mu, math.sqrt(2.0 / n + mu * mu / (4.0 * n))


def gdp_mu_for_target() -> float:
  """The mu of mu-GDP whose (epsilon, delta) curve passes the target."""
  return float(scipy.optimize.brentq(
      lambda mu: audit.epsilon_from_gdp_mu(mu, DELTA) - TARGET_EPSILON, 1e-3,
      10.0, xtol=1e-12))


def _cell_label(cell) -> str:
  return f"T={cell['steps']}" + (f", C2/C1={cell['ratio']:g}"
                                 if cell["method"] == "dice" else "")


@dataclasses.dataclass(frozen=True)
class CanaryAudit:
  """The audit of one method over cells (steps x error-clip ratios).

  Records: per seed ``{"cells": [{method, steps, ratio, noise_multiplier,
  "out": scores, "in": scores}, ...]}``; stacked, ``records["cells"]["in"]``
  is ``(seeds, cells, trials)``.
  """

  experiment_id: str
  method: str                     # "dp_sgd" or "dice"
  seeds: int = 8
  quick_seeds: int = 4

  def config(self, quick: bool) -> dict:
    dice_method = self.method == "dice"
    return {"method": self.method, "trials": 2_000 if quick else 12_500,
            "num_examples": 20, "dim": 4,
            "steps": [1, 2, 5, 20] if dice_method else [2, 20],
            "error_clip_ratios": [1.0, 3.0] if dice_method else [0.0],
            # Large enough that the canary's error saturates C_2 after one
            # step (G - C_1 >= C_2 for every ratio).
            "canary_gradient": 40.0 * CLIP_NORM}

  @functools.cached_property
  def experiment(self) -> Experiment:
    return Experiment(self.experiment_id, self.config, self.measure,
                      seeds=self.seeds, quick_seeds=self.quick_seeds)

  @staticmethod
  def cells(config) -> list[dict]:
    return [{"method": config["method"], "steps": t, "ratio": r}
            for t in config["steps"] for r in config["error_clip_ratios"]]

  def measure(self, config, seeds):
    landscape = canary_landscape(config)
    n_total = config["num_examples"] + 1
    data_in = landscape.data
    data_out = landscapes.canary_absent(data_in)
    coordinate = landscape.constants["canary_coordinate"]
    programs = {}
    records = [{"cells": []} for _ in seeds]
    for c, cell in enumerate(self.cells(config)):
      z = noise(cell)
      key = (cell["method"], cell["steps"])
      if key not in programs:
        make = dp_sgd if cell["method"] == "dp_sgd" else dice(n_total)
        programs[key] = simulate(landscape, make, cell["steps"], coordinate)
      # The Neyman-Pearson statistic for known per-step shifts s_t under
      # equal Gaussian noise: sum_t s_t * release_t (sum scale, units of C_1).
      weights = canary_shifts(cell)
      for i, seed in enumerate(seeds):
        base = jax.random.fold_in(jax.random.key(seed), c)
        scores = {}
        for h, (name, data) in enumerate((("out", data_out), ("in", data_in))):
          keys = jax.random.split(jax.random.fold_in(base, h),
                                  config["trials"])
          releases = np.asarray(programs[key](keys, data, z,
                                              cell["ratio"] * CLIP_NORM))
          scores[name] = (releases * n_total / CLIP_NORM @ weights).tolist()
        records[i]["cells"].append({**cell, "noise_multiplier": z, **scores})
    return records

  @staticmethod
  def _cell_list(records) -> list[dict]:
    """The cells' descriptions (seed 0's; every seed has the same cells)."""
    return [{k: v for k, v in cell.items() if k not in ("in", "out")}
            for cell in records.raw[0]["cells"]]

  @staticmethod
  def _pooled(records, c):
    """Every seed's scores of cell ``c``: (out, in), seeds concatenated."""
    cells = records["cells"]
    return cells["out"][:, c].ravel(), cells["in"][:, c].ravel()

  def audits(self, records, alpha) -> list[dict]:
    """Per cell: Clopper-Pearson lower bound and Bayesian posterior of the
    audit's epsilon (level 1 - alpha / #cells), GDP readings, and the
    accountant's epsilon."""
    cells = self._cell_list(records)
    level = 1 - alpha / len(cells)            # Bonferroni over the cells
    rows = []
    for c, cell in enumerate(cells):
      out, inn = self._pooled(records, c)
      result = audit.audit_epsilon(out, inn, DELTA, level=level, seed=c)
      counts = (result.false_positives, result.negatives,
                result.false_negatives, result.positives)
      mu = predicted_mu(cell)
      rows.append({
          "cell": cell, "posterior_median": result.posterior.median,
          "credible_interval": list(result.interval),
          "lower_bound": audit.epsilon_lower_bound_clopper_pearson(
              *counts, DELTA, level=level),
          "mu_hat": gdp_reading(out, inn)[0], "mu_predicted": mu,
          # The same reading from the attack's held-out error rates alone.
          "mu_from_error_rates": float(audit.gdp_mu_from_error_rates(
              result.false_positives / result.negatives,
              result.false_negatives / result.positives)),
          "canary_epsilon": float(audit.epsilon_from_gdp_mu(mu, DELTA)),
          "accountant_epsilon": accountant_epsilon(cell)})
    return rows

  def evaluate_lower_bound(self, config, records, alpha):
    """Largest audit lower bound / accountant epsilon over the cells (an
    exact frequentist bound: no interval beyond the Clopper-Pearson one)."""
    rows = self.audits(records, alpha)
    ratios = [r["lower_bound"] / r["accountant_epsilon"] for r in rows]
    worst = rows[int(np.argmax(ratios))]
    per_cell = "; ".join(
        f"{_cell_label(r['cell'])}: CP lower bound {r['lower_bound']:.2f}, "
        f"posterior median {r['posterior_median']:.2f} "
        f"[{r['credible_interval'][0]:.2f}, {r['credible_interval'][1]:.2f}]"
        f" vs {r['accountant_epsilon']:.2f}; GDP mu_hat {r['mu_hat']:.3f} "
        f"(from the error rates {r['mu_from_error_rates']:.3f}) vs predicted "
        f"{r['mu_predicted']:.3f} (canary epsilon "
        f"{r['canary_epsilon']:.2f})" for r in rows)
    return Evaluation(
        measured=max(ratios), ci=(max(ratios), max(ratios)),
        tables={"audits": rows},
        notes=f"audit lower bound / accountant epsilon (delta = {DELTA:g}), "
        f"largest over {len(rows)} cells ({_cell_label(worst['cell'])}). "
        f"{len(records) * config['trials']} trials per hypothesis, half to "
        f"pick the threshold, half to count; one-sided Clopper-Pearson bounds "
        f"and equal-tailed Bayesian credible intervals (Jeffreys Beta rates) "
        f"at level 1 - {alpha:g}/{len(rows)}. 'canary epsilon' is the exact "
        f"epsilon of the canary's release sequence (mu-GDP with the predicted "
        f"mu), a lower bound on the mechanism's. Per cell: {per_cell}.")

  def plot_lower_bound(self, config, records, evaluation):
    rows = evaluation.tables["audits"]
    fig, axes = figures.new_figure(ncols=2)
    labels = [_cell_label(r["cell"]).replace(", ", "\n") for r in rows]
    x = np.arange(len(rows))
    med = np.array([r["posterior_median"] for r in rows])
    interval = np.array([r["credible_interval"] for r in rows])
    ax = axes[0, 0]
    ax.errorbar(x, med, yerr=[med - interval[:, 0], interval[:, 1] - med],
                fmt="o", alpha=0.5,
                label="Bayesian posterior (median, credible interval)")
    for key, style, label in (
        ("lower_bound", "v", "Clopper-Pearson lower bound (verdict)"),
        ("accountant_epsilon", "k_", "accountant / stated"),
        ("canary_epsilon", "x", "canary's exact epsilon")):
      ax.plot(x, [r[key] for r in rows], style, label=label,
              **({"ms": 20} if key == "accountant_epsilon" else {}))
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel(r"$\varepsilon$ at $\delta = 10^{-5}$")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    ax.plot(x, [r["mu_hat"] for r in rows], "o", label=r"audited $\hat\mu$")
    ax.plot(x, [r["mu_predicted"] for r in rows], "x",
            label=r"predicted $\mu$ (canary releases)")
    ax.axhline(gdp_mu_for_target(), color="k", linestyle="--", linewidth=1,
               label=rf"$\mu$ of $\varepsilon = {TARGET_EPSILON:g}$")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel(r"Gaussian-DP $\mu$")
    ax.legend(fontsize=7)
    return fig

  def gdp_rows(self, records, alpha) -> list[dict]:
    """Per cell: the Gaussian-DP reading of the canary's releases
    (Bonferroni normal interval) and the epsilons it and the predicted mu
    give."""
    cells = self._cell_list(records)
    crit = float(scipy.stats.norm.ppf(1 - alpha / (2 * len(cells))))
    rows = []
    for c, cell in enumerate(cells):
      mu_hat, se = gdp_reading(*self._pooled(records, c))
      mus = (mu_hat, max(mu_hat - crit * se, 0.0), mu_hat + crit * se)
      rows.append({"cell": cell, "mu": mus,
                   "epsilon": [float(audit.epsilon_from_gdp_mu(m, DELTA))
                               for m in mus],
                   "mu_predicted": predicted_mu(cell),
                   "epsilon_predicted": float(audit.epsilon_from_gdp_mu(
                       predicted_mu(cell), DELTA))})
    return rows

  def evaluate_gdp_epsilon(self, config, records, alpha):
    """Largest epsilon of the canary's releases / stated epsilon, with the
    Bonferroni normal interval of the GDP reading."""
    rows = self.gdp_rows(records, alpha)
    worst = max(rows, key=lambda r: r["epsilon"][0])
    lo = max(r["epsilon"][1] for r in rows) / TARGET_EPSILON
    hi = max(r["epsilon"][2] for r in rows) / TARGET_EPSILON
    per_cell = "; ".join(
        f"{_cell_label(r['cell'])}: mu_hat {r['mu'][0]:.3f} "
        f"[{r['mu'][1]:.3f}, {r['mu'][2]:.3f}] (predicted "
        f"{r['mu_predicted']:.3f}), epsilon {r['epsilon'][0]:.2f} "
        f"[{r['epsilon'][1]:.2f}, {r['epsilon'][2]:.2f}] (predicted "
        f"{r['epsilon_predicted']:.3f})" for r in rows)
    return Evaluation(
        measured=worst["epsilon"][0] / TARGET_EPSILON, ci=(lo, hi),
        tables={"rows": rows},
        notes=f"epsilon of the worst-case canary's releases / stated "
        f"{TARGET_EPSILON:g} (delta = {DELTA:g}), largest over {len(rows)} "
        f"cells ({_cell_label(worst['cell'])}); mu read from "
        f"{len(records) * config['trials']} simulated trials per hypothesis "
        f"(equal-variance Gaussian scores), Bonferroni normal intervals, "
        f"mapped through the mu-GDP epsilon. 'predicted' is the shift model "
        f"||(C1, C1+C2, ...)|| / (z C1) [D]. Per cell: {per_cell}.")

  def plot_gdp_epsilon(self, config, records, evaluation):
    rows = evaluation.tables["rows"]
    fig, axes = figures.new_figure()
    ax = axes[0, 0]
    x = np.arange(len(rows))
    eps = np.array([r["epsilon"] for r in rows])
    ax.errorbar(x, eps[:, 0], yerr=[eps[:, 0] - eps[:, 1],
                                    eps[:, 2] - eps[:, 0]],
                fmt="o", label="simulated canary (GDP reading)")
    ax.plot(x, [r["epsilon_predicted"] for r in rows], "x",
            label="shift model")
    ax.axhline(TARGET_EPSILON, color="k", linestyle="--", linewidth=1,
               label="stated epsilon")
    ax.set_xticks(x, [_cell_label(r["cell"]).replace(", ", "\n")
                      for r in rows], fontsize=7)
    ax.set_ylabel(r"$\varepsilon$ at $\delta = 10^{-5}$")
    ax.set_title(f"{config['method']}, full batch, canary audit")
    ax.legend(fontsize=7)
    return fig


# The DiceSGD audit's runs are shared by a zanella2023 and a dicesgd2024
# claim: one object, so one set of runs.
DICE_AUDIT = CanaryAudit("canary_audit.dice", "dice")
