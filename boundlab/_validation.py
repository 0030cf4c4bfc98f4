"""Argument checks shared by every public entry point.

Each check raises ``ValueError`` naming the parameter and the allowed range, so
that bad input fails at the call site with a message a user can act on.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import jax
import numpy as np

# Seeds: any Python int in [0, 2^63).
SEED_LIMIT = 2**63


def is_traced(value) -> bool:
  """True for values inside jit/vmap: those are checked eagerly by the caller
  (e.g. :func:`boundlab.algorithms.run` validates every grid point first)."""
  return isinstance(value, jax.core.Tracer)


def _as_float(name: str, value) -> float:
  # Strings and booleans convert to floats ("1" -> 1.0, True -> 1.0) but are
  # never meant as numbers here.
  if isinstance(value, (str, bytes, bool, np.bool_)):
    raise ValueError(f"{name} must be a real number, got {value!r}")
  try:
    x = float(value)
  except (TypeError, ValueError):
    raise ValueError(f"{name} must be a real number, got "
                     f"{type(value).__name__} {value!r}"[:300]) from None
  return x  # NaN fails every range check below, with the range in the message


def check_real(name: str, value) -> float:
  """Any real number, NaN and infinities included (not a string, not a
  bool)."""
  if is_traced(value):
    return value
  return _as_float(name, value)


def check_positive(name: str, value, *, allow_inf: bool = False) -> float:
  """Returns ``value`` as float after checking ``0 < value (< inf)``."""
  if is_traced(value):
    return value
  x = _as_float(name, value)
  if not x > 0 or (math.isinf(x) and not allow_inf):
    upper = "inf]" if allow_inf else "inf)"
    raise ValueError(f"{name} must be in (0, {upper}, got {value!r}")
  return x


def check_nonnegative(name: str, value) -> float:
  """Returns ``value`` as float after checking ``0 <= value < inf``."""
  if is_traced(value):
    return value
  x = _as_float(name, value)
  if not 0 <= x < math.inf:
    raise ValueError(f"{name} must be in [0, inf), got {value!r}")
  return x


def check_in_range(name: str, value, low: float, high: float, *,
                   closed: str = "[]") -> float:
  """Checks ``low <= value <= high`` with the interval ends given by ``closed``."""
  if is_traced(value):
    return value
  x = _as_float(name, value)
  lo_ok = x >= low if closed[0] == "[" else x > low
  hi_ok = x <= high if closed[1] == "]" else x < high
  if not (lo_ok and hi_ok):
    raise ValueError(
        f"{name} must be in {closed[0]}{low}, {high}{closed[1]}, got {value!r}")
  return x


def check_positive_int(name: str, value, *, minimum: int = 1,
                       maximum: int | None = None) -> int:
  """Returns ``value`` as int after checking it is an integer in
  ``[minimum, maximum]``."""
  allowed = (f">= {minimum}" if maximum is None
             else f"in [{minimum}, {maximum}]")
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
  if value < minimum or (maximum is not None and value > maximum):
    raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
  return int(value)


def check_nonnegative_array(name: str, value):
  """``value`` unchanged if traced; otherwise checked to be a finite array
  with entries >= 0."""
  if is_traced(value):
    return value
  arr = check_finite_array(name, value, min_len=0)
  if np.any(arr < 0):
    raise ValueError(f"{name} must have entries in [0, inf)")
  return value


def check_array(name: str, value):
  """``value`` as a JAX array (tracers unchanged), with a ValueError naming
  ``name`` for what is not an array of numbers."""
  if is_traced(value):
    return value
  if isinstance(value, (str, bytes)) or value is None:
    raise ValueError(f"{name} must be an array of numbers, got "
                     f"{type(value).__name__}")
  try:
    return jax.numpy.asarray(value)
  except (TypeError, ValueError):
    raise ValueError(f"{name} must be an array of numbers, got "
                     f"{type(value).__name__}") from None


def check_vector(name: str, value, dim: int) -> np.ndarray:
  """A scalar (broadcast) or a ``(dim,)`` vector of finite numbers, as a
  new float ``(dim,)`` array."""
  arr = check_finite_array(name, value, ndim=(0, 1))
  if arr.ndim == 1 and arr.shape != (dim,):
    raise ValueError(f"{name} must be a scalar or have shape ({dim},), got "
                     f"shape {arr.shape}")
  return np.broadcast_to(arr, (dim,)).copy()


def check_alpha(value, name: str = "alpha") -> float:
  """A two-sided interval's miss rate, in (0, 1)."""
  return check_in_range(name, value, 0.0, 1.0, closed="()")


