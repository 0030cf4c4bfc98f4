"""exact_trace: tr H = tr GGN for piecewise-linear MLPs, against dense
Hessians."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from boundlab import theory
from boundlab.theory.exact_trace import output_factor, output_factor_transpose


def _network(seed, depth, num_classes=None, batch=None):
  """Random MLP of ``depth`` layers (random widths 1-5, C 2-4, B 1-7)."""
  rng = np.random.default_rng(seed)
  classes = num_classes or int(rng.integers(2, 5))
  batch = batch or int(rng.integers(1, 8))
  dims = [int(w) for w in rng.integers(1, 6, depth)] + [classes]
  params = [{"w": jnp.asarray(rng.standard_normal((dims[i], dims[i + 1]))
                              / np.sqrt(dims[i])),
             "b": jnp.asarray(0.5 * rng.standard_normal(dims[i + 1]))}
            for i in range(depth)]
  inputs = jnp.asarray(rng.standard_normal((batch, dims[0])))
  labels = jnp.asarray(rng.integers(0, classes, batch))
  targets = jnp.asarray(rng.standard_normal((batch, classes)))
  return params, inputs, labels, targets


def _dense_trace(params, inputs, targets, **options):
  # Jitted: an eager jax.hessian of these nets takes seconds op by op.
  return float(jax.jit(lambda p: jnp.trace(theory.dense_hessian(
      lambda q: theory.mlp_loss(q, inputs, targets, **options), p)))(params))


CASES = [(seed, depth, activation, loss)
         for seed, (depth, activation, loss) in enumerate(
             (depth, activation, loss) for depth in (1, 2, 3)
             for activation in ("relu", "leaky_relu", "identity")
             for loss in ("softmax_cross_entropy", "square"))]


@pytest.mark.parametrize("seed,depth,activation,loss", CASES)
def test_exact_trace_equals_the_dense_hessian_trace(seed, depth, activation,
                                                     loss):
  params, inputs, labels, targets = _network(seed, depth)
  targets = labels if loss == "softmax_cross_entropy" else targets
  options = dict(activation=activation, loss=loss,
                 negative_slope=float(np.random.default_rng(seed).uniform(
                     -0.5, 0.5)))
  exact = _dense_trace(params, inputs, targets, **options)
  got = float(theory.exact_trace(params, inputs, targets, **options))
  # An identity, computed two ways in float64: agreement to rounding.
  assert got == pytest.approx(exact, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("batch", [1, 7])
def test_exact_trace_at_the_batch_size_extremes(batch):
  params, inputs, labels, _ = _network(100 + batch, 3, num_classes=4,
                                       batch=batch)
  assert float(theory.exact_trace(params, inputs, labels)) == pytest.approx(
      _dense_trace(params, inputs, labels), rel=1e-10)


def test_exact_trace_is_jittable():
  params, inputs, labels, _ = _network(7, 2)
  jitted = jax.jit(lambda p, x: theory.exact_trace(p, x, labels))
  np.testing.assert_allclose(jitted(params, inputs),
                             theory.exact_trace(params, inputs, labels),
                             rtol=1e-14)


def test_the_cross_entropy_factor_squares_to_the_output_hessian():
  outputs = jnp.asarray(np.random.default_rng(0).standard_normal((5, 4)))
  factor = output_factor(outputs, "softmax_cross_entropy")  # rows: L[:, c]
  p = jax.nn.softmax(outputs, axis=1)
  for b in range(5):
    lower = factor[b].T                                       # (C, C) = L_b
    np.testing.assert_allclose(
        lower @ lower.T, jnp.diag(p[b]) - jnp.outer(p[b], p[b]), atol=1e-15)
    # The factor is the Hessian of the per-example cross-entropy in f.
    ce = lambda f, y=int(b % 4): jax.nn.logsumexp(f) - f[y]
    np.testing.assert_allclose(lower @ lower.T, jax.hessian(ce)(outputs[b]),
                               atol=1e-15)
  tangent = jnp.asarray(np.random.default_rng(1).standard_normal((5, 4)))
  np.testing.assert_allclose(
      output_factor_transpose(outputs, tangent, "softmax_cross_entropy"),
      jnp.einsum("bci,bi->bc", factor, tangent), atol=1e-15)


def _dense_ggn_trace(params, inputs, activation):
  flat, unravel = ravel_pytree(params)
  jac = jax.jit(jax.jacobian(lambda x: theory.mlp_outputs(
      unravel(x), inputs, activation=activation)))(flat)         # (B, C, P)
  p = jax.nn.softmax(theory.mlp_outputs(params, inputs,
                                        activation=activation), axis=1)
  cov = jax.vmap(lambda q: jnp.diag(q) - jnp.outer(q, q))(p)
  return float(jnp.einsum("bcp,bcd,bdp->", jac, cov, jac) / inputs.shape[0])


@pytest.mark.parametrize("activation", ["tanh", "gelu"])
def test_smooth_activations_break_the_identity_and_are_refused(activation):
  params, inputs, labels, _ = _network(3, 2, num_classes=3, batch=6)
  hessian_trace = _dense_trace(params, inputs, labels, activation=activation)
  ggn_trace = _dense_ggn_trace(params, inputs, activation)
  # The residual term sum_c (dl/df_c) tr d^2 f_c / d theta^2 is not zero:
  # the traces differ by far more than rounding (here by > 1%).
  assert abs(hessian_trace - ggn_trace) > 1e-2 * abs(ggn_trace)
  # ... while for ReLU the same computation agrees with the Hessian.
  assert _dense_ggn_trace(params, inputs, "relu") == pytest.approx(
      _dense_trace(params, inputs, labels), rel=1e-10)
  with pytest.raises(ValueError, match="activation must be one of.*"
                     "piecewise-linear"):
    theory.exact_trace(params, inputs, labels, activation=activation)


def test_mlp_loss_is_the_mean_loss_of_mlp_outputs():
  params, inputs, labels, targets = _network(5, 2)
  out = theory.mlp_outputs(params, inputs)
  ce = jnp.mean(jax.nn.logsumexp(out, axis=1)
                - out[jnp.arange(out.shape[0]), labels])
  np.testing.assert_allclose(theory.mlp_loss(params, inputs, labels), ce,
                             rtol=1e-14)
  np.testing.assert_allclose(
      theory.mlp_loss(params, inputs, targets, loss="square"),
      0.5 * jnp.mean(jnp.sum((out - targets)**2, axis=1)), rtol=1e-14)


def test_exact_trace_validates_its_arguments():
  params, inputs, labels, targets = _network(6, 2, num_classes=3, batch=4)
  with pytest.raises(ValueError, match="loss must be one of"):
    theory.exact_trace(params, inputs, labels, loss="hinge")
  with pytest.raises(ValueError, match="activation must be one of"):
    theory.exact_trace(params, inputs, labels, activation="softplus")
  with pytest.raises(ValueError, match="negative_slope"):
    theory.exact_trace(params, inputs, labels, negative_slope=float("nan"))
  with pytest.raises(ValueError, match=r"params\[0\]\['w'\] must have shape"):
    theory.exact_trace(params, jnp.ones((4, inputs.shape[1] + 1)), labels)
  bad_bias = [dict(params[0], b=jnp.ones(9)), params[1]]
  with pytest.raises(ValueError, match=r"params\[0\]\['b'\]"):
    theory.exact_trace(bad_bias, inputs, labels)
  with pytest.raises(ValueError, match="params must be a non-empty list"):
    theory.exact_trace([], inputs, labels)
  with pytest.raises(ValueError, match="targets must be labels in"):
    theory.exact_trace(params, inputs, labels + 3)
  with pytest.raises(ValueError, match="targets must be .* integer labels"):
    theory.exact_trace(params, inputs, targets)
  with pytest.raises(ValueError, match="targets must have shape"):
    theory.exact_trace(params, inputs, labels, loss="square")
  with pytest.raises(ValueError, match="inputs must have shape"):
    theory.exact_trace(params, inputs[0], labels)
