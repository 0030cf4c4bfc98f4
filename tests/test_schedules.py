"""Schedules of Defazio et al. (arXiv 2310.07831 v2), their last-iterate
bounds, PEPit's tight worst case, and the paper's claims end to end.

Oracles: the authors' ``find_closed_form_schedule`` and README median filter
(numbers pinned below were computed by running their function, extracted
from ``find_schedule.py`` at facebookresearch/adaptive_scheduling HEAD
37a8a9b, outside this repository), step-by-step reimplementations of their
code and of the formulas, brute-force runs, and PEPit.
"""

import math
import sys

import numpy as np
import pytest

from boundlab.algorithms import schedules
from boundlab.theory import last_iterate as li

# --- the refinement map ------------------------------------------------------


def _refine_step_by_step(norms, weights=None):
  """The authors' map, written as a loop: w_t times the sum of the weights
  after t, over the last weight; the last step 0."""
  w = [n ** -2.0 for n in norms] if weights is None else list(weights)
  out = []
  for t in range(len(w)):
    after = sum(w[t + 1:])
    out.append(w[t] * after / w[-1] if t < len(w) - 1 else 0.0)
  return np.asarray(out)


def test_refinement_matches_the_authors_function():
  # find_closed_form_schedule(np.array([3.0, 1.0, 2.0, 0.5, 1.5])), run
  # outside the repository (see the module docstring).
  np.testing.assert_allclose(
      schedules.refinement_weights([3.0, 1.0, 2.0, 0.5, 1.5]),
      [1.42361111, 10.5625, 2.5, 4.0, 0.0], rtol=1e-8)
  # ... with weights=[1, 2, 3, 4] (their Adam hook: G then only fixes T).
  np.testing.assert_allclose(
      schedules.refinement_weights([2.0, 1.0, 4.0, 1.0],
                                   weights=[1.0, 2.0, 3.0, 4.0]),
      [2.25, 3.5, 3.0, 0.0], rtol=1e-12)
  rng = np.random.default_rng(0)
  for size in (2, 7, 40):
    norms = rng.uniform(0.1, 5.0, size)
    np.testing.assert_allclose(schedules.refinement_weights(norms),
                               _refine_step_by_step(norms), rtol=1e-12)


def test_median_filter_matches_the_authors_readme():
  # The README's snippet with sigma2 = 0.25 on these 20 values (width 5),
  # run outside the repository; then find_closed_form_schedule of it.
  g = np.array([5., 1., 4., 1., 5., 9., 2., 6., 5., 3., 5., 8., 9., 7., 9.,
                3., 2., 3., 8., 4.])
  np.testing.assert_array_equal(
      schedules.median_filter_norms(g, 0.25),
      [5., 4., 4., 4., 4., 5., 5., 5., 5., 5., 5., 7., 8., 8., 7., 3., 3.,
       3., 4., 4.])
  np.testing.assert_allclose(
      schedules.refinement_weights(g, filter_fraction=0.25)[[0, 1, 11, 18]],
      [0.65305578, 0.95789966, 0.16652784, 0.0625], rtol=1e-7)
  # Below 2/n the window is 1: no filtering.
  np.testing.assert_array_equal(schedules.median_filter_norms(g, 0.05), g)


def test_constant_norms_refine_to_linear_decay():
  for steps in (2, 5, 64):
    t = np.arange(1, steps + 1)
    shape = schedules.refinement_weights(np.full(steps, 0.7))
    np.testing.assert_allclose(shape, (steps - t) / 0.7 ** 2, rtol=1e-12)
    np.testing.assert_allclose(
        schedules.schedule_values(schedules.linear_decay_schedule(
            2.0, steps), steps), 2.0 * (1 - t / steps), atol=1e-6)
    np.testing.assert_allclose(li.refinement_step_sizes(np.ones(steps), 2.0),
                               2.0 * (1 - t / steps), atol=1e-12)
    refined = schedules.schedule_values(schedules.refined_schedule(
        np.full(steps, 3.0), 0.5), steps)
    np.testing.assert_allclose(refined, 0.5 * (steps - t) / (steps - 1),
                               atol=1e-12)


