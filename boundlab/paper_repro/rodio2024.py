r"""Rodio & Neglia (2024): FedStale, stale client updates with weight beta.

FedStale: leveraging stale client updates in federated learning, arXiv
2405.04171 (v1). Abstract [V: arXiv abstract page]: FedStale updates the
global model through "a convex combination of 'fresh' updates from
participating clients and 'stale' updates from non-participating ones";
its weight interpolates between FedAvg (fresh only) and FedVARP (fresh and
stale equally); the analysis "underscores how the least participating client
influences convergence error" and shows that the usefulness of stale updates
"diminishes as data heterogeneity decreases and participation heterogeneity
increases". The theorem's numbers and constants were not read [R]:
``verified=False``. The update follows the authors' code [V: arodio/FedStale
commit de3c12e, see :mod:`boundlab.algorithms.federated`].

Checked on federated quadratics (:func:`~boundlab.landscapes.distributed.
federated_quadratics`: n = 16, d = 10, client Hessians with condition number
10), K = 5 local SGD steps with Gaussian gradient noise sigma = 1, half the
clients active with probability 0.8 and half with 0.2:

* beta = 0 and beta = 1 of our FedStale are FedAvg (1/p_i weighted) and
  FedVARP, step by step against loops written from their own definitions;
* the error floor (f - f* over the last quarter of the rounds) as a function
  of beta at a low (zeta_* = 0.2) and a high (zeta_* = 3) data heterogeneity:
  stated before running, from the abstract, that the gain of FedVARP's
  stale updates over FedAvg (log floor ratio beta = 1 vs 0) is larger
  (more negative) at the high heterogeneity;
* the error floor of FedStale (beta = 0.5) with one client at p_min and the
  others at 0.8 decreases as p_min grows (stated before running);
* participation heterogeneity, read as the spread s of p_i = 0.5 +/- s at a
  fixed mean participation 0.5 (our operationalisation: the abstract does
  not say how it is measured), at the high data heterogeneity: stated
  before running, from the abstract, that the gain of FedVARP over FedAvg
  is smaller (the log floor ratio larger) at s = 0.4 than at s = 0.1, so
  that the best beta decreases.
"""

from __future__ import annotations

import jax
import numpy as np

from boundlab import figures, theory
from boundlab.algorithms.federated import (participation_masks,
                                           quadratic_parts, run_fedstale)
from boundlab.algorithms.run_loop import first_divergence
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)
from boundlab.experiments.monotone_sweep import MonotoneSweep
from boundlab.landscapes.distributed import federated_quadratics

PAPER = Paper(
    key="rodio2024", title="FedStale: leveraging stale client updates in "
    "federated learning", authors="A. Rodio, G. Neglia", arxiv="2405.04171",
    version="v1", venue="arXiv preprint")
_ABSTRACT = PAPER.cite(
    "Abstract; convergence theorem (number not read)",
    "Statements from the abstract [V: arXiv abstract page, v1]; the theorem "
    "and its constants were not read [R]. Update rule from the authors' code "
    "[V: arodio/FedStale de3c12e, aggregator.py, history_tracker.py, "
    "client_sampler.py, utils/optim.py].")


def _config(quick: bool) -> dict:
  return {"num_clients": 16, "dim": 10, "condition_number": 10.0,
          "local_steps": 5, "local_step_size": 0.05, "noise_std": 1.0,
          "probabilities": [0.8, 0.2] * 8,
          "heterogeneities": [0.2, 3.0],
          "betas": [0.0, 0.25, 0.5, 0.75, 1.0],
          "rounds": 400 if quick else 1500, "tail_fraction": 0.25,
          "identity_rounds": 30,
          # The least-participating client (client 0) at p_min, the others
          # at 0.8; zeta_* = 3, beta = 0.5.
          "min_probabilities": [0.05, 0.1, 0.2, 0.4], "other_probability": 0.8,
          "min_p_heterogeneity": 3.0, "min_p_beta": 0.5}


# -- references written from each algorithm's own definition -------------------

