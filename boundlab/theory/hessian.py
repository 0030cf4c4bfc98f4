r"""Hessian-vector products and dense Hessians, on any pytree of parameters.

The HVP is forward-over-reverse, :math:`Hv = \partial_\epsilon \nabla L(\theta +
\epsilon v)|_{\epsilon=0}` (``jax.jvp`` of ``jax.grad``): one extra forward pass
over a gradient, no Hessian in memory. Dense Hessians (``jax.hessian``) are for
small problems and serve as the oracle in tests.
"""

from __future__ import annotations

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


def flat_hvp(loss_fn: Callable, params, *args):
  """(matvec, dim): the Hessian as a linear map on flat vectors of length dim.

  ``jax.linearize`` evaluates the gradient once; each matvec then costs one
  forward-mode pass (the map is jitted, so repeated calls do not retrace).
  """
  v.check_callable("loss_fn", loss_fn)
  flat, unravel = ravel_pytree(params)
  grad_flat = lambda x: ravel_pytree(jax.grad(loss_fn)(unravel(x), *args))[0]
  _, matvec = jax.linearize(grad_flat, flat)
  return jax.jit(matvec), flat.shape[0]


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