def test_schedules_follow_the_papers_indexing():
  steps = 6
  t = np.arange(1, steps + 1)
  values = lambda s: schedules.schedule_values(s, steps)
  np.testing.assert_allclose(values(schedules.cosine_schedule(1.0, steps)),
                             0.5 * (1 + np.cos(np.pi * t / steps)), atol=1e-6)
  np.testing.assert_allclose(
      values(schedules.polynomial_decay_schedule(1.0, steps, 2.0)),
      (1 - t / steps) ** 2, atol=1e-6)
  np.testing.assert_allclose(values(schedules.step_decay_schedule(1.0, steps)),
                             [1, 1, 0.1, 0.1, 0.01, 0.01], atol=1e-6)
  np.testing.assert_allclose(values(schedules.inverse_sqrt_schedule(2.0)),
                             2.0 / np.sqrt(t), atol=1e-6)
  # solve_bound.py: theory_eta = D/(G sqrt(n (2 + ln(n - 1)))).
  assert math.isclose(schedules.constant_baseline_step(1000, 2.0, 3.0),
                      2.0 / (3.0 * math.sqrt(1000 * (2 + math.log(999)))))
  table = schedules.array_schedule([3.0, 2.0, 1.0])
  assert [float(table(c)) for c in (0, 2, 9)] == [3.0, 1.0, 1.0]


# --- the bounds --------------------------------------------------------------


def _any_schedule_bound_by_definition(lam, norms, distance):
  """The formula term by term (1-based t, k as in the paper)."""
  T = len(lam)
  sq = [lam[t] ** 2 * norms[t] ** 2 for t in range(T)]
  value = (distance ** 2 + sum(sq)) / (2 * sum(lam))
  for k in range(T - 1):
    value += 0.5 * lam[k] / sum(lam[k + 1:]) * sum(sq[k:]) / sum(lam[k:])
  return value


def _authors_objective(lam, norms, distance):
  """The objective of find_schedule.py, step by step in numpy: flip, the
  reversed cumulative sums, and entries 1.. of them."""
  flip, g2_flip = lam[::-1], norms[::-1] ** 2
  total = lam.sum()
  t1 = 0.5 * distance ** 2 / total
  t2 = 0.5 / total * np.sum(norms ** 2 * lam ** 2)
  inner = np.cumsum(g2_flip * flip ** 2)
  denom = np.cumsum(flip)
  t3 = 0.5 * np.sum(flip[1:] * inner[1:] / (denom[1:] * (denom[1:]
                                                        - flip[1:])))
  return t1 + t2 + t3


def test_any_schedule_bound_matches_the_formula_and_the_authors_objective():
  rng = np.random.default_rng(1)
  for size in (2, 3, 17):
    lam, norms = rng.uniform(0.05, 1.0, size), rng.uniform(0.1, 3.0, size)
    ours = li.last_iterate_bound(lam, norms, 1.7)
    assert math.isclose(ours, _any_schedule_bound_by_definition(
        lam, norms, 1.7), rel_tol=1e-12)
    assert math.isclose(ours, _authors_objective(lam, norms, 1.7),
                        rel_tol=1e-12)
  # solve_bound.py's constant step: D^2/(2 n eta) + G^2 eta/2 (1 + H_{n-1}),
  # at most their theory1d = DG sqrt(2 + ln(n-1))/sqrt(n) at theory_eta.
  steps, eta = 50, schedules.constant_baseline_step(50, 1.5, 2.0)
  value = li.last_iterate_bound(np.full(steps, eta), 2.0, 1.5)
  harmonic = sum(1 / k for k in range(1, steps))
  assert math.isclose(value, 1.5 ** 2 / (2 * steps * eta)
                      + 4.0 * eta / 2 * (1 + harmonic), rel_tol=1e-12)
  assert value <= li.constant_baseline_bound(steps, 1.5, 2.0)


