r"""DiceSGD: differentially private SGD with clipped error feedback.

Algorithm 1 of Zhang, Bu, Wu, Hong (arXiv 2311.14632). With :math:`e^0 = 0`:

.. math::
  v^t &= \frac1B \sum_{i\in\mathcal B_t} \mathrm{clip}(g_i^t, C_1)
         + \mathrm{clip}(e^t, C_2), \\
  x^{t+1} &= x^t - \eta\,(v^t + w^t), \qquad w^t \sim N(0, \sigma_1^2 I), \\
  e^{t+1} &= e^t + \frac1B \sum_{i\in\mathcal B_t} g_i^t - v^t .

The error :math:`e^t` is hidden state (never released); it accumulates exactly
what clipping removed. At a noise-free fixed point :math:`v = 0`, and the
e-recursion then forces the *unclipped* mean gradient to vanish, for any
:math:`C_1`. Such a fixed point exists at :math:`x^\star` when
:math:`\|\frac1N\sum_i \mathrm{clip}(g_i(x^\star), C_1)\| \le C_2`, which
:math:`C_1 \le C_2` guarantees. Here
:func:`dice_aggregate` returns :math:`v^t + w^t` and :func:`dice_sgd` chains it
with ``optax.sgd``; the error update does not involve :math:`\eta`.

Note: :math:`\sigma_1` is the noise *standard deviation* added to the averaged
update (not a multiplier); its privacy calibration (the paper's Theorem 3.8)
is not encoded here.

References:
  Zhang, Bu, Wu, Hong, Differentially Private SGD Without Clipping Bias: An
  Error-Feedback Approach, ICLR 2024, arXiv 2311.14632 (v2), Algorithm 1.
  Algorithm transcription checked against two independent transcriptions; the
  authors' code differs (C_2 as a multiple of C_1, a modified error coefficient).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from boundlab import _validation as v
from boundlab.algorithms.clipping import (check_batched, check_clip_norm, clip,
                                          clipped_mean)


class DiceState(NamedTuple):
  error: optax.Params   # e^t, same structure as the parameters
  key: jax.Array


def dice_aggregate(clip_norm_1, clip_norm_2, noise_std=0.0,
                   key: jax.Array | None = None, *,
                   sampling_rate: float | None = None
                   ) -> optax.GradientTransformation:
  """DiceSGD's update direction v^t + w^t from per-example gradients.

  Args:
    clip_norm_1: C_1 in (0, inf), per-example threshold.
    clip_norm_2: C_2 in (0, inf), threshold for the error feedback (the paper
      recommends C_2 >= C_1).
    noise_std: sigma_1 >= 0, standard deviation of w^t.
    key: PRNG key (required when noise_std > 0).
    sampling_rate: Poisson rate q when the gradients are all N examples' with
      the unsampled ones zeroed: batch means are then sums over qN.
  """
  c1 = check_clip_norm("clip_norm_1", clip_norm_1)
  inverse_rate = 1.0 if sampling_rate is None else 1.0 / v.check_in_range(
      "sampling_rate", sampling_rate, 0.0, 1.0, closed="(]")
  c2 = check_clip_norm("clip_norm_2", clip_norm_2)
  sigma = v.check_nonnegative("noise_std", noise_std)
  if key is None:
    if sigma > 0:
      raise ValueError("key must be a PRNG key when noise_std > 0")
    key = jax.random.key(0)
  key = v.check_key("key", key)

  def init_fn(params):
    return DiceState(error=optax.tree.zeros_like(params), key=key)

  def update_fn(updates, state, params=None):
    del params
    check_batched(updates, "dice_aggregate")
    mean_grad = jax.tree.map(lambda g: inverse_rate * jnp.mean(g, axis=0),
                             updates)
    clipped = optax.tree.scale(inverse_rate, clipped_mean(updates, c1))
    direction = optax.tree.add(clipped, clip(state.error, c2))
    new_error = optax.tree.add(state.error,
                               optax.tree.sub(mean_grad, direction))
    new_key, k_noise = jax.random.split(state.key)
    leaves, treedef = jax.tree.flatten(direction)
    keys = jax.random.split(k_noise, len(leaves))
    noised = [d + sigma * jax.random.normal(r, d.shape, d.dtype)
              for d, r in zip(leaves, keys)]
    return jax.tree.unflatten(treedef, noised), DiceState(new_error, new_key)

  return optax.GradientTransformation(init_fn, update_fn)


def dice_sgd(learning_rate, clip_norm_1, clip_norm_2, noise_std=0.0,
             key: jax.Array | None = None, *,
             sampling_rate: float | None = None
             ) -> optax.GradientTransformation:
  """DiceSGD (Algorithm 1): :func:`dice_aggregate` then ``optax.sgd``."""
  v.check_positive("learning_rate", learning_rate)
  return optax.chain(dice_aggregate(clip_norm_1, clip_norm_2, noise_std, key,
                                    sampling_rate=sampling_rate),
                     optax.sgd(learning_rate))
