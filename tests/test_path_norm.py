"""Two-layer ReLU trace lower bound: its pieces against dense oracles."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, strategies as st

from boundlab import landscapes, theory
from boundlab.theory.path_norm import path_norm, relu_spread_constant


def test_spread_constant_in_2d_matches_a_fine_angle_grid():
  rng = np.random.default_rng(0)
  angles = rng.uniform(0, 2 * np.pi, 7)
  x = np.stack([np.cos(angles), np.sin(angles)], axis=1)
  grid = np.linspace(0, 2 * np.pi, 2_000_001)
  oracle = np.min(np.maximum(np.cos(grid[:, None] - angles[None, :]), 0)
                  .mean(axis=1))
  estimate = relu_spread_constant(x, num_directions=20_000)
  # The estimate is a minimum over fewer directions: >= the oracle, and the
  # function is 1-Lipschitz in angle, so 20k random angles land within
  # ~1e-3 rad of the minimiser.
  assert oracle - 1e-9 <= estimate <= oracle + 2e-3


@given(seed=st.integers(0, 10_000))
def test_trace_at_interpolation_dominates_2c_path_norm(seed):
  # Build an exact interpolator: labels are the student's own outputs, so the
  # Hessian at theta is the Gauss-Newton part (1/n) sum grad f grad f^T.
  landscape = landscapes.two_layer_relu_regression(8, 3, 6, seed=seed % 50)
  params = landscape.init(jax.random.key(seed))
  x = landscape.data["x"]
  outputs = jax.vmap(landscape.predict, in_axes=(None, 0))(params, x)
  loss = lambda p: jnp.mean(0.5 * (jax.vmap(
      landscape.predict, in_axes=(None, 0))(p, x) - outputs) ** 2)
  trace = float(jnp.trace(theory.dense_hessian(loss, params)))
  grads = jax.vmap(jax.grad(landscape.predict), in_axes=(None, 0))(params, x)
  gauss_newton_trace = float(sum(jnp.sum(g**2) for g in
                                 jax.tree.leaves(grads)) / x.shape[0])
  np.testing.assert_allclose(trace, gauss_newton_trace, rtol=1e-10)
  c = relu_spread_constant(np.asarray(x), num_directions=20_000)
  bound = 2 * c * path_norm(params["a"], params["b"])
  assert trace >= bound * (1 - 1e-12)
