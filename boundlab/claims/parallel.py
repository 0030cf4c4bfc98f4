"""Measuring experiments on a Dask cluster: local processes or a real one.

One task per experiment with missing cells, holding exactly the seeds the
serial runner would measure together, so a cell's value does not depend on
where it was computed (:mod:`boundlab.claims.cache` explains why seeds run
together). Workers only compute: the client stores every returned cell
atomically, so workers need no shared filesystem with it, and a client
killed mid-run resumes from its cache. A task whose worker dies is
rescheduled by Dask on another worker (up to its ``allowed-failures``).

* ``boundlab verify --workers N``: :func:`local_cluster`, N worker processes
  on this machine (one thread each; XLA still uses the machine's cores).
* ``boundlab verify --scheduler tcp://host:8786``: :func:`connect` to a
  running cluster. On SLURM or PBS, ``dask-jobqueue`` starts one::

    from dask_jobqueue import SLURMCluster
    cluster = SLURMCluster(cores=8, memory="32GB", walltime="02:00:00")
    cluster.scale(jobs=4)
    print(cluster.scheduler_address)   # pass it to --scheduler

  Workers need boundlab (and any outside paper package) installed; a paper
  module loaded from a path with ``--papers`` is shipped to them by value.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import jax


def local_cluster(workers: int):
  """A Dask client of ``workers`` local worker processes."""
  from distributed import Client, LocalCluster
  cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                         processes=True, dashboard_address=None)
  client = Client(cluster)
  return _Closing(client, cluster)


def connect(address: str):
  """A Dask client of the running cluster at ``address``."""
  from distributed import Client
  return _Closing(Client(address), None)


class _Closing:
  """A client whose ``close`` also stops the local cluster it started."""

  def __init__(self, client, cluster):
    self.client, self.cluster = client, cluster

  def close(self):
    self.client.close()
    if self.cluster is not None:
      self.cluster.close()


def _measure(experiment, config, seeds, x64: bool):
  """Runs on a worker: the experiment's measure with the client's
  precision; returns the records and the wall time."""
  # The precision is set for this task's thread as well as globally: a
  # worker runs tasks in a thread of its own, where (in some jax versions)
  # a global update made there does not reach the traced code. A task that
  # would silently run in another precision than the client's fails instead.
  jax.config.update("jax_enable_x64", x64)
  with jax.enable_x64(x64):
    bits = jax.numpy.zeros((), jax.numpy.int_).dtype.itemsize * 8
    if bits != (64 if x64 else 32):
      raise RuntimeError(f"worker precision is {bits}-bit, the client's is "
                         f"{64 if x64 else 32}-bit")
    start = time.perf_counter()
    records = experiment.measure(config, seeds)
    return records, time.perf_counter() - start


def _ship_loaded_modules() -> None:
  """Paper modules loaded from a path exist only in this process: their
  functions are pickled by value for the workers."""
  import sys
  import cloudpickle
  for name, module in list(sys.modules.items()):
    if name.startswith("boundlab_papers_"):
      cloudpickle.register_pickle_by_value(module)


def measure_all(executor, plans: Sequence,
                priorities: Sequence[float] | None = None) -> Iterator[tuple]:
  """Submits one task per experiment plan and yields ``(plan, records,
  seconds)`` as the tasks finish.

  Args:
    executor: a Dask ``Client`` or the object :func:`local_cluster` returns.
    plans: objects with ``experiment``, ``config`` and ``missing`` (seeds).
    priorities: larger runs first (Dask's ``priority``); e.g. the last
      measured seconds, so that the longest task does not start last.
  """
  from distributed import as_completed
  client = getattr(executor, "client", executor)
  _ship_loaded_modules()
  x64 = bool(jax.config.jax_enable_x64)
  if priorities is None:
    priorities = [0.0] * len(plans)
  # Dask priorities are integers; ranks keep the order of any floats.
  rank = {i: r for r, i in enumerate(
      sorted(range(len(plans)), key=lambda i: priorities[i]))}
  futures = {client.submit(
      _measure, plan.experiment, plan.config, plan.missing, x64, pure=False,
      priority=rank[i],
      key=f"measure-{plan.experiment.id}-{time.time_ns()}"): plan
             for i, plan in enumerate(plans)}
  # A failed task must not lose the cells of tasks that finish after it:
  # every success is yielded (and stored by the caller) before the first
  # failure is raised.
  failures = []
  for future in as_completed(futures):
    if future.status == "error":
      failures.append(future)
      continue
    records, seconds = future.result()
    yield futures[future], records, seconds
  if failures:
    failures[0].result()     # raises the task's exception here