def _local(a, b, x, eta, noise):
  """K local SGD steps of every client from x; Delta_i = x - y_i^K."""
  n = b.shape[0]
  deltas = np.zeros_like(b)
  for i in range(n):
    y = x.copy()
    for k in range(noise.shape[0]):
      y = y - eta * (a[i] @ (y - b[i]) + noise[k, i])
    deltas[i] = x - y
  return deltas


def fedavg_reference(a, b, p, masks, noise, x0, eta_l, eta_s=1.0):
  r"""Unbiased FedAvg, a numpy loop: :math:`x \leftarrow x - \eta_s
  \sum_{i\in S_t}\frac{1}{n p_i}\Delta_i` (no step when :math:`S_t` is
  empty, as the authors' aggregator)."""
  n = b.shape[0]
  x, xs = np.array(x0, float), [np.array(x0, float)]
  for t in range(masks.shape[0]):
    deltas = _local(a, b, x, eta_l, noise[t])
    if masks[t].any():
      x = x - eta_s * sum(deltas[i] / (n * p[i]) for i in range(n)
                          if masks[t, i])
    xs.append(x.copy())
  return np.array(xs)


def fedvarp_reference(a, b, p, masks, noise, x0, eta_l, eta_s=1.0):
  r"""FedVARP (the authors' ``HistorySGD`` docstring), a numpy loop:
  :math:`\Delta = \sum_i \alpha_i h_i + \sum_{i\in S_t}\frac{\alpha_i}{p_i}
  (\Delta_i - h_i)`, then :math:`h_i = \Delta_i` for :math:`i\in S_t`."""
  n = b.shape[0]
  x, xs = np.array(x0, float), [np.array(x0, float)]
  h = np.zeros_like(b)
  for t in range(masks.shape[0]):
    deltas = _local(a, b, x, eta_l, noise[t])
    if masks[t].any():
      direction = h.mean(0) + sum((deltas[i] - h[i]) / (n * p[i])
                                  for i in range(n) if masks[t, i])
      x = x - eta_s * direction
      for i in range(n):
        if masks[t, i]:
          h[i] = deltas[i]
    xs.append(x.copy())
  return np.array(xs)


def _identity_gaps(config, seed):
  n, d, k = config["num_clients"], config["dim"], config["local_steps"]
  rounds = config["identity_rounds"]
  problem = federated_quadratics(n, d, heterogeneity=3.0,
                                 condition_number=config["condition_number"],
                                 seed=seed)
  a, b = quadratic_parts(problem)
  p = np.asarray(config["probabilities"])
  rng = np.random.default_rng([seed, 11])
  masks = participation_masks(p, rounds, rng)
  noise = rng.standard_normal((rounds, k, n, d))
  x0 = rng.standard_normal(d)
  eta, sigma = config["local_step_size"], config["noise_std"]
  gaps, diverged = [], []
  for beta, reference in ((0.0, fedavg_reference), (1.0, fedvarp_reference)):
    run = run_fedstale(problem, p, rounds, beta=beta, local_steps=k,
                       local_step_size=eta, noise_std=sigma, masks=masks,
                       noise=noise, params=x0)
    ref = reference(a, b, p, masks, sigma * noise, x0, eta)
    gaps.append(float(np.max(np.linalg.norm(run.iterates - ref, axis=1))
                      / max(1.0, np.max(np.linalg.norm(ref, axis=1)))))
    diverged.append(run.diverged_at)
  return gaps, diverged


