"""lu2024's four claims under shared and per-patch weights, side by side.

The shared-weight claims are the registered ones; the per-patch claims
(``lu2024.PER_PATCH_CLAIMS``) are the same statements, bounds and sizes with
a separate weight vector per patch (one review's reading of the network) and
their own seeds. On this data model the two networks train alike in
distribution (tested in ``tests/test_lu2024_weight_sharing.py``), so the
columns differ by seed noise only. Writes one JSON with both columns.

  python benchmarks/lu2024_weight_sharing.py OUT_DIR [--full] \
      [--json benchmarks/results/lu2024_weight_sharing_cpu.json]
"""
import argparse
import json
import time
from pathlib import Path

import jax

from boundlab.claims.runner import run_claims
from boundlab.paper_repro import lu2024
from boundlab.provenance import provenance


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("out")
  parser.add_argument("--full", action="store_true")
  parser.add_argument("--json", default=None)
  args = parser.parse_args()
  # As boundlab verify runs claims (float64), so the shared column is the
  # registered claims' own report.
  jax.config.update("jax_enable_x64", True)
  rows, seconds = {}, {}
  for name, claims in (("shared", lu2024.SHARED_CLAIMS),
                       ("per_patch", lu2024.PER_PATCH_CLAIMS)):
    start = time.perf_counter()
    runs = run_claims(claims, Path(args.out) / name, quick=not args.full,
                      figures=False)
    seconds[name] = round(time.perf_counter() - start, 1)
    for run in runs:
      key = run.claim.id.removesuffix("_per_patch")
      rows.setdefault(key, {})[name] = {
          "verdict": run.verdict.outcome.value,
          "measured": run.verdict.measured, "ci": list(run.verdict.ci),
          "bound": run.verdict.bound, "seeds": len(run.seeds)}
  result = {"mode": "full" if args.full else "quick", "seconds": seconds,
            "provenance": provenance(), "claims": rows}
  text = json.dumps(result, indent=1, default=str)
  print(text)
  if args.json:
    path = Path(args.json)
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing[result["mode"]] = result
    path.write_text(json.dumps(existing, indent=1, default=str) + "\n")


if __name__ == "__main__":
  main()
