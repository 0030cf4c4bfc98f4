"""The full k = 3 phase diagram sharded over 1, 2, 4, 8 GPUs of one host.

`boundlab verify` shards each cell's seeds over every local device
(`boundlab.algorithms.sharding`). This script runs the same claim once per
device count, each in a fresh process that sees only the first N GPUs
(``CUDA_VISIBLE_DEVICES``), with a cold compile cache, and reports per
count: wall time, speedup over one device, efficiency (speedup / N), and
whether every cell's records and the report's verdict, estimate and
interval are identical to the one-device run (same seeds, same records:
the PRNG streams do not depend on the layout).

``--emulate-cpu`` runs the same path on N emulated CPU devices
(``--xla_force_host_platform_device_count``) to check the script and the
identity of the records on a machine without GPUs; its timings say nothing
about GPU scaling (the emulated devices share the host's cores).

Usage (from the repository root):
  python benchmarks/multi_gpu.py --out benchmarks/results/multi_gpu.json
  python benchmarks/multi_gpu.py --emulate-cpu --quick --counts 1,2 \
      --out /tmp/multi_gpu_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLAIM = "benarous2021.tensor_pca_k3_exponent"


def _environment(count: int, emulate_cpu: bool) -> dict:
  env = dict(os.environ)
  if emulate_cpu:
    env["JAX_PLATFORMS"] = "cpu"
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                        f" --xla_force_host_platform_device_count={count}")
  else:
    env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(count))
  return env


def _run(count: int, out: Path, full: bool, emulate_cpu: bool) -> dict:
  command = [sys.executable, "-m", "boundlab.cli", "verify",
             "--full" if full else "--quick", "--only",
             f"^{re.escape(CLAIM)}$", "--no-progress",
             "--no-compile-cache", "--out", str(out)]
  env = _environment(count, emulate_cpu)
  probe = subprocess.run(
      [sys.executable, "-c", "import jax; d = jax.local_devices(); "
       "print(len(d), d[0].device_kind)"], env=env, check=True,
      capture_output=True, text=True)
  devices, kind = probe.stdout.split(maxsplit=1)
  start = time.perf_counter()
  subprocess.run(command, env=env, check=True)
  seconds = time.perf_counter() - start
  return {"devices": int(devices), "device_kind": kind.strip(),
          "seconds": seconds}


def _cells(out: Path) -> dict[str, str]:
  """Every cell's stored text by file name (timing.json excluded: it holds
  wall times and the device)."""
  folder = out / "cache" / CLAIM
  return {path.name: path.read_text() for path in sorted(folder.glob("*.json"))
          if path.name != "timing.json"}


def _verdict(out: Path) -> dict:
  report = json.loads((out / "report.json").read_text())
  claim, = [c for c in report["claims"] if c["id"] == CLAIM]
  return {key: claim[key] for key in ("verdict", "measured", "ci")}


def identical_to(reference: Path, other: Path) -> dict:
  """Whether ``other``'s cells and verdict equal ``reference``'s."""
  cells_a, cells_b = _cells(reference), _cells(other)
  differing = sorted(name for name in cells_a.keys() | cells_b.keys()
                     if cells_a.get(name) != cells_b.get(name))
  return {"cells": len(cells_b), "differing_cells": differing,
          "identical": not differing and _verdict(reference)
          == _verdict(other), "verdict": _verdict(other)}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", type=Path, required=True)
  parser.add_argument("--counts", default=None,
                      help="device counts, e.g. 1,2,4 (default: powers of "
                      "two up to the local GPU count)")
  parser.add_argument("--quick", action="store_true",
                      help="quick mode (small d; for checking the script)")
  parser.add_argument("--emulate-cpu", action="store_true")
  args = parser.parse_args()
  if args.counts:
    counts = [int(c) for c in args.counts.split(",")]
  else:
    import jax
    available = jax.local_device_count()
    counts = [c for c in (1, 2, 4, 8) if c <= available]
  if counts[0] != 1:
    raise ValueError(f"counts must start at 1 (the reference), got {counts}")
  rows, work = [], Path(tempfile.mkdtemp(prefix="multi_gpu_"))
  for count in counts:
    out = work / f"devices_{count}"
    row = _run(count, out, not args.quick, args.emulate_cpu)
    if row["devices"] != count:
      raise RuntimeError(f"asked for {count} devices, the process saw "
                         f"{row['devices']}")
    row.update(identical_to(work / "devices_1", out))
    row["speedup"] = rows[0]["seconds"] / row["seconds"] if rows else 1.0
    row["efficiency"] = row["speedup"] / count
    print(json.dumps(row), flush=True)
    rows.append(row)
  suffix = "_emulated" if args.emulate_cpu else "gpu"
  result = {
      "claim": CLAIM, "mode": "quick" if args.quick else "full",
      "emulated_cpu_devices": args.emulate_cpu,
      "device_kind": rows[0]["device_kind"],
      "timing": "wall time of one `boundlab verify` process per device "
                "count, cold compile cache (compiles included), cells "
                "computed from scratch",
      "ratios": {f"speedup_{r['devices']}{suffix}": r["speedup"]
                 for r in rows if r["devices"] > 1},
      "rows": rows}
  args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
  main()
