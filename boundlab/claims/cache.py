"""Content-addressed cell cache with atomic writes, and what a cell depends on.

Each cell -- one (experiment, config, seed) -- is one JSON file under
``root/<experiment id>/`` whose name is the SHA-256 of the canonical JSON of
everything that determines its value (:func:`cell_key`). Writes are atomic
(:mod:`boundlab._jsonio`), so a process killed at any moment leaves either no
file or a complete one, and a rerun skips every finished cell.

The code part of the key (:func:`code_fingerprint`) hashes the library's
sources -- every boundlab module except the paper modules -- and the source
file of every module outside the library that the experiment's ``measure``
reaches (the paper module that defines it, an outside claim module, the
module of a function an experiment family was given). So editing one paper's
measurement recomputes that paper's cells only, and an outside claim whose
``measure`` changes never reuses stale cells.

What the key cannot see: XLA's batched kernels may round differently from
unbatched ones, so a seed's cell can differ in its last bits depending on
which other seeds its ``measure`` call ran beside (``vmap`` over seeds). The
difference is rounding (1e-17 per step); a chaotic run (edge of stability,
oscillating GD) can amplify it. Seeds are therefore still computed together
when their cells are missing together, as in the first run.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import jax

import boundlab
from boundlab import _jsonio

_ROOT = Path(boundlab.__file__).resolve().parent
_PAPER_PACKAGE = "boundlab.paper_repro"


@functools.lru_cache(maxsize=1)
def library_fingerprint() -> str:
  """SHA-256 over boundlab's sources, paper modules excluded."""
  digest = hashlib.sha256()
  for path in sorted(_ROOT.rglob("*.py")):
    relative = path.relative_to(_ROOT)
    # Every paper module (or package) is left out; the list of built-in
    # papers, paper_repro/__init__.py, is library code.
    if relative.parts[0] == "paper_repro" and len(relative.parts) > 1 and \
        relative.parts[1] != "__init__.py":
      continue
    digest.update(str(relative).encode())
    digest.update(path.read_bytes())
  return digest.hexdigest()[:16]


def _in_library(module: str) -> bool:
  return ((module == "boundlab" or module.startswith("boundlab."))
          and not module.startswith(_PAPER_PACKAGE + "."))


def measure_modules(measure) -> set[str]:
  """Names of the modules whose code ``measure`` runs, as far as can be seen
  without executing it: the function's own module, the modules of callables
  held by a bound method's dataclass instance, by a ``functools.partial`` or
  by a closure."""
  found: set[str] = set()
  seen: set[int] = set()

  def visit(obj):
    if id(obj) in seen or obj is None:
      return
    seen.add(id(obj))
    if isinstance(obj, functools.partial):
      visit(obj.func)
      for value in (*obj.args, *obj.keywords.values()):
        visit(value)
    elif inspect.ismethod(obj):
      visit(obj.__func__)
      visit(obj.__self__)
    elif inspect.isfunction(obj):
      if obj.__module__:
        found.add(obj.__module__)
      for cell in obj.__closure__ or ():
        try:
          visit(cell.cell_contents)
        except ValueError:      # an empty cell
          pass
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
      found.add(type(obj).__module__)
      for field in dataclasses.fields(obj):
        visit(getattr(obj, field.name))
    elif isinstance(obj, (list, tuple)):
      for value in obj:
        visit(value)
    elif isinstance(obj, dict):
      for value in obj.values():
        visit(value)

  visit(measure)
  return found


def _module_source(name: str) -> bytes:
  module = sys.modules.get(name)
  path = getattr(module, "__file__", None)
  if path is None:
    return f"<no source for {name}>".encode()
  return Path(path).read_bytes()


def code_fingerprint(measure) -> str:
  """The code part of a cell key: the library's sources plus the source of
  every module outside the library that ``measure`` reaches."""
  digest = hashlib.sha256(library_fingerprint().encode())
  for name in sorted(m for m in measure_modules(measure)
                     if not _in_library(m)):
    digest.update(name.encode())
    digest.update(_module_source(name))
  return digest.hexdigest()[:16]


def cell_key(experiment_id: str, config: dict, seed: int, code: str) -> dict:
  """Everything that determines a cell's value: experiment, config, seed,
  code (:func:`code_fingerprint` of its measure), JAX version, backend and
  precision."""
  return {"experiment": experiment_id, "config": config, "seed": seed,
          "boundlab_version": boundlab.__version__, "code": code,
          "jax": jax.__version__, "backend": jax.default_backend(),
          "x64": bool(jax.config.jax_enable_x64)}


class CellCache:
  """One JSON file per cell under ``root/<namespace>/<hash>.json``."""

  def __init__(self, root: Path):
    self.root = Path(root)

  def path(self, namespace: str, key: Any) -> Path:
    return self.root / namespace / f"{_jsonio.stable_hash(key)}.json"

  def load(self, namespace: str, key: Any) -> dict | None:
    try:
      with open(self.path(namespace, key)) as f:
        record = json.load(f)
    except FileNotFoundError:
      return None
    except json.JSONDecodeError:
      # Only a foreign or hand-edited file can be torn (our writes are atomic):
      # recompute rather than trust it.
      return None
    return record.get("value")

  def store(self, namespace: str, key: Any, value: Any) -> Path:
    path = self.path(namespace, key)
    _jsonio.atomic_write_json(path, {"key": _jsonio.canonical(key),
                                     "value": value})
    return path
