"""The machinery that turns measurements into verdicts, against independent
oracles: :func:`decide` (brute force over the points of the intervals),
:func:`holm_survivors` (Holm-adjusted p-values), :func:`all_instances_failure_bound`
(the Clopper-Pearson bound, ``scipy.stats.beta``) and
:func:`boundlab.claims.runner.violation_p_value` (``scipy.stats.ttest_1samp``).

Reading of the decision rule (module docstring of :mod:`.verdict`) as a
statement about points: ``x`` ranges over the measured interval ``[lo, hi]``,
``b`` over the bound's interval ``[b_lo, b_hi]``, and a pair satisfies the
relation when ``x <= b + slack`` (``<=``), ``x >= b - slack`` (``>=``) or
``|x - b| <= tol`` (``approx``).

* ``<=`` / ``>=`` hold iff *every* pair satisfies the relation, and are
  violated iff *no* pair does. This is exactly the docstring's rule
  (``hi <= b_lo + slack`` / ``lo > b_hi + slack``), equality included: a
  measured interval that touches the slackened bound is not violated.
* ``approx`` is violated iff no pair satisfies it (the docstring's
  "disjoint"). It holds, by the docstring, iff ``[lo, hi]`` lies inside
  ``[b_lo - tol, b_hi + tol]``: every ``x`` is within ``tol`` of *some*
  ``b`` (for all x, exists b). The stricter "every pair" reading (for all x
  and all b) differs when the bound is an estimated interval wider than
  ``2 tol``; with a point bound the two coincide. The oracle follows the
  docstring, and ``test_approx_holds_is_for_every_x_some_b`` pins the
  difference down.
"""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.stats
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from boundlab.claims import (Bound, Claim, Evaluation, Experiment, Outcome,
                             Paper, Records, Relation, decide)
from boundlab.claims import runner
from boundlab.claims.verdict import (all_instances_failure_bound,
                                     holm_survivors)
from boundlab.theory.statistics import mean_ci

LE, GE, APPROX = Relation.LE, Relation.GE, Relation.APPROX

# --- decide: a brute-force oracle -------------------------------------------

# Every value and tolerance is a multiple of 1/4 in [-16, 16] (tolerances in
# [0, 4]): float64 sums of them are exact, so the oracle and decide do the
# same arithmetic exactly, and equality cases (hi == b_lo + slack, ...) are
# real equalities. The oracle enumerates every point of the 1/8 grid inside
# each interval, endpoints included; that is exact for closed intervals with
# quarter-grid ends: the relations are linear in (x, b), so their extremes are
# at endpoints (on the grid), and the point of [b_lo, b_hi] nearest to an x
# of the 1/8 grid is x or an endpoint (on the grid too).
_STEP = 0.125


def _points(lo, hi):
  return np.arange(round(lo / _STEP), round(hi / _STEP) + 1) * _STEP


def _pair_ok(relation, x, b, tol):
  """Which (x, b) pairs satisfy the relation: a (len(x), len(b)) table."""
  x, b = x[:, None], b[None, :]
  if relation is LE:
    return x <= b + tol
  if relation is GE:
    return x >= b - tol
  return np.abs(x - b) <= tol


def _oracle(relation, ci, bound_ci, tol):
  if any(math.isnan(v) for v in (*ci, *bound_ci)):
    return Outcome.INCONCLUSIVE
  ok = _pair_ok(relation, _points(*ci), _points(*bound_ci), tol)
  if relation is APPROX:
    holds = ok.any(axis=1).all()      # every x near some b (the docstring)
  else:
    holds = ok.all()                  # every x against every b
  violated = not ok.any()             # no pair at all
  assert not (holds and violated)
  if holds:
    return Outcome.HOLDS
  return Outcome.VIOLATED if violated else Outcome.INCONCLUSIVE


_quarter = st.integers(-64, 64).map(lambda k: k / 4)
_tolerance = {"zero": st.just(0.0),
              "positive": st.integers(1, 16).map(lambda k: k / 4)}


