r"""The run loop: ``lax.scan`` over steps, ``vmap`` over seeds, metrics on device.

One call compiles one program that runs every seed in parallel. Metrics are
computed inside the scan every ``record_every`` steps, so there is no host round
trip per step. Per-step quantities that a theorem averages over *all* steps
(e.g. :math:`\frac1T \sum_{t<T} \|\nabla f(x_t)\|^2`) are accumulated exactly in
the carry by ``step_metrics``. A run whose parameters become non-finite is not
an error: its first non-finite step is returned in ``diverged_at``.

Data are arguments of the compiled program, not constants baked into it (as
optimistix passes ``args`` to ``fn(y, args)``): a finite-sum landscape's data
are passed in, and a *landscape family* ``args -> Landscape`` is called on
each seed's slice of ``args`` inside the program, so one compilation serves
every seed when each seed has its own data set of the same shape.
"""

from __future__ import annotations

import collections
import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from boundlab import _validation as v
from boundlab.landscapes import Landscape

OptimizerFactory = Callable[[jax.Array], optax.GradientTransformation]
LandscapeFamily = Callable[[Any], Landscape]


@dataclasses.dataclass(frozen=True)
class RunResult:
  """Host-side result of :func:`run` (numpy arrays, leading axis = seed).

  With ``hyperparams``, every array has an extra leading axis over the grid
  points: ``(num_points, num_seeds, ...)``. :meth:`seed` gives the view of one
  seed (the same class, without the seed axis).

  Attributes:
    record_steps: steps at which ``metrics`` were recorded, ``(R,)``; the first
      record is the initial point (step 0).
    metrics: name -> ``(num_seeds, R, ...)`` (a pytree of such arrays where
      the metric returns one).
    step_sums: name -> ``(num_seeds, R, ...)``, sums of ``step_metrics`` over
      steps ``0 .. record_steps[r] - 1`` (zero at the first record).
    final_params: parameters after the last step, leading axis = seed.
    diverged_at: ``(num_seeds,)`` first step whose parameters were non-finite,
      -1 for runs that stayed finite.
  """

  record_steps: np.ndarray
  metrics: dict[str, np.ndarray]
  step_sums: dict[str, np.ndarray]
  final_params: Any
  diverged_at: np.ndarray

  @property
  def diverged(self) -> np.ndarray:
    return self.diverged_at >= 0

  @property
  def first_diverged_at(self) -> int:
    """Earliest divergence over every run in this result (-1: none)."""
    return int(first_divergence(self.diverged_at))

  @property
  def num_seeds(self) -> int:
    return int(np.shape(self.diverged_at)[-1])

  def seed(self, index: int) -> RunResult:
    """The runs of seed ``index``: arrays without the seed axis (grid
    results keep their leading grid axis)."""
    axis = self.diverged_at.ndim - 1
    if axis < 0:
      raise ValueError("this result is already one seed's view")
    take = lambda tree: jax.tree.map(
        lambda a: np.take(np.asarray(a), index, axis=axis), tree)
    return RunResult(
        record_steps=self.record_steps,
        metrics={k: take(x) for k, x in self.metrics.items()},
        step_sums={k: take(x) for k, x in self.step_sums.items()},
        final_params=take(self.final_params),
        diverged_at=take(self.diverged_at))

  def seeds(self) -> list[RunResult]:
    """:meth:`seed` for every seed, in order."""
    return [self.seed(i) for i in range(self.num_seeds)]

  def window_average(self, name: str, start_step: int) -> np.ndarray:
    """Exact average of ``step_metrics[name]`` over steps in ``[start_step, T)``
    for every seed (and grid point); ``start_step`` must be a record step."""
    index = np.flatnonzero(self.record_steps == start_step)
    if index.size != 1 or start_step >= self.record_steps[-1]:
      raise ValueError(f"start_step must be a record step below "
                       f"{self.record_steps[-1]}, got {start_step}")
    sums = self.step_sums[name]
    record_axis = self.diverged_at.ndim
    last = np.take(sums, -1, axis=record_axis)
    first = np.take(sums, index[0], axis=record_axis)
    return (last - first) / (self.record_steps[-1] - start_step)


