"""Collects the measured cost of every experiment into one committed file.

The runner records, for each experiment, the wall time of its last complete
measurement under ``<out>/cache/<experiment>/timing.json`` (quick and full
mode separately). This script merges those records into
``benchmarks/results/claim_costs.json``, the file the claims catalogue of the
documentation reads, under a device label the caller states (the runner's own
device string says only "cpu" on a CPU).

  python benchmarks/claim_costs.py --cache out/cache \
      --device "2 CPU cores, serial (make verify --workers 1)"
  python benchmarks/claim_costs.py --timings full_timings.json --mode full \
      --device "H200 host CPU, 16 cores, 15 Dask workers"

``--timings`` reads a JSON object ``{experiment_id: timing.json contents}``
(what a run on another machine sends back). Entries of other modes, and of
experiments not in the input, are kept.
"""

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "claim_costs.json"


def read_cache(cache: Path) -> dict:
  return {path.parent.name: json.loads(path.read_text())
          for path in sorted(cache.glob("*/timing.json"))}


def merge(costs: dict, timings: dict, device: str, modes) -> dict:
  for experiment_id, timing in timings.items():
    for mode in modes:
      if mode in timing:
        entry = timing[mode]
        costs.setdefault(experiment_id, {})[mode] = {
            "seconds": round(float(entry["seconds"]), 2),
            "seeds": int(entry["seeds"]), "device": device}
  return dict(sorted(costs.items()))


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument("--cache", type=Path, help="a verify run's cache dir")
  source.add_argument("--timings", type=Path,
                      help="JSON {experiment_id: timing.json contents}")
  parser.add_argument("--device", required=True,
                      help="where and how it ran, in words")
  parser.add_argument("--mode", choices=("quick", "full", "both"),
                      default="both")
  parser.add_argument("--out", type=Path, default=RESULTS)
  args = parser.parse_args(argv)
  timings = (read_cache(args.cache) if args.cache
             else json.loads(args.timings.read_text()))
  if not timings:
    raise SystemExit(f"no timings found in {args.cache or args.timings}")
  costs = json.loads(args.out.read_text()) if args.out.exists() else {}
  modes = ("quick", "full") if args.mode == "both" else (args.mode,)
  args.out.write_text(json.dumps(merge(costs, timings, args.device, modes),
                                 indent=1) + "\n")
  print(f"{len(timings)} experiments -> {args.out}")


if __name__ == "__main__":
  main()
