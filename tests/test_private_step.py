"""The fast private step against vmap(grad) + clipping written independently."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings, strategies as st

from boundlab.algorithms.group_clipping import (clip_groups_per_example,
                                                clipping_groups,
                                                group_thresholds)
from boundlab.algorithms import private_step
from boundlab.algorithms.private_step import (dense_network_apply,
                                              dense_network_init,
                                              dense_network_mean_loss)

# One compilation per shape instead of op-by-op dispatch keeps the tests fast.
clipped_gradient_sum = jax.jit(private_step.clipped_gradient_sum,
                               static_argnames=("activation", "loss", "style"))
private_gradient = jax.jit(private_step.private_gradient,
                           static_argnames=("activation", "loss", "style"))


def _batch(seed, sizes, batch):
  kp, kx, ky = jax.random.split(jax.random.key(seed), 3)
  params = dense_network_init(kp, sizes, dtype=jnp.float64)
  # Non-zero biases so the bias part of the norm is exercised.
  params = [{"w": l["w"], "b": 0.3 * jnp.ones_like(l["b"])} for l in params]
  x = 3.0 * jax.random.normal(kx, (batch, sizes[0]))
  y = jax.random.randint(ky, (batch,), 0, sizes[-1])
  return params, x, y


@functools.partial(jax.jit, static_argnums=3)
def _per_example_grads(params, x, y, activation=jax.nn.relu):
  def one(params, xi, yi):
    return dense_network_mean_loss(params, xi[None, :], yi[None],
                                   activation)
  return jax.vmap(jax.grad(one), in_axes=(None, 0, 0))(params, x, y)


# One compiled program per example for ours and the reference (eagerly,
# each operation would compile separately per shape).
@functools.partial(jax.jit, static_argnums=3)
def _clipped_sum_and_reference(params, x, y, clip_norm):
  ours, norms = clipped_gradient_sum(params, x, y, clip_norm,
                                     activation=jnp.tanh)
  grads = _per_example_grads(params, x, y, jnp.tanh)
  flat = jax.vmap(lambda g: optax.tree_utils.tree_norm(g))(grads)
  factors = jnp.minimum(1.0, clip_norm / flat)
  reference = jax.tree.map(
      lambda g: jnp.einsum("b,b...->...", factors, g), grads)
  return ours, norms, reference, flat


# Each new shape recompiles (one program, ~1 s on 2 CPU cores): 10 examples.
@settings(max_examples=10)
@given(seed=st.integers(0, 10_000), batch=st.integers(1, 6),
       widths=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       clip_norm=st.floats(0.01, 10.0))
def test_all_layer_clipped_sum_equals_vmap_grad_clipping(seed, batch, widths,
                                                         clip_norm):
  sizes = [3] + widths + [3]
  params, x, y = _batch(seed, sizes, batch)
  ours, norms, reference, flat = _clipped_sum_and_reference(params, x, y,
                                                            clip_norm)
  # float64 throughout: the two paths differ only by summation order.
  np.testing.assert_allclose(norms, flat, rtol=1e-10)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-9,
                                                       atol=1e-12),
               ours, reference)


def test_layer_wise_clipped_sum_equals_group_clipping():
  sizes = [4, 6, 5, 3]
  params, x, y = _batch(1, sizes, 7)
  ours, norms = clipped_gradient_sum(params, x, y, 0.5, style="layer-wise")
  assert norms.shape == (3, 7)
  named = {f"layer{l}": p for l, p in enumerate(params)}
  grads = _per_example_grads(params, x, y)
  named_grads = {f"layer{l}": g for l, g in enumerate(grads)}
  groups = clipping_groups(named, "layer-wise")
  thresholds = group_thresholds(named, groups, 0.5, "uniform")
  clipped = clip_groups_per_example(named_grads, groups, thresholds)
  for l in range(3):
    for leaf in ("w", "b"):
      np.testing.assert_allclose(ours[l][leaf],
                                 clipped[f"layer{l}"][leaf].sum(0),
                                 rtol=1e-9, atol=1e-12)


def test_large_threshold_gives_the_plain_gradient_sum():
  params, x, y = _batch(2, [5, 8, 4], 9)
  ours, _ = clipped_gradient_sum(params, x, y, 1e9)
  plain = jax.grad(dense_network_mean_loss)(params, x, y)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a / 9, b, rtol=1e-10),
               ours, plain)


def test_noise_has_the_calibrated_standard_deviation():
  params, x, y = _batch(3, [30, 40, 10], 8)
  clean = private_gradient(params, x, y, jax.random.key(0), clip_norm=1.0,
                           noise_multiplier=0.0)
  noisy = private_gradient(params, x, y, jax.random.key(0), clip_norm=1.0,
                           noise_multiplier=2.0, denominator=4.0)
  diff = jnp.concatenate([((a * 8 / 4) - b).ravel() for a, b in
                          zip(jax.tree.leaves(clean), jax.tree.leaves(noisy))])
  # 1,650 Gaussian draws with std zC/denominator = 0.5: the sample std is
  # within 4 standard errors (0.5 / sqrt(2 * 1650) each) except w.p. < 1e-4.
  stderr = 0.5 / np.sqrt(2 * diff.size)
  assert abs(float(jnp.std(diff)) - 0.5) < 4 * stderr
  assert abs(float(jnp.mean(diff))) < 4 * 0.5 / np.sqrt(diff.size)


def test_apply_returns_layer_inputs():
  params, x, _ = _batch(4, [3, 4, 2], 5)
  logits, inputs = dense_network_apply(params, x)
  assert logits.shape == (5, 2) and [a.shape for a in inputs] == [(5, 3),
                                                                  (5, 4)]


def test_bad_input():
  params, x, y = _batch(5, [3, 2], 2)
  with pytest.raises(ValueError, match="style"):
    private_step.clipped_gradient_sum(params, x, y, 1.0, style="rowwise")
  with pytest.raises(ValueError, match="clip_norm"):
    private_step.clipped_gradient_sum(params, x, y, -1.0)
  with pytest.raises(ValueError, match="noise_multiplier"):
    private_step.private_gradient(params, x, y, jax.random.key(0), clip_norm=1.0,
                     noise_multiplier=-1.0)
  with pytest.raises(ValueError, match="sizes"):
    dense_network_init(jax.random.key(0), [3])
