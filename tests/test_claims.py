"""The claims framework: bounds, the decision rule, records, claims, the runner
and the cache."""

import json
import math

import mpmath
import numpy as np
import pytest
import scipy.stats
import sympy
from hypothesis import given
from hypothesis import strategies as st

from boundlab import _jsonio
from boundlab.claims import (Bound, Claim, Evaluation, Evidence, Experiment,
                             Outcome, Paper, Records, Relation, decide)
from boundlab.claims import runner
from boundlab.claims.cache import CellCache

PAPER = Paper(key="test", title="t", authors="a", arxiv="0000.00000",
              version="v1")


def _bound(expression=0, **kwargs):
  return Bound("b", expression, PAPER.cite("Eq. 1"), **kwargs)


def _claim(evaluate, *, bound=None, experiment=None, evidence="exact",
           **kwargs):
  # The evaluations below are fixed numbers, not intervals at level
  # 1 - alpha: "exact" unless a test says otherwise.
  experiment = experiment or Experiment(
      "test.runs", lambda quick: {}, lambda config, seeds: [
          {"x": float(s)} for s in seeds], seeds=2, quick_seeds=2)
  return Claim(id="test.claim", paper=PAPER, statement="s", measurement="m",
               bound=bound or _bound(), relation=Relation.LE,
               experiment=experiment, evaluate=evaluate, evidence=evidence,
               **kwargs)


# --- Bound ------------------------------------------------------------------

@given(d_f=st.floats(0, 1e3), g=st.floats(1e-3, 1e3), c=st.floats(1e-3, 1e2),
       t=st.integers(1, 10**9), bbar=st.floats(-1, 1))
def test_rate_bound_matches_an_mpmath_oracle(d_f, g, c, t, bbar):
  from boundlab.paper_repro import chen2020
  value = chen2020.RATE_BOUND.evaluate(D_f=d_f, G=g, c=c, T=t, bbar=bbar)
  with mpmath.workdps(50):
    oracle = ((mpmath.mpf(d_f) + mpmath.mpf(g) * mpmath.mpf(c)**2 / 2) /
              mpmath.sqrt(t) + mpmath.mpf(bbar))
  # sympy evaluates at 30 digits, then rounds to float64: 1 ulp, plus
  # cancellation when bbar ~ -rest (absolute term).
  assert value == pytest.approx(float(oracle), rel=4e-16, abs=1e-15)


def test_bound_requires_every_symbol_and_renders_latex():
  b = _bound(sympy.Symbol("a") / sympy.Symbol("b"))
  with pytest.raises(ValueError, match=r"needs values for \['b'\]"):
    b.evaluate(a=1.0)
  assert b.latex() == r"\frac{a}{b}"
  assert b.symbols == ("a", "b")


def test_bound_substitutes_symbols_with_assumptions():
  # A symbol declared positive is not Symbol("k"): substitution is by name.
  k = sympy.Symbol("k", positive=True, integer=True)
  assert _bound(sympy.Max(1, k - 1)).evaluate(k=3) == 2.0
  assert _bound(sympy.Max(1, k - 1)).evaluate(k=1) == 1.0
  assert _bound(k / 2).evaluate(k=3) == 1.5


def test_bound_value_takes_constants_from_config_and_the_evaluation():
  n, k = sympy.symbols("N K", positive=True)
  b = _bound(1 / sympy.sqrt(n) + k, constants=lambda c: {"N": c["n"]},
             from_evaluation=("K",))
  assert b.value({"n": 256}, {"K": 1.0}) == 1.0625
  with pytest.raises(ValueError, match=r"takes \['K'\] from the evaluation"):
    b.value({"n": 256}, {})
  with pytest.raises(ValueError, match="takes"):
    b.value({"n": 256}, {"K": 1.0, "N": 4.0})
  clash = _bound(n, constants=lambda c: {"N": 1.0}, from_evaluation=("N",))
  with pytest.raises(ValueError, match="both"):
    clash.value({}, {"N": 2.0})


# --- The decision rule -------------------------------------------------------

