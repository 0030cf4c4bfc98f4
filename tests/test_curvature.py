"""Curvature estimators against dense computations and scipy (small d)."""

import gc
import re
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse.linalg
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from boundlab import theory


def _mlp_problem(seed, width=4, dim_in=3, n=10):
  """A tiny tanh MLP with square loss: non-convex, indefinite Hessians."""
  rng = np.random.default_rng(seed)
  params = {"w1": jnp.asarray(rng.standard_normal((dim_in, width))),
            "b1": jnp.asarray(rng.standard_normal(width)),
            "w2": jnp.asarray(rng.standard_normal(width))}
  x = jnp.asarray(rng.standard_normal((n, dim_in)))
  y = jnp.asarray(rng.standard_normal(n))

  def example_loss(p, example):
    xi, yi = example
    return 0.5 * (jnp.tanh(xi @ p["w1"] + p["b1"]) @ p["w2"] - yi) ** 2

  def loss(p, data):
    return jnp.mean(jax.vmap(example_loss, in_axes=(None, 0))(p, data))

  return loss, example_loss, params, (x, y)


@settings(max_examples=10)  # each example compiles a new problem
@given(seed=st.integers(0, 2**31 - 1))
def test_hvp_matches_dense_hessian_on_pytrees(seed):
  loss, _, params, data = _mlp_problem(seed)
  hessian = np.asarray(theory.dense_hessian(loss, params, data))
  vector = jax.tree.map(lambda a: jnp.ones_like(a) * 0.3, params)
  flat_v = jax.flatten_util.ravel_pytree(vector)[0]
  got = jax.flatten_util.ravel_pytree(theory.hvp(loss, params, vector, data))[0]
  # Same derivatives by two AD paths: agreement to float64 rounding.
  np.testing.assert_allclose(got, hessian @ flat_v, rtol=1e-10, atol=1e-12)
  matvec, dim = theory.flat_hvp(loss, params, data)
  np.testing.assert_allclose(matvec(flat_v), hessian @ flat_v, rtol=1e-10,
                             atol=1e-12)
  assert dim == hessian.shape[0]


def test_per_example_hessians_average_to_the_hessian():
  loss, example_loss, params, data = _mlp_problem(0)
  per_example = theory.per_example_hessians(example_loss, params, data)
  np.testing.assert_allclose(per_example.mean(0),
                             theory.dense_hessian(loss, params, data),
                             rtol=1e-10, atol=1e-12)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 3))
def test_lanczos_top_eigenvalues_match_scipy_eigsh(seed, k):
  loss, _, params, data = _mlp_problem(seed, width=6)
  matvec, dim = theory.flat_hvp(loss, params, data)
  ours = np.asarray(theory.top_eigenvalues(matvec, dim, k=k, num_iters=dim))
  hessian = np.asarray(theory.dense_hessian(loss, params, data))
  reference = scipy.sparse.linalg.eigsh(hessian, k=k, which="LA")[0][::-1]
  # Full Krylov space (num_iters = dim) with reorthogonalisation: exact up to
  # rounding, relative to the spectral radius.
  scale = np.abs(np.linalg.eigvalsh(hessian)).max()
  np.testing.assert_allclose(ours, reference, atol=1e-9 * scale)


def test_lanczos_converges_fast_on_a_separated_top_eigenvalue():
  rng = np.random.default_rng(1)
  q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
  eig = np.concatenate([[50.0, 20.0], rng.uniform(0, 1, 198)])
  matrix = jnp.asarray(q * eig @ q.T)
  top = theory.top_eigenvalues(lambda x: matrix @ x, 200, k=2, num_iters=20)
  # Gap ratio 50/20: 20 steps resolve both to ~1e-10 relative.
  np.testing.assert_allclose(top, [50.0, 20.0], rtol=1e-8)


def test_lanczos_breakdown_on_low_rank_operator():
  u = jnp.asarray(np.random.default_rng(2).standard_normal((30, 2)))
  matrix = u @ u.T                                   # rank 2
  top = theory.top_eigenvalues(lambda x: matrix @ x, 30, k=2, num_iters=10)
  np.testing.assert_allclose(top, np.linalg.eigvalsh(matrix)[::-1][:2],
                             rtol=1e-9)


