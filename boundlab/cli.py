"""The ``boundlab`` command: ``list``, ``verify``, ``repro``, ``cite``.

``verify`` and ``repro`` run in quick mode (smaller sizes, fewer seeds, the
same code) unless ``--full`` is given. Exit codes: 0 whatever the verdicts; 1
with ``verify --strict`` when a claim is violated; 2 on any error (one line on
stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
import time
from pathlib import Path


class _Parser(argparse.ArgumentParser):
  def error(self, message):  # one line, exit 2
    raise _UsageError(message)


class _UsageError(Exception):
  pass


def _parser() -> argparse.ArgumentParser:
  p = _Parser(prog="boundlab",
              description="Run paper claims and compare measurements with "
              "the stated bounds.")
  sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
  papers = argparse.ArgumentParser(add_help=False)
  papers.add_argument(
      "--papers", action="append", default=[], metavar="MODULE_OR_PATH",
      help="also register the paper module with this import name or .py "
      "path (repeatable)")
  run = argparse.ArgumentParser(add_help=False)
  mode = run.add_mutually_exclusive_group()
  mode.add_argument("--full", action="store_true",
                    help="full size: more seeds, larger problems (the phase "
                    "diagrams need a GPU)")
  mode.add_argument("--quick", action="store_true",
                    help="quick mode, the default (smaller sizes and fewer "
                    "seeds, the same code)")
  run.add_argument("--seed", default=0, type=int, help="root seed (>= 0)")
  run.add_argument("--no-progress", action="store_true",
                   help="no progress bar")
  run.add_argument("--workers", type=int, default=None, metavar="N",
                   help="run experiments on a local Dask cluster of N "
                   "worker processes (default, or 1: in this process)")
  run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run experiments on the Dask cluster at ADDRESS "
                   "(e.g. tcp://host:8786; see the docs for SLURM/PBS)")
  cache = run.add_mutually_exclusive_group()
  cache.add_argument("--compile-cache", default=None, type=Path,
                     metavar="DIR",
                     help="keep XLA's compiled programs in DIR (default "
                     "$BOUNDLAB_COMPILE_CACHE, else <out>/xla-cache)")
  cache.add_argument("--no-compile-cache", action="store_true",
                     help="compile every program afresh")
  listing = sub.add_parser("list", help="list the claims", parents=[papers])
  listing.add_argument("pattern", nargs="?", metavar="REGEX",
                       help="claims whose id matches")
  listing.add_argument("--json", action="store_true",
                       help="one JSON object per claim, as a list")
  listing.add_argument("--out", default="out", type=Path,
                       help="output directory whose cache holds measured "
                       "costs (default out)")
  v = sub.add_parser("verify", help="run claims and write a report",
                     parents=[papers, run])
  v.add_argument("--only", metavar="REGEX", help="claims whose id matches")
  v.add_argument("--out", default="out", type=Path, help="output directory")
  v.add_argument("--force", action="store_true",
                 help="recompute cached cells")
  v.add_argument("--strict", action="store_true",
                 help="exit 1 if any claim is violated")
  r = sub.add_parser("repro", help="regenerate a paper's figures",
                     parents=[papers, run])
  r.add_argument("paper", help="paper key, e.g. chen2020 (see 'boundlab list')")
  r.add_argument("--out", default=None, type=Path,
                 help="output directory (default out/repro/<paper>)")
  c = sub.add_parser("cite", help="print a paper's BibTeX entry",
                     parents=[papers])
  c.add_argument("paper", help="paper key, e.g. chen2020")
  return p


def _configure():
  # Figures are files here; never open a window (set before pyplot loads;
  # the library itself leaves the backend to the user, so notebooks show
  # plots inline).
  import matplotlib
  matplotlib.use("Agg")
  import jax
  # Bounds are checked in float64: rounding must not decide a verdict.
  jax.config.update("jax_enable_x64", True)


def _registry(args):
  from boundlab.claims import registry
  registry.discover()
  for spec in args.papers:
    registry.load(spec)
  return registry


def _cost(claim, out: Path, quick: bool) -> float | None:
  """Seconds the last measurement of the claim's experiment took, from the
  cache under ``out`` (None if it never ran there)."""
  from boundlab.claims import runner
  return runner.measured_seconds(out / "cache", claim.experiment.id, quick)


def _claim_row(claim, out: Path) -> dict:
  citation = claim.bound.citation
  return {"id": claim.id, "paper": claim.paper.key,
          "statement": claim.statement, "source": citation.short(),
          "verified": citation.verified, "relation": claim.relation.value,
          "experiment": claim.experiment.id,
          "evidence": claim.evidence.value,
          "seeds": {"quick": claim.num_seeds(True),
                    "full": claim.num_seeds(False)},
          "full_needs_gpu": claim.experiment.full_needs_gpu,
          "seconds": {"quick": _cost(claim, out, True),
                      "full": _cost(claim, out, False)}}


def _cmd_list(args) -> int:
  registry = _registry(args)
  claims = (registry.select_claims(args.pattern) if args.pattern
            else registry.all_claims())
  rows = [_claim_row(c, args.out) for c in claims]
  if args.json:
    print(json.dumps(rows, indent=1))
    return 0
  seconds = lambda x: "-" if x is None else f"{x:.0f} s"
  width = max(len(r["id"]) for r in rows)
  print(f"{'claim'.ljust(width)}  verified  evidence                 quick"
        "   full")
  for r in rows:
    print(f"{r['id'].ljust(width)}  {'yes' if r['verified'] else 'NO '}       "
          f"{r['evidence'].ljust(23)}  "
          f"{seconds(r['seconds']['quick']).ljust(6)}  "
          f"{seconds(r['seconds']['full'])}"
          + (" (GPU)" if r["full_needs_gpu"] else ""))
    for line in textwrap.wrap(f"{r['source']}: {r['statement']}", 76):
      print(f"    {line}")
  print("\n" + textwrap.fill(
      f"{len(rows)} claims from {len({r['paper'] for r in rows})} papers. "
      "'NO' = constants not checked against the paper text. evidence: "
      "statistical (an interval with a false-fail rate), all-instances "
      "(held on every sampled instance), exact, implementation-identity "
      "(checks our code, not the paper), non-rejection (a test failed to "
      "reject). quick / full: "
      f"seconds of the last measurement cached under {args.out}/ ('-': not "
      "run there); (GPU): full mode is meant for a GPU.", 80))
  return 0


def _cmd_cite(args) -> int:
  print(_registry(args).paper_module(args.paper).PAPER.bibtex())
  return 0


def _check_out(out: Path) -> Path:
  """The output directory, made and proven writable before any work."""
  out = Path(out)
  if out.exists() and not out.is_dir():
    raise ValueError(f"--out must be a directory, got the file {out}")
  out.mkdir(parents=True, exist_ok=True)
  try:
    tempfile.TemporaryFile(dir=out).close()
  except OSError as e:
    raise ValueError(f"--out {out} is not writable: {e.strerror}") from None
  return out


def _progress(total: int, enabled: bool):
  from tqdm import tqdm
  return tqdm(total=total, disable=not enabled, unit="claim",
              file=sys.stderr, dynamic_ncols=True)


def _executor(args):
  """None (this process), or a Dask client for --workers / --scheduler."""
  if args.workers is None and args.scheduler is None:
    return None
  if args.workers is not None and args.scheduler is not None:
    raise ValueError("give either --workers or --scheduler, not both")
  from boundlab.claims import parallel
  if args.scheduler is not None:
    return parallel.connect(args.scheduler)
  if args.workers < 1:
    raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
  if args.workers == 1:
    return None      # one worker is this process, without a cluster
  return parallel.local_cluster(args.workers)


def _run_and_report(claims, out: Path, args, *, force):
  from boundlab.claims import compile_cache
  out = _check_out(out)
  # Set before the cluster starts (its worker processes inherit it), and
  # restored afterwards for in-process callers.
  with compile_cache.compilation_cache_at(
      None if args.no_compile_cache else
      args.compile_cache or compile_cache.default_directory(out)):
    return _run_claims_and_write_report(claims, out, args, force=force)


def _run_claims_and_write_report(claims, out: Path, args, *, force):
  from boundlab.claims import report as report_mod
  from boundlab.claims import runner
  if args.seed < 0:
    raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")
  quick = not args.full
  out = _check_out(out)
  start = time.perf_counter()
  print(f"boundlab: {len(claims)} claims in {'quick' if quick else 'full'} "
        f"mode -> {out}/", file=sys.stderr)
  bar = _progress(len(claims), not args.no_progress)
  state = {"first": True}

  def on_claim(claim):
    if not state["first"]:
      bar.update(1)
    state["first"] = False
    bar.set_description(claim.id)

  executor = _executor(args)
  try:
    runs = runner.run_claims(claims, out, quick=quick, seed=args.seed,
                             force=force, on_claim=on_claim,
                             executor=executor)
    bar.update(1)
  finally:
    bar.close()
    if executor is not None:
      executor.close()
  rep = report_mod.build_report(runs, quick=quick, seed=args.seed)
  json_path, md_path = report_mod.write_report(rep, out)
  print(report_mod.format_table(rep))
  print("\n" + "\n".join(textwrap.fill(line, 79) for line in
                          report_mod.family_lines(rep["family"])))
  counts = runner.summary_counts(runs)
  cached = sum(r.cached_cells for r in runs)
  computed = sum(r.computed_cells for r in runs)
  print(f"\n{', '.join(f'{v} {k}' for k, v in counts.items())}; cells: "
        f"{computed} computed, {cached} from cache; "
        f"{time.perf_counter() - start:.1f} s")
  print(f"report: {json_path}  {md_path}")
  return runs, counts


def _cmd_verify(args) -> int:
  claims = _registry(args).select_claims(args.only)
  _, counts = _run_and_report(claims, args.out, args, force=args.force)
  return 1 if args.strict and counts["violated"] else 0


def _cmd_repro(args) -> int:
  module = _registry(args).paper_module(args.paper)
  out = args.out or Path("out") / "repro" / args.paper
  _run_and_report(list(module.CLAIMS), out, args, force=False)
  extra = getattr(module, "example_figures", None)
  paths = extra(out / "figures", quick=not args.full) if extra else []
  for path in paths:
    print(f"figure: {path}")
  return 0


def main(argv=None) -> int:
  try:
    args = _parser().parse_args(argv)
    _configure()
    return {"list": _cmd_list, "verify": _cmd_verify, "repro": _cmd_repro,
            "cite": _cmd_cite}[args.command](args)
  except (_UsageError, ValueError, OSError) as e:
    print(f"boundlab: error: {e}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print("boundlab: interrupted (finished cells are cached; rerun to resume)",
          file=sys.stderr)
    return 2
  except Exception as e:  # noqa: BLE001 -- the contract is one line, exit 2
    print(f"boundlab: error: {type(e).__name__}: {e}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
