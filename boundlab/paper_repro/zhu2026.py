r"""Zhu, Zhang, Wang, Zhou & Wang (ICLR 2026): a single global merge.

On the Surprising Effectiveness of a Single Global Merging in Decentralized
Learning, arXiv 2507.06542 (v4, 27 Apr 2026). Abstract [V: arXiv abstract
page]: concentrating the communication budget late in training improves the
global model; a single global merge at the end recovers much of the
server's performance under high heterogeneity; and the theory shows that
"the globally merged model of decentralized SGD can match the convergence
rate of parallel SGD" -- *match*, not beat. Theorem numbers and constants
were not read [R]: ``verified=False``.

Checked on federated quadratics (:func:`~boundlab.landscapes.distributed.
federated_quadratics`: n = 16 clients, d = 10, client-specific Hessians with
condition number 10, heterogeneity zeta_* = 2, gradient noise sigma = 1),
D-SGD with Metropolis-Hastings gossip against parallel SGD on the same
noise (:func:`~boundlab.algorithms.decentralized.run_dsgd`):

* with one Hessian shared by all clients, the merged model *is* parallel SGD
  pathwise, for any W and schedule (our derivation, an identity of our
  code);
* the merged model's excess over parallel SGD, late vs early budget (10%
  of the rounds), on a ring: the direction (late smaller) was fixed before
  running, from the paper;
* the same excess decreases as the topology's spectral gap grows (line,
  ring, torus, complete);
* the decay exponent of f(merged) - f* in the horizon T at eta = c / sqrt(T)
  matches parallel SGD's (the theorem's "match").
"""

from __future__ import annotations

import jax
import numpy as np

from boundlab import figures, theory
from boundlab.algorithms.run_loop import first_divergence
from boundlab.algorithms.decentralized import (communication_schedule,
                                               run_dsgd)
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)
from boundlab.experiments.monotone_sweep import MonotoneSweep
from boundlab.landscapes.distributed import federated_quadratics
from boundlab.theory import graphs

PAPER = Paper(
    key="zhu2026", title="On the Surprising Effectiveness of a Single Global "
    "Merging in Decentralized Learning",
    authors="T. Zhu, T. Zhang, M. Wang, Z. Zhou, C. Wang",
    arxiv="2507.06542", version="v4", venue="ICLR 2026")
_ABSTRACT = PAPER.cite(
    "Abstract and main theorem (number not read)",
    "The statements are the abstract's [V: arXiv abstract page, v4]; the "
    "theorem's rate and constants were not read [R].")
_TOPOLOGIES = ("line", "ring", "torus", "complete")


def _config(quick: bool) -> dict:
  return {"num_clients": 16, "dim": 10, "heterogeneity": 2.0,
          "condition_number": 10.0, "noise_std": 1.0, "step_size": 0.1,
          "steps": 400 if quick else 2000, "budget_fraction": 0.1,
          "topologies": list(_TOPOLOGIES),
          "spectral_gaps": [graphs.spectral_gap(graphs.metropolis_hastings(
              graphs.adjacency(t, 16))) for t in _TOPOLOGIES],
          "horizons": [256, 1024, 4096] if quick else [256, 1024, 4096,
                                                        16384],
          "rate_step_scale": 1.0}


def _mixing(topology, n, seed=0):
  return graphs.metropolis_hastings(graphs.adjacency(topology, n,
                                                     probability=0.3,
                                                     seed=seed))


