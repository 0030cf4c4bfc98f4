"""How wei2026.two_stage_exponent's full-mode reading depends on our online
step (a diagnostic beside the claim, not a re-encoding of it).

The second stage needs only the first stage's overlaps, which the committed
sidecar records per (seed, d, n): this reruns the exact overlap chain of
:class:`~boundlab.experiments.phase_diagram.AveragedLangevinSDE` from them,
with the same keys, at eta_2 = delta d^-1.25 for several delta, and fits the
exponent with the claim's own evaluation. delta = 1/4 is the claim's (its
rerun here reproduces the recorded first passages up to float rounding);
the others are what-ifs. Runs on a CPU in about a minute.

  python benchmarks/wei2026_stage2_sensitivity.py \
      benchmarks/results/phase_diagrams_h200/wei2026_sde
"""
import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from boundlab.claims.records import Records
from boundlab.paper_repro import wei2026

DELTAS = (0.25, 0.5, 1.0)


def second_stage(config, seeds, averages, d, delta):
  sampler = wei2026.SDE.sampler

  def one(key, m0):
    return sampler.online_stage(config, d, sampler.cell_keys(key, d)[4], m0,
                                step_scale=delta)

  keys = jnp.stack([jax.random.key(s) for s in seeds])
  m0 = jnp.asarray(averages, jnp.float32)
  return np.asarray(jax.jit(jax.vmap(one))(keys, m0))


def main(results_dir):
  sidecar = json.loads((Path(results_dir) / "figures" /
                        "wei2026.two_stage_exponent.json").read_text())
  config, seeds = sidecar["config"], sidecar["seeds"]
  raw = sidecar["data"]["records"]
  claim = wei2026.TWO_STAGE
  out = {"claim": claim.id, "records_from": str(results_dir),
         "note": "diagnostic: the claim keeps delta = 0.25", "delta": {}}
  for delta in DELTAS:
    records = [dict(r, two_stage={}) for r in raw]
    agree = []
    for d in config["dims"]:
      averages = np.array([r["average"][str(d)] for r in raw])
      taus = second_stage(config, seeds, averages, d, delta)
      recorded = np.array([r["two_stage"][str(d)] for r in raw])
      agree.append(float(np.mean(taus == recorded)))
      for record, tau in zip(records, taus):
        record["two_stage"][str(d)] = tau.tolist()
    evaluation = claim.evaluate(config, Records(records, seeds),
                                claim.false_fail_rate)
    out["delta"][str(delta)] = {
        "exponent": float(evaluation.measured),
        "ci": [float(x) for x in evaluation.ci],
        "fraction_of_cells_equal_to_recorded": agree}
    print(delta, out["delta"][str(delta)], flush=True)
  path = Path(results_dir) / "stage2_step_sensitivity.json"
  path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
  main(sys.argv[1])