@st.composite
def _case(draw, tol_kind, bound_kind):
  """(ci, bound_ci, tol); the ends of ci are often placed at the decision
  thresholds b_lo +- tol, b_hi +- tol (or a quarter step off them), so that
  equality cases are drawn, not only hoped for."""
  tol = draw(_tolerance[tol_kind])
  b_lo = draw(st.integers(-32, 32).map(lambda k: k / 4))
  width = 0.0 if bound_kind == "point" else draw(
      st.integers(1, 24).map(lambda k: k / 4))
  b_hi = b_lo + width
  anchors = [b_lo - tol, b_lo, b_lo + tol, b_hi - tol, b_hi, b_hi + tol]
  end = st.one_of(
      _quarter,
      st.tuples(st.sampled_from(anchors), st.sampled_from([-0.25, 0.0, 0.25]))
      .map(sum))
  lo, hi = sorted((draw(end), draw(end)))
  return (lo, hi), (b_lo, b_hi), tol


@pytest.mark.parametrize("bound_kind", ["point", "interval"])
@pytest.mark.parametrize("tol_kind", ["zero", "positive"])
@pytest.mark.parametrize("relation", [LE, GE, APPROX])
@settings(max_examples=300)
@given(data=st.data())
def test_decide_matches_brute_force_oracle(relation, tol_kind, bound_kind,
                                           data):
  ci, bound_ci, tol = data.draw(_case(tol_kind, bound_kind))
  assert decide(relation, ci, bound_ci, tol) is _oracle(relation, ci,
                                                        bound_ci, tol)
  # The relation may be given by its value, as claims' modules write it.
  assert decide(relation.value, ci, bound_ci, tol) is decide(
      relation, ci, bound_ci, tol)


def test_decide_matches_oracle_on_an_exhaustive_small_grid():
  """Every ordered interval with ends in {-1, -1/2, 0, 1/2, 1}, every
  relation, tolerance 0, 1/4, 1/2, 1: all boundary cases at once."""
  ends = [-1.0, -0.5, 0.0, 0.5, 1.0]
  intervals = [(a, b) for a in ends for b in ends if a <= b]
  for relation, ci, bound_ci, tol in itertools.product(
      [LE, GE, APPROX], intervals, intervals, [0.0, 0.25, 0.5, 1.0]):
    assert decide(relation, ci, bound_ci, tol) is _oracle(
        relation, ci, bound_ci, tol), (relation, ci, bound_ci, tol)


@settings(max_examples=300)
@given(relation=st.sampled_from([LE, GE, APPROX]),
       tol_kind=st.sampled_from(["zero", "positive"]),
       bound_kind=st.sampled_from(["point", "interval"]),
       nan_at=st.sets(st.integers(0, 3), min_size=1), data=st.data())
def test_nan_anywhere_is_inconclusive(relation, tol_kind, bound_kind, nan_at,
                                      data):
  ci, bound_ci, tol = data.draw(_case(tol_kind, bound_kind))
  values = [math.nan if i in nan_at else v
            for i, v in enumerate((*ci, *bound_ci))]
  assert decide(relation, tuple(values[:2]), tuple(values[2:]),
                tol) is Outcome.INCONCLUSIVE


@pytest.mark.parametrize("relation", [LE, GE, APPROX])
@pytest.mark.parametrize("position", range(4))
def test_a_single_nan_is_inconclusive_where_the_rest_would_decide(relation,
                                                                  position):
  """One NaN, the other three ends chosen so that the comparisons that do not
  read the NaN would decide (NaN compares false, so only an explicit check
  makes these inconclusive)."""
  n = None  # the NaN's place
  cases = {  # (lo, hi, b_lo, b_hi) per NaN position
      LE: [(n, -1, 0, 0), (2, n, 0, 0), (2, 3, n, 0), (-2, -1, 0, n)],
      GE: [(n, -1, 0, 0), (1, n, 0, 0), (1, 2, n, 0), (-2, -1, 0, n)],
      APPROX: [(n, -5, 0, 0), (5, n, 0, 0), (5, 6, n, 0), (-6, -5, 0, n)],
  }[relation][position]
  values = [math.nan if v is None else float(v) for v in cases]
  assert math.isnan(values[position])
  assert decide(relation, tuple(values[:2]), tuple(values[2:]),
                0.0) is Outcome.INCONCLUSIVE


