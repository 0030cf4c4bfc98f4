"""The Landscape record: a stochastic objective as pure JAX functions."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from boundlab import _validation as v

PyTree = Any


@dataclasses.dataclass(frozen=True)
class Landscape:
  r"""A stochastic objective :math:`f(x) = \mathbb{E}_{z}\,\ell(x; z)`.

  Attributes:
    name: short identifier, used in configs and figure labels.
    init: ``init(key) -> params``, the starting point (may be deterministic).
    loss: ``loss(params, example) -> scalar``, the per-example loss
      :math:`\ell(x; z)`; per-example gradients are
      ``jax.vmap(jax.grad(loss), in_axes=(None, 0))``.
    sample: ``sample(key, n) -> batch``, ``n`` fresh examples (data points, or
      gradient-noise draws for noise-model landscapes), leading axis ``n``.
    objective: ``objective(params) -> scalar``, the exact :math:`f` (population
      or full finite-sum loss).
    constants: known constants beside the functions -- ``optimum``,
      ``optimal_value``, ``smoothness`` (the L in L-smooth), and any
      problem-specific ones. Values are plain numbers or arrays.
    data: for finite-sum problems, every example (leading axis ``N``), so that
      full-batch methods can use the exact gradient; ``None`` otherwise.
    predict: for models with outputs (e.g. classifiers), ``predict(params,
      inputs) -> outputs`` for one example's inputs (logits for a softmax
      classifier); Gauss-Newton estimators need it. ``None`` otherwise.
    output_loss: for models with ``predict``, ``output_loss(outputs,
      example) -> scalar`` with ``loss(params, example) ==
      output_loss(predict(params, example["x"]), example)``; lets a
      transformation that also needs the outputs (SAF) differentiate both
      through one forward pass. ``None`` otherwise.
    perturb_batch: ``perturb_batch(key, batch) -> batch``, applied by the run
      loop to every minibatch it draws, whatever the sampling (label noise:
      :func:`~boundlab.landscapes.with_label_noise`); ``objective`` and
      ``data`` stay clean. ``None`` otherwise.
  """

  name: str
  init: Callable[[jax.Array], PyTree]
  loss: Callable[[PyTree, Any], jax.Array]
  sample: Callable[[jax.Array, int], Any]
  objective: Callable[[PyTree], jax.Array]
  constants: Mapping[str, Any]
  data: Any = None
  predict: Callable[[PyTree, Any], jax.Array] | None = None
  output_loss: Callable[[jax.Array, Any], jax.Array] | None = None
  perturb_batch: Callable[[jax.Array, Any], Any] | None = None

  def __post_init__(self):
    v.check_name("name", self.name)
    for field in ("init", "loss", "sample", "objective"):
      v.check_callable(field, getattr(self, field))
    v.check_mapping("constants", self.constants)
    for field in ("predict", "output_loss", "perturb_batch"):
      v.check_optional_callable(field, getattr(self, field))

  @property
  def takes_data(self) -> bool:
    """Whether :meth:`with_data` applies: a finite sum whose ``sample`` and
    ``objective`` are the ones :func:`finite_sum` derives from ``data``."""
    return (self.data is not None
            and getattr(self.sample, "_derived_from_data", False)
            and getattr(self.objective, "_derived_from_data", False))

  def with_data(self, data: Any) -> Landscape:
    """The same finite sum over other examples ``data`` (same structure):
    ``sample`` and ``objective`` are rebuilt on them; every other field,
    ``constants`` included, is kept. The run loop uses it to pass data to
    its compiled program as an argument."""
    if not self.takes_data:
      raise ValueError(f"landscape {self.name!r} does not take other data: "
                       "only finite sums whose sample and objective come "
                       "from finite_sum() do")
    sample, objective = _finite_sum_functions(self.loss, data)
    return dataclasses.replace(self, data=data, sample=sample,
                               objective=objective)

  def per_example_grads(self, params: PyTree, batch: Any) -> PyTree:
    """Per-example gradients, stacked along a leading batch axis."""
    return jax.vmap(jax.grad(self.loss), in_axes=(None, 0))(params, batch)

  def grad(self, params: PyTree) -> PyTree:
    """Exact gradient of the objective."""
    return jax.grad(self.objective)(params)


def finite_sum(name: str, init: Callable[[jax.Array], PyTree],
               loss: Callable[[PyTree, Any], jax.Array], data: Any,
               constants: Mapping[str, Any],
               predict: Callable[[PyTree, Any], jax.Array] | None = None,
               output_loss: Callable[[jax.Array, Any], jax.Array] | None = None
               ) -> Landscape:
  r"""A finite-sum landscape :math:`f(x) = \frac1N \sum_i \ell(x; z_i)`.

  ``data`` is a pytree whose leaves share a leading axis of length N;
  ``sample`` draws examples uniformly with replacement and ``objective`` is
  the exact mean loss.
  """
  leaves = jax.tree.leaves(data)
  if (not leaves or any(jnp.ndim(a) == 0 for a in leaves)
      or len({jnp.shape(a)[0] for a in leaves}) != 1):
    raise ValueError("data must be a non-empty pytree of arrays with the "
                     "examples as a common leading axis, got "
                     f"{type(data).__name__}")
  v.check_callable("loss", loss)
  sample, objective = _finite_sum_functions(loss, data)
  return Landscape(name=name, init=init, loss=loss, sample=sample,
                   objective=objective, constants=constants, data=data,
                   predict=predict, output_loss=output_loss)


def _finite_sum_functions(loss, data):
  """Uniform sampling with replacement from ``data`` and the mean loss over
  it, marked as derived from the data (see :attr:`Landscape.takes_data`)."""
  n = jax.tree.leaves(data)[0].shape[0]

  def sample(key, m):
    index = jax.random.randint(key, (m,), 0, n)
    return jax.tree.map(lambda a: a[index], data)

  def objective(params):
    return jnp.mean(jax.vmap(loss, in_axes=(None, 0))(params, data))

  sample._derived_from_data = True
  objective._derived_from_data = True
  return sample, objective