def first_divergence(diverged_at, axis=None) -> int:
  """Earliest non-negative entry of ``diverged_at`` (along ``axis``), else
  -1."""
  # int64 whatever the precision: steps are counted as integers, and the
  # sentinel must not overflow a 32-bit array.
  d = np.asarray(diverged_at)
  if not (np.issubdtype(d.dtype, np.integer) or (
      np.issubdtype(d.dtype, np.floating) and np.all(d == np.round(d)))):
    raise ValueError("diverged_at must hold integer steps (-1 for none), got "
                     f"{diverged_at!r}"[:200])
  d = d.astype(np.int64)
  big = np.iinfo(np.int64).max
  first = np.where(d >= 0, d, big).min(axis=axis)
  return np.where(first == big, -1, first)


def first_nonfinite(*arrays) -> int:
  """First index along the leading (step) axis at which any of ``arrays``
  holds a non-finite value, else -1: a simulator's ``diverged_at``."""
  bad = None
  for a in arrays:
    a = np.asarray(a)
    step_bad = ~np.isfinite(a).reshape(a.shape[0], -1).all(1)
    bad = step_bad if bad is None else bad | step_bad
  hits = np.flatnonzero(bad)
  return int(hits[0]) if hits.size else -1


def seed_keys(seeds: Sequence[int]) -> jax.Array:
  """Typed PRNG keys, one per integer seed in [0, 2^63):
  ``seed_keys(seeds)[i] == boundlab.validation.seed_key(seeds[i])``."""
  seeds = v.check_seeds("seeds", seeds)
  low = np.asarray([s & 0xFFFFFFFF for s in seeds], dtype=np.uint32)
  high = np.asarray([s >> 32 for s in seeds], dtype=np.uint32)
  keys = jax.vmap(jax.random.key)(jnp.asarray(low))
  if not high.any():
    return keys
  # Seeds >= 2^32 fold their high bits into their low bits' key (as
  # seed_key does); the others keep key(seed).
  folded = jax.vmap(jax.random.fold_in)(keys, jnp.asarray(high))
  data = jnp.where(jnp.asarray(high != 0)[:, None],
                   jax.random.key_data(folded), jax.random.key_data(keys))
  return jax.random.wrap_key_data(data)


def _no_metrics(params, opt_state):
  return {}


def _no_step_metrics(params, key):
  return {}


def _all_finite(tree) -> jax.Array:
  leaves = jax.tree.leaves(tree)
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def _takes_args(fn, positional: int) -> bool:
  """Whether ``fn`` requires one more positional argument (the seed's
  ``args``) than the ``positional`` it always gets. Parameters with defaults
  do not count (``lambda p, s, name=name: ...`` binds a loop variable)."""
  try:
    parameters = inspect.signature(fn).parameters.values()
  except (TypeError, ValueError):
    return False
  required = sum(p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                            inspect.Parameter.POSITIONAL_OR_KEYWORD)
                 and p.default is inspect.Parameter.empty for p in parameters)
  return required > positional


