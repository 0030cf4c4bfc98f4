r"""Newton's method as an optax transformation (small, dense problems).

.. math::
  \theta_{t+1} = \theta_t - \eta\,[\nabla^2 L(\theta_t)]^{-1}\nabla L(\theta_t).

Newton's method is attracted by every critical point, saddles included: the
foil against which Sophia's clipped, positive-curvature-only preconditioning
is shown (Liu et al., arXiv 2305.14342, Figure 2).
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from boundlab import _validation as v
from boundlab.theory.hessian import dense_hessian


def newton(objective: Callable, learning_rate: float = 1.0
           ) -> optax.GradientTransformation:
  """Damped Newton steps on ``objective`` (dense Hessian; params pytree).

  The incoming updates must be the gradient of ``objective`` at ``params``
  (wrap in :func:`~boundlab.algorithms.with_mean_gradient` inside the run
  loop); the Hessian is formed densely, so use it for small problems only.
  """
  eta = v.check_positive("learning_rate", learning_rate)

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("newton needs params in update()")
    flat_grad, unravel = ravel_pytree(updates)
    hessian = dense_hessian(objective, params)
    return unravel(-eta * jnp.linalg.solve(hessian, flat_grad)), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(),
                                      update_fn)
