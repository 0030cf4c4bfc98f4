"""Content-addressed cell cache with atomic writes, and what a cell depends on.

Each cell -- one (experiment, config, seed) -- is one JSON file under
``root/<experiment id>/`` whose name is the SHA-256 of the canonical JSON of
everything that determines its value (:func:`cell_key`). Writes are atomic
(:mod:`boundlab._jsonio`), so a process killed at any moment leaves either no
file or a complete one, and a rerun skips every finished cell.

The code part of the key (:func:`code_fingerprint`) hashes the library's
sources -- the boundlab modules a measurement can run, i.e. all but the paper
modules, the command line, the report, the registry and the figures -- and
the source of every unit outside the library that the experiment's
``measure`` reaches: for a built-in paper its whole module or package, for an
outside module its file (for code without a file, such as a notebook's
``__main__``, the functions' compiled code). "Reaches" follows the measure's
closures, defaults, ``functools.partial`` arguments, a bound method's
dataclass instance, and the module-level names its functions use. So editing
one paper recomputes that paper's cells only, an outside claim whose
``measure`` changes never reuses stale cells, and the versions of JAX, jaxlib,
numpy, scipy, optax, sympy, mpmath and dp-accounting are part of the key.

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
import importlib.metadata
import inspect
import json
import sys
import sysconfig
from pathlib import Path
from typing import Any

import jax

import boundlab
from boundlab import _jsonio

_ROOT = Path(boundlab.__file__).resolve().parent
_PAPER_PACKAGE = "boundlab.paper_repro"


# Library files that cannot change a cell's value.
_NOT_MEASUREMENT = ("cli.py", "claims/report.py", "claims/registry.py")


def _library_files() -> list[Path]:
  files = []
  for path in sorted(_ROOT.rglob("*.py")):
    relative = path.relative_to(_ROOT).as_posix()
    if relative.startswith(("paper_repro/", "figures/")) or \
        relative in _NOT_MEASUREMENT:
      continue
    files.append(path)
  return files


@functools.lru_cache(maxsize=1)
def library_fingerprint() -> str:
  """SHA-256 over the library sources a measurement can run."""
  digest = hashlib.sha256()
  for path in _library_files():
    digest.update(str(path.relative_to(_ROOT)).encode())
    digest.update(path.read_bytes())
  return digest.hexdigest()[:16]


def _in_library(module: str) -> bool:
  return ((module == "boundlab" or module.startswith("boundlab."))
          and not module.startswith(_PAPER_PACKAGE + "."))


def _third_party(module) -> bool:
  """A module installed with Python or a package (their versions, not their
  sources, go into the key)."""
  origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
  roots = {sys.prefix, sys.base_prefix, *sysconfig.get_paths().values()}
  return (not origin or origin in ("built-in", "frozen")
          or "site-packages" in origin
          or any(origin.startswith(root) for root in roots if root))


def measure_functions(measure) -> list:
  """The functions ``measure`` reaches outside the library, as far as can be
  seen without running it (see the module docstring), and the outside
  modules whose attributes they use (``helpers.simulate(...)``) as module
  objects."""
  found, seen = [], set()

  def visit(obj):
    if obj is None or id(obj) in seen:
      return
    seen.add(id(obj))
    if inspect.ismodule(obj):
      if not _in_library(obj.__name__) and not _third_party(obj):
        found.append(obj)
    elif isinstance(obj, functools.partial):
      for value in (obj.func, *obj.args, *obj.keywords.values()):
        visit(value)
    elif inspect.ismethod(obj):
      visit(obj.__func__)
      visit(obj.__self__)
    elif inspect.isfunction(obj):
      if _in_library(obj.__module__ or ""):
        return           # hashed with the library; its callees are too
      found.append(obj)
      for cell in obj.__closure__ or ():
        try:
          visit(cell.cell_contents)
        except ValueError:      # an empty cell
          pass
      for value in (*(obj.__defaults__ or ()),
                    *(obj.__kwdefaults__ or {}).values()):
        visit(value)
      for name in _names(obj.__code__):
        visit(obj.__globals__.get(name))
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
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


def _names(code) -> set[str]:
  """Global names used by a code object and the code objects nested in it
  (lambdas, inner functions, comprehensions)."""
  names = set(code.co_names)
  for const in code.co_consts:
    if inspect.iscode(const):
      names |= _names(const)
  return names


def _module_name(obj) -> str:
  return (obj.__name__ if inspect.ismodule(obj) else obj.__module__) or ""


def measure_modules(measure) -> set[str]:
  """Names of the modules (outside the library) of what ``measure``
  reaches."""
  return {_module_name(f) for f in measure_functions(measure)} - {""}


def _sources(obj) -> tuple[str, list[bytes]]:
  """A name and the contents that stand for a reached function or module: a
  built-in paper's whole module or package; else the file the code was
  compiled from; else (a notebook cell, ``exec``) the compiled code."""
  module = _module_name(obj)
  if module.startswith(_PAPER_PACKAGE + "."):
    paper = _ROOT / "paper_repro" / module.split(".")[2]
    files = sorted(paper.rglob("*.py")) if paper.is_dir() else [
        paper.with_suffix(".py")]
    return module.split(".")[2], [path.read_bytes() for path in files]
  filename = (getattr(obj, "__file__", None) if inspect.ismodule(obj)
              else obj.__code__.co_filename)
  try:
    return str(filename), [Path(filename).read_bytes()]
  except (OSError, TypeError):
    if inspect.ismodule(obj):
      return module, [module.encode()]
    return f"{module}.{obj.__qualname__}", [_code_bytes(obj.__code__)]


def _code_bytes(code) -> bytes:
  """A compiled function's bytecode and constants (nested code included)."""
  parts = [code.co_code, repr(code.co_names).encode()]
  for const in code.co_consts:
    parts.append(_code_bytes(const) if inspect.iscode(const)
                 else repr(const).encode())
  return b"".join(parts)


def code_fingerprint(measure) -> str:
  """The code part of a cell key: the library's sources plus the source of
  every unit outside the library that ``measure`` reaches."""
  digest = hashlib.sha256(library_fingerprint().encode())
  units = dict(_sources(obj) for obj in measure_functions(measure))
  for name in sorted(units):
    digest.update(name.encode())
    for content in units[name]:
      digest.update(content)
  return digest.hexdigest()[:16]


_DEPENDENCIES = ("jaxlib", "numpy", "scipy", "optax", "sympy", "mpmath",
                 "dp-accounting")


@functools.lru_cache(maxsize=1)
def _versions() -> dict:
  out = {"jax": jax.__version__}
  for name in _DEPENDENCIES:
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      out[name] = None
  return out


def cell_key(experiment_id: str, config: dict, seed: int, code: str) -> dict:
  """Everything that determines a cell's value: experiment, config, seed,
  code (:func:`code_fingerprint` of its measure), the versions of JAX and
  the numerical dependencies, backend and precision."""
  return {"experiment": experiment_id, "config": config, "seed": seed,
          "boundlab_version": boundlab.__version__, "code": code,
          "versions": _versions(), "backend": jax.default_backend(),
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
