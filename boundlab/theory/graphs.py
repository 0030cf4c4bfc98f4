r"""Communication graphs, gossip matrices and their spectral constants.

A network of n clients is an undirected graph with adjacency matrix
:math:`A` (symmetric, zero diagonal) and Laplacian :math:`\mathcal L = D -
A`. Gossip averages along its edges with a *mixing matrix* :math:`W`:
symmetric, doubly stochastic, :math:`W_{ij} > 0` only on edges and the
diagonal. Decentralized SGD's rates depend on

* the spectral gap :math:`1 - |\lambda_2(W)|` (the second largest
  eigenvalue in absolute value): one gossip round contracts the consensus
  error by :math:`|\lambda_2(W)|`;
* :math:`\chi_1 = 1/\lambda_2^+(\mathcal L)`, the inverse of the Laplacian's
  smallest positive eigenvalue, and :math:`\chi_2 = \max_{(i,j) \in E}
  \frac12 R_{ij}` with the effective resistance :math:`R_{ij} = (e_i -
  e_j)^\top \mathcal L^+ (e_i - e_j)` of an edge, so that :math:`\chi_2 \le
  \chi_1` (DADAO's constants, for the Laplacian weighted by the gossip
  rates: with every edge sampled uniformly, :math:`\mathcal L/|E|`, as the
  authors' ``utils.compute_spectral_quantities`` computes them [V:
  AdelNabli/DADAO@eed1ed1, ``utils.py``]).

Everything is dense numpy in float64: networks of thousands of nodes fit.

References:
  Xiao & Boyd, "Fast linear iterations for distributed averaging", Systems
  & Control Letters 53 (2004) (Metropolis-Hastings weights).
  Nabli & Oyallon, "DADAO: Decoupled Accelerated Decentralized Asynchronous
  Optimization", ICML 2023, arXiv 2208.00779 (chi_1, chi_2).
  Klein & Randic, "Resistance distance", J. Math. Chem. 12 (1993).
"""

from __future__ import annotations

import numpy as np

from boundlab import _validation as v

TOPOLOGIES = ("ring", "torus", "star", "complete", "erdos_renyi", "line")


def _adjacency_from_edges(n: int, edges) -> np.ndarray:
  a = np.zeros((n, n))
  for i, j in edges:
    if i != j:
      a[i, j] = a[j, i] = 1.0
  return a


def adjacency(topology: str, num_nodes: int, *, probability: float = 0.5,
              seed: int = 0) -> np.ndarray:
  """Adjacency matrix of a named topology on ``num_nodes`` nodes.

  ``ring`` (cycle), ``line`` (path), ``torus`` (a square 2-D torus:
  ``num_nodes`` must be a square >= 9), ``star`` (node 0 the hub),
  ``complete``, ``erdos_renyi`` (each edge with ``probability``, redrawn
  until connected, numpy seed ``seed``).
  """
  n = v.check_positive_int("num_nodes", num_nodes, minimum=2)
  if topology == "ring":
    return _adjacency_from_edges(n, [(i, (i + 1) % n) for i in range(n)])
  if topology == "line":
    return _adjacency_from_edges(n, [(i, i + 1) for i in range(n - 1)])
  if topology == "star":
    return _adjacency_from_edges(n, [(0, i) for i in range(1, n)])
  if topology == "complete":
    return np.ones((n, n)) - np.eye(n)
  if topology == "torus":
    side = int(round(np.sqrt(n)))
    if side * side != n or side < 3:
      raise ValueError(f"num_nodes must be a square >= 9 for a torus, got {n}")
    index = lambda r, c: (r % side) * side + (c % side)
    return _adjacency_from_edges(n, [
        (index(r, c), index(r + dr, c + dc)) for r in range(side)
        for c in range(side) for dr, dc in ((0, 1), (1, 0))])
  if topology == "erdos_renyi":
    p = v.check_in_range("probability", probability, 0.0, 1.0, closed="(]")
    rng = np.random.default_rng(v.check_seed("seed", seed))
    for _ in range(1000):
      upper = np.triu(rng.uniform(size=(n, n)) < p, 1).astype(float)
      a = upper + upper.T
      if is_connected(a):
        return a
    raise ValueError(f"no connected Erdos-Renyi graph in 1000 draws at "
                     f"probability = {p}; raise it")
  raise ValueError(f"topology must be one of {TOPOLOGIES}, got {topology!r}")


