"""boundlab's pytest plugin (entry point ``pytest11``; active once boundlab is
installed).

* ``pytest --boundlab-claims [REGEX]``: every registered claim whose id
  matches (all of them without REGEX) becomes a test item ``boundlab::<id>``
  marked ``boundlab_claim``: *holds* passes, *violated* and *diverged* fail
  with the verdict, interval and notes, *inconclusive* is reported as xfail
  with its reason. Quick mode unless ``--boundlab-full``; outside paper
  modules with ``--boundlab-papers MODULE_OR_PATH`` (repeatable, as
  ``boundlab verify --papers``); cells are cached under pytest's cache
  directory (or ``--boundlab-out DIR``), so a rerun only judges. Add
  ``-m boundlab_claim`` to run the claims alone.
* The ``boundlab_x64`` fixture, and the marker ``@pytest.mark.boundlab_x64``
  that applies it: float64 and ``jax_numpy_rank_promotion='raise'`` for the
  test, restored afterwards (:func:`boundlab.testing.strict_numerics`).
* The hypothesis profile ``boundlab`` (``pytest --hypothesis-profile=boundlab``),
  registered when hypothesis is installed.

This module imports nothing heavy at load: every pytest run in an
environment with boundlab loads it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

if importlib.util.find_spec("hypothesis") is not None:
  from boundlab.testing.profile import register_hypothesis_profile
  register_hypothesis_profile()


def pytest_addoption(parser):
  group = parser.getgroup("boundlab", "boundlab claims")
  group.addoption("--boundlab-claims", nargs="?", const=".*", default=None,
                  metavar="REGEX",
                  help="run the registered claims whose id matches REGEX "
                  "(all without it) as test items")
  group.addoption("--boundlab-full", action="store_true",
                  help="run the claims in full mode (default quick)")
  group.addoption("--boundlab-papers", action="append", default=[],
                  metavar="MODULE_OR_PATH",
                  help="also register this paper module (import name or .py "
                  "path; repeatable)")
  group.addoption("--boundlab-out", default=None, metavar="DIR",
                  help="cache the claims' cells under DIR (default: pytest's "
                  "cache directory)")


def pytest_configure(config):
  config.addinivalue_line(
      "markers", "boundlab_x64: run the test in float64 with rank-promotion "
      "errors (boundlab.testing.strict_numerics)")
  config.addinivalue_line(
      "markers", "boundlab_claim: a registered claim run by --boundlab-claims")


@pytest.fixture
def boundlab_x64():
  """float64 and ``jax_numpy_rank_promotion='raise'`` during the test."""
  from boundlab.testing.assertions import strict_numerics
  with strict_numerics():
    yield


@pytest.fixture(autouse=True)
def _boundlab_x64_marker(request):
  if request.node.get_closest_marker("boundlab_x64") is not None:
    request.getfixturevalue("boundlab_x64")


class ClaimItem(pytest.Item):
  """One registered claim, run by :func:`boundlab.testing.check_claim`."""

  def __init__(self, *, claim, quick: bool, out_dir: Path, **kwargs):
    super().__init__(**kwargs)
    self.claim, self.quick, self.out_dir = claim, quick, out_dir
    self.add_marker(pytest.mark.boundlab_claim)

  def runtest(self):
    from boundlab.testing.assertions import BoundInconclusive, check_claim
    try:
      check_claim(self.claim, quick=self.quick, out_dir=self.out_dir)
    except BoundInconclusive as e:
      pytest.xfail(str(e))

  def repr_failure(self, excinfo, style=None):
    from boundlab.testing.assertions import BoundViolation
    if isinstance(excinfo.value, BoundViolation):
      return f"{excinfo.value}\nstatement: {self.claim.statement}"
    return super().repr_failure(excinfo, style=style)

  def reportinfo(self):
    return self.path, 0, f"claim {self.claim.id}"


def _claim_items(session, config) -> list[ClaimItem]:
  from boundlab.claims import registry
  registry.discover()
  for spec in config.getoption("boundlab_papers"):
    registry.load(spec)
  try:
    claims = registry.select_claims(config.getoption("boundlab_claims"))
  except ValueError as e:
    raise pytest.UsageError(f"--boundlab-claims: {e}") from None
  out = config.getoption("boundlab_out")
  if out is not None:
    out_dir = Path(out)
  elif getattr(config, "cache", None) is not None:   # -p no:cacheprovider
    out_dir = config.cache.mkdir("boundlab-claims")
  else:
    import tempfile
    out_dir = Path(tempfile.mkdtemp(prefix="boundlab-claims-"))
  quick = not config.getoption("boundlab_full")
  # An item's path is its paper module's file: failures point at the claim.
  source = lambda claim: Path(registry.paper_module(claim.paper.key).__file__)
  return [ClaimItem.from_parent(session, name=claim.id, path=source(claim),
                                nodeid=f"boundlab::{claim.id}", claim=claim,
                                quick=quick, out_dir=out_dir)
          for claim in claims]


@pytest.hookimpl(tryfirst=True)   # before -k / -m deselect
def pytest_collection_modifyitems(session, config, items):
  if config.getoption("boundlab_claims") is None:
    return
  items.extend(_claim_items(session, config))
