"""Reports: ``report.json`` (schema below), ``report.md`` and a printed table.

``report.json`` schema (read by later tools; extend, never rename)::

  {"boundlab_version", "device", "created",
   "claims": [{"id", "paper", "arxiv", "statement", "measured", "bound",
               "relation", "ci": [lo, hi], "verdict", "seeds",
               "constants_verified", "figure", ...}]}

``arxiv`` is null for a paper cited by DOI or as a book (then ``doi`` or
``book`` is set). Extra per-claim keys: ``doi``, ``book``, ``bound_ci``,
``bound_latex``, ``bound_values`` (the bound's symbols and their values),
``citation`` (with ``short``), ``experiment``, ``tolerance``,
``sample_size``, ``false_fail_rate`` (null unless the evidence is
stochastic), ``notes``, ``measurement``, ``evidence`` (the claim's evidence
kind), ``interval_kind`` (what ``ci`` is, in words), ``instances`` and
``failure_probability_bound`` (all-instances claims), ``detectable_effect``
(non-rejection claims), ``p_value`` (stochastic claims read violated). The
top level adds ``family`` (:func:`family_summary`).
Measurement times are kept out of the report (it stays reproducible); they
are in ``cache/<experiment>/timing.json`` and shown by ``boundlab list``.
Non-finite numbers are written as ``null``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from boundlab import _jsonio
from boundlab.claims.cache import library_fingerprint
from boundlab.claims.runner import ClaimRun
from boundlab.claims.verdict import Evidence, holm_survivors
from boundlab.provenance import provenance


def _num(x):
  return float(x) if x is not None and math.isfinite(x) else None


def interval_kind(verdict) -> str:
  """What a verdict's interval is, in words short enough for a table."""
  evidence = verdict.evidence
  if evidence is Evidence.STATISTICAL:
    return f"{100 * (1 - verdict.false_fail_rate):g}% CI"
  if evidence is Evidence.NON_REJECTION:
    return f"test not rejected at {verdict.false_fail_rate:g}"
  if evidence is Evidence.ALL_INSTANCES:
    return f"range of {verdict.instances} instances"
  if evidence is Evidence.EXACT:
    return "exact"
  return "own-code identity"


def claim_entry(run: ClaimRun) -> dict:
  claim, verdict = run.claim, run.verdict
  citation = claim.bound.citation
  stochastic = verdict.evidence.stochastic
  return {
      "id": claim.id, "paper": claim.paper.key, "arxiv": claim.paper.arxiv,
      "doi": claim.paper.doi, "book": claim.paper.book,
      "statement": claim.statement, "measurement": claim.measurement,
      "measured": _num(verdict.measured), "bound": _num(verdict.bound),
      "bound_ci": [_num(x) for x in verdict.bound_ci],
      "relation": claim.relation.value, "ci": [_num(x) for x in verdict.ci],
      "verdict": verdict.outcome.value, "seeds": run.seeds,
      "sample_size": verdict.sample_size,
      "false_fail_rate": verdict.false_fail_rate if stochastic else None,
      "evidence": verdict.evidence.value,
      "interval_kind": interval_kind(verdict),
      "instances": verdict.instances,
      "failure_probability_bound": verdict.failure_probability_bound,
      "failure_probability_level": (
          1 - verdict.false_fail_rate
          if verdict.failure_probability_bound is not None else None),
      "detectable_effect": _num(verdict.detectable_effect),
      "p_value": verdict.p_value,
      "tolerance": verdict.tolerance,
      "tolerance_reason": claim.tolerance_reason,
      "constants_verified": citation.verified,
      "citation": citation.to_dict() | {"short": citation.short()},
      "bound_latex": claim.bound.latex(),
      "bound_values": {k: _num(float(x)) for k, x in {
          **(claim.bound.constants(run.config) if claim.bound.constants
             else {}), **run.evaluation.bound_values}.items()},
      "experiment": claim.experiment.id, "notes": verdict.notes,
      "figure": verdict.figure,
  }


# The family-wise error rate of the Holm reading of the violated claims.
FAMILY_WISE_RATE = 0.05