def test_the_last_step_is_optimised_and_the_scale_tuned():
  rng = np.random.default_rng(2)
  lam, norms = rng.uniform(0.1, 1.0, 12), rng.uniform(0.5, 2.0, 12)
  lam[-1] = 0.0
  value = li.last_iterate_bound(lam, norms, 1.2, last_step="optimal")
  best = li.best_last_step(lam, norms, 1.2)
  for factor in (0.5, 0.99, 1.01, 2.0):
    trial = lam.copy()
    trial[-1] = factor * best
    assert li.last_iterate_bound(trial, norms, 1.2) >= value * (1 - 1e-12)
  tuned = li.tuned_last_iterate_bound(lam, norms, 1.2)
  at = lam.copy()
  at[-1] = tuned.last_step
  assert math.isclose(li.last_iterate_bound(tuned.scale * at, norms, 1.2),
                      tuned.value, rel_tol=1e-10)
  for factor in np.geomspace(0.2, 5.0, 9):
    assert li.last_iterate_bound(factor * tuned.scale * lam, norms, 1.2,
                                 last_step="optimal") >= tuned.value * (
                                     1 - 1e-9)
  # The refinement bound's best scale, and its minimum D / sqrt(sum g^-2).
  weights = norms ** -2.0
  refined = li.tuned_refinement_bound(weights, norms, 1.2)
  assert math.isclose(refined.value, 1.2 / math.sqrt(np.sum(norms ** -2.0)))
  for factor in (0.5, 0.9, 1.1, 2.0):
    assert li.refinement_bound(weights, norms, 1.2, factor * refined.scale) \
        > refined.value


def test_the_two_bounds_differ_and_the_refinement_bound_is_tight():
  # The refinement bound is not the any-schedule bound at some lambda_T:
  # for linear decay at its best scale they are ~DG/sqrt(T) and ~2 DG/sqrt(T).
  steps = 100
  ones = np.ones(steps)
  tuned = li.tuned_refinement_bound(ones, 1.0)
  assert math.isclose(tuned.value, 1 / math.sqrt(steps))
  lam = li.refinement_step_sizes(ones, tuned.scale)
  general = li.last_iterate_bound(lam, 1.0, last_step="optimal")
  assert 1.9 < general * math.sqrt(steps) < 2.1
  # And the L-BFGS minimum of the any-schedule bound is close to, but below,
  # linear decay's (shape correlation > 0.999).
  optimal = li.optimal_schedule(1.0, horizon=40)
  t = np.arange(1, 41)
  linear = li.tuned_worst_case_bound(1 - t / 40).value
  assert li.last_iterate_bound(optimal, 1.0) <= linear
  assert li.last_iterate_bound(optimal, 1.0) > 0.98 * linear
  assert np.corrcoef(optimal[:-1], 1 - t[:-1] / 40)[0, 1] > 0.999
  # The gradient given to L-BFGS is the bound's gradient.
  rng = np.random.default_rng(3)
  lam, g2 = rng.uniform(0.1, 1.0, 9), rng.uniform(0.2, 2.0, 9)
  _, grad = li._bound_and_gradient(lam, g2, 1.3)
  h = 1e-6
  numeric = [(li._bound_and_gradient(lam + h * e, g2, 1.3)[0]
              - li._bound_and_gradient(lam - h * e, g2, 1.3)[0]) / (2 * h)
             for e in np.eye(9)]
  np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_bounds_hold_on_brute_force_runs_of_absolute_value():
  # f(x) = G |x| from x_1 = D (f* = 0): every schedule, both bounds.
  distance, lipschitz = 1.3, 0.8
  for steps in (2, 5, 30):
    t = np.arange(1, steps + 1)
    base = distance / (lipschitz * math.sqrt(steps))
    rng = np.random.default_rng(steps)
    weights = rng.uniform(0.1, 2.0, steps)
    plans = [(li.refinement_step_sizes(np.ones(steps), f * base),
              np.ones(steps), f * base) for f in (0.3, 1.0, 3.0)]
    plans.append((li.refinement_step_sizes(weights, base), weights, base))
    plans += [(f * base * np.ones(steps), None, None) for f in (0.5, 2.0)]
    plans.append((base * 0.5 * (1 + np.cos(np.pi * t / steps)), None, None))
    for lam, w, eta in plans:
      x, norms = distance, []
      for step in lam:
        g = lipschitz * np.sign(x)
        norms.append(abs(g))
        final, x = lipschitz * abs(x), x - step * g
      norms = np.asarray(norms)
      assert final <= li.last_iterate_bound(lam, norms, distance,
                                            last_step="optimal")
      if w is not None:
        assert final <= li.refinement_bound(w, norms, distance, eta)


