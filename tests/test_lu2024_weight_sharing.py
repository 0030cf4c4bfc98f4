"""lu2024: shared or patch-specific weights (``weight_sharing``).

The per-patch network against a written-out sum; the shared network as the
per-patch one with tied weights (an independent oracle); the [D] argument of
:mod:`boundlab.landscapes.feature_noise` that the two train alike on this data
model; and the per-patch claims' registration beside the shared ones.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

from boundlab import landscapes
from boundlab.claims import registry
from boundlab.landscapes.feature_noise import (NUM_PATCHES, STRONG_PATCH,
                                               WEAK_PATCH)
from boundlab.paper_repro import lu2024


def _written_out_per_patch_cnn(w, patches):
  """f(W, x) with explicit loops over signs, neurons and patches, patch p
  meeting its own weight vector w[j, r, p]."""
  m = w.shape[1]
  total = 0.0
  for j, sign in enumerate((1.0, -1.0)):
    for r in range(m):
      for p in range(patches.shape[0]):
        z = float(np.dot(w[j, r, p], patches[p]))
        total += sign * max(z, 0.0) ** 2
  return total / m


def _per_patch(**kwargs):
  return landscapes.feature_noise_classification(weight_sharing="per_patch",
                                                 **kwargs)


@given(seed=st.integers(0, 2**31 - 1), width=st.integers(1, 5))
def test_per_patch_cnn_matches_written_out_sum(seed, width):
  land = _per_patch(dim=7, num_examples=4, width=width, init_std=0.5,
                    seed=seed % 1000)
  params = land.init(jax.random.key(seed))
  assert params["w"].shape == (2, width, NUM_PATCHES, 7)
  w = np.asarray(params["w"])
  # A data-model example, and generic patches: on the data model's disjoint
  # supports some wrong contractions agree by accident, on generic ones not.
  generic = np.random.default_rng(seed).standard_normal((NUM_PATCHES, 7))
  for x in (np.asarray(land.data["x"][0]), generic):
    np.testing.assert_allclose(
        landscapes.two_layer_cnn(params, jnp.asarray(x)),
        _written_out_per_patch_cnn(w, x), rtol=1e-12, atol=1e-15)


@given(seed=st.integers(0, 2**31 - 1), width=st.integers(1, 5))
def test_tied_per_patch_weights_are_the_shared_network(seed, width):
  rng = np.random.default_rng(seed)
  w = rng.standard_normal((2, width, 6))
  tied = np.repeat(w[:, :, None, :], NUM_PATCHES, axis=2)
  for x in (rng.standard_normal((NUM_PATCHES, 6)),
            np.asarray(_per_patch(dim=6, num_examples=3, width=width,
                                  seed=seed % 1000).data["x"][1])):
    shared = landscapes.two_layer_cnn({"w": jnp.asarray(w)}, jnp.asarray(x))
    per_patch = landscapes.two_layer_cnn({"w": jnp.asarray(tied)},
                                         jnp.asarray(x))
    np.testing.assert_allclose(per_patch, shared, rtol=1e-12, atol=1e-15)
    for patch in range(NUM_PATCHES):
      np.testing.assert_allclose(
          landscapes.feature_overlaps({"w": jnp.asarray(tied)}, x[0], patch),
          landscapes.feature_overlaps({"w": jnp.asarray(w)}, x[0]),
          rtol=1e-12)


def test_variants_train_alike_from_tied_weights():
  """The module docstring's [D] argument: the patches live on disjoint
  coordinates, so GD from tied weights gives the same outputs and feature
  overlaps at every step (the shared vector's blocks are the per-patch
  vectors' own blocks)."""
  kwargs = dict(dim=6, num_examples=8, width=3, init_std=0.3, seed=4)
  shared = landscapes.feature_noise_classification(**kwargs)
  per_patch = _per_patch(**kwargs)
  np.testing.assert_array_equal(shared.data["x"], per_patch.data["x"])
  w = {"w": shared.init(jax.random.key(0))["w"]}
  tied = {"w": jnp.repeat(w["w"][:, :, None, :], NUM_PATCHES, axis=2)}
  c = shared.constants
  for _ in range(30):
    w = jax.tree.map(lambda a, g: a - 0.5 * g, w,
                     jax.grad(shared.objective)(w))
    tied = jax.tree.map(lambda a, g: a - 0.5 * g, tied,
                        jax.grad(per_patch.objective)(tied))
    np.testing.assert_allclose(landscapes.margins(tied, per_patch.data),
                               landscapes.margins(w, shared.data), rtol=1e-10)
    for direction, patch in ((c["u"], STRONG_PATCH), (c["v"], WEAK_PATCH)):
      np.testing.assert_allclose(
          landscapes.feature_overlaps(tied, direction, patch),
          landscapes.feature_overlaps(w, direction), rtol=1e-10, atol=1e-15)
  # The weights moved: the check is not of the initialisation alone.
  assert not np.allclose(w["w"], shared.init(jax.random.key(0))["w"])


def test_per_patch_initialisation_scale_and_constants():
  shared = landscapes.feature_noise_classification(dim=64, width=64)
  per_patch = _per_patch(dim=64, width=64)
  w = np.asarray(per_patch.init(jax.random.key(1))["w"])
  sigma_0 = per_patch.constants["init_std"]
  assert sigma_0 == shared.constants["init_std"] == 0.1 / 8
  # 2 * 64 * 64 draws per patch position: the sample std's relative standard
  # error is 1/sqrt(2 N) = 0.0078; five of them is 0.04.
  for p in range(NUM_PATCHES):
    assert abs(w[:, :, p].std() / sigma_0 - 1) < 0.04
  for key in ("learning_rate_window", "oscillation_parameter"):
    assert per_patch.constants[key] == shared.constants[key]
  assert per_patch.constants["weight_sharing"] == "per_patch"
  assert shared.constants["weight_sharing"] == "shared"
  assert shared.name == "feature_noise(d=64,n=16,m=64,|u|=1,|v|=0.1)"


@pytest.mark.parametrize("value", ["tied", "Shared", "", None])
def test_bad_weight_sharing_names_the_parameter(value):
  with pytest.raises(ValueError, match="weight_sharing must be one of"):
    landscapes.feature_noise_classification(weight_sharing=value)


def test_per_patch_overlaps_need_a_patch_and_shapes_are_checked():
  params = _per_patch(dim=5, width=2).init(jax.random.key(0))
  with pytest.raises(ValueError, match="patch must be"):
    landscapes.feature_overlaps(params, np.eye(5)[1])
  with pytest.raises(ValueError, match="patch must be"):
    landscapes.feature_overlaps(params, np.eye(5)[1], NUM_PATCHES)
  np.testing.assert_array_equal(
      landscapes.feature_overlaps(params, np.eye(5)[1], WEAK_PATCH),
      np.asarray([[1.0], [-1.0]]) * np.asarray(params["w"])[:, :, WEAK_PATCH,
                                                            1])
  with pytest.raises(ValueError, match=r"params\['w'\] must be"):
    landscapes.two_layer_cnn({"w": jnp.zeros((2, 2, 4, 5))},
                             jnp.zeros((3, 5)))


def _bound_constants(claim):
  constants = claim.bound.constants
  return constants(claim.config(True)) if constants else {}


def test_per_patch_claims_sit_beside_the_shared_ones():
  shared, per_patch = lu2024.SHARED_CLAIMS, lu2024.PER_PATCH_CLAIMS
  assert lu2024.CLAIMS == shared and len(per_patch) == 4
  # The shared claims are registered; the per-patch ones are run beside them
  # by benchmarks/lu2024_weight_sharing.py (the module docstring says why).
  registered = {c.id for c in registry.all_claims()}
  for a, b in zip(shared, per_patch):
    assert b.id == a.id + "_per_patch"
    assert a.id in registered and b.id not in registered
    assert a.experiment.id == "lu2024.dynamics"
    assert b.experiment.id == "lu2024.dynamics_per_patch"
    assert (a.statement, a.relation, a.evidence) == (b.statement, b.relation,
                                                     b.evidence)
    assert a.bound.expression == b.bound.expression
    assert _bound_constants(a) == _bound_constants(b)
    assert "[U]" in a.measurement and "[R]" in b.measurement
    for quick in (True, False):
      config_a, config_b = a.config(quick), b.config(quick)
      assert config_a["weight_sharing"] == "shared"
      assert config_b == dict(config_a, weight_sharing="per_patch")
    assert a.num_seeds(True) == b.num_seeds(True)
  # The shared claims are the original ones: only the measurement text moved.
  assert lu2024.OSCILLATION is shared[0]
  assert dataclasses.replace(per_patch[0], id=shared[0].id,
                             measurement=shared[0].measurement,
                             experiment=shared[0].experiment,
                             bound=shared[0].bound) == shared[0]