@pytest.mark.parametrize("relation,ci,bound,tol,expected", [
    (Relation.LE, (0.1, 0.2), (0.3, 0.3), 0.0, Outcome.HOLDS),
    (Relation.LE, (0.4, 0.5), (0.3, 0.3), 0.0, Outcome.VIOLATED),
    (Relation.LE, (0.2, 0.4), (0.3, 0.3), 0.0, Outcome.INCONCLUSIVE),
    (Relation.LE, (0.2, 0.35), (0.3, 0.3), 0.05, Outcome.HOLDS),
    (Relation.LE, (0.1, 0.2), (0.15, 0.5), 0.0, Outcome.INCONCLUSIVE),
    (Relation.GE, (0.4, 0.5), (0.3, 0.3), 0.0, Outcome.HOLDS),
    (Relation.GE, (0.1, 0.2), (0.3, 0.3), 0.0, Outcome.VIOLATED),
    (Relation.APPROX, (0.49, 0.51), (0.5, 0.5), 0.02, Outcome.HOLDS),
    (Relation.APPROX, (0.6, 0.7), (0.5, 0.5), 0.02, Outcome.VIOLATED),
    (Relation.APPROX, (0.45, 0.55), (0.5, 0.5), 0.02, Outcome.INCONCLUSIVE),
    (Relation.LE, (math.nan, 0.2), (0.3, 0.3), 0.0, Outcome.INCONCLUSIVE),
])
def test_decision_rule(relation, ci, bound, tol, expected):
  assert decide(relation, ci, bound, tol) is expected


# --- Records -----------------------------------------------------------------

def test_records_stack_fields_cells_and_missing_values():
  raw = [{"tau": {"16": 3, "32": -1}, "cells": [{"a": 1.0, "s": "x"},
                                                  {"a": 2.0, "s": "y"}],
          "curve": [1.0, None], "diverged_at": -1},
         {"tau": {"16": 5, "32": 7}, "cells": [{"a": 3.0, "s": "x"},
                                                 {"a": 4.0, "s": "y"}],
          "curve": [2.0, 3.0], "diverged_at": 9}]
  records = Records(raw, seeds=[10, 11])
  assert len(records) == 2 and records.seeds == (10, 11)
  np.testing.assert_array_equal(records["tau"]["32"], [-1, 7])
  np.testing.assert_array_equal(records["cells"]["a"], [[1.0, 2.0],
                                                         [3.0, 4.0]])
  assert records["cells"]["s"].tolist() == [["x", "y"], ["x", "y"]]
  assert np.isnan(records["curve"][0, 1]) and records["curve"][1, 1] == 3.0
  np.testing.assert_array_equal(records.diverged_at, [-1, 9])
  odd = records[1::2]
  assert len(odd) == 1 and odd.seeds == (11,)
  np.testing.assert_array_equal(odd["tau"]["16"], [5])
  assert records.raw[0] is raw[0]


def test_records_without_divergence_field_and_bad_shapes():
  np.testing.assert_array_equal(Records([{"x": 1}, {"x": 2}]).diverged_at,
                                [-1, -1])
  with pytest.raises(ValueError, match=r"records\['x'\]"):
    Records([{"x": [1.0, 2.0]}, {"x": [1.0]}])
  with pytest.raises(ValueError, match="keys"):
    Records([{"x": 1}, {"y": 1}])
  with pytest.raises(ValueError, match="3 cells"):
    Records([{"c": [{"a": 1}] * 3}, {"c": [{"a": 1}] * 2}])


# --- Claims ------------------------------------------------------------------

def test_claim_and_experiment_validation():
  evaluate = lambda config, records, alpha: Evaluation(0.0, (0.0, 0.0))
  with pytest.raises(ValueError, match="paper.snake_case"):
    _claim(evaluate).__class__(**{**_claim(evaluate).__dict__, "id": "Bad"})
  with pytest.raises(ValueError, match="tolerance_reason"):
    _claim(evaluate, tolerance=0.1)
  with pytest.raises(ValueError, match="tolerance must be in \\[0, inf\\)"):
    _claim(evaluate, tolerance=math.nan, tolerance_reason="x")
  with pytest.raises(ValueError, match="false_fail_rate"):
    _claim(evaluate, false_fail_rate=1.0)
  with pytest.raises(ValueError, match="must be an Experiment"):
    _claim(evaluate, experiment="test.runs")
  with pytest.raises(ValueError, match=">= 2"):
    Experiment("test.runs", dict, list, seeds=1)
  with pytest.raises(ValueError, match="lower snake_case"):
    Paper(key="Chen2020", title="t", authors="a", arxiv="1", version="v1")
  with pytest.raises(ValueError, match="declare its evidence"):
    _claim(evaluate, evidence=None)
  with pytest.raises(ValueError, match="evidence must be one of"):
    _claim(evaluate, evidence="anecdotal")
  assert _claim(evaluate, evidence="all-instances").evidence is \
      Evidence.ALL_INSTANCES


