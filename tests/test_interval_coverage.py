"""Coverage of the interval routines of :mod:`boundlab.theory.statistics`,
measured by Monte Carlo at the seed counts claims run on (n = 2, 4, 8, 16).

A verdict's declared false-fail rate is the miss rate of these intervals, so
each test measures it over R independent replicates (fixed numpy seeds) and
compares it with the rate the routine declares. Tolerances are binomial:
a miss rate p measured on R replicates has standard error sqrt(p (1-p) / R),
and each test allows 4 of them (``_band``): a correct routine fails one
comparison with probability ~6e-5, while the replicate counts are chosen so
that the planted errors (ddof 0 for 1, n for n-1 degrees of freedom, no
Bonferroni split, n-1 for n-2 in a slope) move the rate by more than the
band at some n (numbers next to each test).

Gaussian samples throughout: there the t intervals are exact, so the
expected rates are exact numbers, not asymptotics. The routines take one
sample per call, so they are called in a loop over replicates; the samples
are drawn vectorised. (``_loop`` keeps the per-replicate work to the call.)
"""

import math

import numpy as np
import pytest
import scipy.stats

from boundlab.theory import statistics as S

ALPHA = 0.05
NS = [2, 4, 8, 16]


def _band(p, replicates):
  """Four binomial standard errors of a rate p measured on `replicates`."""
  return 4 * math.sqrt(p * (1 - p) / replicates)


def _assert_rate(misses, p, what):
  misses = np.asarray(misses, dtype=bool)
  rate, band = misses.mean(), _band(p, misses.size)
  assert abs(rate - p) <= band, (f"{what}: miss rate {rate:.4f} over "
                                 f"{misses.size} replicates, expected {p:.4f}"
                                 f" +- {band:.4f}")


def _assert_at_most(misses, p, what):
  misses = np.asarray(misses, dtype=bool)
  rate, band = misses.mean(), _band(p, misses.size)
  assert rate <= p + band, (f"{what}: miss rate {rate:.4f} over "
                            f"{misses.size} replicates, declared at most "
                            f"{p:.4f} (+ {band:.4f})")


def _intervals(fn, samples):
  """(R, 2) array of the intervals fn returns, one call per replicate."""
  return np.array([fn(x)[-1] for x in samples], dtype=float)


# --- mean_ci -----------------------------------------------------------------

# R = 20,000: band 4 sqrt(.05 .95 / R) = 0.0062 on the two-sided rate, 0.0044
# on each tail (0.025). Planted errors at n = 2 / 4: ddof 0 misses 7.1% /
# 7.0%; t with n dof instead of n - 1 misses 14.5% / 6.9%.
@pytest.mark.parametrize("n", NS)
def test_mean_ci_coverage(n):
  rng = np.random.default_rng(100 + n)
  mu, sigma = 2.5, 3.0
  samples = rng.normal(mu, sigma, (20_000, n))
  cis = _intervals(lambda x: S.mean_ci(x, ALPHA), samples)
  assert np.allclose(
      [S.mean_ci(x, ALPHA)[0] for x in samples[:50]], samples[:50].mean(1))
  _assert_rate(cis[:, 0] > mu, ALPHA / 2, f"mean_ci n={n} low end")
  _assert_rate(cis[:, 1] < mu, ALPHA / 2, f"mean_ci n={n} high end")
  _assert_rate((cis[:, 0] > mu) | (cis[:, 1] < mu), ALPHA, f"mean_ci n={n}")


def test_mean_ci_coverage_at_a_bonferroni_level():
  """At alpha / 8 (a claim splitting 0.05 over 8 tests): the far tail of t.
  R = 20,000, band 4 sqrt(p (1-p) / R) = 0.0022 around p = 0.00625; at n = 4
  the t with n dof would miss 1.34%, ddof 0 0.94%."""
  rng = np.random.default_rng(7)
  samples = rng.normal(-1.0, 0.5, (20_000, 4))
  cis = _intervals(lambda x: S.mean_ci(x, ALPHA / 8), samples)
  _assert_rate((cis[:, 0] > -1.0) | (cis[:, 1] < -1.0), ALPHA / 8,
               "mean_ci n=4 at alpha/8")


# --- simultaneous_mean_cis and extreme_mean_ci ---------------------------------

K = 4   # columns (e.g. 4 step sizes of a sweep)


# For K independent Gaussian columns with Bonferroni intervals at alpha / K,
# all K cover at once with probability exactly (1 - alpha/K)^K = 0.95094
# (without the split, 0.95^4 = 0.8145: an 18.5% family-wise error).
# R = 3,000: band 4 sqrt(.049 .951 / R) = 0.0158.
_JOINT_MISS = 1 - (1 - ALPHA / K) ** K


