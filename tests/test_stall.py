"""Clipped GD stalls at the clipped fixed point (Chen, Wu, Hong, arXiv 2006.15429)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst

from boundlab import algorithms, landscapes, theory


def test_paper_example_2_has_the_flat_zero_set():
  # Example 2 (read in the paper): a = (-3, 3), c = 1, every x in [-2, 2].
  grid = np.linspace(-2.0, 2.0, 101)
  # Zero up to rounding: (x - a) * c / |x - a| is +-c within an ulp.
  np.testing.assert_allclose(
      theory.expected_clipped_gradient(grid, [-3.0, 3.0], 1.0), 0.0,
      atol=1e-15)
  outside = theory.expected_clipped_gradient(np.array([-2.01, 2.01]),
                                               [-3.0, 3.0], 1.0)
  assert outside[0] < 0 < outside[1]
  assert theory.clipped_fixed_point([-3.0, 3.0], 1.0) == pytest.approx(0.0,
                                                                         abs=1e-12)


def test_stall_instance_fixed_point():
  assert theory.clipped_fixed_point([-3.0, -3.0, 9.0], 1.0) == pytest.approx(
      -2.5, abs=1e-14)


@given(points=npst.arrays(np.float64, st.integers(2, 6),
                          elements=st.floats(-10, 10)),
       clip_norm=st.floats(0.1, 5.0), init=st.floats(-20, 20))
def test_clipped_gd_limit_solves_the_clipped_fixed_point_equation(points,
                                                                  clip_norm,
                                                                  init):
  landscape = landscapes.mean_of_squares(points, init=init)
  # Step 0.5 < 2 / L keeps GD stable; 4000 steps move at most 2000 c, enough to
  # cross the data range from any start, then contract.
  result = algorithms.run(landscape, algorithms.dp_sgd_gc(0.5, clip_norm), [0],
                          steps=4000, record_every=4000)
  x = float(result.final_params[0])
  residual = np.mean(np.clip(x - points, -clip_norm, clip_norm))
  # At a fixed point the clipped mean is zero up to rounding of O(c) terms.
  assert abs(residual) < 1e-9 * (1 + clip_norm)