def check_choice(name: str, value, choices: Sequence):
  """``value`` if it is one of ``choices``."""
  if not any(value is c or (type(value) is type(c) and value == c)
             for c in choices):
    raise ValueError(f"{name} must be one of {list(choices)!r}, got "
                     f"{value!r}")
  return value


def check_bool(name: str, value) -> bool:
  """``True`` or ``False`` (not 0/1, not a string)."""
  if not isinstance(value, (bool, np.bool_)):
    raise ValueError(f"{name} must be True or False, got {value!r}")
  return bool(value)


def check_name(name: str, value) -> str:
  """A non-empty string (an identifier or label)."""
  if not isinstance(value, str) or not value:
    raise ValueError(f"{name} must be a non-empty string, got {value!r}")
  return value


def check_mapping(name: str, value):
  if not isinstance(value, Mapping):
    raise ValueError(f"{name} must be a mapping (a dict), got "
                     f"{type(value).__name__}")
  return value


def check_optional_callable(name: str, value):
  return None if value is None else check_callable(name, value)


def check_callable(name: str, value):
  if not callable(value):
    raise ValueError(f"{name} must be callable, got "
                     f"{type(value).__name__} {value!r}")
  return value


def check_instance(name: str, value, types, what: str):
  """``value`` if it is an instance of ``types``; ``what`` says in words what
  was expected (e.g. "a Landscape")."""
  if not isinstance(value, types):
    raise ValueError(f"{name} must be {what}, got {type(value).__name__}")
  return value


def check_adam_hyperparameters(b1, b2, eps, eps_root=0.0) -> None:
  """Adam's decay rates in [0, 1), eps > 0, eps_root >= 0 (one check for
  every Adam variant)."""
  check_in_range("b1", b1, 0.0, 1.0, closed="[)")
  check_in_range("b2", b2, 0.0, 1.0, closed="[)")
  check_positive("eps", eps)
  check_nonnegative("eps_root", eps_root)


# -- seeds ----------------------------------------------------------------------

def check_seed(name: str, value) -> int:
  """A seed: an integer in [0, 2^63)."""
  return check_positive_int(name, value, minimum=0, maximum=SEED_LIMIT - 1)


def check_seeds(name: str, value) -> tuple[int, ...]:
  """A non-empty sequence of seeds (not a single int, not a string)."""
  if isinstance(value, (str, bytes)) or not isinstance(
      value, (Sequence, np.ndarray, range)):
    raise ValueError(f"{name} must be a sequence of integers in [0, 2^63) "
                     f"(e.g. range(8)), got {type(value).__name__} {value!r}")
  seeds = tuple(check_seed(f"{name}[{i}]", s) for i, s in enumerate(value))
  if not seeds:
    raise ValueError(f"{name} must contain at least one seed")
  return seeds


def seed_key(seed: int) -> jax.Array:
  """The PRNG key of a seed in [0, 2^63), the same way everywhere: seeds
  below 2^32 are ``jax.random.key(seed)`` (as before 64-bit seeds were
  accepted), larger ones fold their high 32 bits into the key of their low
  32 bits, so the mapping does not depend on ``jax_enable_x64``."""
  seed = check_seed("seed", seed)
  low, high = seed & 0xFFFFFFFF, seed >> 32
  key = jax.random.key(low)
  return key if high == 0 else jax.random.fold_in(key, high)


def check_key(name: str, key, *, default_seed: int | None = 0):
  """A JAX PRNG key (typed, or a legacy ``uint32[2]``); None gives
  ``jax.random.key(default_seed)`` (or an error if ``default_seed`` is
  None)."""
  if key is None:
    if default_seed is None:
      raise ValueError(f"{name} must be a PRNG key (jax.random.key(seed)), "
                       "got None")
    return jax.random.key(default_seed)
  if is_traced(key):
    return key
  dtype = getattr(key, "dtype", None)
  if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
    return key
  if (dtype is not None and np.dtype(dtype) == np.uint32
      and np.shape(key) == (2,)):
    return key
  raise ValueError(f"{name} must be a PRNG key (jax.random.key(seed)), got "
                   f"{type(key).__name__} {key!r}"[:200])