def run(landscape: Landscape | LandscapeFamily,
        optimizer: optax.GradientTransformation | OptimizerFactory,
        seeds: Sequence[int], *, steps: int, record_every: int,
        batch_size: int | None = None,
        sampling: str = "replacement",
        metrics: Callable[..., dict] | None = None,
        step_metrics: Callable[..., dict] | None = None,
        hyperparams: Mapping[str, Sequence[float]] | None = None,
        extra_args: Sequence[str] = (),
        unroll: int = 1,
        args: Any = None) -> RunResult:
  """Runs ``optimizer`` on ``landscape`` for every seed, in one compiled
  program.

  Args:
    landscape: the problem; its ``loss`` gives per-example gradients. Or a
      landscape family ``args -> Landscape``, called on each seed's slice of
      ``args`` inside the compiled program (every seed's landscape must have
      data of the same shapes).
    optimizer: an optax transformation that consumes *per-example* gradients
      (leading batch axis; wrap a standard optax optimizer in
      :func:`~boundlab.algorithms.with_mean_gradient`), or a factory
      ``key -> transformation`` for randomised optimizers (each seed gets its
      own key).
    seeds: integer seeds; seed s drives init, data and optimizer noise.
    steps: number of optimizer steps T >= 1, a multiple of ``record_every``.
    record_every: record ``metrics`` every k steps.
    batch_size: examples per step; ``None`` uses the full data set of a
      finite-sum landscape (full-batch gradient descent). Under Poisson
      sampling, the *expected* batch size qN.
    sampling: how a finite-sum landscape's minibatches are drawn:
      ``"replacement"`` (i.i.d. uniform, the default; also the only choice
      for landscapes without a finite data set), ``"poisson"`` (every example
      independently with rate q = batch_size / N, the sampling DP-SGD's
      accountants assume; the optimizer receives all N per-example gradients
      with the absent ones zeroed, so private aggregators take
      ``sampling_rate=q`` to divide by qN), or ``"shuffle"`` (a fresh
      permutation every epoch, cut into N // batch_size batches). A
      landscape's ``perturb_batch`` hook (label noise) is applied to every
      batch, whatever the sampling.
    metrics: ``metrics(params, opt_state[, args]) -> dict`` of arrays,
      recorded; the optional third argument is the seed's ``args``.
    step_metrics: ``step_metrics(params, key[, args]) -> dict`` evaluated at
      every step's iterate *before* its update (t = 0 .. T-1) and summed;
      ``key`` is fresh per step for Monte Carlo estimates.
    hyperparams: optional grid, name -> 1-D values (all of one length P);
      ``optimizer`` is then called as ``optimizer(key, **point)`` and the P
      points run in the same compiled program (``vmap``), each with every seed.
      Every point is first built eagerly, so argument checks still apply.
    extra_args: keyword arguments passed to ``optimizer.update`` every step
      (optax's ``GradientTransformationExtraArgs`` protocol), any of
      ``"grad_fn"`` (``grad_fn(params, i)``: the minibatch-mean gradient of
      this step's batch at other parameters, as ``optax.contrib.sam`` in
      opaque mode expects), ``"batch_index"`` (indices of the step's examples
      in the data set; shuffled or full-batch sampling only) and
      ``"batch_loss_and_outputs"`` (``params -> (mean loss, model outputs)``
      on the step's batch, the outputs from ``landscape.predict`` on each
      example's ``"x"``). A transformation that only uses these arguments
      leaves the per-example gradients unused, and XLA removes them from the
      compiled step. Not available with Poisson sampling.
    unroll: steps per iteration of the compiled loop (``lax.scan``'s
      ``unroll``); larger values trade compile time for less per-iteration
      overhead, which matters on GPUs. Results do not depend on it.
    args: per-seed data, a pytree whose leaves have a leading axis of length
      ``len(seeds)``: seed i's landscape family call and metrics see slice
      i. Passed to the program as an argument.

  Returns:
    A :class:`RunResult`.
  """
  steps = v.check_positive_int("steps", steps)
  record_every = v.check_positive_int("record_every", record_every)
  if steps % record_every:
    raise ValueError(f"steps ({steps}) must be a multiple of record_every "
                     f"({record_every})")
  seeds = v.check_seeds("seeds", seeds)
  keys = seed_keys(seeds)
  args = _check_args(args, len(seeds))
  if not (isinstance(landscape, Landscape) or callable(landscape)):
    raise ValueError("landscape must be a Landscape, or a landscape family "
                     f"args -> Landscape, got {type(landscape).__name__}")
  if not (isinstance(optimizer, optax.GradientTransformation)
          or callable(optimizer)):
    raise ValueError("optimizer must be an optax GradientTransformation or "
                     "a factory key -> transformation, got "
                     f"{type(optimizer).__name__}")
  family = None if isinstance(landscape, Landscape) else landscape
  if family is not None:
    if not callable(family) or args is None:
      raise ValueError("landscape must be a Landscape, or a landscape family "
                       "args -> Landscape together with per-seed args")
    template = family(jax.tree.map(lambda a: a[0], args))
    if not isinstance(template, Landscape):
      raise ValueError(f"the landscape family returned "
                       f"{type(template).__name__}, not a Landscape")
  else:
    template = landscape
  n = _check_sampling(template, batch_size, sampling)
  extra_args = _check_extra_args(template, extra_args, batch_size, sampling)
  grid = _check_grid(optimizer, hyperparams)
  if not extra_args:
    _check_per_example_updates(template, optimizer, grid)
  unroll = v.check_positive_int("unroll", unroll)
  metrics = metrics or _no_metrics
  step_metrics = step_metrics or _no_step_metrics
  # A plain finite-sum landscape's data enter as an argument too: the program
  # is rebuilt on them, not on constants captured at trace time.
  data = (landscape.data if family is None and landscape.takes_data else None)
  program = _compiled_run(
      landscape, optimizer, steps=steps, record_every=record_every,
      batch_size=batch_size, sampling=sampling, num_examples=n,
      metrics=metrics, step_metrics=step_metrics, gridded=grid is not None,
      extra_args=extra_args, unroll=unroll, family=family is not None,
      has_data=data is not None)
  inputs = (keys, data, args) if grid is None else (keys, data, args, grid)
  final_params, diverged_at, recorded, sums = jax.device_get(program(*inputs))
  record_steps = np.arange(steps // record_every + 1) * record_every
  return RunResult(record_steps=record_steps,
                   metrics=jax.tree.map(np.asarray, dict(recorded)),
                   step_sums=jax.tree.map(np.asarray, dict(sums)),
                   final_params=final_params,
                   diverged_at=np.asarray(diverged_at))


SAMPLINGS = ("replacement", "poisson", "shuffle")
EXTRA_ARGS = ("grad_fn", "batch_index", "batch_loss_and_outputs")


def _check_args(args, num_seeds):
  if args is None:
    return None
  args = jax.tree.map(jnp.asarray, args)
  leaves = jax.tree.leaves(args)
  if not leaves or any(np.ndim(a) == 0 or np.shape(a)[0] != num_seeds
                       for a in leaves):
    raise ValueError(f"args must be a pytree whose leaves have a leading "
                     f"seed axis of length {num_seeds} (one slice per seed)")
  return args


def _num_examples(landscape) -> int | None:
  if landscape.data is None:
    return None
  return int(np.shape(jax.tree.leaves(landscape.data)[0])[0])


def _check_sampling(landscape, batch_size, sampling) -> int | None:
  """Validates batch size and sampling; returns the data set size N."""
  n = _num_examples(landscape)
  if sampling not in SAMPLINGS:
    raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
  if batch_size is None:
    if n is None:
      raise ValueError("batch_size must be a positive integer for a landscape "
                       "without a finite data set")
    return n
  batch_size = v.check_positive_int("batch_size", batch_size)
  if sampling != "replacement":
    if n is None:
      raise ValueError(f"sampling={sampling!r} needs a finite data set")
    if batch_size > n:
      raise ValueError(f"batch_size must be in [1, N={n}] for sampling="
                       f"{sampling!r}, got {batch_size}")
  return n


def _check_extra_args(landscape, extra_args, batch_size, sampling):
  extra_args = tuple(extra_args)
  unknown = [a for a in extra_args if a not in EXTRA_ARGS]
  if unknown:
    raise ValueError(f"extra_args must be among {EXTRA_ARGS}, got {unknown}")
  if extra_args and sampling == "poisson":
    raise ValueError("extra_args are not available with sampling='poisson'")
  if "batch_index" in extra_args and not (batch_size is None or
                                          sampling == "shuffle"):
    raise ValueError("extra_args 'batch_index' needs sampling='shuffle' or "
                     "full batches (batch_size=None)")
  if "batch_loss_and_outputs" in extra_args and landscape.predict is None:
    raise ValueError("extra_args 'batch_loss_and_outputs' needs a landscape "
                     "with predict")
  return extra_args


def _check_grid(optimizer, hyperparams):
  """Validates a hyperparameter grid by building the optimizer at each point."""
  if hyperparams is None:
    return None
  if isinstance(optimizer, optax.GradientTransformation) or not hyperparams:
    raise ValueError("hyperparams needs a non-empty grid and an optimizer "
                     "factory optimizer(key, **point)")
  grid = {k: np.asarray(x, dtype=float) for k, x in hyperparams.items()}
  lengths = {x.shape for x in grid.values()}
  if len(lengths) != 1 or len(next(iter(lengths))) != 1:
    raise ValueError(f"hyperparams values must be 1-D and of equal length, got "
                     f"shapes { {k: x.shape for k, x in grid.items()} }")
  for i in range(next(iter(lengths))[0]):
    optimizer(jax.random.key(0), **{k: float(x[i]) for k, x in grid.items()})
  return {k: jnp.asarray(x) for k, x in grid.items()}


def _check_per_example_updates(landscape, optimizer, grid) -> None:
  """The run loop hands optimizers per-example gradients; a standard optax
  optimizer would return per-example *updates*, which fail deep inside the
  scan. Checked on shapes only (``eval_shape``: nothing runs)."""
  key = jax.random.key(0)
  if isinstance(optimizer, optax.GradientTransformation):
    opt = optimizer
  else:
    point = {} if grid is None else {k: float(x[0]) for k, x in grid.items()}
    opt = optimizer(key, **point)
  try:
    params = jax.eval_shape(landscape.init, key)
    grads = jax.tree.map(lambda p: jax.ShapeDtypeStruct((2,) + p.shape,
                                                        p.dtype), params)
    # Broadcasting (2, d) against the state's (d,) is the mistake to find,
    # so it must not raise here even under strict rank promotion.
    with jax.numpy_rank_promotion("allow"):
      updates = jax.eval_shape(lambda g, p: opt.update(g, opt.init(p), p)[0],
                               grads, params)
  except Exception:  # noqa: BLE001 -- the run itself reports other failures
    return
  shapes = lambda tree: [x.shape for x in jax.tree.leaves(tree)]
  if shapes(updates) == [(2,) + s for s in shapes(params)]:
    raise ValueError(
        "the optimizer returned one update per example: the run loop passes "
        "per-example gradients (leading batch axis), so wrap a standard optax "
        "optimizer in boundlab.algorithms.with_mean_gradient(...) (or give "
        "it an aggregator such as a private one)")


# Compiled programs, keyed by the identity of the callables that define them
# (the values keep those objects alive, so an id cannot be reused while its
# entry exists). A repeated run() with the same landscape, optimizer and
# metric functions then skips tracing and compilation; data enter as
# arguments, so new data of the same shapes reuse the program too.
_PROGRAMS: collections.OrderedDict = collections.OrderedDict()
_MAX_PROGRAMS = 64


def _compiled_run(landscape, optimizer, *, metrics, step_metrics, **options):
  key = (id(landscape), id(optimizer), id(metrics), id(step_metrics),
         tuple(sorted(options.items())))
  if key in _PROGRAMS:
    _PROGRAMS.move_to_end(key)
    return _PROGRAMS[key][0]
  program = _build_run(landscape, optimizer, metrics=metrics,
                       step_metrics=step_metrics, **options)
  _PROGRAMS[key] = (program, (landscape, optimizer, metrics, step_metrics))
  if len(_PROGRAMS) > _MAX_PROGRAMS:
    _PROGRAMS.popitem(last=False)
  return program


def _sampler_key(k_data, index, hooked: bool):
  """The key of the sampler's draw ``index`` (a step, or an epoch under
  shuffling). With a ``perturb_batch`` hook the same folded key is split, so
  sampler and hook never share random bits."""
  key = jax.random.fold_in(k_data, index)
  return jax.random.split(key)[0] if hooked else key


def _hook_key(k_data, t):
  return jax.random.split(jax.random.fold_in(k_data, t))[1]


def _epoch_order(key, epoch, n, hooked=False):
  """The permutation of the data set that epoch ``epoch`` walks through."""
  return jax.random.permutation(_sampler_key(key, epoch, hooked), n)


def _batch_of_order(order, t, per_epoch, batch_size):
  return jax.lax.dynamic_slice_in_dim(order, (t % per_epoch) * batch_size,
                                      batch_size)


def _shuffled_index(key, t, n, batch_size, hooked=False):
  """Step t's examples: a fresh permutation per epoch of n // batch_size
  batches."""
  per_epoch = n // batch_size
  return _batch_of_order(_epoch_order(key, t // per_epoch, n, hooked), t,
                         per_epoch, batch_size)


def _step_batch(landscape, batch_size, sampling):
  """``(k_data, t, index) -> (examples, index, mask)``: step t's minibatch of
  ``landscape``, the indices of its examples in the data set (None under
  sampling with replacement) and, under Poisson sampling, the 0/1 mask of
  present examples (None otherwise). Under shuffling ``index`` is step t's
  slice of the carried epoch permutation."""
  data, hook = landscape.data, landscape.perturb_batch
  hooked = hook is not None
  n = _num_examples(landscape)

  def draw(k_data, t, index):
    mask = None
    if batch_size is None:
      examples, index = data, jnp.arange(n)
    elif sampling == "replacement":
      examples = landscape.sample(_sampler_key(k_data, t, hooked), batch_size)
    elif sampling == "poisson":
      mask = jax.random.bernoulli(_sampler_key(k_data, t, hooked),
                                  batch_size / n, (n,))
      examples = data
    else:
      examples = jax.tree.map(lambda a: a[index], data)
    if hooked:
      examples = hook(_hook_key(k_data, t), examples)
    return examples, index, mask
  return draw


def _per_example_grads(landscape, params, examples, mask):
  grads = landscape.per_example_grads(params, examples)
  if mask is None:
    return grads
  return jax.tree.map(lambda g: g * mask.reshape(
      (mask.shape[0],) + (1,) * (g.ndim - 1)).astype(g.dtype), grads)


def _step_extras(landscape, names, examples, index) -> dict:
  """The extra update arguments of a step (see :func:`run`)."""
  if not names:
    return {}

  def mean_loss(params):
    return jnp.mean(jax.vmap(landscape.loss, in_axes=(None, 0))(params,
                                                                examples))

  def grad_fn(params, i=0):
    del i  # one batch for every adversarial step
    return jax.grad(mean_loss)(params)

  def batch_loss_and_outputs(params):
    outputs = jax.vmap(landscape.predict, in_axes=(None, 0))(params,
                                                             examples["x"])
    if landscape.output_loss is None:
      return mean_loss(params), outputs
    # One forward pass serves the loss and the outputs.
    losses = jax.vmap(landscape.output_loss)(outputs, examples)
    return jnp.mean(losses), outputs

  available = {"grad_fn": grad_fn, "batch_index": index,
               "batch_loss_and_outputs": batch_loss_and_outputs}
  return {name: available[name] for name in names}


def _build_run(landscape, optimizer, *, steps, record_every, batch_size,
               sampling, num_examples, metrics, step_metrics, gridded,
               extra_args, unroll, family, has_data):
  num_records = steps // record_every
  shuffle = sampling == "shuffle" and batch_size is not None
  if shuffle:
    n = num_examples
    per_epoch = n // batch_size
  with_args = (_takes_args(metrics, 2), _takes_args(step_metrics, 2))

  def run_one(key, data, args, point=None):
    if family:
      land = landscape(args)
    elif has_data:
      land = landscape.with_data(data)
    else:
      land = landscape
    hooked = land.perturb_batch is not None
    record = (lambda p, s: metrics(p, s, args)) if with_args[0] else metrics
    per_step = ((lambda p, k: step_metrics(p, k, args)) if with_args[1]
                else step_metrics)
    draw = _step_batch(land, batch_size, sampling)
    k_init, k_opt, k_data, k_metric = jax.random.split(key, 4)
    params = land.init(k_init)
    if isinstance(optimizer, optax.GradientTransformation):
      opt = optimizer
    elif point is None:
      opt = optimizer(k_opt)
    else:
      opt = optimizer(k_opt, **point)
    if extra_args:
      opt = optax.with_extra_args_support(opt)
    opt_state = opt.init(params)
    zero_sums = jax.tree.map(jnp.zeros_like,
                             per_step(params, jax.random.key(0)))

    def step(carry, t):
      params, opt_state, diverged_at, sums, order = carry
      sums = jax.tree.map(jnp.add, sums,
                          per_step(params, jax.random.fold_in(k_metric, t)))
      index = None
      if shuffle:
        # A new permutation only at epoch starts: t is the same for every
        # seed, so under vmap this stays a branch, not a select of both.
        order = jax.lax.cond(
            t % per_epoch == 0,
            lambda o: _epoch_order(k_data, t // per_epoch, n, hooked),
            lambda o: o, order)
        index = _batch_of_order(order, t, per_epoch, batch_size)
      examples, index, mask = draw(k_data, t, index)
      grads = _per_example_grads(land, params, examples, mask)
      updates, opt_state = opt.update(
          grads, opt_state, params,
          **_step_extras(land, extra_args, examples, index))
      params = optax.apply_updates(params, updates)
      diverged_at = jnp.where((diverged_at < 0) & ~_all_finite(params),
                              (t + 1).astype(jnp.int32), diverged_at)
      return (params, opt_state, diverged_at, sums, order), None

    def block(carry, r):
      carry, _ = jax.lax.scan(
          step, carry, r * record_every + jnp.arange(record_every,
                                                     dtype=jnp.int32),
          unroll=min(unroll, record_every))
      params, opt_state, _, sums, _ = carry
      return carry, (record(params, opt_state), sums)

    order = (_epoch_order(k_data, 0, n, hooked) if shuffle else
             jnp.zeros((), jnp.int32))
    carry = (params, opt_state, jnp.asarray(-1, dtype=jnp.int32), zero_sums,
             order)
    first = (record(params, opt_state), zero_sums)
    carry, (recorded, sums) = jax.lax.scan(
        block, carry, jnp.arange(num_records, dtype=jnp.int32))
    recorded, sums = jax.tree.map(
        lambda a, b: jnp.concatenate([a[None], b], axis=0), first,
        (recorded, sums))
    params, _, diverged_at, _, _ = carry
    return params, diverged_at, recorded, sums

  seeds_axis = (0, None, 0)
  if gridded:
    return jax.jit(jax.vmap(jax.vmap(run_one, in_axes=(*seeds_axis, None)),
                            in_axes=(None, None, None, 0)))
  return jax.jit(jax.vmap(run_one, in_axes=seeds_axis))
