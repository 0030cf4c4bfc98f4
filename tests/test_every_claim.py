"""Every registered claim through the runner, one list of things under test.

In the style of optax's ``contrib/_common_test.py``: the list is the
registry, so a new claim is under test the moment it is registered. The run
is the session's quick verify (``quick_run``, shared with the command-line
tests: the quick configuration is the smallest these experiments have, and
the suite's time budget pays for one pass). For each claim:

* its records survive the cache's JSON round trip: re-read from the cache,
  re-stacked and re-evaluated, they give the verdict and the numbers of the
  report exactly;
* the evaluation is a finite measurement with an ordered interval, or an
  honest undetermined one (NaN, verdict inconclusive, a reason in the notes);
* the bound's value comes from the claim's ``Bound`` and is finite;
* the plot drew a figure whose sidecar holds the verdict, tables and records.
"""

import json
import math

import pytest

from boundlab.claims import Records, registry, runner
from boundlab.claims.cache import CellCache

CLAIMS = registry.all_claims()


@pytest.fixture(scope="module")
def report(quick_run):
  return {c["id"]: c for c in json.loads(
      (quick_run / "quick_report.json").read_text())["claims"]}


def test_the_registry_lists_every_claim_once():
  ids = [c.id for c in CLAIMS]
  assert len(ids) == len(set(ids)) >= 59
  for claim in CLAIMS:
    citation = claim.bound.citation
    assert (citation.arxiv, citation.doi, citation.book) == (
        claim.paper.arxiv, claim.paper.doi, claim.paper.book)
    assert citation.version or not citation.arxiv
    assert citation.where and citation.note and claim.bound.latex()
    assert claim.statement and claim.measurement


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_through_the_runner(claim, quick_run, report):
  entry = report[claim.id]
  config = claim.config(True)
  # Every cell is cached: nothing is recomputed, and the JSON records give
  # back the report's verdict and numbers.
  raw, computed = runner.collect_records(
      claim.experiment, config, entry["seeds"], CellCache(quick_run / "cache"),
      force=False)
  assert computed == 0
  verdict, evaluation = runner.judge(claim, config,
                                     Records(raw, entry["seeds"]))
  assert verdict.outcome.value == entry["verdict"]
  for ours, theirs in ((verdict.measured, entry["measured"]),
                       *zip(verdict.ci, entry["ci"]),
                       (verdict.bound, entry["bound"])):
    assert (theirs is None and not math.isfinite(ours)) or ours == theirs
  assert math.isfinite(verdict.bound)
  assert verdict.bound == claim.bound.value(config, evaluation.bound_values)
  if math.isfinite(verdict.measured):
    assert verdict.ci[0] <= verdict.ci[1]
  else:
    assert verdict.outcome.value in ("inconclusive", "diverged")
    assert verdict.notes
  assert len(raw) == claim.num_seeds(True) == entry["sample_size"]
  # The plot drew from the evaluation; the sidecar carries the evidence.
  assert entry["figure"], f"{claim.id} has no figure"
  png = quick_run / entry["figure"]
  assert png.stat().st_size > 1000
  sidecar = json.loads(png.with_suffix(".json").read_text())
  assert {"verdict", "tables", "records"} <= set(sidecar["data"])
  assert sidecar["data"]["verdict"]["outcome"] == entry["verdict"]
