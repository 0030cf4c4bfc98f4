r"""Clipped SGD and DP-SGD with gradient clipping (DP-SGD-GC).

.. math::
  x_{t+1} = x_t - \eta\Big(\frac1B \sum_{i\in\mathcal B_t}
  \mathrm{clip}(g_i^t, C) + \frac{zC}{B}\,\zeta_t\Big), \qquad
  \zeta_t \sim N(0, I).

With ``noise_multiplier = 0`` this is clipped SGD (Chen, Wu & Hong's object).
Aggregation is optax's own :func:`optax.contrib.differentially_private_aggregate`
(noise standard deviation :math:`zC` on the *sum*), chained with
:func:`optax.sgd`; boundlab only validates the arguments.

References:
  Abadi et al., Deep Learning with Differential Privacy, arXiv 1607.00133.
  Chen, Wu, Hong, Understanding Gradient Clipping in Private SGD: A Geometric
  Perspective, arXiv 2006.15429 (v2), Section 3.
"""

from __future__ import annotations

import jax
import optax

from boundlab import _validation as v
from boundlab.algorithms.clipping import check_clip_norm


def check_private_arguments(learning_rate, clip_norm, noise_multiplier,
                            key: jax.Array | None):
  """Validated ``(clip_norm, noise_multiplier, key)`` of a private optimizer.

  A key is required only when there is noise to draw.
  """
  v.check_positive("learning_rate", learning_rate)
  clip_norm = check_clip_norm("clip_norm", clip_norm)
  z = v.check_nonnegative("noise_multiplier", noise_multiplier)
  if key is None:
    if z > 0:
      raise ValueError("key must be a PRNG key when noise_multiplier > 0")
    key = jax.random.key(0)  # unused: the noise is multiplied by zero
  return clip_norm, z, v.check_key("key", key)


def dp_sgd_gc(learning_rate, clip_norm, noise_multiplier=0.0,
              key: jax.Array | None = None, *,
              sampling_rate: float | None = None
              ) -> optax.GradientTransformation:
  """DP-SGD with per-example clipping; expects per-example gradients.

  Args:
    learning_rate: step size eta > 0.
    clip_norm: clipping threshold C in (0, inf).
    noise_multiplier: z >= 0 (noise std z*C on the sum of clipped gradients).
    key: PRNG key for the noise (required when ``noise_multiplier > 0``).
    sampling_rate: Poisson rate q in (0, 1] when the gradients are all N
      examples' with the unsampled ones zeroed (``run(sampling="poisson")``):
      the sum is then divided by the expected batch size qN instead of N.
  """
  clip_norm, z, key = check_private_arguments(learning_rate, clip_norm,
                                              noise_multiplier, key)
  return optax.chain(
      optax.contrib.differentially_private_aggregate(clip_norm, z, key),
      poisson_normalization(sampling_rate), optax.sgd(learning_rate))


def poisson_normalization(sampling_rate: float | None
                          ) -> optax.GradientTransformation:
  """Turns a mean over N masked rows into a mean over qN (identity if None)."""
  if sampling_rate is None:
    return optax.identity()
  q = v.check_in_range("sampling_rate", sampling_rate, 0.0, 1.0, closed="(]")
  return optax.scale(1.0 / q)