# --- PEPit --------------------------------------------------------------------


def test_pepit_subgradient_example_and_linear_decay_tightness():
  pytest.importorskip("PEPit")
  # PEPit's examples/unconstrained_convex_minimization/subgradient_method.py:
  # M = 2, n = 6, gamma = 1/(M sqrt(n+1)), best iterate, tight M/sqrt(n+1).
  steps = [1 / (2 * math.sqrt(7))] * 6
  ours = li.last_iterate_worst_case(steps, 1.0, 2.0, metric="best")
  assert math.isclose(ours.value, 2 / math.sqrt(7), rel_tol=1e-5)
  from PEPit.examples.unconstrained_convex_minimization import (
      wc_subgradient_method)
  theirs, _ = wc_subgradient_method(M=2, n=6, gamma=steps[0], verbose=-1)
  assert math.isclose(ours.value, theirs, rel_tol=1e-5)
  # Linear decay at its best scale: the refinement bound DG/sqrt(T) is tight.
  for n in (2, 4):
    ones = np.ones(n + 1)
    eta = li.tuned_refinement_bound(ones, 2.0, 1.5).scale
    value = li.last_iterate_worst_case(li.refinement_step_sizes(ones, eta)[
        :-1], 1.5, 2.0).value
    assert math.isclose(value, 1.5 * 2.0 / math.sqrt(n + 1), rel_tol=1e-5)


def _pep_check(steps, bound):
  """The claim's check: the tight worst case is at most the bound."""
  from boundlab.theory.pep import SOLVER_TOLERANCE
  tight = li.last_iterate_worst_case(steps[:-1]).value
  return tight <= bound + SOLVER_TOLERANCE


def test_planted_bugs_fail_the_pepit_check():
  pytest.importorskip("PEPit")
  steps = 4
  ones = np.ones(steps)
  eta = li.tuned_refinement_bound(ones, 1.0).scale
  lam = li.refinement_step_sizes(ones, eta)
  assert _pep_check(lam, li.refinement_bound(ones, 1.0, 1.0, eta))
  # Indexing: the bound's gradient sum stops before t = T.
  dropped_last = 1 / (2 * eta * steps) + eta * (steps - 1) / (2 * steps)
  assert not _pep_check(lam, dropped_last)
  # Normaliser: the authors' shape (divided by w_T, not W) used as steps
  # with the bound written for the W normalisation.
  authors_shape = eta * schedules.refinement_weights(np.full(steps, 1.0))
  assert not _pep_check(authors_shape, li.refinement_bound(ones, 1.0, 1.0,
                                                           eta))


def test_a_planted_indexing_bug_makes_the_pepit_claim_read_violated(
    monkeypatch):
  pytest.importorskip("PEPit")
  from boundlab.claims import Records, runner
  from boundlab.paper_repro import defazio2023 as paper

  def dropped_last(weights, grad_norms, distance=1.0, scale=1.0):
    """The refinement bound with its gradient sum stopping at T - 1."""
    w = np.asarray(weights, float)
    g2 = np.broadcast_to(np.asarray(grad_norms, float) ** 2, w.shape)
    return float(distance ** 2 / (2 * scale * w.sum())
                 + scale * np.sum((w ** 2 * g2)[:-1]) / (2 * w.sum()))

  config = dict(paper._PEP.config(True), num_steps=[3])
  judge = lambda: runner.judge(paper.PEP_BELOW_BOUND, config, Records(
      paper._PEP.measure(config, [0, 1]), [0, 1]))[0].outcome.value
  assert judge() == "holds"
  monkeypatch.setattr(li, "refinement_bound", dropped_last)
  assert judge() == "violated"


