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

import ast
import os
import shutil
from pathlib import Path

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
  # The tests reading the one quick verify first: they are the longest unit
  # of work, so one worker starts it at once while the other takes the rest.
  items.sort(key=lambda item: "quick_run" not in getattr(
      item, "fixturenames", ()))


def _tests_needing(fixture: str, folder: Path = Path(__file__).parent):
  """{(file, test name)} of the tests in ``folder`` that request
  ``fixture``, directly or through fixtures of their module or of the
  folder's conftest, read from the source (the xdist controller does not
  collect)."""
  def module_functions(path):
    return {node.name: {a.arg for a in node.args.args}
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef)}

  shared = (module_functions(folder / "conftest.py")
            if (folder / "conftest.py").exists() else {})
  needing = set()
  for path in sorted(folder.glob("test_*.py")):
    tree = ast.parse(path.read_text())
    functions = dict(shared)           # name -> argument names
    tests = []                         # (node id tail, name)
    for node in tree.body:
      if isinstance(node, ast.FunctionDef):
        functions[node.name] = {a.arg for a in node.args.args}
        if node.name.startswith("test"):
          tests.append((node.name, node.name))
      elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
        for method in node.body:
          if (isinstance(method, ast.FunctionDef)
              and method.name.startswith("test")):
            functions[f"{node.name}::{method.name}"] = {
                a.arg for a in method.args.args}
            tests.append((f"{node.name}::{method.name}",
                          f"{node.name}::{method.name}"))

    def needs(name, seen=()):
      args = functions.get(name, set())
      return fixture in args or any(
          needs(arg, seen + (name,)) for arg in args
          if arg in functions and arg not in seen)

    rel = path.relative_to(folder.parent).as_posix()
    needing.update((rel, tail) for tail, name in tests if needs(name))
  return needing


QUICK_RUN_TESTS = _tests_needing("quick_run")


def quick_run_group(nodeid: str) -> str | None:
  """"quick_run" for a test that reads the quick verify run, else None."""
  file, _, rest = nodeid.partition("::")
  return ("quick_run" if (file, rest.split("[", 1)[0]) in QUICK_RUN_TESTS
          else None)


try:
  from xdist.scheduler import LoadScopeScheduling
except ImportError:                  # pytest-xdist is a dev extra
  LoadScopeScheduling = None

if LoadScopeScheduling is not None:
  class _QuickRunInOneWorker(LoadScopeScheduling):
    """Load scheduling, except that every test reading the quick verify
    run is one unit of work, so the run happens once. (pytest-xdist 3.8's
    ``--dist loadgroup`` renames node ids through ``item._nodeid``, which
    pytest 9.2 no longer reads: its groups silently stopped forming and
    the 740 s quick verify ran in both workers.)"""

    def _split_scope(self, nodeid: str) -> str:
      return quick_run_group(nodeid) or nodeid

  @pytest.hookimpl(optionalhook=True)
  def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") in ("load", "loadgroup"):
      return _QuickRunInOneWorker(config, log)
    return None


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