def test_slq_moments_match_the_dense_spectrum():
  loss, _, params, data = _mlp_problem(3, width=8)
  matvec, dim = theory.flat_hvp(loss, params, data)
  nodes, weights = theory.spectral_density(matvec, dim, num_iters=dim,
                                           num_probes=64)
  eig = np.linalg.eigvalsh(np.asarray(theory.dense_hessian(loss, params,
                                                           data)))
  np.testing.assert_allclose(np.asarray(weights).sum(1), 1.0, rtol=1e-10)
  for power in (1, 2, 3):
    estimate = np.mean(np.sum(np.asarray(weights) * np.asarray(nodes)**power,
                              axis=1))
    exact = np.mean(eig**power)
    # Each probe's quadrature is exact for z^T H^p z / d; the Hutchinson part
    # has relative sd ~ sqrt(2/d) per probe, / sqrt(64) probes: 6 sd ~ 0.3.
    assert estimate == pytest.approx(exact, rel=0.3, abs=0.3 * np.mean(
        np.abs(eig)**power))


def test_hutchinson_trace_interval_covers_the_trace():
  loss, _, params, data = _mlp_problem(4, width=8)
  matvec, dim = theory.flat_hvp(loss, params, data)
  hessian = np.asarray(theory.dense_hessian(loss, params, data))
  covered = 0
  for i in range(40):
    estimate = theory.hutchinson_trace(matvec, dim, 100, jax.random.key(i),
                                       alpha=0.1)
    covered += estimate.ci[0] <= np.trace(hessian) <= estimate.ci[1]
  # 90% intervals: misses ~ Binomial(40, 0.1) (t with 100 probes is near
  # exact); more than 12 misses happens w.p. < 1e-3.
  assert covered >= 28


def test_hutchinson_diagonal_is_unbiased():
  loss, _, params, data = _mlp_problem(5, width=4)
  matvec, dim = theory.flat_hvp(loss, params, data)
  hessian = np.asarray(theory.dense_hessian(loss, params, data))
  n = 20_000
  estimate = theory.hutchinson_diagonal(matvec, dim, n, jax.random.key(0),
                                        batch_size=4096)
  diag = np.asarray(estimate.mean)
  # Per coordinate, z_i (Hz)_i = H_ii + sum_{j != i} z_i z_j H_ij has variance
  # sum_{j != i} H_ij^2; 6 sd of the mean of n probes bounds the error.
  sd = np.sqrt((hessian**2).sum(1) - np.diag(hessian)**2)
  assert np.all(np.abs(diag - np.diag(hessian)) <= 6 * sd / np.sqrt(n) + 1e-12)
  # The standard error is the sample sd of the probes over sqrt(n): within
  # 5% of the exact sd (relative sd of a sample sd of 20,000 ~ 1%).
  np.testing.assert_allclose(np.asarray(estimate.standard_error) * np.sqrt(n),
                             sd, rtol=0.05, atol=1e-12)
  unbatched = theory.hutchinson_diagonal(matvec, dim, n, jax.random.key(0))
  np.testing.assert_allclose(unbatched.mean, estimate.mean, rtol=1e-12)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1))
def test_directional_sharpness_and_best_loss_change(seed):
  loss, _, params, data = _mlp_problem(seed)
  hessian = np.asarray(theory.dense_hessian(loss, params, data))
  grad = jax.flatten_util.ravel_pytree(jax.grad(loss)(params, data))[0]
  direction = jax.tree.map(lambda a: jnp.sin(jnp.arange(a.size).reshape(
      a.shape) + 1.0), params)
  flat_v = np.asarray(jax.flatten_util.ravel_pytree(direction)[0])
  curvature = flat_v @ hessian @ flat_v
  np.testing.assert_allclose(
      theory.directional_sharpness(loss, params, direction, data),
      curvature / (flat_v @ flat_v), rtol=1e-10)
  expected = (-(grad @ flat_v)**2 / (2 * curvature) if curvature > 0
              else -np.inf)
  np.testing.assert_allclose(
      theory.best_local_loss_change(loss, params, direction, data), expected,
      rtol=1e-10)


def test_lanczos_rejects_bad_sizes():
  with pytest.raises(ValueError, match="num_iters must be in"):
    theory.lanczos_tridiagonal(lambda x: x, jnp.ones(3), 4)
  with pytest.raises(ValueError, match="k must be in"):
    theory.top_eigenvalues(lambda x: x, 5, k=6, num_iters=5)


# -- GGN trace, probe precision, data as arguments, Lanczos residuals ---------

def _relu_classifier(seed, batch=8, classes=3):
  """A random 2-layer ReLU MLP with cross-entropy (float64)."""
  rng = np.random.default_rng(seed)
  dims = [int(rng.integers(2, 6)), int(rng.integers(3, 7)), classes]
  params = [{"w": jnp.asarray(rng.standard_normal((a, b)) / np.sqrt(a)),
             "b": jnp.asarray(0.3 * rng.standard_normal(b))}
            for a, b in zip(dims[:-1], dims[1:])]
  x = jnp.asarray(rng.standard_normal((batch, dims[0])))
  y = jnp.asarray(rng.integers(0, classes, batch))
  return params, x, y


