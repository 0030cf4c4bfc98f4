r"""Trade-off curves of hypothesis tests and the separation kappa (f-DP).

A mechanism's privacy is the trade-off :math:`f(\alpha) = \inf\{\beta:
\text{type I} \le \alpha\}` between the two hypotheses "the target is out"
(H0) and "the target is in" (H1). Its separation from perfect privacy is the
largest Euclidean distance from a point :math:`(\alpha, \beta)` of the curve
to the line :math:`\beta = 1 - \alpha`,

.. math::
  \kappa = \max_t \frac{1 - \alpha(t) - \beta(t)}{\sqrt 2}
  \in [0, 1/\sqrt 2]

(Ertan & van Dijk, arXiv 2601.10237, as recalled in the shared references
[V]).

:func:`shuffled_single_epoch_separation` estimates it by Monte Carlo for
shuffled DP-SGD over one epoch of M updates against the worst-case adversary:
the target's clipped gradient (norm 1) lands in one uniformly random round,
everything else is known, so the observation is :math:`Y \sim N(0,
\sigma^2 I_M)` under H0 and :math:`Y \sim \frac1M\sum_j N(e_j, \sigma^2
I_M)` under H1 (add/remove neighbours: the target is absent under H0, so its
round's release moves by its clipped norm 1, not 2 as replacing it
could), and the Neyman-Pearson test thresholds the likelihood ratio
:math:`\log\frac1M\sum_j \exp((y_j - \tfrac12)/\sigma^2)`. The threshold is
chosen on one half of the samples and evaluated on the other, so the
estimate at that threshold is unbiased for a point of the curve and its
lower confidence bound (Hoeffding) is a lower confidence bound for kappa.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import numpy as np
import scipy.stats

from boundlab import _validation as v


def _log_likelihood_ratio(y, sigma):
  m = y.shape[-1]
  return jax.nn.logsumexp((y - 0.5) / sigma**2, axis=-1) - math.log(m)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _statistics(key, m, size, sigma):
  """Log-likelihood ratios of ``size`` draws under H0 and under H1."""
  k0, k1, kj = jax.random.split(key, 3)
  null = sigma * jax.random.normal(k0, (size, m))
  shift = jax.nn.one_hot(jax.random.randint(kj, (size,), 0, m), m)
  alternative = shift + sigma * jax.random.normal(k1, (size, m))
  return (_log_likelihood_ratio(null, sigma),
          _log_likelihood_ratio(alternative, sigma))


@dataclasses.dataclass(frozen=True)
class SeparationEstimate:
  """kappa at a held-out threshold: estimate and lower confidence bound."""

  kappa: float
  lower: float
  type_one: float
  type_two: float
  samples_per_hypothesis: int


def shuffled_single_epoch_separation(key, num_rounds: int, sigma: float, *,
                                     samples: int = 20_000,
                                     alpha: float = 0.05,
                                     chunk: int = 5_000) -> SeparationEstimate:
  """Monte Carlo kappa of shuffled single-epoch DP-SGD (module docstring).

  Args:
    key: PRNG key.
    num_rounds: M >= 1 updates in the epoch (M = 1 is the Gaussian
      mechanism, whose kappa :func:`gaussian_dp_separation` gives exactly).
    sigma: noise multiplier (noise std / clip norm), > 0.
    samples: draws per hypothesis (half select the threshold, half score it).
    alpha: level of the lower confidence bound (Hoeffding on each error rate,
      alpha/2 each).
    chunk: draws generated at once (memory: chunk x M floats).
  """
  m = v.check_positive_int("num_rounds", num_rounds)
  sigma = v.check_positive("sigma", sigma)
  n = v.check_positive_int("samples", samples, minimum=4)
  alpha = v.check_in_range("alpha", alpha, 0.0, 1.0, closed="()")
  chunk = v.check_positive_int("chunk", chunk)

  null, alternative = [], []
  for i, start in enumerate(range(0, n, chunk)):
    s0, s1 = _statistics(jax.random.fold_in(key, i), m,
                         min(chunk, n - start), sigma)
    null.append(np.asarray(s0))
    alternative.append(np.asarray(s1))
  null, alternative = np.concatenate(null), np.concatenate(alternative)
  half = n // 2
  threshold = _best_threshold(null[:half], alternative[:half])
  type_one = float(np.mean(null[half:] > threshold))
  type_two = float(np.mean(alternative[half:] <= threshold))
  held_out = n - half
  slack = 2 * math.sqrt(math.log(4 / alpha) / (2 * held_out))
  kappa = (1 - type_one - type_two) / math.sqrt(2)
  return SeparationEstimate(kappa=kappa,
                            lower=max(0.0, kappa - slack / math.sqrt(2)),
                            type_one=type_one, type_two=type_two,
                            samples_per_hypothesis=n)


def _best_threshold(null, alternative) -> float:
  """argmax_t 1 - P0(S > t) - P1(S <= t) over the pooled sample values."""
  values = np.sort(np.concatenate([null, alternative]))
  type_one = 1 - np.searchsorted(np.sort(null), values, side="right") / len(null)
  type_two = np.searchsorted(np.sort(alternative), values,
                             side="right") / len(alternative)
  return float(values[np.argmax(1 - type_one - type_two)])


def separation_lower_bound(num_rounds: int) -> float:
  r"""Ertan-van Dijk: :math:`(1/\sqrt 8)(1 - 1/\sqrt{4\pi\ln M})`."""
  m = v.check_positive_int("num_rounds", num_rounds, minimum=2)
  return (1 - 1 / math.sqrt(4 * math.pi * math.log(m))) / math.sqrt(8)


def noise_threshold(num_rounds: int) -> float:
  r""":math:`1/\sqrt{2\ln M}`: below it the separation bound applies."""
  m = v.check_positive_int("num_rounds", num_rounds, minimum=2)
  return 1 / math.sqrt(2 * math.log(m))


def gaussian_dp_separation(mu: float) -> float:
  r"""kappa of mu-GDP: :math:`(2\Phi(\mu/2) - 1)/\sqrt 2` (closed form)."""
  return float((2 * scipy.stats.norm.cdf(v.check_nonnegative("mu", mu) / 2) - 1)
               / math.sqrt(2))
