"""Arrows point down: each floor imports only from the floors below it, in the
order that ``boundlab/__init__.py`` and ``ARCHITECTURE.md`` state."""

import ast
import re
from pathlib import Path

import boundlab

ROOT = Path(boundlab.__file__).parent
# Bottom to top; the base modules (provenance, JSON files, validation) sit
# under everything.
FLOORS = ["theory", "landscapes", "algorithms", "figures", "claims",
          "experiments", "testing", "paper_repro", "cli"]
BASE = {"provenance", "_jsonio", "_validation", "validation", "__init__"}
# The registry finds the built-in papers: its one import of the floor above.
ALLOWED = {("claims/registry.py", "paper_repro")}


def _floor(module: str) -> str | None:
  parts = module.split(".")
  if parts[0] != "boundlab" or len(parts) == 1 or parts[1] in BASE:
    return None
  return parts[1] if parts[1] in FLOORS else None


def _imports(path: Path):
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
      yield node.module
      if node.module == "boundlab":
        yield from (f"boundlab.{alias.name}" for alias in node.names)
    elif isinstance(node, ast.Import):
      yield from (alias.name for alias in node.names)


def test_every_import_points_down():
  upward = []
  for path in ROOT.rglob("*.py"):
    relative = path.relative_to(ROOT)
    me = relative.parts[0].removesuffix(".py")
    if me in BASE:
      me_rank = -1
    else:
      me_rank = FLOORS.index(me)
    for module in _imports(path):
      floor = _floor(module)
      if floor is None or (relative.as_posix(), floor) in ALLOWED:
        continue
      if FLOORS.index(floor) > me_rank:
        upward.append(f"{relative.as_posix()} imports {module}")
  assert not upward, upward


def test_the_stated_order_is_the_checked_one():
  doc = boundlab.__doc__
  stated = re.findall(r":mod:`boundlab\.(\w+)`", doc)
  floors = [f for f in stated if f in FLOORS]
  assert floors == FLOORS[::-1]
  table = (ROOT.parent / "ARCHITECTURE.md").read_text()
  rows = re.findall(r"^\| `boundlab/(\w+)", table, flags=re.M)
  assert [r for r in rows if r in FLOORS] == FLOORS[::-1]


def test_every_package_directory_is_a_regular_package():
  # setuptools' find_packages skips a directory without __init__.py: a
  # non-editable install would lack it.
  missing = [d.relative_to(ROOT).as_posix() for d in ROOT.rglob("*")
             if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
             and not (d / "__init__.py").exists()]
  assert not missing, missing
