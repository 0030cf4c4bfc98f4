r"""Clipping bias and the symmetric-noise descent measure (Chen, Wu & Hong).

For a gradient :math:`v`, noise law :math:`p` and a symmetric reference
:math:`\tilde p`, the clipping bias is

.. math::
  b = \mathbb E_{\xi\sim\tilde p}\langle v, \mathrm{clip}(v+\xi, c)\rangle
    - \mathbb E_{\xi\sim p}\langle v, \mathrm{clip}(v+\xi, c)\rangle .

For the symmetrisation :math:`\tilde p = \frac12(p + p(-\cdot))` this is one
expectation under :math:`p`, :math:`b = \frac12 \mathbb E_p[h(-\xi) - h(\xi)]`
with :math:`h(\xi) = \langle v, \mathrm{clip}(v+\xi, c)\rangle`, so a Monte
Carlo estimate needs one sample and has a plain CLT interval.

References:
  Chen, Wu, Hong, arXiv 2006.15429 (v2), Section 3 (definition of b_t and its
  Wasserstein bound); numbering unverified.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from boundlab import _validation as validation
from boundlab.theory.clipping import clip_per_example


def _vector_and_samples(v, xi, xi_name="xi"):
  """``v`` as a (d,) vector and ``xi`` as (n, d) samples (traced values
  unchanged)."""
  if not validation.is_traced(v):
    v = jnp.asarray(validation.check_finite_array("v", v, ndim=1))
  if not validation.is_traced(xi):
    xi = jnp.asarray(validation.check_finite_array(xi_name, xi, ndim=2))
    if xi.shape[1] != v.shape[0]:
      raise ValueError(f"{xi_name} must have shape (n, {v.shape[0]}) (rows "
                       f"of v's dimension), got {xi.shape}")
  return v, xi


def clipped_inner_products(v, xi, clip_norm):
  r""":math:`h(\xi_j) = \langle v, \mathrm{clip}(v+\xi_j, c)\rangle` for rows of ``xi``."""
  v, xi = _vector_and_samples(v, xi)
  return clip_per_example(v[None, :] + xi, clip_norm) @ v


def symmetrization_bias_terms(v, xi, clip_norm):
  r"""Per-sample terms :math:`\frac12[h(-\xi_j) - h(\xi_j)]`; their mean estimates b."""
  v, xi = _vector_and_samples(v, xi)
  return 0.5 * (clipped_inner_products(v, -xi, clip_norm) -
                clipped_inner_products(v, xi, clip_norm))


def symmetric_descent_measure(grad_norm, clip_norm, small_noise_probability):
  r""":math:`P_{\tilde p}(\|\xi\| < c/4)\,\min\{\|\nabla f\|, 3c/4\}\,\|\nabla f\|`.

  The left-hand side of Chen, Wu & Hong's convergence theorem (constants c/4
  and 3c/4 as recalled, unverified against the PDF).
  """
  grad_norm = validation.check_nonnegative("grad_norm", grad_norm)
  clip_norm = validation.check_positive("clip_norm", clip_norm)
  small_noise_probability = validation.check_in_range(
      "small_noise_probability", small_noise_probability, 0.0, 1.0)
  return (small_noise_probability *
          jnp.minimum(grad_norm, 0.75 * clip_norm) * grad_norm)


def expected_clipped_gradient(x, points, clip_norm) -> np.ndarray:
  r""":math:`\frac1N \sum_i \mathrm{clip}(x - a_i, c)` on a grid of x (1-D):
  the mean clipped gradient of :math:`\frac1N\sum_i (x - a_i)^2/2`."""
  a = jnp.asarray(validation.check_finite_array("points", points, ndim=1))
  x = validation.check_finite_array("x", x, ndim=1)
  validation.check_positive("clip_norm", clip_norm, allow_inf=True)
  return np.asarray(jax.vmap(
      lambda x: jnp.mean(clip_per_example(x - a, clip_norm)))(
          jnp.asarray(x, dtype=float)))


def clipped_fixed_point(points, clip_norm) -> float:
  r"""Root of :math:`\frac1N \sum_i \mathrm{clip}(x - a_i, c) = 0` in 1-D:
  where clipped gradient descent on :math:`\frac1N\sum_i (x - a_i)^2/2`
  stalls (Chen, Wu & Hong, arXiv 2006.15429, Section 3).

  The map is continuous and non-decreasing in x, negative below min(a) - c and
  positive above max(a) + c, so bisection (Brent) finds a root; when the root
  set is an interval (as in the paper's Example 2) its midpoint is returned.
  """
  a = validation.check_finite_array("points", points, ndim=1)
  # Finite: the search below steps by clip_norm.
  clip_norm = validation.check_positive("clip_norm", clip_norm)
  g = lambda x: float(expected_clipped_gradient([x], a, clip_norm)[0])
  lo, hi = a.min() - 2 * clip_norm, a.max() + 2 * clip_norm
  root = scipy.optimize.brentq(g, lo, hi, xtol=1e-15,
                               rtol=4 * np.finfo(float).eps)
  # Widen to the whole zero set, if flat, and take its midpoint.
  zero = lambda x: abs(g(x)) <= 1e-15
  left, right = root, root
  step = clip_norm
  while step > 1e-14:
    if zero(left - step):
      left -= step
    elif zero(right + step):
      right += step
    else:
      step /= 2
  return 0.5 * (left + right)
