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
``sample_size``, ``false_fail_rate``, ``notes``, ``measurement``.
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
from boundlab.provenance import provenance


def _num(x):
  return float(x) if x is not None and math.isfinite(x) else None


def claim_entry(run: ClaimRun) -> dict:
  claim, verdict = run.claim, run.verdict
  citation = claim.bound.citation
  return {
      "id": claim.id, "paper": claim.paper.key, "arxiv": claim.paper.arxiv,
      "doi": claim.paper.doi, "book": claim.paper.book,
      "statement": claim.statement, "measurement": claim.measurement,
      "measured": _num(verdict.measured), "bound": _num(verdict.bound),
      "bound_ci": [_num(x) for x in verdict.bound_ci],
      "relation": claim.relation.value, "ci": [_num(x) for x in verdict.ci],
      "verdict": verdict.outcome.value, "seeds": run.seeds,
      "sample_size": verdict.sample_size,
      "false_fail_rate": verdict.false_fail_rate,
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


def build_report(runs: Sequence[ClaimRun], *, quick: bool, seed: int) -> dict:
  meta = provenance() | {"library_fingerprint": library_fingerprint()}
  return {"boundlab_version": meta["boundlab_version"],
          "device": meta["device"],
          "created": meta["created"], "quick": quick, "root_seed": seed,
          "provenance": meta, "claims": [claim_entry(r) for r in runs]}


def _fmt(x) -> str:
  return "nan" if x is None else f"{x:.4g}"


def table_rows(report: dict) -> list[tuple[str, ...]]:
  rows = []
  for c in report["claims"]:
    lo, hi = c["ci"]
    rows.append((c["id"], c["verdict"], _fmt(c["measured"]),
                 f"[{_fmt(lo)}, {_fmt(hi)}]", c["relation"], _fmt(c["bound"]),
                 "yes" if c["constants_verified"] else "NO"))
  return rows


_HEADER = ("claim", "verdict", "measured", "CI", "rel", "bound", "verified")


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
      "| claim | verdict | measured | CI | relation | bound | constants "
      "verified |", "|---|---|---|---|---|---|---|"]
  for row in table_rows(report):
    lines.append("| " + " | ".join(row) + " |")
  lines += ["", "A verdict compares the measured interval with the bound: "
            "`holds` if the whole interval satisfies the relation (with the "
            "declared tolerance), `violated` if none of it does, "
            "`inconclusive` otherwise, `diverged` if a run produced NaN/inf. "
            "'verified = NO' means the bound's constants were not checked "
            "against the paper text.", ""]
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
        f"; {c['sample_size']} seeds; declared false-fail rate "
        f"{c['false_fail_rate']:g}.",
        f"- Notes: {c['notes']}"]
    if c["figure"]:
      lines += ["", f"![{c['id']}]({c['figure']})"]
    lines.append("")
  return "\n".join(lines)


def write_report(report: dict, out_dir: Path) -> tuple[Path, Path]:
  out_dir = Path(out_dir)
  json_path, md_path = out_dir / "report.json", out_dir / "report.md"
  _jsonio.atomic_write_json(json_path, report)
  _jsonio.atomic_write_text(md_path, to_markdown(report))
  return json_path, md_path