@pytest.mark.parametrize("n", NS)
def test_simultaneous_mean_cis_cover_every_column_at_once(n):
  rng = np.random.default_rng(200 + n)
  mus = np.array([0.0, 1.0, -2.0, 5.0])
  sigmas = np.array([1.0, 0.5, 2.0, 3.0])
  samples = rng.normal(mus, sigmas, (3_000, n, K))
  misses = []
  for x in samples:
    means, cis = S.simultaneous_mean_cis(x, ALPHA)
    assert cis.shape == (K, 2) and means.shape == (K,)
    misses.append(np.any((cis[:, 0] > mus) | (cis[:, 1] < mus)))
  _assert_rate(misses, _JOINT_MISS, f"simultaneous_mean_cis n={n}")


@pytest.mark.parametrize("n", NS)
def test_extreme_mean_ci_simultaneous_coverage(n):
  """All K columns with one mean mu (the configuration where the extreme's
  interval is hardest to get right): the max interval [max lo, max hi] and
  the min interval [min lo, min hi] both cover mu iff no column's interval
  misses it, so the joint miss rate of the two is exactly the family-wise
  rate 1 - (1 - alpha/K)^K = 0.049 (18.5% without Bonferroni)."""
  rng = np.random.default_rng(300 + n)
  mu = 1.5
  samples = rng.normal(mu, 2.0, (3_000, n, K))
  misses = []
  for x in samples:
    i_max, m_max, (lo_max, hi_max) = S.extreme_mean_ci(x, ALPHA, which="max")
    i_min, m_min, (lo_min, hi_min) = S.extreme_mean_ci(x, ALPHA, which="min")
    means = x.mean(0)
    assert (i_max, i_min) == (means.argmax(), means.argmin())
    assert (m_max, m_min) == pytest.approx((means.max(), means.min()))
    misses.append(not (lo_max <= mu <= hi_max and lo_min <= mu <= hi_min))
  _assert_rate(misses, _JOINT_MISS, f"extreme_mean_ci n={n}")


@pytest.mark.parametrize("n", [2, 8])
def test_extreme_mean_ci_covers_the_largest_mean(n):
  """Distinct means: the largest true mean is in the max interval with
  probability >= 1 - alpha (conservative, one-sided). R = 2,000, band
  0.0195."""
  rng = np.random.default_rng(400 + n)
  mus = np.array([0.0, 0.3, 0.6, 0.9])
  samples = rng.normal(mus, 1.0, (2_000, n, K))
  misses = [not (lo <= mus.max() <= hi) for lo, hi in
            (S.extreme_mean_ci(x, ALPHA)[2] for x in samples)]
  _assert_at_most(misses, ALPHA, f"extreme_mean_ci max n={n}")


# --- norm_of_mean_ci and abs_interval ------------------------------------------

@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("mean", [(0.0, 0.0, 0.0), (1.0, -2.0, 0.5)])
def test_norm_of_mean_ci_coverage(n, mean):
  """||E X|| lies in the interval whenever the Bonferroni box holds, so the
  miss rate is at most alpha (one-sided). R = 2,000, band 0.0195. The third
  coordinate has no spread (deterministic) and enters exactly."""
  rng = np.random.default_rng(500 + n)
  mean = np.array(mean)
  samples = rng.normal(mean, [1.0, 2.0, 0.0], (2_000, n, 3))
  truth = np.linalg.norm(mean)
  misses = [not (lo <= truth <= hi) for lo, hi in
            (S.norm_of_mean_ci(x, ALPHA)[1] for x in samples)]
  _assert_at_most(misses, ALPHA, f"norm_of_mean_ci n={n} mean={mean}")


@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("mu", [0.0, 0.3, 2.0])
def test_abs_interval_keeps_the_coverage(n, mu):
  """From t intervals for mu (scipy, vectorised: exact coverage 1 - alpha),
  abs_interval covers |mu| whenever the interval covered mu; at mu = 0 the
  two events are the same, so its miss rate is exactly alpha. R = 20,000,
  band 0.0062."""
  rng = np.random.default_rng(600 + n)
  x = rng.normal(mu, 1.0, (20_000, n))
  m, se = x.mean(1), x.std(1, ddof=1) / math.sqrt(n)
  half = scipy.stats.t.ppf(1 - ALPHA / 2, n - 1) * se
  covered_mu = (m - half <= mu) & (mu <= m + half)
  covered_abs = np.array([lo <= abs(mu) <= hi for lo, hi in
                          (S.abs_interval((a, b))
                           for a, b in zip(m - half, m + half))])
  assert np.all(covered_abs[covered_mu])
  if mu == 0.0:
    np.testing.assert_array_equal(covered_abs, covered_mu)
    _assert_rate(~covered_abs, ALPHA, f"abs_interval n={n}")
  else:
    _assert_at_most(~covered_abs, ALPHA, f"abs_interval n={n} mu={mu}")


# --- slope_ci ------------------------------------------------------------------

SLOPE_NS = [3, 4, 8, 16]   # a slope needs n >= 3


