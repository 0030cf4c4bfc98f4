"""Child process of the input fuzz test: reads one JSON case per line
({"name", "param", "value"}), calls the export with the spec's valid
arguments and the one bad value, and answers one JSON line: the exception
class and message, or "accepted". An abort (SIGABRT from XLA) ends this
process, which the parent reports as a failure of the case it sent."""

import importlib
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(__file__))
# The protocol owns the original stdout; whatever the callables print goes
# to stderr.
_protocol = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
warnings.simplefilter("ignore")

import fuzz_specs  # noqa: E402


def _resolve(name):
  module, _, attr = name.rpartition(".")
  return getattr(importlib.import_module(module), attr)


def _answer(case):
  spec = fuzz_specs.SPECS[case["name"]]
  try:
    kwargs = spec.valid()
    if case["param"] is not None:
      kwargs[case["param"]] = eval(case["value"], dict(fuzz_specs.NAMESPACE))
    fn = _resolve(case["name"])
    if spec.call is not None:
      spec.call(fn, kwargs)
    else:
      fn(**kwargs)
  except ValueError as error:
    return {"outcome": "ValueError", "message": str(error)[:600]}
  except BaseException as error:   # noqa: BLE001 -- reported, not hidden
    return {"outcome": type(error).__name__, "message": str(error)[:600]}
  finally:
    try:
      import matplotlib.pyplot as plt
      plt.close("all")
    except ImportError:
      pass
  return {"outcome": "accepted", "message": ""}


for line in sys.stdin:
  _protocol.write(json.dumps(_answer(json.loads(line))) + "\n")
  _protocol.flush()
