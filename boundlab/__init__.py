"""boundlab: optimization theory, checkable.

A *claim* is one statement from one paper. boundlab pairs it with an experiment
(landscape x algorithm x measurement, over seeds), evaluates the paper's bound
with the paper's constants, and returns a verdict with an interval whose kind
is stated.

Floors, from the top; each imports only from the floors below it
(``ARCHITECTURE.md`` has the table):

* :mod:`boundlab.cli` -- the ``boundlab`` command.
* :mod:`boundlab.paper_repro` -- one module per paper: its claims and figures.
* :mod:`boundlab.testing` -- property tests on bounds: hypothesis strategies,
  assertions, the pytest plugin.
* :mod:`boundlab.experiments` -- reusable experiment families.
* :mod:`boundlab.claims` -- claim, experiment, bound, verdict, runner, cache,
  report, registry.
* :mod:`boundlab.figures` -- one plot style, figures with data sidecars.
* :mod:`boundlab.algorithms` -- optax transformations and the run loop.
* :mod:`boundlab.landscapes` -- synthetic problems with known constants.
* :mod:`boundlab.theory` -- math only: statistics, estimators, bounds'
  numerics.
* :mod:`boundlab.provenance` -- versions, device and commit of a result.
"""

__version__ = "0.1.0"
