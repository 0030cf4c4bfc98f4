"""boundlab.testing: the strategies' constants are exact, the assertions
decide like the claims framework, the plugin turns claims into tests, and a
property test catches a deliberately broken bound."""

import math
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from boundlab import algorithms, landscapes, theory
from boundlab.claims import Outcome, registry
from boundlab.testing import (BoundInconclusive, BoundViolation, assert_bound,
                              check_claim, strict_numerics)
from boundlab.testing import strategies as bst

pytest_plugins = ["pytester"]
OUTSIDE = Path(__file__).parent / "outside_papers"
# Every strategy's draws compile their own programs: few examples each.
FEW = settings(max_examples=8)


def _hessian(land, params, example=None):
  fn = (land.objective if example is None
        else lambda p: land.loss(p, example))
  return np.asarray(theory.dense_hessian(fn, params))


# ---------------------------------------------------------------- strategies
# One contract for every strategy: a Landscape whose init draws from the key,
# finite at the start, with constants it promises.
STRATEGIES = {
    "quadratics": (bst.quadratics(), ("optimum", "smoothness",
                                      "strong_convexity", "noise_variance")),
    "noisy_quadratics": (bst.quadratics(noise=bst.noise_laws),
                         ("optimum", "smoothness", "noise_variance")),
    "least_squares": (bst.least_squares(), ("optimum", "smoothness",
                                            "optimal_value")),
    "finite_sums": (bst.finite_sums(), ("optimum", "per_example_smoothness",
                                        "smoothness", "strong_convexity")),
    "diagonal_linear_networks": (bst.diagonal_linear_networks(),
                                 ("beta_star", "optimal_value")),
    "single_index_models": (bst.single_index_models(),
                            ("optimum", "information_exponent")),
}


@pytest.mark.parametrize("name", STRATEGIES)
def test_strategy_contract(name):
  strategy, constants = STRATEGIES[name]

  @FEW
  @given(strategy, st.integers(0, 2**30))
  def check(land, seed):
    assert isinstance(land, landscapes.Landscape)
    assert set(constants) <= set(land.constants)
    key_a, key_b = jax.random.split(jax.random.key(seed))
    a, b = land.init(key_a), land.init(key_b)
    assert np.isfinite(float(land.objective(a)))
    flat = lambda p: np.concatenate([np.ravel(x) for x in jax.tree.leaves(p)])
    assert not np.array_equal(flat(a), flat(b)), "init ignores its key"
    np.testing.assert_array_equal(flat(a), flat(land.init(key_a)))
  check()


@FEW
@given(bst.quadratics(smoothness=bst.floats(0.5, 50.0),
                      condition_number=bst.floats(1.0, 100.0)))
def test_quadratic_constants_are_its_hessian_spectrum(land):
  c = land.constants
  eig = np.linalg.eigvalsh(_hessian(land, c["optimum"]))
  np.testing.assert_allclose([eig[0], eig[-1]],
                             [c["strong_convexity"], c["smoothness"]],
                             rtol=1e-12)
  np.testing.assert_allclose(land.grad(jnp.asarray(c["optimum"])), 0.0,
                             atol=1e-12)
  # Noise-free by default: every sampled gradient is the exact one.
  x = land.init(jax.random.key(0))
  batch = land.sample(jax.random.key(1), 4)
  np.testing.assert_array_equal(land.per_example_grads(x, batch),
                                np.broadcast_to(land.grad(x), (4, x.size)))
  assert c["noise_variance"] == 0.0


def test_quadratics_take_given_constants_exactly():
  @FEW
  @given(bst.quadratics(smoothness=4.0, strong_convexity=0.25, dim=3))
  def check(land):
    assert land.constants["smoothness"] == 4.0
    assert land.constants["strong_convexity"] == 0.25
  check()
  @given(bst.quadratics(smoothness=1.0, strong_convexity=2.0))
  def impossible(land):
    pass
  with pytest.raises(ValueError, match="strong_convexity"):
    impossible()