def test_evidence_kinds_in_the_verdict():
  # all-instances: the seeds are the instances unless the evaluation counts.
  claim = _claim(lambda c, r, a: Evaluation(0.0, (-1.0, 0.0)),
                 evidence="all-instances")
  verdict, _ = runner.judge(claim, {}, _records(4))
  assert verdict.instances == 4 and verdict.failure_probability_bound == \
      pytest.approx(1 - 0.05 ** (1 / 4))
  claim = _claim(lambda c, r, a: Evaluation(0.0, (-1.0, 0.0), instances=40),
                 evidence="all-instances")
  assert runner.judge(claim, {}, _records(4))[0].instances == 40
  # non-rejection: the evaluation must say what the test would detect.
  silent = _claim(lambda c, r, a: Evaluation(0.0, (0.0, 0.0)),
                  evidence="non-rejection")
  with pytest.raises(ValueError, match="detectable_effect"):
    runner.judge(silent, {}, _records())
  stated = _claim(lambda c, r, a: Evaluation(0.0, (0.0, 0.0),
                                             detectable_effect=0.3),
                  evidence="non-rejection")
  assert runner.judge(stated, {}, _records())[0].detectable_effect == 0.3
  # statistical, violated: a p-value from intervals at smaller alpha (here
  # mean 1, half-width z_{1-alpha/2} / 2: violated of 0 down to z = 2).
  half = lambda a: 0.5 * scipy.stats.norm.ppf(1 - a / 2)
  shifted = _claim(lambda c, r, a: Evaluation(1.0, (1.0 - half(a),
                                                    1.0 + half(a))),
                   evidence="statistical")
  verdict, _ = runner.judge(shifted, {}, _records())
  assert verdict.outcome is Outcome.VIOLATED
  assert verdict.p_value == pytest.approx(2 * scipy.stats.norm.sf(2.0),
                                          rel=1e-6)
  exact = _claim(lambda c, r, a: Evaluation(1.0, (1.0, 1.0)))
  assert runner.judge(exact, {}, _records())[0].p_value is None


def test_paper_cite_fills_arxiv_and_version():
  citation = PAPER.cite("Theorem 2", "read in v1 [V]", verified=True)
  assert (citation.arxiv, citation.version, citation.where, citation.verified,
          citation.note) == ("0000.00000", "v1", "Theorem 2", True,
                             "read in v1 [V]")
  assert not PAPER.cite("Eq. 3").verified


# --- The runner ----------------------------------------------------------------

def _records(n=3, **fields):
  return Records([{"diverged_at": -1, **fields} for _ in range(n)])


def test_judge_takes_the_bound_from_the_bound_object():
  k = sympy.Symbol("k")
  claim = _claim(lambda config, records, alpha: Evaluation(
      1.0, (0.9, 1.1), bound_values={"k": 0.5}),
                 bound=_bound(2 * k, from_evaluation=("k",)))
  verdict, _ = runner.judge(claim, {}, _records())
  assert verdict.bound == 1.0 and verdict.outcome is Outcome.INCONCLUSIVE
  assert verdict.bound_ci == (1.0, 1.0)


def test_an_unmet_premise_makes_the_verdict_inconclusive():
  claim = _claim(lambda config, records, alpha: Evaluation(
      0.0, (-1.0, -0.5), inconclusive_reason="premise X not met."))
  verdict, _ = runner.judge(claim, {}, _records())
  assert verdict.outcome is Outcome.INCONCLUSIVE
  assert verdict.notes.startswith("premise X not met.")
  undetermined = _claim(lambda c, r, a: Evaluation.undetermined("no runs."))
  verdict, _ = runner.judge(undetermined, {}, _records())
  assert verdict.outcome is Outcome.INCONCLUSIVE and math.isnan(
      verdict.measured) and verdict.notes.startswith("no runs.")


def test_a_diverged_seed_makes_the_verdict_diverged():
  claim = _claim(lambda config, records, alpha: Evaluation(0.0, (0.0, 0.0)))
  records = Records([{"diverged_at": -1}, {"diverged_at": 12},
                     {"diverged_at": 7}])
  verdict, _ = runner.judge(claim, {}, records)
  assert verdict.outcome is Outcome.DIVERGED
  assert verdict.notes.startswith("2/3 seeds diverged") and "step 7" in \
      verdict.notes


