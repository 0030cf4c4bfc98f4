r"""Hessian-diagonal estimators for ``optax.contrib.sophia``.

``optax.contrib.sophia(..., hessian_diagonal_fn=...)`` takes any transformation
returning an estimate of diag(H) (optax ships Hutchinson with Rademacher
probes, which needs ``obj_fn`` passed to ``update``). The run loop cannot pass
extra arguments, so these estimators carry their objective or model with them:

* :func:`exact_hessian_diagonal` -- the exact diagonal (small problems; the
  deterministic limit in which Sophia is clipped diagonal Newton).
* :func:`gauss_newton_bartlett` -- Sophia-G's GNB estimator on a fixed input
  set, with labels sampled from the model
  (:func:`boundlab.theory.gauss_newton_bartlett_diagonal`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from boundlab.theory.gauss_newton import gauss_newton_bartlett_diagonal
from boundlab.theory.hessian import dense_hessian


def exact_hessian_diagonal(objective: Callable
                           ) -> optax.GradientTransformation:
  """diag of the dense Hessian of ``objective`` at ``params``."""

  def update_fn(updates, state, params=None, **extra_args):
    del updates, extra_args
    unravel = ravel_pytree(params)[1]
    return unravel(jnp.diag(dense_hessian(objective, params))), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(),
                                      update_fn)


class GaussNewtonBartlettState(NamedTuple):
  key: jax.Array


def gauss_newton_bartlett(predict: Callable, inputs: Any, key: jax.Array
                          ) -> optax.GradientTransformation:
  """Sophia-G's estimator on ``inputs``; a fresh key split per call."""

  def update_fn(updates, state, params=None, **extra_args):
    del updates, extra_args
    key, sub = jax.random.split(state.key)
    return (gauss_newton_bartlett_diagonal(predict, params, inputs, sub),
            GaussNewtonBartlettState(key))

  return optax.GradientTransformation(
      lambda params: GaussNewtonBartlettState(key), update_fn)