H, V, I = Outcome.HOLDS, Outcome.VIOLATED, Outcome.INCONCLUSIVE


@pytest.mark.parametrize("relation, ci, bound_ci, tol, expected", [
    # <=, point bound 0: touching from below holds, touching from above is
    # not a violation.
    (LE, (-1.0, 0.0), (0.0, 0.0), 0.0, H),
    (LE, (0.0, 0.0), (0.0, 0.0), 0.0, H),
    (LE, (0.0, 1.0), (0.0, 0.0), 0.0, I),
    (LE, (np.nextafter(0.0, 1.0), 1.0), (0.0, 0.0), 0.0, V),
    (LE, (-1.0, np.nextafter(0.0, 1.0)), (0.0, 0.0), 0.0, I),
    # <= with slack 1/2: the slack is added once, not twice.
    (LE, (-1.0, 0.5), (0.0, 0.0), 0.5, H),
    (LE, (-1.0, 0.75), (0.0, 0.0), 0.5, I),
    (LE, (0.5, 1.0), (0.0, 0.0), 0.5, I),
    (LE, (0.75, 2.0), (0.0, 0.0), 0.5, V),
    (LE, (1.0, 2.0), (0.0, 0.0), 0.5, V),
    # <= against an estimated bound: holds against its low end, violated
    # only beyond its high end.
    (LE, (-1.0, 0.5), (0.0, 1.0), 0.5, H),
    (LE, (-1.0, 0.75), (0.0, 1.0), 0.5, I),
    (LE, (1.5, 2.0), (0.0, 1.0), 0.5, I),
    (LE, (1.75, 2.0), (0.0, 1.0), 0.5, V),
    # >= mirror image; lo == b_hi - slack holds (>=, not >).
    (GE, (0.0, 1.0), (0.0, 0.0), 0.0, H),
    (GE, (-0.5, 1.0), (0.0, 0.0), 0.5, H),
    (GE, (-0.5, 1.0), (-1.0, 0.0), 0.5, H),
    (GE, (-0.75, 1.0), (0.0, 0.0), 0.5, I),
    (GE, (-1.0, -0.5), (0.0, 0.0), 0.5, I),
    (GE, (-2.0, -0.75), (0.0, 0.0), 0.5, V),
    (GE, (-1.0, 0.0), (0.0, 0.0), 0.0, I),
    (GE, (-1.0, np.nextafter(0.0, -1.0)), (0.0, 0.0), 0.0, V),
    # approx, tolerance 1/2 around [0, 1]: inside holds, touching is not a
    # violation, disjoint is.
    (APPROX, (-0.5, 1.5), (0.0, 1.0), 0.5, H),
    (APPROX, (-0.75, 1.5), (0.0, 1.0), 0.5, I),
    (APPROX, (1.5, 2.0), (0.0, 1.0), 0.5, I),
    (APPROX, (-2.0, -0.5), (0.0, 1.0), 0.5, I),
    (APPROX, (1.25, 2.0), (0.0, 1.0), 0.5, I),
    (APPROX, (-2.0, -0.25), (0.0, 1.0), 0.5, I),
    (APPROX, (1.75, 2.0), (0.0, 1.0), 0.5, V),
    (APPROX, (-2.0, -0.75), (0.0, 1.0), 0.5, V),
    (APPROX, (0.0, 0.0), (0.0, 0.0), 0.0, H),
    (APPROX, (0.0, 1.0), (0.0, 0.0), 0.0, I),
    (APPROX, (1.0, 1.0), (0.0, 0.0), 0.0, V),
    # Infinite intervals never decide a holds.
    (LE, (-math.inf, math.inf), (0.0, 0.0), 0.0, I),
    (GE, (-math.inf, math.inf), (0.0, 0.0), 0.0, I),
    (APPROX, (-math.inf, math.inf), (0.0, 0.0), 1.0, I),
])
def test_decide_at_the_boundaries(relation, ci, bound_ci, tol, expected):
  assert decide(relation, ci, bound_ci, tol) is expected
  if all(math.isfinite(v) for v in (*ci, *bound_ci)) and all(
      v == round(v * 8) / 8 for v in (*ci, *bound_ci)):
    assert _oracle(relation, ci, bound_ci, tol) is expected


