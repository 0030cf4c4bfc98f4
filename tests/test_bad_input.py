"""Every public entry point rejects bad input with a ValueError naming the parameter."""

import math

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from boundlab import algorithms, landscapes, theory
from boundlab.claims import get_claim, paper_module, select_claims

not_positive = st.one_of(st.floats(max_value=0.0), st.just(math.nan),
                         st.just(-math.inf))
negative = st.one_of(st.floats(max_value=-1e-300), st.just(math.nan))
KEY = jax.random.key(0)


@given(bad=not_positive)
def test_clip_thresholds(bad):
  with pytest.raises(ValueError, match="clip_norm"):
    algorithms.dp_sgd_gc(0.1, bad)
  with pytest.raises(ValueError, match="clip_norm_1"):
    algorithms.dice_sgd(0.1, bad, 1.0)
  with pytest.raises(ValueError, match="clip_norm_2"):
    algorithms.dice_sgd(0.1, 1.0, bad)
  with pytest.raises(ValueError, match="clip_norm"):
    algorithms.perturbed_clipped_sgd(0.1, bad, 1.0, key=KEY)


@given(bad=not_positive)
def test_step_sizes(bad):
  for make in (lambda: algorithms.dp_sgd_gc(bad, 1.0),
               lambda: algorithms.dice_sgd(bad, 1.0, 1.0),
               lambda: algorithms.perturbed_clipped_sgd(bad, 1.0, 1.0, key=KEY)):
    with pytest.raises(ValueError, match="learning_rate must be in"):
      make()


@given(bad=negative)
def test_noise_and_perturbation_scales(bad):
  with pytest.raises(ValueError, match="noise_multiplier"):
    algorithms.dp_sgd_gc(0.1, 1.0, bad, KEY)
  with pytest.raises(ValueError, match="noise_std"):
    algorithms.dice_sgd(0.1, 1.0, 1.0, bad, KEY)
  with pytest.raises(ValueError, match="perturbation_scale"):
    algorithms.perturbed_clipped_sgd(0.1, 1.0, bad, key=KEY)


def test_infinite_clip_threshold_is_rejected():
  # clip with c = inf would compute inf * 0 = NaN at a zero gradient.
  with pytest.raises(ValueError, match=r"clip_norm must be in \(0, inf\)"):
    algorithms.dp_sgd_gc(0.1, math.inf)


def test_noise_without_key():
  with pytest.raises(ValueError, match="key"):
    algorithms.dp_sgd_gc(0.1, 1.0, 1.0)
  with pytest.raises(ValueError, match="key"):
    algorithms.dice_sgd(0.1, 1.0, 1.0, 0.5)


@given(data=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1,
                     max_size=5).filter(lambda x: not all(map(math.isfinite, x))))
def test_non_finite_data(data):
  with pytest.raises(ValueError, match="points must be finite"):
    landscapes.mean_of_squares(data)


def test_wrong_shapes():
  with pytest.raises(ValueError, match="points must have ndim"):
    landscapes.mean_of_squares(np.zeros((2, 2, 2)))
  with pytest.raises(ValueError, match="per-example gradients"):
    opt = algorithms.dice_sgd(0.1, 1.0, 1.0)
    opt.update(np.float64(1.0), opt.init(np.float64(0.0)))
  with pytest.raises(ValueError, match="x and y must have the same shape"):
    theory.slope_ci([1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0])


@given(seed=st.one_of(st.integers(max_value=-1), st.floats(), st.text()))
def test_bad_seeds(seed):
  with pytest.raises(ValueError, match="seed"):
    algorithms.seed_keys([seed])


def test_unknown_claims_and_papers():
  with pytest.raises(ValueError, match="unknown claim id"):
    get_claim("chen2020.nope")
  with pytest.raises(ValueError, match="unknown paper 'nope'; known papers"):
    paper_module("nope")
  with pytest.raises(ValueError, match="no claim id matches"):
    select_claims("^zzz")
  with pytest.raises(ValueError, match="--only must be a valid regular"):
    select_claims("(")


@given(alpha=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0),
                       st.just(math.nan)))
def test_bad_confidence_levels(alpha):
  with pytest.raises(ValueError, match="alpha"):
    theory.mean_ci([1.0, 2.0, 3.0], alpha)
