"""The report says what each verdict means: evidence kinds, interval kinds and
the family-wise header (expected false "violated", Holm's reading)."""

import itertools
import math

import pytest

from boundlab.claims import Evidence, report
from boundlab.claims.verdict import Outcome, Relation, Verdict


def _entry(id, evidence, verdict, p_value=None, rate=0.05):
  stochastic = Evidence(evidence).stochastic
  return {"id": id, "evidence": evidence, "verdict": verdict,
          "p_value": p_value, "false_fail_rate": rate if stochastic else None}


def _holm_by_adjusted_p(p_values, m, fwer):
  """Independent oracle: Holm-adjusted p-values, p_adj_(i) = max_{j<=i}
  min(1, (m - j + 1) p_(j)); reject where p_adj <= fwer."""
  ordered = sorted(p_values.items(), key=lambda kv: kv[1])
  adjusted, running = {}, 0.0
  for j, (key, p) in enumerate(ordered, start=1):
    running = max(running, min(1.0, (m - j + 1) * p))
    adjusted[key] = running
  return {k for k, p in adjusted.items() if p <= fwer}


def test_family_counts_only_stochastic_claims_and_sums_their_rates():
  entries = [_entry("a.s1", "statistical", "holds"),
             _entry("a.s2", "statistical", "violated", 1e-4),
             _entry("a.n1", "non-rejection", "holds", rate=0.1),
             _entry("a.x", "exact", "violated"),
             _entry("a.i", "implementation-identity", "holds"),
             _entry("a.r", "all-instances", "holds")]
  family = report.family_summary(entries)
  assert family["stochastic"] == 3
  assert family["expected_false_violated"] == pytest.approx(0.2)
  assert family["violated_stochastic"] == ["a.s2"]
  assert family["violated_other"] == ["a.x"]
  assert family["implementation_identity_holds"] == 1
  assert family["by_evidence"] == {"statistical": 2, "all-instances": 1,
                                   "exact": 1, "implementation-identity": 1,
                                   "non-rejection": 1}
  # 1e-4 <= 0.05 / 3: survives.
  assert family["holm_survivors"] == ["a.s2"]


@pytest.mark.parametrize("m", [3, 5, 20, 40])
def test_holm_reading_matches_adjusted_p_values(m):
  grid = [1e-5, 0.001, 0.004, 0.012, 0.02, 0.049]
  for k in range(1, 4):
    for ps in itertools.combinations(grid, k):
      entries = [_entry(f"p.v{i}", "statistical", "violated", p)
                 for i, p in enumerate(ps)]
      entries += [_entry(f"p.h{i}", "statistical", "holds")
                  for i in range(m - k)]
      family = report.family_summary(entries)
      expected = _holm_by_adjusted_p(
          {f"p.v{i}": p for i, p in enumerate(ps)}, m, 0.05)
      assert set(family["holm_survivors"]) == expected, (ps, m)
      assert set(family["holm_not_surviving"]) == (
          {f"p.v{i}" for i in range(k)} - expected)


def test_header_states_the_expected_false_violated_and_holm():
  entries = [_entry(f"f.s{i}", "statistical", "holds") for i in range(38)]
  entries += [_entry("f.v1", "statistical", "violated", 1e-6),
              _entry("f.v2", "statistical", "violated", 0.03)]
  text = "\n".join(report.family_lines(report.family_summary(entries)))
  assert "40 claims carry stochastic intervals" in text
  assert "about 2 would still read violated" in text
  assert "keeps: f.v1; does not keep: f.v2" in text


def _verdict(evidence, **fields):
  base = dict(claim_id="a.b", outcome=Outcome.HOLDS, measured=0.0,
              ci=(0.0, 0.0), bound=0.0, bound_ci=(0.0, 0.0),
              relation=Relation.LE, tolerance=0.0, sample_size=8,
              false_fail_rate=0.05, evidence=evidence)
  return Verdict(**(base | fields))


def test_interval_kind_names_what_the_interval_is():
  assert report.interval_kind(_verdict(Evidence.STATISTICAL)) == "95% CI"
  assert report.interval_kind(_verdict(Evidence.STATISTICAL,
                                       false_fail_rate=0.1)) == "90% CI"
  assert "not rejected" in report.interval_kind(
      _verdict(Evidence.NON_REJECTION))
  assert report.interval_kind(_verdict(Evidence.ALL_INSTANCES,
                                       instances=12)) == "range of 12 instances"
  assert report.interval_kind(_verdict(Evidence.EXACT)) == "exact"
  assert "identity" in report.interval_kind(
      _verdict(Evidence.IMPLEMENTATION_IDENTITY))


def test_false_fail_rate_appears_only_where_it_means_something():
  words = {}
  for evidence in Evidence:
    entry = {"evidence": evidence.value, "false_fail_rate": 0.05
             if evidence.stochastic else None, "interval_kind": "k",
             "detectable_effect": 0.3, "instances": 16,
             "failure_probability_bound": 0.17, "failure_probability_level": 0.95,
             "p_value": None}
    words[evidence] = report._evidence_words(entry)
  assert "false-fail rate" in words[Evidence.STATISTICAL]
  assert "0.3 with 80% power" in words[Evidence.NON_REJECTION]
  assert "16 sampled instances" in words[Evidence.ALL_INSTANCES]
  assert "0.17" in words[Evidence.ALL_INSTANCES]
  for kind in (Evidence.ALL_INSTANCES, Evidence.EXACT,
               Evidence.IMPLEMENTATION_IDENTITY):
    assert "false-fail" not in words[kind]


def test_all_instances_bound_is_the_rule_of_three():
  from boundlab.claims.verdict import all_instances_failure_bound
  assert all_instances_failure_bound(100, 0.05) == pytest.approx(
      -math.log(0.05) / 100, rel=0.02)
  # No failure among N draws has probability exactly alpha at the bound.
  p = all_instances_failure_bound(16, 0.05)
  assert (1 - p) ** 16 == pytest.approx(0.05, rel=1e-12)
