r"""Privacy accounting for DP-SGD through ``dp_accounting`` (no hand-rolled RDP).

A DP-SGD run with noise multiplier :math:`\sigma` (noise std :math:`\sigma C`
for clip norm C), T steps and minibatches drawn by

* Poisson sampling with rate q:
  ``SelfComposed(PoissonSampled(q, Gaussian(sigma)), T)``, add/remove
  neighbours;
* sampling B of n without replacement:
  ``SelfComposed(SampledWithoutReplacement(n, B, Gaussian(sigma / 2)), T)``,
  replace-one neighbours (the relation that event is defined for).
  Replacing one example moves the clipped sum by up to :math:`2C`, not C,
  so the Gaussian's multiplier relative to its sensitivity is
  :math:`\sigma C / 2C = \sigma / 2`; ``dp_accounting``'s RDP accountant
  reads the sub-event's multiplier as noise over sensitivity and does not
  apply the factor itself (its PLD accountant would, but refuses this
  sampling). With B = n this is the full-batch Gaussian mechanism under
  replace-one, :math:`\varepsilon` of a Gaussian with multiplier
  :math:`\sigma/2`. A subsample's release is a mixture of pairs that are
  identical (the differing example left out) and pairs that the full batch's
  Gaussian dominates, so by joint convexity of the hockey-stick divergence
  (and composition of dominating pairs) no batch size is less private than
  B = n [D]; the Wang-Balle-Kasiviswanathan bound that ``dp_accounting``
  uses for B < n (arXiv 1808.00087, Theorem 27) exceeds the full batch's
  value near B = n, so :func:`epsilon` reports the smaller of the two, which
  makes it non-decreasing in B,

is turned into :math:`\varepsilon(\delta)` by the RDP accountant (Mironov
et al.) or the privacy-loss-distribution accountant (tight up to its
discretisation, pessimistic), and :func:`calibrate_noise_multiplier` finds
the smallest :math:`\sigma` meeting a target :math:`\varepsilon` with
``dp_accounting.calibrate_dp_mechanism``.

References:
  Abadi et al., Deep Learning with Differential Privacy, arXiv 1607.00133;
  Mironov, Talwar, Zhang, Renyi Differential Privacy of the Sampled Gaussian
  Mechanism, arXiv 1908.10530; Google's ``dp_accounting`` library.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import dp_accounting

from boundlab import _validation as v

SAMPLINGS = ("poisson", "without_replacement")
ACCOUNTANTS = ("rdp", "pld")


def dp_sgd_event(noise_multiplier: float, steps: int, *,
                 sampling: str = "poisson",
                 sampling_rate: float | None = None,
                 dataset_size: int | None = None,
                 batch_size: int | None = None) -> dp_accounting.DpEvent:
  """The DpEvent of T DP-SGD steps (see the module docstring).

  Args:
    noise_multiplier: sigma > 0, the noise std on the clipped sum in units of
      the clip norm C.
    steps: T >= 1.
    sampling: ``"poisson"`` (needs ``sampling_rate`` in (0, 1]; add/remove
      neighbours, sensitivity C) or ``"without_replacement"`` (needs
      ``dataset_size`` and ``batch_size``; replace-one neighbours,
      sensitivity 2C, accounted as a Gaussian of multiplier sigma / 2).
  """
  sigma = v.check_positive("noise_multiplier", noise_multiplier)
  steps = v.check_positive_int("steps", steps)
  if sampling == "poisson":
    if sampling_rate is None:
      raise ValueError("sampling_rate must be given for poisson sampling, "
                       "range (0, 1]")
    q = v.check_in_range("sampling_rate", sampling_rate, 0.0, 1.0,
                         closed="(]")
    step = dp_accounting.PoissonSampledDpEvent(
        q, dp_accounting.GaussianDpEvent(sigma))
  elif sampling == "without_replacement":
    n = v.check_positive_int("dataset_size", dataset_size)
    b = v.check_positive_int("batch_size", batch_size)
    if b > n:
      raise ValueError(f"batch_size must be in [1, dataset_size={n}], got {b}")
    # Replace-one sensitivity of the clipped sum is 2C (module docstring).
    step = dp_accounting.SampledWithoutReplacementDpEvent(
        n, b, dp_accounting.GaussianDpEvent(sigma / 2))
  else:
    raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
  return dp_accounting.SelfComposedDpEvent(step, steps)


def _accountant(name: str, event: dp_accounting.DpEvent):
  if name not in ACCOUNTANTS:
    raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {name!r}")
  # Sampling without replacement is the replace-one event.
  replace_one = _full_batch(event) is not None
  relation = (dp_accounting.NeighboringRelation.REPLACE_ONE if replace_one
              else dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE)
  if name == "rdp":
    return dp_accounting.rdp.RdpAccountant(neighboring_relation=relation)
  return dp_accounting.pld.PLDAccountant(neighboring_relation=relation)


def _full_batch(event):
  """The same composition with every without-replacement batch the whole
  data set (None if ``event`` has no such sampling)."""
  if isinstance(event, dp_accounting.SelfComposedDpEvent):
    inner = _full_batch(event.event)
    return None if inner is None else dp_accounting.SelfComposedDpEvent(
        inner, event.count)
  if isinstance(event, dp_accounting.SampledWithoutReplacementDpEvent):
    return dp_accounting.SampledWithoutReplacementDpEvent(
        event.source_dataset_size, event.source_dataset_size, event.event)
  return None


def epsilon(event: dp_accounting.DpEvent, delta: float,
            accountant: str = "pld") -> float:
  """epsilon(delta) of ``event`` by the chosen ``dp_accounting`` accountant.

  For sampling without replacement, the smaller of the accountant's value
  and the value of the same steps on the full batch (module docstring: the
  full batch is never more private).
  """
  delta = v.check_in_range("delta", delta, 0.0, 1.0, closed="()")
  acc = _accountant(accountant, event)
  if not acc.supports(event):
    raise ValueError(f"the {accountant} accountant does not support {event}")
  value = float(acc.compose(event).get_epsilon(delta))
  full = _full_batch(event)
  if full is not None and full != event:
    value = min(value, float(_accountant(accountant, full).compose(
        full).get_epsilon(delta)))
  return value


def calibrate_noise_multiplier(target_epsilon: float, delta: float,
                               make_event: Callable[[float], object], *,
                               accountant: str = "pld",
                               tolerance: float = 1e-3,
                               lowest: float = 0.25) -> float:
  """Smallest sigma >= ``lowest`` (to ``tolerance``) with
  epsilon(make_event(sigma)) <= target.

  The search uses the accountant's own epsilon, without :func:`epsilon`'s
  full-batch cap for sampling without replacement (conservative: at least
  the noise the cap would allow, never less).

  ``lowest`` bounds the search from below: the PLD accountant's grid of
  privacy losses grows without bound as sigma -> 0 (38 GiB at sigma ~ 1e-3
  for 500 subsampled steps), so tiny noise multipliers are not probed.
  """
  target = v.check_positive("target_epsilon", target_epsilon)
  delta = v.check_in_range("delta", delta, 0.0, 1.0, closed="()")
  probe = make_event(1.0)
  return float(dp_accounting.calibrate_dp_mechanism(
      lambda: _accountant(accountant, probe), make_event, target, delta,
      dp_accounting.LowerEndpointAndGuess(
          v.check_positive("lowest", lowest), 2 * lowest),
      tol=v.check_positive("tolerance", tolerance)))


def dp_sgd_noise_multiplier(target_epsilon: float, delta: float, *,
                            steps: int, sampling_rate: float,
                            accountant: str = "pld") -> float:
  """The noise multiplier of T Poisson-sampled DP-SGD steps at the target
  (epsilon, delta): :func:`calibrate_noise_multiplier` of
  :func:`dp_sgd_event`."""
  return calibrate_noise_multiplier(
      target_epsilon, delta, lambda s: dp_sgd_event(
          s, steps, sampling_rate=sampling_rate), accountant=accountant)


def dice_sgd_code_noise_multiplier(target_epsilon: float, delta: float, *,
                                   sampling_rate: float, epochs: int,
                                   steps_per_epoch: int,
                                   error_clip_ratio: float,
                                   accountant: str = "rdp") -> float:
  r"""DiceSGD's noise multiplier as the authors' code calibrates it.

  The official code (github.com/564612540/DiceSGD at 246fcd2 [V]:
  ``DiceSGD/trainers_reg.py`` and ``DiceSGD/optimizers_utils.py``) calibrates
  a DP-SGD multiplier :math:`\sigma` for :math:`E\,\lfloor\ln E + 1\rfloor`
  epochs instead of E, at sampling rate B/N and the target
  :math:`(\varepsilon, \delta)`, and adds noise of standard deviation
  :math:`\sigma C_1\sqrt{1 + 2C_2/C_1}` to the summed update
  :math:`\sum_i \mathrm{clip}(g_i, C_1) + \mathrm{clip}(E, C_2)`, Poisson
  sampling at rate B/N under add/remove neighbours (the DP-SGD event of
  :func:`dp_sgd_event`). This returns
  that total multiplier :math:`\sigma\sqrt{1 + 2r}` (in units of
  :math:`C_1`, :math:`r = C_2/C_1`).

  The privacy theorem of the paper (Theorem 3.8 of the ICLR submission as
  reviews number it [R]; its number in arXiv 2311.14632 v2 was not read)
  could not be read, so whether it prescribes the same noise is unverified;
  its sigma_1 is a noise standard deviation, not a multiplier [R], and is not
  used here. The
  code accounts with its library's RDP accountant [R] and does not pass a
  delta, so its library's default 1/N applies [R]; here ``delta`` and
  ``accountant`` are the caller's, so that DiceSGD and DP-SGD can be put on
  one accountant at one (epsilon, delta). The code also differs from
  Algorithm 1 in its error recursion, momentum 0.95 and a cosine schedule;
  only its noise recipe is reproduced here.
  """
  q = v.check_in_range("sampling_rate", sampling_rate, 0.0, 1.0, closed="(]")
  epochs = v.check_positive_int("epochs", epochs)
  steps_per_epoch = v.check_positive_int("steps_per_epoch", steps_per_epoch)
  ratio = v.check_positive("error_clip_ratio", error_clip_ratio)
  sigma = dp_sgd_noise_multiplier(
      target_epsilon, delta, sampling_rate=q, accountant=accountant,
      steps=epochs * int(math.log(epochs) + 1) * steps_per_epoch)
  return sigma * math.sqrt(1 + 2 * ratio)
