"""Confidence intervals with declared coverage (theory.statistics)."""

import numpy as np
import pytest

from boundlab import theory


def test_mean_ci_coverage_matches_its_level():
  # 4000 intervals from n = 10 Gaussian samples at level 90%: the count of
  # misses is Binomial(4000, 0.1); 400 +- 5 sd (95) holds w.p. > 1 - 1e-6.
  rng = np.random.default_rng(0)
  misses = sum(not (lo <= 0 <= hi) for lo, hi in (
      theory.mean_ci(rng.standard_normal(10), 0.1)[1] for _ in range(4000)))
  assert abs(misses - 400) < 95


def test_slope_ci_recovers_a_known_slope():
  x = np.log(np.arange(1.0, 30.0))
  y = -0.5 * x + 0.01 * np.random.default_rng(1).standard_normal(len(x))
  slope, (lo, hi) = theory.slope_ci(x, y)
  assert lo < -0.5 < hi and hi - lo < 0.02


def test_bootstrap_ci_brackets_the_mean():
  data = np.random.default_rng(2).exponential(size=(40, 3))
  point, (lo, hi) = theory.bootstrap_ci(data, lambda d: d.mean(0).max())
  assert lo < point < hi


def test_abs_and_range_intervals():
  assert theory.abs_interval((-1.0, 2.0)) == (0.0, 2.0)
  assert theory.abs_interval((-3.0, -1.0)) == (1.0, 3.0)
  assert theory.range_interval([3.0, 1.0, 2.0]) == (2.0, (1.0, 3.0))


def test_extreme_mean_ci():
  data = np.array([[1.0, 5.0], [2.0, 6.0], [3.0, 7.0]])
  index, mean, (lo, hi) = theory.extreme_mean_ci(data, 0.05, which="max")
  assert index == 1 and mean == 6.0 and lo < 6.0 < hi
  index, mean, (lo, hi) = theory.extreme_mean_ci(data, 0.05, which="min")
  assert index == 0 and mean == 2.0 and lo < 2.0 < hi
  with pytest.raises(ValueError, match="which"):
    theory.extreme_mean_ci(data, which="median")


def test_accuracy_resolution_is_two_binomial_standard_errors():
  # 2 sqrt(p (1 - p) / n) at p = 1/2.
  assert theory.accuracy_resolution(256) == pytest.approx(
      2 * np.sqrt(0.25 / 256), rel=1e-15)
  with pytest.raises(ValueError, match="num_points"):
    theory.accuracy_resolution(0)


def test_simultaneous_mean_cis_split_alpha_over_the_columns():
  data = np.random.default_rng(3).standard_normal((12, 4)) + [0, 1, 2, 3]
  means, cis = theory.simultaneous_mean_cis(data, 0.05)
  for j in range(4):
    mean, ci = theory.mean_ci(data[:, j], 0.05 / 4)
    assert means[j] == mean and tuple(cis[j]) == ci
  with pytest.raises(ValueError, match="samples must have ndim in \\(2,\\)"):
    theory.simultaneous_mean_cis(np.zeros(5))
