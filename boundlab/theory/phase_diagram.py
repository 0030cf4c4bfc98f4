r"""Phase-diagram statistics for sample-complexity exponents.

Protocol (shared references, section 7 [D]):

1. success: the overlap reaches a d-independent threshold within n samples;
2. per d, a logistic fit :math:`P(\text{success}\mid n) =
   \operatorname{logit}^{-1}(a_d(\log n - \log n_{1/2}(d)))` by maximum
   likelihood, with a bootstrap over seeds for :math:`\log n_{1/2}(d)`;
3. the exponent: weighted least squares of :math:`\log n_{1/2}` on
   :math:`\log d` (weights = inverse bootstrap variances), optionally with a
   :math:`\gamma\log\log d` term; its CI from refitting every bootstrap
   replicate (seeds are independent across d, so replicates are drawn
   independently per d);
4. a data-collapse score: the spread of the success curves against
   :math:`\log n - \alpha\log d` across d, to compare competing exponents.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.special

from boundlab import _validation as v


def success_table(first_passage, sample_sizes) -> np.ndarray:
  """(chains, n-grid) 0/1 table: 0 < tau <= n (tau = -1: never)."""
  tau = np.asarray(first_passage)[:, None]
  n = np.asarray(sample_sizes, dtype=float)[None, :]
  return ((tau > 0) & (tau <= n)).astype(float)


def success_fractions(first_passage, sample_sizes) -> np.ndarray:
  """Fraction of chains with 0 < tau <= n, for each n."""
  return success_table(first_passage, sample_sizes).mean(axis=0)


def logistic_threshold(log_n, successes, trials) -> tuple[float, float]:
  r"""MLE of (:math:`\log n_{1/2}`, a) for binomial counts on a log-n grid.

  Returns ``(nan, nan)`` when the data do not straddle 50% (all cells above
  or all below): the threshold is then outside the grid, not estimable.
  """
  x = v.check_finite_array("log_n", log_n, ndim=1, min_len=2)
  k = np.asarray(successes, dtype=float)
  t = np.asarray(trials, dtype=float)
  p = k / t
  if not (np.any(p < 0.5) and np.any(p > 0.5)) and not np.any(p == 0.5):
    return float("nan"), float("nan")

  # Newton-Raphson on z = b0 + b1 (x - mean x); a tiny ridge on b1 keeps the
  # estimate finite when the 0/1 data are separable (then the threshold is
  # the midpoint of the separating gap, as the likelihood's limit).
  x0 = x.mean()
  xc = x - x0
  b = np.array([0.0, 1.0])
  ridge = 1e-6 * t.sum()
  for _ in range(100):
    z = b[0] + b[1] * xc
    p_hat = scipy.special.expit(z)
    w = t * p_hat * (1 - p_hat)
    grad = np.array([np.sum(k - t * p_hat), np.sum((k - t * p_hat) * xc)
                     - ridge * b[1]])
    hess = np.array([[np.sum(w), np.sum(w * xc)],
                     [np.sum(w * xc), np.sum(w * xc * xc) + ridge]])
    step = np.linalg.solve(hess + 1e-12 * np.eye(2), grad)
    step *= min(1.0, 5.0 / max(np.max(np.abs(step)), 1e-300))   # damping
    b = b + step
    if np.max(np.abs(step)) < 1e-10:
      break
  if b[1] <= 0:
    return float("nan"), float("nan")
  return float(x0 - b[0] / b[1]), float(b[1])


@dataclasses.dataclass(frozen=True)
class ThresholdFit:
  """log n_1/2 at one d: the estimate and its bootstrap replicates."""

  dim: int
  log_threshold: float
  slope: float
  bootstrap: np.ndarray   # (B,) replicates of log n_1/2 (nan if not estimable)


def threshold_from_first_passage(dim, first_passage, sample_sizes, *,
                                 num_bootstrap: int = 400,
                                 rng: np.random.Generator | None = None
                                 ) -> ThresholdFit:
  """Logistic threshold from first-passage times, bootstrapped over seeds.

  A chain with first passage tau succeeds at every n >= tau, so this is
  :func:`threshold_from_cells` on the table ``0 < tau <= n``.
  """
  return threshold_from_cells(dim, success_table(first_passage, sample_sizes),
                              sample_sizes, num_bootstrap=num_bootstrap,
                              rng=rng)


def threshold_from_cells(dim, successes, sample_sizes, *,
                         num_bootstrap: int = 400,
                         rng: np.random.Generator | None = None
                         ) -> ThresholdFit:
  """Logistic threshold from a (seeds, n-grid) 0/1 success table.

  For designs with one run per (seed, n) cell (fixed-data methods); the
  bootstrap resamples seeds (rows).
  """
  table = np.asarray(successes, dtype=float)
  n = np.asarray(sample_sizes, dtype=float)
  if table.ndim != 2 or table.shape[1] != n.size:
    raise ValueError(f"successes must be (seeds, {n.size}), got {table.shape}")
  log_n = np.log(n)
  rng = rng or np.random.default_rng(0)
  trials = np.full(n.size, table.shape[0])

  def fit(rows):
    return logistic_threshold(log_n, rows.sum(axis=0), trials)

  center, slope = fit(table)
  boot = np.array([fit(table[rng.integers(0, len(table), len(table))])[0]
                   for _ in range(v.check_positive_int("num_bootstrap",
                                                       num_bootstrap))])
  return ThresholdFit(int(dim), center, slope, boot)


@dataclasses.dataclass(frozen=True)
class ExponentFit:
  """Fitted exponent alpha in n_1/2 ~ d^alpha (optionally times log(d)^gamma)."""

  alpha: float
  ci: tuple[float, float]
  intercept: float
  gamma: float | None
  local_slopes: list[float]
  bootstrap_alphas: np.ndarray


def fit_exponent(fits: list[ThresholdFit], *, alpha_level: float = 0.05,
                 log_log_term: bool = False) -> ExponentFit:
  r"""WLS of log n_1/2 on log d (and log log d), percentile bootstrap CI."""
  if len(fits) < 3:
    raise ValueError(f"fits must cover at least 3 dimensions, got {len(fits)}")
  v.check_in_range("alpha_level", alpha_level, 0.0, 1.0, closed="()")
  dims = np.array([f.dim for f in fits], dtype=float)
  centers = np.array([f.log_threshold for f in fits])
  boots = np.stack([f.bootstrap for f in fits], axis=1)     # (B, D)
  variances = np.array([np.nanvar(f.bootstrap, ddof=1) for f in fits])
  weights = 1.0 / np.maximum(variances, 1e-12)
  design = [np.log(dims), np.ones_like(dims)]
  if log_log_term:
    design.insert(1, np.log(np.log(dims)))
  design = np.stack(design, axis=1)

  def solve(y):
    keep = np.isfinite(y)
    if keep.sum() < design.shape[1] + 1:
      return np.full(design.shape[1], np.nan)
    w = np.sqrt(weights[keep])
    coef, *_ = np.linalg.lstsq(design[keep] * w[:, None], y[keep] * w,
                               rcond=None)
    return coef

  coef = solve(centers)
  boot_alphas = np.array([solve(row)[0] for row in boots])
  finite = boot_alphas[np.isfinite(boot_alphas)]
  lo, hi = (np.quantile(finite, [alpha_level / 2, 1 - alpha_level / 2])
            if finite.size >= 20 else (np.nan, np.nan))
  slopes = list(np.diff(centers) / np.diff(np.log(dims)))
  return ExponentFit(alpha=float(coef[0]), ci=(float(lo), float(hi)),
                     intercept=float(coef[-1]),
                     gamma=float(coef[1]) if log_log_term else None,
                     local_slopes=[float(s) for s in slopes],
                     bootstrap_alphas=boot_alphas)


def collapse_score(dims, sample_sizes, fractions, alpha: float,
                   grid_points: int = 200) -> float:
  r"""Spread of :math:`P(\text{success})` against :math:`\log n - \alpha\log d`.

  Each curve (one per d, ``fractions[i]`` on ``sample_sizes[i]``) is
  interpolated onto a common grid of the overlap of the rescaled ranges; the
  score is the mean squared difference between curves of successive d. The
  correct exponent collapses the curves (small score).
  """
  xs = [np.log(np.asarray(n, dtype=float)) - alpha * np.log(d)
        for d, n in zip(dims, sample_sizes)]
  lo, hi = max(x.min() for x in xs), min(x.max() for x in xs)
  if not lo < hi:
    return float("inf")
  grid = np.linspace(lo, hi, grid_points)
  curves = [np.interp(grid, x, np.asarray(f, dtype=float))
            for x, f in zip(xs, fractions)]
  return float(np.mean([np.mean((a - b) ** 2)
                        for a, b in zip(curves[:-1], curves[1:])]))
