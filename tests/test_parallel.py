"""Cells measured on a Dask cluster: the same report as a serial run, and
nothing lost when a worker dies or a task fails."""

import math
import os
import signal
import textwrap
import threading
import time

import pytest

from boundlab.claims import parallel, registry, report, runner

# Cheap claims of four experiment families (one experiment with two claims).
_CLAIMS = ("chen2020.stall_fixed_point", "cohen2021.gd_sharpness_at_convergence",
           "mulayoff2023.stable_below_threshold",
           "mulayoff2023.unstable_above_threshold",
           "pan2023.clipping_converges_faster")

# Numbers may differ in the last bits between processes: XLA compiles each
# program afresh in each worker, and a reduction's order may differ (seen
# once: 1.0000000000000007 vs 1.0). Verdicts must be identical.
_REL = 1e-12


@pytest.fixture(scope="module")
def cluster():
  executor = parallel.local_cluster(2)
  yield executor
  executor.close()


def _same(a, b, where=""):
  if isinstance(a, float) and isinstance(b, float):
    assert math.isclose(a, b, rel_tol=_REL, abs_tol=1e-300), where
  elif isinstance(a, dict):
    assert a.keys() == b.keys(), where
    for k in a:
      _same(a[k], b[k], f"{where}.{k}")
  elif isinstance(a, list):
    assert len(a) == len(b), where
    for i, (x, y) in enumerate(zip(a, b)):
      _same(x, y, f"{where}[{i}]")
  else:
    assert a == b, where


def test_two_workers_give_the_serial_report(cluster, tmp_path):
  registry.discover()
  claims = [registry.get_claim(i) for i in _CLAIMS]
  serial = runner.run_claims(claims, tmp_path / "serial", quick=True)
  dask = runner.run_claims(claims, tmp_path / "dask", quick=True,
                           executor=cluster)
  assert [r.verdict.outcome for r in dask] == [r.verdict.outcome
                                               for r in serial]
  for s, d in zip(serial, dask):
    _same(report.claim_entry(s), report.claim_entry(d), s.claim.id)
  assert sum(r.computed_cells for r in dask) == sum(
      r.computed_cells for r in serial) > 0
  # The client stored every cell: a rerun computes nothing.
  again = runner.run_claims(claims, tmp_path / "dask", quick=True,
                            executor=cluster)
  assert sum(r.computed_cells for r in again) == 0


def test_verify_on_a_cluster_by_its_address(cluster, tmp_path):
  # The multi-host path: `boundlab verify --scheduler ADDRESS` connects to
  # a running cluster (here the fixture's, over TCP, in other processes)
  # and writes the serial run's report.
  import json
  from boundlab import cli
  only = "^mulayoff2023\\.stable_below_threshold$"
  address = cluster.cluster.scheduler_address
  assert address.startswith("tcp://")
  transitions = lambda: cluster.client.run_on_scheduler(
      lambda dask_scheduler: dask_scheduler.transition_counter)
  before = transitions()
  assert cli.main(["verify", "--quick", "--no-progress", "--only", only,
                   "--scheduler", address, "--out",
                   str(tmp_path / "remote")]) == 0
  assert transitions() > before      # the cells were computed there
  assert cli.main(["verify", "--quick", "--no-progress", "--only", only,
                   "--out", str(tmp_path / "serial")]) == 0
  remote, serial = (json.loads((tmp_path / name / "report.json").read_text())
                    ["claims"] for name in ("remote", "serial"))
  assert len(remote) == 1 and remote[0]["verdict"] == serial[0]["verdict"]
  _same(remote[0]["measured"], serial[0]["measured"])
  _same(remote[0]["ci"], serial[0]["ci"])


