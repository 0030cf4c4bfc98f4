"""Mulayoff & Michaeli's threshold is exact for every batch size B in 1..n.

The claims in :mod:`boundlab.paper_repro.mulayoff2023` check the spectral
radius at 0.9 and 1.1 eta*_var, which wrong formulas for p (with replacement,
(n-B)/(Bn), the B = 1 value for all B, ...) pass as well. Here the threshold
must hit the stability boundary of an independently built brute-force
operator to 1e-10, and the boundary must sit between eta*(1 - 1e-6) and
eta*(1 + 1e-6), for every B on random instances.

The oracle is built in this file, not taken from the library: one SGD step
at an interpolating minimum with a batch drawn uniformly without replacement
maps the error e = x - x* to (I - eta H_B) e, H_B = (1/B) sum_{i in batch}
H_i, so the second moment S = E[e e^T] maps to E_batch[(I - eta H_B) S
(I - eta H_B)^T]. Its d^2 x d^2 matrix is obtained by applying that map to
the d^2 unit matrices E_kl (all C(n, B) batches enumerated, equal weight).
"""

import itertools
import math

import numpy as np
import pytest

from boundlab.theory import linear_stability

# Relative step around eta*: the radius changes by ~1e-6 (1.2e-6 .. 4e-6 on
# these instances), 4 orders above the 1e-10 resolution of a dense eigvalsh
# of a <= 9 x 9 float64 matrix (rounding ~1e-15 here).
STEP = 1e-6
AT_THRESHOLD_TOL = 1e-10


def _second_moment_map(hs, batch_size, eta):
  """Matrix of S -> E_batch[(I - eta H_B) S (I - eta H_B)^T] on vec(S)."""
  n, d, _ = hs.shape
  batches = list(itertools.combinations(range(n), batch_size))
  assert len(batches) == math.comb(n, batch_size)
  steps = [np.eye(d) - eta * hs[list(batch)].sum(0) / batch_size
           for batch in batches]
  columns = []
  for k in range(d * d):
    unit = np.zeros(d * d)
    unit[k] = 1.0
    s = unit.reshape(d, d)                       # row-major vec convention
    image = sum(a @ s @ a.T for a in steps) / len(batches)
    columns.append(image.reshape(-1))
  return np.stack(columns, axis=1)


def _radius(matrix):
  return float(np.max(np.abs(np.linalg.eigvals(matrix))))


def _instance(n, d, kind, seed):
  rng = np.random.default_rng(seed)
  if kind == "rank_one":               # least squares: H_i = x_i x_i^T
    x = rng.standard_normal((n, d))
    return np.einsum("ni,nj->nij", x, x)
  a = rng.standard_normal((n, d, d))   # general PSD per-example Hessians
  return np.einsum("nij,nkj->nik", a, a)


CASES = [(n, d, kind) for n in (3, 4, 5, 6) for d in (1, 2, 3)
         for kind in ("rank_one", "full_rank")]


@pytest.mark.parametrize("n,d,kind", CASES)
def test_threshold_is_the_exact_stability_boundary_for_every_batch_size(
    n, d, kind):
  hs = _instance(n, d, kind, seed=1000 * n + 10 * d + (kind == "full_rank"))
  for b in range(1, n + 1):
    eta = linear_stability.mulayoff_threshold(hs, b)
    at, below, above = (_radius(_second_moment_map(hs, b, eta * f))
                        for f in (1.0, 1 - STEP, 1 + STEP))
    assert abs(at - 1) < AT_THRESHOLD_TOL, (n, d, kind, b, at - 1)
    assert below < 1 < above, (n, d, kind, b, below - 1, above - 1)


def test_oracle_is_the_kronecker_form_and_is_symmetric():
  # The operator built from its definition equals E[(I - eta H_B)^(x)2] (the
  # library's second_moment_operator) and is symmetric, so its spectral
  # radius is attained at a real eigenvalue; it also equals the Perron root
  # (the largest eigenvalue), the one that crosses 1.
  hs = _instance(5, 3, "rank_one", seed=7)
  for b in range(1, 6):
    eta = 0.7 * linear_stability.mulayoff_threshold(hs, b)
    ours = _second_moment_map(hs, b, eta)
    np.testing.assert_allclose(ours, ours.T, atol=1e-14)
    np.testing.assert_allclose(
        ours, linear_stability.second_moment_operator(hs, b, eta),
        rtol=1e-12, atol=1e-14)
    eig = np.linalg.eigvalsh(ours)
    assert _radius(ours) == pytest.approx(eig[-1], rel=1e-12)


@pytest.mark.parametrize("b", [1, 2, 3, 4])
def test_singular_mean_hessian_uses_the_pseudo_inverse(b):
  # Examples in a 2-dim subspace of R^3: H is singular, C^+ is a true
  # pseudo-inverse, and the null direction is neutral (radius 1 at every eta).
  # The threshold computed in R^3 must be the exact boundary of the dynamics
  # restricted to the subspace (brute force in reduced coordinates).
  rng = np.random.default_rng(11)
  basis = np.linalg.qr(rng.standard_normal((3, 2)))[0]          # (3, 2)
  x_reduced = rng.standard_normal((4, 2))
  x = x_reduced @ basis.T
  hs = np.einsum("ni,nj->nij", x, x)
  hs_reduced = np.einsum("ni,nj->nij", x_reduced, x_reduced)
  eta = linear_stability.mulayoff_threshold(hs, b)
  at, below, above = (_radius(_second_moment_map(hs_reduced, b, eta * f))
                      for f in (1.0, 1 - STEP, 1 + STEP))
  assert abs(at - 1) < AT_THRESHOLD_TOL
  assert below < 1 < above
  # In the full space the null direction is neutral (radius exactly 1 below
  # eta*), and above eta* the subspace's unstable mode dominates.
  full_below = _radius(_second_moment_map(hs, b, eta * (1 - STEP)))
  assert full_below == pytest.approx(1.0, abs=1e-12)
  full_above = _radius(_second_moment_map(hs, b, eta * (1 + STEP)))
  assert full_above == pytest.approx(above, rel=1e-12)
