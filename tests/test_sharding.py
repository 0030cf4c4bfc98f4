"""Sharded sweeps give the single-device results (4 emulated CPU devices)."""

import json
import os
import subprocess
import sys


_SCRIPT = """
import json, sys, jax
jax.config.update("jax_enable_x64", True)
from boundlab.paper_repro import benarous2021
claim = benarous2021.TENSOR_PCA_K3
config = claim.config(True)
config["dims"] = [16, 24]
print(json.dumps({"devices": jax.local_device_count(),
                  "records": claim.experiment.measure(config, list(range(8)))}))
"""


def _run(devices: int) -> dict:
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, check=True,
                       capture_output=True, text=True, timeout=600)
  return json.loads(out.stdout.strip().splitlines()[-1])


def test_sharded_phase_diagram_cells_equal_single_device():
  single, sharded = _run(1), _run(4)
  assert single["devices"] == 1 and sharded["devices"] == 4
  assert sharded["records"] == single["records"]