def test_approx_holds_is_for_every_x_some_b():
  """The docstring's approx rule (inside [b_lo - tol, b_hi + tol]) versus
  the stricter "every x against every b": they differ once the bound's
  interval is wider than 2 tol. decide follows the docstring."""
  ci, bound_ci, tol = (-0.25, 0.25), (0.0, 1.0), 0.5
  assert decide(APPROX, ci, bound_ci, tol) is Outcome.HOLDS
  every_pair = _pair_ok(APPROX, _points(*ci), _points(*bound_ci), tol).all()
  assert not every_pair         # |-0.25 - 1| > 0.5: the stricter reading
  # With a point bound the two readings agree (every case of a small grid).
  ends = [k / 4 for k in range(-6, 7)]
  for lo, hi, b, t in itertools.product(ends, ends, ends, [0.0, 0.25, 0.5]):
    if lo <= hi:
      ok = _pair_ok(APPROX, _points(lo, hi), np.array([b]), t)
      assert ok.any(axis=1).all() == ok.all()


# --- holm_survivors ---------------------------------------------------------

def _holm_oracle(p_values, family_size, fwer):
  """Holm-adjusted p-values in exact rationals, p_adj_(i) = max_{j <= i}
  min(1, (m - j + 1) p_(j)), over the whole family: the given p-values and
  ``family_size - len(p_values)`` others at 1 (the docstring: they are above
  every threshold). Reject where p_adj <= fwer."""
  family = [(key, Fraction(p)) for key, p in p_values.items()]
  family += [(None, Fraction(1))] * (family_size - len(p_values))
  family.sort(key=lambda kv: kv[1])
  m, running, rejected = family_size, Fraction(0), set()
  for j, (key, p) in enumerate(family, start=1):
    running = max(running, min(Fraction(1), (m - j + 1) * p))
    if running <= Fraction(fwer) and key is not None:
      rejected.add(key)
  return rejected


def _near_a_threshold(p_values, family_size, fwer):
  """Whether some k p is within 1e-9 (relative) of fwer for k <= m: there the
  float comparison ``p <= fwer / k`` and the exact ``k p <= fwer`` may round
  apart, and neither reading is wrong."""
  return any(abs(k * Fraction(p) - Fraction(fwer)) <= Fraction(fwer) * 1e-9
             for p in p_values.values() for k in range(1, family_size + 1))


@st.composite
def _holm_case(draw):
  size = draw(st.integers(0, 12))
  family_size = size + draw(st.integers(0, 30))
  assume(family_size >= 1)
  fwer = draw(st.sampled_from([0.01, 0.05, 0.1, 0.2]))
  # Half of the p-values sit just off a threshold fwer / k (one part in a
  # thousand above or below), where an off-by-one in k shows.
  anchored = st.tuples(st.integers(1, family_size + 1),
                       st.sampled_from([0.999, 1.001])).map(
                           lambda kd: fwer / kd[0] * kd[1])
  ps = draw(st.lists(st.one_of(st.floats(0, 1), anchored), min_size=size,
                     max_size=size))
  return {f"c{i}": p for i, p in enumerate(ps)}, family_size, fwer


@settings(max_examples=500)
@given(case=_holm_case())
def test_holm_matches_adjusted_p_values(case):
  p_values, family_size, fwer = case
  assume(not _near_a_threshold(p_values, family_size, fwer))
  assert holm_survivors(p_values, family_size, fwer) == _holm_oracle(
      p_values, family_size, fwer)


@settings(max_examples=200)
@given(case=_holm_case(), extra=st.integers(0, 10))
def test_holm_is_monotone_in_the_family_size(case, extra):
  p_values, family_size, fwer = case
  survivors = holm_survivors(p_values, family_size, fwer)
  assert survivors <= {k for k, p in p_values.items() if p <= fwer}
  assert holm_survivors(p_values, family_size + extra, fwer) <= survivors