def _measure(config, seeds):
  n, d, steps = config["num_clients"], config["dim"], config["steps"]
  records = []
  for seed in seeds:
    kwargs = dict(heterogeneity=config["heterogeneity"],
                  condition_number=config["condition_number"], seed=seed)
    own = federated_quadratics(n, d, **kwargs)
    shared = federated_quadratics(n, d, shared_hessian=True, **kwargs)
    rng = np.random.default_rng([seed, 7])
    x0 = rng.standard_normal(d)
    common = dict(noise_std=config["noise_std"], params=x0,
                  key=jax.random.key(seed))
    f_star = own.constants["optimal_value"]
    identity, diverged = [], []
    for topology in ("ring", "torus", "star", "erdos_renyi"):
      gossip = rng.uniform(size=steps) < 0.3
      run = run_dsgd(shared, _mixing(topology, n, seed), config["step_size"],
                     steps, gossip=gossip, **common)
      identity.append(float(np.max(run.merged_gap)
                            / max(1.0, np.linalg.norm(run.parallel))))
      diverged.append(run.diverged_at)
    budget = int(round(config["budget_fraction"] * steps))
    placement = {}
    for where in ("early", "late"):
      run = run_dsgd(own, _mixing("ring", n), config["step_size"], steps,
                     gossip=communication_schedule(steps, budget, where),
                     **common)
      placement[where] = float(run.merged_objective[-1]
                               - run.parallel_objective[-1])
      diverged.append(run.diverged_at)
    excess = []
    for topology in config["topologies"]:
      run = run_dsgd(own, _mixing(topology, n), config["step_size"], steps,
                     **common)
      excess.append(float(run.merged_objective[-1]
                          - run.parallel_objective[-1]))
      diverged.append(run.diverged_at)
    merged_rate, parallel_rate = [], []
    for horizon in config["horizons"]:
      run = run_dsgd(own, _mixing("ring", n), config["rate_step_scale"]
                     / np.sqrt(horizon), horizon, **common)
      # The mean over the last tenth of the iterates: one noisy iterate per
      # run would dominate the fitted slope.
      tail = slice(-(horizon // 10) - 1, None)
      merged_rate.append(float(np.mean(run.merged_objective[tail]) - f_star))
      parallel_rate.append(float(np.mean(run.parallel_objective[tail])
                                 - f_star))
      diverged.append(run.diverged_at)
    records.append({
        "identity_gap": identity, "early_excess": placement["early"],
        "late_excess": placement["late"], "topology_excess": excess,
        "merged_suboptimality": merged_rate,
        "parallel_suboptimality": parallel_rate,
        "diverged_at": int(first_divergence(diverged))})
  return records


_RUNS = Experiment("zhu2026.dsgd_runs", _config, _measure, seeds=32,
                   quick_seeds=8)


# -- the identity -------------------------------------------------------------

def _evaluate_identity(config, records, alpha):
  del alpha  # an identity on every instance: the interval is the range
  gaps = records["identity_gap"]
  _, ci = theory.range_interval(gaps.ravel())
  return Evaluation(
      measured=ci[1], ci=ci, instances=int(gaps.size),
      notes=f"max_t ||merged - parallel|| / max(1, ||parallel||), shared "
      f"Hessian, {config['steps']} steps, random gossip rounds (30%), "
      f"topologies ring, torus, star, Erdos-Renyi; {gaps.size} runs.")


def _plot_identity(config, records, evaluation):
  fig, ((ax,),) = figures.new_figure()
  gaps = records["identity_gap"]
  for j, name in enumerate(("ring", "torus", "star", "erdos_renyi")):
    ax.semilogy(np.full(len(gaps), j), np.maximum(gaps[:, j], 1e-18), "o",
                color=figures.PALETTE["measured"])
  ax.set_xticks(range(4), ["ring", "torus", "star", "Erdos-Renyi"])
  ax.set(xlabel="topology (shared Hessian)",
         ylabel="max relative gap merged vs parallel SGD",
         title="merged D-SGD = parallel SGD, pathwise")
  return fig


MERGED_IS_PARALLEL = Claim(
    id="zhu2026.merged_equals_parallel_sgd_shared_hessian", paper=PAPER,
    statement="With a Hessian shared by every client, the globally merged "
    "D-SGD model equals parallel SGD on the same noise, for any doubly "
    "stochastic W and communication schedule.",
    measurement="Largest relative distance between the merged D-SGD model "
    "and parallel SGD over every step, four topologies, random schedules.",
    bound=Bound(name="merged - parallel = 0", expression=0,
                citation=PAPER.cite("(derived)", "Our derivation from D-SGD's"
                                    " update: W doubly stochastic keeps the "
                                    "mean, a shared Hessian makes the mean "
                                    "gradient f's gradient at the mean [D].")),
    relation=Relation.LE, experiment=_RUNS, evaluate=_evaluate_identity,
    plot=_plot_identity,
    # Linear algebra that any correct D-SGD satisfies: a failure could
    # only reveal a bug of ours.
    evidence="implementation-identity", tolerance=1e-10,
    tolerance_reason="float64: the mixing matrix's rows sum to 1 up to "
    "1e-16; 1e-10 leaves a margin of 1e6 over the run.")


# -- late vs early --------------------------------------------------------------

def _evaluate_placement(config, records, alpha):
  difference = records["late_excess"] - records["early_excess"]
  mean, ci = theory.mean_ci(difference, alpha)
  return Evaluation(
      measured=mean, ci=ci, tables={"difference": difference},
      notes=f"Paired over {len(records)} seeds (same instance, start and "
      f"noise): excess of f(merged) over parallel SGD after "
      f"{config['steps']} steps on a ring of {config['num_clients']}, with "
      f"{config['budget_fraction']:.0%} of the rounds gossiping late minus "
      "early; Student-t interval. Means: early "
      f"{np.mean(records['early_excess']):.4g}, late "
      f"{np.mean(records['late_excess']):.4g}.")


def _plot_placement(config, records, evaluation):
  fig, ((ax,),) = figures.new_figure()
  figures.intervals(ax, ["early", "late"],
                    [np.mean(records["early_excess"]),
                     np.mean(records["late_excess"])],
                    [theory.mean_ci(records["early_excess"])[1],
                     theory.mean_ci(records["late_excess"])[1]],
                    color=figures.PALETTE["measured"])
  ax.set(xlabel="where the communication budget is spent",
         ylabel="f(merged) - f(parallel SGD)",
         title="late communication beats early (ring, 10% of rounds)")
  return fig


LATE_BEATS_EARLY = Claim(
    id="zhu2026.late_communication_beats_early", paper=PAPER,
    statement="Concentrating the communication budget in the later stages "
    "of decentralized training improves the globally merged model.",
    measurement="Paired difference, late minus early budget, of the merged "
    "model's excess over parallel SGD on heterogeneous quadratics. On "
    "quadratics at a constant step the outcome is nearly fixed by design "
    "(with 90% of the rounds silent, early gossip is forgotten as the "
    "clients drift to their own minima); the paper's claim is about test "
    "performance of deep networks, which this does not measure.",
    bound=Bound(name="late - early <= 0", expression=0, citation=_ABSTRACT),
    relation=Relation.LE, experiment=_RUNS, evaluate=_evaluate_placement,
    plot=_plot_placement, evidence="statistical")


# -- spectral gap ------------------------------------------------------------------

_SWEEP = MonotoneSweep(parameter="spectral_gaps", field="topology_excess",
                       decreasing=True, label="f(merged) - f(parallel)",
                       parameter_label="spectral gap of W")

GAP_HELPS = Claim(
    id="zhu2026.excess_decreases_with_spectral_gap", paper=PAPER,
    statement="Better-connected networks bring the merged D-SGD model closer "
    "to parallel SGD.",
    measurement="Excess of f(merged) over parallel SGD with gossip every "
    "round, on line, ring, torus and complete graphs of 16 clients (in "
    "increasing spectral gap); the largest increase between neighbours.",
    bound=Bound(name="largest increase <= 0", expression=0,
                citation=PAPER.cite("Main theorem (consensus term, number not"
                                    " read)", "That the consensus error "
                                    "shrinks with the spectral gap is the "
                                    "standard D-SGD analysis the paper "
                                    "builds on [R].")),
    relation=Relation.LE, experiment=_RUNS, evaluate=_SWEEP.evaluate,
    plot=_SWEEP.plot(title="excess over parallel SGD by topology",
                     yscale="symlog"),
    evidence="statistical")


# -- the rate ----------------------------------------------------------------------

def _slopes(config, records):
  log_t = np.log(config["horizons"])
  return (np.array([np.polyfit(log_t, np.log(row), 1)[0]
                    for row in records["merged_suboptimality"]]),
          np.array([np.polyfit(log_t, np.log(row), 1)[0]
                    for row in records["parallel_suboptimality"]]))


def _evaluate_rate(config, records, alpha):
  if np.any(records["merged_suboptimality"] <= 0) or np.any(
      records["parallel_suboptimality"] <= 0):
    return Evaluation.undetermined("a suboptimality is not positive")
  merged, parallel = _slopes(config, records)
  mean, ci = theory.mean_ci(merged - parallel, alpha)
  return Evaluation(
      measured=mean, ci=ci, tables={"merged": merged, "parallel": parallel},
      notes=f"Per seed, slopes of log(f - f*) (the last tenth of the "
      f"iterates averaged) on log T, T in {config['horizons']}, eta = "
      f"{config['rate_step_scale']:g}/sqrt(T), ring of "
      f"{config['num_clients']}; merged minus parallel, Student-t over "
      f"{len(records)} seeds. Mean slopes: merged {merged.mean():.3f}, "
      f"parallel {parallel.mean():.3f}.")


def _plot_rate(config, records, evaluation):
  fig, ((ax,),) = figures.new_figure()
  for name, field, color in (("merged D-SGD", "merged_suboptimality",
                              "measured"),
                             ("parallel SGD", "parallel_suboptimality",
                              "alternative")):
    figures.band(ax, config["horizons"], records[field], label=name,
                 color=figures.PALETTE[color], log=True)
  ax.set(xscale="log", yscale="log", xlabel="horizon T (eta = c/sqrt T)",
         ylabel="f - f* (last tenth averaged)",
         title="the merged model matches parallel SGD's rate")
  ax.legend()
  return fig


SAME_RATE = Claim(
    id="zhu2026.merged_matches_parallel_rate", paper=PAPER,
    statement="The globally merged model of decentralized SGD can match the "
    "convergence rate of parallel SGD.",
    measurement="Difference of the fitted decay exponents in T of f(merged) "
    "- f* and f(parallel SGD) - f* at eta = 1/sqrt(T), on a ring, over seeds: "
    "the merged model decays at least as fast (its extra consensus term, "
    "of order eta^2 zeta^2 / gap^2 ~ 1/T, decays faster than parallel "
    "SGD's eta sigma^2 / n ~ 1/sqrt T, so 'match' cannot mean slower).",
    bound=Bound(name="merged exponent - parallel exponent <= 0",
                expression=0, citation=_ABSTRACT),
    relation=Relation.LE, experiment=_RUNS, evaluate=_evaluate_rate,
    plot=_plot_rate, evidence="statistical")

CLAIMS = (MERGED_IS_PARALLEL, LATE_BEATS_EARLY, GAP_HELPS, SAME_RATE)
