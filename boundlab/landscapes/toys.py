r"""Two-dimensional toys with known geometry.

:func:`product_toy`: :math:`L(x, y) = \tfrac12 (xy - 1)^2`. Its minima form the
hyperbola :math:`xy = 1`; at the minimum :math:`(x, 1/x)` the Hessian is
:math:`\begin{pmatrix} y^2 & 2xy-1 \\ 2xy-1 & x^2\end{pmatrix}` with
eigenvalues 0 and :math:`x^2 + 1/x^2 \ge 2`, so the sharpness of the minimum
reached tells which minima an optimizer can settle in.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from boundlab import _validation as v
from boundlab.landscapes._landscape import Landscape, finite_sum


def product_toy(init_radius: float = 2.5) -> Landscape:
  """The toy above, started uniformly in the square [-r, r]^2."""
  r = v.check_positive("init_radius", init_radius)
  data = jnp.ones((1,))          # one "example": the target of the product

  def loss(params, target):
    return 0.5 * (params[0] * params[1] - target) ** 2

  return Landscape(
      name=f"product_toy(r={r})",
      init=lambda key: jax.random.uniform(key, (2,), minval=-r, maxval=r),
      loss=loss, sample=lambda key, n: jnp.ones((n,)),
      objective=lambda params: loss(params, 1.0),
      constants={"optimal_value": 0.0, "minima": "x y = 1",
                 "sharpness_at_minimum": "x^2 + 1/x^2 (>= 2)"},
      data=data)


def scale_invariant_regression(num_examples: int = 40, dim: int = 20,
                               seed: int = 0) -> Landscape:
  r"""A scale-invariant objective :math:`f(w) = \frac1{2N}\sum_i (\langle a_i,
  w/\|w\|\rangle - b_i)^2`.

  :math:`f(cw) = f(w)` for all :math:`c > 0`, so :math:`w^\top \nabla f(w) = 0`
  and the effective step on the direction :math:`w/\|w\|` is
  :math:`\eta/\|w\|^2` (the setting of AdamP, arXiv 2006.08217).
  """
  n = v.check_positive_int("num_examples", num_examples)
  d = v.check_positive_int("dim", dim, minimum=2)
  v.check_sizes("the data", num_examples=n, dim=d)
  key_a, key_b = jax.random.split(v.seed_key(seed))
  data = {"a": jax.random.normal(key_a, (n, d)),
          "b": jax.random.normal(key_b, (n,))}

  def loss(w, example):
    return 0.5 * (jnp.dot(example["a"], w / jnp.linalg.norm(w))
                  - example["b"]) ** 2

  return finite_sum(
      name=f"scale_invariant_regression(N={n},d={d})",
      init=lambda key: jax.random.normal(key, (d,)), loss=loss, data=data,
      constants={"scale_invariant": True})


def heterogeneous_curvature_toy(init_low: float = 0.02,
                                init_high: float = 0.4) -> Landscape:
  r"""Sophia's 2-D toy :math:`L(\theta) = 8(\theta_1 - 1)^2(1.3\theta_1^2 +
  2\theta_1 + 1) + \tfrac12(\theta_2 - 4)^2`.

  Sharp and non-convex in :math:`\theta_1`, flat in :math:`\theta_2`.
  Critical points: the global minimum (1, 4), a local minimum near
  (-0.654, 4) and the saddle (0, 4) (a maximum in :math:`\theta_1`);
  :math:`\partial^2_{\theta_1} L < 0` for :math:`\theta_1 \in (-0.366,
  0.596)`. Starts are uniform in ``[init_low, init_high] x [-1, 1]``.

  References:
    Liu et al., Sophia, arXiv 2305.14342, Figure 2 (the function as recalled in
    the shared references [R]; the paper's start point is not recorded).
  """
  low = v.check_in_range("init_low", init_low, -10.0, 10.0)
  high = v.check_in_range("init_high", init_high, low, 10.0, closed="(]")

  def loss(params, example):
    del example   # deterministic objective
    t1, t2 = params[0], params[1]
    return (8 * (t1 - 1) ** 2 * (1.3 * t1**2 + 2 * t1 + 1)
            + 0.5 * (t2 - 4) ** 2)

  def init(key):
    k1, k2 = jax.random.split(key)
    return jnp.stack([jax.random.uniform(k1, (), minval=low, maxval=high),
                      jax.random.uniform(k2, (), minval=-1.0, maxval=1.0)])

  return Landscape(
      name=f"heterogeneous_curvature_toy([{low},{high}])", init=init,
      loss=loss, sample=lambda key, n: jnp.zeros((n,)),
      objective=lambda params: loss(params, None),
      constants={"optimum": (1.0, 4.0), "optimal_value": 0.0,
                 "saddle": (0.0, 4.0), "local_minimum_theta1": -0.6538},
      data=jnp.zeros((1,)))
