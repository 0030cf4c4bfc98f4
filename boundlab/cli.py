"""The ``boundlab`` command: ``list``, ``verify``, ``repro``.

Exit codes: 0 whatever the verdicts; 1 with ``verify --strict`` when a claim is
violated; 2 on any error (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
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
  sub.add_parser("list", help="list every claim", parents=[papers])
  v = sub.add_parser("verify", help="run claims and write a report",
                     parents=[papers])
  v.add_argument("--quick", action="store_true",
                 help="smaller sizes and fewer seeds (same code)")
  v.add_argument("--only", metavar="REGEX", help="claims whose id matches")
  v.add_argument("--out", default="out", type=Path, help="output directory")
  v.add_argument("--seed", default=0, type=int, help="root seed (>= 0)")
  v.add_argument("--force", action="store_true",
                 help="recompute cached cells")
  v.add_argument("--strict", action="store_true",
                 help="exit 1 if any claim is violated")
  v.add_argument("--no-progress", action="store_true",
                 help="no progress bar")
  r = sub.add_parser("repro", help="regenerate a paper's figures",
                     parents=[papers])
  r.add_argument("paper", help="paper key, e.g. chen2020 (see 'boundlab list')")
  r.add_argument("--quick", action="store_true")
  r.add_argument("--out", default=None, type=Path,
                 help="output directory (default out/repro/<paper>)")
  r.add_argument("--seed", default=0, type=int)
  r.add_argument("--no-progress", action="store_true")
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


def _cmd_list(args) -> int:
  claims = _registry(args).all_claims()
  width = max(len(c.id) for c in claims)
  print(f"{'claim'.ljust(width)}  verified  source  statement")
  for c in claims:
    cit = c.bound.citation
    print(f"{c.id.ljust(width)}  {'yes' if cit.verified else 'NO '}       "
          f"arXiv {cit.arxiv} ({cit.version}), {cit.where}: {c.statement}")
  print(f"\n{len(claims)} claims from "
        f"{len({c.paper.key for c in claims})} papers. 'NO' = constants not "
        "checked against the paper text.")
  return 0


def _progress(total: int, enabled: bool):
  from tqdm import tqdm
  return tqdm(total=total, disable=not enabled, unit="claim",
              file=sys.stderr, dynamic_ncols=True)


def _run_and_report(claims, out: Path, *, quick, seed, force, progress):
  from boundlab.claims import report as report_mod
  from boundlab.claims import runner
  if seed < 0:
    raise ValueError(f"--seed must be an integer >= 0, got {seed}")
  start = time.perf_counter()
  bar = _progress(len(claims), progress)
  state = {"first": True}

  def on_claim(claim):
    if not state["first"]:
      bar.update(1)
    state["first"] = False
    bar.set_description(claim.id)

  try:
    runs = runner.run_claims(claims, out, quick=quick, seed=seed, force=force,
                             on_claim=on_claim)
    bar.update(1)
  finally:
    bar.close()
  rep = report_mod.build_report(runs, quick=quick, seed=seed)
  json_path, md_path = report_mod.write_report(rep, out)
  print(report_mod.format_table(rep))
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
  _, counts = _run_and_report(claims, args.out, quick=args.quick,
                              seed=args.seed, force=args.force,
                              progress=not args.no_progress)
  return 1 if args.strict and counts["violated"] else 0


def _cmd_repro(args) -> int:
  module = _registry(args).paper_module(args.paper)
  out = args.out or Path("out") / "repro" / args.paper
  _run_and_report(list(module.CLAIMS), out, quick=args.quick, seed=args.seed,
                  force=False, progress=not args.no_progress)
  extra = getattr(module, "example_figures", None)
  paths = extra(out / "figures", quick=args.quick) if extra else []
  for path in paths:
    print(f"figure: {path}")
  return 0


def main(argv=None) -> int:
  try:
    args = _parser().parse_args(argv)
    _configure()
    return {"list": _cmd_list, "verify": _cmd_verify,
            "repro": _cmd_repro}[args.command](args)
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
