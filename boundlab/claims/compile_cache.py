"""XLA's persistent compilation cache for claim runs.

A quick verify compiles many XLA programs, and on a laptop or CI core
much of a quick claim's time is compiling, not running. JAX can keep compiled programs on disk, keyed by the program
text, the compile options, the backend and the jax/jaxlib versions, so a
cached program is the program that would have been compiled: the cache
cannot change a number, only skip work. ``boundlab verify`` and ``boundlab
repro`` use ``<out>/xla-cache`` unless told otherwise (``--compile-cache
DIR``, ``BOUNDLAB_COMPILE_CACHE``, or ``--no-compile-cache``).

Local Dask workers are separate processes: they read the directory from the
``JAX_COMPILATION_CACHE_DIR`` environment variable, set here before the
cluster starts. Workers of a remote cluster use their own setting.

References:
  JAX documentation, "Persistent compilation cache".
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache

from boundlab import _validation as v

# Programs compiling faster than this are not written: reading an entry
# costs a file read and a deserialisation, a few milliseconds on CPU.
MIN_COMPILE_SECONDS = 0.2

_ENVIRONMENT = ("JAX_COMPILATION_CACHE_DIR",
                "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS")


def default_directory(out) -> Path:
  """``$BOUNDLAB_COMPILE_CACHE`` if set, else ``<out>/xla-cache``."""
  env = os.environ.get("BOUNDLAB_COMPILE_CACHE")
  return Path(env) if env else Path(out) / "xla-cache"


def use_compilation_cache(directory, *,
                          min_compile_seconds: float = MIN_COMPILE_SECONDS
                          ) -> Path | None:
  """Cache compiled XLA programs under ``directory`` (None: no cache).

  Applies to this process and to processes started after the call (they
  inherit the environment). Calling it again with another directory
  switches the cache; None turns it off.

  Returns:
    The directory as an absolute path, or None.
  """
  min_compile_seconds = v.check_nonnegative("min_compile_seconds",
                                            min_compile_seconds)
  if directory is None:
    for name in _ENVIRONMENT:
      os.environ.pop(name, None)
    jax.config.update("jax_compilation_cache_dir", None)
    compilation_cache.reset_cache()
    return None
  if not isinstance(directory, (str, os.PathLike)) or not str(directory):
    raise ValueError(f"directory must be a path or None, got {directory!r}")
  path = Path(directory).expanduser().absolute()
  path.mkdir(parents=True, exist_ok=True)
  os.environ["JAX_COMPILATION_CACHE_DIR"] = str(path)
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = str(
      min_compile_seconds)
  if jax.config.jax_compilation_cache_dir != str(path):
    # The cache object is created at the first compile with the directory
    # of that moment; a new directory needs a fresh one.
    jax.config.update("jax_compilation_cache_dir", str(path))
    compilation_cache.reset_cache()
  jax.config.update("jax_persistent_cache_min_compile_time_secs",
                    min_compile_seconds)
  return path


@contextlib.contextmanager
def compilation_cache_at(directory, **kwargs):
  """:func:`use_compilation_cache` for the ``with`` block; the previous
  setting (directory, threshold, environment) is restored after it, so a
  run called in-process (tests, notebooks) leaves its caller as it was."""
  saved_env = {name: os.environ.get(name) for name in _ENVIRONMENT}
  saved_dir = jax.config.jax_compilation_cache_dir
  saved_min = jax.config.jax_persistent_cache_min_compile_time_secs
  try:
    yield use_compilation_cache(directory, **kwargs)
  finally:
    for name, value in saved_env.items():
      if value is None:
        os.environ.pop(name, None)
      else:
        os.environ[name] = value
    if jax.config.jax_compilation_cache_dir != saved_dir:
      jax.config.update("jax_compilation_cache_dir", saved_dir)
      compilation_cache.reset_cache()
    jax.config.update("jax_persistent_cache_min_compile_time_secs", saved_min)
