"""The validation layer: each check against the values it must accept and
refuse, the seed-to-key mapping, and the memory guard."""

import math

import jax
import numpy as np
import pytest

from boundlab import validation
from boundlab.algorithms.run_loop import seed_keys
from boundlab.claims import Outcome, Relation, decide
from boundlab.theory import bootstrap_ci, range_interval, slope_ci


def _data(key):
  return np.asarray(jax.random.key_data(key))


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "1", True,
                                 None, [1.0]])
def test_check_positive_refuses_and_names(bad):
  with pytest.raises(ValueError, match="^rate must"):
    validation.check_positive("rate", bad)


def test_checks_accept_their_ranges():
  assert validation.check_positive("x", 2) == 2.0
  assert validation.check_positive("x", math.inf, allow_inf=True) == math.inf
  assert validation.check_nonnegative("x", 0) == 0.0
  assert validation.check_in_range("x", 1.0, 0.0, 1.0) == 1.0
  assert validation.check_alpha(0.05) == 0.05
  assert validation.check_positive_int("n", np.int64(3)) == 3
  assert validation.check_choice("c", "a", ("a", "b")) == "a"
  with pytest.raises(ValueError, match="c must be one of"):
    validation.check_choice("c", 1, (True, "b"))     # 1 is not True here
  with pytest.raises(ValueError, match="n must be an integer in \\[1, 5\\]"):
    validation.check_positive_int("n", 6, maximum=5)


@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1])
def test_seeds_below_two_to_the_32_keep_their_keys(seed):
  # The mapping must not move any result computed before 64-bit seeds.
  np.testing.assert_array_equal(_data(validation.seed_key(seed)),
                                _data(jax.random.key(seed)))


def test_large_seeds_map_to_distinct_keys_the_same_way_everywhere():
  seeds = [5, 5 + 2**32, 2**40 + 3, 2**63 - 1, 2**32]
  batch = seed_keys(seeds)
  datas = [_data(validation.seed_key(s)) for s in seeds]
  for i, data in enumerate(datas):
    np.testing.assert_array_equal(_data(batch[i]), data)
  assert len({d.tobytes() for d in datas}) == len(seeds)
  with jax.enable_x64(False):     # the mapping does not depend on x64
    np.testing.assert_array_equal(_data(validation.seed_key(2**40 + 3)),
                                  datas[2])


@pytest.mark.parametrize("bad", [-1, 2**63, 1.5, "0", True, None])
def test_bad_seeds_are_refused(bad):
  with pytest.raises(ValueError, match="seed"):
    validation.seed_key(bad)
  with pytest.raises(ValueError, match="seeds"):
    seed_keys([0, bad])


@pytest.mark.parametrize("bad", [5, "012", None, []])
def test_seeds_must_be_a_non_empty_sequence(bad):
  with pytest.raises(ValueError, match="seeds"):
    validation.check_seeds("seeds", bad)


def test_memory_budget_guard_and_override(monkeypatch):
  validation.set_memory_budget(2**20)            # 1 MiB
  try:
    assert validation.memory_budget() == 2**20
    assert validation.check_size("dim", 2**17, bytes_per_unit=8) == 2**17
    with pytest.raises(ValueError, match="dim = 131073 needs .* GiB"):
      validation.check_size("dim", 2**17 + 1, bytes_per_unit=8)
    with pytest.raises(ValueError, match="num_examples = 1024 x dim = 1024"):
      validation.check_sizes("the features", num_examples=1024, dim=1024)
  finally:
    validation.set_memory_budget(None)
  monkeypatch.setenv("BOUNDLAB_MEMORY_BUDGET", str(2**30))
  assert validation.memory_budget() == 2**30
  monkeypatch.delenv("BOUNDLAB_MEMORY_BUDGET")
  assert validation.memory_budget() > 2**30        # half the machine


def test_decide_refuses_reversed_intervals_and_bad_tolerances():
  assert decide(Relation.LE, (0.0, 1.0), (2.0, 2.0)) is Outcome.HOLDS
  with pytest.raises(ValueError, match="ci must have lo <= hi"):
    decide(Relation.LE, (1.0, 0.0), (2.0, 2.0))
  with pytest.raises(ValueError, match="bound_ci must have lo <= hi"):
    decide(Relation.LE, (0.0, 1.0), (3.0, 2.0))
  for tolerance in (-1.0, math.inf, -math.inf, math.nan):
    with pytest.raises(ValueError, match="tolerance"):
      decide(Relation.LE, (0.0, 1.0), (2.0, 2.0), tolerance)
  # NaN ends stay a documented outcome: inconclusive.
  assert decide(Relation.LE, (math.nan, 1.0), (2.0, 2.0)) is (
      Outcome.INCONCLUSIVE)


def test_interval_routines_validate_alpha_and_samples():
  x = np.arange(8.0)
  for alpha in (0.0, 1.0, 1.5, -0.1, math.nan):
    with pytest.raises(ValueError, match="alpha"):
      bootstrap_ci(x, np.mean, alpha, n_resamples=20)
    with pytest.raises(ValueError, match="alpha"):
      slope_ci(x, 2 * x + np.sin(x), alpha)
  with pytest.raises(ValueError, match="samples must be finite"):
    bootstrap_ci(np.r_[x, math.nan], np.mean, n_resamples=20)
  with pytest.raises(ValueError, match="n_resamples"):
    bootstrap_ci(x, np.mean, n_resamples=-5)
  with pytest.raises(ValueError, match="values must be finite"):
    range_interval([1.0, math.nan])
  point, (lo, hi) = bootstrap_ci(x, np.mean, n_resamples=200)
  assert lo <= point <= hi


def test_kind_and_array_checks_name_the_parameter():
  with pytest.raises(ValueError, match="^fn must be callable"):
    validation.check_callable("fn", 3)
  with pytest.raises(ValueError, match="^obj must be a dict, got int"):
    validation.check_instance("obj", 3, dict, "a dict")
  for bad in ("abc", None, [1.0, math.nan], [[1.0], [2.0, 3.0]]):
    with pytest.raises(ValueError, match="^xs must"):
      validation.check_finite_array("xs", bad)
  with pytest.raises(ValueError, match="xs must have ndim in \\(1,\\)"):
    validation.check_finite_array("xs", [[1.0]], ndim=1)
  np.testing.assert_array_equal(validation.check_finite_array("xs", [1, 2]),
                                [1.0, 2.0])