@pytest.mark.parametrize("p_values, m, fwer, expected", [
    ({"a": 0.01, "b": 0.02, "c": 0.03}, 4, 0.05, {"a"}),  # 0.02 > 0.05/3
    ({"a": 0.01, "b": 0.02, "c": 0.03}, 3, 0.05, {"a", "b", "c"}),
    ({"a": 0.0125, "b": 0.0166}, 4, 0.05, {"a", "b"}),   # <= is inclusive
    ({"a": 0.0126}, 4, 0.05, set()),
    ({"a": 0.03, "b": 0.001}, 2, 0.05, {"a", "b"}),      # order of the dict
    ({"a": 0.05}, 1, 0.05, {"a"}),
    ({"a": 0.02, "b": 0.02}, 3, 0.05, set()),            # ties fail together
    ({"a": 0.02, "b": 0.02}, 2, 0.05, {"a", "b"}),
    ({}, 5, 0.05, set()),
])
def test_holm_examples(p_values, m, fwer, expected):
  assert holm_survivors(p_values, m, fwer) == expected
  assert _holm_oracle(p_values, m, fwer) == expected


def test_holm_rejects_a_family_smaller_than_its_p_values():
  with pytest.raises(ValueError, match="family_size"):
    holm_survivors({"a": 0.01, "b": 0.02}, 1)
  assert holm_survivors({"a": 0.01, "b": 0.02}, 2) == {"a", "b"}


# --- all_instances_failure_bound ----------------------------------------------

@pytest.mark.parametrize("alpha", [1e-6, 0.01, 0.05, 0.1, 0.5, 0.9])
@pytest.mark.parametrize("instances", [1, 2, 3, 4, 8, 16, 100, 1000, 10**6])
def test_failure_bound_is_clopper_pearson_for_zero_failures(instances, alpha):
  bound = all_instances_failure_bound(instances, alpha)
  # Beta(1, N) is the Clopper-Pearson upper limit after 0 failures of N.
  assert bound == pytest.approx(scipy.stats.beta.ppf(1 - alpha, 1, instances),
                                rel=1e-9)
  # Its defining equation: no failure in N draws has probability alpha.
  assert math.exp(instances * math.log1p(-bound)) == pytest.approx(alpha,
                                                                   rel=1e-9)
  assert 0 < bound < 1


@settings(max_examples=200)
@given(instances=st.integers(1, 10**7), alpha=st.floats(1e-9, 1 - 1e-9))
def test_failure_bound_matches_beta_ppf(instances, alpha):
  assert all_instances_failure_bound(instances, alpha) == pytest.approx(
      scipy.stats.beta.ppf(1 - alpha, 1, instances), rel=1e-8)


@pytest.mark.parametrize("instances", [100, 300, 1000, 10**4, 10**6])
def test_failure_bound_is_the_rule_of_three(instances):
  bound = all_instances_failure_bound(instances, 0.05)
  c = -math.log(0.05)                   # 2.9957..., "3"
  assert abs(c - 3) < 0.005
  # 1 - exp(-c/N) lies in [c/N - (c/N)^2 / 2, c/N].
  assert c / instances - (c / instances) ** 2 / 2 <= bound <= c / instances
  assert bound * instances == pytest.approx(3, rel=0.02)


def test_failure_bound_rejects_bad_arguments():
  for instances, alpha in [(0, 0.05), (-1, 0.05), (4, 0.0), (4, 1.0),
                           (4, -0.1)]:
    with pytest.raises(ValueError):
      all_instances_failure_bound(instances, alpha)


# --- violation_p_value --------------------------------------------------------

PAPER = Paper(key="test", title="t", authors="a", arxiv="0000.00000",
              version="v1")


def _t_interval_scipy(x, alpha):
  x = np.asarray(x, dtype=float)
  m = float(x.mean())
  se = float(scipy.stats.sem(x))
  return m, scipy.stats.t.interval(1 - alpha, len(x) - 1, loc=m, scale=se)


def _t_interval_boundlab(x, alpha):
  return mean_ci(x, alpha)


def _mean_claim(relation, interval, *, false_fail_rate=0.05, tolerance=0.0):
  def evaluate(config, records, alpha):
    m, ci = interval(records["x"], alpha)
    return Evaluation(m, tuple(float(c) for c in ci))
  experiment = Experiment("test.runs", lambda quick: {},
                          lambda config, seeds: [], seeds=2, quick_seeds=2)
  return Claim(id="test.mean", paper=PAPER, statement="s", measurement="m",
               bound=Bound("zero", 0, PAPER.cite("Eq. 1")), relation=relation,
               experiment=experiment, evaluate=evaluate,
               false_fail_rate=false_fail_rate, evidence="statistical",
               tolerance=tolerance,
               tolerance_reason="test: a declared slack" if tolerance else "")


