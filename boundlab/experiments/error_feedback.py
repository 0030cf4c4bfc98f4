r"""Error feedback on distributed finite sums: EF21 / EF21-W runs and checks.

Three kinds of runs, each an experiment whose records several claims read:

* :class:`EF21Runs` -- per seed, random instances of a problem zoo
  (heterogeneous quadratics, logistic regression, logistic regression with
  EF21's nonconvex regulariser) run with Top-K by EF21 at the uniform step
  :math:`1/(L + L_{QM}\xi)` and by EF21 and EF21-W at the Reloaded step
  :math:`1/(L + L_{AM}\xi)`. Claims: the one-step Lyapunov inequality at
  every step (worst normalised slack), the averaged-gradient rate bound
  (worst ratio), and EF21 = EF21-W for Top-K (largest iterate gap).
* :class:`StepSizeRatioSweep` -- iterations to reach a gradient level at
  the two step sizes as one client grows rougher; the fitted slope of
  :math:`\log(T_{QM}/T_{AM})` against :math:`\log((L + L_{QM}\xi)/(L +
  L_{AM}\xi))`, per seed, with a Student-t interval.
* :class:`PepCertificates` -- PEPit's worst case of the one-step
  inequality over the function class and every contractive compressor, at
  random smoothness profiles: at the theoretical step, at 3x, and the
  largest certified multiple (bisection).

Variants, by name: ``ef21_qm`` (EF21, uniform Lyapunov, :math:`\gamma_{QM}`),
``ef21_am`` (EF21, weighted Lyapunov, :math:`\gamma_{AM}`: Reloaded's new
analysis of EF21), ``ef21w_am`` (EF21-W, weighted, :math:`\gamma_{AM}`).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np
import optax

from boundlab import figures, theory
from boundlab.algorithms.compressors import top_k
from boundlab.algorithms.error_feedback import (client_weights, ef21_init,
                                                ef21_step, run_ef21)
from boundlab.algorithms.run_loop import first_divergence
from boundlab.claims import Evaluation, Experiment, float64_measure
from boundlab.landscapes.distributed import (distributed_logistic_regression,
                                             heterogeneous_quadratics)
from boundlab.theory import error_feedback as ef

# name -> (method is EF21-W, Lyapunov / step size)
VARIANTS = {"ef21_qm": (False, "uniform"), "ef21_am": (False, "weighted"),
            "ef21w_am": (True, "weighted")}
VARIANT_LABELS = {"ef21_qm": "EF21, 1/(L + L_QM xi)",
                  "ef21_am": "EF21, 1/(L + L_AM xi)",
                  "ef21w_am": "EF21-W, 1/(L + L_AM xi)"}
PROBLEMS = ("quadratics", "logistic", "logistic_nonconvex")


def build_problem(name: str, config: dict, seed: int):
  """One random instance of a problem of the zoo (numpy seed ``seed``)."""
  if name == "quadratics":
    return heterogeneous_quadratics(config["client_smoothness"],
                                    config["dim"], seed=seed)
  if name in ("logistic", "logistic_nonconvex"):
    return distributed_logistic_regression(
        len(config["feature_scales"]), config["examples_per_client"],
        config["dim"], feature_scales=config["feature_scales"],
        nonconvex=name == "logistic_nonconvex", seed=seed)
  raise ValueError(f"problem must be one of {PROBLEMS}, got {name!r}")


def one_step_gaps(problem, compressor, step_size, steps, params):
  r"""Section 2.4's identity, one step at a time along EF21-W's trajectory.

  At every state of an EF21-W run, one EF21-W step and one EF21 step from
  the mapped state (:math:`h_i = n w_i g_i`, the same server vector) are
  compared: the largest relative gap of the next iterate and of the next
  estimates. By induction, a zero gap at every step is the equality of the
  whole trajectories; unlike the trajectories, one step does not amplify
  rounding (a near tie in Top-K's selection, which rounding can break
  either way, moves the two runs apart by a full coordinate).
  """
  weights = client_weights(problem, True)
  uniform = client_weights(problem, False)
  optimizer = optax.sgd(step_size)
  n = problem.num_clients

  @jax.jit
  def program(data, x0, key):
    state = ef21_init(problem, compressor, optimizer, x0, key, weights,
                      "compressed", data)

    def body(state, step_key):
      weighted, _ = ef21_step(problem, compressor, optimizer, weights,
                              state, step_key, data)
      mapped = state._replace(
          estimates=(n * weights)[:, None] * state.estimates)
      plain, _ = ef21_step(problem, compressor, optimizer, uniform, mapped,
                           step_key, data)
      relative = lambda a, b: jax.numpy.linalg.norm(a - b, axis=-1) / \
          jax.numpy.maximum(1.0, jax.numpy.linalg.norm(b, axis=-1))
      gap = jax.numpy.maximum(
          relative(weighted.params, plain.params),
          relative((n * weights)[:, None] * weighted.estimates,
                   plain.estimates).max())
      return weighted, gap

    _, gaps = jax.lax.scan(body, state, jax.random.split(key, steps))
    return gaps

  return np.asarray(program(problem.data, jax.numpy.asarray(params),
                            jax.random.key(0)))


def _curve_steps(steps: int, points: int = 40) -> np.ndarray:
  return np.unique(np.geomspace(1, steps + 1, points).astype(int) - 1)


@dataclasses.dataclass(frozen=True)
class EF21Runs:
  """EF21 and EF21-W with Top-K on random instances of the problem zoo.

  Attributes:
    experiment_id: the experiment's id.
    quick_steps, full_steps: T in each mode.
    dim: d of every problem; ``k``: Top-K's K (alpha = K/d).
    client_smoothness: the quadratics' :math:`L_i`.
    feature_scales: the logistic problems' per-client feature scales.
    seeds, quick_seeds: instances (one of each problem per seed).
  """

  experiment_id: str
  quick_steps: int = 300
  full_steps: int = 3000
  dim: int = 20
  k: int = 2
  client_smoothness: tuple = (1.0, 1.0, 1.0, 100.0)
  feature_scales: tuple = (1.0, 1.0, 1.0, 10.0)
  examples_per_client: int = 50
  seeds: int = 32
  quick_seeds: int = 4

  def config(self, quick: bool) -> dict:
    return {"problems": list(PROBLEMS), "variants": list(VARIANTS),
            "steps": self.quick_steps if quick else self.full_steps,
            "dim": self.dim, "k": self.k,
            "client_smoothness": list(self.client_smoothness),
            "feature_scales": list(self.feature_scales),
            "examples_per_client": self.examples_per_client}

  def measure(self, config, seeds):
    compressor = top_k(config["k"], config["dim"])
    alpha, steps = compressor.contraction, config["steps"]
    curve_at = _curve_steps(steps)
    records = []
    for seed in seeds:
      x0 = np.random.default_rng([seed, 1]).standard_normal(config["dim"])
      out = {"slack": [], "rate_ratio": [], "one_step_gap": [],
             "trajectory_gap": [], "value_scale": [], "grad_curve": [],
             "step_size": []}
      diverged = []
      for name in config["problems"]:
        problem = build_problem(name, config, seed)
        c, f_inf = problem.constants, problem.constants[
            "optimal_value_lower_bound"]
        runs = {}
        slack, ratio, curves, gammas = [], [], [], []
        for variant in config["variants"]:
          weighted, lyapunov = VARIANTS[variant]
          gamma = ef.theoretical_step_size(c, alpha, lyapunov)
          run = run_ef21(problem, compressor, gamma, steps, weighted=weighted,
                         params=x0, record_iterates=lyapunov == "weighted")
          runs[variant] = run
          diverged.append(run.diverged_at)
          error = (run.estimate_error if lyapunov == "uniform"
                   else run.weighted_estimate_error)
          phi = ef.lyapunov_values(run.objective, error, f_inf, gamma, alpha)
          descent = phi[1:] - phi[:-1] + gamma / 2 * run.grad_norm_sq[:-1]
          slack.append(float(np.max(descent) / phi[0]))
          bound = ef.averaged_rate_bound(run.objective[0] - f_inf, error[0],
                                         gamma, alpha, steps)
          ratio.append(float(np.mean(run.grad_norm_sq[:-1]) / bound))
          curves.append(run.grad_norm_sq[curve_at].tolist())
          gammas.append(gamma)
          if variant == config["variants"][0]:
            out["value_scale"].append(float(np.max(
                np.abs(run.objective) + abs(f_inf)) / phi[0]))
        a, b = runs["ef21_am"].iterates, runs["ef21w_am"].iterates
        out["trajectory_gap"].append(float(np.max(
            np.linalg.norm(a - b, axis=1)
            / np.maximum(1.0, np.linalg.norm(a, axis=1)))))
        gamma_am = ef.theoretical_step_size(c, alpha, "weighted")
        out["one_step_gap"].append(float(np.max(one_step_gaps(
            problem, compressor, gamma_am, steps, x0))))
        out["slack"].append(slack)
        out["rate_ratio"].append(ratio)
        out["grad_curve"].append(curves)
        out["step_size"].append(gammas)
      out["diverged_at"] = int(first_divergence(diverged))
      records.append(out)
    return records

  @functools.cached_property
  def experiment(self) -> Experiment:
    """The experiment (one object, so that claims share its runs)."""
    return Experiment(self.experiment_id, self.config,
                      float64_measure(self.measure), seeds=self.seeds,
                      quick_seeds=self.quick_seeds)

  def _columns(self, config, variants):
    return [config["variants"].index(v) for v in variants]

  def evaluate_lyapunov(self, variants):
    """Worst normalised slack :math:`\\max_t (\\Phi^{t+1} - \\Phi^t +
    \\frac\\gamma2\\|\\nabla f(x^t)\\|^2)/\\Phi^0` over steps, problems,
    instances and ``variants``; the claim: <= 0."""

    def evaluate(config, records, alpha):
      del alpha  # every instance is checked: the interval is the range
      slack = records["slack"][:, :, self._columns(config, variants)]
      _, ci = theory.range_interval(slack.ravel())
      worst = slack.max(axis=0)
      return Evaluation(
          # Instances are the random problems; with Top-K, EF21 and EF21-W
          # are the same run, so their variants do not count twice.
          measured=ci[1], ci=ci, instances=int(slack.shape[0]
                                               * slack.shape[1]),
          tables={"worst": worst},
          notes=f"{len(records)} seeds x {len(config['problems'])} problems "
          f"x {len(variants)} runs of T = {config['steps']} steps, Top-"
          f"{config['k']} of d = {config['dim']} (alpha = "
          f"{config['k'] / config['dim']:g}). Worst slack / Phi^0 per "
          "problem: " + ", ".join(
              f"{p}: {worst[i].max():.2e}" for i, p in
              enumerate(config["problems"])) + ". |f| / Phi^0 reaches "
          f"{records['value_scale'].max():.3g} (float64 rounding of the "
          "slack is about 1e-16 times that). Power: on these Top-K runs the "
          "inequality has room (4x the step still holds on the test's "
          "instance; 10x breaks it), so this checks the theorem on paths, "
          "not the tightness of its step (the PEPit claims do).")
    return evaluate

  def evaluate_rate(self, variants):
    """Worst ratio of :math:`\\frac1T\\sum_{t<T}\\|\\nabla f(x^t)\\|^2` to
    the theorem's bound; the claim: <= 1."""

    def evaluate(config, records, alpha):
      del alpha  # every instance is checked: the interval is the range
      ratio = records["rate_ratio"][:, :, self._columns(config, variants)]
      _, ci = theory.range_interval(ratio.ravel())
      return Evaluation(
          measured=ci[1], ci=ci, instances=int(ratio.shape[0]
                                               * ratio.shape[1]),
          tables={"worst": ratio.max(axis=0)},
          notes=f"{ratio.size} runs (seeds x problems x variants), T = "
          f"{config['steps']}; f^inf is the exact minimum for the convex "
          "problems and the lower bound 0 for the nonconvex one (a valid, "
          "looser bound). Median ratio "
          f"{np.median(ratio):.3g}, worst {ci[1]:.3g}. The bound is the "
          "telescoped one-step inequality, so this adds the bookkeeping of "
          "Phi^0, not independent evidence.")
    return evaluate

  def evaluate_equivalence(self, config, records, alpha):
    """Largest relative gap of one EF21 step against one EF21-W step from
    the mapped state, over every state of EF21-W's runs (Top-K is positively
    homogeneous); the claim: 0."""
    del alpha  # a deterministic identity on every instance
    gap = records["one_step_gap"]
    trajectory = records["trajectory_gap"]
    _, ci = theory.range_interval(gap.ravel())
    return Evaluation(
        measured=ci[1], ci=ci, instances=int(gap.size),
        notes=f"max over the {config['steps']} steps of EF21-W at gamma = 1/(L"
        " + L_AM xi) of the relative gap between its next state and EF21's "
        f"from the mapped state h_i = n w_i g_i, {gap.size} instances (seeds "
        "x problems). Whole trajectories run apart by rounding: max_t ||x_EF21"
        " - x_EF21-W|| / max(1, ||x||) reaches "
        f"{trajectory.max():.2e} (median {np.median(trajectory):.2e}): a "
        "1e-16 difference grows along the run and a near tie in Top-K can "
        "flip, so the trajectories are compared in the notes, the identity "
        "step by step.")

  def plot_equivalence(self, config, records, evaluation):
    """Per instance: the one-step gap the claim reads, and the drift of the
    whole trajectories."""
    fig, ((ax,),) = figures.new_figure()
    for i, problem in enumerate(config["problems"]):
      ax.semilogy(np.full(len(records), i) - 0.1,
                  np.maximum(records["one_step_gap"][:, i], 1e-18), "o",
                  color=figures.PALETTE["measured"],
                  label="one step (the claim)" if i == 0 else None)
      ax.semilogy(np.full(len(records), i) + 0.1,
                  np.maximum(records["trajectory_gap"][:, i], 1e-18), "s",
                  color=figures.PALETTE["alternative"],
                  label="whole trajectories" if i == 0 else None)
    ax.set_xticks(range(len(config["problems"])), config["problems"])
    ax.set(xlabel="problem", ylabel="relative gap EF21 vs EF21-W",
           title="EF21 = EF21-W for Top-K, and rounding's drift")
    ax.legend()
    return fig

  def plot_runs(self, variants, title, reference):
    """The median gradient-norm curves, and the worst value per problem and
    variant against ``reference`` (the bound: 0 for slacks, 1 for
    ratios)."""
    def plot(config, records, evaluation):
      fig, ((left, right),) = figures.new_figure(ncols=2)
      columns = self._columns(config, variants)
      steps = _curve_steps(config["steps"])
      for i, problem in enumerate(config["problems"]):
        for j, v in zip(columns, variants):
          curve = np.median(records["grad_curve"][:, i, j], axis=0)
          left.loglog(steps + 1, curve, label=f"{problem}, {v}")
      left.set(xlabel="step t + 1", ylabel=r"median $\|\nabla f(x^t)\|^2$",
               title=title)
      left.legend(fontsize=6)
      worst = np.asarray(evaluation.tables["worst"])
      labels = [f"{p[:9]}\n{v}" for p in config["problems"] for v in variants]
      right.bar(range(len(labels)), worst.reshape(-1) if worst.ndim > 1 else
                worst, color=figures.PALETTE["measured"])
      right.set_xticks(range(len(labels)), labels, fontsize=6)
      right.axhline(reference, color=figures.PALETTE["bound"],
                    linestyle="--", label="bound")
      right.set(xlabel="problem, variant", ylabel="worst over instances",
                title="worst value per problem (bound dashed)")
      right.legend()
      return fig
    return plot