def _regressions(rng, shape, n):
  x = np.linspace(0.0, 1.0, n) ** 1.5         # an uneven design
  y = 0.7 - 1.3 * x + rng.normal(0.0, 0.4, (*shape, n))
  return x, y


# R = 5,000: band 0.0123. With n - 1 dof instead of n - 2 the interval misses
# 14.5% at n = 3 and 8.6% at n = 4.
@pytest.mark.parametrize("n", SLOPE_NS)
def test_slope_ci_coverage(n):
  rng = np.random.default_rng(700 + n)
  x, y = _regressions(rng, (5_000,), n)
  cis = np.array([S.slope_ci(x, yi, ALPHA)[1] for yi in y])
  _assert_rate(cis[:, 0] > -1.3, ALPHA / 2, f"slope_ci n={n} low end")
  _assert_rate(cis[:, 1] < -1.3, ALPHA / 2, f"slope_ci n={n} high end")
  _assert_rate((cis[:, 0] > -1.3) | (cis[:, 1] < -1.3), ALPHA,
               f"slope_ci n={n}")


@pytest.mark.parametrize("n", [3, 8])
def test_slope_ci_simultaneous_coverage(n):
  """Three independent slopes at alpha / 3 each (a claim about three fits):
  all three cover at once with probability exactly (1 - alpha/3)^3 =
  0.95057. R = 2,000 triples, band 0.0194; with n - 1 dof at n = 3 the
  family misses 22.8%."""
  rng = np.random.default_rng(800 + n)
  x, y = _regressions(rng, (2_000, 3), n)
  misses = []
  for triple in y:
    cis = np.array([S.slope_ci(x, yi, ALPHA / 3)[1] for yi in triple])
    misses.append(np.any((cis[:, 0] > -1.3) | (cis[:, 1] < -1.3)))
  _assert_rate(misses, 1 - (1 - ALPHA / 3) ** 3, f"slope_ci x3 n={n}")


# --- range_interval --------------------------------------------------------------

@pytest.mark.parametrize("n", NS)
def test_range_interval_is_the_range(n):
  """The range of n i.i.d. continuous draws holds a fresh draw with
  probability exactly (n - 1) / (n + 1) (order statistics): a check that the
  interval is [min, max] and no wider or narrower. R = 20,000, band <= 0.014."""
  rng = np.random.default_rng(900 + n)
  draws = rng.normal(0.0, 1.0, (20_000, n + 1))
  fits = [S.range_interval(x) for x in draws[:, :n]]
  lo, hi = np.array([ci for _, ci in fits]).T
  np.testing.assert_array_equal(lo, draws[:, :n].min(1))
  np.testing.assert_array_equal(hi, draws[:, :n].max(1))
  fresh = draws[:, n]
  _assert_rate((fresh < lo) | (fresh > hi), 2 / (n + 1),
               f"range_interval n={n}")


# --- bootstrap_ci ----------------------------------------------------------------

# The bootstrap resamples in a Python loop (2,000 statistic calls per
# interval, ~20 ms), so these use a few hundred replicates: R = 500 gives a
# band of 4 sqrt(.05 .95 / 500) = 0.039 around the declared 5%.

@pytest.mark.xfail(strict=True, reason=(
    "library: bootstrap_ci's BCa interval of a mean under-covers at the seed "
    "counts claims use (normal quantiles, plug-in variance): measured "
    "false-fail rate ~50% at n=2, 20% at n=4, 11.7% at n=8, 7.6% at n=16 "
    "(2,000 replicates each), declared 5%."))
def test_bootstrap_ci_false_fail_rate_at_eight_seeds():
  rng = np.random.default_rng(1000)
  samples = rng.normal(1.0, 2.0, (500, 8))
  misses = []
  for r, x in enumerate(samples):
    _, (lo, hi) = S.bootstrap_ci(x, np.mean, ALPHA, seed=r)
    misses.append(not lo <= 1.0 <= hi)
  _assert_rate(misses, ALPHA, "bootstrap_ci n=8")


def test_bootstrap_ci_false_fail_rate_at_many_seeds():
  """At n = 64 the BCa interval is close to nominal (5.7% measured on 2,000
  replicates). R = 300 with 500 resamples each (speed): band 0.050 around
  5%; catches a gross error (a 1 - alpha / alpha mix-up, one tail only)."""
  rng = np.random.default_rng(1001)
  samples = rng.exponential(1.0, (300, 64))   # skewed: where BCa is meant for
  misses = []
  for r, x in enumerate(samples):
    point, (lo, hi) = S.bootstrap_ci(x, np.mean, ALPHA, n_resamples=500,
                                     seed=r)
    assert point == pytest.approx(x.mean()) and lo < point < hi
    misses.append(not lo <= 1.0 <= hi)
  _assert_rate(misses, ALPHA, "bootstrap_ci n=64")
