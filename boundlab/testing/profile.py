"""The hypothesis profile of boundlab's own suite, shipped for users' suites.

Derandomized (a property test of a bound fails the same way on every
machine and in CI), no deadline (the first call of a jitted function
compiles), no example database (nothing written into the user's tree), the
reproduction blob printed on failure.
"""

from __future__ import annotations

HYPOTHESIS_PROFILE = "boundlab"


def register_hypothesis_profile(max_examples: int = 30) -> str:
  """Registers the profile ``boundlab`` and returns its name; load it with
  ``hypothesis.settings.load_profile("boundlab")`` or
  ``pytest --hypothesis-profile=boundlab`` (the plugin registers it)."""
  from hypothesis import HealthCheck, settings

  from boundlab import _validation as v
  max_examples = v.check_positive_int("max_examples", max_examples)
  settings.register_profile(
      HYPOTHESIS_PROFILE, derandomize=True, deadline=None, database=None,
      max_examples=max_examples, print_blob=True,
      suppress_health_check=[HealthCheck.too_slow])
  return HYPOTHESIS_PROFILE
