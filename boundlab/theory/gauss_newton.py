r"""Gauss-Newton diagonal for softmax cross-entropy: exact and Sophia's GNB.

For logits :math:`f(\theta, x_b)` and mean cross-entropy over B examples, the
Gauss-Newton matrix is

.. math::
  G = \frac1B\sum_b J_b^\top(\operatorname{diag} p_b - p_b p_b^\top) J_b,
  \qquad J_b = \partial_\theta f(\theta, x_b),\ p_b = \operatorname{softmax}
  f(\theta, x_b).

Gauss-Newton-Bartlett (Liu et al., Sophia, arXiv 2305.14342, Algorithm 2 as
recalled in the shared references [R]; the authors' ``update_hessian`` [V]):
sample :math:`\hat y_b \sim p_b`, let :math:`\hat L = \frac1B\sum_b
\ell_{CE}(f(\theta, x_b), \hat y_b)` and return :math:`\hat h = B\,\nabla\hat
L \odot \nabla\hat L`. Since the :math:`\hat y_b` are independent with
:math:`E\,e_{\hat y_b} = p_b` and covariance :math:`\operatorname{diag} p_b -
p_b p_b^\top`, :math:`E\,\hat h = \operatorname{diag} G` exactly (and
:math:`\hat h \ge 0`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree


def gauss_newton_diagonal(predict: Callable, params: Any,
                          inputs: jax.Array) -> Any:
  """Exact diag(G) by dense per-example Jacobians (small models only).

  Args:
    predict: ``predict(params, x) -> logits`` for one example.
    params: a pytree.
    inputs: (B, ...) inputs.

  Returns:
    diag(G) with the structure of ``params``.
  """
  flat, unravel = ravel_pytree(params)

  def one(x):
    logits_fn = lambda p: predict(unravel(p), x)
    jac = jax.jacobian(logits_fn)(flat)                # (classes, P)
    p = jax.nn.softmax(logits_fn(flat))
    covariance = jnp.diag(p) - jnp.outer(p, p)
    return jnp.einsum("cp,cd,dp->p", jac, covariance, jac)

  return unravel(jnp.mean(jax.vmap(one)(inputs), axis=0))


def gauss_newton_bartlett_diagonal(predict: Callable, params: Any,
                                   inputs: jax.Array, key: jax.Array) -> Any:
  """One GNB estimate :math:`B\\,\\nabla\\hat L \\odot \\nabla\\hat L` of diag(G).

  Args:
    predict: ``predict(params, x) -> logits`` for one example.
    params: a pytree.
    inputs: (B, ...) inputs of the minibatch.
    key: PRNG key for the sampled labels.
  """
  logits = jax.vmap(predict, in_axes=(None, 0))(params, inputs)
  sampled = jax.random.categorical(key, jax.lax.stop_gradient(logits))
  return gauss_newton_bartlett_from_labels(predict, params, inputs, sampled)


def gauss_newton_bartlett_from_labels(predict: Callable, params: Any,
                                      inputs: jax.Array,
                                      labels: jax.Array) -> Any:
  """The GNB estimate for given sampled labels (the estimator's randomness)."""
  batch = inputs.shape[0]

  def sampled_loss(p):
    out = jax.vmap(predict, in_axes=(None, 0))(p, inputs)
    picked = jnp.take_along_axis(out, labels[:, None], axis=1)[:, 0]
    return jnp.mean(jax.nn.logsumexp(out, axis=1) - picked)

  grad = jax.grad(sampled_loss)(params)
  return jax.tree.map(lambda g: batch * g * g, grad)
