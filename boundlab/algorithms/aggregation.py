r"""Averaging per-example gradients, for optimizers that expect one gradient.

The run loop always hands optimizers per-example gradients (leading batch
axis), because clipping and privacy act per example. Any standard optax
optimizer consumes the minibatch mean instead:
``with_mean_gradient(optax.sgd(lr))`` is minibatch SGD,
:math:`x_{t+1} = x_t - \eta \frac1B \sum_{i\in\mathcal B_t} g_i^t`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from boundlab.algorithms.clipping import check_batched


def mean_aggregate() -> optax.GradientTransformation:
  """Replaces per-example gradients by their mean over the batch axis."""

  def update_fn(updates, state, params=None):
    del params
    check_batched(updates, "mean_aggregate")
    return jax.tree.map(lambda g: jnp.mean(g, axis=0), updates), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(),
                                      update_fn)


def with_mean_gradient(optimizer: optax.GradientTransformation
                       ) -> optax.GradientTransformation:
  """``optimizer`` applied to the minibatch-mean gradient."""
  _check_optimizer(optimizer)
  return optax.chain(mean_aggregate(), optimizer)


def _check_optimizer(optimizer):
  if not isinstance(optimizer, optax.GradientTransformation):
    raise ValueError("optimizer must be an optax GradientTransformation, got "
                     f"{type(optimizer).__name__}")


def with_batch_gradient(optimizer: optax.GradientTransformation
                        ) -> optax.GradientTransformationExtraArgs:
  """``optimizer`` fed the minibatch-mean gradient from the run loop's
  ``grad_fn`` (``extra_args=("grad_fn",)``): one backward pass of the mean
  loss instead of per-example gradients, which XLA then drops.

  The same update as :func:`with_mean_gradient` up to rounding; use it for
  optimizers that never look at individual examples when speed matters
  (per-example gradients of a wide layer cost memory and time on GPUs).
  """
  _check_optimizer(optimizer)
  inner = optax.with_extra_args_support(optimizer)

  def update_fn(updates, state, params=None, *, grad_fn=None, **extra_args):
    del updates
    if grad_fn is None:
      raise ValueError("with_batch_gradient needs the run loop's extra "
                       "argument grad_fn (extra_args=('grad_fn',))")
    return inner.update(grad_fn(params, 0), state, params, grad_fn=grad_fn,
                        **extra_args)

  return optax.GradientTransformationExtraArgs(inner.init, update_fn)