def test_pepit_is_imported_only_when_a_worst_case_is_asked(monkeypatch):
  # No module-level import of PEPit or cvxpy in these modules ...
  import ast
  import boundlab.paper_repro.defazio2023 as paper
  import boundlab.theory.pep as pep
  for module in (li, schedules, paper, pep):
    tree = ast.parse(open(module.__file__).read())
    for node in tree.body:
      names = ([a.name for a in node.names] if isinstance(node, ast.Import)
               else [node.module or ""] if isinstance(node, ast.ImportFrom)
               else [])
      assert not any(n.split(".")[0] in ("PEPit", "cvxpy") for n in names)
  # ... and without PEPit, asking for a worst case names the extra.
  monkeypatch.setitem(sys.modules, "PEPit", None)
  with pytest.raises(ImportError, match=r"boundlab\[pep\]"):
    li.last_iterate_worst_case([0.5])


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize("call,name", [
    (lambda: li.last_iterate_bound([1.0, -0.1], 1.0), "schedule"),
    (lambda: li.last_iterate_bound([1.0, 0.0], 1.0), "schedule"),
    (lambda: li.last_iterate_bound([1.0], 1.0), "schedule"),
    (lambda: li.last_iterate_bound([1.0, 1.0], [1.0, 2.0, 3.0]), "grad_norms"),
    (lambda: li.last_iterate_bound([1.0, 1.0], 1.0, 0.0), "distance"),
    (lambda: li.last_iterate_bound([1.0, 1.0], 1.0, last_step="x"),
     "last_step"),
    (lambda: li.tuned_worst_case_bound([1.0, 0.0], lipschitz=-1.0),
     "lipschitz"),
    (lambda: li.constant_baseline_bound(1), "horizon"),
    (lambda: li.refinement_bound([0.0, 0.0], 1.0), "weights"),
    (lambda: li.refinement_step_sizes([1.0, 1.0], scale=0.0), "scale"),
    (lambda: li.optimal_schedule(1.0), "horizon"),
    (lambda: li.last_iterate_worst_case([-1.0]), "steps"),
    (lambda: li.last_iterate_worst_case([1.0], metric="mean"), "metric"),
    (lambda: schedules.linear_decay_schedule(0.0, 10), "scale"),
    (lambda: schedules.cosine_schedule(1.0, 0), "total_steps"),
    (lambda: schedules.polynomial_decay_schedule(1.0, 10, -1.0), "power"),
    (lambda: schedules.step_decay_schedule(1.0, 10, boundaries=(0.6, 0.3)),
     "boundaries"),
    (lambda: schedules.step_decay_schedule(1.0, 10, factor=1.5), "factor"),
    (lambda: schedules.constant_baseline_step(1), "total_steps"),
    (lambda: schedules.median_filter_norms([1.0, 2.0], 1.5), "fraction"),
    (lambda: schedules.refinement_weights([1.0, 0.0]), "grad_norms"),
    (lambda: schedules.refinement_weights([1.0, 2.0], weights=[1.0]),
     "weights"),
    (lambda: schedules.schedule_values(3.0, 5), "schedule"),
])
def test_bad_input_names_the_parameter(call, name):
  with pytest.raises(ValueError, match=name):
    call()


# --- the claims, end to end ---------------------------------------------------


def test_the_claims_run_in_quick_mode(tmp_path):
  pytest.importorskip("PEPit")
  from boundlab.claims import runner
  from boundlab.paper_repro import defazio2023
  runs = runner.run_claims(defazio2023.CLAIMS, tmp_path, quick=True)
  verdicts = {run.claim.id: run.verdict for run in runs}
  assert len(verdicts) == 5
  for claim_id, verdict in verdicts.items():
    assert verdict.outcome.value == "holds", (claim_id, verdict.notes)
    assert (tmp_path / verdict.figure).stat().st_size > 1000
  # The refinement bound is attained by PEPit for linear decay: the ratio
  # sits at 1, not far below it.
  pep = verdicts["defazio2023.tight_worst_case_below_bounds"]
  assert abs(pep.measured - 1) < 1e-5