def _flat_hessian_matvec(params):
  """matvec(v, flat_params, x, y): the HVP of the MLP loss, data as args."""
  _, unravel = jax.flatten_util.ravel_pytree(params)

  def matvec(v, flat, x, y):
    grad = lambda q: jax.flatten_util.ravel_pytree(jax.grad(
        lambda p: theory.mlp_loss(p, x, y))(unravel(q)))[0]
    return jax.jvp(grad, (flat,), (v,))[1]

  return matvec


def _predict(p, x):
  return theory.mlp_outputs(p, x)


def test_ggn_hutchinson_interval_covers_the_exact_trace():
  params, x, y = _relu_classifier(0)
  exact = float(jax.jit(lambda q: jnp.trace(theory.dense_hessian(
      lambda p: theory.mlp_loss(p, x, y), q)))(params))
  assert float(theory.exact_trace(params, x, y)) == pytest.approx(exact,
                                                                  rel=1e-10)
  estimate = theory.ggn_hutchinson_trace(_predict, params, x, y,
                                         num_probes=400,
                                         key=jax.random.key(0), alpha=0.01)
  # A 99% Student-t interval: nominal miss rate 1% at this fixed seed (t
  # with 400 probes is near exact for these light-tailed samples).
  assert estimate.ci[0] <= exact <= estimate.ci[1]
  assert estimate.num_probes == 400 and estimate.precision == "float32"
  assert np.all(estimate.samples >= 0)     # squared norms


def test_bfloat16_estimates_lie_in_the_float32_intervals():
  for seed in range(5):
    params, x, y = _relu_classifier(10 + seed)
    key = jax.random.key(seed)
    ggn = {dtype: theory.ggn_hutchinson_trace(
        _predict, params, x, y, num_probes=100, key=key, probe_dtype=dtype)
           for dtype in ("float32", "bfloat16")}
    flat, _ = jax.flatten_util.ravel_pytree(params)
    hutch = {dtype: theory.hutchinson_trace(
        _flat_hessian_matvec(params), flat.size, 100, key,
        args=(flat, x, y), probe_dtype=dtype)
             for dtype in ("float32", "bfloat16")}
    for pair in (ggn, hutch):
      full, low = pair["float32"], pair["bfloat16"]
      assert full.ci[0] <= low.mean <= full.ci[1]
      assert low.precision == "bfloat16" and full.precision == "float32"
      # Really evaluated in bfloat16 (same probes, so only rounding differs):
      # the means differ, by a few bfloat16 roundings (eps 2^-8).
      assert low.mean != full.mean
      assert abs(low.mean - full.mean) <= 0.1 * abs(full.mean)


def test_bfloat16_casts_the_probes_and_the_floating_args():
  seen = []
  matrix = jnp.asarray(np.diag(np.arange(1.0, 5.0)))

  def matvec(v, m, labels):
    seen.append((v.dtype, m.dtype, labels.dtype))
    return m @ v

  estimate = theory.hutchinson_trace(matvec, 4, 8, jax.random.key(0),
                                     args=(matrix, jnp.arange(3)),
                                     probe_dtype="bfloat16")
  assert seen == [(jnp.bfloat16, jnp.bfloat16, jnp.arange(3).dtype)]
  # A diagonal H: z^T H z = tr H for every Rademacher probe, exactly (small
  # integers are exact in bfloat16; the sum is in float32).
  np.testing.assert_array_equal(estimate.samples, 10.0)
  assert estimate.samples.dtype == np.float32


def test_tf32_is_declared_and_equals_float32_on_cpu():
  params, x, y = _relu_classifier(3)
  key = jax.random.key(1)
  full = theory.ggn_hutchinson_trace(_predict, params, x, y, key=key)
  tf32 = theory.ggn_hutchinson_trace(_predict, params, x, y, key=key,
                                     probe_dtype="tf32")
  assert tf32.precision == "tf32" and tf32.backend == jax.default_backend()
  if jax.default_backend() == "cpu":     # no TF32 on a CPU: same arithmetic
    np.testing.assert_array_equal(tf32.samples, full.samples)
  top = theory.lanczos_top_eigenvalue(lambda v: 2.0 * v, 5, num_iters=2,
                                      key=key, probe_dtype="tf32")
  assert top.precision == "tf32" and top.backend == jax.default_backend()


