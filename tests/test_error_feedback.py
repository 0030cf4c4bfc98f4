"""Compressors, distributed finite sums, EF21 / EF21-W and their PEP
certificates, each against an independent oracle: subsets enumerated
exactly, dense Hessians, the update written out step by step in numpy, and
PEPit's own closed forms."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from boundlab.algorithms import compressors
from boundlab.algorithms.error_feedback import run_ef21
from boundlab.experiments import error_feedback as family
from boundlab.landscapes.distributed import (distributed_logistic_regression,
                                             heterogeneous_quadratics)
from boundlab.theory import error_feedback as ef

jax.config.update("jax_enable_x64", True)


# --- compressors -----------------------------------------------------------

def test_top_k_keeps_the_largest_entries_and_contracts_by_k_over_d():
  v = jnp.array([0.5, -3.0, 1.0, 2.0, -0.1])
  c = compressors.top_k(2, 5)
  np.testing.assert_array_equal(c(None, v), [0, -3.0, 0, 2.0, 0])
  assert c.contraction == 0.4 and c.positively_homogeneous
  rng = np.random.default_rng(0)
  for _ in range(50):
    v = jnp.asarray(rng.standard_normal(5) * rng.exponential(size=5))
    err = float(jnp.sum((c(None, v) - v) ** 2))
    assert err <= (1 - c.contraction) * float(jnp.sum(v**2)) + 1e-15
    np.testing.assert_allclose(c(None, 3.7 * v), 3.7 * c(None, v))


@pytest.mark.parametrize("unbiased", [False, True])
def test_rand_k_moments_by_exact_enumeration_of_the_subsets(unbiased):
  # E over the C(d, k) equally likely subsets, computed exactly: the
  # declared contraction / variance must equal the enumerated moment.
  d, k = 5, 2
  v = np.array([1.0, -2.0, 0.5, 3.0, -1.5])
  scale = d / k if unbiased else 1.0
  outs = []
  for subset in itertools.combinations(range(d), k):
    out = np.zeros(d)
    out[list(subset)] = scale * v[list(subset)]
    outs.append(out)
  outs = np.array(outs)
  error = np.mean(np.sum((outs - v) ** 2, 1)) / np.sum(v**2)
  c = compressors.rand_k(k, d, unbiased=unbiased)
  if unbiased:
    np.testing.assert_allclose(outs.mean(0), v)
    assert math.isclose(error, c.variance)
    assert c.contraction is None            # omega = 1.5 >= 1
  else:
    assert math.isclose(error, 1 - c.contraction)
  # The sampler draws every subset (k distinct coordinates).
  draws = jax.vmap(c.compress, in_axes=(0, None))(
      jax.random.split(jax.random.key(0), 200), jnp.asarray(v))
  assert np.all(np.sum(np.asarray(draws) != 0, 1) == k)
  kept = np.asarray(draws)[np.asarray(draws) != 0]
  assert set(np.round(kept / scale, 12)) <= set(np.round(v, 12))
  # Uniform subsets: each coordinate is kept with probability k/d. 4000
  # draws: a binomial's standard deviation is 0.0077; 5 of them is 0.039.
  many = jax.vmap(c.compress, in_axes=(0, None))(
      jax.random.split(jax.random.key(1), 4000), jnp.asarray(v))
  frequency = np.mean(np.asarray(many) != 0, axis=0)
  np.testing.assert_allclose(frequency, k / d, atol=0.039)


def test_scaled_sign_keeps_the_norm_but_is_not_contractive_for_sparse_vectors():
  rng = np.random.default_rng(1)
  for d in (4, 9, 16):
    c = compressors.scaled_sign(d)
    assert c.contraction is None
    u = jnp.asarray(rng.standard_normal(d))
    np.testing.assert_allclose(jnp.linalg.norm(c(None, u)),
                               jnp.linalg.norm(u))
    expected = 2 * (1 - jnp.sum(jnp.abs(u)) / (math.sqrt(d)
                                               * jnp.linalg.norm(u)))
    np.testing.assert_allclose(jnp.sum((c(None, u) - u) ** 2)
                               / jnp.sum(u**2), expected)
    e1 = jnp.zeros(d).at[0].set(1.0)
    error = float(jnp.sum((c(None, e1) - e1) ** 2))
    # 2 (1 - 1/sqrt d): equal to ||e1||^2 at d = 4, larger beyond: no
    # alpha > 0 satisfies ||C(v) - v||^2 <= (1 - alpha) ||v||^2.
    assert math.isclose(error, 2 * (1 - 1 / math.sqrt(d)))
    assert error >= 1.0 - 1e-15
    assert (error > 1.0) == (d > 4)


def test_compressor_factories_validate_before_their_cache():
  assert compressors.top_k(1, 3) is compressors.top_k(1, 3)
  with pytest.raises(ValueError, match="k must be an integer"):
    compressors.top_k(True, 3)      # equal to 1 as a cache key
  assert compressors.rand_k(2, 5) is compressors.rand_k(2, 5,
                                                        unbiased=False)
  assert not compressors.Compressor("mine", 3, lambda k, v: v,
                                    0.5).positively_homogeneous


def test_compressors_reject_bad_arguments():
  with pytest.raises(ValueError, match="k must be in"):
    compressors.top_k(6, 5)
  with pytest.raises(ValueError, match="dim"):
    compressors.top_k(1, 0)
  with pytest.raises(ValueError, match="k must be"):
    compressors.rand_k(0, 5)


# --- distributed finite sums -------------------------------------------------

def _dense_hessian_max(problem, x, client):
  data = jax.tree.map(lambda a: a[client], problem.data)
  h = _hessian(problem.client_loss)(jnp.asarray(x), data)
  return float(np.abs(np.linalg.eigvalsh(np.asarray(h))).max())


_HESSIANS = {}


def _hessian(fn):
  if fn not in _HESSIANS:
    _HESSIANS[fn] = jax.jit(jax.hessian(fn))
  return _HESSIANS[fn]


@pytest.mark.parametrize("hessian", ["dense", "diagonal"])
def test_quadratic_constants_equal_the_dense_hessians(hessian):
  smooth = [1.0, 1.0, 1.0, 100.0]         # Example 2.1 of Reloaded
  p = heterogeneous_quadratics(smooth, 6, hessian=hessian, seed=3)
  c = p.constants
  x = np.random.default_rng(0).standard_normal(6)
  for i, l_i in enumerate(smooth):
    assert math.isclose(_dense_hessian_max(p, x, i), l_i, rel_tol=1e-12)
  full = np.asarray(jax.hessian(p.objective)(jnp.asarray(x)))
  assert math.isclose(np.linalg.eigvalsh(full).max(), c["smoothness"],
                      rel_tol=1e-12)
  assert math.isclose(c["smoothness_am"], 25.75)
  assert math.isclose(c["smoothness_qm"], math.sqrt((3 + 1e4) / 4))
  assert c["smoothness"] <= c["smoothness_am"] <= c["smoothness_qm"]
  np.testing.assert_allclose(p.gradient(jnp.asarray(c["optimum"])), 0,
                             atol=1e-12)
  assert math.isclose(float(p.objective(jnp.asarray(c["optimum"]))),
                      c["optimal_value"], rel_tol=1e-12)


@pytest.mark.parametrize("nonconvex", [False, True])
def test_logistic_smoothness_bounds_the_dense_hessians(nonconvex):
  p = distributed_logistic_regression(3, 20, 5, feature_scales=[1, 2, 4],
                                      nonconvex=nonconvex, seed=2)
  c = p.constants
  rng = np.random.default_rng(1)
  for _ in range(5):
    x = 2 * rng.standard_normal(5)
    for i in range(3):
      assert _dense_hessian_max(p, x, i) <= c["client_smoothness"][i] + 1e-12
    full = np.asarray(jax.hessian(p.objective)(jnp.asarray(x)))
    assert np.abs(np.linalg.eigvalsh(full)).max() <= c["smoothness"] + 1e-12
  # The bounds are attained at x = 0 (every sigmoid' = 1/4, and the
  # nonconvex regulariser's curvature is 2 lambda there).
  for i in range(3):
    assert math.isclose(_dense_hessian_max(p, np.zeros(5), i),
                        c["client_smoothness"][i], rel_tol=1e-12)
  # Rougher clients have larger constants (L_i grows with the scale^2).
  assert np.all(np.diff(c["client_smoothness"]) > 0)
  if nonconvex:
    assert "optimal_value" not in c and c["optimal_value_lower_bound"] == 0
  else:
    np.testing.assert_allclose(p.gradient(jnp.asarray(c["optimum"])), 0,
                               atol=1e-10)


def test_distributed_problems_reject_bad_arguments():
  with pytest.raises(ValueError, match="client_smoothness"):
    heterogeneous_quadratics([1.0, -1.0])
  with pytest.raises(ValueError, match="hessian"):
    heterogeneous_quadratics([1.0], hessian="sparse")
  with pytest.raises(ValueError, match="feature_scales"):
    distributed_logistic_regression(3, feature_scales=[1.0, 2.0])
  with pytest.raises(ValueError, match="curvature_floor"):
    heterogeneous_quadratics([1.0], curvature_floor=2.0)


# --- EF21 / EF21-W against the update written out -----------------------------

def _written_out(problem, k, gamma, steps, x0, weights):
  """EF21-W (EF21 at w_i = 1/n) as the papers write it, in numpy."""
  n = problem.num_clients
  grads = lambda x: np.asarray(problem.client_gradients(jnp.asarray(x)))

  def top(v):
    out = np.zeros_like(v)
    keep = np.argsort(-np.abs(v), kind="stable")[:k]
    out[keep] = v[keep]
    return out

  x = np.array(x0, dtype=float)
  g_i = np.array([top(gr / (n * w)) for gr, w in zip(grads(x), weights)])
  g = weights @ g_i
  xs, estimates, client_grads = [x.copy()], [n * weights[:, None] * g_i], \
      [grads(x)]
  for _ in range(steps):
    x = x - gamma * g
    c = np.array([top(gr / (n * w) - gi)
                  for gr, w, gi in zip(grads(x), weights, g_i)])
    g_i = g_i + c
    g = g + weights @ c
    xs.append(x.copy())
    estimates.append(n * weights[:, None] * g_i)
    client_grads.append(grads(x))
  return np.array(xs), np.array(estimates), np.array(client_grads)


@pytest.mark.parametrize("weighted", [False, True])
def test_ef21_matches_the_update_written_out(weighted):
  p = heterogeneous_quadratics([1.0, 3.0, 10.0], 6, seed=0)
  x0 = np.random.default_rng(0).standard_normal(6)
  smooth = p.constants["client_smoothness"]
  weights = smooth / smooth.sum() if weighted else np.full(3, 1 / 3)
  run = run_ef21(p, compressors.top_k(2, 6), 0.01, 25, weighted=weighted,
                 params=x0, record_iterates=True)
  xs, estimates, grads_i = _written_out(p, 2, 0.01, 25, x0, weights)
  np.testing.assert_allclose(run.iterates, xs, rtol=1e-12, atol=1e-14)
  # The Lyapunov errors against theory.error_feedback's own formula.
  np.testing.assert_allclose(run.estimate_error,
                             ef.estimate_errors(grads_i, estimates),
                             rtol=1e-10, atol=1e-14)
  np.testing.assert_allclose(
      run.weighted_estimate_error,
      ef.estimate_errors(grads_i, estimates, smooth), rtol=1e-10, atol=1e-14)
  np.testing.assert_allclose(
      run.objective, [float(p.objective(jnp.asarray(x))) for x in xs],
      rtol=1e-12)
  grads = np.asarray(jax.vmap(p.gradient)(jnp.asarray(run.iterates)))
  np.testing.assert_allclose(run.grad_norm_sq, np.sum(grads**2, 1),
                             rtol=1e-12)


def test_one_step_gaps_vanish_for_top_k_and_not_for_a_non_homogeneous_compressor():
  p = heterogeneous_quadratics([1.0, 5.0, 30.0], 6, seed=2)
  x0 = np.random.default_rng(2).standard_normal(6)
  gaps = family.one_step_gaps(p, compressors.top_k(2, 6), 0.005, 50, x0)
  assert gaps.shape == (50,) and gaps.max() <= 1e-13
  # A compressor that is not positively homogeneous (it rounds to a grid)
  # breaks the identity: the check can fail.
  grid = compressors.Compressor(
      "round to 0.5", 6, lambda key, v: jnp.round(2 * v) / 2, None)
  assert family.one_step_gaps(p, grid, 0.005, 50, x0).max() > 1e-3


def test_ef21_with_identity_compressor_is_gradient_descent():
  p = heterogeneous_quadratics([1.0, 2.0], 4, seed=1)
  run = run_ef21(p, compressors.identity(4), 0.1, 10, params=np.ones(4),
                 record_iterates=True)
  x = np.ones(4)
  for t in range(10):
    x = x - 0.1 * np.asarray(p.gradient(jnp.asarray(x)))
  np.testing.assert_allclose(run.iterates[-1], x, rtol=1e-12)
  np.testing.assert_allclose(run.estimate_error, 0, atol=1e-20)


def test_ef21_divergence_is_an_outcome():
  p = heterogeneous_quadratics([1.0, 100.0], 4, seed=1)
  run = run_ef21(p, compressors.top_k(1, 4), 10.0, 400, params=np.ones(4))
  assert run.diverged_at > 0
  assert np.isfinite(run.objective[: run.diverged_at]).all()


def test_ef21_rejects_bad_arguments():
  p = heterogeneous_quadratics([1.0, 2.0], 4)
  with pytest.raises(ValueError, match="step_size"):
    run_ef21(p, compressors.top_k(1, 4), -1.0, 10)
  with pytest.raises(ValueError, match="compressor.dim"):
    run_ef21(p, compressors.top_k(1, 5), 0.1, 10)
  with pytest.raises(ValueError, match="initial_estimates"):
    run_ef21(p, compressors.top_k(1, 4), 0.1, 10, initial_estimates="none")


# --- constants, and the Lyapunov check's power --------------------------------

def test_xi_closed_forms():
  for alpha in np.linspace(0.01, 1.0, 25):
    x = ef.xi(alpha)
    assert math.isclose(x, math.sqrt(ef.beta(alpha) / ef.theta(alpha)),
                        abs_tol=1e-12)
    assert math.isclose(x, (1 + math.sqrt(1 - alpha)) / alpha - 1,
                        abs_tol=1e-12)
    assert x <= 2 / alpha - 1 + 1e-12
  with pytest.raises(ValueError, match="alpha"):
    ef.xi(0.0)


def test_the_lyapunov_check_fails_on_planted_bugs(monkeypatch):
  # The check the claims read must be able to fail. On concrete Top-K runs
  # the inequality has room (4x the step still holds here; PEPit's worst
  # case over the class breaks at ~1.1-1.4x), so the planted bugs are a
  # step formula off by 10 (e.g. a missing square root) and a Lyapunov
  # function without its G term.
  runs = family.EF21Runs("test.ef21", quick_steps=200)
  config = runs.config(True)
  good = runs.measure(config, [0])[0]
  assert max(max(s) for s in good["slack"]) <= 1e-12
  step = ef.theoretical_step_size
  monkeypatch.setattr(ef, "theoretical_step_size",
                      lambda *a, **k: 10 * step(*a, **k))
  bad = runs.measure(config, [0])[0]
  assert max(max(s) for s in bad["slack"]) > 1e-3
  monkeypatch.setattr(ef, "theoretical_step_size", step)
  values = ef.lyapunov_values
  monkeypatch.setattr(ef, "lyapunov_values",
                      lambda f, error, *rest: values(f, 0 * error, *rest))
  bad = runs.measure(config, [0])[0]
  assert min(max(s) for s in bad["slack"]) > 1e-4


def test_the_package_imports_and_lists_claims_without_pepit():
  # [pep] is optional: block PEPit and cvxpy, import every paper module.
  import subprocess
  import sys
  code = ("import sys; sys.modules['PEPit'] = None; sys.modules['cvxpy'] = "
          "None\nfrom boundlab.claims import registry\n"
          "claims = registry.all_claims()\nassert any(c.id.startswith("
          "'richtarik2024') for c in claims)\nprint(len(claims))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, check=True)
  assert int(out.stdout.strip()) > 60


def test_a_missing_optional_dependency_reads_inconclusive(tmp_path):
  from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Paper,
                               runner)
  paper = Paper(key="nodep2026", title="t", authors="a", arxiv="2601.00001",
                version="v1")
  experiment = Experiment(
      "nodep2026.runs", lambda quick: {}, lambda c, seeds: [{}] * len(seeds),
      seeds=2, quick_seeds=2,
      requires=(("no_such_module_boundlab", "pip install something"),))
  claim = Claim(id="nodep2026.claim", paper=paper, statement="s",
                measurement="m", bound=Bound(name="b", expression=0,
                                             citation=paper.cite("Thm 1")),
                relation="<=", experiment=experiment, evidence="exact",
                evaluate=lambda c, r, a: Evaluation(measured=0.0,
                                                    ci=(0.0, 0.0)))
  (run,) = runner.run_claims([claim], tmp_path, quick=True)
  assert run.verdict.outcome.value == "inconclusive"
  assert "pip install something" in run.verdict.notes
