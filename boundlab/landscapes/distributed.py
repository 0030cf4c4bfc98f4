r"""Distributed finite sums: n clients, each with its own smooth objective.

.. math:: f(x) = \frac1n \sum_{i=1}^n f_i(x), \qquad f_i \text{ is }
   L_i\text{-smooth}, \quad f \text{ is } L\text{-smooth}, \quad f \ge f^{\inf}.

A :class:`DistributedFiniteSum` holds the clients' data with the clients as
a leading axis, so that ``jax.vmap`` evaluates every client at once (thousands
on one GPU), and the constants the analyses of distributed methods use:

* ``smoothness`` :math:`L` of f, ``client_smoothness`` :math:`(L_i)_i`;
* ``smoothness_am`` :math:`L_{AM} = \frac1n\sum_i L_i` (the arithmetic mean,
  of EF21-W and "Error Feedback Reloaded") and ``smoothness_qm``
  :math:`L_{QM} = \sqrt{\frac1n\sum_i L_i^2}` (the quadratic mean, EF21's
  :math:`\tilde L`); :math:`L \le L_{AM} \le L_{QM}`;
* ``optimal_value_lower_bound`` (a valid :math:`f^{\inf}`), ``optimal_value``
  and ``optimum`` where they are known.

Data are passed as arguments: every method takes ``data`` (default: the
problem's own), so that a compiled program receives them as inputs rather than
as constants.

References:
  Richtarik, Sokolov & Fatkhullin, "EF21: a new, simpler, theoretically
  better, and practically faster error feedback", NeurIPS 2021, arXiv
  2106.05203 (the setting; logistic regression with a nonconvex
  regulariser as a test problem).
  Richtarik, Gasanov & Burlachenko, "Error Feedback Reloaded: from quadratic
  to arithmetic mean of smoothness constants", ICLR 2024, arXiv 2402.10774
  (:math:`L_{AM}`; heterogeneous smoothness, Example 2.1: L = (1, 1, 1, 100)).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from boundlab import _validation as v
from boundlab.landscapes.logistic import _newton_logistic


@dataclasses.dataclass(frozen=True)
class DistributedFiniteSum:
  r"""A finite sum over clients, :math:`f = \frac1n\sum_i f_i`.

  Attributes:
    name: short identifier.
    client_loss: ``client_loss(x, client_data) -> scalar``, the client's
      :math:`f_i` at one flat parameter vector ``x``.
    data: the clients' data, a pytree whose leaves have the clients as
      leading axis (length n).
    initial_point: the starting point :math:`x^0` (flat, float64 numpy).
    constants: ``smoothness``, ``client_smoothness`` (array of n),
      ``smoothness_am``, ``smoothness_qm``, ``optimal_value_lower_bound``,
      and ``optimal_value`` / ``optimum`` / ``strong_convexity`` where known.
  """

  name: str
  client_loss: Callable[[jax.Array, Any], jax.Array]
  data: Any
  initial_point: np.ndarray
  constants: Mapping[str, Any]

  def __post_init__(self):
    v.check_name("name", self.name)
    v.check_callable("client_loss", self.client_loss)
    v.check_mapping("constants", self.constants)
    v.check_finite_array("initial_point", self.initial_point, ndim=1,
                         min_len=0)
    if self.data is not None:
      leaves = jax.tree.leaves(self.data)
      if (not leaves or any(np.ndim(a) == 0 for a in leaves)
          or len({np.shape(a)[0] for a in leaves}) != 1):
        raise ValueError("data must be a pytree of arrays with the clients "
                         "as a common leading axis (or None), got "
                         f"{type(self.data).__name__}")

  @property
  def num_clients(self) -> int:
    return int(jax.tree.leaves(self.data)[0].shape[0])

  @property
  def dim(self) -> int:
    return int(self.initial_point.shape[0])

  def client_values(self, x: jax.Array, data: Any = None) -> jax.Array:
    """:math:`(f_i(x))_i`, shape ``(n,)``."""
    data = self.data if data is None else data
    return jax.vmap(self.client_loss, in_axes=(None, 0))(x, data)

  def objective(self, x: jax.Array, data: Any = None) -> jax.Array:
    """:math:`f(x) = \\frac1n\\sum_i f_i(x)`."""
    return jnp.mean(self.client_values(x, data))

  def client_gradients(self, x: jax.Array, data: Any = None) -> jax.Array:
    """:math:`(\\nabla f_i(x))_i`, shape ``(n, d)``."""
    data = self.data if data is None else data
    return jax.vmap(jax.grad(self.client_loss), in_axes=(None, 0))(x, data)

  def gradient(self, x: jax.Array, data: Any = None) -> jax.Array:
    """:math:`\\nabla f(x)`."""
    return jnp.mean(self.client_gradients(x, data), axis=0)


def _mean_constants(client_smoothness: np.ndarray) -> dict:
  return {"client_smoothness": client_smoothness,
          "smoothness_am": float(np.mean(client_smoothness)),
          "smoothness_qm": float(np.sqrt(np.mean(client_smoothness**2)))}


def _check_client_smoothness(client_smoothness) -> np.ndarray:
  values = v.check_finite_array("client_smoothness", client_smoothness,
                                ndim=1)
  if not np.all(values > 0):
    raise ValueError("client_smoothness must have entries in (0, inf), got "
                     f"{client_smoothness!r}")
  return values


def quadratic_client_loss(x, client):
  r"""The client quadratic :math:`\tfrac12 (x - b)^\top A (x - b)` with
  ``client = {"curvature": A, "centre": b}``; ``A`` is a ``(d, d)`` matrix
  or the ``(d,)`` diagonal of one (O(d) memory per client)."""
  delta = x - client["centre"]
  a = client["curvature"]
  # precision='highest': float32 products on a GPU are otherwise TF32.
  curved = (jnp.matmul(a, delta, precision="highest") if a.ndim == 2
            else a * delta)
  return 0.5 * jnp.dot(delta, curved, precision="highest")


@functools.lru_cache(maxsize=None)
def _logistic_loss(regularization: float, nonconvex: bool):
  """One function per (lambda, kind), so that instances of one shape share
  compiled programs."""

  def client_loss(x, client):
    margins = client["labels"] * jnp.matmul(client["features"], x,
                                             precision="highest")
    fit = jnp.mean(jnp.logaddexp(0.0, -margins))
    if nonconvex:
      return fit + regularization * jnp.sum(x**2 / (1 + x**2))
    return fit + 0.5 * regularization * jnp.sum(x**2)

  return client_loss


def heterogeneous_quadratics(client_smoothness: Sequence[float], dim: int = 10,
                             *, hessian: str = "dense",
                             heterogeneity: float = 1.0,
                             curvature_floor: float = 0.0,
                             seed: int = 0) -> DistributedFiniteSum:
  r"""Client quadratics :math:`f_i(x) = \tfrac12 (x - b_i)^\top A_i (x - b_i)`
  with :math:`\lambda_{\max}(A_i) = L_i` exactly.

  Each :math:`A_i = Q_i \operatorname{diag}(s_i) Q_i^\top` has a random
  orthogonal :math:`Q_i` (identity for ``hessian="diagonal"``, which stores
  only the diagonal: O(d) memory per client, for many clients in high
  dimension) and eigenvalues :math:`s_i` uniform on :math:`[\rho L_i, L_i]`
  (:math:`\rho` = ``curvature_floor``) with one set to :math:`L_i`. The centres :math:`b_i \sim N(0,
  \text{heterogeneity}^2 I)` make the clients disagree. Everything is exact:
  :math:`L = \lambda_{\max}(\bar A)`, :math:`x^\star = (\sum_i A_i)^{-1}
  \sum_i A_i b_i`, :math:`f^{\inf} = f(x^\star)`.

  Args:
    client_smoothness: :math:`(L_i)_i`, positive; e.g. ``(1, 1, 1, 100)``
      (Example 2.1 of Error Feedback Reloaded).
    dim: dimension d (>= 1).
    hessian: ``"dense"`` or ``"diagonal"``.
    heterogeneity: standard deviation of the centres (>= 0).
    curvature_floor: :math:`\rho \in [0, 1]`; 0 allows nearly flat
      directions, larger values make every client strongly convex
      (:math:`\mu_i \ge \rho L_i`).
    seed: numpy seed of the instance.
  """
  smooth = _check_client_smoothness(client_smoothness)
  d = v.check_positive_int("dim", dim)
  if hessian not in ("dense", "diagonal"):
    raise ValueError(f"hessian must be 'dense' or 'diagonal', got {hessian!r}")
  v.check_sizes("the clients' Hessians", client_smoothness=smooth.size,
                dim=d, dim_again=d if hessian == "dense" else 1)
  spread = v.check_nonnegative("heterogeneity", heterogeneity)
  floor = v.check_in_range("curvature_floor", curvature_floor, 0.0, 1.0)
  n = smooth.shape[0]
  rng = np.random.default_rng(v.check_seed("seed", seed))
  eigenvalues = rng.uniform(floor, 1.0, (n, d)) * smooth[:, None]
  eigenvalues[np.arange(n), rng.integers(0, d, n)] = smooth
  centres = spread * rng.standard_normal((n, d))
  if hessian == "dense":
    rotations = np.linalg.qr(rng.standard_normal((n, d, d)))[0]
    curvature = np.einsum("nij,nj,nkj->nik", rotations, eigenvalues,
                          rotations)
    mean_hessian = curvature.mean(0)
    rhs = np.einsum("nij,nj->i", curvature, centres) / n
  else:
    curvature = eigenvalues
    mean_hessian = np.diag(curvature.mean(0))
    rhs = (curvature * centres).mean(0)
  optimum = np.linalg.lstsq(mean_hessian, rhs, rcond=None)[0]
  eig = np.linalg.eigvalsh(mean_hessian)

  client_loss = quadratic_client_loss
  problem = DistributedFiniteSum(
      name=f"quadratics(n={n},d={d},{hessian},L_max={smooth.max():g})",
      client_loss=client_loss,
      data={"curvature": jnp.asarray(curvature),
            "centre": jnp.asarray(centres)},
      initial_point=np.zeros(d), constants={})
  value = float(np.mean([client_loss(optimum, {"curvature": c, "centre": b})
                         for c, b in zip(curvature, centres)]))
  return dataclasses.replace(problem, constants={
      "smoothness": float(eig[-1]), "strong_convexity": float(eig[0]),
      **_mean_constants(smooth), "optimum": optimum, "optimal_value": value,
      "optimal_value_lower_bound": value})


def distributed_logistic_regression(
    num_clients: int = 4, examples_per_client: int = 50, dim: int = 10, *,
    feature_scales: Sequence[float] | None = None,
    regularization: float = 0.1, nonconvex: bool = False,
    seed: int = 0) -> DistributedFiniteSum:
  r"""Logistic regression with each client's features on its own scale.

  Client i holds m examples :math:`(a_{ij}, y_{ij})` with :math:`a_{ij} = s_i
  z_{ij}`, :math:`z_{ij} \sim N(0, I_d)`, labels from a random teacher with
  10% flipped, and

  .. math:: f_i(x) = \frac1m\sum_j \log(1 + e^{-y_{ij}\langle a_{ij},
     x\rangle}) + r(x),

  with :math:`r(x) = \frac\lambda2\|x\|^2` (convex) or, for ``nonconvex=True``,
  EF21's nonconvex regulariser :math:`r(x) = \lambda\sum_k
  \frac{x_k^2}{1+x_k^2}`, whose second derivative lies in
  :math:`[-\lambda/2, 2\lambda]`. Hence
  :math:`L_i = \lambda_{\max}(A_i^\top A_i)/(4m) + \lambda` (convex) or
  :math:`+ 2\lambda` (nonconvex), and the same with the pooled data for
  :math:`L`. Larger scales :math:`s_i` make rougher clients
  (:math:`L_i \propto s_i^2` roughly).

  ``optimal_value`` (convex: Newton's method in float64) is given for the
  convex problem; for the nonconvex one :math:`f \ge 0` is the stated lower
  bound.
  """
  n = v.check_positive_int("num_clients", num_clients)
  m = v.check_positive_int("examples_per_client", examples_per_client)
  d = v.check_positive_int("dim", dim)
  v.check_sizes("the features", num_clients=n, examples_per_client=m, dim=d)
  nonconvex = v.check_bool("nonconvex", nonconvex)
  lam = v.check_positive("regularization", regularization)
  scales = (np.ones(n) if feature_scales is None
            else v.check_finite_array("feature_scales", feature_scales, ndim=1))
  if scales.shape != (n,) or not np.all(scales > 0):
    raise ValueError(f"feature_scales must be {n} positive numbers (one per "
                     f"client), got {feature_scales!r}")
  rng = np.random.default_rng(v.check_seed("seed", seed))
  features = rng.standard_normal((n, m, d)) * scales[:, None, None]
  teacher = rng.standard_normal(d) / np.sqrt(d)
  labels = np.sign(np.einsum("nmd,d->nm", features / scales[:, None, None],
                             teacher) + 1e-12)
  labels *= np.where(rng.uniform(size=(n, m)) < 0.1, -1.0, 1.0)
  curvature_bound = 2.0 * lam if nonconvex else lam
  client_smoothness = np.array([
      np.linalg.eigvalsh(a.T @ a / (4 * m))[-1] for a in features]) + \
      curvature_bound
  pooled = features.reshape(n * m, d)
  smoothness = float(np.linalg.eigvalsh(pooled.T @ pooled / (4 * n * m))[-1]
                     + curvature_bound)

  client_loss = _logistic_loss(lam, bool(nonconvex))
  constants = {"smoothness": smoothness, **_mean_constants(client_smoothness),
               "optimal_value_lower_bound": 0.0}
  if not nonconvex:
    optimum = _newton_logistic(pooled, labels.reshape(-1), lam)
    margins = labels.reshape(-1) * (pooled @ optimum)
    value = float(np.mean(np.logaddexp(0.0, -margins)) +
                  0.5 * lam * optimum @ optimum)
    constants.update(optimum=optimum, optimal_value=value,
                     optimal_value_lower_bound=value, strong_convexity=lam)
  kind = "nonconvex" if nonconvex else "convex"
  return DistributedFiniteSum(
      name=f"logistic(n={n},m={m},d={d},{kind},lam={lam:g})",
      client_loss=client_loss,
      data={"features": jnp.asarray(features), "labels": jnp.asarray(labels)},
      initial_point=np.zeros(d), constants=constants)


def federated_quadratics(num_clients: int, dim: int = 10, *,
                         heterogeneity: float = 1.0,
                         shared_hessian: bool = False,
                         condition_number: float = 10.0,
                         seed: int = 0) -> DistributedFiniteSum:
  r"""Client quadratics :math:`f_i(x) = \tfrac12 (x - b_i)^\top A_i (x - b_i)`
  with a controllable heterogeneity, for federated and decentralized SGD.

  The Hessians have eigenvalues 1, :math:`1/\kappa` and the rest
  log-uniform between (:math:`\kappa` = ``condition_number``, every
  client's condition number for d >= 2), in one random basis shared by
  every client (``shared_hessian=True``: :math:`A_i = A`) or one per client.
  The centres are :math:`b_i = \bar b + \zeta\,u_i` with :math:`u_i` standard
  normal, rescaled so that the heterogeneity at the optimum is exactly

  .. math:: \zeta_\star^2 = \frac1n\sum_i \|\nabla f_i(x^\star)\|^2 =
     \text{heterogeneity}^2 .

  Constants as :func:`heterogeneous_quadratics`, plus
  ``gradient_heterogeneity`` (:math:`\zeta_\star^2`) and ``shared_hessian``.
  """
  n = v.check_positive_int("num_clients", num_clients)
  d = v.check_positive_int("dim", dim)
  v.check_sizes("the clients' Hessians", num_clients=n, dim=d, dim_again=d)
  zeta = v.check_nonnegative("heterogeneity", heterogeneity)
  shared_hessian = v.check_bool("shared_hessian", shared_hessian)
  if n == 1 and zeta > 0:
    raise ValueError("heterogeneity must be 0 with num_clients = 1 (one "
                     f"client's gradient vanishes at its optimum), got {zeta}")
  kappa = v.check_in_range("condition_number", condition_number, 1.0,
                           float("inf"), closed="[)")
  rng = np.random.default_rng(v.check_seed("seed", seed))
  rotations = np.linalg.qr(rng.standard_normal(
      (1 if shared_hessian else n, d, d)))[0]
  spectra = np.exp(rng.uniform(-np.log(kappa), 0.0,
                               (1 if shared_hessian else n, d)))
  spectra[:, 0] = 1.0
  if d > 1:       # every client's condition number is kappa exactly
    spectra[:, -1] = 1.0 / kappa
  curvature = np.einsum("nij,nj,nkj->nik", rotations, spectra, rotations)
  curvature = np.broadcast_to(curvature, (n, d, d)).copy()
  mean_hessian = curvature.mean(0)
  centre = rng.standard_normal(d)
  offsets = rng.standard_normal((n, d))

  def at_optimum(offsets):
    centres = centre + offsets
    optimum = np.linalg.solve(mean_hessian, np.einsum(
        "nij,nj->i", curvature, centres) / n)
    return centres, optimum, np.einsum("nij,nj->ni", curvature,
                                       optimum - centres)

  # The gradients at x* are linear in the offsets: one rescaling gives the
  # requested heterogeneity exactly.
  _, _, grads = at_optimum(offsets)
  spread = np.sqrt(np.mean(np.sum(grads**2, 1)))
  centres, optimum, grads = at_optimum(offsets * (zeta / spread)
                                       if n > 1 else 0 * offsets)
  value = float(np.mean([0.5 * (optimum - b) @ a @ (optimum - b)
                         for a, b in zip(curvature, centres)]))
  client_smoothness = np.array([np.linalg.eigvalsh(a)[-1] for a in curvature])
  eig = np.linalg.eigvalsh(mean_hessian)
  return DistributedFiniteSum(
      name=f"federated_quadratics(n={n},d={d},zeta={zeta:g},"
      f"{'shared' if shared_hessian else 'client'} hessians)",
      client_loss=quadratic_client_loss,
      data={"curvature": jnp.asarray(curvature), "centre": jnp.asarray(centres)},
      initial_point=np.zeros(d),
      constants={"smoothness": float(eig[-1]),
                 "strong_convexity": float(eig[0]),
                 **_mean_constants(client_smoothness),
                 "optimum": optimum, "optimal_value": value,
                 "optimal_value_lower_bound": value,
                 "gradient_heterogeneity": float(np.mean(np.sum(grads**2, 1))),
                 "shared_hessian": bool(shared_hessian)})


def label_skewed_logistic_regression(
    num_clients: int = 8, examples_per_client: int = 40, dim: int = 5, *,
    label_concentration: float = 0.5, separation: float = 1.0,
    regularization: float = 0.1, seed: int = 0) -> DistributedFiniteSum:
  r"""L2-regularised logistic regression whose clients see skewed labels.

  Client i draws its fraction of positive labels :math:`q_i \sim
  \mathrm{Beta}(c, c)` (:math:`c` = ``label_concentration``: small values
  give clients with almost one class each, large values balanced clients),
  labels :math:`y \in \{-1, +1\}` with those frequencies, and features
  :math:`a \sim N(\tfrac{\text{separation}}{\sqrt d}\, y\, \mathbf 1, I_d)`.
  The loss is as in :func:`distributed_logistic_regression` (convex):
  :math:`L_i = \lambda_{\max}(A_i^\top A_i)/(4m) + \lambda`, attained at
  x = 0; ``optimal_value`` by Newton's method on the pooled data; also
  ``label_fractions`` :math:`(q_i)` as realised.
  """
  n = v.check_positive_int("num_clients", num_clients)
  m = v.check_positive_int("examples_per_client", examples_per_client)
  d = v.check_positive_int("dim", dim)
  v.check_sizes("the features", num_clients=n, examples_per_client=m, dim=d)
  c = v.check_positive("label_concentration", label_concentration)
  sep = v.check_nonnegative("separation", separation)
  lam = v.check_positive("regularization", regularization)
  rng = np.random.default_rng(v.check_seed("seed", seed))
  fractions = rng.beta(c, c, n)
  labels = np.where(rng.uniform(size=(n, m)) < fractions[:, None], 1.0, -1.0)
  features = (rng.standard_normal((n, m, d))
              + sep / np.sqrt(d) * labels[:, :, None])
  client_smoothness = np.array([
      np.linalg.eigvalsh(a.T @ a / (4 * m))[-1] for a in features]) + lam
  pooled = features.reshape(n * m, d)
  optimum = _newton_logistic(pooled, labels.reshape(-1), lam)
  margins = labels.reshape(-1) * (pooled @ optimum)
  value = float(np.mean(np.logaddexp(0.0, -margins))
                + 0.5 * lam * optimum @ optimum)
  return DistributedFiniteSum(
      name=f"label_skewed_logistic(n={n},m={m},d={d},c={c:g})",
      client_loss=_logistic_loss(lam, False),
      data={"features": jnp.asarray(features), "labels": jnp.asarray(labels)},
      initial_point=np.zeros(d),
      constants={"smoothness": float(np.linalg.eigvalsh(
          pooled.T @ pooled / (4 * n * m))[-1] + lam),
                 **_mean_constants(client_smoothness),
                 "optimum": optimum, "optimal_value": value,
                 "optimal_value_lower_bound": value, "strong_convexity": lam,
                 "label_fractions": np.mean(labels > 0, axis=1)})