def test_probe_dtype_is_validated():
  params, x, y = _relu_classifier(4)
  for call in (
      lambda: theory.hutchinson_trace(lambda v: v, 3, 4, probe_dtype="fp8"),
      lambda: theory.ggn_hutchinson_trace(_predict, params, x, y,
                                          key=jax.random.key(0),
                                          probe_dtype="float16"),
      lambda: theory.lanczos_top_eigenvalue(lambda v: v, 3, num_iters=2,
                                            key=jax.random.key(0),
                                            probe_dtype=None)):
    with pytest.raises(ValueError, match="probe_dtype must be one of"):
      call()
  # flat_hvp's residuals were computed at float64: a bfloat16 evaluation
  # of it would be float64 arithmetic mislabelled, so it is refused.
  matvec, dim = theory.flat_hvp(lambda p: theory.mlp_loss(p, x, y), params)
  with pytest.raises(ValueError, match="probe_dtype 'bfloat16' needs"):
    theory.hutchinson_trace(matvec, dim, 4, probe_dtype="bfloat16")


def test_flat_hvp_passes_its_residuals_as_arguments_and_does_not_retrace():
  loss, _, params, (x, y) = _mlp_problem(6, width=5, n=300)
  matvec, dim = theory.flat_hvp(loss, params, (x, y))
  hessian = np.asarray(theory.dense_hessian(loss, params, (x, y)))
  hessian_module = __import__("boundlab.theory.hessian", fromlist=["x"])
  before = hessian_module._apply_linear._cache_size()
  for i in range(3):
    vector = jnp.asarray(np.random.default_rng(i).standard_normal(dim))
    np.testing.assert_allclose(matvec(vector), hessian @ vector, rtol=1e-10,
                               atol=1e-12)
  assert hessian_module._apply_linear._cache_size() - before <= 1
  # The data (300 x 3 inputs) reach the program as arguments: the lowered
  # matvec has no array constants (only scalars).
  text = hessian_module._apply_linear.lower(matvec.linear, vector).as_text()
  shapes = re.findall(r"stablehlo.constant dense<[^>]*> : tensor<([^>]*)>",
                      text)
  assert all("x" not in shape for shape in shapes), shapes
  assert any(leaf.shape == x.shape for leaf in jax.tree.leaves(matvec))


def test_the_args_path_equals_the_closure_path():
  rng = np.random.default_rng(5)
  a = rng.standard_normal((12, 12))
  matrix = jnp.asarray(a + a.T)
  closure = lambda v: matrix @ v
  with_args = lambda v, m: m @ v
  key = jax.random.key(2)
  one = theory.hutchinson_trace(closure, 12, 50, key)
  two = theory.hutchinson_trace(with_args, 12, 50, key, args=(matrix,))
  np.testing.assert_allclose(one.samples, two.samples, rtol=1e-13)
  np.testing.assert_allclose(
      theory.hutchinson_diagonal(closure, 12, 50, key).mean,
      theory.hutchinson_diagonal(with_args, 12, 50, key, args=(matrix,)).mean,
      rtol=1e-13)
  np.testing.assert_allclose(
      theory.top_eigenvalues(closure, 12, k=2, num_iters=8, key=key),
      theory.top_eigenvalues(with_args, 12, k=2, num_iters=8, key=key,
                             args=(matrix,)), rtol=1e-12)
  for got, want in zip(
      theory.spectral_density(with_args, 12, num_iters=6, num_probes=3,
                              key=key, args=(matrix,)),
      theory.spectral_density(closure, 12, num_iters=6, num_probes=3,
                              key=key)):
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
  tri_args = theory.lanczos_tridiagonal(with_args, jnp.ones(12), 5,
                                        args=(matrix,))[0]
  np.testing.assert_allclose(
      tri_args, theory.lanczos_tridiagonal(closure, jnp.ones(12), 5)[0],
      rtol=1e-12, atol=1e-12)
  first = theory.lanczos_top_eigenvalue(closure, 12, num_iters=6, key=key)
  second = theory.lanczos_top_eigenvalue(with_args, 12, num_iters=6, key=key,
                                         args=(matrix,))
  assert first.interval == pytest.approx(second.interval, rel=1e-12)


def test_lanczos_top_eigenvalue_brackets_a_converged_lambda_max():
  rng = np.random.default_rng(7)
  q, _ = np.linalg.qr(rng.standard_normal((60, 60)))
  eig = np.concatenate([[10.0, 6.0], rng.uniform(-3.0, 3.0, 58)])
  matrix = jnp.asarray(q * eig @ q.T)
  top = theory.lanczos_top_eigenvalue(lambda v, m: m @ v, 60, num_iters=30,
                                      key=jax.random.key(0), args=(matrix,))
  lam = np.linalg.eigvalsh(np.asarray(matrix))[-1]
  lo, hi = top.interval
  assert lo == top.value and top.num_iters == 30
  # Gap ratio 10 / 6 and 30 steps: converged (residual at rounding level),
  # so the interval brackets lambda_max up to that rounding.
  assert hi - lo < 1e-9
  assert lo <= lam + 1e-12 * abs(lam) and lam <= hi + 1e-12 * abs(lam)
  assert "lower bound on lambda_max" in top.kind


