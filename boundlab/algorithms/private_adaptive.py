r"""Private Adam two ways: privatize-then-scale and scale-then-privatize.

*Privatize-then-scale* (standard DP-Adam): clip the per-example gradients,
add isotropic noise, and give the noisy mean to Adam,

.. math::
  \tilde g_t = \frac1B\Big(\sum_i \mathrm{clip}(g_i, C) + zC\zeta_t\Big),
  \qquad x_{t+1} = x_t - \eta\,\mathrm{Adam}(\tilde g_t).

*Scale-then-privatize* (Ganesh, McMahan & Thakurta; ``jax_privacy``'s
``scale_then_privatize``, "Algorithm 8" [V, code]): precondition *before*
clipping with the previous second-moment estimate, privatize in that geometry
and undo the scaling for the base optimizer,

.. math::
  s_t = \frac{1}{\sqrt{v_{t-1} + \epsilon_{\mathrm{root}}} + \epsilon},
  \quad u_t = \frac1B\Big(\sum_i \mathrm{clip}(s_t\odot g_i, C)
  + zC\zeta_t\Big), \quad x_{t+1} = x_t - \eta\,\mathrm{Adam}(u_t / s_t),

so clipping and noise are isotropic in the preconditioned coordinates and the
noise a coordinate receives shrinks with its :math:`\sqrt{v}` instead of being
amplified by :math:`1/\sqrt v`. Both consume per-example gradients; clipping
and noise are optax's :func:`optax.contrib.differentially_private_aggregate`,
Adam is :func:`optax.scale_by_adam`.

References:
  Ganesh, McMahan, Thakurta, On Design Principles for Private Adaptive
  Optimizers, arXiv 2507.01129 (v1); jax_privacy ``optimizers.py``
  (``scale_then_privatize``, defaults eps = 1e-8, eps_root = 0).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from boundlab import _validation as v
from boundlab.algorithms.dp_sgd import check_private_arguments


def privatize_then_scale_adam(learning_rate, clip_norm, noise_multiplier,
                              key: jax.Array | None = None, *, b1=0.9,
                              b2=0.999, eps=1e-8, eps_root=0.0
                              ) -> optax.GradientTransformation:
  """Standard DP-Adam: DP aggregate, then Adam."""
  clip_norm, z, key = check_private_arguments(learning_rate, clip_norm,
                                              noise_multiplier, key)
  v.check_adam_hyperparameters(b1, b2, eps, eps_root)
  return optax.chain(
      optax.contrib.differentially_private_aggregate(clip_norm, z, key),
      optax.scale_by_adam(b1, b2, eps, eps_root),
      optax.scale_by_learning_rate(learning_rate))


class ScaleThenPrivatizeState(NamedTuple):
  aggregate: optax.OptState
  adam: optax.ScaleByAdamState


def scale_then_privatize_adam(learning_rate, clip_norm, noise_multiplier,
                              key: jax.Array | None = None, *, b1=0.9,
                              b2=0.999, eps=1e-8, eps_root=0.0
                              ) -> optax.GradientTransformation:
  r"""Adam whose privatization happens in its own preconditioned geometry.

  ``eps`` must be positive: at the first step :math:`v = 0` and the scale is
  :math:`1/(\sqrt{\epsilon_{root}} + \epsilon)`.
  """
  clip_norm, z, key = check_private_arguments(learning_rate, clip_norm,
                                              noise_multiplier, key)
  v.check_adam_hyperparameters(b1, b2, eps, eps_root)
  aggregate = optax.contrib.differentially_private_aggregate(clip_norm, z, key)
  adam = optax.scale_by_adam(b1, b2, eps, eps_root)

  def init(params):
    return ScaleThenPrivatizeState(aggregate.init(params), adam.init(params))

  def update(per_example_grads, state, params=None):
    scale = jax.tree.map(lambda nu: 1.0 / (jnp.sqrt(nu + eps_root) + eps),
                         state.adam.nu)
    scaled = jax.tree.map(lambda g, s: g * s[None], per_example_grads, scale)
    private, aggregate_state = aggregate.update(scaled, state.aggregate)
    unscaled = jax.tree.map(lambda u, s: u / s, private, scale)
    direction, adam_state = adam.update(unscaled, state.adam, params)
    updates = jax.tree.map(lambda d: -learning_rate * d, direction)
    return updates, ScaleThenPrivatizeState(aggregate_state, adam_state)

  return optax.GradientTransformation(init, update)