@dataclasses.dataclass(frozen=True)
class StepSizeRatioSweep:
  r"""Iterations to reach :math:`\|\nabla f\|^2 \le \varepsilon
  \|\nabla f(x^0)\|^2` at :math:`\gamma_{QM}` and :math:`\gamma_{AM}` as the
  last of n clients grows rougher (:math:`L = (1, \dots, 1, s)`), on
  quadratics whose clients are strongly convex (curvature floor 1/2).

  Per seed (one instance per spread s), the slope of :math:`\log(T_{QM} /
  T_{AM})` on :math:`\log(\gamma_{AM}/\gamma_{QM})` by least squares; the
  claim reads the Student-t interval of the slopes over seeds.
  """

  experiment_id: str
  quick_spreads: tuple = (1.0, 8.0, 64.0)
  full_spreads: tuple = (1.0, 4.0, 16.0, 64.0, 256.0)
  num_clients: int = 16
  dim: int = 10
  k: int = 1
  level: float = 1e-6
  max_steps: int = 20000
  seeds: int = 16
  quick_seeds: int = 4

  def config(self, quick: bool) -> dict:
    return {"spreads": list(self.quick_spreads if quick
                            else self.full_spreads),
            "num_clients": self.num_clients, "dim": self.dim, "k": self.k,
            "level": self.level, "max_steps": self.max_steps}

  def measure(self, config, seeds):
    compressor = top_k(config["k"], config["dim"])
    alpha = compressor.contraction
    records = []
    for seed in seeds:
      predicted, measured, iterations, diverged = [], [], [], []
      for s in config["spreads"]:
        smooth = [1.0] * (config["num_clients"] - 1) + [s]
        problem = heterogeneous_quadratics(smooth, config["dim"],
                                           curvature_floor=0.5, seed=seed)
        x0 = np.random.default_rng([seed, 2]).standard_normal(config["dim"])
        counts = []
        for lyapunov in ("uniform", "weighted"):
          gamma = ef.theoretical_step_size(problem.constants, alpha, lyapunov)
          run = run_ef21(problem, compressor, gamma, config["max_steps"],
                         params=x0, initial_estimates="exact")
          diverged.append(run.diverged_at)
          below = np.nonzero(run.grad_norm_sq <= config["level"]
                             * run.grad_norm_sq[0])[0]
          counts.append(int(below[0]) if below.size else -1)
        c = problem.constants
        predicted.append((c["smoothness"] + c["smoothness_qm"] * ef.xi(alpha))
                         / (c["smoothness"] + c["smoothness_am"]
                            * ef.xi(alpha)))
        iterations.append(counts)
        measured.append(counts[0] / counts[1] if min(counts) > 0
                        else float("nan"))
      slope = float(np.polyfit(np.log(predicted), np.log(measured), 1)[0]) \
          if np.all(np.isfinite(measured)) else float("nan")
      records.append({"predicted_ratio": predicted, "iteration_ratio":
                      measured, "iterations": iterations, "slope": slope,
                      "diverged_at": int(first_divergence(diverged))})
    return records

  @functools.cached_property
  def experiment(self) -> Experiment:
    """The experiment (one object, so that claims share its runs)."""
    return Experiment(self.experiment_id, self.config,
                      float64_measure(self.measure), seeds=self.seeds,
                      quick_seeds=self.quick_seeds)

  def evaluate(self, config, records, alpha):
    slopes = records["slope"]
    if not np.all(np.isfinite(slopes)):
      return Evaluation.undetermined(
          f"{int(np.sum(~np.isfinite(slopes)))} of {len(slopes)} seeds did "
          f"not reach the level within {config['max_steps']} steps")
    mean, ci = theory.mean_ci(slopes, alpha)
    ratios = records["iteration_ratio"]
    return Evaluation(
        measured=mean, ci=ci, tables={},
        notes=f"Slope of log(T_QM / T_AM) on log((L + L_QM xi)/(L + L_AM xi))"
        f" over s in {config['spreads']} (L = (1 x {config['num_clients']-1}"
        f", s)), Top-{config['k']} of d = {config['dim']}, level "
        f"{config['level']:g} x ||grad f(x^0)||^2; Student-t interval over "
        f"{len(slopes)} seeds. Median iteration ratio by s: " + ", ".join(
            f"{s:g}: {r:.3g} (predicted {p:.3g})" for s, r, p in zip(
                config["spreads"], np.median(ratios, 0),
                np.median(records["predicted_ratio"], 0))) + ".")

  def plot(self, config, records, evaluation):
    fig, ((ax,),) = figures.new_figure()
    predicted, measured = records["predicted_ratio"], records["iteration_ratio"]
    for p, m in zip(predicted, measured):
      ax.plot(p, m, "o-", color=figures.PALETTE["measured"], alpha=0.4)
    line = np.linspace(1, predicted.max(), 10)
    ax.plot(line, line, "--", color=figures.PALETTE["bound"],
            label="slope 1: iterations track the step sizes")
    ax.set(xscale="log", yscale="log", xlabel=r"$(L + L_{QM}\xi)/(L + "
           r"L_{AM}\xi)$", ylabel=r"$T_{QM}/T_{AM}$",
           title=f"slope {evaluation.measured:.2f} "
           f"[{evaluation.ci[0]:.2f}, {evaluation.ci[1]:.2f}]")
    ax.legend()
    return fig


