"""The claims registry: every paper module, built in or not, enters by one door.

A paper module defines ``PAPER`` (a :class:`~boundlab.claims.paper.Paper`) and
``CLAIMS`` (a sequence of :class:`~boundlab.claims.claim.Claim`), and
optionally ``example_figures(out_dir, quick) -> list[Path]``. It is registered
by :func:`register`, which checks it. Three ways in, all through
:func:`register`:

* boundlab's own papers (the modules listed in :mod:`boundlab.paper_repro`);
* installed packages that declare an entry point in the group
  ``boundlab.papers`` (``[project.entry-points."boundlab.papers"]
  mypaper2027 = "mypackage.mypaper2027"`` in their ``pyproject.toml``);
* ``boundlab verify --papers MODULE_OR_PATH`` (:func:`load`): an importable
  module name or the path of a ``.py`` file.

Discovery is lazy: the first call of :func:`papers` imports the built-in
modules and the entry points.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from boundlab.claims.claim import Claim
from boundlab.claims.paper import Paper

ENTRY_POINT_GROUP = "boundlab.papers"

_PAPERS: dict[str, ModuleType] = {}
_discovered = False


def _check_module(module: ModuleType) -> None:
  if not isinstance(module, ModuleType):
    raise ValueError("module must be a paper module (with PAPER and CLAIMS),"
                     f" got {type(module).__name__}")
  name = getattr(module, "__name__", repr(module))
  paper = getattr(module, "PAPER", None)
  claims = getattr(module, "CLAIMS", None)
  if not isinstance(paper, Paper):
    raise ValueError(f"paper module {name} must define PAPER, a "
                     "boundlab.claims.Paper")
  if (not isinstance(claims, Sequence) or not claims
      or not all(isinstance(c, Claim) for c in claims)):
    raise ValueError(f"paper module {name} must define CLAIMS, a non-empty "
                     "sequence of boundlab.claims.Claim")
  for claim in claims:
    if claim.paper != paper:
      raise ValueError(f"claim {claim.id} in {name} cites {claim.paper.key}, "
                       f"not the module's PAPER {paper.key}")
  extra = getattr(module, "example_figures", None)
  if extra is not None and not callable(extra):
    raise ValueError(f"{name}.example_figures must be callable")


def register(module: ModuleType) -> ModuleType:
  """Adds a paper module to the registry (idempotent for the same module).

  Raises:
    ValueError: if the module lacks ``PAPER``/``CLAIMS``, if its paper key is
      already taken by another module, or if a claim id or an experiment id
      collides with a registered one.
  """
  _check_module(module)
  key = module.PAPER.key
  if key in _PAPERS:
    if _PAPERS[key] is module:
      return module
    raise ValueError(f"paper key {key!r} is already registered by "
                     f"{_PAPERS[key].__name__}")
  _check_collisions(list(_all_registered_claims()) + list(module.CLAIMS))
  _PAPERS[key] = module
  return module


def _check_collisions(claims: Sequence[Claim]) -> None:
  ids = [c.id for c in claims]
  duplicates = sorted({i for i in ids if ids.count(i) > 1})
  if duplicates:
    raise ValueError(f"duplicate claim ids: {duplicates}")
  experiments = {}
  for claim in claims:
    other = experiments.setdefault(claim.experiment.id, claim.experiment)
    if other is not claim.experiment:
      raise ValueError(f"two different experiments share the id "
                       f"{claim.experiment.id!r}")


def _all_registered_claims():
  for module in _PAPERS.values():
    yield from module.CLAIMS


def load(spec: str) -> ModuleType:
  """Imports and registers a paper module given by name or ``.py`` path."""
  if not isinstance(spec, (str, Path)) or not str(spec):
    raise ValueError("spec must be a module name or a .py path (--papers), "
                     f"got {spec!r}")
  spec = str(spec)
  discover()
  path = Path(spec)
  if spec.endswith(".py") or path.is_file():
    if not path.is_file():
      raise ValueError(f"--papers: no such file {spec!r} (spec)")
    # The module name carries the file's location, so two files of the same
    # name are two modules (and the cache hashes each one's own source).
    resolved = path.resolve()
    stem = re.sub(r"\W", "_", resolved.stem)
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    name = f"boundlab_papers_{stem}_{digest}"
    existing = sys.modules.get(name)
    if existing is not None:
      return register(existing)
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    # Registered in sys.modules before it runs, so that its functions are
    # attributable to it (the cache hashes the module's source).
    sys.modules[name] = module
    try:
      module_spec.loader.exec_module(module)
    except BaseException:
      del sys.modules[name]
      raise
  else:
    try:
      module = importlib.import_module(spec)
    except ImportError as e:
      raise ValueError(f"--papers: cannot import {spec!r} (spec): "
                       f"{e}") from None
  return register(module)


def discover() -> None:
  """Registers the built-in papers and every ``boundlab.papers`` entry point
  (once)."""
  global _discovered
  if _discovered:
    return
  from boundlab import paper_repro   # the only import of the paper floor
  for name in paper_repro.MODULES:
    register(importlib.import_module(f"{paper_repro.__name__}.{name}"))
  for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
    # An installed package's broken paper must not take boundlab down: it
    # is reported and left out.
    try:
      register(entry.load())
    except Exception as e:  # noqa: BLE001 -- any failure of outside code
      warnings.warn(f"boundlab: paper entry point {entry.name!r} "
                    f"({entry.value}) not registered: {type(e).__name__}: {e}",
                    stacklevel=2)
  _discovered = True


def papers() -> dict[str, ModuleType]:
  """paper key -> module, built-in papers first."""
  discover()
  return dict(_PAPERS)


def all_claims() -> list[Claim]:
  """Every registered claim, in paper then declaration order."""
  return [c for m in papers().values() for c in m.CLAIMS]


def paper_module(key: str) -> ModuleType:
  """The module of paper ``key``; ValueError naming the known keys otherwise."""
  registered = papers()
  if key not in registered:
    raise ValueError(f"unknown paper {key!r}; known papers: "
                     f"{', '.join(sorted(registered))} (key)")
  return registered[key]


def select_claims(pattern: str | None = None) -> list[Claim]:
  """Claims whose id matches the regular expression ``pattern`` (search)."""
  claims = all_claims()
  if pattern is None:
    return claims
  if not isinstance(pattern, str):
    raise ValueError("pattern (--only) must be a regular expression string, "
                     f"got {pattern!r}")
  try:
    regex = re.compile(pattern)
  except re.error as e:
    raise ValueError(f"--only must be a valid regular expression: "
                     f"{e} (pattern {pattern!r})") from None
  chosen = [c for c in claims if regex.search(c.id)]
  if not chosen:
    raise ValueError(f"no claim id matches {pattern!r}; run 'boundlab list' "
                     "for the ids")
  return chosen


def get_claim(claim_id: str) -> Claim:
  """The claim with exactly this id."""
  for claim in all_claims():
    if claim.id == claim_id:
      return claim
  raise ValueError(f"unknown claim id {claim_id!r}; run 'boundlab list' "
                   "for the ids (claim_id)")


def unregister(key: str) -> None:
  """Removes a paper (for tests that register temporary modules)."""
  _PAPERS.pop(key, None)
