"""Worst-case certificates through PEPit (the optional [pep] extra, which
[dev] installs): PEPit's own examples against their closed forms, EF21's
one-step inequality at and beyond its step, and the proof's own step
condition as an independent oracle of the largest certified step."""

import math

import pytest

from boundlab.theory import error_feedback as ef

pytest.importorskip("PEPit")
pytest.importorskip("cvxpy")
from boundlab.theory import pep  # noqa: E402


def test_pep_reproduces_pepits_gradient_descent_example():
  # PEPit's examples/nonconvex_optimization/gradient_descent.py: 4/(3N) at
  # gamma = 1/L (and L = 1), tight.
  for horizon in (2, 5):
    result = pep.gradient_descent_smooth_nonconvex(1.0, 1.0, horizon)
    assert math.isclose(result.value, 4 / (3 * horizon), rel_tol=1e-4)
  from PEPit.examples.nonconvex_optimization import wc_gradient_descent
  theirs, theory_value = wc_gradient_descent(L=2.0, gamma=0.5, n=3,
                                             verbose=-1)
  ours = pep.gradient_descent_smooth_nonconvex(2.0, 0.5, 3).value
  assert math.isclose(ours, theirs, rel_tol=1e-4)
  assert math.isclose(ours, theory_value, rel_tol=1e-4)


@pytest.mark.parametrize("smooth,lyapunov,weighted", [
    ((1.0, 1.0), "uniform", False), ((1.0, 10.0), "uniform", False),
    ((1.0, 10.0), "weighted", False), ((1.0, 10.0), "weighted", True)])
def test_ef21_one_step_is_certified_at_the_step_and_broken_at_3x(
    smooth, lyapunov, weighted):
  gamma = ef.theoretical_step_size(ef.class_constants(smooth), 0.25,
                                   lyapunov)
  at = pep.ef21_one_step(smooth, 0.25, gamma, lyapunov=lyapunov,
                         weighted_method=weighted)
  assert abs(at.value) <= pep.SOLVER_TOLERANCE
  beyond = pep.ef21_one_step(smooth, 0.25, 3 * gamma, lyapunov=lyapunov,
                             weighted_method=weighted)
  # The shared references measured +1.36 / +1.28 for these profiles.
  assert beyond.value > 1.0


def test_largest_certified_multiple_bisects_a_known_threshold():
  assert math.isclose(pep.largest_certified_multiple(
      lambda f: f - 1.7, 1.0, 3.0, steps=20), 1.7, abs_tol=1e-5)
  assert math.isnan(pep.largest_certified_multiple(lambda f: 1.0, 1.0, 3.0))
  assert pep.largest_certified_multiple(lambda f: -1.0, 1.0, 3.0) == 3.0
  with pytest.raises(ValueError, match="high"):
    pep.largest_certified_multiple(lambda f: 0.0, 2.0, 1.0)


@pytest.mark.parametrize("smooth,alpha", [((1.0, 7.0, 40.0), 0.3),
                                          ((2.0, 5.0), 0.8)])
def test_largest_certified_step_is_the_proofs_own_condition(smooth, alpha):
  # With the weighted Lyapunov, the PEP certifies exactly the steps the
  # proof's inequality 1/gamma - L - (beta/theta) L_AM^2 gamma >= 0 allows
  # (the theorem states the simpler, smaller 1/(L + L_AM xi)).
  constants = ef.class_constants(smooth)
  gamma = ef.theoretical_step_size(constants, alpha, "weighted")
  largest = pep.largest_certified_multiple(
      lambda m: pep.ef21_one_step(smooth, alpha, m * gamma,
                                  lyapunov="weighted").value,
      1.0, 3.0, steps=10)
  proof = ef.proof_step_multiple(constants["smoothness"],
                                 constants["smoothness_am"], alpha)
  assert abs(largest - proof) <= 2 / 2**10 + 1e-3


def test_ef21_and_ef21w_give_the_same_pep():
  smooth, alpha = (1.0, 4.0, 20.0), 0.4
  gamma = ef.theoretical_step_size(ef.class_constants(smooth), alpha,
                                   "weighted")
  for factor in (1.0, 2.0):
    a = pep.ef21_one_step(smooth, alpha, factor * gamma, lyapunov="weighted")
    b = pep.ef21_one_step(smooth, alpha, factor * gamma, lyapunov="weighted",
                          weighted_method=True)
    assert math.isclose(a.value, b.value, rel_tol=1e-4, abs_tol=1e-7)
    assert a.status == "optimal" and a.solver


def test_pep_rejects_bad_arguments():
  with pytest.raises(ValueError, match="step_size"):
    pep.gradient_descent_smooth_nonconvex(1.0, 3.0, 2)
  with pytest.raises(ValueError, match="client_smoothness"):
    pep.ef21_one_step([], 0.5, 0.1)
  with pytest.raises(ValueError, match="alpha"):
    pep.ef21_one_step([1.0], 0.0, 0.1)
