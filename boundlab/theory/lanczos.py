r"""Lanczos: top eigenvalues and the spectral density (stochastic Lanczos quadrature).

Lanczos with full reorthogonalisation builds an orthonormal basis
:math:`Q_m` of the Krylov space of a symmetric operator and the tridiagonal
:math:`T_m = Q_m^\top H Q_m`. Ritz values (eigenvalues of :math:`T_m`)
approximate the extreme eigenvalues; with a random unit start vector,
:math:`\sum_j \tau_j^2 \delta_{\theta_j}` (:math:`\theta_j` Ritz values,
:math:`\tau_j` first components of :math:`T_m`'s eigenvectors) is a quadrature
rule for the spectral density that is exact for polynomials of degree
:math:`< 2m`, in expectation over the start vector.

:func:`lanczos_top_eigenvalue` returns the largest Ritz value with its
residual norm: a lower bound on :math:`\lambda_{\max}` and the distance
within which some eigenvalue lies (:class:`EigenvalueEstimate`).

Every routine runs ``matvec(v, *args)`` inside one ``jax.jit`` whose
arguments are the start vectors, ``args`` and the array leaves of a pytree
matvec (:func:`boundlab.theory.flat_hvp`'s residuals), so data are not
compile-time constants; ``matvec(v)`` is the case ``args=()``.

References:
  Golub & Meurant, Matrices, Moments and Quadrature with Applications (2010);
  Ghorbani, Krishnan & Xiao, arXiv 1901.10159, Section 2 (SLQ for Hessians);
  Parlett, The Symmetric Eigenvalue Problem (1998), Chapters 4 and 13
  (residual bounds for Ritz values).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from boundlab import _validation as v
from boundlab.theory.hutchinson import (cast_floating, check_args,
                                        check_probe_dtype, jit_apply,
                                        matmul_precision)


def _operator(matvec, args, probe_dtype, dtype):
  """q -> H q in ``dtype``: ``matvec(q, *args)``, for ``"bfloat16"`` with q
  and the floating leaves of args cast to bfloat16 (the recurrence stays in
  ``dtype``)."""
  if probe_dtype != "bfloat16":
    return lambda q: matvec(q, *args)
  args = cast_floating(args, probe_dtype)
  return lambda q: matvec(q.astype(jnp.bfloat16), *args).astype(dtype)


def _lanczos(apply, start, m):
  """``(alphas, betas, basis)`` of m steps with full reorthogonalisation;
  after a breakdown the remaining alphas, betas and basis rows are zero.
  ``basis`` has m + 1 rows (the last is the next Lanczos vector)."""
  d = start.shape[0]
  q0 = start / jnp.linalg.norm(start)
  basis = jnp.zeros((m + 1, d), start.dtype).at[0].set(q0)
  tiny = jnp.finfo(start.dtype).eps * 100

  def body(j, state):
    basis, alphas, betas = state
    q = basis[j]
    w = apply(q)
    if jnp.shape(w) != q.shape:
      raise ValueError(f"matvec must return a vector of shape {q.shape}, got "
                       f"shape {jnp.shape(w)}")
    w = w.astype(start.dtype)
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
  return alphas, betas, basis


def _tridiagonal(alphas, betas):
  return jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)


def _tridiagonal_impl(matvec, start, args, *, num_iters):
  apply = _operator(matvec, args, "float32", start.dtype)
  alphas, betas, basis = _lanczos(apply, start, num_iters)
  return _tridiagonal(alphas, betas), basis[:num_iters]


def _check_start(start):
  if v.is_traced(start):
    return start
  start = jnp.asarray(v.check_finite_array("start", start, ndim=1),
                      dtype=jnp.result_type(float))
  if not np.any(start):
    raise ValueError("start must be a non-zero vector")
  return start


def lanczos_tridiagonal(matvec: Callable, start: jax.Array, num_iters: int,
                        *, args=()):
  """m steps of Lanczos with full reorthogonalisation from ``start``.

  ``matvec(v, *args)``: ``start`` and ``args`` are the arguments of one
  ``jax.jit`` (and so are the leaves of a pytree matvec such as
  :func:`boundlab.theory.flat_hvp`'s).

  Returns:
    ``(T, Q)``: the (m, m) tridiagonal matrix and the (m, d) basis. After a
    breakdown (an invariant subspace is found) the remaining rows of Q are zero
    and T is padded with zeros; the padding's Ritz values get zero weight.
  """
  v.check_callable("matvec", matvec)
  start = _check_start(start)
  d = start.shape[0]
  m = v.check_positive_int("num_iters", num_iters)
  if m > d:
    raise ValueError(f"num_iters must be in [1, dim={d}], got {m}")
  args = check_args(args)
  return jit_apply(_tridiagonal_impl, matvec, start, args, num_iters=m)


def top_eigenvalues(matvec: Callable, dim: int, k: int = 1,
                    num_iters: int | None = None, key=None,
                    start: jax.Array | None = None, *, args=()) -> jax.Array:
  """The k largest eigenvalues (Ritz values), largest first.

  Args:
    matvec: symmetric linear map ``matvec(v, *args)`` on flat vectors (e.g.
      from :func:`boundlab.theory.hessian.flat_hvp`).
    dim: its dimension.
    k: how many eigenvalues.
    num_iters: Lanczos steps (default ``min(dim, max(2k + 20, 30))``).
    key: PRNG key of the random start vector.
    start: a fixed start vector instead of a random one.
    args: extra arguments of ``matvec``, arguments of the one jit.
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
  tri, _ = lanczos_tridiagonal(matvec, start, m, args=args)
  return jnp.linalg.eigvalsh(tri)[::-1][:k]


def _density_impl(matvec, starts, args, *, num_iters):
  apply = _operator(matvec, args, "float32", starts.dtype)

  def one(start):
    alphas, betas, _ = _lanczos(apply, start, num_iters)
    nodes, vectors = jnp.linalg.eigh(_tridiagonal(alphas, betas))
    return nodes, vectors[0] ** 2

  return jax.vmap(one)(starts)


def spectral_density(matvec: Callable, dim: int, *, num_iters: int = 30,
                     num_probes: int = 8, key=None, args=()):
  """Stochastic Lanczos quadrature: nodes and weights of the spectral density.

  ``matvec(v, *args)``; the start vectors and ``args`` are the arguments of
  one ``jax.jit``.

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
  args = check_args(args)
  starts = jax.random.rademacher(key, (probes, dim)).astype(jnp.result_type(float))
  return jit_apply(_density_impl, matvec, starts, args, num_iters=num_iters)


@dataclasses.dataclass(frozen=True)
class EigenvalueEstimate:
  r"""The largest Ritz value and what it says about lambda_max.

  ``value`` is the largest Ritz value :math:`\theta` after ``num_iters``
  Lanczos steps; ``interval = (value, value + r)`` with r the residual norm
  :math:`\|Hy - \theta y\|` of its unit Ritz vector y. ``kind`` states
  what is guaranteed: :math:`\theta \le \lambda_{\max}` and some
  eigenvalue lies in :math:`[\theta - r, \theta + r]`; that
  :math:`\lambda_{\max} \le \theta + r` holds only when that eigenvalue is
  :math:`\lambda_{\max}` (not guaranteed: a start vector nearly orthogonal to
  the top eigenvector, or a top eigenvalue not yet resolved, gives an
  interval below it).
  """

  value: float
  interval: tuple[float, float]
  kind: str
  precision: str
  num_iters: int
  backend: str | None = None


EIGENVALUE_KIND = (
    "value is the largest Ritz value, a lower bound on lambda_max; some "
    "eigenvalue lies within the residual norm r = ||H y - value y|| of it "
    "(interval = (value, value + r)); lambda_max <= value + r only if that "
    "eigenvalue is lambda_max, which Lanczos does not guarantee")


def _top_ritz_impl(matvec, start, args, *, num_iters, probe_dtype):
  dtype = start.dtype
  apply = _operator(matvec, args, probe_dtype, dtype)
  alphas, betas, basis = _lanczos(apply, start, num_iters)
  # Steps after a breakdown are padding (zero alphas and betas): move their
  # diagonal below every Ritz value of the active block (Gershgorin), so the
  # largest eigenvalue of T is the active block's.
  ok = betas > 0
  active = jnp.concatenate([jnp.ones((1,), bool),
                            jnp.cumprod(ok[:-1].astype(jnp.int32)) > 0])
  radius = (jnp.abs(betas) + jnp.abs(jnp.concatenate(
      [jnp.zeros((1,), dtype), betas[:-1]])))
  lower = jnp.min(jnp.where(active, alphas - radius, jnp.inf))
  padded = jnp.where(active, alphas, lower - 1.0)
  nodes, vectors = jnp.linalg.eigh(_tridiagonal(padded, jnp.where(
      active, betas, 0.0)))
  theta, s = nodes[-1], jnp.where(active, vectors[:, -1], 0.0)
  y = basis[:num_iters].T @ s
  y = y / jnp.linalg.norm(y)
  residual = jnp.linalg.norm(apply(y).astype(dtype) - theta * y)
  return theta, residual


def lanczos_top_eigenvalue(matvec: Callable, dim: int, *, num_iters: int = 30,
                           key, args=(), probe_dtype: str = "float32"
                           ) -> EigenvalueEstimate:
  r"""The largest eigenvalue of a symmetric operator by Lanczos, with the
  residual that says how far it can be from an eigenvalue.

  After m steps with full reorthogonalisation (:math:`Q_m` orthonormal,
  :math:`T_m = Q_m^\top H Q_m`), the largest Ritz value :math:`\theta` (top
  eigenvalue of :math:`T_m`, eigenvector s) satisfies:

  * :math:`\theta = y^\top H y \le \lambda_{\max}` for the unit Ritz
    vector :math:`y = Q_m s` (Rayleigh quotient; Cauchy interlacing);
  * some eigenvalue :math:`\lambda` of H has :math:`|\lambda - \theta| \le
    r = \|Hy - \theta y\|`, which in exact arithmetic is
    :math:`\beta_m |s_m|` (the Kahan-Parlett residual bound). Here r is
    computed with one extra matvec, so the statement holds for the computed
    y whatever the rounding of the recurrence.

  ``interval = (value, value + r)``; it brackets :math:`\lambda_{\max}` when
  the Ritz value has converged to it (r small compared with the gap to the
  next eigenvalue), which Lanczos does not guarantee (``kind`` says so).

  Args:
    matvec: ``matvec(v, *args) -> H v`` for symmetric H on vectors of length
      ``dim``.
    dim: the dimension.
    num_iters: Lanczos steps m (at most dim).
    key: PRNG key of the Gaussian start vector (required).
    args: extra arguments of ``matvec``: with the start vector, the
      arguments of one ``jax.jit``.
    probe_dtype: ``"float32"`` / ``"tf32"`` (the matvec under that matmul
      precision) or ``"bfloat16"`` (the matvec's input and the floating
      leaves of ``args`` cast to bfloat16; the recurrence, the
      orthogonalisation and the residual in the default float dtype). The
      bounds are then those of the operator as evaluated.

  Returns:
    An :class:`EigenvalueEstimate`.

  References:
    Parlett, The Symmetric Eigenvalue Problem (1998), Theorem 4.5.1 and
    Section 13.1 (residual bounds, Ritz values); Golub & Van Loan, Matrix
    Computations (4th ed.), Section 10.1.
  """
  v.check_callable("matvec", matvec)
  dim = v.check_size("dim", dim, bytes_per_unit=8, what="one vector")
  m = v.check_positive_int("num_iters", num_iters, maximum=dim)
  v.check_size("num_iters", m, bytes_per_unit=8 * dim,
               what=f"the (num_iters + 1, dim = {dim}) Lanczos basis")
  key = v.check_key("key", key, default_seed=None)
  args = check_args(args)
  probe_dtype = check_probe_dtype(probe_dtype)
  start = jax.random.normal(key, (dim,), jnp.result_type(float))
  with matmul_precision(probe_dtype):
    theta, residual = jit_apply(_top_ritz_impl, matvec, start, args,
                                num_iters=m, probe_dtype=probe_dtype)
  value, r = float(theta), float(residual)
  return EigenvalueEstimate(value=value, interval=(value, value + r),
                            kind=EIGENVALUE_KIND, precision=probe_dtype,
                            num_iters=m, backend=jax.default_backend())
