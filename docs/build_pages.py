"""Generates the documentation pages that come from the code (``make docs``
runs it before ``mkdocs build --strict``):

* ``docs/generated/claims.md``: the claims catalogue, from the registry
  (statement, bound in LaTeX, citation and its verified flag, seeds, quick
  and full cost from ``benchmarks/results/claim_costs.json``, the GPU flag,
  and the latest full-mode verdict committed under ``benchmarks/results/``);
* ``docs/generated/reference/<package>.md``: one API page per package,
  listing its public modules for mkdocstrings;
* ``docs/generated/notebooks/<name>.ipynb``: every notebook, executed (in a
  scratch directory, with Jupyter's inline backend) with its outputs.

Every notebook must be in ``mkdocs.yml``'s nav (a new one is not forgotten).
"""

from __future__ import annotations

import argparse
import html
import importlib
import json
import os
import pkgutil
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
OUT = DOCS / "generated"
PACKAGES = ("claims", "experiments", "testing", "landscapes", "algorithms",
            "theory", "figures")


def _full_mode_verdicts() -> dict[str, dict]:
  """Claim id -> the latest full-mode entry committed under benchmarks/."""
  latest = {}
  for path in sorted((ROOT / "benchmarks" / "results").rglob("report.json")):
    report = json.loads(path.read_text())
    if report.get("quick", True):
      continue
    for entry in report["claims"]:
      old = latest.get(entry["id"])
      if old is None or report["created"] > old["created"]:
        latest[entry["id"]] = {
            "created": report["created"], "device": report["device"],
            "verdict": entry["verdict"], "measured": entry["measured"],
            "ci": entry["ci"], "bound": entry["bound"],
            "path": path.relative_to(ROOT).as_posix()}
  return latest


def _costs() -> dict:
  path = ROOT / "benchmarks" / "results" / "claim_costs.json"
  return json.loads(path.read_text()) if path.exists() else {}


def _seconds(entry) -> str:
  if entry is None:
    return "not measured"
  s = entry["seconds"]
  text = f"{s:.0f} s" if s >= 1 else f"{s:.2f} s"
  return f"{text} ({entry['device']})"


def _number(x) -> str:
  return "nan" if x is None else f"{x:.4g}"


def _cell(text: str) -> str:
  return html.escape(text).replace("|", "\\|")


def catalogue() -> str:
  sys.path.insert(0, str(ROOT))
  from boundlab.claims import registry
  registry.discover()
  full, costs = _full_mode_verdicts(), _costs()
  claims = registry.all_claims()
  lines = [
      "# Claims catalogue", "",
      f"{len(claims)} claims from {len(registry.papers())} papers, generated "
      "from the registry. *verified*: the bound's constants were checked in "
      "the paper text (otherwise recalled or derived; the note says which). "
      "*cost*: seconds of one complete measurement of the claim's experiment "
      "(shared by the claims that read it), from "
      "`benchmarks/results/claim_costs.json`. *full-mode verdict*: the latest "
      "committed under `benchmarks/results/` (quick-mode verdicts are in "
      "every `boundlab verify` report).", ""]
  for key, module in registry.papers().items():
    paper = module.PAPER
    lines += [f"## {_cell(paper.title)} (`{key}`)", "",
              f"{_cell(paper.reference())}. `boundlab cite {key}` prints its "
              "BibTeX.", ""]
    for claim in module.CLAIMS:
      citation = claim.bound.citation
      experiment = claim.experiment
      verdict = full.get(claim.id)
      full_text = ("no full-mode run committed" if verdict is None else
                   f"**{verdict['verdict']}**: measured "
                   f"{_number(verdict['measured'])} "
                   f"[{_number(verdict['ci'][0])}, "
                   f"{_number(verdict['ci'][1])}] vs bound "
                   f"{_number(verdict['bound'])} ({verdict['device']}, "
                   f"{verdict['created'][:10]}, `{verdict['path']}`)")
      cost = costs.get(experiment.id, {})
      lines += [
          f"### `{claim.id}`", "",
          _cell(claim.statement), "",
          f"$$ {claim.bound.latex()} $$", "",
          "| | |", "|---|---|",
          f"| relation | `{claim.relation.value}`"
          + (f", tolerance {claim.tolerance:g}" if claim.tolerance else "")
          + " |",
          f"| source | {_cell(citation.short())} |",
          f"| verified | {'yes' if citation.verified else 'no'}: "
          f"{_cell(citation.note) or '-'} |",
          f"| measurement | {_cell(claim.measurement)} |",
          f"| evidence | {claim.evidence.value} |",
          f"| experiment | `{experiment.id}`: {experiment.num_seeds(True)} "
          f"seeds quick, {experiment.num_seeds(False)} full |",
          f"| cost, quick | {_seconds(cost.get('quick'))} |",
          f"| cost, full | {_seconds(cost.get('full'))}"
          + (" (full mode needs a GPU)" if experiment.full_needs_gpu else "")
          + " |",
          f"| full-mode verdict | {full_text} |", ""]
  return "\n".join(lines) + "\n"


def reference(package: str) -> str:
  module = importlib.import_module(f"boundlab.{package}")
  names = [m.name for m in pkgutil.iter_modules(module.__path__)
           if not m.name.startswith("_") and not m.name.endswith("_test")]
  lines = [f"# boundlab.{package}", "", f"::: boundlab.{package}",
           "    options:", "      show_root_heading: false",
           "      members: false", ""]
  if package == "landscapes":   # the record lives in a private module
    lines += ["::: boundlab.landscapes._landscape", "    options:",
              "      show_root_heading: false", ""]
  lines += [f"::: boundlab.{package}.{name}\n" for name in names]
  return "\n".join(lines)


def notebooks(only: str | None) -> None:
  import jupytext
  import nbclient
  import nbformat
  nav = (ROOT / "mkdocs.yml").read_text()
  target = OUT / "notebooks"
  target.mkdir(parents=True, exist_ok=True)
  for path in sorted((ROOT / "notebooks").glob("*.py")):
    page = f"generated/notebooks/{path.stem}.ipynb"
    if page not in nav:
      raise SystemExit(f"{path.name} is not in mkdocs.yml's nav ({page})")
    if only and not re.search(only, path.stem):
      continue
    notebook = jupytext.read(path)
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)     # inline figures, as in a user's Jupyter
    with tempfile.TemporaryDirectory() as scratch:
      nbclient.NotebookClient(
          notebook, timeout=600, kernel_name="python3",
          resources={"metadata": {"path": scratch}}).execute(env=env)
    nbformat.write(notebook, target / f"{path.stem}.ipynb")
    print(f"executed {path.name}")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--notebooks", default=None, metavar="REGEX",
                      help="execute only the matching notebooks")
  parser.add_argument("--no-notebooks", action="store_true",
                      help="skip executing notebooks")
  args = parser.parse_args()
  OUT.mkdir(exist_ok=True)
  (OUT / "claims.md").write_text(catalogue())
  (OUT / "reference").mkdir(exist_ok=True)
  for package in PACKAGES:
    (OUT / "reference" / f"{package}.md").write_text(reference(package))
  if not args.no_notebooks:
    notebooks(args.notebooks)


if __name__ == "__main__":
  main()