def laplacian(adjacency_matrix) -> np.ndarray:
  """:math:`\\mathcal L = D - A`."""
  a = _check_adjacency(adjacency_matrix)
  return np.diag(a.sum(1)) - a


def is_connected(adjacency_matrix) -> bool:
  """Whether the graph is connected (the Laplacian's second eigenvalue is
  positive)."""
  a = np.asarray(adjacency_matrix, dtype=float)
  eigenvalues = np.linalg.eigvalsh(np.diag(a.sum(1)) - a)
  return bool(eigenvalues[1] > 1e-9 * max(1.0, eigenvalues[-1]))


def _check_adjacency(adjacency_matrix) -> np.ndarray:
  a = np.asarray(adjacency_matrix, dtype=float)
  if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 2:
    raise ValueError(f"adjacency must be a square matrix of size >= 2, got "
                     f"shape {a.shape}")
  if not (np.allclose(a, a.T) and np.all(a >= 0)
          and np.allclose(np.diag(a), 0)):
    raise ValueError("adjacency must be symmetric, non-negative, with a "
                     "zero diagonal")
  return a


def metropolis_hastings(adjacency_matrix) -> np.ndarray:
  r"""Metropolis-Hastings gossip: :math:`W_{ij} = 1/(1 + \max(d_i, d_j))` on
  edges, the rest of each row on the diagonal. Symmetric and doubly
  stochastic, with eigenvalues in (-1, 1] on a connected graph; each node
  needs only its neighbours' degrees."""
  a = _check_adjacency(adjacency_matrix)
  degree = a.sum(1)
  w = a / (1.0 + np.maximum(degree[:, None], degree[None, :]))
  return w + np.diag(1.0 - w.sum(1))


def uniform_gossip(adjacency_matrix) -> np.ndarray:
  r"""Uniform gossip :math:`W = I - \mathcal L/(d_{\max} + 1)`: every edge
  the weight :math:`1/(d_{\max} + 1)`."""
  a = _check_adjacency(adjacency_matrix)
  return np.eye(a.shape[0]) - laplacian(a) / (a.sum(1).max() + 1.0)


def check_mixing_matrix(w, *, tolerance: float = 1e-10) -> np.ndarray:
  """Returns ``w`` (float) after checking it is square, symmetric and doubly
  stochastic with non-negative entries, each up to ``tolerance``."""
  w = np.asarray(w, dtype=float)
  if w.ndim != 2 or w.shape[0] != w.shape[1]:
    raise ValueError(f"mixing matrix must be square, got shape {w.shape}")
  if not (np.all(w >= -tolerance) and np.allclose(w.sum(0), 1, atol=tolerance)
          and np.allclose(w.sum(1), 1, atol=tolerance)):
    raise ValueError("mixing matrix must be doubly stochastic with "
                     "non-negative entries")
  # Over the non-zeros only (W^T's non-zeros are the same pairs swapped):
  # O(nnz) after one scan, where w - w.T strides through memory.
  rows, cols = np.nonzero(w)
  asymmetry = float(np.max(np.abs(w[rows, cols] - w[cols, rows]), initial=0))
  if asymmetry > tolerance:
    raise ValueError("mixing matrix must be symmetric (W = W^T up to "
                     f"{tolerance}), got max |W - W^T| = {asymmetry:.3g}")
  return w