def _records(x):
  return Records([{"x": float(v), "diverged_at": -1} for v in x])


def _sample(n, shift, seed):
  return np.random.default_rng(seed).normal(shift, 1.0, n)


# (n, shift, seed): two-sided t-test p-values from 7e-7 to 0.017.
_SAMPLES = [(3, 3.0, 0), (4, 3.0, 1), (5, 3.0, 2), (8, 2.0, 3), (8, 3.0, 4),
            (16, 0.8, 5), (16, 2.0, 6), (30, 1.0, 7)]


@pytest.mark.parametrize("interval", [_t_interval_scipy, _t_interval_boundlab])
@pytest.mark.parametrize("n, shift, seed", _SAMPLES)
@pytest.mark.parametrize("relation", [LE, GE])
def test_violation_p_value_is_the_two_sided_t_test(relation, n, shift, seed,
                                                   interval):
  """``<=`` 0 is violated at rate alpha iff the (1 - alpha) t interval's
  lower end is above 0, i.e. t > t_{1 - alpha/2, n-1}: the bisection finds
  alpha* = 2 (1 - T_{n-1}(t)), the two-sided one-sample t-test's p-value
  (``>=`` mirrors it for a negative mean)."""
  x = _sample(n, shift, seed) * (1 if relation is LE else -1)
  expected = scipy.stats.ttest_1samp(x, 0.0).pvalue
  assert 1e-12 < expected < 0.05
  claim = _mean_claim(relation, interval)
  p = runner.violation_p_value(claim, {}, _records(x))
  # The bisection's relative resolution is (0.05 / 1e-12)^(2^-40) - 1 ~ 2e-11.
  assert p == pytest.approx(expected, rel=1e-6)
  verdict, _ = runner.judge(claim, {}, _records(x))
  assert verdict.outcome is Outcome.VIOLATED
  assert verdict.p_value == pytest.approx(expected, rel=1e-6)


def test_violation_p_value_outside_the_bracket():
  claim = _mean_claim(LE, _t_interval_scipy)
  # Not violated at the claim's rate: the rate itself, and no p-value on a
  # verdict that holds or is inconclusive.
  x = _sample(8, 0.1, 0)
  assert scipy.stats.ttest_1samp(x, 0.0).pvalue > 0.05
  assert runner.violation_p_value(claim, {}, _records(x)) == 0.05
  verdict, _ = runner.judge(claim, {}, _records(x))
  assert verdict.outcome is not Outcome.VIOLATED and verdict.p_value is None
  # Violated even at the smallest rate searched.
  x = 100.0 + np.linspace(-1e-3, 1e-3, 8)
  assert scipy.stats.ttest_1samp(x, 0.0).pvalue < 1e-12
  assert runner.violation_p_value(claim, {}, _records(x)) == 1e-12
  # A claim at rate 0.01 reports the same p-value as at 0.05 when it is
  # violated at both.
  x = _sample(16, 2.0, 6)
  p01 = runner.violation_p_value(
      _mean_claim(LE, _t_interval_scipy, false_fail_rate=0.01), {},
      _records(x))
  assert p01 == pytest.approx(runner.violation_p_value(claim, {}, _records(x)),
                              rel=1e-6)


@pytest.mark.parametrize("n, shift, seed", [_SAMPLES[i] for i in (3, 4, 6)])
def test_violation_p_value_uses_the_claims_slack(n, shift, seed):
  """With slack s, ``<=`` 0 is violated iff the lower end exceeds s: the
  p-value is the t-test's against s, not against 0."""
  slack = 0.25
  x = _sample(n, shift, seed)
  expected = scipy.stats.ttest_1samp(x, slack).pvalue
  assert 1e-12 < expected < 0.05
  claim = _mean_claim(LE, _t_interval_scipy, tolerance=slack)
  p = runner.violation_p_value(claim, {}, _records(x))
  assert p == pytest.approx(expected, rel=1e-6)