def _measure(config, seeds):
  n, d, k = config["num_clients"], config["dim"], config["local_steps"]
  p = np.asarray(config["probabilities"])
  rounds = config["rounds"]
  tail = max(1, int(round(config["tail_fraction"] * rounds)))
  records = []
  with jax.enable_x64(True):
    for seed in seeds:
      gaps, diverged = _identity_gaps(config, seed)
      rng = np.random.default_rng([seed, 5])
      masks = participation_masks(p, rounds, rng)
      x0 = rng.standard_normal(d)
      floors = []
      for zeta in config["heterogeneities"]:
        problem = federated_quadratics(
            n, d, heterogeneity=zeta,
            condition_number=config["condition_number"], seed=seed)
        f_star = problem.constants["optimal_value"]
        row = []
        for beta in config["betas"]:
          # Same masks, start and noise for every beta and heterogeneity:
          # the comparisons are paired.
          run = run_fedstale(problem, p, rounds, beta=beta, local_steps=k,
                             local_step_size=config["local_step_size"],
                             noise_std=config["noise_std"], masks=masks,
                             key=jax.random.key(seed), params=x0)
          row.append(float(np.mean(run.objective[-tail:]) - f_star))
          diverged.append(run.diverged_at)
        floors.append(row)
      problem = federated_quadratics(
          n, d, heterogeneity=config["min_p_heterogeneity"],
          condition_number=config["condition_number"], seed=seed)
      f_star = problem.constants["optimal_value"]
      uniforms = np.random.default_rng([seed, 6]).uniform(size=(rounds, n))
      min_p_floor = []
      for p_min in config["min_probabilities"]:
        probs = np.full(n, config["other_probability"])
        probs[0] = p_min
        # One set of uniforms for every p_min: coupled masks.
        run = run_fedstale(problem, probs, rounds, beta=config["min_p_beta"],
                           local_steps=k,
                           local_step_size=config["local_step_size"],
                           noise_std=config["noise_std"],
                           masks=uniforms < probs[None],
                           key=jax.random.key(seed), params=x0)
        min_p_floor.append(float(np.mean(run.objective[-tail:]) - f_star))
        diverged.append(run.diverged_at)
      records.append({"identity_gap": gaps, "floor": floors,
                      "min_p_floor": min_p_floor,
                      "diverged_at": int(first_divergence(diverged))})
  return records


_RUNS = Experiment("rodio2024.fedstale_runs", _config, _measure, seeds=24,
                   quick_seeds=6)


# -- the endpoints ----------------------------------------------------------------

def _evaluate_identity(config, records, alpha):
  del alpha  # an identity on every instance: the interval is the range
  gaps = records["identity_gap"]
  _, ci = theory.range_interval(gaps.ravel())
  return Evaluation(
      measured=ci[1], ci=ci, instances=int(gaps.size),
      notes=f"max_t ||x_t(FedStale) - x_t(reference)|| / max(1, max_t "
      f"||x_t||), {config['identity_rounds']} rounds, K = "
      f"{config['local_steps']}, explicit masks and noise; beta = 0 vs "
      f"FedAvg: max {gaps[:, 0].max():.3g}; beta = 1 vs FedVARP: max "
      f"{gaps[:, 1].max():.3g}; {gaps.size} runs.")


def _plot_identity(config, records, evaluation):
  fig, ((ax,),) = figures.new_figure()
  gaps = records["identity_gap"]
  for j, name in enumerate(("beta=0 vs FedAvg", "beta=1 vs FedVARP")):
    ax.semilogy(np.full(len(gaps), j), np.maximum(gaps[:, j], 1e-18), "o",
                color=figures.PALETTE["measured"])
  figures.horizontal_reference(ax, 1e-10, label="tolerance")
  ax.set_xticks(range(2), ["beta=0 vs FedAvg", "beta=1 vs FedVARP"])
  ax.set(xlabel="endpoint", ylabel="max relative iterate gap",
         title="FedStale's endpoints are FedAvg and FedVARP")
  ax.legend()
  return fig


ENDPOINTS = Claim(
    id="rodio2024.endpoints_are_fedavg_and_fedvarp", paper=PAPER,
    statement="By adjusting the weight in the convex combination, FedStale "
    "interpolates between FedAvg, which only uses fresh updates, and "
    "FedVARP, which treats fresh and stale updates equally.",
    measurement="Largest relative iterate gap between FedStale(beta = 0) and "
    "a FedAvg loop, and FedStale(beta = 1) and a FedVARP loop, on the same "
    "masks and noise.",
    bound=Bound(name="endpoint gap = 0", expression=0, citation=_ABSTRACT),
    relation=Relation.LE, experiment=_RUNS, evaluate=_evaluate_identity,
    plot=_plot_identity,
    # Any correct FedStale satisfies it: a failure could only be our bug.
    evidence="implementation-identity", tolerance=1e-10,
    tolerance_reason="float64 with the same operations in another order: "
    "rounding of order 1e-15 per round over 30 rounds of contractions; "
    "1e-10 leaves a margin of 1e4.")