# -- memory ---------------------------------------------------------------------

_MEMORY_BUDGET: list[int | None] = [None]


def _physical_memory() -> int:
  try:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
  except (ValueError, OSError, AttributeError):
    return 8 * 2**30


def memory_budget() -> int:
  """Bytes one array may take: ``set_memory_budget``'s value, else the
  environment's ``BOUNDLAB_MEMORY_BUDGET`` (bytes), else half the machine's
  physical memory (the default backend's memory on a GPU, if smaller)."""
  if _MEMORY_BUDGET[0] is not None:
    return _MEMORY_BUDGET[0]
  env = os.environ.get("BOUNDLAB_MEMORY_BUDGET")
  if env:
    return int(float(env))
  budget = _physical_memory() // 2
  if jax.default_backend() != "cpu":
    try:
      stats = jax.devices()[0].memory_stats() or {}
      budget = min(budget, int(stats.get("bytes_limit", budget)))
    except Exception:   # backends without memory statistics
      pass
  return budget


def set_memory_budget(num_bytes: int | None) -> None:
  """Sets the per-array budget of the size guard (None: back to the
  default)."""
  if num_bytes is not None:
    num_bytes = check_positive_int("num_bytes", num_bytes)
  _MEMORY_BUDGET[0] = num_bytes


def check_size(name: str, value, *, bytes_per_unit: float, minimum: int = 1,
               what: str = "its arrays") -> int:
  """``value`` (a dimension, probe count, sample size) as an int >=
  ``minimum``, refused before any allocation or compilation when
  ``value * bytes_per_unit`` (the largest array it implies) exceeds
  :func:`memory_budget`."""
  n = check_positive_int(name, value, minimum=minimum)
  needed = float(n) * bytes_per_unit
  budget = memory_budget()
  if needed > budget:
    raise ValueError(
        f"{name} = {n} needs {needed / 2**30:.3g} GiB for {what}, over the "
        f"memory budget of {budget / 2**30:.3g} GiB (boundlab.validation."
        "set_memory_budget or BOUNDLAB_MEMORY_BUDGET raise it)")
  return n


def check_sizes(what: str, *, itemsize: int = 8, **sizes: int) -> None:
  """Refuses validated sizes whose product (the elements of one array of
  that shape) exceeds :func:`memory_budget`, before anything is allocated;
  the message names every size."""
  needed = float(itemsize)
  for value in sizes.values():
    needed *= float(value)
  budget = memory_budget()
  if needed > budget:
    shape = " x ".join(f"{name} = {value}" for name, value in sizes.items())
    raise ValueError(
        f"{shape} needs {needed / 2**30:.3g} GiB for {what}, over the memory "
        f"budget of {budget / 2**30:.3g} GiB (boundlab.validation."
        "set_memory_budget or BOUNDLAB_MEMORY_BUDGET raise it)")


def check_real_array(name: str, value, *, ndim: int | Sequence[int] | None = None
                     ) -> np.ndarray:
  """A float array (NaN and infinities allowed: diverged runs, unbounded
  intervals), refusing what is not numbers."""
  if isinstance(value, (str, bytes)) or value is None:
    raise ValueError(f"{name} must be an array of numbers, got "
                     f"{type(value).__name__} {value!r}"[:200])
  try:
    arr = np.asarray(value, dtype=float)
  except (TypeError, ValueError):
    raise ValueError(f"{name} must be an array of numbers, got "
                     f"{type(value).__name__}") from None
  if ndim is not None:
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in allowed:
      raise ValueError(
          f"{name} must have ndim in {allowed}, got shape {arr.shape}")
  return arr


def check_finite_array(name: str, value, *, ndim: int | Sequence[int] | None = None,
                       min_len: int = 1) -> np.ndarray:
  """Converts to a float array, checking finiteness, rank and length."""
  arr = check_real_array(name, value, ndim=ndim)
  if arr.ndim and arr.shape[0] < min_len:
    raise ValueError(
        f"{name} must have at least {min_len} entries along axis 0, got "
        f"shape {arr.shape}")
  if not np.all(np.isfinite(arr)):
    raise ValueError(f"{name} must be finite (no NaN/inf entries)")
  return arr
