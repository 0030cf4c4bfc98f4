r"""Nabli & Oyallon (ICML 2023): DADAO's gradient and communication counts.

DADAO: Decoupled Accelerated Decentralized Asynchronous Optimization, arXiv
2208.00779 (v3). Abstract [V: arXiv abstract, v3]: on a sum of n L-smooth,
:math:`\mu`-strongly convex functions over a graph, DADAO "requires
:math:`O(n\sqrt{L/\mu}\log(1/\epsilon))` local gradients and only
:math:`O(n\sqrt{\chi_1\chi_2}\sqrt{L/\mu}\log(1/\epsilon))` communications
to reach a precision :math:`\epsilon`, up to logarithmic terms", with
:math:`\chi_1` the inverse of the smallest positive eigenvalue of the
Laplacian and :math:`\chi_2 \le \chi_1` the maximal resistance. The theorem
(number not read [R]) is an upper bound; the exponents checked here (1 in
:math:`\sqrt{L/\mu}` and in :math:`\sqrt{\chi_1\chi_2}`) are that the bound's
dependence is attained, a stronger statement than the O(.) [D: ours].

The algorithm and every constant are the authors' code [V: github.com/
AdelNabli/DADAO commit eed1ed1, ``optimizers.py``, ``run_optimizers.py``,
``main.py``, ``utils.py``]: gradient events at rate 1 per node, gossip at rate
:math:`\sqrt{2\chi_1\chi_2}` for the graph on a uniform edge, :math:`\chi_1,
\chi_2` of :math:`\mathcal L/|E|` (:mod:`boundlab.algorithms.dadao`).
One fixed graph per run (the authors' ``main.py`` cycles through 50
time-varying random graphs; the theorem covers a fixed one as a special
case [R]).

Problem: :func:`~boundlab.landscapes.distributed.federated_quadratics`
(n = 16, d = 5, heterogeneity 1): every client's Hessian has eigenvalues in
:math:`[1/\kappa, 1]`, so L = 1 and :math:`\mu = 1/\kappa` hold for every
:math:`f_i` [D: the construction], and DADAO runs with these. Start
:math:`x_i = 0`; a run stops counting at the first event where
:math:`\frac1n\sum_i\|x_i - x^\star\|^2 \le \epsilon \times` its initial
value (the error the authors plot, on the stored states).
"""

from __future__ import annotations

import jax
import numpy as np

from boundlab import figures, theory
from boundlab.algorithms.dadao import graph_rates, run_dadao
from boundlab.algorithms.run_loop import first_divergence
from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                             Relation)
from boundlab.landscapes.distributed import federated_quadratics
from boundlab.theory import graphs

PAPER = Paper(
    key="nabli2023", title="DADAO: Decoupled Accelerated Decentralized "
    "Asynchronous Optimization", authors="A. Nabli, E. Oyallon",
    arxiv="2208.00779", version="v3", venue="ICML 2023")
_TOPOLOGIES = ("complete", "torus", "ring", "line")
# Event budget: time horizon _HORIZON x sqrt(kappa) x log(1/eps), x (n +
# lambda) events. Set from the order of the theorem, with a margin of ~2
# over a pilot run (ring, kappa = 16..256, one seed); a run that does not
# reach eps within it reads inconclusive, never a verdict.
_HORIZON = 8.0


def _config(quick: bool) -> dict:
  n = 16
  rates = [graph_rates(graphs.adjacency(t, n)) for t in _TOPOLOGIES]
  return {"num_clients": n, "dim": 5, "heterogeneity": 1.0,
          "tolerance": 1e-4 if quick else 1e-6,
          "condition_numbers": [16.0, 64.0, 256.0] if quick
          else [16.0, 64.0, 256.0, 1024.0],
          "sweep_topology": "ring", "topology_kappa": 16.0,
          "topologies": list(_TOPOLOGIES),
          "sqrt_chi1_chi2": [float(np.sqrt(r["chi_1"] * r["chi_2"]))
                             for r in rates],
          "horizon": _HORIZON}


def _run(config, topology, kappa, seed):
  n = config["num_clients"]
  problem = federated_quadratics(n, config["dim"],
                                 heterogeneity=config["heterogeneity"],
                                 condition_number=kappa, seed=seed)
  adjacency = graphs.adjacency(topology, n)
  rate = n + graph_rates(adjacency)["gossip_rate"]
  horizon = config["horizon"] * np.sqrt(kappa) * np.log(
      1 / config["tolerance"])
  run = run_dadao(problem, adjacency, smoothness=1.0,
                  strong_convexity=1.0 / kappa,
                  num_events=int(np.ceil(horizon * rate)),
                  seed=seed, tolerance=config["tolerance"])
  # a coarse error curve (40 points in gradient count) for the figures
  marks = np.linspace(0, run.gradients[-1], 40).astype(int)
  where = np.searchsorted(run.gradients, marks)
  return run, {"gradients": marks.tolist(),
               "error": (run.error[where] / run.error[0]).tolist()}


