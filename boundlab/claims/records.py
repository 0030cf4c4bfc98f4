"""Per-seed records, stacked: every field as an array with a leading seed axis.

An experiment's ``measure`` returns one JSON record per seed (that is what the
cache stores); ``evaluate`` and ``plot`` read them stacked, so that a claim
writes ``records["tau"]["64"]`` (an array over seeds) instead of re-stacking
lists of dicts by hand. Stacking rules, applied recursively:

* dicts with the same keys become a dict of stacked fields;
* a list of dicts (one per cell) becomes a dict of fields with a cell axis
  after the seed axis;
* anything else becomes ``np.asarray`` over seeds (``None`` reads as NaN in a
  numeric field); fields must have one shape for every seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from boundlab import _validation as v


def _cells_to_fields(cells: list) -> dict:
  """[{"a": 1, "b": 2}, {"a": 3, "b": 4}] -> {"a": [1, 3], "b": [2, 4]}."""
  keys = list(cells[0])
  if any(list(c) != keys for c in cells):
    raise ValueError("cells of one record list must share their keys")
  return {k: [c[k] for c in cells] for k in keys}


def _is_cell_list(value) -> bool:
  return (isinstance(value, (list, tuple)) and len(value) > 0
          and isinstance(value[0], dict))


def stack(values: Sequence[Any], path: str = "records") -> Any:
  """Stacks one value per seed along a new leading axis (rules above)."""
  first = values[0]
  if isinstance(first, dict):
    keys = list(first)
    for value in values:
      if not isinstance(value, dict) or set(value) != set(keys):
        raise ValueError(f"{path}: every seed's record must have the keys "
                         f"{sorted(keys)}")
    return {k: stack([value[k] for value in values], f"{path}[{k!r}]")
            for k in keys}
  if _is_cell_list(first):
    if any(not _is_cell_list(v) or len(v) != len(first) for v in values):
      raise ValueError(f"{path}: every seed must have {len(first)} cells")
    return stack([_cells_to_fields(list(v)) for v in values], path)
  try:
    array = np.asarray(values)
  except ValueError:
    array = np.asarray(values, dtype=object)
  if array.dtype == object:
    try:
      array = np.asarray(_none_to_nan(values), dtype=float)
    except (TypeError, ValueError):
      raise ValueError(f"{path}: fields must have one shape and a numeric, "
                       "boolean or string type for every seed") from None
  # Claims that share an experiment share its Records: read-only, so one
  # claim's evaluation cannot change another's data.
  array.flags.writeable = False
  return array


def _none_to_nan(value):
  if value is None:
    return np.nan
  if isinstance(value, (list, tuple)):
    return [_none_to_nan(v) for v in value]
  return value


class Records:
  """The records of one experiment: raw per seed, and stacked by field.

  ``records["name"]`` is a stacked field (leading axis: seeds);
  ``records[index]`` with a slice or index array is the :class:`Records` of
  those seeds (e.g. ``records[0::2]`` for a selection split);
  ``len(records)`` is the number of seeds.
  """

  def __init__(self, records: Sequence[dict],
               seeds: Sequence[int] | None = None):
    if (isinstance(records, (str, bytes, dict))
        or not isinstance(records, Sequence)
        or not all(isinstance(r, dict) for r in records)):
      raise ValueError("records must be a sequence of per-seed dicts, got "
                       f"{type(records).__name__}")
    if not records:
      raise ValueError("records must hold at least one seed's record")
    self.raw = tuple(records)
    if seeds is not None:
      seeds = v.check_seeds("seeds", seeds)
    self.seeds = tuple(seeds) if seeds is not None else tuple(
        range(len(records)))
    if len(self.seeds) != len(self.raw):
      raise ValueError(f"{len(self.raw)} records for {len(self.seeds)} seeds")
    self._fields = stack(list(self.raw))
    if not isinstance(self._fields, dict):
      raise ValueError("a record must be a dict")

  def __len__(self) -> int:
    return len(self.raw)

  def __contains__(self, name) -> bool:
    return name in self._fields

  def keys(self):
    return self._fields.keys()

  def __getitem__(self, key):
    if isinstance(key, str):
      return self._fields[key]
    index = np.arange(len(self.raw))[key]
    index = np.atleast_1d(index)
    return Records([self.raw[i] for i in index],
                   [self.seeds[i] for i in index])

  @property
  def diverged_at(self) -> np.ndarray:
    """First non-finite step of each seed's runs (-1: none), ``(seeds,)``."""
    if "diverged_at" not in self._fields:
      return np.full(len(self.raw), -1, dtype=int)
    steps = np.asarray(self._fields["diverged_at"], dtype=int)
    if steps.shape != (len(self.raw),):
      raise ValueError(f"a record's diverged_at must be one step per seed (the "
                       f"first non-finite step of its runs, -1: none), got "
                       f"shape {steps.shape[1:]} per seed")
    return steps

  def __repr__(self) -> str:
    return f"Records({len(self.raw)} seeds, fields {sorted(self._fields)})"