# An outside paper whose first experiment's first attempt hangs until the
# test kills its worker; the marker file (a path in the config) tells the
# retry apart. A second experiment fails outright. Both use the toy
# quadratic of tests/outside_papers/toy2026.py.
_PAPER = '''
import os, time
import jax, sympy
from boundlab import algorithms, landscapes
from boundlab.claims import Bound, Claim, Evaluation, Experiment, Paper
import optax

PAPER = Paper(key="flaky2026", title="Fixture: a worker dies", authors="T. F.",
              arxiv="0000.00001", version="v1")

def _config(marker):
  return lambda quick: {{"marker": marker, "steps": 20}}

def _measure(config, seeds):
  if not os.path.exists(config["marker"]):
    with open(config["marker"] + ".tmp", "w") as f:
      f.write(str(os.getpid()))
    os.replace(config["marker"] + ".tmp", config["marker"])
    time.sleep(600)               # killed by the test
  land = landscapes.mean_of_squares([-1.0, 0.5, 2.0])
  result = algorithms.run(land, algorithms.with_mean_gradient(
      optax.sgd(0.1)), seeds, steps=config["steps"],
      record_every=config["steps"])
  return [{{"final": float(v.final_params)}} for v in result.seeds()]

def _fail(config, seeds):
  raise RuntimeError("this experiment fails on purpose")

def _evaluate(config, records, alpha):
  x = records["final"]
  return Evaluation(measured=float(abs(x - 0.5).max()),
                    ci=(0.0, float(abs(x - 0.5).max())), notes="range")

def _claim(name, measure):
  return Claim(
      id=f"flaky2026.{{name}}", paper=PAPER,
      statement="GD on a quadratic gets near its minimum.",
      measurement="|x_T - x*| over starts.",
      bound=Bound(name="1", expression=sympy.Integer(1),
                  citation=PAPER.cite("Fixture", "A fixture.")),
      relation="<=",
      experiment=Experiment(f"flaky2026.{{name}}", _config({marker!r}),
                            measure, seeds=3, quick_seeds=3),
      evidence="all-instances", evaluate=_evaluate)

CLAIMS = (_claim("survives", _measure), _claim("fails", _fail))
'''


def test_a_killed_worker_loses_nothing(cluster, tmp_path):
  marker = tmp_path / "attempt"
  path = tmp_path / "flaky2026.py"
  path.write_text(textwrap.dedent(_PAPER.format(marker=str(marker))))
  module = registry.load(str(path))
  try:
    survives, fails = module.CLAIMS
    result = {}

    def run():
      try:
        result["runs"] = runner.run_claims(
            [survives], tmp_path / "out", quick=True, executor=cluster,
            figures=False)
      except BaseException as e:  # noqa: BLE001 -- reported below
        result["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while not marker.exists():
      assert time.monotonic() < deadline, "the first attempt never started"
      time.sleep(0.2)
    worker_pid = int(marker.read_text())
    assert worker_pid != os.getpid()
    os.kill(worker_pid, signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive(), "the retried task never finished"
    assert "error" not in result, result.get("error")
    (run_,) = result["runs"]
    assert run_.verdict.outcome.value == "holds"
    assert run_.computed_cells == 3

    # A failing task raises, but only after the other tasks' cells are
    # stored: the rerun computes none of them.
    with pytest.raises(RuntimeError, match="fails on purpose"):
      runner.run_claims([fails, survives], tmp_path / "out2", quick=True,
                        executor=cluster, figures=False)
    (again,) = runner.run_claims([survives], tmp_path / "out2", quick=True,
                                 figures=False)
    assert again.computed_cells == 0 and again.cached_cells == 3
  finally:
    registry.unregister("flaky2026")


def _integer_bits(config, seeds):
  import jax.numpy as jnp
  return [{"bits": jnp.zeros((), jnp.int_).dtype.itemsize * 8} for _ in seeds]


@pytest.mark.parametrize("x64", [True, False])
def test_a_task_runs_in_the_clients_precision_in_a_thread_of_its_own(x64):
  # Dask runs tasks in worker threads; on jax 0.11 a global x64 update made
  # there did not reach the traced code, and a full run computed in 32 bits.
  import jax
  from boundlab.claims import Experiment
  experiment = Experiment("test.bits", config=lambda quick: {},
                          measure=_integer_bits, seeds=2, quick_seeds=2)
  before, result = jax.config.jax_enable_x64, {}
  thread = threading.Thread(target=lambda: result.update(
      records=parallel._measure(experiment, {}, [0], x64)[0]))
  thread.start()
  thread.join()
  jax.config.update("jax_enable_x64", before)
  assert result["records"] == [{"bits": 64 if x64 else 32}]