def test_claims_sharing_an_experiment_run_it_once(tmp_path):
  calls = []

  def measure(config, seeds):
    calls.append(list(seeds))
    return [{"x": float(s % 7)} for s in seeds]

  experiment = Experiment("test.shared", lambda quick: {"n": 1}, measure,
                          seeds=3, quick_seeds=3)
  evaluate = lambda config, records, alpha: Evaluation(
      float(records["x"].mean()), (0.0, 7.0))
  a = _claim(evaluate, experiment=experiment)
  b = Claim(**{**a.__dict__, "id": "test.other_claim"})
  runs = runner.run_claims([a, b], tmp_path, quick=True, figures=False)
  assert len(calls) == 1 and len(calls[0]) == 3
  assert [r.computed_cells for r in runs] == [3, 0]
  assert runs[0].verdict.measured == runs[1].verdict.measured
  again = runner.run_claims([b], tmp_path, quick=True, figures=False)
  assert again[0].computed_cells == 0 and len(calls) == 1     # from the cache
  impostor = Claim(**{**a.__dict__, "id": "test.impostor", "experiment":
                      Experiment("test.shared", lambda q: {}, measure)})
  with pytest.raises(ValueError, match="share the id"):
    runner.run_claims([a, impostor], tmp_path, quick=True, figures=False)


def test_large_values_leave_only_a_pointer_in_the_sidecar():
  small = [{"x": 1.0}]
  assert runner.sidecar_value(small, "test.runs") == small
  large = [{"scores": [0.123456789] * (runner.SIDECAR_LIMIT_BYTES // 10)}]
  pointer = runner.sidecar_value(large, "test.runs")
  assert pointer["cache_namespace"] == "test.runs" and "omitted" in pointer


# --- The cache -----------------------------------------------------------------

def test_cache_roundtrip_and_stable_keys(tmp_path):
  cache = CellCache(tmp_path)
  key = {"b": [1, 2.5], "a": "x", "t": (1, 2)}
  assert cache.load("ns", key) is None
  path = cache.store("ns", key, {"v": [1.0, float("nan")]})
  assert _jsonio.stable_hash(key) == _jsonio.stable_hash(
      {"t": [1, 2], "a": "x", "b": [1, 2.5]})
  assert math.isnan(cache.load("ns", key)["v"][1])
  assert not list(tmp_path.glob("ns/.*tmp"))       # no temporary file left
  path.write_text("{ torn")
  assert cache.load("ns", key) is None             # torn file: recompute
  json.loads(json.dumps(_jsonio.to_jsonable({"a": np.arange(3)})))


def test_an_undetermined_evaluation_needs_no_measured_bound_values():
  k = sympy.Symbol("k")
  claim = _claim(lambda config, records, alpha: Evaluation.undetermined(
      "every run diverged"), bound=_bound(k, from_evaluation=("k",)))
  verdict, _ = runner.judge(claim, {}, _records())
  assert verdict.outcome is Outcome.INCONCLUSIVE and math.isnan(verdict.bound)
  determined = _claim(lambda config, records, alpha: Evaluation(
      0.0, (0.0, 0.0)), bound=_bound(k, from_evaluation=("k",)))
  with pytest.raises(ValueError, match="takes"):
    runner.judge(determined, {}, _records())


def test_fresh_and_cached_records_are_the_same_value(tmp_path):
  """A fresh record goes through the JSON the cache stores: same fields in
  the same order, Python floats, whether computed now or read back."""
  experiment = Experiment(
      "test.order", lambda quick: {}, lambda config, seeds: [
          {"sophia": np.float32(0.1) * s, "gd": {"b": [1, 2], "a": 3}}
          for s in seeds], seeds=2, quick_seeds=2)
  fresh, computed = runner.collect_records(experiment, {}, [1, 2],
                                           CellCache(tmp_path), force=False)
  cached, again = runner.collect_records(experiment, {}, [1, 2],
                                         CellCache(tmp_path), force=False)
  assert (computed, again) == (2, 0) and fresh == cached
  assert list(fresh[0]) == ["gd", "sophia"] and list(fresh[0]["gd"]) == [
      "a", "b"]
  assert type(fresh[1]["sophia"]) is float


def test_papers_and_citations_take_a_doi_or_a_book():
  book = Paper(key="nesterov2018", title="Lectures on Convex Optimization",
               authors="Y. Nesterov", book="Springer, 2nd ed., 2018")
  citation = book.cite("Theorem 2.1.15")
  assert citation.short() == "Springer, 2nd ed., 2018, Theorem 2.1.15"
  assert book.bibtex().startswith("@book{nesterov2018,") and "year = {2018}" \
      in book.bibtex()
  doi = Paper(key="polyak1964", title="Some methods of speeding up",
              authors="B. T. Polyak", doi="10.1016/0041-5553(64)90137-5",
              venue="USSR Comp. Math. and Math. Physics 1964")
  assert doi.cite("Eq. 9").short().startswith("doi:10.1016/")
  with pytest.raises(ValueError, match="needs a source"):
    Paper(key="none", title="t", authors="a")
  with pytest.raises(ValueError, match="version"):
    Paper(key="nover", title="t", authors="a", arxiv="2101.00001")
