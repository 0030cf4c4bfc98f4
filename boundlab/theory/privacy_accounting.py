r"""Privacy accounting for DP-SGD through ``dp_accounting`` (no hand-rolled RDP).

A DP-SGD run with noise multiplier :math:`\sigma` (noise std :math:`\sigma C`
for clip norm C), T steps and minibatches drawn by

* Poisson sampling with rate q:
  ``SelfComposed(PoissonSampled(q, Gaussian(sigma)), T)``, add/remove
  neighbours;
* sampling B of n without replacement:
  ``SelfComposed(SampledWithoutReplacement(n, B, Gaussian(sigma)), T)``,
  replace-one neighbours (the relation that event is defined for),

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
    noise_multiplier: sigma > 0.
    steps: T >= 1.
    sampling: ``"poisson"`` (needs ``sampling_rate`` in (0, 1]) or
      ``"without_replacement"`` (needs ``dataset_size`` and ``batch_size``).
  """
  sigma = v.check_positive("noise_multiplier", noise_multiplier)
  steps = v.check_positive_int("steps", steps)
  gaussian = dp_accounting.GaussianDpEvent(sigma)
  if sampling == "poisson":
    if sampling_rate is None:
      raise ValueError("sampling_rate must be given for poisson sampling, "
                       "range (0, 1]")
    q = v.check_in_range("sampling_rate", sampling_rate, 0.0, 1.0,
                         closed="(]")
    step = dp_accounting.PoissonSampledDpEvent(q, gaussian)
  elif sampling == "without_replacement":
    n = v.check_positive_int("dataset_size", dataset_size)
    b = v.check_positive_int("batch_size", batch_size)
    if b > n:
      raise ValueError(f"batch_size must be in [1, dataset_size={n}], got {b}")
    step = dp_accounting.SampledWithoutReplacementDpEvent(n, b, gaussian)
  else:
    raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
  return dp_accounting.SelfComposedDpEvent(step, steps)


def _accountant(name: str, event: dp_accounting.DpEvent):
  if name not in ACCOUNTANTS:
    raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {name!r}")
  replace_one = _uses_replacement(event)
  relation = (dp_accounting.NeighboringRelation.REPLACE_ONE if replace_one
              else dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE)
  if name == "rdp":
    return dp_accounting.rdp.RdpAccountant(neighboring_relation=relation)
  return dp_accounting.pld.PLDAccountant(neighboring_relation=relation)


def _uses_replacement(event) -> bool:
  if isinstance(event, dp_accounting.SelfComposedDpEvent):
    return _uses_replacement(event.event)
  return isinstance(event, dp_accounting.SampledWithoutReplacementDpEvent)


def epsilon(event: dp_accounting.DpEvent, delta: float,
            accountant: str = "pld") -> float:
  """epsilon(delta) of ``event`` by the chosen ``dp_accounting`` accountant."""
  delta = v.check_in_range("delta", delta, 0.0, 1.0, closed="()")
  acc = _accountant(accountant, event)
  if not acc.supports(event):
    raise ValueError(f"the {accountant} accountant does not support {event}")
  return float(acc.compose(event).get_epsilon(delta))


def calibrate_noise_multiplier(target_epsilon: float, delta: float,
                               make_event: Callable[[float], object], *,
                               accountant: str = "pld",
                               tolerance: float = 1e-3,
                               lowest: float = 0.25) -> float:
  """Smallest sigma >= ``lowest`` (to ``tolerance``) with
  epsilon(make_event(sigma)) <= target.

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
  :math:`\sum_i \mathrm{clip}(g_i, C_1) + \mathrm{clip}(E, C_2)`. This returns
  that total multiplier :math:`\sigma\sqrt{1 + 2r}` (in units of
  :math:`C_1`, :math:`r = C_2/C_1`).

  The privacy theorem of the paper (arXiv 2311.14632 (v2), Theorem 3.8) could
  not be read, so whether it prescribes the same noise is unverified. The
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
