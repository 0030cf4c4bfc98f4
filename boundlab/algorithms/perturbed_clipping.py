r"""Perturbation before clipping (Chen, Wu & Hong's bias correction).

Each per-example gradient receives its own Gaussian perturbation *before* it is
clipped; optional DP noise is added after averaging:

.. math::
  u_t = \frac1B \sum_{i\in\mathcal B_t} \mathrm{clip}(g_i^t + k\,\zeta_i^t, C)
        + \frac{zC}{B}\,\zeta_t, \qquad \zeta_i^t,\ \zeta_t \sim N(0, I).

For large :math:`k`, :math:`\|g + k\zeta\| \approx k\sqrt d \gg C` and
:math:`\mathbb E_\zeta\,\mathrm{clip}(g + k\zeta, C)` becomes approximately
linear in :math:`g`, which removes the clipping bias at the price of a smaller
effective step and a larger variance.

References:
  Chen, Wu, Hong, arXiv 2006.15429 (v2), Section 5 (perturbation approach);
  theorem number and the k-dependence of its constant unverified.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import optax

from boundlab import _validation as v
from boundlab.algorithms.clipping import (check_batched, check_clip_norm,
                                          clipped_mean)


class PerturbedClipState(NamedTuple):
  key: jax.Array


def perturbed_clip_aggregate(clip_norm, perturbation_scale, noise_multiplier=0.0,
                             key: jax.Array | None = None
                             ) -> optax.GradientTransformation:
  """Aggregates per-example gradients as in the module docstring.

  Args:
    clip_norm: C in (0, inf).
    perturbation_scale: k >= 0 (k = 0 is plain clipping).
    noise_multiplier: z >= 0, DP noise std z*C on the sum.
    key: PRNG key (required).
  """
  clip_norm = check_clip_norm("clip_norm", clip_norm)
  k = v.check_nonnegative("perturbation_scale", perturbation_scale)
  z = v.check_nonnegative("noise_multiplier", noise_multiplier)
  if key is None:
    raise ValueError("key must be a PRNG key (perturbations are random)")
  key = v.check_key("key", key)

  def init_fn(params):
    del params
    return PerturbedClipState(key)

  def update_fn(updates, state, params=None):
    del params
    batch = check_batched(updates, "perturbed_clip_aggregate")
    leaves, treedef = jax.tree.flatten(updates)
    new_key, k_perturb, k_noise = jax.random.split(state.key, 3)
    perturb_keys = jax.random.split(k_perturb, len(leaves))
    noise_keys = jax.random.split(k_noise, len(leaves))
    perturbed = [g + k * jax.random.normal(r, g.shape, g.dtype)
                 for g, r in zip(leaves, perturb_keys)]
    mean = clipped_mean(perturbed, clip_norm)
    noised = [m + (z * clip_norm / batch) * jax.random.normal(r, m.shape, m.dtype)
              for m, r in zip(mean, noise_keys)]
    return jax.tree.unflatten(treedef, noised), PerturbedClipState(new_key)

  return optax.GradientTransformation(init_fn, update_fn)


def perturbed_clipped_sgd(learning_rate, clip_norm, perturbation_scale,
                          noise_multiplier=0.0, key: jax.Array | None = None
                          ) -> optax.GradientTransformation:
  """:func:`perturbed_clip_aggregate` followed by ``optax.sgd(learning_rate)``."""
  v.check_positive("learning_rate", learning_rate)
  return optax.chain(
      perturbed_clip_aggregate(clip_norm, perturbation_scale, noise_multiplier,
                               key),
      optax.sgd(learning_rate))


def perturbation_gain_1d(clip_norm, perturbation_scale) -> float:
  r"""Slope at :math:`g = 0` of :math:`g \mapsto \mathbb E\,\mathrm{clip}(g + k\zeta, C)` in 1-D.

  .. math::
    \frac{d}{dg}\,\mathbb E\,\mathrm{clip}(g + k\zeta, C)\Big|_{g=0}
    = P(|k\zeta| < C) = \mathrm{erf}\big(C / (k\sqrt2)\big)
    \approx C\sqrt{2/\pi}/k \quad (k \gg C).

  Dividing the step by this gain keeps the effective step near the optimum
  comparable across k (the gain is 1 at k = 0).
  """
  c = v.check_positive("clip_norm", clip_norm)
  k = v.check_nonnegative("perturbation_scale", perturbation_scale)
  if k == 0:
    return 1.0
  return math.erf(c / (k * math.sqrt(2.0)))
