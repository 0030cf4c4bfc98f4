"""JSON values and atomic file writes, shared by the cache, reports and figures.

A write goes to a temporary file in the target's directory and is renamed into
place, so a process killed at any moment leaves either the old file or the
complete new one, never a torn one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def canonical(obj: Any) -> Any:
  """Maps tuples to lists and numpy values to Python ones for stable JSON;
  non-finite floats become their ``repr`` so that hashes are defined."""
  if isinstance(obj, dict):
    return {str(k): canonical(v) for k, v in sorted(obj.items())}
  if isinstance(obj, (list, tuple)):
    return [canonical(v) for v in obj]
  if hasattr(obj, "tolist"):
    return canonical(obj.tolist())
  if isinstance(obj, float) and not math.isfinite(obj):
    return repr(obj)
  return obj


def stable_hash(obj: Any) -> str:
  """SHA-256 hex digest of the canonical JSON of ``obj``."""
  text = json.dumps(canonical(obj), sort_keys=True, separators=(",", ":"))
  return hashlib.sha256(text.encode()).hexdigest()


def to_jsonable(obj: Any) -> Any:
  """Converts arrays, numpy scalars and dataclasses to JSON values.

  Non-finite floats are kept (Python's json writes ``NaN``/``Infinity``), since
  a diverged run is an outcome to report, not an error.
  """
  if isinstance(obj, dict):
    return {str(k): to_jsonable(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [to_jsonable(v) for v in obj]
  if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
    return to_jsonable({f.name: getattr(obj, f.name)
                        for f in dataclasses.fields(obj)})
  if hasattr(obj, "tolist"):
    return obj.tolist()
  return obj


def _file_mode() -> int:
  """The mode a plain ``open`` would give a new file (0o666 less the umask):
  temporary files are 0o600, and results are meant to be shared."""
  umask = os.umask(0)
  os.umask(umask)
  return 0o666 & ~umask


_MODE = _file_mode()


def atomic_write_bytes(path: Path, write) -> None:
  """Calls ``write(file)`` on a temporary file, then renames it to ``path``
  (with the permissions of an ordinary new file)."""
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                             suffix=".tmp")
  try:
    os.fchmod(fd, _MODE)
    with os.fdopen(fd, "wb") as f:
      write(f)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    Path(tmp).unlink(missing_ok=True)
    raise


def atomic_write_text(path: Path, text: str) -> None:
  """Writes ``text`` to ``path`` so that readers never see a partial file."""
  atomic_write_bytes(path, lambda f: f.write(text.encode()))


def atomic_write_json(path: Path, obj: Any) -> None:
  atomic_write_text(path, json.dumps(to_jsonable(obj), indent=1,
                                     sort_keys=True))
