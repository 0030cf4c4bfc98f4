"""DP-SGD accounting through dp_accounting, against the exact Gaussian curve."""

import math

import mpmath
import pytest

from boundlab.theory.privacy_accounting import (calibrate_noise_multiplier,
                                                dp_sgd_event, epsilon)


def _exact_gaussian_epsilon(sigma: float, delta: float) -> float:
  """Balle & Wang (arXiv 1805.06530, Theorem 8): the tight curve of the
  Gaussian mechanism with sensitivity 1, solved for epsilon with mpmath."""
  mpmath.mp.dps = 40
  phi = lambda x: mpmath.ncdf(x)

  def gap(eps):
    return (phi(-eps * sigma + 1 / (2 * sigma))
            - mpmath.e**eps * phi(-eps * sigma - 1 / (2 * sigma)) - delta)

  return float(mpmath.findroot(gap, (1e-6, 50), solver="bisect", tol=1e-30))


@pytest.mark.parametrize("sigma", [0.8, 2.0, 5.0])
def test_pld_matches_the_exact_gaussian_mechanism(sigma):
  # q = 1 and T = 4: four Gaussian releases = one with sigma / 2.
  event = dp_sgd_event(sigma, 4, sampling_rate=1.0)
  exact = _exact_gaussian_epsilon(sigma / 2, 1e-5)
  pld = epsilon(event, 1e-5, "pld")
  rdp = epsilon(event, 1e-5, "rdp")
  # PLD is pessimistic by its discretisation (default interval 1e-4 in the
  # privacy loss, a few 1e-3 in epsilon after composition); RDP's conversion
  # is looser still, and both must upper-bound the exact value.
  assert exact - 1e-9 <= pld <= exact + 0.02 * max(1.0, exact)
  assert rdp >= pld - 1e-9


@pytest.mark.parametrize("sigma", [1.0, 3.0])
def test_full_batch_replace_one_is_the_gaussian_of_sensitivity_two(sigma):
  # B = n without replacement: every step releases the whole clipped sum,
  # which replacing one example moves by up to 2C. The exact curve is the
  # Gaussian mechanism at multiplier sigma / 2 (Balle & Wang, mpmath), and
  # RDP's conversion can only be above it. Before the fix the accountant
  # read sensitivity C and gave the curve of multiplier sigma (about half).
  event = dp_sgd_event(sigma, 1, sampling="without_replacement",
                       dataset_size=50, batch_size=50)
  rdp = epsilon(event, 1e-5, "rdp")
  assert rdp >= _exact_gaussian_epsilon(sigma / 2, 1e-5) - 1e-9
  # q = 1 takes dp_accounting's closed form alpha / (2 (sigma/2)^2): exactly
  # the RDP of one unsampled Gaussian release at sigma / 2.
  assert rdp == pytest.approx(epsilon(dp_sgd_event(
      sigma / 2, 1, sampling_rate=1.0), 1e-5, "rdp"), rel=1e-12)


def test_epsilon_grows_with_the_batch_at_fixed_noise():
  # Without replacement at fixed sigma and steps, a larger batch includes the
  # differing example more often and never helps privacy; B = n is the
  # largest (with sensitivity C the accountant gave B = n - 1 more than
  # B = n). Strictly increasing while the subsampling bound is below the
  # full batch's, flat where epsilon() caps it by the full batch.
  n = 100
  values = [epsilon(dp_sgd_event(2.0, 10, sampling="without_replacement",
                                 dataset_size=n, batch_size=b), 1e-5, "rdp")
            for b in (1, 5, 25, 50, 90, 99, 100)]
  assert all(a < b for a, b in zip(values[:4], values[1:4])), values
  assert all(a <= b for a, b in zip(values, values[1:])), values
  full = epsilon(dp_sgd_event(1.0, 10, sampling_rate=1.0), 1e-5, "rdp")
  assert values[-1] == pytest.approx(full, rel=1e-12)


def test_subsampling_and_steps_move_epsilon_the_right_way():
  base = epsilon(dp_sgd_event(1.1, 1000, sampling_rate=0.01), 1e-5)
  assert epsilon(dp_sgd_event(1.1, 1000, sampling_rate=0.02), 1e-5) > base
  assert epsilon(dp_sgd_event(1.1, 2000, sampling_rate=0.01), 1e-5) > base
  assert epsilon(dp_sgd_event(2.0, 1000, sampling_rate=0.01), 1e-5) < base
  shuffled = epsilon(dp_sgd_event(1.1, 1000, sampling="without_replacement",
                                  dataset_size=10_000, batch_size=100),
                     1e-5, "rdp")
  assert math.isfinite(shuffled) and shuffled > 0


def test_calibration_meets_the_target_tightly():
  make = lambda s: dp_sgd_event(s, 500, sampling_rate=0.02)
  sigma = calibrate_noise_multiplier(2.0, 1e-5, make)
  assert epsilon(make(sigma), 1e-5) <= 2.0
  # calibrate_dp_mechanism stops within tol = 1e-3 of the smallest sigma.
  assert epsilon(make(sigma - 2e-3), 1e-5) > 2.0


def test_bad_inputs_name_the_parameter():
  with pytest.raises(ValueError, match="sampling_rate"):
    dp_sgd_event(1.0, 10, sampling_rate=1.5)
  with pytest.raises(ValueError, match="sampling_rate"):
    dp_sgd_event(1.0, 10)
  with pytest.raises(ValueError, match="batch_size"):
    dp_sgd_event(1.0, 10, sampling="without_replacement", dataset_size=10,
                 batch_size=20)
  with pytest.raises(ValueError, match="delta"):
    epsilon(dp_sgd_event(1.0, 10, sampling_rate=0.1), 0.0)
  with pytest.raises(ValueError, match="accountant"):
    epsilon(dp_sgd_event(1.0, 10, sampling_rate=0.1), 1e-5, "moments")


def test_dice_sgd_code_calibration_written_out():
  # The code's recipe step by step: DP-SGD's multiplier for
  # E * floor(ln E + 1) epochs (E = 5: 10 epochs), times sqrt(1 + 2 C2/C1).
  from boundlab.theory.privacy_accounting import dice_sgd_code_noise_multiplier
  base = calibrate_noise_multiplier(
      2.0, 1e-5, lambda s: dp_sgd_event(s, 10 * 4, sampling_rate=0.25),
      accountant="rdp")
  ours = dice_sgd_code_noise_multiplier(
      2.0, 1e-5, sampling_rate=0.25, epochs=5, steps_per_epoch=4,
      error_clip_ratio=3.0)
  assert ours == pytest.approx(base * math.sqrt(7.0), rel=1e-12)
  with pytest.raises(ValueError, match="error_clip_ratio"):
    dice_sgd_code_noise_multiplier(2.0, 1e-5, sampling_rate=0.25, epochs=5,
                                   steps_per_epoch=4, error_clip_ratio=0.0)