def neighbour_lists(mixing_matrix) -> tuple[np.ndarray, np.ndarray]:
  r"""W as padded neighbour lists ``(indices, weights)``, both ``(n, k)``
  with k the largest number of non-zeros in a row: :math:`(Wx)_i =
  \sum_k \mathrm{weights}_{ik}\, x_{\mathrm{indices}_{ik}}` (a row's
  non-zeros in column order, then padding: index i, weight 0). A gossip
  round then costs O(n k d) instead of the dense product's O(n^2 d)."""
  return padded_rows(check_mixing_matrix(mixing_matrix))


def padded_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """:func:`neighbour_lists` of a matrix already checked: one pass over
  its entries (``np.nonzero`` lists them row by row, columns in order)."""
  n = w.shape[0]
  rows, cols = np.nonzero(w)
  counts = np.bincount(rows, minlength=n)
  width = int(counts.max())
  position = np.arange(rows.size) - (np.cumsum(counts) - counts)[rows]
  indices = np.repeat(np.arange(n)[:, None], width, axis=1)
  weights = np.zeros((n, width), w.dtype)
  indices[rows, position] = cols
  weights[rows, position] = w[rows, cols]
  return indices, weights


def spectral_gap(mixing_matrix) -> float:
  r""":math:`1 - \max(|\lambda_2(W)|, |\lambda_n(W)|)` of a symmetric doubly
  stochastic W: one gossip round multiplies the consensus error by at most
  one minus it."""
  w = check_mixing_matrix(mixing_matrix)
  if not np.allclose(w, w.T):
    raise ValueError("spectral_gap needs a symmetric mixing matrix")
  eigenvalues = np.sort(np.abs(np.linalg.eigvalsh(w)))
  return float(1.0 - eigenvalues[-2])


def edge_sampling_laplacian(adjacency_matrix) -> np.ndarray:
  r""":math:`\mathcal L/|E|`: the Laplacian weighted by the probability of
  each edge when one edge gossips at a time, uniformly (DADAO's default)."""
  a = _check_adjacency(adjacency_matrix)
  return laplacian(a) / (a.sum() / 2)


def _check_laplacian(laplacian_matrix) -> np.ndarray:
  lap = np.asarray(laplacian_matrix, dtype=float)
  if (lap.ndim != 2 or lap.shape[0] != lap.shape[1] or lap.shape[0] < 2
      or not np.allclose(lap, lap.T)
      or not np.allclose(lap.sum(1), 0, atol=1e-10 * np.abs(lap).max())):
    raise ValueError("laplacian_matrix must be a symmetric square matrix "
                     "of size >= 2 whose rows sum to 0")
  return lap


def chi_1(laplacian_matrix) -> float:
  r""":math:`\chi_1 = 1/\lambda_2^+(\mathcal L)` of a (weighted) Laplacian of
  a connected graph."""
  eigenvalues = np.linalg.eigvalsh(_check_laplacian(laplacian_matrix))
  if not eigenvalues[1] > 1e-9 * max(1e-300, eigenvalues[-1]):
    raise ValueError("chi_1 needs a connected graph")
  return float(1.0 / eigenvalues[1])


def effective_resistances(laplacian_matrix) -> np.ndarray:
  r""":math:`R_{ij} = (e_i - e_j)^\top\mathcal L^+(e_i - e_j)` for every pair,
  from the pseudo-inverse of a (weighted) Laplacian."""
  pseudo = np.linalg.pinv(_check_laplacian(laplacian_matrix), hermitian=True)
  diagonal = np.diag(pseudo)
  return diagonal[:, None] + diagonal[None, :] - 2 * pseudo


def chi_2(laplacian_matrix) -> float:
  r""":math:`\chi_2 = \max_{(i,j) \in E} \frac12 R_{ij}` over the edges (the
  off-diagonal non-zeros of the Laplacian); :math:`\chi_2 \le \chi_1`."""
  lap = _check_laplacian(laplacian_matrix)
  chi_1(lap)                      # connectedness
  edges = (lap < 0) & ~np.eye(lap.shape[0], dtype=bool)
  return float(0.5 * effective_resistances(lap)[edges].max())
