r"""Group-wise per-example clipping: flat, layer-wise, parameter-wise, custom.

The per-example gradient is split into K groups :math:`g = (g^{(1)}, \ldots,
g^{(K)})` and each is clipped on its own,
:math:`\hat g^{(k)} = \mathrm{clip}(g^{(k)}, C_k)`, so that
:math:`\|\hat g\| \le \sqrt{\sum_k C_k^2}`: the clipped sum has that
sensitivity (Gaussian noise :math:`N(0, z^2\sum_k C_k^2 I)`). Styles as in
fastDP's ``clipping_style`` (shared references [V]): ``"all-layer"`` (K =
1), ``"layer-wise"`` (one group per top-level entry of the parameter dict,
e.g. weight and bias of a layer), ``"param-wise"`` (one group per leaf), or an
explicit list of groups of top-level names. Threshold splits of a total C:
``"uniform"`` :math:`C_k = C/\sqrt K` and ``"dim"`` :math:`C_k =
C\sqrt{d_k/d}` (both keep :math:`\sqrt{\sum C_k^2} = C`).

Each group is clipped with :func:`boundlab.algorithms.clip` (optax's L2-ball
projection).

References:
  He et al., Exploring the limits of DP deep learning with group-wise
  clipping, arXiv 2212.01539; Bu et al., On the accuracy and efficiency of
  group-wise clipping in DP optimization, arXiv 2310.19215.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from boundlab import _validation as v
from boundlab.algorithms.clipping import check_clip_norm, clip

STYLES = ("all-layer", "layer-wise", "param-wise")
SPLITS = ("uniform", "dim")


def clipping_groups(params: dict, style: str | Sequence[Sequence[str]]
                    ) -> list[list[tuple]]:
  """The groups of a dict of parameters, as lists of leaf key paths."""
  if not isinstance(params, dict):
    raise ValueError("params must be a dict of layers (top-level names)")
  paths = [path for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
  top = lambda path: path[0].key
  if style == "all-layer":
    return [paths]
  if style == "layer-wise":
    names = list(dict.fromkeys(top(p) for p in paths))
    return [[p for p in paths if top(p) == name] for name in names]
  if style == "param-wise":
    return [[p] for p in paths]
  if isinstance(style, str):
    raise ValueError(f"style must be one of {STYLES} or a list of groups of "
                     f"top-level names, got {style!r}")
  groups = [[p for p in paths if top(p) in set(names)] for names in style]
  covered = sorted(str(p) for g in groups for p in g)
  if covered != sorted(str(p) for p in paths) or any(not g for g in groups):
    raise ValueError("style groups must be non-empty and partition the "
                     "top-level names of params")
  return groups


def group_thresholds(params: dict, groups, total_clip_norm: float,
                     split: str = "uniform") -> list[float]:
  """Per-group thresholds C_k with sqrt(sum C_k^2) = ``total_clip_norm``."""
  c = check_clip_norm("total_clip_norm", total_clip_norm)
  v.check_choice("split", split, SPLITS)
  leaves = dict(jax.tree_util.tree_flatten_with_path(params)[0])
  if (isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence)
      or not groups or any(not g for g in groups)):
    raise ValueError("groups must be a non-empty list of non-empty groups of "
                     "leaf paths (from clipping_groups), got "
                     f"{groups!r}"[:200])
  if any(not isinstance(path, tuple) or path not in leaves
         for g in groups for path in g):
    raise ValueError("groups must hold leaf paths of params (from "
                     "clipping_groups(params, style))")
  sizes = [sum(int(jnp.size(leaves[p])) for p in g) for g in groups]
  if split == "uniform":
    return [c / math.sqrt(len(groups))] * len(groups)
  if split == "dim":
    return [c * math.sqrt(s / sum(sizes)) for s in sizes]
  raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def clip_groups(gradient: dict, groups, thresholds) -> dict:
  """Clips every group of one gradient to its threshold."""
  if len(groups) != len(thresholds):
    raise ValueError(f"thresholds must have one entry per group "
                     f"({len(groups)}), got {len(thresholds)}")
  flat = dict(jax.tree_util.tree_flatten_with_path(gradient)[0])
  out = {}
  for group, threshold in zip(groups, thresholds):
    clipped = clip({str(p): flat[p] for p in group},
                   check_clip_norm("thresholds", threshold))
    out.update({p: clipped[str(p)] for p in group})
  treedef = jax.tree.structure(gradient)
  order = [p for p, _ in jax.tree_util.tree_flatten_with_path(gradient)[0]]
  return jax.tree.unflatten(treedef, [out[p] for p in order])


def clip_groups_per_example(per_example: dict, groups, thresholds) -> dict:
  """:func:`clip_groups` over a leading batch axis."""
  return jax.vmap(lambda g: clip_groups(g, groups, thresholds))(per_example)


def sensitivity(thresholds) -> float:
  r""":math:`\sqrt{\sum_k C_k^2}`, the L2 sensitivity of a group-clipped sum."""
  values = v.check_finite_array("thresholds", thresholds, ndim=1)
  if (values <= 0).any():
    raise ValueError("thresholds must be positive, range (0, inf)")
  return float(math.sqrt(float((values**2).sum())))