@FEW
@given(bst.least_squares(noise=0.0))
def test_noise_free_least_squares_is_realisable(land):
  c = land.constants
  grad = land.grad(jnp.asarray(c["optimum"]))
  np.testing.assert_allclose(grad, 0.0, atol=1e-12)
  assert c["optimal_value"] == 0.0 or land.data["x"].shape[0] < grad.size
  assert float(land.objective(jnp.asarray(c["optimum"]))) < 1e-25
  eig = np.linalg.eigvalsh(_hessian(land, c["optimum"]))
  np.testing.assert_allclose(eig[-1], c["smoothness"], rtol=1e-10)


@FEW
@given(bst.finite_sums())
def test_finite_sum_per_example_smoothness(land):
  c, data = land.constants, land.data
  x = jnp.asarray(c["optimum"])
  per_example = [np.linalg.eigvalsh(_hessian(
      land, x, jax.tree.map(lambda a: a[i], data)))[-1]
                 for i in range(data["a"].shape[0])]
  np.testing.assert_allclose(per_example, c["per_example_smoothness"],
                             rtol=1e-12)
  eig = np.linalg.eigvalsh(_hessian(land, x))
  np.testing.assert_allclose([eig[0], eig[-1]],
                             [c["strong_convexity"], c["smoothness"]],
                             rtol=1e-12)
  np.testing.assert_allclose(land.grad(x), 0.0, atol=1e-12)


@settings(max_examples=12)
@given(bst.noise_laws(dim=st.integers(1, 3)), st.integers(0, 2**30))
def test_noise_law_variance_and_mean(law, seed):
  # Monte Carlo oracle of E||xi||^2 and E xi: 2^18 draws, 6 standard errors
  # (a true law fails with probability ~1e-9 per check).
  xi = np.asarray(law.sample(jax.random.key(seed), 2**18))
  sq = np.sum(xi**2, axis=1)
  se = sq.std() / math.sqrt(len(sq))
  assert abs(sq.mean() - law.variance) <= 6 * se + 1e-12, (law.name,
                                                           sq.mean())
  se_mean = xi.std(axis=0) / math.sqrt(len(xi))
  assert np.all(np.abs(xi.mean(axis=0)) <= 6 * se_mean + 1e-12), law.name


@FEW
@given(bst.noise_laws(symmetric=True), st.integers(0, 2**30))
def test_symmetric_laws_have_no_third_moment(law, seed):
  assert law.symmetric
  xi = np.asarray(law.sample(jax.random.key(seed), 2**18))[:, 0]
  cube = xi**3
  assert abs(cube.mean()) <= 6 * cube.std() / math.sqrt(len(cube)) + 1e-12


def test_asymmetric_laws_are_drawn_asymmetric():
  @FEW
  @given(bst.noise_laws(symmetric=False))
  def check(law):
    assert not law.symmetric
  check()


@FEW
@given(bst.diagonal_linear_networks())
def test_diagonal_network_interpolates_at_the_planted_vector(land):
  root = np.sqrt(land.constants["beta_star"])
  assert float(land.objective({"u": root, "v": root})) == 0.0


@FEW
@given(bst.single_index_models(link="he3", loss="correlation"))
def test_single_index_optimum_beats_random_directions(land):
  w_star = jnp.asarray(land.constants["optimum"])
  x = land.init(jax.random.key(3))
  assert land.constants["information_exponent"] == 3
  assert float(land.objective(w_star)) < float(land.objective(x))


# ---------------------------------------------------------------- assertions
def test_assert_bound_exact_numbers():
  verdict = assert_bound(0.5, 1.0, "<=", what="toy")
  assert verdict.outcome is Outcome.HOLDS and verdict.ci == (0.5, 0.5)
  with pytest.raises(BoundViolation, match=r"toy: bound violated.*exact"):
    assert_bound(1.5, 1.0, "<=", what="toy")
  with pytest.raises(BoundViolation):
    assert_bound(0.5, 1.0, ">=")
  assert_bound(1.0 + 1e-13, 1.0, "approx", tolerance=1e-12,
               reason="float64 rounding")


def test_assert_bound_each_instance_with_its_own_bound():
  values, bounds = np.array([0.1, 0.9, 0.5]), np.array([0.2, 1.0, 0.6])
  assert_bound(values, bounds, "<=", reduce="each")
  with pytest.raises(BoundViolation, match="the worst, #2") as e:
    assert_bound(values, np.array([0.2, 1.0, 0.4]), "<=", reduce="each")
  assert e.value.verdict.sample_size == 3


