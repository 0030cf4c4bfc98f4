"""Re-judge a claim on the records of a committed figure sidecar.

For a claim whose experiment did not change but whose statement did (a new
expected value, a new tolerance), the committed records are enough: no rerun.
Usage: python benchmarks/rejudge_sidecar.py CLAIM_ID SIDECAR.json OUT.json
(OUT.json is shaped like a one-claim full-mode report.json.)
"""
import dataclasses
import json
import sys

from boundlab.claims import registry
from boundlab.claims.records import Records
from boundlab.claims.runner import judge
from boundlab.provenance import provenance


def _from_cell_keys(claim, config, record):
  """Sidecars before the phase diagrams stored one list per d held one
  value per "d:n" key; this rebuilds the list in the sampler's n order."""
  sampler = getattr(claim.experiment.measure, "__self__", None)
  out = {}
  for series, cells in record.items():
    if not any(":" in key for key in cells):
      out[series] = cells
      continue
    out[series] = {str(d): [cells[f"{d}:{n}"] for n in
                            sampler.sample_sizes(config, d)]
                   for d in config["dims"]}
  return out


def main(claim_id, sidecar_path, out_path):
  [claim] = [c for c in registry.select_claims() if c.id == claim_id]
  sidecar = json.loads(open(sidecar_path).read())
  config = claim.experiment.config(quick=False)
  stored = sidecar["config"]
  # The runs must be the ones this claim's experiment would make now.
  mismatch = {k: (stored[k], config.get(k)) for k in stored
              if stored[k] != config.get(k)}
  if mismatch:
    raise SystemExit(f"the sidecar's runs differ from {claim_id}'s "
                     f"experiment: {mismatch}")
  raw = [_from_cell_keys(claim, config, r) for r in sidecar["data"]["records"]]
  records = Records(raw, sidecar["seeds"])
  verdict, _ = judge(claim, config, records)
  # Shaped like a full-mode report.json (one claim), so that the claims
  # catalogue lists it; the device is the one that made the records.
  result = {"quick": False, "created": provenance()["created"],
            "device": sidecar["provenance"].get("device", "unknown")
            + " (records; re-judged from the sidecar)",
            "rejudged_from": sidecar_path,
            "records_provenance": sidecar["provenance"],
            "claims": [{"id": claim_id, "verdict": verdict.outcome.value,
                        "measured": verdict.measured,
                        "ci": list(verdict.ci), "bound": verdict.bound,
                        "verdict_record": dataclasses.asdict(verdict)}]}
  with open(out_path, "w") as f:
    json.dump(result, f, indent=1, default=str)
  print(verdict.outcome, verdict.measured, verdict.ci)


if __name__ == "__main__":
  main(*sys.argv[1:])