def _measure(config, seeds):
  records = []
  with jax.enable_x64(True):
    for seed in seeds:
      diverged, grads, kappa_curves = [], [], []
      for kappa in config["condition_numbers"]:
        run, curve = _run(config, config["sweep_topology"], kappa, seed)
        grads.append(run.gradients_to_tolerance)
        kappa_curves.append(curve["error"])
        diverged.append(run.diverged_at)
      comms, comm_grads = [], []
      for topology in config["topologies"]:
        run, _ = _run(config, topology, config["topology_kappa"], seed)
        comms.append(run.communications_to_tolerance)
        comm_grads.append(run.gradients_to_tolerance)
        diverged.append(run.diverged_at)
      records.append({"gradients_to_tolerance": grads,
                      "error_curves": kappa_curves,
                      "communications_to_tolerance": comms,
                      "gradients_by_topology": comm_grads,
                      "diverged_at": int(first_divergence(diverged))})
  return records


_RUNS = Experiment("nabli2023.dadao_runs", _config, _measure, seeds=16,
                   quick_seeds=4)


def _slopes(x, counts):
  log_x = np.log(np.asarray(x, float))
  return np.array([np.polyfit(log_x, np.log(row), 1)[0] for row in counts])


# -- gradients vs sqrt(L/mu) --------------------------------------------------

def _evaluate_gradients(config, records, alpha):
  counts = np.asarray(records["gradients_to_tolerance"], float)
  if np.any(counts <= 0):
    return Evaluation.undetermined(
        "a run did not reach the tolerance within its event budget")
  x = np.sqrt(config["condition_numbers"])
  slopes = _slopes(x, counts)
  mean, ci = theory.mean_ci(slopes, alpha)
  return Evaluation(
      measured=mean, ci=ci, tables={"slopes": slopes, "sqrt_kappa": x},
      notes=f"Per seed, slope of log(gradient events to reach eps = "
      f"{config['tolerance']:g} x the initial error) on log sqrt(L/mu), "
      f"kappa in {config['condition_numbers']}, {config['sweep_topology']} "
      f"of {config['num_clients']}; Student-t over {len(records)} seeds. "
      f"Median counts: {np.median(counts, 0).astype(int).tolist()}.")


def _plot_gradients(config, records, evaluation):
  fig, ((ax, ax2),) = figures.new_figure(ncols=2)
  x = evaluation.tables["sqrt_kappa"]
  counts = np.asarray(records["gradients_to_tolerance"], float)
  figures.band(ax, x, counts, label="DADAO (median, 10-90%)", log=True)
  ref = np.median(counts[:, 0]) * x / x[0]
  ax.plot(x, ref, "--", color=figures.PALETTE["bound"],
          label="slope 1 (the theorem's order)")
  ax.set(xscale="log", xlabel="sqrt(L/mu)",
         ylabel=f"gradient events to eps = {config['tolerance']:g}",
         title=f"fitted exponent {evaluation.measured:.2f}")
  ax.legend()
  curves = np.asarray(records["error_curves"], float)
  for k, kappa in enumerate(config["condition_numbers"]):
    ax2.semilogy(np.linspace(0, 1, curves.shape[-1]), np.median(curves[:, k], 0),
                 label=f"kappa = {kappa:g}")
  ax2.set(xlabel="fraction of the run's gradient events",
          ylabel="error / initial error (median)",
          title="error by gradient count")
  ax2.legend()
  return fig


GRADIENTS = Claim(
    id="nabli2023.gradient_count_scales_with_sqrt_condition", paper=PAPER,
    statement="DADAO requires O(n sqrt(L/mu) log(1/eps)) local gradients to "
    "reach a precision eps.",
    measurement="Exponent of the gradient events to reach eps in sqrt(L/mu) "
    "(fixed graph, fixed eps), fitted per seed over kappa = L/mu.",
    bound=Bound(name="exponent in sqrt(L/mu) = 1 (tolerance ours)",
                expression=1,
                citation=PAPER.cite(
                    "Abstract; main theorem (number not read)",
                    "The order n sqrt(L/mu) log(1/eps) is the v3 abstract's "
                    "[V: arXiv abstract]; the theorem's constants were not "
                    "read [R]; the algorithm's constants and rates are the "
                    "authors' code [V: AdelNabli/DADAO eed1ed1]; that the "
                    "exponent is attained (not only bounded) is ours [D].")),
    relation=Relation.APPROX, experiment=_RUNS, evaluate=_evaluate_gradients,
    plot=_plot_gradients, evidence="statistical", tolerance=0.2,
    tolerance_reason="An O(.) statement at finite kappa: the transient "
    "before the linear rate and the log(1/eps) factor are fixed, not "
    "vanishing, offsets; 0.2 keeps the accelerated exponent 1 apart from "
    "the non-accelerated 2 (kappa = sqrt(L/mu)^2).")


