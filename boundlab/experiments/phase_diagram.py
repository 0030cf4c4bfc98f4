r"""Phase diagrams: a sample-complexity exponent from success over (d, n).

The protocol of :mod:`boundlab.theory.phase_diagram`: for each dimension d and
each sample size n on a grid around the predicted scale :math:`d^\alpha`, a
0/1 success per seed (the overlap reaches a d-independent threshold); per d a
logistic fit of the 50% sample size :math:`n_{1/2}(d)`, bootstrapped over
seeds; the exponent by weighted least squares of :math:`\log n_{1/2}` on
:math:`\log d` with a percentile-bootstrap interval. The verdict compares the
exponent with the paper's, within a declared tolerance.

A :class:`PhaseDiagram` is the family; the process that produces successes is
a *sampler*:

* :class:`OnlineSGDChains` -- spherical online SGD (one fresh sample per
  step), simulated by the exact O(1) overlap chains of
  :mod:`boundlab.algorithms.spherical_sgd`; one run per seed and d answers
  every n at once (first-passage time :math:`\tau \le n`);
* :class:`FixedDataLangevin` -- spherical Langevin dynamics on one fixed
  tensor-PCA data set per (seed, d, n) (:mod:`boundlab.algorithms.langevin`),
  with the last and the window-averaged iterate as two *series* of the same
  runs;
* :class:`AveragedLangevinSDE` -- the noise-dominated Langevin SDE averaged
  over its whole trajectory, and the same average followed by online SGD
  (two estimators as two series of the same runs).

Claims on different series of one sampler may state different exponents
(``PhaseDiagram.claim(expected_exponent=...)``) when the sampler's grid does
not depend on the exponent, so that they share one set of runs.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from boundlab import figures
from boundlab.algorithms.langevin import (contract_all_but_one,
                                          spherical_langevin,
                                          spherical_langevin_sde, symmetrize)
from boundlab.algorithms.sharding import shard_leading_axis
from boundlab.algorithms.spherical_sgd import (single_index_overlap_chain,
                                               smoothed_polynomial_link,
                                               tensor_pca_overlap_chain)
from boundlab.claims import Claim, Evaluation, Experiment, Relation
from boundlab.landscapes.tensor_pca import SpikedTensor, random_unit_vector
from boundlab.theory.hermite import link_functions, polynomial_coefficients
from boundlab.theory.phase_diagram import (collapse_score, fit_exponent,
                                           success_table,
                                           threshold_from_cells)

WEAK_RECOVERY = 0.5      # success threshold on the overlap, d-independent


def _seed_keys(seeds):
  return shard_leading_axis(jnp.stack([jax.random.key(s) for s in seeds]))


@dataclasses.dataclass(frozen=True)
class OnlineSGDChains:
  r"""Spherical online SGD on tensor PCA or a single-index model.

  Step size :math:`\eta = \delta d^{-p}` (divided by :math:`\log d` if
  ``step_log``), at most ``budget`` :math:`\times d^\alpha` steps; with
  ``smoothing_power`` s the student follows the loss smoothed at radius
  :math:`\lambda = d^s` (Damian et al., arXiv 2305.10633). Records: per seed
  ``{"tau": {str(d): first passage}}`` (-1: never within the budget).
  """

  problem: str                    # "tensor_pca" or a link of theory.hermite
  information_exponent: int
  step_scale: float
  step_power: float
  step_log: bool = False
  smoothing_power: float | None = None
  budget: float = 8.0
  series = ("tau",)

  def config_entries(self) -> dict:
    return {"problem": self.problem, "snr": 1.0, "noise_std": 0.0,
            "step_scale": self.step_scale, "step_power": self.step_power,
            "step_log": self.step_log, "smoothing_power": self.smoothing_power,
            "threshold": WEAK_RECOVERY, "budget": self.budget}

  @staticmethod
  def step_size(config, d) -> float:
    eta = config["step_scale"] * float(d) ** (-config["step_power"])
    return eta / math.log(d) if config["step_log"] else eta

  @staticmethod
  def sample_sizes(config, d) -> np.ndarray:
    return np.asarray(config["grid_factors"]) * float(d) ** config[
        "expected_exponent"]

  def measure(self, config, seeds):
    k = config["information_exponent"]
    keys = _seed_keys(seeds)
    # Loop shape only (results do not depend on it): unrolled on GPUs.
    options = {"block": 256,
               "unroll": True if jax.default_backend() == "gpu" else 1}
    if config["problem"] == "tensor_pca":
      chain = lambda key, d, eta, steps: tensor_pca_overlap_chain(
          key, dim=d, order=k, snr=config["snr"], learning_rate=eta,
          num_chains=1, max_steps=steps, threshold=config["threshold"],
          **options)[0][0]
    else:
      sigma, dsigma = link_functions(config["problem"])

      def chain(key, d, eta, steps):
        smoothing = config["smoothing_power"]
        student = None if smoothing is None else smoothed_polynomial_link(
            polynomial_coefficients(config["problem"]), d, d ** smoothing)
        return single_index_overlap_chain(
            key, dim=d, link=sigma, link_derivative=dsigma,
            noise_std=config["noise_std"], learning_rate=eta, num_chains=1,
            max_steps=steps, threshold=config["threshold"],
            student_gradient=student, **options)[0][0]
    # One chain per seed (vmap over the seeds' keys), so a seed's record does
    # not depend on which other seeds ran beside it; d, eta and the budget are
    # traced, so every d shares one compilation; the seeds' axis is sharded
    # over the local devices.
    run = jax.jit(jax.vmap(chain, in_axes=(0, None, None, None)))
    tau = {}
    for d in config["dims"]:
      steps = int(config["budget"] * float(d) ** config["expected_exponent"])
      tau[str(d)] = np.asarray(run(keys, d, self.step_size(config, d), steps))
    return [{"tau": {d: int(t[i]) for d, t in tau.items()}}
            for i in range(len(seeds))]

  def successes(self, config, records, d, series) -> np.ndarray:
    return success_table(records[series][str(d)], self.sample_sizes(config, d))

  def notes(self, config, records) -> str:
    censored = sum(int(np.sum(records["tau"][str(d)] < 0))
                   for d in config["dims"])
    return (f"Chains that never reached m >= {config['threshold']} within "
            f"{config['budget']:g} x d^{config['expected_exponent']} steps: "
            f"{censored}.")


@dataclasses.dataclass(frozen=True)
class FixedDataLangevin:
  r"""Spherical Langevin dynamics on fixed order-k tensor-PCA data.

  For each (seed, d, n) a fresh spike, tensor
  :math:`\bar T = v^{\otimes k} + W/\sqrt n` (convention C) and start with
  :math:`m_0 > 0`; inverse temperature :math:`\beta = b d`, step
  :math:`\eta = \delta\min(\beta/d, 1/(3\sqrt{3d/n} + 3))`, ``steps_per_dim``
  :math:`\times d` steps, averaging over the second half. Records: per seed
  ``{"average": {str(d): [overlap per n]}, "last": {...}}``.
  """

  order: int = 3
  steps_per_dim: int = 100
  inverse_temperature_per_dim: float = 1.0
  step_scale: float = 0.05
  # The stored tensor is float32 whatever the x64 setting: the runs are
  # bandwidth-bound and float32 rounding (1e-7) is far below the noise.
  tensor_dtype: str = "float32"
  series = ("average", "last")
  # The n-grid is factors x d^{k/2} whatever the claims' exponents.
  grid_uses_expected_exponent = False

  @property
  def information_exponent(self) -> int:
    return self.order

  def config_entries(self) -> dict:
    return {"order": self.order, "steps_per_dim": self.steps_per_dim,
            "inverse_temperature_per_dim": self.inverse_temperature_per_dim,
            "step_scale": self.step_scale, "threshold": WEAK_RECOVERY,
            "tensor_dtype": self.tensor_dtype}

  @staticmethod
  def sample_sizes(config, d) -> np.ndarray:
    return np.array([int(f * d ** (config["order"] / 2)) + 1
                     for f in config["grid_factors"]])

  @staticmethod
  def schedule(config, d, n):
    beta = config["inverse_temperature_per_dim"] * d
    eta = config["step_scale"] * min(beta / d,
                                     1 / (3 * math.sqrt(3 * d / n) + 3))
    return beta, eta

  def measure(self, config, seeds):
    k, dtype = config["order"], jnp.dtype(config["tensor_dtype"])
    keys = _seed_keys(seeds)
    out = {name: {} for name in self.series}
    for d in config["dims"]:
      model, steps = SpikedTensor(d, k), config["steps_per_dim"] * d

      def one(key, n, beta, eta, model=model, steps=steps):
        # n, beta and eta are traced: one compilation per d, not per cell.
        k_spike, k_data, k_start, k_noise = jax.random.split(
            jax.random.fold_in(key, n), 4)
        spike = model.spike(k_spike).astype(dtype)
        tensor = symmetrize(model.averaged_tensor(k_data, spike, n, dtype))
        x0 = jax.random.normal(k_start, (1, d), dtype)
        x0 = x0 / jnp.linalg.norm(x0)
        x0 = x0 * jnp.sign(x0 @ spike)[:, None]
        last, average = spherical_langevin(
            tensor, x0, k_noise, learning_rate=eta, inverse_temperature=beta,
            steps=steps, average_from=steps // 2)
        return (average @ spike)[0], (last @ spike)[0]

      run = jax.jit(jax.vmap(one, in_axes=(0, None, None, None)))
      cells = [jax.device_get(run(keys, jnp.asarray(n),
                                  *self.schedule(config, d, n)))
               for n in self.sample_sizes(config, d)]
      out["average"][str(d)] = np.stack([c[0] for c in cells], axis=1)
      out["last"][str(d)] = np.stack([c[1] for c in cells], axis=1)
    return [{name: {d: x[i].tolist() for d, x in out[name].items()}
             for name in self.series} for i in range(len(seeds))]

  def successes(self, config, records, d, series) -> np.ndarray:
    return records[series][str(d)] >= config["threshold"]

  def notes(self, config, records) -> str:
    return (f"Schedule: beta = {config['inverse_temperature_per_dim']:g} d, "
            f"eta = {config['step_scale']:g} min(beta/d, 1/(3 sqrt(3d/n) + "
            f"3)), {config['steps_per_dim']} d steps, average over the second "
            f"half; n = factor x d^{config['order'] / 2:g} + 1.")


@dataclasses.dataclass(frozen=True)
class AveragedLangevinSDE:
  r"""The averaged Langevin SDE on fixed order-k tensor-PCA data, alone and
  as the warm start of online SGD.

  Per (seed, d): a spike v, one noise tensor W and one uniform start
  :math:`\theta_0` on the sphere (no sign conditioning); for each n of the
  grid the data :math:`\bar T = v^{\otimes k} + W/\sqrt n` (convention C;
  the n values of a seed share W, like one run of the online chains answers
  every n) and its own Brownian path of
  :func:`~boundlab.algorithms.langevin.spherical_langevin_sde` with signal
  weight :math:`\varepsilon`, step :math:`\Delta t = h/d` and horizon
  :math:`T = c\, d^k/\varepsilon^2` in SDE time. Estimators:

  * ``average``: :math:`\bar\theta/\|\bar\theta\|` (odd k) or the top
    eigenvector of the averaged :math:`\theta\theta^\top` (even k; overlap
    in absolute value);
  * ``two_stage``: spherical online SGD on fresh samples from the average's
    overlap (exact overlap chain, step :math:`\eta_2 = \delta\,
    d^{-(1 + (k-2)/4)}`, the drift/noise balance at the warm start's
    :math:`m_0 \sim d^{-1/4}` [D]) with n more samples: success iff it
    reaches the threshold within n steps (2n samples in all);
  * ``last``: the last point (control).

  Records: per seed ``{"average": {str(d): [overlap per n]}, "last": {...},
  "two_stage": {str(d): [first passage per n, -1 if none within n]}}``.
  """

  order: int = 3
  signal_weight: float = 1.0
  # Delta t = h/d keeps the per-step noise (norm sqrt(h)) d-independent;
  # T = c d^k / eps^2 with c = 1/2 leaves the time average's own noise at
  # about a fifth of the signal's squared norm at n -> infinity [D].
  time_step_scale: float = 0.5
  horizon_scale: float = 0.5
  online_step_scale: float = 0.25
  tensor_dtype: str = "float32"
  series = ("average", "two_stage", "last")
  # The n-grid is factors x d^{k/2} whatever the claims' exponents, so claims
  # on different series can state different exponents over the same runs.
  grid_uses_expected_exponent = False

  @property
  def information_exponent(self) -> int:
    return self.order

  def config_entries(self) -> dict:
    return {"order": self.order, "signal_weight": self.signal_weight,
            "time_step_scale": self.time_step_scale,
            "horizon_scale": self.horizon_scale,
            "online_step_scale": self.online_step_scale,
            "threshold": WEAK_RECOVERY, "tensor_dtype": self.tensor_dtype}

  sample_sizes = staticmethod(FixedDataLangevin.sample_sizes)

  @staticmethod
  def steps(config, d) -> int:
    """S = T / Delta t = c d^(k+1) / (h eps^2)."""
    return int(math.ceil(config["horizon_scale"] * float(d) ** (
        config["order"] + 1) / (config["time_step_scale"]
                                * config["signal_weight"] ** 2)))

  @staticmethod
  def cell_keys(key, d):
    """One seed's (spike, tensor, start, Langevin, online) keys at d."""
    return jax.random.split(jax.random.fold_in(key, d), 5)

  @classmethod
  def online_stage(cls, config, d, key, average, step_scale=None):
    """The second stage from the average's overlaps (one per n of the
    grid): first passage within n steps, else -1. ``step_scale`` overrides
    the config's delta (for what-ifs; the claims use the config's)."""
    k, sizes = config["order"], cls.sample_sizes(config, d)
    scale = config["online_step_scale"] if step_scale is None else step_scale
    tau = tensor_pca_overlap_chain(
        key, dim=d, order=k, snr=1.0,
        learning_rate=scale * float(d) ** (-(1 + (k - 2) / 4)),
        num_chains=len(sizes), max_steps=int(sizes[-1]),
        threshold=config["threshold"], initial_overlap=average)[0]
    return jnp.where((tau > 0) & (tau <= jnp.asarray(sizes)), tau, -1)

  def measure(self, config, seeds):
    k, dtype = config["order"], jnp.dtype(config["tensor_dtype"])
    keys = _seed_keys(seeds)
    out = {name: {} for name in self.series}
    for d in config["dims"]:
      model, sizes = SpikedTensor(d, k), self.sample_sizes(config, d)
      inv_root_n = jnp.asarray(1 / np.sqrt(sizes), dtype)

      def one(key, model=model, d=d, sizes=sizes, inv_root_n=inv_root_n):
        k_spike, k_tensor, k_start, k_run, k_online = self.cell_keys(key, d)
        spike = model.spike(k_spike).astype(dtype)
        noise = symmetrize(model.materialized_noise(k_tensor).astype(dtype))
        x0 = jnp.broadcast_to(random_unit_vector(k_start, d).astype(dtype),
                              (len(sizes), d))

        def drift(x):   # -grad L_n for every n at once: k T_sym[x, .., x, .]
          m = x @ spike
          return k * (m[:, None] ** (k - 1) * spike[None, :] + inv_root_n[
              :, None] * contract_all_but_one(noise, x))

        result = spherical_langevin_sde(
            drift, x0, k_run, signal_weight=config["signal_weight"],
            time_step=config["time_step_scale"] / d,
            steps=self.steps(config, d), second_moment=k % 2 == 0,
            unroll=16 if jax.default_backend() == "gpu" else 1)
        last = result[0] @ spike
        if k % 2:
          average = (result[1] @ spike) / jnp.linalg.norm(result[1], axis=1)
        else:
          top = jnp.linalg.eigh(result[2])[1][..., -1]
          average, last = jnp.abs(top @ spike), jnp.abs(last)
        return (average, self.online_stage(config, d, k_online, average),
                last)

      results = jax.device_get(jax.jit(jax.vmap(one))(keys))
      for name, x in zip(("average", "two_stage", "last"), results):
        out[name][str(d)] = np.asarray(x)
    return [{name: {d: x[i].tolist() for d, x in out[name].items()}
             for name in self.series} for i in range(len(seeds))]

  def successes(self, config, records, d, series) -> np.ndarray:
    values = np.asarray(records[series][str(d)])
    if series == "two_stage":
      return values > 0
    return values >= config["threshold"]

  def notes(self, config, records) -> str:
    return (f"Schedule: uniform start, eps = {config['signal_weight']:g}, "
            f"dt = {config['time_step_scale']:g}/d, T = "
            f"{config['horizon_scale']:g} d^{config['order']}/eps^2 "
            f"(S = {[self.steps(config, d) for d in config['dims']]} steps), "
            f"average over the whole trajectory; two-stage: online SGD from "
            f"the average, eta = {config['online_step_scale']:g} "
            f"d^-{1 + (config['order'] - 2) / 4:g}, n fresh samples; n = "
            f"factor x d^{config['order'] / 2:g} + 1.")


