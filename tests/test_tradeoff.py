"""Monte Carlo separation kappa against the closed-form Gaussian case."""

import math

import jax
import pytest

from boundlab.theory.tradeoff import (gaussian_dp_separation, noise_threshold,
                                      separation_lower_bound,
                                      shuffled_single_epoch_separation)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_single_round_is_the_gaussian_mechanism(sigma):
  # M = 1: H0 N(0, s^2) vs H1 N(1, s^2) is 1/s-GDP, kappa in closed form.
  estimate = shuffled_single_epoch_separation(jax.random.key(0), 1, sigma,
                                              samples=200_000)
  exact = gaussian_dp_separation(1 / sigma)
  # The held-out estimate is unbiased at its threshold (<= kappa) and the
  # selected threshold is near-optimal: |error| within the Hoeffding slack.
  slack = 2 * math.sqrt(math.log(4 / 0.001) / (2 * 100_000)) / math.sqrt(2)
  assert estimate.lower <= exact + 1e-12
  assert abs(estimate.kappa - exact) < slack


def test_constants_of_the_bound():
  assert noise_threshold(100) == pytest.approx(0.3295, abs=1e-4)   # refs: 0.330
  assert separation_lower_bound(10**6) < 1 / math.sqrt(8)
  assert gaussian_dp_separation(1.349) == pytest.approx(1 / math.sqrt(8),
                                                        abs=1e-3)


def test_bad_inputs():
  with pytest.raises(ValueError, match="sigma"):
    shuffled_single_epoch_separation(jax.random.key(0), 10, 0.0)
  with pytest.raises(ValueError, match="num_rounds"):
    separation_lower_bound(1)


def test_ertan2026_bound_object_matches_the_numeric_helper():
  """The claim evaluates the theorem's bound from its sympy expression; the
  numeric helper of theory.tradeoff is an independent transcription."""
  from boundlab.paper_repro import ertan2026
  for m in (2, 10, 100, 1000, 10**6):
    assert ertan2026.KAPPA_BOUND.evaluate(M=m) == pytest.approx(
        separation_lower_bound(m), rel=1e-15)
