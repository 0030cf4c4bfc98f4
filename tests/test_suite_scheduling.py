"""The test scheduler's quick-verify group matches the tests' fixtures.

Under pytest-xdist the controller assigns tests to workers from node ids
alone, so ``conftest.quick_run_group`` reads from the source which tests
request the ``quick_run`` fixture. A test missed there would run the 740 s
quick verify a second time in the other worker; one wrongly included would
only serialise. Both are caught here against pytest's own fixture closure,
from a collection of the whole suite in a child process.
"""

import os
import subprocess
import sys
from pathlib import Path

import conftest

TESTS = Path(__file__).parent

PROBE = '''
def pytest_collection_finish(session):
  with open({out!r}, "w") as f:
    for item in session.items:
      uses = "quick_run" in getattr(item, "fixturenames", ())
      f.write(("Q " if uses else "- ") + item.nodeid + "\\n")
'''


def test_quick_run_group_is_exactly_the_tests_requesting_quick_run(tmp_path):
  listing = tmp_path / "items.txt"
  (tmp_path / "scheduling_probe.py").write_text(PROBE.format(out=str(listing)))
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [str(tmp_path), os.environ.get("PYTHONPATH", "")]))
  env.pop("PYTEST_XDIST_WORKER", None)
  subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                  "-p", "no:xdist", "-p", "scheduling_probe", "-p",
                  "no:cacheprovider", str(TESTS)], cwd=TESTS.parent, env=env,
                 check=True, capture_output=True)
  lines = listing.read_text().splitlines()
  assert len(lines) > 500                      # the whole suite was collected
  requesting = {line[2:] for line in lines if line.startswith("Q ")}
  grouped = {line[2:] for line in lines
             if conftest.quick_run_group(line[2:]) == "quick_run"}
  assert len(requesting) > 50, "the quick-verify tests were not found"
  assert grouped == requesting


def test_quick_run_group_ignores_parameters_and_other_tests():
  file, name = sorted(conftest.QUICK_RUN_TESTS)[0]
  assert conftest.quick_run_group(f"{file}::{name}[x-1]") == "quick_run"
  assert conftest.quick_run_group(f"{file}::{name}_not_it") is None
  assert conftest.quick_run_group("tests/test_nothing.py::test_x") is None
