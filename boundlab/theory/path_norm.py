r"""Path norm of a two-layer ReLU net and the data's spread constant.

For :math:`f(x) = \sum_k a_k\sigma(b_k^\top x)` with :math:`\|x_i\| = 1`, at an
interpolating minimum of the square loss (derived in the shared references
[D], as Wu & Su, arXiv 2305.17490, state it [R]):

.. math::
  \mathrm{Tr}\,H = \frac1n\sum_i\|\nabla_\theta f(x_i)\|^2
  = \frac1n\sum_i\sum_k\big[\sigma(b_k^\top x_i)^2 + a_k^2\,1\{b_k^\top
  x_i > 0\}\big] \ge 2c\sum_k |a_k|\,\|b_k\|,

by AM-GM, with the spread constant :math:`c = \min_{\|w\|=1}\frac1n\sum_i
\sigma(w^\top x_i)` (positive iff no half-space contains all the inputs).
"""

from __future__ import annotations

import numpy as np

from boundlab import _validation as v


def path_norm(a, b) -> float:
  r""":math:`\sum_k |a_k|\,\|b_k\|_2` for output weights a (m,), inputs b (m, d)."""
  a = v.check_finite_array("a", a, ndim=1)
  b = v.check_finite_array("b", b, ndim=2)
  if b.shape[0] != a.shape[0]:
    raise ValueError(f"b must have {a.shape[0]} rows (one per unit), got "
                     f"{b.shape}")
  return float(np.sum(np.abs(a) * np.linalg.norm(b, axis=1)))


def relu_spread_constant(x, num_directions: int = 200_000,
                         seed: int = 0) -> float:
  r"""Upper estimate of :math:`c = \min_{\|w\|=1}\frac1n\sum_i\sigma(w^\top
  x_i)`: the minimum over random unit directions plus every
  :math:`-x_i/\|x_i\|`.

  A minimum over finitely many directions can only overestimate c, so a
  check of :math:`\mathrm{Tr}\,H \ge 2c\cdot\text{path norm}` with this value is
  stricter than with the true c.
  """
  x = v.check_finite_array("x", x, ndim=2)
  k = v.check_positive_int("num_directions", num_directions)
  rng = np.random.default_rng(v.check_seed("seed", seed))
  directions = rng.standard_normal((k, x.shape[1]))
  directions = np.concatenate([directions, -x])
  directions /= np.linalg.norm(directions, axis=1, keepdims=True)
  values = np.empty(len(directions))
  for start in range(0, len(directions), 50_000):   # bounded memory
    chunk = directions[start:start + 50_000]
    values[start:start + 50_000] = np.maximum(chunk @ x.T, 0.0).mean(axis=1)
  return float(values.min())