def family_summary(entries: Sequence[dict],
                   fwer: float = FAMILY_WISE_RATE) -> dict:
  """The multiple-testing picture of a report's claims.

  Each stochastic claim (statistical or non-rejection evidence) reads a true
  statement as violated with at most its declared rate, so if every one
  were true about ``sum(rates)`` false "violated" would still be expected.
  The violated ones are read again with Holm's step-down adjustment at
  family-wise rate ``fwer`` over all stochastic claims: those that survive
  are violated even allowing for the number of claims tested.
  """
  stochastic = [c for c in entries if Evidence(c["evidence"]).stochastic]
  violated = {c["id"]: c["p_value"] for c in stochastic
              if c["verdict"] == "violated"}
  survivors = holm_survivors(violated, len(stochastic), fwer)
  kinds = {e.value: sum(c["evidence"] == e.value for c in entries)
           for e in Evidence}
  return {
      "claims": len(entries), "by_evidence": kinds,
      "stochastic": len(stochastic),
      "expected_false_violated": sum(c["false_fail_rate"] for c in stochastic),
      "family_wise_rate": fwer,
      "violated_stochastic": sorted(violated),
      "holm_survivors": sorted(survivors),
      "holm_not_surviving": sorted(set(violated) - survivors),
      "violated_other": sorted(c["id"] for c in entries
                               if c["verdict"] == "violated"
                               and c["id"] not in violated),
      "implementation_identity_holds": sum(
          c["evidence"] == Evidence.IMPLEMENTATION_IDENTITY.value
          and c["verdict"] == "holds" for c in entries),
  }


def family_lines(family: dict) -> list[str]:
  """The family-wise header in words."""
  kinds = ", ".join(f"{n} {k}" for k, n in family["by_evidence"].items() if n)
  lines = [
      f"Evidence: {kinds}.",
      f"{family['stochastic']} claims carry stochastic intervals; if every "
      f"one were true, about {family['expected_false_violated']:.2g} would "
      "still read violated by chance (the sum of their declared false-fail "
      "rates)."]
  if family["violated_stochastic"]:
    survive = ", ".join(family["holm_survivors"]) or "none"
    fall = ", ".join(family["holm_not_surviving"]) or "none"
    lines.append(
        f"Of the {len(family['violated_stochastic'])} stochastic claims read "
        f"violated, Holm's adjustment at family-wise rate "
        f"{family['family_wise_rate']:g} over all {family['stochastic']} "
        f"keeps: {survive}; does not keep: {fall}.")
  if family["violated_other"]:
    lines.append("Violated on deterministic evidence (no multiplicity "
                 f"adjustment applies): {', '.join(family['violated_other'])}.")
  lines.append(f"{family['implementation_identity_holds']} of the holds check "
               "an identity of our own implementation, not a statement of a "
               "paper.")
  return lines


def build_report(runs: Sequence[ClaimRun], *, quick: bool, seed: int) -> dict:
  meta = provenance() | {"library_fingerprint": library_fingerprint()}
  entries = [claim_entry(r) for r in runs]
  return {"boundlab_version": meta["boundlab_version"],
          "device": meta["device"],
          "created": meta["created"], "quick": quick, "root_seed": seed,
          "provenance": meta, "family": family_summary(entries),
          "claims": entries}


def _fmt(x) -> str:
  return "nan" if x is None else f"{x:.4g}"


def table_rows(report: dict) -> list[tuple[str, ...]]:
  rows = []
  for c in report["claims"]:
    lo, hi = c["ci"]
    rows.append((c["id"], c["verdict"], _fmt(c["measured"]),
                 f"[{_fmt(lo)}, {_fmt(hi)}]", c["interval_kind"],
                 c["relation"], _fmt(c["bound"]),
                 "yes" if c["constants_verified"] else "NO"))
  return rows


_HEADER = ("claim", "verdict", "measured", "interval", "interval kind", "rel",
           "bound", "verified")


def format_table(report: dict) -> str:
  """A fixed-width text table, one row per claim."""
  rows = [_HEADER, *table_rows(report)]
  widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
  line = lambda r: "  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip()
  return "\n".join([line(rows[0]), line(tuple("-" * w for w in widths)),
                    *(line(r) for r in rows[1:])])


