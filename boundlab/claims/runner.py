"""The runner: claims -> cached per-seed records -> verdicts and figures.

Every (experiment, config, seed) cell is cached as one JSON file under
``<out>/cache`` (:mod:`boundlab.claims.cache`). Cells are written atomically
as soon as they are computed, so a run killed at any moment resumes where it
stopped; cached cells are reused unless ``force`` is set. Claims that share an
:class:`~boundlab.claims.claim.Experiment` read one set of runs, computed (or
loaded) once per invocation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from boundlab import _jsonio
from boundlab.claims.cache import CellCache, cell_key, code_fingerprint
from boundlab.claims.claim import Claim, Evaluation, Experiment
from boundlab.claims.records import Records
from boundlab.claims.verdict import Outcome, Verdict, decide
from boundlab.figures import save_figure


def cell_seeds(root_seed: int, experiment_id: str, count: int) -> list[int]:
  """Distinct, reproducible 31-bit seeds for an experiment's replicates."""
  out = []
  for index in range(count):
    digest = hashlib.sha256(f"{root_seed}:{experiment_id}:{index}".encode())
    out.append(int.from_bytes(digest.digest()[:4], "big") & 0x7FFFFFFF)
  return out


@dataclasses.dataclass
class ClaimRun:
  """A verdict with the config, records and evaluation it came from."""

  claim: Claim
  config: dict
  seeds: list[int]
  verdict: Verdict
  evaluation: Evaluation
  computed_cells: int
  cached_cells: int


def collect_records(experiment: Experiment, config: dict, seeds: Sequence[int],
                    cache: CellCache, *, force: bool) -> tuple[list[dict], int]:
  """Per-seed records from the cache, computing (and storing) missing ones."""
  code = code_fingerprint(experiment.measure)
  keys = {s: cell_key(experiment.id, config, s, code) for s in seeds}
  records = {s: None if force else cache.load(experiment.id, keys[s])
             for s in seeds}
  missing = [s for s in seeds if records[s] is None]
  if missing:
    new = experiment.measure(config, missing)
    if len(new) != len(missing):
      raise RuntimeError(f"{experiment.id}: measure returned {len(new)} "
                         f"records for {len(missing)} seeds")
    for s, record in zip(missing, new):
      # Through the JSON the cache stores (sorted keys, Python floats), so a
      # fresh record and a cached one are the same value, field order too.
      record = json.loads(json.dumps(_jsonio.to_jsonable(record),
                                     sort_keys=True))
      cache.store(experiment.id, keys[s], record)
      records[s] = record
  return [records[s] for s in seeds], len(missing)


def judge(claim: Claim, config: dict,
          records: Records) -> tuple[Verdict, Evaluation]:
  """Evaluates the records, the bound, and the claim's decision rule."""
  evaluation = claim.evaluate(config, records, claim.false_fail_rate)
  ci = tuple(float(x) for x in evaluation.ci)
  measured = float(evaluation.measured)
  undetermined = not all(math.isfinite(x) for x in (*ci, measured))
  if undetermined and set(evaluation.bound_values) != set(
      claim.bound.from_evaluation):
    bound = math.nan     # no measurement, so no measured bound symbols
  else:
    bound = claim.bound.value(config, evaluation.bound_values)
  outcome = decide(claim.relation, ci, (bound, bound), claim.tolerance)
  notes = evaluation.notes
  diverged = records.diverged_at[records.diverged_at >= 0]
  if diverged.size:
    outcome = Outcome.DIVERGED
    notes = (f"{diverged.size}/{len(records)} seeds diverged (first "
             f"non-finite iterate at step {int(diverged.min())}). " + notes)
  elif evaluation.inconclusive_reason:
    outcome = Outcome.INCONCLUSIVE
    notes = f"{evaluation.inconclusive_reason} {notes}".strip()
  elif undetermined:
    outcome = Outcome.INCONCLUSIVE
  verdict = Verdict(
      claim_id=claim.id, outcome=outcome, measured=measured,
      ci=ci, bound=bound, bound_ci=(bound, bound), relation=claim.relation,
      tolerance=claim.tolerance, sample_size=len(records),
      false_fail_rate=claim.false_fail_rate, notes=notes)
  return verdict, evaluation


# Records or tables above this size stay out of a figure's sidecar: it then
# names the cache namespace instead of copying megabytes of raw scores.
SIDECAR_LIMIT_BYTES = 1_000_000


def sidecar_value(value, experiment_id: str):
  """``value`` as JSON for a figure's sidecar, or a pointer when it is large."""
  value = _jsonio.to_jsonable(value)
  size = len(json.dumps(value))
  if size <= SIDECAR_LIMIT_BYTES:
    return value
  return {"omitted": f"{size / 1e6:.1f} MB; recompute it from the cell cache",
          "cache_namespace": experiment_id}


def run_claims(claims: Sequence[Claim], out_dir: Path, *, quick: bool,
               seed: int = 0, force: bool = False,
               on_claim: Callable[[Claim], None] | None = None,
               figures: bool = True) -> list[ClaimRun]:
  """Runs ``claims`` and returns their verdicts (figures under ``out_dir``)."""
  out_dir = Path(out_dir)
  cache = CellCache(out_dir / "cache")
  loaded: dict[str, tuple[Experiment, dict, list[int], Records]] = {}
  runs = []
  for claim in claims:
    if on_claim is not None:
      on_claim(claim)
    experiment = claim.experiment
    if experiment.id in loaded:
      other, config, seeds, records = loaded[experiment.id]
      if other is not experiment:
        raise ValueError(f"two different experiments share the id "
                         f"{experiment.id!r}")
      computed = 0
    else:
      config = experiment.config(quick)
      seeds = cell_seeds(seed, experiment.id, experiment.num_seeds(quick))
      raw, computed = collect_records(experiment, config, seeds, cache,
                                      force=force)
      records = Records(raw, seeds)
      loaded[experiment.id] = (experiment, config, seeds, records)
    verdict, evaluation = judge(claim, config, records)
    if figures and claim.plot is not None:
      fig = claim.plot(config, records, evaluation)
      path, _ = save_figure(
          fig, out_dir / "figures" / f"{claim.id}.png",
          data={"verdict": dataclasses.asdict(verdict),
                "tables": sidecar_value(evaluation.tables, experiment.id),
                "records": sidecar_value(list(records.raw), experiment.id)},
          config=config, seeds=seeds)
      verdict = dataclasses.replace(
          verdict, figure=str(path.relative_to(out_dir)))
    runs.append(ClaimRun(claim, config, seeds, verdict, evaluation, computed,
                         len(seeds) - computed))
  return runs


def summary_counts(runs: Sequence[ClaimRun]) -> dict[str, int]:
  counts = {o.value: 0 for o in Outcome}
  for r in runs:
    counts[r.verdict.outcome.value] += 1
  return counts
