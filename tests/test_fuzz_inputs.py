"""Bad input everywhere: every exported callable, one bad argument at a time
among valid ones, must raise a ``ValueError`` naming that argument.

The calls run in a child process (``tests/fuzz_worker.py``) so that an input
that aborts the interpreter (XLA's SIGABRT on an allocation it cannot make)
fails the test instead of killing the run; its memory budget is 2 GiB, so
the size guard must refuse the huge dimensions before anything is allocated.
``tests/fuzz_specs.py`` lists the callables, a valid call of each and the
kinds of bad values per parameter: every (parameter, canonical bad value)
pair runs, then hypothesis draws more (derandomized, 1,000 examples).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import selectors
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
import fuzz_specs  # noqa: E402

SUBPACKAGES = ("boundlab.algorithms", "boundlab.landscapes",
               "boundlab.theory", "boundlab.claims", "boundlab.figures",
               "boundlab.testing", "boundlab.validation")
MEMORY_BUDGET = 2**31
CASE_TIMEOUT_S = 120


def exported_callables() -> set[str]:
  names = set()
  for package in SUBPACKAGES:
    module = importlib.import_module(package)
    names |= {f"{package}.{name}" for name in module.__all__
              if callable(getattr(module, name))}
  return names


class Worker:
  """The child process; restarted after it dies."""

  def __init__(self):
    self.process = None

  def _start(self):
    env = dict(os.environ, JAX_PLATFORMS="cpu", MPLBACKEND="Agg",
               BOUNDLAB_MEMORY_BUDGET=str(MEMORY_BUDGET),
               XLA_FLAGS="--xla_cpu_multi_thread_eigen=false "
               "intra_op_parallelism_threads=1",
               TQDM_DISABLE="1")
    self.process = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "fuzz_worker.py")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, env=env)

  def ask(self, name, param, value) -> dict:
    if self.process is None or self.process.poll() is not None:
      self._start()
    case = {"name": name, "param": param, "value": value}
    self.process.stdin.write(json.dumps(case) + "\n")
    self.process.stdin.flush()
    selector = selectors.DefaultSelector()
    selector.register(self.process.stdout, selectors.EVENT_READ)
    if not selector.select(CASE_TIMEOUT_S):
      self.process.kill()
      self.process.wait()
      return {"outcome": "timeout", "message": f"> {CASE_TIMEOUT_S} s"}
    line = self.process.stdout.readline()
    if not line:
      code = self.process.wait()
      return {"outcome": "process died", "message": f"exit code {code}"}
    return json.loads(line)

  def close(self):
    if self.process is not None and self.process.poll() is None:
      self.process.stdin.close()
      self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def worker():
  w = Worker()
  yield w
  w.close()


def _verdict(answer, param) -> str | None:
  """None if the answer is a ValueError naming ``param``; else why not."""
  if answer["outcome"] != "ValueError":
    return f"{answer['outcome']}: {answer['message'][:160]}"
  if param not in answer["message"]:
    return f"ValueError not naming {param!r}: {answer['message'][:160]}"
  return None


def test_the_specs_cover_every_exported_callable():
  covered = set(fuzz_specs.SPECS) | set(fuzz_specs.EXEMPT)
  missing = exported_callables() - covered
  stale = covered - exported_callables()
  assert not missing, f"exports without a fuzz spec: {sorted(missing)}"
  assert not stale, f"specs of names no longer exported: {sorted(stale)}"
  assert not set(fuzz_specs.SPECS) & set(fuzz_specs.EXEMPT)


def test_every_valid_call_is_accepted(worker):
  # Otherwise a bad value could "pass" by an error the valid call raises.
  refused = {name: worker.ask(name, None, None)
             for name in sorted(fuzz_specs.SPECS)}
  refused = {k: a for k, a in refused.items() if a["outcome"] != "accepted"}
  assert not refused, refused


def _canonical_cases():
  return [(name, param, value) for name, spec in sorted(fuzz_specs.SPECS.items())
          for param in sorted(spec.bad) for value in spec.values(param)]


def test_canonical_bad_values_raise_value_errors_naming_the_parameter(worker):
  cases = _canonical_cases()
  assert len(cases) >= 1000
  failures = []
  for name, param, value in cases:
    why = _verdict(worker.ask(name, param, value), param)
    if why is not None:
      failures.append(f"{name}({param}={value}): {why}")
  assert not failures, (f"{len(failures)} of {len(cases)} inputs:\n"
                        + "\n".join(failures))


# -- hypothesis: more bad values of each kind -----------------------------------

def _floats(**kw):
  return st.floats(allow_nan=False, **kw)


_STRATEGIES = {
    "positive": _floats(max_value=0.0),
    "positive_or_inf": _floats(max_value=0.0),
    "nonnegative": _floats(max_value=-1e-300),
    "unit_open": _floats(max_value=0.0) | _floats(min_value=1.0),
    "unit_closed": _floats(max_value=-1e-9) | _floats(min_value=1 + 1e-9),
    "decay": _floats(max_value=-1e-9) | _floats(min_value=1.0),
    "fraction": _floats(max_value=0.0) | _floats(min_value=1 + 1e-9),
    "positive_int": st.integers(max_value=0)
    | _floats(min_value=0.1, max_value=1e6).filter(lambda x: x != int(x)),
    "nonnegative_int": st.integers(max_value=-1),
    "size": st.integers(max_value=0)
    | st.integers(min_value=10**13, max_value=2**62),
    "seed": st.integers(max_value=-1)
    | st.integers(min_value=2**63, max_value=2**80),
    "seeds": st.lists(st.integers(max_value=-1), min_size=1, max_size=3)
    | st.lists(st.integers(min_value=2**63), min_size=1, max_size=3)
    | st.integers(),
}


def _strategy(spec, param):
  kind = spec.bad[param]
  canonical = st.sampled_from(spec.values(param))
  if isinstance(kind, str) and kind in _STRATEGIES:
    return _STRATEGIES[kind].map(repr) | canonical
  return canonical


_PAIRS = sorted((name, param) for name, spec in fuzz_specs.SPECS.items()
                for param in spec.bad)


@settings(max_examples=1000, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_hypothesis_bad_values_raise_value_errors_naming_the_parameter(
    worker, data):
  name, param = data.draw(st.sampled_from(_PAIRS), label="export, parameter")
  value = data.draw(_strategy(fuzz_specs.SPECS[name], param), label="value")
  why = _verdict(worker.ask(name, param, value), param)
  assert why is None, f"{name}({param}={value}): {why}"


def test_the_reprs_round_trip():
  # Values travel as expressions: a float's repr must evaluate to itself.
  for x in (0.1, -0.0, 1e300, math.inf, -math.inf):
    assert eval(repr(x), dict(fuzz_specs.NAMESPACE)) == x
  assert math.isnan(eval(repr(math.nan), dict(fuzz_specs.NAMESPACE)))