# -- the beta sweep ---------------------------------------------------------------

def _log_gain(records):
  """log(floor(beta = 1) / floor(beta = 0)) per seed and heterogeneity."""
  floors = records["floor"]   # (seeds, heterogeneities, betas)
  return np.log(floors[:, :, -1] / floors[:, :, 0])


def _evaluate_sweep(config, records, alpha, levels="heterogeneities",
                    level_name="zeta"):
  """The paired difference, last level minus first, of the log ratio of
  FedVARP's to FedAvg's floor; ``levels`` names the config's swept axis."""
  floors = records["floor"]
  if np.any(floors <= 0):
    return Evaluation.undetermined("an error floor is not positive")
  gain = _log_gain(records)
  difference = gain[:, -1] - gain[:, 0]
  first, last = config[levels][0], config[levels][-1]
  mean, ci = theory.mean_ci(difference, alpha)
  means = floors.mean(0)
  cis = np.array([[theory.mean_ci(floors[:, h, j], alpha)[1]
                   for j in range(floors.shape[2])]
                  for h in range(floors.shape[1])])
  best = [config["betas"][int(np.argmin(m))] for m in means]
  return Evaluation(
      measured=mean, ci=ci, tables={"means": means, "cis": cis,
                                    "difference": difference},
      notes=f"Per seed and level, L = log(floor(beta=1) / floor(beta=0)) with "
      f"floor = mean of f - f* over the last {config['tail_fraction']:.0%} "
      f"of {config['rounds']} rounds; L({level_name}={last}) - "
      f"L({level_name}={first}), paired over "
      f"{len(records)} seeds (same masks, start and noise), Student-t. Mean "
      f"L: {np.round(gain.mean(0), 3).tolist()}. Best beta of the seed-mean "
      f"floor per {level_name} {config[levels]}: {best} (betas "
      f"{config['betas']}).")


def _sweep_plot(levels, label, title):
  """The floor against beta, one series per level of ``levels``."""

  def plot(config, records, evaluation):
    fig, ((ax,),) = figures.new_figure()
    means, cis = evaluation.tables["means"], evaluation.tables["cis"]
    labels = [f"{b:g}" for b in config["betas"]]
    for h, (level, color) in enumerate(zip(config[levels],
                                           ("alternative", "measured"))):
      figures.intervals(ax, labels, means[h], cis[h],
                        color=figures.PALETTE[color],
                        label=f"{label} = {level:g}", offset=0.1 * (h - 0.5))
    ax.set(yscale="log", xlabel="beta (0: FedAvg, 1: FedVARP)",
           ylabel="error floor f - f* (last quarter of rounds)", title=title)
    ax.legend()
    return fig
  return plot


STALE_HELPS_WITH_HETEROGENEITY = Claim(
    id="rodio2024.stale_updates_help_more_with_heterogeneity", paper=PAPER,
    statement="The usefulness of stale updates diminishes as data "
    "heterogeneity decreases.",
    measurement="Paired difference, high minus low heterogeneity, of the log "
    "ratio of FedVARP's (beta = 1) to FedAvg's (beta = 0) error floor under "
    "heterogeneous participation (p = 0.8 / 0.2); the full beta sweep is "
    "drawn.",
    bound=Bound(name="L(high) - L(low) <= 0", expression=0,
                citation=_ABSTRACT),
    relation=Relation.LE, experiment=_RUNS, evaluate=_evaluate_sweep,
    plot=_sweep_plot("heterogeneities", "zeta_*", "stale updates help more "
                     "at high data heterogeneity"), evidence="statistical")


# -- the least-participating client ----------------------------------------------

_MIN_P_SWEEP = MonotoneSweep(parameter="min_probabilities",
                             field="min_p_floor", decreasing=True,
                             label="error floor f - f*",
                             parameter_label="min_i p_i")