# -- communications vs sqrt(chi_1 chi_2) ---------------------------------------

def _evaluate_communications(config, records, alpha):
  counts = np.asarray(records["communications_to_tolerance"], float)
  if np.any(counts <= 0):
    return Evaluation.undetermined(
        "a run did not reach the tolerance within its event budget")
  x = np.asarray(config["sqrt_chi1_chi2"])
  slopes = _slopes(x, counts)
  mean, ci = theory.mean_ci(slopes, alpha)
  grads = np.asarray(records["gradients_by_topology"], float)
  return Evaluation(
      measured=mean, ci=ci, tables={"slopes": slopes},
      notes=f"Per seed, slope of log(gossip events to reach eps = "
      f"{config['tolerance']:g}) on log sqrt(chi_1 chi_2) over "
      f"{config['topologies']} (sqrt(chi_1 chi_2) = "
      f"{np.round(x, 2).tolist()}) at kappa = {config['topology_kappa']:g}; "
      f"the log(1/eps) factor is the same on every topology (same eps, same "
      f"start). Student-t over {len(records)} seeds. Median gradient events "
      f"by topology: {np.median(grads, 0).astype(int).tolist()}.")


def _plot_communications(config, records, evaluation):
  fig, ((ax,),) = figures.new_figure()
  x = np.asarray(config["sqrt_chi1_chi2"])
  counts = np.asarray(records["communications_to_tolerance"], float)
  order = np.argsort(x)
  figures.band(ax, x[order], counts[:, order], label="DADAO (median, "
               "10-90%)", log=True)
  ax.plot(x[order], np.median(counts[:, order[0]]) * x[order] / x[order[0]],
          "--", color=figures.PALETTE["bound"], label="slope 1")
  for xi, name in zip(x, config["topologies"]):
    ax.annotate(name, (xi, np.median(counts[:, config["topologies"].index(
        name)])), fontsize=7)
  ax.set(xscale="log", xlabel="sqrt(chi_1 chi_2) of L/|E|",
         ylabel=f"gossip events to eps = {config['tolerance']:g}",
         title=f"fitted exponent {evaluation.measured:.2f}")
  ax.legend()
  return fig


COMMUNICATIONS = Claim(
    id="nabli2023.communication_count_scales_with_sqrt_chi1_chi2",
    paper=PAPER,
    statement="DADAO requires only O(n sqrt(chi_1 chi_2) sqrt(L/mu) "
    "log(1/eps)) communications to reach a precision eps.",
    measurement="Exponent of the gossip events to reach eps in sqrt(chi_1 "
    "chi_2) over line, ring, torus and complete graphs of 16 nodes (fixed "
    "kappa, fixed eps), fitted per seed. The gossip rate is sqrt(2 chi_1 "
    "chi_2) by construction (the authors' choice), so what is tested is "
    "that the time to eps does not grow with the graph's chi_1 chi_2.",
    bound=Bound(name="exponent in sqrt(chi_1 chi_2) = 1 (tolerance ours)",
                expression=1,
                citation=PAPER.cite(
                    "Abstract; main theorem (number not read)",
                    "The order is the v3 abstract's [V: arXiv abstract]; "
                    "chi_1, chi_2 of L/|E| and the gossip rate sqrt(2 chi_1 "
                    "chi_2) are the authors' code [V: utils."
                    "compute_spectral_quantities, main.py line 293]; the "
                    "theorem's constants were not read [R]; the attained "
                    "exponent is ours [D].")),
    relation=Relation.APPROX, experiment=_RUNS,
    evaluate=_evaluate_communications, plot=_plot_communications,
    evidence="statistical", tolerance=0.2,
    tolerance_reason="An O(.) statement: the graph enters the time to eps "
    "only through lower-order terms, which the theorem does not control; "
    "0.2 over a range of 7 in sqrt(chi_1 chi_2) is a factor 1.5 in the "
    "counts.")

CLAIMS = (GRADIENTS, COMMUNICATIONS)
