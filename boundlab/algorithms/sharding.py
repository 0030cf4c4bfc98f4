"""Spread a sweep's independent axis (seeds, configs) over all local devices.

Independent chains need no communication, so sharding their leading axis
with ``jax.sharding`` lets one ``jit``-ed program run on every local GPU (or
emulated CPU device: ``XLA_FLAGS=--xla_force_host_platform_device_count=N``).
Results are identical to a single-device run: the PRNG streams do not depend
on the layout (``jax_threefry_partitionable``, the default).
"""

from __future__ import annotations

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def shard_leading_axis(array: jax.Array) -> jax.Array:
  """Places ``array`` split along axis 0 over all local devices.

  With one device, or when the axis length is not a multiple of the device
  count, the array is returned unchanged (replicated work is still correct,
  just not spread).
  """
  devices = jax.local_devices()
  if len(devices) < 2 or array.shape[0] % len(devices):
    return array
  mesh = Mesh(devices, ("batch",))
  return jax.device_put(array, NamedSharding(mesh, PartitionSpec("batch")))