def to_markdown(report: dict) -> str:
  lines = [
      "# boundlab verification report", "",
      f"boundlab {report['boundlab_version']} on {report['device']}, "
      f"{report['created']}; mode: {'quick' if report['quick'] else 'full'}, "
      f"root seed {report['root_seed']}.", "",
      *family_lines(report["family"]), "",
      "| claim | verdict | measured | interval | interval kind | relation | "
      "bound | constants verified |", "|---|---|---|---|---|---|---|---|"]
  for row in table_rows(report):
    lines.append("| " + " | ".join(row) + " |")
  lines += ["", "A verdict compares the measured interval with the bound: "
            "`holds` if the whole interval satisfies the relation (with the "
            "declared tolerance), `violated` if none of it does, "
            "`inconclusive` otherwise, `diverged` if a run produced NaN/inf. "
            "The interval kind says what the interval is: a confidence "
            "interval at the claim's declared false-fail rate (statistical; "
            "'not rejected' when the claim is a test's failure to reject, "
            "with the effect it detects), the range over N sampled "
            "instances, an exact computation, or an identity of our own "
            "code. 'verified = NO' means the bound's constants were not "
            "checked against the paper text.", ""]
  for c in report["claims"]:
    cit = c["citation"]
    lines += [
        f"## {c['id']} -- {c['verdict']}", "",
        f"*{c['statement']}*", "",
        f"- Source: {cit['short']}; "
        f"constants verified: {'yes' if cit['verified'] else 'no'}. "
        f"{cit['note']}",
        f"- Bound: $${c['bound_latex']}$$",
        f"- Measurement: {c['measurement']}",
        f"- Measured {_fmt(c['measured'])}, interval [{_fmt(c['ci'][0])}, "
        f"{_fmt(c['ci'][1])}] {c['relation']} bound {_fmt(c['bound'])} "
        f"(bound interval [{_fmt(c['bound_ci'][0])}, "
        f"{_fmt(c['bound_ci'][1])}]); tolerance {c['tolerance']:g}"
        + (f" ({c['tolerance_reason']})" if c["tolerance_reason"] else "") +
        f"; {c['sample_size']} seeds.",
        f"- Evidence: {_evidence_words(c)}",
        f"- Notes: {c['notes']}"]
    if c["figure"]:
      lines += ["", f"![{c['id']}]({c['figure']})"]
    lines.append("")
  return "\n".join(lines)


def _evidence_words(c: dict) -> str:
  kind = c["evidence"]
  if kind == Evidence.STATISTICAL.value:
    text = (f"statistical: {c['interval_kind']}, declared false-fail rate "
            f"{c['false_fail_rate']:g}")
  elif kind == Evidence.NON_REJECTION.value:
    text = (f"non-rejection: the test did not reject at false-fail rate "
            f"{c['false_fail_rate']:g}; it detects an effect of "
            f"{_fmt(c['detectable_effect'])} with 80% power")
  elif kind == Evidence.ALL_INSTANCES.value:
    text = f"all-instances: the range over {c['instances']} sampled instances"
    if c["failure_probability_bound"] is not None:
      text += (f"; every one satisfied the relation, so a random instance "
               f"fails with probability at most "
               f"{c['failure_probability_bound']:.2g} (one-sided, level "
               f"{c['failure_probability_level']:g})")
  elif kind == Evidence.EXACT.value:
    text = "exact: a deterministic computation, up to the tolerance"
  else:
    text = ("implementation identity: checks our own code, not a statement "
            "of the paper")
  if c.get("p_value") is not None:
    text += f"; p-value {c['p_value']:.2g}"
  return text + "."


def write_report(report: dict, out_dir: Path) -> tuple[Path, Path]:
  out_dir = Path(out_dir)
  json_path, md_path = out_dir / "report.json", out_dir / "report.md"
  _jsonio.atomic_write_json(json_path, report)
  _jsonio.atomic_write_text(md_path, to_markdown(report))
  return json_path, md_path
