"""Property tests on bounds: hypothesis strategies, assertions, a pytest plugin.

* :mod:`boundlab.testing.strategies` -- landscapes with their exact
  constants (quadratics with given L and mu, least squares, finite sums with
  per-example smoothness, gradient-noise laws, diagonal linear networks,
  single-index models); needs ``hypothesis`` (``boundlab[testing]``).
* :func:`assert_bound`, :func:`check_claim` -- assertion errors that carry the
  verdict, the interval and its kind.
* :func:`strict_numerics` -- float64 and rank-promotion errors in a block.
* The pytest plugin (:mod:`boundlab.testing.pytest_plugin`, installed with
  boundlab): ``pytest --boundlab-claims [REGEX]`` runs registered claims as
  tests; the ``boundlab_x64`` fixture and marker; the hypothesis profile
  ``boundlab`` (``pytest --hypothesis-profile=boundlab``).
"""

import importlib

# Loaded on first use: the pytest plugin lives in this package and is
# imported by every pytest run in an environment with boundlab, so importing
# the package must not pull in jax or sympy.
_EXPORTS = {
    "BoundInconclusive": "assertions", "BoundViolation": "assertions",
    "assert_bound": "assertions", "check_claim": "assertions",
    "strict_numerics": "assertions", "HYPOTHESIS_PROFILE": "profile",
    "register_hypothesis_profile": "profile",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
  if name in _EXPORTS:
    module = importlib.import_module(f"boundlab.testing.{_EXPORTS[name]}")
    return getattr(module, name)
  raise AttributeError(f"module 'boundlab.testing' has no attribute {name!r}")


def __dir__():
  return sorted([*globals(), *_EXPORTS])
