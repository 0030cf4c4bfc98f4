"""Bounds: the paper's statement as a sympy expression, and its numeric value.

A claim's verdict compares the measurement with *this* object's value, and the
report prints *this* object's LaTeX: the number and the formula cannot drift
apart. The value's free symbols come from two declared places:

* ``constants(config)``: the paper's constants at the experiment's size (an
  information exponent, a test-set size, the instance's fixed point);
* ``from_evaluation``: symbols whose values only the evaluation knows (a
  number of simultaneous tests, a measured smoothness constant); the
  evaluation returns them in ``Evaluation.bound_values``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping

import sympy

from boundlab import _validation as v
from boundlab.claims.paper import Citation


@dataclasses.dataclass(frozen=True)
class Bound:
  r"""A stated bound as a sympy expression in named symbols.

  Attributes:
    name: short description, e.g. ``"clipping bias <= ||v|| W_{v,c}"``.
    expression: sympy expression (or number) of the right-hand side.
    citation: where the bound is stated.
    symbol_meanings: symbol name -> one-line meaning, for reports.
    statement_latex: the whole inequality as the paper writes it, when the
      numeric ``expression`` is a normalised form of it (e.g. a ratio <= 1).
    constants: ``config -> {symbol: value}`` for symbols fixed by the
      experiment's configuration.
    from_evaluation: symbols the evaluation supplies
      (``Evaluation.bound_values``).
  """

  name: str
  expression: sympy.Expr
  citation: Citation
  symbol_meanings: Mapping[str, str] = dataclasses.field(default_factory=dict)
  statement_latex: str = ""
  constants: Callable[[dict], Mapping[str, float]] | None = None
  from_evaluation: tuple[str, ...] = ()

  def __post_init__(self):
    v.check_name("name", self.name)
    v.check_instance("citation", self.citation, Citation, "a Citation")
    v.check_optional_callable("constants", self.constants)
    object.__setattr__(self, "expression", sympy.sympify(self.expression))
    object.__setattr__(self, "from_evaluation", tuple(self.from_evaluation))

  @property
  def symbols(self) -> tuple[str, ...]:
    return tuple(sorted(s.name for s in self.expression.free_symbols))

  def evaluate(self, **values: float) -> float:
    """Numeric value of the bound; every free symbol must be given."""
    missing = set(self.symbols) - set(values)
    if missing:
      raise ValueError(f"bound {self.name!r} needs values for "
                       f"{sorted(missing)}; got {sorted(values)}")
    # Substituted by name (the expression's symbols may carry assumptions,
    # positive=True), then evaluated at 30 digits: exact rationals and
    # Max/Min of numbers simplify before rounding to float64.
    subs = {s: sympy.Float(float(values[s.name]), 30)
            for s in self.expression.free_symbols}
    value = float(self.expression.xreplace(subs).evalf(30))
    if math.isnan(value):
      raise ValueError(f"bound {self.name!r} is NaN at {values}")
    return value

  def value(self, config: dict,
            evaluation_values: Mapping[str, float] | None = None) -> float:
    """The bound at a claim's config and its evaluation's ``bound_values``."""
    given = dict(evaluation_values or {})
    if set(given) != set(self.from_evaluation):
      raise ValueError(f"bound {self.name!r} takes "
                       f"{sorted(self.from_evaluation)} from the evaluation, "
                       f"got {sorted(given)}")
    values = dict(self.constants(config)) if self.constants else {}
    clash = set(values) & set(given)
    if clash:
      raise ValueError(f"bound {self.name!r}: {sorted(clash)} come from both "
                       "the config and the evaluation")
    return self.evaluate(**values, **given)

  def latex(self) -> str:
    """The paper's statement if given, else the expression."""
    return self.statement_latex or sympy.latex(self.expression)

  def as_ratio(self) -> Bound:
    r"""The same statement as ``measured / bound <= 1``: expression 1, the
    name ``"ratio to <name> <= 1"``, the LaTeX and citation kept. For an
    evaluation that reports the worst ratio of a measurement to this bound
    over a sweep (:meth:`HorizonSweep.evaluate_ratio
    <boundlab.experiments.horizon_sweep.HorizonSweep.evaluate_ratio>`),
    which evaluates this bound at every point with :meth:`evaluate`."""
    return dataclasses.replace(
        self, name=f"ratio to {self.name} <= 1", expression=sympy.Integer(1),
        statement_latex=self.latex(), constants=None, from_evaluation=())
