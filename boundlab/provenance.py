"""Who computed a number, with what, where: versions, device, git commit.

Public so that benchmark scripts and outside claim modules stamp their results
the way the report does.
"""

from __future__ import annotations

import datetime
import functools
import platform
import subprocess
from pathlib import Path

import jax
import numpy as np

import boundlab


def device_description() -> str:
  """One line naming the JAX backend and its devices (e.g. ``cpu: 1 x cpu``)."""
  devices = jax.devices()
  kinds = sorted({d.device_kind for d in devices})
  return f"{jax.default_backend()}: {len(devices)} x {', '.join(kinds)}"


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
  """The commit of the checkout boundlab is imported from, if it is one."""
  root = Path(boundlab.__file__).resolve().parent.parent
  try:
    out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                         capture_output=True, text=True, timeout=5, check=False)
  except (OSError, subprocess.SubprocessError):
    return None
  commit = out.stdout.strip()
  if out.returncode != 0 or not commit:
    return None
  dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                          "--untracked-files=no"],
                         capture_output=True, text=True, timeout=5, check=False)
  return commit + ("-dirty" if dirty.stdout.strip() else "")


def provenance() -> dict:
  """Metadata stored beside every result and figure."""
  return {
      "boundlab_version": boundlab.__version__,
      "jax_version": jax.__version__,
      "numpy_version": np.__version__,
      "python_version": platform.python_version(),
      "device": device_description(),
      "x64": bool(jax.config.jax_enable_x64),
      "git_commit": git_commit(),
      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds"),
  }
