"""Strict test configuration.

* float64 everywhere: bound tests must not be decided by float32 rounding.
* ``jax_numpy_rank_promotion='raise'``: silent broadcasting bugs fail loudly.
* hypothesis profiles: ``boundlab`` (default, shipped with the package as
  :mod:`boundlab.testing.profile`, also named ``ci``: derandomized, no
  deadline because the first call of a jitted function compiles, no example
  database), ``dev``
  (random, more examples), ``nightly`` (random, many examples). Select with
  ``HYPOTHESIS_PROFILE``. Monte Carlo seeds are always drawn by hypothesis.
* ``slow`` tests run only with ``BOUNDLAB_SLOW=1``; ``gpu`` tests only on a GPU.
"""

import os
import shutil

# Figures are files in the tests (before matplotlib is imported anywhere);
# the notebook test clears it for its kernels, which must show plots inline.
os.environ.setdefault("MPLBACKEND", "Agg")
# Under pytest-xdist (make test: two workers on CI's two cores) each worker
# computes on one thread: XLA's own pools would put 2 x (cores) threads on
# the cores. Set before JAX creates its backend (notebook kernels inherit
# it).
if os.environ.get("PYTEST_XDIST_WORKER"):
  os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                        "intra_op_parallelism_threads=1")

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

from boundlab import cli, testing  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

# The shipped profile (boundlab.testing.profile), also under its old name.
settings.register_profile("ci", settings.get_profile(
    testing.register_hypothesis_profile()))
settings.register_profile("dev", deadline=None, max_examples=100)
settings.register_profile("nightly", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE",
                                    testing.HYPOTHESIS_PROFILE))


def pytest_collection_modifyitems(config, items):
  slow = os.environ.get("BOUNDLAB_SLOW") == "1"
  has_gpu = jax.default_backend() == "gpu"
  for item in items:
    if "slow" in item.keywords and not slow:
      item.add_marker(pytest.mark.skip(reason="slow: set BOUNDLAB_SLOW=1"))
    if "gpu" in item.keywords and not has_gpu:
      item.add_marker(pytest.mark.skip(reason="needs a GPU"))
    # Under pytest-xdist (make test: -n 2 --dist loadgroup), every test that
    # reads the one quick verify runs in one worker, so it runs once.
    if "quick_run" in getattr(item, "fixturenames", ()):
      item.add_marker(pytest.mark.xdist_group("quick_run"))
  # That group first: it is the longest unit of work, so one worker starts
  # it at once while the other takes everything else.
  items.sort(key=lambda item: "quick_run" not in getattr(
      item, "fixturenames", ()))


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
  """One quick verify of every registered claim, shared by the command-line
  tests and the every-claim tests (the suite's budget pays for one pass)."""
  out = tmp_path_factory.mktemp("verify")
  assert cli.main(["verify", "--quick", "--out", str(out), "--no-progress"]) == 0
  # Later tests rerun subsets into the same directory (to read its cache),
  # which rewrites report.json: keep the full run's report apart.
  shutil.copy(out / "report.json", out / "quick_report.json")
  return out
