r"""Spherical Langevin dynamics on a stored tensor, with windowed averaging.

For the fixed-data tensor-PCA loss :math:`L_n(x) = -\langle \bar T,
x^{\otimes k}\rangle` (:meth:`~boundlab.landscapes.SpikedTensor.averaged_tensor`)
and inverse temperature :math:`\beta`,

.. math::
  x_{t+1} = \frac{x_t - \eta\,P^\perp_{x_t}\nabla L_n(x_t) +
  \sqrt{2\eta/\beta}\,P^\perp_{x_t}\xi_t}{\|\cdot\|}, \qquad
  \bar x = \frac{1}{|W|}\sum_{t\in W} x_t,

reporting both the last iterate and the normalised window average
:math:`\bar x/\|\bar x\|` (Wei, Damian & Lee, arXiv 2603.06028: averaging
the iterate of noisy dynamics emulates landscape smoothing; the schedule
there is not recorded in the shared references [U], so every parameter is an
argument here).

Many chains share one tensor: the step contracts the stored tensor with all
chains at once, :math:`\bar T[x, \ldots, x, \cdot]` as one
(chains x d) @ (d x d^{k-1}) product, so each step reads the tensor once.
The tensor is symmetrised once up front (:func:`symmetrize`), which leaves
the loss unchanged and makes the gradient a single contraction,
:math:`\nabla\langle \bar T, x^{\otimes k}\rangle = k\,\bar T_{\rm sym}[x,
\ldots, x, \cdot]`.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp

from boundlab import _validation as v


def symmetrize(tensor: jax.Array) -> jax.Array:
  """Average of the tensor over all permutations of its axes."""
  perms = list(itertools.permutations(range(tensor.ndim)))
  return sum(jnp.transpose(tensor, p) for p in perms) / len(perms)


def contract_all_but_one(sym_tensor: jax.Array, x: jax.Array) -> jax.Array:
  r""":math:`T[x, \ldots, x, \cdot]` for a batch x of shape (chains, d)."""
  d = x.shape[-1]
  out = x @ sym_tensor.reshape(d, -1)                     # (chains, d^{k-1})
  for _ in range(sym_tensor.ndim - 2):
    out = jnp.einsum("bi,bi...->b...", x,
                     out.reshape(x.shape[0], d, -1)).reshape(x.shape[0], -1)
  return out


def spherical_langevin(sym_tensor: jax.Array, x0: jax.Array, key: jax.Array,
                       *, learning_rate: float, inverse_temperature: float,
                       steps: int, average_from: int):
  r"""Runs the dynamics for every chain; returns (last, window average).

  Args:
    sym_tensor: the symmetrised data tensor (d, ..., d), order k.
    x0: (chains, d) unit starting points.
    key: PRNG key for the Langevin noise.
    learning_rate: eta > 0.
    inverse_temperature: beta > 0 (the noise is sqrt(2 eta / beta)).
    steps: T >= 1.
    average_from: first step of the averaging window, in [0, T).

  Returns:
    ``(x_T, x_bar / ||x_bar||)``, both (chains, d).
  """
  eta = v.check_positive("learning_rate", learning_rate)
  beta = v.check_positive("inverse_temperature", inverse_temperature)
  steps = v.check_positive_int("steps", steps)
  start = v.check_positive_int("average_from", average_from, minimum=0)
  if start >= steps:
    raise ValueError(f"average_from must be in [0, steps={steps}), got {start}")
  k = sym_tensor.ndim
  noise_scale = jnp.sqrt(2 * eta / beta)   # eta, beta may be traced

  def step(carry, inputs):
    x, total = carry
    t, key = inputs
    ascent = k * contract_all_but_one(sym_tensor, x)      # -grad L_n
    move = eta * ascent + noise_scale * jax.random.normal(key, x.shape,
                                                          x.dtype)
    move = move - jnp.sum(move * x, axis=1, keepdims=True) * x
    x = x + move
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    total = total + jnp.where(t >= start, 1.0, 0.0) * x
    return (x, total), None

  inputs = (jnp.arange(1, steps + 1), jax.random.split(key, steps))
  (x, total), _ = jax.lax.scan(step, (x0, jnp.zeros_like(x0)), inputs)
  return x, total / jnp.linalg.norm(total, axis=1, keepdims=True)