@dataclasses.dataclass(frozen=True)
class PepCertificates:
  r"""PEPit's worst case of EF21's one-step Lyapunov inequality at random
  smoothness profiles.

  Per seed: n uniform on {2, 3, 4} clients, :math:`L_i` log-uniform on
  [1, 100], :math:`\alpha` uniform on [0.05, 0.95]; for each variant the
  worst case at the theoretical step size (its own :math:`L := L_{AM}`, the
  smoothness the class implies for f), at ``multiple`` times it, and the
  largest multiple in [1, ``multiple``] still certified (bisection to
  ``bisection_steps`` halvings).
  """

  experiment_id: str
  multiple: float = 3.0
  quick_bisection_steps: int = 6
  full_bisection_steps: int = 12
  seeds: int = 24
  quick_seeds: int = 3

  def config(self, quick: bool) -> dict:
    return {"variants": list(VARIANTS), "multiple": self.multiple,
            "bisection_steps": self.quick_bisection_steps if quick
            else self.full_bisection_steps}

  @staticmethod
  def profile(seed: int):
    rng = np.random.default_rng([seed, 3])
    n = int(rng.integers(2, 5))
    return (tuple(float(x) for x in np.exp(rng.uniform(0, np.log(100), n))),
            float(rng.uniform(0.05, 0.95)))

  def measure(self, config, seeds):
    from boundlab.theory import pep
    records = []
    for seed in seeds:
      smooth, alpha = self.profile(seed)
      constants = ef.class_constants(smooth)
      am = constants["smoothness_am"]
      # Profiles differ in length across seeds: kept as text.
      out = {"profile": ", ".join(f"{x:.4g}" for x in smooth),
             "smoothness_ratio": constants["smoothness_qm"] / am,
             "alpha": alpha,
             "at_theory": [], "at_multiple": [], "largest_multiple": [],
             "proof_multiple": [], "solve_seconds": [],
             "inaccurate_solves": [], "solvers": []}
      for variant in config["variants"]:
        weighted, lyapunov = VARIANTS[variant]
        gamma = ef.theoretical_step_size(constants, alpha, lyapunov)
        solved = {}

        def worst(factor):
          if factor not in solved:   # bisection revisits its ends
            solved[factor] = pep.ef21_one_step(
                smooth, alpha, factor * gamma, lyapunov=lyapunov,
                weighted_method=weighted)
          return solved[factor].value
        out["at_theory"].append(worst(1.0))
        out["at_multiple"].append(worst(config["multiple"]))
        out["largest_multiple"].append(pep.largest_certified_multiple(
            worst, 1.0, config["multiple"], steps=config["bisection_steps"]))
        mean = constants["smoothness_qm" if lyapunov == "uniform"
                         else "smoothness_am"]
        out["proof_multiple"].append(ef.proof_step_multiple(
            constants["smoothness"], mean, alpha))
        out["solve_seconds"].append(solved[1.0].solve_seconds)
        out["inaccurate_solves"].append(sum(
            r.status != "optimal" for r in solved.values()))
        out["solvers"].append(",".join(sorted({r.solver for r in
                                               solved.values()})))
      records.append(out)
    return records

  @functools.cached_property
  def experiment(self) -> Experiment:
    """The experiment (one object, so that claims share its runs)."""
    return Experiment(self.experiment_id, self.config,
                      float64_measure(self.measure), seeds=self.seeds,
                      quick_seeds=self.quick_seeds,
                      requires=tuple((module, "pip install 'boundlab[pep]'")
                                     for module in ("PEPit", "cvxpy",
                                                    "clarabel")))

  def _solver_note(self, records, columns):
    inaccurate = int(records["inaccurate_solves"][:, columns].sum())
    solvers = sorted({x for row in records["solvers"][:, columns].ravel()
                      for x in str(row).split(",")})
    return (f"Solver {', '.join(solvers)}; {inaccurate} solve(s) reported "
            "'optimal_inaccurate'.")

  def evaluate_certified(self, variants):
    """Largest worst case at the theoretical step; the claim: <= 0."""

    def evaluate(config, records, alpha):
      del alpha  # an exact computation (an SDP) per sampled profile
      columns = [config["variants"].index(v) for v in variants]
      values = records["at_theory"][:, columns]
      _, ci = theory.range_interval(values.ravel())
      multiples = records["largest_multiple"][:, columns]
      proof = records["proof_multiple"][:, columns]
      # EF21 and EF21-W give the same PEP (the relaxation is homogeneous):
      # one instance per profile and Lyapunov function.
      kinds = {VARIANTS[v][1] for v in variants}
      return Evaluation(
          measured=ci[1], ci=ci, instances=len(records) * len(kinds),
          tables={"largest_multiple": multiples, "proof_multiple": proof},
          notes=f"PEPit worst case of Phi^1 - Phi^0 + gamma/2 "
          f"||grad f(x^0)||^2 per unit of gamma/2 ||grad f(x^0)||^2 + "
          f"gamma/(2 theta) G^0, over L_i-smooth clients (so L := L_AM) and "
          "every compressor with ||C(v) - v||^2 <= (1 - alpha)||v||^2 for "
          "every v (Rand-K, contractive only in expectation, is outside "
          f"this class), at {len(records)} random profiles (n in 2..4, L_i "
          f"in [1, 100], alpha in [0.05, 0.95]). Largest certified multiple"
          f" of the step: median {np.median(multiples):.3g}, range "
          f"[{multiples.min():.3g}, {multiples.max():.3g}]; the proof's own "
          "condition 1/gamma - L - (beta/theta) L~^2 gamma >= 0 reaches "
          f"median {np.median(proof):.3g} (max |PEP - proof| = "
          f"{np.abs(multiples - proof).max():.2g}, bisection resolution "
          f"{(config['multiple'] - 1) / 2**config['bisection_steps']:.2g}). "
          f"Worst case at {config['multiple']:g}x: min "
          f"{records['at_multiple'][:, columns].min():.3g}. "
          + self._solver_note(records, columns))
    return evaluate

  def evaluate_not_loose(self, config, records, alpha):
    """Smallest worst case at ``multiple`` x the theoretical step, over
    variants and profiles; the claim: above the solver's tolerance (the
    step is within that factor of the largest the inequality allows)."""
    del alpha  # exact computations, one per profile and Lyapunov function
    values = records["at_multiple"]
    _, ci = theory.range_interval(values.ravel())
    kinds = {VARIANTS[v][1] for v in config["variants"]}
    return Evaluation(
        measured=ci[0], ci=ci, instances=len(records) * len(kinds),
        notes=f"Worst case of the one-step inequality at "
        f"{config['multiple']:g} x the theoretical step, {len(records)} "
        f"profiles x {len(kinds)} Lyapunov functions. Largest certified "
        f"multiples: median {np.median(records['largest_multiple']):.3g}, "
        f"max {records['largest_multiple'].max():.3g} (bisection to "
        f"{(config['multiple'] - 1) / 2**config['bisection_steps']:.2g}). "
        + self._solver_note(records, slice(None)))

  def plot(self, config, records, evaluation):
    fig, ((ax,),) = figures.new_figure()
    spread = records["smoothness_ratio"]
    for j, variant in enumerate(config["variants"]):
      ax.plot(spread, records["largest_multiple"][:, j], "o",
              label=f"PEPit: {VARIANT_LABELS[variant]}", alpha=0.7)
      ax.plot(spread, records["proof_multiple"][:, j], "x",
              color=f"C{j}", label="the proof's own condition" if j == 0
              else None)
    ax.axhline(1.0, color=figures.PALETTE["bound"], linestyle="--",
               label="theoretical step")
    ax.set(xlabel=r"$L_{QM}/L_{AM}$ of the profile",
           ylabel="largest certified multiple of the step",
           title="PEPit: how far the step-size condition is from tight")
    ax.legend(fontsize=7)
    return fig


# The runs that the EF21 and Error Feedback Reloaded claims share (one
# experiment: computed and cached once per invocation).
TOPK_RUNS = EF21Runs("ef21.topk_runs")
STEP_SIZE_SWEEP = StepSizeRatioSweep("ef21.step_size_ratio_sweep")
PEP_CERTIFICATES = PepCertificates("ef21.pep_one_step")
