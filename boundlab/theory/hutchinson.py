r"""Hutchinson estimators of the trace and the diagonal, with intervals.

For Rademacher probes :math:`z`, :math:`\mathbb E[z^\top H z] = \mathrm{Tr} H`
and :math:`\mathbb E[z \odot Hz] = \mathrm{diag}\, H`; the variance of one
trace sample is :math:`2(\|H\|_F^2 - \sum_i H_{ii}^2)`. Probes are batched with
``vmap`` (one batched HVP), not looped. The interval is Student-t over the
i.i.d. probe samples.

Data as arguments: every estimator runs in one ``jax.jit`` whose arguments
are the probes, ``args`` (``matvec(v, *args)``) and the array leaves of a
pytree matvec (such as :func:`boundlab.theory.flat_hvp`'s, whose leaves are
its residuals), so no data array is a compile-time constant. A plain Python
callable's jit is cached on the callable, weakly (:func:`jit_apply`):
calling again with the same function and shapes does not recompile, and
the cache keeps nothing the function closes over alive.

Precision (``probe_dtype``): ``"float32"`` evaluates under
``jax.default_matmul_precision("highest")`` (full precision of the inputs'
dtype: float64 inputs stay float64); ``"tf32"`` under
``jax.default_matmul_precision("tensorfloat32")`` (TF32 matmuls on GPUs
that have them; on a CPU identical to ``"float32"``, and the estimate still
records what was requested and the backend); ``"bfloat16"`` casts the
probes and the floating leaves of ``args`` to bfloat16 and reduces each
probe's scalar :math:`z^\top Hz` in float32.

References:
  Hutchinson, A stochastic estimator of the trace of the influence matrix for
  Laplacian smoothing splines (1990); Avron & Toledo, JACM 58(2), 2011;
  Martens, New insights and perspectives on the natural gradient method,
  arXiv 1412.1193 (the generalised Gauss-Newton matrix).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import weakref
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from boundlab import _validation as v
from boundlab.theory.exact_trace import (LOSSES, check_targets,
                                         output_factor_transpose)
from boundlab.theory.statistics import mean_ci

PROBE_DTYPES = ("float32", "tf32", "bfloat16")
_MATMUL_PRECISION = {"float32": "highest", "tf32": "tensorfloat32",
                     "bfloat16": None}


@dataclasses.dataclass(frozen=True)
class TraceEstimate:
  """Hutchinson trace estimate: mean, interval, per-probe samples.

  ``precision`` is the ``probe_dtype`` that was requested, ``backend`` the
  JAX backend it ran on (``"tf32"`` on a CPU is float32 arithmetic),
  ``num_probes`` the number of samples.
  """

  mean: float
  ci: tuple[float, float]
  samples: np.ndarray
  precision: str = "float32"
  num_probes: int | None = None
  backend: str | None = None

  def __post_init__(self):
    if self.num_probes is None:
      object.__setattr__(self, "num_probes", int(np.size(self.samples)))


# -- shared by the estimators here and in lanczos.py --------------------------

def check_probe_dtype(probe_dtype) -> str:
  """One of :data:`PROBE_DTYPES`."""
  return v.check_choice("probe_dtype", probe_dtype, PROBE_DTYPES)


def matmul_precision(probe_dtype: str):
  """Context manager: the matmul precision ``probe_dtype`` asks for (none
  for ``"bfloat16"``, whose inputs are cast instead)."""
  name = _MATMUL_PRECISION[probe_dtype]
  return (contextlib.nullcontext() if name is None
          else jax.default_matmul_precision(name))


def cast_floating(tree, probe_dtype: str):
  """``tree`` with its floating leaves cast to bfloat16 for ``"bfloat16"``
  (integer leaves, e.g. labels, unchanged); unchanged otherwise."""
  if probe_dtype != "bfloat16":
    return tree
  return jax.tree.map(
      lambda x: x.astype(jnp.bfloat16)
      if jnp.issubdtype(jnp.result_type(x), jnp.floating) else x, tree)


def check_args(args) -> tuple:
  """``args`` as a tuple of array pytrees (the extra arguments of
  ``matvec(v, *args)``)."""
  if not isinstance(args, (tuple, list)):
    raise ValueError("args must be a tuple of the matvec's extra arguments "
                     f"(arrays or pytrees of arrays), got "
                     f"{type(args).__name__}")
  return tuple(jax.tree.map(lambda x: v.check_array("args", x), tuple(args)))


@functools.cache
def _cached_jit(impl, static_names):
  return jax.jit(impl, static_argnames=static_names)


# fn -> {(impl, static names): its jit}. Weak on fn, and the jitted
# function reaches fn only through a weak reference, so a cache entry never
# keeps a user's function (or the arrays it closes over) alive.
_PLAIN_JITS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _plain_jit(impl, fn, names):
  try:
    per_fn = _PLAIN_JITS.setdefault(fn, {})
  except TypeError:                  # not weak-referenceable: no cache
    return jax.jit(functools.partial(impl, fn), static_argnames=names)
  if (impl, names) not in per_fn:
    ref = weakref.ref(fn)
    per_fn[(impl, names)] = jax.jit(
        lambda *operands, **static: impl(ref(), *operands, **static),
        static_argnames=names)
  return per_fn[(impl, names)]


def jit_apply(impl: Callable, fn: Callable, *operands, **static):
  """``impl(fn, *operands, **static)`` under one ``jax.jit``.

  The operands are its arguments; so are the array leaves of ``fn`` when it
  is a pytree (a :class:`boundlab.theory.hessian.HessianMatvec`, a
  ``jax.tree_util.Partial``), whose jit is cached on its static structure.
  A plain callable's jit is cached on the callable itself (weakly), so
  calling again with the same function and shapes does not recompile, as
  ``jax.jit`` of the user's own function would not: arrays it closes over
  are constants of that compile (pass them in ``args`` instead). Before
  this cache a 100-probe trace on an H200 spent 0.75 s recompiling per call
  against 13 ms computing. ``static`` are hashable keywords.
  """
  names = tuple(sorted(static))
  if jax.tree_util.treedef_is_leaf(jax.tree.structure(fn)):
    return _plain_jit(impl, fn, names)(*operands, **static)
  return _cached_jit(impl, names)(fn, *operands, **static)


def _check_probe_arguments(matvec, dim, num_probes, key):
  """Checked ``(num_probes, dim, key)``; the (num_probes, dim) probe matrix
  must fit the memory budget (checked before anything is drawn)."""
  v.check_callable("matvec", matvec)
  n = v.check_positive_int("num_probes", num_probes, minimum=2)
  dim = v.check_size("dim", dim, bytes_per_unit=8, what="one probe")
  v.check_size("num_probes", n, minimum=2, bytes_per_unit=8 * dim,
               what=f"the (num_probes, dim = {dim}) probe matrix")
  return n, dim, v.check_key("key", key)


def _probes(key, num_probes: int, dim: int):
  return jax.random.rademacher(key, (num_probes, dim)).astype(
      jnp.result_type(float))


def _checked_product(matvec, u, args):
  out = matvec(u, *args)
  if jnp.shape(out) != u.shape:
    raise ValueError(f"matvec must return a vector of shape {u.shape} (the "
                     f"probe's), got shape {jnp.shape(out)}")
  return out


def _trace_samples(matvec, z, args, *, probe_dtype):
  args = cast_floating(args, probe_dtype)

  def one(u):
    hu = _checked_product(matvec, u, args)
    if probe_dtype == "bfloat16":
      return jnp.sum(u.astype(jnp.float32) * hu.astype(jnp.float32))
    return jnp.sum(u * hu)

  return jax.vmap(one)(z)


def _estimate(samples, alpha, probe_dtype) -> TraceEstimate:
  samples = np.asarray(samples)
  mean, ci = mean_ci(samples, alpha)
  return TraceEstimate(mean, ci, samples, precision=probe_dtype,
                       num_probes=int(samples.shape[0]),
                       backend=jax.default_backend())


def hutchinson_trace(matvec: Callable, dim: int, num_probes: int = 100,
                     key=None, alpha: float = 0.05, *, args=(),
                     probe_dtype: str = "float32") -> TraceEstimate:
  r"""Trace of a symmetric linear map from ``num_probes`` Rademacher probes.

  :math:`\widehat{\mathrm{Tr}} = \frac1n\sum_{i=1}^n z_i^\top H z_i`, with a
  Student-t interval at level ``1 - alpha`` over the n i.i.d. samples.

  Args:
    matvec: ``matvec(v, *args) -> H v`` on flat vectors of length ``dim``
      (e.g. :func:`boundlab.theory.flat_hvp`'s).
    dim: the dimension.
    num_probes: the number of probes (>= 2).
    key: PRNG key of the probes (None: ``jax.random.key(0)``).
    alpha: the interval's miss rate.
    args: extra arguments of ``matvec``: arguments of the one jit the
      probes run in (so data are not compile-time constants); cast to
      bfloat16 for ``probe_dtype="bfloat16"``.
    probe_dtype: ``"float32"``, ``"tf32"`` or ``"bfloat16"`` (module
      docstring).

  Returns:
    A :class:`TraceEstimate` recording ``probe_dtype`` and the backend.
  """
  n, dim, key = _check_probe_arguments(matvec, dim, num_probes, key)
  alpha = v.check_alpha(alpha)
  probe_dtype = check_probe_dtype(probe_dtype)
  args = check_args(args)
  z = cast_floating(_probes(key, n, dim), probe_dtype)
  with matmul_precision(probe_dtype):
    samples = jit_apply(_trace_samples, matvec, z, args,
                        probe_dtype=probe_dtype)
  return _estimate(samples, alpha, probe_dtype)


def _ggn_samples(predict, params, inputs, z, *, loss, probe_dtype):
  params, inputs = cast_floating((params, inputs), probe_dtype)
  flat, unravel = ravel_pytree(params)
  outputs, linear = jax.linearize(lambda x: predict(unravel(x), inputs),
                                  flat)
  # bfloat16: the outputs, tangents and the squared norm in float32.
  reduced = jnp.float32 if probe_dtype == "bfloat16" else outputs.dtype
  outputs = outputs.astype(reduced)

  def one(u):
    tangent = linear(u).astype(reduced)
    projected = output_factor_transpose(outputs, tangent, loss)
    return jnp.sum(projected**2) / outputs.shape[0]

  return jax.vmap(one)(z)


def ggn_hutchinson_trace(predict: Callable, params, inputs, targets=None, *,
                         loss: str = "softmax_cross_entropy",
                         num_probes: int = 100, key, alpha: float = 0.05,
                         probe_dtype: str = "float32") -> TraceEstimate:
  r"""Hutchinson estimate of the trace of the generalised Gauss-Newton matrix.

  For outputs :math:`f_b = f(\theta, x_b) \in \mathbb R^C` and the mean loss
  :math:`\frac1B\sum_b \ell(f_b, y_b)`,

  .. math::
    G = \frac1B\sum_b J_b^\top \Lambda_b J_b, \qquad
    \Lambda_b = L_b L_b^\top = \nabla^2_f \ell(f_b, y_b),

  with :math:`\Lambda_b = \operatorname{diag} p_b - p_b p_b^\top` (softmax
  cross-entropy, :math:`p_b = \operatorname{softmax} f_b`) or :math:`I`
  (square loss :math:`\frac12\|f_b - y_b\|^2`). For Rademacher :math:`z` in
  parameter space, :math:`\mathbb E_z \frac1B\sum_b \|L_b^\top J_b z\|^2 =
  \mathrm{Tr}\, G`: one JVP of ``predict`` per probe (probes batched with
  ``vmap``), no Hessian and no backward pass. The interval is Student-t
  over the probe samples (:func:`boundlab.theory.mean_ci`).

  This estimates :math:`\mathrm{Tr}\, G`, which equals
  :math:`\mathrm{Tr}\, \nabla^2 L` only for networks that are linear in each
  layer's parameters at a fixed activation pattern (piecewise-linear MLPs,
  :func:`boundlab.theory.exact_trace`); for smooth activations (tanh, GELU)
  the two differ.

  Args:
    predict: ``predict(params, inputs) -> (B, C)`` outputs (logits).
    params: a pytree of parameters.
    inputs: the batch, as ``predict`` takes it (first axis B).
    targets: optional, checked against the outputs: (B,) integer labels
      (cross-entropy) or (B, C) targets (square loss). The GGN of these
      losses does not depend on them.
    loss: ``"softmax_cross_entropy"`` or ``"square"``.
    num_probes: the number of probes (>= 2).
    key: PRNG key of the probes (required).
    alpha: the interval's miss rate.
    probe_dtype: ``"float32"``, ``"tf32"`` or ``"bfloat16"`` (module
      docstring; for bfloat16 the params and inputs are cast too, and the
      per-probe squared norm is reduced in float32).

  Returns:
    A :class:`TraceEstimate` of :math:`\mathrm{Tr}\, G`.

  References:
    Martens, arXiv 1412.1193, Sections 8-9 (the GGN); Hutchinson (1990).
  """
  v.check_callable("predict", predict)
  loss = v.check_choice("loss", loss, LOSSES)
  n = v.check_positive_int("num_probes", num_probes, minimum=2)
  key = v.check_key("key", key, default_seed=None)
  alpha = v.check_alpha(alpha)
  probe_dtype = check_probe_dtype(probe_dtype)
  inputs = jax.tree.map(lambda x: v.check_array("inputs", x), inputs)
  if not jax.tree.leaves(inputs):
    raise ValueError("inputs must be an array (or a pytree of arrays) of "
                     f"the batch, got {inputs!r}"[:300])
  params = jax.tree.map(lambda x: v.check_array("params", x), params)
  flat, _ = ravel_pytree(params)
  if flat.size == 0 or not jnp.issubdtype(flat.dtype, jnp.floating):
    raise ValueError("params must be a pytree of floating arrays with at "
                     f"least one entry, got {jax.tree.structure(params)}")
  dim = v.check_size("params", flat.size, bytes_per_unit=8,
                     what="one probe")
  v.check_size("num_probes", n, minimum=2, bytes_per_unit=8 * dim,
               what=f"the (num_probes, dim = {dim}) probe matrix")
  out = jax.eval_shape(predict, params, inputs)
  batch = [x.shape[0] for x in jax.tree.leaves(inputs) if jnp.ndim(x)]
  if (not hasattr(out, "shape") or len(out.shape) != 2
      or (batch and out.shape[0] != batch[0])):
    raise ValueError("predict must return (B, C) outputs for the batch of "
                     f"inputs (B = {batch[0] if batch else '?'}), got "
                     f"{getattr(out, 'shape', type(out).__name__)}")
  if targets is not None:
    check_targets(targets, loss, *out.shape)
  z = cast_floating(_probes(key, n, dim).astype(flat.dtype), probe_dtype)
  with matmul_precision(probe_dtype):
    samples = jit_apply(_ggn_samples, predict, params, inputs, z, loss=loss,
                        probe_dtype=probe_dtype)
  return _estimate(samples, alpha, probe_dtype)


@dataclasses.dataclass(frozen=True)
class DiagonalEstimate:
  """Hutchinson diagonal estimate: per-coordinate mean and standard error."""

  mean: jax.Array
  standard_error: jax.Array
  num_probes: int


def _diagonal_moments(matvec, z, args, *, batch_size):
  samples = jax.lax.map(lambda u: u * _checked_product(matvec, u, args), z,
                        batch_size=batch_size)
  n = z.shape[0]
  return dict(mean=jnp.mean(samples, axis=0),
              standard_error=jnp.std(samples, axis=0, ddof=1) / np.sqrt(n))


def hutchinson_diagonal(matvec: Callable, dim: int, num_probes: int = 100,
                        key=None, *, batch_size: int | None = None, args=()
                        ) -> DiagonalEstimate:
  """Unbiased estimate of diag(H): the mean of z * Hz over Rademacher probes,
  with the standard error of each coordinate's mean (sample sd / sqrt(n)).

  ``batch_size`` bounds how many probes one batched HVP takes (memory);
  the estimate does not depend on it. ``matvec(v, *args)``: the probes and
  ``args`` are the arguments of one ``jax.jit``.
  """
  n, dim, key = _check_probe_arguments(matvec, dim, num_probes, key)
  if batch_size is not None:
    batch_size = v.check_positive_int("batch_size", batch_size)
  args = check_args(args)
  z = _probes(key, n, dim)
  moments = jit_apply(_diagonal_moments, matvec, z, args,
                      batch_size=batch_size)
  return DiagonalEstimate(**moments, num_probes=n)
