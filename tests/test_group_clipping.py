"""Group-wise clipping and ghost norms against direct computations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from boundlab.algorithms import clip
from boundlab.algorithms.ghost_norm import (bias_norms_squared,
                                            dense_norms_squared,
                                            ghost_weight_norms_squared,
                                            materialized_weight_norms_squared,
                                            prefer_ghost_norm)
from boundlab.algorithms.group_clipping import (clip_groups, clipping_groups,
                                                group_thresholds, sensitivity)


def _params(key):
  k1, k2, k3 = jax.random.split(key, 3)
  return {"dense1": {"w": jax.random.normal(k1, (4, 3)), "b": jnp.ones(4)},
          "dense2": {"w": jax.random.normal(k2, (2, 4)),
                     "b": jax.random.normal(k3, (2,))}}


# Every new shape recompiles (one program per shape): 25 shapes.
@settings(max_examples=25)
@given(b=st.integers(1, 4), t=st.integers(1, 5), d=st.integers(1, 6),
       p=st.integers(1, 6), seed=st.integers(0, 1000))
def test_ghost_norm_equals_the_per_example_gradient_norm(b, t, d, p, seed):
  key_a, key_w, key_y = jax.random.split(jax.random.key(seed), 3)
  inputs = jax.random.normal(key_a, (b, t, d))
  weight = jax.random.normal(key_w, (p, d))
  targets = jax.random.normal(key_y, (b, t, p))
  bias = jnp.zeros(p)

  direct_w, direct_b, ghost, materialized, dense, bias_norms = (
      _ghost_norm_cases(inputs, weight, bias, targets))
  np.testing.assert_allclose(ghost, direct_w, rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(materialized, direct_w, rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(dense, direct_w, rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(bias_norms, direct_b, rtol=1e-10, atol=1e-12)


# One compiled program per shape for the reference and all four norms
# (run eagerly, each of their operations compiled separately per shape).
@jax.jit
def _ghost_norm_cases(inputs, weight, bias, targets):
  def loss(params, x, y):        # one example: a sequence of T positions
    out = x @ params["w"].T + params["b"][None, :]
    return 0.5 * jnp.sum((out - y) ** 2)

  grads = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))(
      {"w": weight, "b": bias}, inputs, targets)
  output_grads = inputs @ weight.T + bias[None, None, :] - targets
  return (jnp.sum(grads["w"] ** 2, axis=(1, 2)),
          jnp.sum(grads["b"] ** 2, axis=1),
          ghost_weight_norms_squared(inputs, output_grads),
          materialized_weight_norms_squared(inputs, output_grads),
          dense_norms_squared(inputs, output_grads),
          bias_norms_squared(output_grads))


def test_ghost_norm_without_sequence_axis_is_goodfellow():
  a = jax.random.normal(jax.random.key(0), (5, 7))
  g = jax.random.normal(jax.random.key(1), (5, 3))
  np.testing.assert_allclose(ghost_weight_norms_squared(a, g),
                             jnp.sum(a**2, 1) * jnp.sum(g**2, 1), rtol=1e-12)
  assert prefer_ghost_norm(16, 64, 64) and not prefer_ghost_norm(512, 16, 16)


@pytest.mark.parametrize("style,count", [("all-layer", 1), ("layer-wise", 2),
                                         ("param-wise", 4)])
@pytest.mark.parametrize("split", ["uniform", "dim"])
def test_group_clipped_norm_is_bounded_and_attained(style, count, split):
  params = _params(jax.random.key(0))
  groups = clipping_groups(params, style)
  thresholds = group_thresholds(params, groups, 2.0, split)
  assert len(groups) == count
  assert sensitivity(thresholds) == pytest.approx(2.0, rel=1e-12)
  norm = lambda tree: float(jnp.sqrt(sum(jnp.sum(x**2)
                                         for x in jax.tree.leaves(tree))))
  for seed in range(20):
    g = jax.tree.map(lambda x: 10.0 * x, _params(jax.random.key(seed + 1)))
    assert norm(clip_groups(g, groups, thresholds)) <= 2.0 * (1 + 1e-12)
  # Adversarial: every group far outside its ball -> the bound is attained.
  big = jax.tree.map(lambda x: 1e6 * jnp.ones_like(x), params)
  assert norm(clip_groups(big, groups, thresholds)) == pytest.approx(
      2.0, rel=1e-12)


def test_all_layer_style_is_flat_clipping():
  params = _params(jax.random.key(0))
  g = jax.tree.map(lambda x: 3.0 * x, params)
  groups = clipping_groups(params, "all-layer")
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12),
               clip_groups(g, groups, [1.5]), clip(g, 1.5))


def test_bad_group_inputs():
  params = _params(jax.random.key(0))
  with pytest.raises(ValueError, match="style"):
    clipping_groups(params, "per-neuron")
  with pytest.raises(ValueError, match="partition"):
    clipping_groups(params, [["dense1"]])
  with pytest.raises(ValueError, match="split"):
    group_thresholds(params, clipping_groups(params, "layer-wise"), 1.0, "log")
  with pytest.raises(ValueError, match="thresholds"):
    clip_groups(params, clipping_groups(params, "layer-wise"), [1.0])