def test_assert_bound_mean_interval_and_its_false_fail_rate():
  rng = np.random.default_rng(0)
  assert_bound(rng.normal(0.0, 1.0, 64), 1.0, "<=", reduce="mean")
  with pytest.raises(BoundViolation, match="Student-t"):
    assert_bound(rng.normal(2.0, 1.0, 64), 1.0, "<=", reduce="mean")
  with pytest.raises(BoundInconclusive):
    assert_bound(rng.normal(1.0, 1.0, 8), 1.0, "<=", reduce="mean")
  # At a true bound's edge (mean exactly at it), the one-sided violation
  # rate of a two-sided 1 - alpha interval is alpha / 2: 4000 trials at
  # alpha = 0.1 give 0.05 +- 0.0035; outside [0.035, 0.065] is a bug (a
  # 4-sigma band, so this check itself false-fails with p ~ 6e-5).
  violations = 0
  for _ in range(4000):
    try:
      assert_bound(rng.normal(1.0, 1.0, 10), 1.0, "<=", reduce="mean",
                   false_fail_rate=0.1)
    except BoundViolation:
      violations += 1
    except BoundInconclusive:
      pass
  assert 0.035 <= violations / 4000 <= 0.065, violations


@pytest.mark.parametrize("kwargs, match", [
    ({"measured": np.ones(3), "bound": 1.0}, "reduce"),
    ({"measured": 1.0, "bound": 1.0, "tolerance": 0.1}, "reason"),
    ({"measured": 1.0, "bound": 1.0, "tolerance": -1.0}, "tolerance"),
    ({"measured": np.ones(3), "bound": 1.0, "reduce": "mean",
      "false_fail_rate": 1.5}, "false_fail_rate"),
    ({"measured": 1.0, "bound": 1.0, "relation": "<"}, "<"),
])
def test_assert_bound_rejects_bad_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    assert_bound(**kwargs)


def test_strict_numerics_restores_the_settings():
  before = (jax.config.jax_enable_x64, jax.config.jax_numpy_rank_promotion)
  jax.config.update("jax_numpy_rank_promotion", "allow")
  try:
    with strict_numerics():
      assert jnp.zeros(1).dtype == jnp.float64
      with pytest.raises(ValueError):
        jnp.zeros((2, 1)) + jnp.zeros(3)
    assert jax.config.jax_numpy_rank_promotion == "allow"
  finally:
    jax.config.update("jax_enable_x64", before[0])
    jax.config.update("jax_numpy_rank_promotion", before[1])


def test_check_claim_holds_and_a_broken_claim_fails(tmp_path):
  module = registry.load(str(OUTSIDE / "toy2026.py"))
  try:
    (claim,) = module.CLAIMS
    run = check_claim(claim, out_dir=tmp_path)
    assert run.verdict.outcome is Outcome.HOLDS
    # Planted bug: the contraction exponent T instead of 2T.
    import dataclasses
    eta, steps = sorted(claim.bound.expression.free_symbols, key=str)[::-1]
    broken = dataclasses.replace(claim, bound=dataclasses.replace(
        claim.bound, expression=(1 - eta) ** steps))
    with pytest.raises(BoundViolation, match="toy2026") as e:
      check_claim(broken, out_dir=tmp_path)
    assert e.value.verdict.outcome is Outcome.VIOLATED
    assert "random starts" in str(e.value)      # the evaluation's notes
  finally:
    registry.unregister("toy2026")


# ------------------------------------------- a property test of a GD bound
def _gd_descent_check(land, factor):
  r"""Gradient descent with step 1/L: :math:`\frac1T\sum_{t<T}\|\nabla
  f(x_t)\|^2 \le \text{factor} \cdot L (f(x_0) - f^\star) / T`, which the
  descent lemma gives with factor 2 (tight at T = 1 along the top
  eigenvector), checked on every one of 4 random starts."""
  big_l, steps = land.constants["smoothness"], 4
  result = algorithms.run(
      land, algorithms.with_mean_gradient(optax.sgd(1.0 / big_l)), range(4),
      steps=steps, record_every=steps, batch_size=1,
      step_metrics=lambda x, key: {"g2": jnp.sum(land.grad(x) ** 2)},
      metrics=lambda x, state: {"gap": land.objective(x)})
  gap0 = result.metrics["gap"][:, 0] - land.constants["optimal_value"]
  assert_bound(result.window_average("g2", 0), factor * big_l * gap0 / steps,
               "<=", reduce="each", tolerance=1e-9,
               reason="float64 rounding of sums over 4 steps",
               what=f"GD descent bound, factor {factor}")


