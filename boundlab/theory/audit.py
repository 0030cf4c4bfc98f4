r"""Empirical differential-privacy audits: epsilon from attack error rates.

An attack that guesses whether a canary was in (H1) or out (H0) of the input
of an :math:`(\varepsilon, \delta)`-DP mechanism is a hypothesis test, so its
false positive rate :math:`\alpha` (says "in" when out) and false negative
rate :math:`\beta` (says "out" when in) lie in the privacy region (Kairouz,
Oh & Viswanath; Dong, Roth & Su [R])

.. math::
  \alpha + e^\varepsilon \beta \ge 1 - \delta, \quad
  e^\varepsilon \alpha + \beta \ge 1 - \delta, \quad
  (1 - \alpha) + e^\varepsilon (1 - \beta) \ge 1 - \delta, \quad
  e^\varepsilon (1 - \alpha) + (1 - \beta) \ge 1 - \delta,

the last two being the first two for the complementary test (answer the
opposite). Solving for :math:`\varepsilon` gives the smallest epsilon a
mechanism can have if the test reaches :math:`(\alpha, \beta)`,

.. math::
  \hat\varepsilon(\alpha, \beta) = \max\Big(0,
  \log\frac{1 - \delta - \alpha}{\beta},
  \log\frac{1 - \delta - \beta}{\alpha}\Big)

(:func:`epsilon_from_error_rates`), which is 0 for :math:`\alpha + \beta \ge
1 - \delta`. It is a *lower* bound on the mechanism's epsilon: an audit never
certifies privacy, it can only refute a claimed epsilon that is smaller.

``complement=True`` adds the complementary test's terms
:math:`\log\frac{\alpha - \delta}{1 - \beta}` and
:math:`\log\frac{\beta - \delta}{1 - \alpha}`, as the authors' code does
(below), so that a worse-than-chance test also counts as leakage. The default
is the one-directional map (the direction, "in iff score >= threshold", is
fixed before looking at the data): at a chance-level test the symmetric map
folds the posterior at 0, which then has almost no mass at the true value 0,
so its lower credible bound is positive even for a perfectly private
mechanism (``tests/test_audit.py`` shows it); the one-directional map puts
about half the posterior mass at exactly 0 there. Away from the chance line
the two agree.

Bayesian estimate (Zanella-Béguelin et al.). With FP false positives among
N trials without the canary and FN false negatives among P trials with it,
the two rates get independent Beta posteriors under a Beta(a, b) prior,

.. math::
  \alpha \mid \mathrm{FP}
  \sim \mathrm{Beta}(a + \mathrm{FP}, b + N - \mathrm{FP}),
  \qquad
  \beta \mid \mathrm{FN}
  \sim \mathrm{Beta}(a + \mathrm{FN}, b + P - \mathrm{FN}),

and the posterior of epsilon is the push-forward of their product through
:math:`\hat\varepsilon`: :math:`\Pr[\varepsilon \le e]` is the posterior mass
of the :math:`(e, \delta)` privacy region. :func:`epsilon_posterior` samples
it by Monte Carlo and reports equal-tailed credible intervals. The quantity
with a posterior is the attack's :math:`\hat\varepsilon` at its true rates
(the ICML text calls it the epsilon "with respect to specific threat
models"), itself a lower bound on the mechanism's epsilon: the upper end of a
credible interval bounds the attack, not the mechanism. What was confirmed,
and where:

* [V] the posterior of epsilon is formed "from the joint posterior of the
  false positive and false negative rates" -- paper abstract (arXiv
  2206.05199 and the ICML 2023 text).
* [V] the prior is Jeffreys, Beta(1/2, 1/2), on each rate, and the rates are
  independent (model "joint-beta": ``stats.beta(0.5 + FN, 0.5 + TP)`` and
  ``stats.beta(0.5 + FP, 0.5 + TN)``) -- authors' reference implementation,
  github.com/microsoft/responsible-ai-toolbox-privacy,
  ``privacy_estimates/joint_density.py`` class ``Beta``, identical at the
  first commit (144bd22, Aug 2022) and at 66d2d45. Read in code, not in the
  paper body, which was not available to us.
* [V] the CDF of epsilon at e is the posterior mass of the (e, delta) region
  (``DensityModel.probability_private``, by ``scipy.integrate.dblquad``), the
  region is symmetric under the complementary test (``eps_from_fnr_fpr``
  flips points with FPR > 1 - FNR; here ``complement=True``), and the
  two-sided interval puts alpha/2 in each tail (``eps_lo_hi``), i.e. it is
  equal-tailed, not highest-density -- same file and ``privacy_region.py``.
* [V] the same code also has a multinomial (Dirichlet, Jeffreys) variant
  ("joint-dirichlet") and Clopper-Pearson / Jeffreys rate-interval
  baselines; only the Beta model and Clopper-Pearson are implemented here.
* [U] section numbers in the paper (the body text could not be read), and
  whether the paper itself mentions any prior other than Jeffreys.
* [R] the paper's second contribution, a heuristic to draw several samples
  per trained model (adapted from label-only DP), is not implemented.
* Here the push-forward is sampled instead of integrated by quadrature; the
  credible levels carry a Monte Carlo error of order
  :math:`\sqrt{q(1-q)/\text{num\_samples}}` in probability.
* The one-directional default deviates from the reference code on purpose
  (see above); ``complement=True`` reproduces its region.

:func:`epsilon_lower_bound_clopper_pearson` is the frequentist baseline
(Jagielski, Ullman & Oprea 2020 [R]): one-sided Clopper-Pearson upper bounds
on both rates, each at (1 - level)/2 (union bound), plugged into
:math:`\hat\varepsilon`.

:func:`gdp_mu_posterior` is *not* from this paper (it follows the
:math:`\mu`-GDP audits of Nasr et al., arXiv 2302.07956 [R]): pushing the same
rate posterior through :math:`\hat\mu(\alpha, \beta) = \max(0,
\Phi^{-1}(1-\alpha) - \Phi^{-1}(\beta))` (absolute value with
``complement=True``) gives a posterior for :math:`\mu`, which
:func:`epsilon_from_gdp_mu` turns into epsilon at any delta. That is sharper
for mechanisms whose trade-off curve *is* Gaussian, but it is then an
estimate under that assumption, not a bound.

Threshold selection (:func:`audit_epsilon`). Picking the threshold that
maximises the estimate on the same trials that are then scored biases the
estimate upwards (the maximum of noisy estimates). Here the trials of each
hypothesis are split at random: the threshold is chosen on one part, the
posterior is computed from the counts of the other part only, so the held-out
counts are Binomial at a fixed threshold and the posterior is the one of a
single pre-registered test.

References:
  Zanella-Béguelin, Wutschitz, Tople, Salem, Rühle, Paverd, Naseri, Köpf,
  Jones, Bayesian Estimation of Differential Privacy, ICML 2023,
  arXiv 2206.05199 (version not checked), abstract [V]; section of the
  method not confirmed [U]. Reference code: microsoft/
  responsible-ai-toolbox-privacy, ``privacy_estimates/`` [V].
  Jagielski, Ullman, Oprea, Auditing Differentially Private Machine
  Learning: How Private is Private SGD?, arXiv 2006.07709 [R].
  Kairouz, Oh, Viswanath, The Composition Theorem for Differential Privacy,
  arXiv 1311.0776, Theorem 2.1 [R].
  Dong, Roth, Su, Gaussian Differential Privacy, arXiv 1905.02383,
  Corollary 2.13 (mu-GDP to (eps, delta)) [R].
  Nasr et al., Tight Auditing of Differentially Private Machine Learning,
  arXiv 2302.07956 [R].
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import scipy.special
import scipy.stats

from boundlab import _validation as v

PRIORS = {"jeffreys": (0.5, 0.5), "uniform": (1.0, 1.0)}


# ---------------------------------------------------------------------------
# Point maps from error rates.


def _rates(name: str, value) -> np.ndarray:
  arr = np.asarray(value, dtype=float)
  # NaN fails both comparisons, so it is reported with the range.
  if not np.all((arr >= 0) & (arr <= 1)):
    raise ValueError(f"{name} must be in [0, 1] (every entry), got {value!r}")
  return arr


def _broadcast(alpha, beta):
  try:
    return np.broadcast_arrays(alpha, beta)
  except ValueError:
    raise ValueError(
        "false_positive_rate and false_negative_rate must broadcast, got "
        f"shapes {np.shape(alpha)} and {np.shape(beta)}") from None


def _log_ratio(num, den):
  """log(num/den) with num <= 0 -> -inf (constraint never binds) and
  num > 0 = den -> +inf (the constraint rules out every finite epsilon)."""
  with np.errstate(divide="ignore", invalid="ignore"):
    out = np.log(num) - np.log(den)
  return np.where(num <= 0, -np.inf, np.where(den <= 0, np.inf, out))


def _scalar_or_array(x):
  return float(x) if np.ndim(x) == 0 else x


def _epsilon(alpha, beta, delta, complement):
  terms = [_log_ratio(1 - delta - alpha, beta),
           _log_ratio(1 - delta - beta, alpha)]
  if complement:
    terms += [_log_ratio(alpha - delta, 1 - beta),
              _log_ratio(beta - delta, 1 - alpha)]
  return np.maximum(functools.reduce(np.maximum, terms), 0.0)


def epsilon_from_error_rates(false_positive_rate, false_negative_rate,
                             delta: float, *, complement: bool = False):
  r"""Smallest epsilon of an (eps, delta)-DP mechanism with a test at these
  rates.

  :math:`\hat\varepsilon(\alpha, \beta)` of the module docstring: the epsilon
  below which no (eps, delta)-DP mechanism admits a test with false positive
  rate :math:`\alpha` and false negative rate :math:`\beta` (hence a lower
  bound on the epsilon of any mechanism that does). A zero rate gives
  ``inf`` when the matching numerator is positive (the test separates the
  hypotheses perfectly on one side, which no finite epsilon allows at this
  delta). The result is 0 for :math:`\alpha + \beta \ge 1 - \delta`, or
  with ``complement=True`` only in the band :math:`|\alpha + \beta - 1| \le
  \delta`.

  Args:
    false_positive_rate: alpha in [0, 1], scalar or array.
    false_negative_rate: beta in [0, 1], broadcastable with alpha.
    delta: in [0, 1).
    complement: also use the complementary test (module docstring).

  Returns:
    A float for scalar inputs, else an array of the broadcast shape, in
    [0, inf].
  """
  alpha = _rates("false_positive_rate", false_positive_rate)
  beta = _rates("false_negative_rate", false_negative_rate)
  delta = v.check_in_range("delta", delta, 0.0, 1.0, closed="[)")
  alpha, beta = _broadcast(alpha, beta)
  return _scalar_or_array(_epsilon(alpha, beta, delta, bool(complement)))


def gdp_mu_from_error_rates(false_positive_rate, false_negative_rate, *,
                            complement: bool = False):
  r"""Smallest mu of a mu-GDP mechanism with a test at these rates.

  mu-GDP means every test has :math:`\beta \ge \Phi(\Phi^{-1}(1-\alpha) -
  \mu)` (Dong, Roth & Su [R]), so :math:`\hat\mu = \max(0,
  \Phi^{-1}(1-\alpha) - \Phi^{-1}(\beta))`. The complementary test's
  constraint is the same with the sign flipped (the curve is symmetric), so
  ``complement=True`` gives the absolute value. The corners (0, 1) and
  (1, 0) (tests that ignore the data) give 0, the corner (0, 0) inf, and
  (1, 1) 0, or inf with ``complement=True``.
  """
  alpha = _rates("false_positive_rate", false_positive_rate)
  beta = _rates("false_negative_rate", false_negative_rate)
  alpha, beta = _broadcast(alpha, beta)
  return _scalar_or_array(_gdp_mu(alpha, beta, bool(complement)))


def _gdp_mu(alpha, beta, complement):
  # isf(alpha) = Phi^{-1}(1 - alpha) without rounding 1 - alpha at tiny alpha.
  with np.errstate(invalid="ignore"):
    z = scipy.stats.norm.isf(alpha) - scipy.stats.norm.ppf(beta)
  # inf - inf only at the data-ignoring corners, whose mu is 0.
  z = np.where(np.isnan(z), 0.0, z)
  return np.abs(z) if complement else np.maximum(z, 0.0)


def _gdp_delta(eps, mu):
  """delta(eps) of mu-GDP (Dong, Roth & Su, Corollary 2.13 [R]), mu > 0."""
  # The second term in log space: e^eps underflows Phi's tail long before the
  # product does.
  first = scipy.special.ndtr(-eps / mu + mu / 2)
  second = np.exp(eps + scipy.special.log_ndtr(-eps / mu - mu / 2))
  return first - second


def epsilon_from_gdp_mu(mu, delta: float):
  r"""Epsilon at ``delta`` of a mu-GDP mechanism (vectorised bisection).

  Solves :math:`\Phi(-\varepsilon/\mu + \mu/2) - e^\varepsilon
  \Phi(-\varepsilon/\mu - \mu/2) = \delta` for :math:`\varepsilon \ge 0`
  (0 when already :math:`\delta(0) = 2\Phi(\mu/2) - 1 \le \delta`; inf for
  mu = inf). Accurate to about 1e-10 in epsilon.

  Args:
    mu: in [0, inf], scalar or array.
    delta: in (0, 1).
  """
  mu_arr = np.asarray(mu, dtype=float)
  if not np.all(mu_arr >= 0):
    raise ValueError(f"mu must be in [0, inf] (every entry), got {mu!r}")
  delta = v.check_in_range("delta", delta, 0.0, 1.0, closed="()")
  flat = mu_arr.ravel()
  out = np.zeros_like(flat)
  out[np.isinf(flat)] = np.inf
  live = np.isfinite(flat) & (flat > 0)
  live[live] = _gdp_delta(0.0, flat[live]) > delta
  m = flat[live]
  lo = np.zeros_like(m)
  hi = np.ones_like(m)
  # delta(eps) decreases in eps: double until the root is bracketed.
  for _ in range(64):
    above = _gdp_delta(hi, m) > delta
    if not above.any():
      break
    lo = np.where(above, hi, lo)
    hi = np.where(above, 2 * hi, hi)
  for _ in range(100):
    mid = (lo + hi) / 2
    above = _gdp_delta(mid, m) > delta
    lo = np.where(above, mid, lo)
    hi = np.where(above, hi, mid)
  out[live] = hi  # the upper end: delta(hi) <= delta holds at hi
  return _scalar_or_array(out.reshape(mu_arr.shape))


# ---------------------------------------------------------------------------
# Posteriors from counts.


@dataclasses.dataclass(frozen=True, eq=False)
class Posterior:
  """Monte Carlo posterior of a privacy parameter (epsilon or GDP mu).

  Attributes:
    quantity: ``"epsilon"`` or ``"mu"``.
    samples: posterior draws of the quantity (may contain ``inf``).
    false_positive_rate_samples: the paired draws of the FPR.
    false_negative_rate_samples: the paired draws of the FNR.
    fpr_beta: (a, b) of the FPR's Beta posterior.
    fnr_beta: (a, b) of the FNR's Beta posterior.
    delta: the delta epsilon refers to (None for mu).
  """

  quantity: str
  samples: np.ndarray
  false_positive_rate_samples: np.ndarray
  false_negative_rate_samples: np.ndarray
  fpr_beta: tuple[float, float]
  fnr_beta: tuple[float, float]
  delta: float | None

  def quantile(self, q):
    """Posterior quantile(s); an order statistic, never interpolated, so that
    ``inf`` draws give ``inf`` rather than NaN."""
    q_arr = np.asarray(q, dtype=float)
    if not np.all((q_arr >= 0) & (q_arr <= 1)):
      raise ValueError(f"q must be in [0, 1], got {q!r}")
    return _scalar_or_array(
        np.quantile(self.samples, q_arr, method="inverted_cdf"))

  @property
  def median(self) -> float:
    return self.quantile(0.5)

  def credible_interval(self, level: float = 0.95) -> tuple[float, float]:
    """Equal-tailed interval: (1 - level)/2 of posterior mass in each tail
    (as the reference code's ``eps_lo_hi`` [V])."""
    level = v.check_in_range("level", level, 0.0, 1.0, closed="()")
    tail = (1 - level) / 2
    return self.quantile(tail), self.quantile(1 - tail)

  def lower_bound(self, level: float = 0.95) -> float:
    """One-sided: the posterior puts ``level`` of its mass above it."""
    level = v.check_in_range("level", level, 0.0, 1.0, closed="()")
    return self.quantile(1 - level)


def _prior(prior) -> tuple[float, float]:
  if isinstance(prior, str):
    if prior not in PRIORS:
      raise ValueError(f"prior must be one of {tuple(PRIORS)} or a pair "
                       f"(a, b) with a, b > 0, got {prior!r}")
    return PRIORS[prior]
  try:
    a, b = prior
  except (TypeError, ValueError):
    raise ValueError(f"prior must be one of {tuple(PRIORS)} or a pair (a, b) "
                     f"with a, b > 0, got {prior!r}") from None
  return (v.check_positive("prior a", a), v.check_positive("prior b", b))


def _counts(false_positives, negatives, false_negatives, positives):
  n = v.check_positive_int("negatives", negatives)
  p = v.check_positive_int("positives", positives)
  fp = v.check_positive_int("false_positives", false_positives, minimum=0)
  fn = v.check_positive_int("false_negatives", false_negatives, minimum=0)
  if fp > n:
    raise ValueError(f"false_positives must be in [0, negatives={n}], got {fp}")
  if fn > p:
    raise ValueError(f"false_negatives must be in [0, positives={p}], got {fn}")
  return fp, n, fn, p


def _rate_posterior(false_positives, negatives, false_negatives, positives,
                    prior, num_samples, seed):
  fp, n, fn, p = _counts(false_positives, negatives, false_negatives,
                         positives)
  a, b = _prior(prior)
  size = v.check_positive_int("num_samples", num_samples, minimum=100)
  fpr_beta = (a + fp, b + n - fp)
  fnr_beta = (a + fn, b + p - fn)
  rng = np.random.default_rng(v.check_seed("seed", seed))
  return (rng.beta(*fpr_beta, size=size), rng.beta(*fnr_beta, size=size),
          fpr_beta, fnr_beta)


def epsilon_posterior(false_positives: int, negatives: int,
                      false_negatives: int, positives: int, delta: float, *,
                      prior="jeffreys", num_samples: int = 100_000,
                      seed: int = 0, complement: bool = False) -> Posterior:
  """Posterior of epsilon from an attack's error counts (module docstring).

  Args:
    false_positives: trials without the canary the attack called "in".
    negatives: trials without the canary, >= 1.
    false_negatives: trials with the canary the attack called "out".
    positives: trials with the canary, >= 1.
    delta: in [0, 1).
    prior: ``"jeffreys"`` (Beta(1/2, 1/2), the paper's [V]), ``"uniform"``
      (Beta(1, 1)) or a pair (a, b) > 0, the same for both rates.
    num_samples: Monte Carlo draws, >= 100.
    seed: seed of the numpy generator, >= 0.
    complement: symmetric privacy region, as the reference code (module
      docstring); the default is the one-directional test.
  """
  delta = v.check_in_range("delta", delta, 0.0, 1.0, closed="[)")
  fpr, fnr, fpr_beta, fnr_beta = _rate_posterior(
      false_positives, negatives, false_negatives, positives, prior,
      num_samples, seed)
  return Posterior("epsilon", _epsilon(fpr, fnr, delta, bool(complement)),
                   fpr, fnr, fpr_beta, fnr_beta, delta)


def gdp_mu_posterior(false_positives: int, negatives: int,
                     false_negatives: int, positives: int, *,
                     prior="jeffreys", num_samples: int = 100_000,
                     seed: int = 0, complement: bool = False) -> Posterior:
  """Posterior of the GDP mu from the same rate posterior (not from the paper,
  see the module docstring); convert with :func:`epsilon_from_gdp_mu`."""
  fpr, fnr, fpr_beta, fnr_beta = _rate_posterior(
      false_positives, negatives, false_negatives, positives, prior,
      num_samples, seed)
  return Posterior("mu", _gdp_mu(fpr, fnr, bool(complement)), fpr, fnr,
                   fpr_beta, fnr_beta, None)


def epsilon_lower_bound_clopper_pearson(false_positives: int, negatives: int,
                                        false_negatives: int, positives: int,
                                        delta: float, *,
                                        level: float = 0.95) -> float:
  r"""Frequentist lower confidence bound on epsilon (Jagielski et al. [R]).

  One-sided Clopper-Pearson upper bounds :math:`\bar\alpha, \bar\beta` at
  confidence 1 - (1 - level)/2 each, so that both hold with probability >=
  ``level`` (union bound). On that event the true rates lie in
  :math:`[0, \bar\alpha] \times [0, \bar\beta]`, where the smallest
  :math:`\hat\varepsilon` is at the corner if :math:`\bar\alpha + \bar\beta
  < 1 - \delta` (there only the first two terms can be positive, both
  decreasing in each rate) and 0 otherwise. The complementary test is not
  used: its bound would need lower confidence bounds on the rates.

  Args:
    false_positives: as in :func:`epsilon_posterior`.
    negatives: as in :func:`epsilon_posterior`.
    false_negatives: as in :func:`epsilon_posterior`.
    positives: as in :func:`epsilon_posterior`.
    delta: in [0, 1).
    level: confidence, in (0, 1).
  """
  fp, n, fn, p = _counts(false_positives, negatives, false_negatives,
                         positives)
  delta = v.check_in_range("delta", delta, 0.0, 1.0, closed="[)")
  level = v.check_in_range("level", level, 0.0, 1.0, closed="()")
  confidence = 1 - (1 - level) / 2
  alpha_hi = _clopper_pearson_upper(fp, n, confidence)
  beta_hi = _clopper_pearson_upper(fn, p, confidence)
  if alpha_hi + beta_hi >= 1 - delta:
    return 0.0
  return float(_epsilon(np.asarray(alpha_hi), np.asarray(beta_hi), delta,
                        False))


def _clopper_pearson_upper(k: int, n: int, confidence: float) -> float:
  if k == n:
    return 1.0
  return float(scipy.stats.beta.ppf(confidence, k + 1, n - k))


# ---------------------------------------------------------------------------
# From scores to counts, with a held-out threshold.


def _scores(name, value) -> np.ndarray:
  return v.check_finite_array(name, value, ndim=1, min_len=2)


def error_counts(scores_without_canary, scores_with_canary,
                 threshold: float) -> tuple[int, int, int, int]:
  """Counts of the test "canary in iff score >= threshold".

  Returns:
    ``(false_positives, negatives, false_negatives, positives)``, the order
    :func:`epsilon_posterior` takes them in.
  """
  out = v.check_finite_array("scores_without_canary", scores_without_canary,
                             ndim=1, min_len=1)
  inn = v.check_finite_array("scores_with_canary", scores_with_canary, ndim=1,
                             min_len=1)
  t = float(threshold)
  if np.isnan(t):
    raise ValueError("threshold must be a real number or +-inf, got nan")
  return (int(np.sum(out >= t)), len(out), int(np.sum(inn < t)), len(inn))


@dataclasses.dataclass(frozen=True, eq=False)
class AuditResult:
  """Held-out audit: the selected threshold and the posterior at it.

  The counts are those of the held-out trials only.
  """

  threshold: float
  selection_estimate: float
  false_positives: int
  negatives: int
  false_negatives: int
  positives: int
  level: float
  interval: tuple[float, float]
  posterior: Posterior


def _select_threshold(out, inn, delta, prior,
                      complement) -> tuple[float, float]:
  """argmax over the pooled scores of the estimate at posterior-mean rates."""
  a, b = prior
  candidates = np.unique(np.concatenate([out, inn]))
  sorted_out, sorted_in = np.sort(out), np.sort(inn)
  fp = len(out) - np.searchsorted(sorted_out, candidates, side="left")
  fn = np.searchsorted(sorted_in, candidates, side="left")
  # Posterior means instead of raw frequencies: a threshold beyond every
  # selection score has a zero count and a raw estimate of inf, and would be
  # chosen for that alone.
  estimate = _epsilon((fp + a) / (len(out) + a + b),
                      (fn + a) / (len(inn) + a + b), delta, complement)
  best = int(np.argmax(estimate))
  return float(candidates[best]), float(estimate[best])


def audit_epsilon(scores_out, scores_in, delta: float, *, level: float = 0.95,
                  holdout_fraction: float = 0.5, prior="jeffreys",
                  num_samples: int = 100_000, seed: int = 0,
                  complement: bool = False) -> AuditResult:
  """Audit epsilon from attack scores with a threshold chosen on other trials.

  The trials of each hypothesis are shuffled (``seed``) and split; on the
  selection part the threshold maximising the point estimate
  :math:`\\hat\\varepsilon` at posterior-mean rates is picked among the
  pooled scores, and :func:`epsilon_posterior` is computed from the held-out
  counts at that threshold. Only the held-out trials inform the posterior,
  so it is free of the selection bias of maximising over thresholds on the
  scored data (module docstring); the price is fewer trials.

  Args:
    scores_out: attack scores of trials without the canary (>= 2, finite).
    scores_in: attack scores of trials with the canary (>= 2, finite);
      higher means "in".
    delta: in [0, 1).
    level: credible level of ``interval`` (equal-tailed), in (0, 1).
    holdout_fraction: share of each hypothesis' trials held out for the
      posterior, in (0, 1); both parts must keep >= 1 trial.
    prior: as in :func:`epsilon_posterior`.
    num_samples: as in :func:`epsilon_posterior`.
    complement: as in :func:`epsilon_posterior`.
    seed: seeds the split and the posterior sampling, >= 0.
  """
  out = _scores("scores_out", scores_out)
  inn = _scores("scores_in", scores_in)
  delta = v.check_in_range("delta", delta, 0.0, 1.0, closed="[)")
  level = v.check_in_range("level", level, 0.0, 1.0, closed="()")
  fraction = v.check_in_range("holdout_fraction", holdout_fraction, 0.0, 1.0,
                              closed="()")
  seed = v.check_seed("seed", seed)
  a_b = _prior(prior)
  rng = np.random.default_rng(v.check_seed("seed", seed))
  parts = []
  for name, x in (("scores_out", out), ("scores_in", inn)):
    held = int(round(fraction * len(x)))
    if not 1 <= held <= len(x) - 1:
      raise ValueError(
          f"holdout_fraction={fraction} leaves an empty part of {name} "
          f"({len(x)} trials); it must keep >= 1 trial on each side")
    x = rng.permutation(x)
    parts.append((x[held:], x[:held]))
  (select_out, held_out), (select_in, held_in) = parts
  threshold, selection_estimate = _select_threshold(
      select_out, select_in, delta, a_b, bool(complement))
  counts = error_counts(held_out, held_in, threshold)
  # A seed for the sampler distinct from the split's, both from ``seed``.
  posterior = epsilon_posterior(*counts, delta, prior=a_b,
                                num_samples=num_samples,
                                seed=int(rng.integers(2**31)),
                                complement=complement)
  return AuditResult(threshold=threshold,
                     selection_estimate=selection_estimate,
                     false_positives=counts[0], negatives=counts[1],
                     false_negatives=counts[2], positives=counts[3],
                     level=level, interval=posterior.credible_interval(level),
                     posterior=posterior)