def test_lanczos_top_eigenvalue_guarantees_hold_before_convergence():
  rng = np.random.default_rng(8)
  a = rng.standard_normal((40, 40))
  matrix = jnp.asarray(a + a.T)
  eig = np.linalg.eigvalsh(np.asarray(matrix))
  missed = 0
  for num_iters in (2, 4, 7, 9):
    top = theory.lanczos_top_eigenvalue(lambda v, m: m @ v, 40,
                                        num_iters=num_iters,
                                        key=jax.random.key(num_iters),
                                        args=(matrix,))
    residual = top.interval[1] - top.value
    # What always holds: value <= lambda_max (Rayleigh quotient), and some
    # eigenvalue within the residual norm of value.
    assert top.value <= eig[-1] + 1e-12 * np.abs(eig).max()
    assert np.min(np.abs(eig - top.value)) <= residual * (1 + 1e-9)
    missed += eig[-1] > top.interval[1]
  # What does not: with few steps lambda_max can lie above the interval
  # (the eigenvalue near value is another one); kind says so.
  assert missed >= 1


def test_lanczos_top_eigenvalue_after_a_breakdown():
  u = jnp.asarray(np.random.default_rng(9).standard_normal((30, 2)))
  matrix = -(u @ u.T) - 1.0 * jnp.eye(30)    # negative definite, 2 + 1 distinct
  top = theory.lanczos_top_eigenvalue(lambda v: matrix @ v, 30, num_iters=10,
                                      key=jax.random.key(0))
  # The Krylov space is 3-dimensional: the padding after the breakdown
  # (zeros) must not pass for a Ritz value above the top eigenvalue -1.
  assert top.value == pytest.approx(-1.0, rel=1e-10)
  assert top.interval[1] - top.value < 1e-9


def test_a_plain_matvec_compiles_once_across_calls():
  # hutchinson_trace jits its work; with a plain function the compiled
  # program is cached on that function (before: a fresh jit per call, which
  # on an H200 cost 0.4-0.85 s of recompiling against ~13 ms of work).
  traces = []
  matrix = jnp.diag(jnp.arange(1.0, 7.0))

  def matvec(u, m):
    traces.append(1)                    # runs only while tracing
    return m @ u

  for seed in range(3):
    est = theory.hutchinson_trace(matvec, 6, 8, jax.random.key(seed),
                                  args=(matrix,))
    assert est.mean == pytest.approx(21.0)   # diagonal: every probe exact
  assert len(traces) == 1
  # The cache does not keep the function alive.
  ref = weakref.ref(matvec)
  del matvec
  gc.collect()
  assert ref() is None


def test_sharpness_takes_data_as_arguments():
  matrix = jnp.diag(jnp.array([3.0, 1.0, 0.5]))
  closed = lambda p: 0.5 * p @ matrix @ p
  open_ = lambda p, m: 0.5 * p @ m @ p
  p = jnp.ones(3)
  assert float(theory.sharpness(closed, p)) == pytest.approx(3.0)
  assert float(theory.sharpness(open_, p, args=(matrix,))) == pytest.approx(
      3.0)
  with pytest.raises(ValueError, match="args"):
    theory.sharpness(open_, p, args=matrix)


@pytest.mark.parametrize("dtypes", [("float64", "float64", "float64"),
                                    ("float32", "float64", "float32")])
def test_flat_vector_is_ravel_pytree_bit_for_bit(dtypes):
  # The in-place build (fast on XLA CPU) must keep ravel_pytree's order,
  # C order within a leaf and its dtype promotion, inside a jit and out.
  from boundlab.theory.hessian import flat_vector
  rng = np.random.default_rng(3)
  tree = {"a": jnp.asarray(rng.standard_normal((3, 5)), dtypes[0]),
          "b": [jnp.asarray(rng.standard_normal(4), dtypes[1]),
                jnp.asarray(rng.standard_normal((2, 1, 3)), dtypes[2])],
          "c": jnp.asarray(1.5, dtypes[0])}
  expected = jax.flatten_util.ravel_pytree(tree)[0]
  for got in (flat_vector(tree), jax.jit(flat_vector)(tree)):
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