def test_property_test_passes_the_true_bound_and_catches_a_broken_one():
  # Every example compiles its own run: 8 examples, and no shrinking of the
  # expected failure (the first counterexample is enough here).
  prop = lambda factor, **kw: settings(max_examples=8, **kw)(given(
      bst.quadratics(dim=st.integers(1, 3)))(
          lambda land: _gd_descent_check(land, factor)))
  prop(2.0)()
  with pytest.raises(BoundViolation, match="factor 1"):
    prop(1.0, phases=[Phase.generate])()      # the descent lemma's 2 dropped


# ---------------------------------------------------------------- the plugin
_BROKEN = '''
import dataclasses, sympy
from boundlab.claims import Evaluation, registry
toy = registry.load({toy!r})
PAPER = dataclasses.replace(toy.PAPER, key="broken2026")
_eta, _T = sympy.symbols("eta T", positive=True)
RUNS = dataclasses.replace(toy.CONTRACTION.experiment, id="broken2026.gd_runs")
CLAIMS = tuple(dataclasses.replace(
    toy.CONTRACTION, id="broken2026." + name, paper=PAPER, experiment=RUNS,
    **changes)
  for name, changes in [
    ("wrong_exponent", dict(bound=dataclasses.replace(
        toy.CONTRACTION.bound, expression=(1 - _eta) ** _T))),
    ("too_coarse", dict(relation="<=", tolerance=0.0,
        evaluate=lambda c, r, a: Evaluation(
            measured=0.5, ci=(0.0, 2.0), notes="wide on purpose"),
        bound=dataclasses.replace(toy.CONTRACTION.bound,
                                  expression=sympy.Integer(1))))])
'''


def test_plugin_runs_claims_as_tests(pytester):
  broken = pytester.path / "broken2026.py"
  broken.write_text(textwrap.dedent(_BROKEN.format(
      toy=str(OUTSIDE / "toy2026.py"))))
  pytester.makepyfile(test_other="def test_other():\n  assert True\n")
  result = pytester.runpytest(
      "-p", "no:cacheprovider", "-rA", "--boundlab-claims", "^(toy|broken)2026",
      "--boundlab-papers", str(OUTSIDE / "toy2026.py"),
      "--boundlab-papers", str(broken),
      "--boundlab-out", str(pytester.path / "out"), "-m", "boundlab_claim")
  result.assert_outcomes(passed=1, failed=1, xfailed=1, deselected=1)
  result.stdout.fnmatch_lines([
      "*PASSED *boundlab::toy2026.gd_contracts_on_a_quadratic*",
      "*XFAIL *boundlab::broken2026.too_coarse*inconclusive*",
      "*FAILED *boundlab::broken2026.wrong_exponent*"])
  assert "bound violated" in result.stdout.str()
  registry.unregister("toy2026")
  registry.unregister("broken2026")


def test_plugin_rejects_a_pattern_that_matches_nothing(pytester):
  result = pytester.runpytest("-p", "no:cacheprovider", "--boundlab-claims",
                              "no_such_claim_xyz")
  assert result.ret != 0
  result.stderr.fnmatch_lines(["*--boundlab-claims: no claim id matches*"])


def test_x64_marker_and_fixture(pytester):
  pytester.makepyfile(test_numerics='''
import jax, jax.numpy as jnp, pytest

@pytest.mark.boundlab_x64
def test_marked():
  assert jnp.zeros(1).dtype == jnp.float64

def test_fixture(boundlab_x64):
  with pytest.raises(ValueError):
    jnp.zeros((2, 1)) + jnp.zeros(3)

def test_plain():
  assert jnp.zeros(1).dtype == jnp.float32
''')
  # A fresh process: this one runs in float64 already (tests/conftest.py).
  result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
  result.assert_outcomes(passed=3)