LEAST_PARTICIPATING = Claim(
    id="rodio2024.floor_governed_by_least_participating_client", paper=PAPER,
    statement="The analysis underscores how the least participating client "
    "influences convergence error.",
    measurement="FedStale (beta = 0.5) error floor on federated quadratics "
    "(zeta_* = 3) with one client at p_min in {0.05, 0.1, 0.2, 0.4} and the "
    "others at 0.8, coupled masks; the largest increase of the floor "
    "between neighbouring p_min (stated before running: the floor decreases "
    "as p_min grows).",
    bound=Bound(name="largest increase <= 0", expression=0,
                citation=_ABSTRACT),
    relation=Relation.LE, experiment=_RUNS, evaluate=_MIN_P_SWEEP.evaluate,
    plot=_MIN_P_SWEEP.plot(title="error floor vs the least participation "
                           "probability", yscale="log"),
    evidence="statistical")

# -- participation heterogeneity ----------------------------------------------------

def _participation_config(quick: bool) -> dict:
  config = _config(quick)
  return {key: config[key] for key in (
      "num_clients", "dim", "condition_number", "local_steps",
      "local_step_size", "noise_std", "betas", "rounds", "tail_fraction")} | {
          "heterogeneity": 3.0, "mean_probability": 0.5,
          # p_i = 0.5 + s for half the clients, 0.5 - s for the others.
          "participation_spreads": [0.1, 0.4]}


def _measure_participation(config, seeds):
  n, d, k = config["num_clients"], config["dim"], config["local_steps"]
  rounds = config["rounds"]
  tail = max(1, int(round(config["tail_fraction"] * rounds)))
  signs = np.tile([1.0, -1.0], n // 2)
  records = []
  with jax.enable_x64(True):
    for seed in seeds:
      problem = federated_quadratics(
          n, d, heterogeneity=config["heterogeneity"],
          condition_number=config["condition_number"], seed=seed)
      f_star = problem.constants["optimal_value"]
      rng = np.random.default_rng([seed, 7])
      # One set of uniforms for every spread (coupled masks), one start and
      # one noise key for every spread and beta: the comparisons are paired.
      uniforms = rng.uniform(size=(rounds, n))
      x0 = rng.standard_normal(d)
      floors, diverged = [], []
      for spread in config["participation_spreads"]:
        probs = config["mean_probability"] + spread * signs
        row = []
        for beta in config["betas"]:
          run = run_fedstale(problem, probs, rounds, beta=beta, local_steps=k,
                             local_step_size=config["local_step_size"],
                             noise_std=config["noise_std"],
                             masks=uniforms < probs[None],
                             key=jax.random.key(seed), params=x0)
          row.append(float(np.mean(run.objective[-tail:]) - f_star))
          diverged.append(run.diverged_at)
        floors.append(row)
      records.append({"floor": floors,
                      "diverged_at": int(first_divergence(diverged))})
  return records


_PARTICIPATION_RUNS = Experiment(
    "rodio2024.participation_runs", _participation_config,
    _measure_participation, seeds=24, quick_seeds=6)


def _evaluate_participation(config, records, alpha):
  return _evaluate_sweep(config, records, alpha,
                         levels="participation_spreads", level_name="s")


STALE_HELPS_LESS_WITH_PARTICIPATION_HETEROGENEITY = Claim(
    id="rodio2024.stale_updates_help_less_with_participation_heterogeneity",
    paper=PAPER,
    statement="The usefulness of stale updates diminishes as participation "
    "heterogeneity increases.",
    measurement="Paired difference, high (s = 0.4) minus low (s = 0.1) "
    "participation spread p_i = 0.5 +/- s, of the log ratio of FedVARP's "
    "(beta = 1) to FedAvg's (beta = 0) error floor on zeta_* = 3 federated "
    "quadratics, coupled masks; the full beta sweep is drawn. Spread at a "
    "fixed mean is our reading of 'participation heterogeneity'.",
    bound=Bound(name="L(high) - L(low) >= 0", expression=0,
                citation=_ABSTRACT),
    relation=Relation.GE, experiment=_PARTICIPATION_RUNS,
    evaluate=_evaluate_participation,
    plot=_sweep_plot("participation_spreads", "s",
                     "stale updates and participation heterogeneity"),
    evidence="statistical")

CLAIMS = (ENDPOINTS, STALE_HELPS_WITH_HETEROGENEITY, LEAST_PARTICIPATING,
          STALE_HELPS_LESS_WITH_PARTICIPATION_HETEROGENEITY)
