r"""Hessian-vector products and dense Hessians, on any pytree of parameters.

The HVP is forward-over-reverse, :math:`Hv = \partial_\epsilon \nabla L(\theta +
\epsilon v)|_{\epsilon=0}` (``jax.jvp`` of ``jax.grad``): one extra forward pass
over a gradient, no Hessian in memory. Dense Hessians (``jax.hessian``) are for
small problems and serve as the oracle in tests.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from boundlab import _validation as v


def check_like(name: str, tree, reference):
  """``tree`` with the structure and leaf shapes of ``reference`` (a
  parameter pytree), as arrays; traced leaves unchanged."""
  ref_leaves, ref_def = jax.tree.flatten(reference)
  if len(ref_leaves) == 1 and jax.tree.structure(tree) != ref_def:
    tree = v.check_array(name, tree)      # one array given as a list
  leaves, treedef = jax.tree.flatten(tree)
  if treedef != ref_def:
    raise ValueError(f"{name} must have the structure of params ({ref_def}),"
                     f" got {treedef}")
  out = []
  for leaf, ref in zip(leaves, ref_leaves):
    leaf = v.check_array(name, leaf)
    if jnp.shape(leaf) != jnp.shape(ref):
      raise ValueError(f"{name} must have the shapes of params: "
                       f"{jnp.shape(ref)}, got {jnp.shape(leaf)}")
    out.append(leaf)
  return jax.tree.unflatten(treedef, out)


def hvp(loss_fn: Callable, params, vector, *args):
  """H(params) @ vector for ``loss_fn(params, *args)``; pytrees in and out."""
  v.check_callable("loss_fn", loss_fn)
  vector = check_like("vector", vector, params)
  return jax.jvp(lambda p: jax.grad(loss_fn)(p, *args), (params,), (vector,))[1]


@jax.jit
def _apply_linear(linear, x):
  """``linear(x)`` for a linearisation returned by a jitted ``jax.linearize``
  (a ``jax.tree_util.Partial`` whose leaves are the residual arrays): the
  residuals enter this jit as arguments, not as constants."""
  return linear(x)


@jax.tree_util.register_pytree_node_class
class HessianMatvec:
  """The Hessian at a point as a linear map on flat vectors (from
  :func:`flat_hvp`).

  A pytree whose leaves are the residual arrays of the linearisation and
  whose static part is the linearised program, so a ``jax.jit`` that takes
  it as an argument (as :func:`boundlab.theory.hutchinson_trace` and the
  Lanczos routines do) receives the residuals as arguments, not as
  compile-time constants. Calling it with a vector of another float dtype
  casts the vector to the linearisation's dtype; a half-precision vector is
  refused, since the residuals were computed at that dtype when it was
  linearised (for a bfloat16 evaluation, pass params and data through
  ``args`` of a matvec ``matvec(v, *args)`` instead).
  """

  def __init__(self, linear, dtype):
    self.linear = linear
    self.dtype = jnp.dtype(dtype)

  def __call__(self, x):
    x = jnp.asarray(x)
    if (jnp.issubdtype(x.dtype, jnp.floating)
        and jnp.finfo(x.dtype).bits < min(32, jnp.finfo(self.dtype).bits)):
      raise ValueError(
          f"vector must have dtype {self.dtype} (flat_hvp linearised the "
          f"gradient at params' dtype), got {x.dtype}: probe_dtype "
          "'bfloat16' needs the params and data in args (args=(flat_params, "
          "*data) with matvec(v, flat_params, *data) the HVP there, e.g. "
          "jax.jvp of jax.grad), not a flat_hvp matvec")
    return _apply_linear(self.linear, x.astype(self.dtype))

  def tree_flatten(self):
    return (self.linear,), self.dtype

  @classmethod
  def tree_unflatten(cls, dtype, children):
    return cls(children[0], dtype)


def flat_vector(tree) -> jax.Array:
  """``ravel_pytree(tree)[0]``, the leaves in order, each in C order, at
  their common dtype, built so that it stays fast inside a jit on a CPU.

  On XLA CPU a ``concatenate`` of large leaves fused with the ops that
  produce them runs as one strided loop: a flat gradient of an MLP
  784-1024-1024-10 took 147 ms where its pytree took 1.2 ms (B = 16,
  measured in this repository; ``flat_hvp``'s matvec 151 ms). Writing each
  leaf in place with ``dynamic_update_slice`` cut that to 15 ms (22 ms
  for the matvec), the same bits. Elsewhere (GPU: one fused kernel) it is
  ``ravel_pytree``'s concatenate.
  """
  leaves = jax.tree.leaves(tree)
  if jax.default_backend() != "cpu" or not leaves:
    return ravel_pytree(tree)[0]
  dtype = jnp.result_type(*leaves)
  out = jnp.zeros(sum(int(np.size(leaf)) for leaf in leaves), dtype)
  offset = 0
  for leaf in leaves:
    out = jax.lax.dynamic_update_slice(
        out, jnp.ravel(leaf).astype(dtype), (offset,))
    offset += int(np.size(leaf))
  return out


def _linearized_gradient(loss_fn, unravel, flat, *args):
  grad_flat = lambda x: flat_vector(jax.grad(loss_fn)(unravel(x), *args))
  return jax.linearize(grad_flat, flat)[1]


def flat_hvp(loss_fn: Callable, params, *args):
  r"""(matvec, dim): the Hessian as a linear map on flat vectors of length dim.

  The gradient is linearised once, inside one ``jax.jit`` whose arguments
  are the flat parameters and ``args``; each matvec then costs one
  forward-mode pass through the linearised gradient,
  :math:`v \mapsto \nabla^2 L(\theta)\, v`. The matvec is a
  :class:`HessianMatvec`: a pytree whose leaves are the residual arrays, so
  the residuals are arguments of every jit it runs in (its own, and those
  of :func:`boundlab.theory.hutchinson_trace` and the Lanczos routines),
  never constants baked into the program (which at realistic sizes cost
  compiles of tens of seconds). Repeated matvecs reuse one compiled program.
  Data that ``loss_fn`` closes over (instead of taking in ``args``) is a
  constant of the linearisation's one compile.
  """
  v.check_callable("loss_fn", loss_fn)
  flat, unravel = ravel_pytree(params)
  linear = jax.jit(functools.partial(_linearized_gradient, loss_fn, unravel))(
      flat, *args)
  return HessianMatvec(linear, flat.dtype), flat.shape[0]


def dense_hessian(loss_fn: Callable, params, *args) -> jax.Array:
  """The (d, d) Hessian over the flattened parameters (small d only)."""
  v.check_callable("loss_fn", loss_fn)
  flat, unravel = ravel_pytree(params)
  return jax.hessian(lambda x: loss_fn(unravel(x), *args))(flat)


def per_example_hessians(loss_fn: Callable, params, batch) -> jax.Array:
  """(n, d, d) Hessians of ``loss_fn(params, example)`` for every example."""
  v.check_callable("loss_fn", loss_fn)
  return jax.vmap(lambda example: dense_hessian(loss_fn, params, example))(batch)


def top_eigenvalue_dense(matrix) -> jax.Array:
  """Largest eigenvalue of a symmetric matrix (dense oracle)."""
  if not v.is_traced(matrix):
    m = v.check_finite_array("matrix", matrix, ndim=2)
    if m.shape[0] != m.shape[1] or not np.allclose(m, m.T):
      raise ValueError(f"matrix must be square and symmetric, got shape "
                       f"{m.shape}")
    matrix = jnp.asarray(m)
  return jnp.linalg.eigvalsh(matrix)[-1]
