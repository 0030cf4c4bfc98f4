r"""Lanczos: top eigenvalues and the spectral density (stochastic Lanczos quadrature).

Lanczos with full reorthogonalisation builds an orthonormal basis
:math:`Q_m` of the Krylov space of a symmetric operator and the tridiagonal
:math:`T_m = Q_m^\top H Q_m`. Ritz values (eigenvalues of :math:`T_m`)
approximate the extreme eigenvalues; with a random unit start vector,
:math:`\sum_j \tau_j^2 \delta_{\theta_j}` (:math:`\theta_j` Ritz values,
:math:`\tau_j` first components of :math:`T_m`'s eigenvectors) is a quadrature
rule for the spectral density that is exact for polynomials of degree
:math:`< 2m`, in expectation over the start vector.

References:
  Golub & Meurant, Matrices, Moments and Quadrature with Applications (2010);
  Ghorbani, Krishnan & Xiao, arXiv 1901.10159, Section 2 (SLQ for Hessians).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from boundlab import _validation as v


def lanczos_tridiagonal(matvec: Callable, start: jax.Array, num_iters: int):
  """m steps of Lanczos with full reorthogonalisation from ``start``.

  Returns:
    ``(T, Q)``: the (m, m) tridiagonal matrix and the (m, d) basis. After a
    breakdown (an invariant subspace is found) the remaining rows of Q are zero
    and T is padded with zeros; the padding's Ritz values get zero weight.
  """
  v.check_callable("matvec", matvec)
  if v.is_traced(start):
    d = start.shape[0]
  else:
    start = jnp.asarray(v.check_finite_array("start", start, ndim=1),
                        dtype=jnp.result_type(float))
    d = start.shape[0]
    if not np.any(start):
      raise ValueError("start must be a non-zero vector")
  m = v.check_positive_int("num_iters", num_iters)
  if m > d:
    raise ValueError(f"num_iters must be in [1, dim={d}], got {m}")
  q0 = start / jnp.linalg.norm(start)
  basis = jnp.zeros((m + 1, d), start.dtype).at[0].set(q0)
  tiny = jnp.finfo(start.dtype).eps * 100

  def body(j, state):
    basis, alphas, betas = state
    q = basis[j]
    w = matvec(q)
    alpha = q @ w
    w = w - alpha * q - jnp.where(j > 0, betas[j - 1], 0.0) * basis[j - 1]
    # Twice is enough (Kahan): keeps Q orthonormal to working precision.
    w = w - basis.T @ (basis @ w)
    w = w - basis.T @ (basis @ w)
    beta = jnp.linalg.norm(w)
    scale = jnp.maximum(jnp.abs(alpha), 1.0)
    ok = beta > tiny * scale
    next_q = jnp.where(ok, w / jnp.where(ok, beta, 1.0), 0.0)
    basis = basis.at[j + 1].set(next_q)
    return basis, alphas.at[j].set(alpha), betas.at[j].set(jnp.where(ok, beta,
                                                                     0.0))

  zeros = jnp.zeros((m,), start.dtype)
  basis, alphas, betas = jax.lax.fori_loop(0, m, body, (basis, zeros, zeros))
  tri = jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)
  return tri, basis[:m]


def top_eigenvalues(matvec: Callable, dim: int, k: int = 1,
                    num_iters: int | None = None, key=None,
                    start: jax.Array | None = None) -> jax.Array:
  """The k largest eigenvalues (Ritz values), largest first.

  Args:
    matvec: symmetric linear map on flat vectors (e.g. from
      :func:`boundlab.theory.hessian.flat_hvp`).
    dim: its dimension.
    k: how many eigenvalues.
    num_iters: Lanczos steps (default ``min(dim, max(2k + 20, 30))``).
    key: PRNG key of the random start vector.
    start: a fixed start vector instead of a random one.
  """
  v.check_callable("matvec", matvec)
  dim = v.check_size("dim", dim, bytes_per_unit=8, what="one vector")
  k = v.check_positive_int("k", k)
  m = (min(dim, max(2 * k + 20, 30)) if num_iters is None
       else v.check_positive_int("num_iters", num_iters, maximum=dim))
  if k > m:
    raise ValueError(f"k must be in [1, num_iters={m}], got {k}")
  v.check_size("num_iters", m, bytes_per_unit=8 * dim,
               what=f"the (num_iters + 1, dim = {dim}) Lanczos basis")
  if start is None:
    start = jax.random.normal(v.check_key("key", key), (dim,))
  tri, _ = lanczos_tridiagonal(matvec, start, m)
  return jnp.linalg.eigvalsh(tri)[::-1][:k]


def spectral_density(matvec: Callable, dim: int, *, num_iters: int = 30,
                     num_probes: int = 8, key=None):
  """Stochastic Lanczos quadrature: nodes and weights of the spectral density.

  Returns:
    ``(nodes, weights)`` of shape (num_probes, num_iters); the weights of each
    probe sum to 1, and averaging over probes estimates
    :math:`\\frac1d \\mathrm{Tr}\\, f(H) \\approx \\frac1P \\sum_{p,j} w_{pj} f(\\theta_{pj})`.
  """
  v.check_callable("matvec", matvec)
  dim = v.check_size("dim", dim, bytes_per_unit=8, what="one vector")
  probes = v.check_positive_int("num_probes", num_probes)
  num_iters = v.check_positive_int("num_iters", num_iters, maximum=dim)
  v.check_size("num_probes", probes, bytes_per_unit=8 * dim * (num_iters + 1),
               what=f"num_probes Lanczos bases of (num_iters + 1, dim = {dim})")
  key = v.check_key("key", key)
  starts = jax.random.rademacher(key, (probes, dim)).astype(jnp.result_type(float))

  def one(start):
    tri, _ = lanczos_tridiagonal(matvec, start, num_iters)
    nodes, vectors = jnp.linalg.eigh(tri)
    return nodes, vectors[0] ** 2

  return jax.vmap(one)(starts)
