"""The gradient-canary experiment: its release model against simulation."""

import jax
import numpy as np
import pytest

from boundlab import landscapes
from boundlab.experiments import canary_audit as canary


@pytest.mark.parametrize("method, ratio, expected", [
    ("dp_sgd", 0.0, [1.0, 1.0, 1.0]),
    ("dice", 3.0, [1.0, 4.0, 4.0])])
def test_canary_shifts_each_release_as_predicted(method, ratio, expected):
  config = canary.CanaryAudit("canary_audit.test", method).config(True)
  land = canary.canary_landscape(config)
  n_total = config["num_examples"] + 1
  cell = {"method": method, "steps": 3, "ratio": ratio}
  make = canary.dp_sgd if method == "dp_sgd" else canary.dice(n_total)
  program = canary.simulate(land, make, 3,
                            land.constants["canary_coordinate"])
  z, trials = 2.0, 4000
  releases = {}
  for h, data in enumerate((landscapes.canary_absent(land.data), land.data)):
    keys = jax.random.split(jax.random.key(h), trials)
    releases[h] = np.asarray(program(keys, data, z, ratio)) * n_total
  shift = releases[1].mean(0) - releases[0].mean(0)
  np.testing.assert_array_equal(canary.canary_shifts(cell), expected)
  # Each step's release has noise std z C on the sum scale: the difference
  # of two means of 4000 has sd z sqrt(2/4000) = 0.045; 5 sd is a false-fail
  # probability below 1e-5 per step.
  np.testing.assert_allclose(shift, expected, atol=5 * z * np.sqrt(2 / trials))
  # Sample sd of 4000 Gaussians: relative sd 1/sqrt(8000) = 1.1%; 5% is 4.5 sd.
  np.testing.assert_allclose(releases[0].std(0), z, rtol=0.05)