@dataclasses.dataclass(frozen=True)
class PhaseDiagram:
  """A family of exponent claims: one sampler over a grid of (d, n).

  Attributes:
    experiment_id: id of the runs (cache and seed namespace).
    sampler: :class:`OnlineSGDChains`, :class:`FixedDataLangevin` or
      :class:`AveragedLangevinSDE`.
    expected_exponent: the paper's exponent (the bound's value, unless a
      claim states its own); the online chains' n-grid is ``grid_factors`` x
      d^expected_exponent, the Langevin samplers' ``grid_factors`` x d^(k/2).
    quick_dims, full_dims: dimensions in quick and full mode.
    grid_factors: sample sizes relative to that scale.
  """

  experiment_id: str
  sampler: OnlineSGDChains | FixedDataLangevin | AveragedLangevinSDE
  expected_exponent: float
  quick_dims: tuple[int, ...]
  full_dims: tuple[int, ...]
  # 12 values spanning ~2.3 decades around the predicted scale.
  grid_factors: tuple[float, ...] = tuple(np.geomspace(0.03, 6.0, 12).tolist())
  seeds: int = 64
  quick_seeds: int = 64

  def config(self, quick: bool) -> dict:
    return {"dims": list(self.quick_dims if quick else self.full_dims),
            "grid_factors": list(self.grid_factors),
            "expected_exponent": self.expected_exponent,
            "information_exponent": self.sampler.information_exponent,
            **self.sampler.config_entries()}

  @functools.cached_property
  def experiment(self) -> Experiment:
    # Full-mode phase diagrams (d in the thousands, 64 seeds) are GPU runs.
    return Experiment(self.experiment_id, self.config, self.sampler.measure,
                      seeds=self.seeds, quick_seeds=self.quick_seeds,
                      full_needs_gpu=True)

  def candidates(self, config, expected: float | None = None) -> list[float]:
    """Competing exponents: the claim's, k/2 (CSQ/smoothing), ceil(k/2) and
    max(1, k-1) (online SGD), for the collapse scores."""
    k = config["information_exponent"]
    expected = config["expected_exponent"] if expected is None else expected
    return sorted({expected, k / 2, math.ceil(k / 2), max(1, k - 1)})

  def rival(self, config, expected: float | None = None) -> float:
    k = config["information_exponent"]
    expected = config["expected_exponent"] if expected is None else expected
    if expected != k / 2:
      return k / 2
    return math.ceil(k / 2) if math.ceil(k / 2) != k / 2 else max(1, k - 1)

  def fits(self, config, records, series):
    """Threshold fits per d (one bootstrap stream per series)."""
    rng = np.random.default_rng(0)
    return [threshold_from_cells(
        d, self.sampler.successes(config, records, d, series),
        self.sampler.sample_sizes(config, d), rng=rng)
            for d in config["dims"]]

  def evaluate(self, series: str | None = None,
               expected_exponent: float | None = None):
    """``evaluate`` of the claim on ``series`` (default: the sampler's
    first), against ``expected_exponent`` (default: the family's)."""
    series = series or self.sampler.series[0]

    def evaluate(config, records, alpha):
      dims = config["dims"]
      expected = (config["expected_exponent"] if expected_exponent is None
                  else expected_exponent)
      fits = {name: self.fits(config, records, name)
              for name in self.sampler.series}
      usable = {name: [f for f in fs if np.isfinite(f.log_threshold)]
                for name, fs in fits.items()}
      exponents = {name: fit_exponent(u, alpha_level=alpha)
                   for name, u in usable.items() if len(u) >= 3}
      sizes = [self.sampler.sample_sizes(config, d) for d in dims]
      fractions = [self.sampler.successes(config, records, d, series).mean(0)
                   for d in dims]
      tables = {"dims": dims, "sizes": sizes, "fractions": fractions,
                "log_thresholds": {n: [f.log_threshold for f in fs]
                                   for n, fs in fits.items()},
                "threshold_se": {n: [float(np.nanstd(f.bootstrap)) for f in fs]
                                 for n, fs in fits.items()}}
      if series not in exponents:
        return Evaluation.undetermined(
            f"Fewer than 3 dimensions had a 50% crossing inside the "
            f"sample-size grid ({len(usable[series])} of {len(dims)}).",
            tables=tables)
      main = exponents[series]
      with_log = fit_exponent(usable[series], alpha_level=alpha,
                              log_log_term=True)
      collapse = {a: collapse_score(dims, sizes, fractions, a)
                  for a in self.candidates(config, expected)}
      others = "".join(
          f" Same runs, {name} series: exponent {e.alpha:.3f} (CI "
          f"[{e.ci[0]:.3f}, {e.ci[1]:.3f}])." for name, e in exponents.items()
          if name != series)
      return Evaluation(
          measured=main.alpha, ci=main.ci, tables=tables,
          notes=f"{series}: log n_1/2 on log d, d in {dims}, {len(records)} "
          f"seeds per (d, n), logistic fit per d, WLS exponent with a "
          f"percentile bootstrap CI. n_1/2 / d^{expected}: "
          + ", ".join(f"{np.exp(f.log_threshold) / f.dim ** expected:.3g}"
                      for f in usable[series])
          + f"; local slopes {[round(s, 3) for s in main.local_slopes]}; "
          f"with a log log d term: alpha = {with_log.alpha:.3f} (CI "
          f"[{with_log.ci[0]:.3f}, {with_log.ci[1]:.3f}]). Collapse score "
          f"(lower is better) by candidate exponent: "
          + ", ".join(f"{a:g}: {s:.4f}" for a, s in collapse.items())
          + f".{others} {self.sampler.notes(config, records)}")
    return evaluate

  def plot(self, series: str | None = None,
           expected_exponent: float | None = None):
    series = series or self.sampler.series[0]

    def plot(config, records, evaluation):
      t = evaluation.tables
      expected = (config["expected_exponent"] if expected_exponent is None
                  else expected_exponent)
      fig, axes = figures.new_figure(ncols=2, width=7.0)
      palette = list(figures.PALETTE.values())
      for i, (d, n, frac) in enumerate(zip(t["dims"], t["sizes"],
                                           t["fractions"])):
        axes[0, 0].plot(np.asarray(n) / d ** expected, frac, "o-",
                        markersize=3, color=palette[i % len(palette)],
                        label=f"d = {d}")
      axes[0, 0].set_xscale("log")
      axes[0, 0].set_xlabel(rf"$n / d^{{{expected:g}}}$")
      axes[0, 0].set_ylabel(f"P(success), {series}")
      axes[0, 0].set_title("success vs rescaled samples")
      axes[0, 0].legend(fontsize=6)
      log_d = np.log(np.asarray(t["dims"], dtype=float))
      for name, marker in zip(self.sampler.series, "os^"):
        centers = np.asarray(t["log_thresholds"][name])
        axes[0, 1].errorbar(log_d, centers,
                            yerr=2 * np.asarray(t["threshold_se"][name]),
                            fmt=marker, color=figures.PALETTE[
                                "measured" if name == series else "neutral"],
                            label=f"log n_1/2, {name} (±2 s.e.)")
      centers = np.asarray(t["log_thresholds"][series])
      for slope, style, color in ((expected, "--", "bound"),
                                  (self.rival(config, expected), ":",
                                   "alternative")):
        anchor = np.nanmean(centers - slope * log_d)
        axes[0, 1].plot(log_d, anchor + slope * log_d, style,
                        color=figures.PALETTE[color], label=f"slope {slope:g}")
      axes[0, 1].set_xlabel("log d")
      axes[0, 1].set_ylabel(r"$\log n_{1/2}$")
      axes[0, 1].set_title(f"fitted exponent {evaluation.measured:.2f}")
      axes[0, 1].legend(fontsize=7)
      return fig
    return plot

  def claim(self, *, id: str, series: str | None = None,
            expected_exponent: float | None = None, **fields) -> Claim:
    """A claim that the exponent of ``series`` is the paper's, within the
    declared tolerance (``fields``: paper, statement, measurement, bound,
    tolerance, tolerance_reason; ``evidence`` defaults to statistical: the
    exponent's interval is a percentile bootstrap over seeds at level 1 -
    alpha, the only kind of verdict this family gives).

    ``expected_exponent`` (default: the family's) lets claims on different
    series of one set of runs state different exponents; only samplers whose
    grid does not depend on it allow that.
    """
    fields.setdefault("evidence", "statistical")
    if (expected_exponent is not None
        and expected_exponent != self.expected_exponent
        and getattr(self.sampler, "grid_uses_expected_exponent", True)):
      raise ValueError(
          f"claim {id}: expected_exponent {expected_exponent} differs from "
          f"the family's {self.expected_exponent}, but this sampler builds "
          "its grid around the family's exponent")
    claim = Claim(id=id, relation=Relation.APPROX, experiment=self.experiment,
                  evaluate=self.evaluate(series, expected_exponent),
                  plot=self.plot(series, expected_exponent), **fields)
    # The grid and the notes are built around the expected exponent: it
    # must be the bound's value, or the grid and the verdict would disagree.
    for quick in (True, False):
      config = self.config(quick)
      expected = (config["expected_exponent"] if expected_exponent is None
                  else expected_exponent)
      if claim.bound.value(config) != expected:
        raise ValueError(f"claim {id}: the bound's value "
                         f"{claim.bound.value(config)} is not the expected "
                         f"exponent {expected}")
    return claim
