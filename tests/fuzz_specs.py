"""What the input fuzz test calls: every exported callable, one valid call,
and for each parameter the kind of bad value it must refuse.

``SPECS`` maps an export's dotted name to a :class:`Spec`; ``EXEMPT`` maps
the exports that take no user input (records the library returns, enums)
to the reason. ``tests/test_fuzz_inputs.py`` checks that the two cover
every callable in the ``__all__`` of boundlab's subpackages, runs every
(parameter, canonical bad value) pair and hypothesis-drawn ones in a child
process (``tests/fuzz_worker.py``), and requires a ``ValueError`` whose
message names the parameter.

Values travel to the worker as Python expressions, evaluated there in
:data:`NAMESPACE` (so that ``nan``, ``inf`` and the helpers below mean the
same on both sides).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

# --- bad values by kind (expressions) ---------------------------------------

_NOT_A_NUMBER = ["'1'", "None", "[1.0, 2.0]"]
KINDS: dict[str, list[str]] = {
    # (0, inf)
    "positive": ["0.0", "-1.0", "nan", "inf", "-inf", *_NOT_A_NUMBER],
    # (0, inf]
    "positive_or_inf": ["0.0", "-1.0", "nan", "-inf", *_NOT_A_NUMBER],
    # [0, inf)
    "nonnegative": ["-0.001", "-1.0", "nan", "inf", *_NOT_A_NUMBER],
    # any finite real
    "finite": ["nan", "inf", "-inf", *_NOT_A_NUMBER],
    # (0, 1)
    "unit_open": ["0.0", "1.0", "-0.5", "1.5", "nan", *_NOT_A_NUMBER],
    # [0, 1]
    "unit_closed": ["-0.1", "1.1", "nan", *_NOT_A_NUMBER],
    # [0, 1)
    "decay": ["1.0", "-0.1", "1.5", "nan", *_NOT_A_NUMBER],
    # (0, 1]
    "fraction": ["0.0", "-0.1", "1.5", "nan", *_NOT_A_NUMBER],
    # integers >= 1
    "positive_int": ["0", "-1", "1.5", "nan", "'3'", "None", "True"],
    # integers >= 0
    "nonnegative_int": ["-1", "1.5", "'3'", "None", "True"],
    # integers >= 1 whose arrays must fit in memory
    "size": ["0", "-1", "1.5", "'3'", "None", "True", "10**15", "2**62"],
    "seed": ["-1", "2**63", "1.5", "'0'", "None", "True"],
    "seeds": ["5", "'01'", "None", "[]", "[-1]", "[2**63]", "[0.5]"],
    "key": ["5", "'key'", "1.5", "[1, 2, 3]"],
    "callable": ["None", "3", "'f'"],
    "choice": ["'__no_such_option__'", "None", "3"],
    "finite_vector": ["[nan, 1.0]", "[inf, 1.0]", "'abc'", "None"],
    "interval": ["(1.0, 0.0)", "(nan, 1.0, 2.0)", "'ab'", "None", "(0.0,)"],
    "landscape": ["None", "3", "'quadratic'"],
    "problem": ["None", "3", "'problem'"],
    "optimizer": ["None", "3", "'sgd'"],
    "compressor": ["None", "3", "'top_k'"],
    "noise": ["None", "3", "'gaussian'"],
    "text": ["None", "3", "''"],
    "bool": ["None", "'yes'", "2"],
    "axes": ["None", "3", "'ax'"],
    "mapping": ["None", "3", "'a'"],
}


@dataclasses.dataclass(frozen=True)
class Spec:
  """One exported callable: ``valid()`` returns keyword arguments of a call
  that must succeed; ``bad`` maps parameter names to a kind of
  :data:`KINDS` (or to an explicit list of bad expressions)."""

  valid: Callable[[], dict]
  bad: dict
  call: Callable | None = None   # how to call (default: fn(**kwargs))

  def values(self, param: str) -> list[str]:
    kind = self.bad[param]
    return KINDS[kind] if isinstance(kind, str) else list(kind)


# --- helpers the valid calls use -------------------------------------------

def _np():
  import numpy as np
  return np


def _jnp():
  import jax.numpy as jnp
  return jnp


def quad():
  from boundlab import landscapes
  return landscapes.noisy_quadratic(landscapes.gaussian(2, 0.1))


def problem():
  from boundlab import landscapes
  return landscapes.federated_quadratics(4, 3)


def sgd():
  import optax

  from boundlab import algorithms
  return algorithms.with_mean_gradient(optax.sgd(0.1))


def matvec(v):
  return 2.0 * v


def square_loss(p, *args):
  return _jnp().sum(p**2)


def axes():
  from boundlab import figures
  _, ((ax,),) = figures.new_figure()
  return ax


def tree():
  return {"w": _jnp().ones((3,)), "b": _jnp().ones((2,))}


def per_example_tree():
  return {"w": _jnp().ones((4, 3)), "b": _jnp().ones((4, 2))}


def key(seed=0):
  import jax
  return jax.random.key(seed)


def citation():
  from boundlab.claims import Citation
  return Citation(arxiv="1234.56789", version="v1", where="Theorem 1",
                  verified=False, note="fuzz")


def paper():
  from boundlab.claims import Paper
  return Paper(key="fuzz2026", title="t", authors="a", arxiv="1234.56789",
               version="v1")


def bound():
  from boundlab.claims import Bound
  return Bound(name="b", expression=0, citation=citation())


def experiment():
  from boundlab.claims import Experiment
  return Experiment("fuzz2026.runs", lambda quick: {"n": 2},
                    lambda config, seeds: [{"x": 1.0} for _ in seeds])


def evaluate(config, records, alpha):
  from boundlab.claims import Evaluation
  return Evaluation(measured=0.0, ci=(0.0, 0.0))


def claim_kwargs():
  return dict(id="fuzz2026.c", paper=paper(), statement="s", measurement="m",
              bound=bound(), relation="<=", experiment=experiment(),
              evaluate=evaluate, evidence="statistical")


def claim():
  from boundlab.claims import Claim
  return Claim(**claim_kwargs())


NAMESPACE = {"nan": math.nan, "inf": math.inf, "quad": quad,
             "problem": problem, "sgd": sgd, "matvec": matvec, "key": key,
             "tree": tree}


def _ones(*shape):
  return _np().ones(shape)


def _samples(n=8, k=None):
  rng = _np().random.default_rng(0)
  return rng.normal(size=(n,) if k is None else (n, k))


_RATE = ["0.0", "-0.1", "1.5", "nan", "'1'"]   # (0, 1], None = full batch
# Extra matvec arguments: a tuple (or list) of arrays.
_BAD_ARGS = ["3", "'abc'", "None", "('abc',)"]
# Labels of a batch of 4 with 2 classes.
_BAD_LABELS = ["None", "'abc'", "[0, 1]", "[5, 5, 5, 5]",
               "[0.5, 0.5, 0.5, 0.5]"]
_BAD_MLP_PARAMS = ["None", "3", "[]", "'abc'", "[{'w': 1.0}]",
                   "[{'w': [[1.0]], 'b': [1.0]}]"]
_BAD_MLP_INPUTS = ["None", "'abc'", "[1.0, 2.0, 3.0]", "[[nan, 1.0, 1.0]]"]


def _mlp_kwargs():
  """A one-layer MLP on 3 features, 2 classes, batch 4."""
  return {"params": [{"w": _ones(3, 2), "b": _ones(2)}],
          "inputs": _ones(4, 3), "targets": _np().array([0, 1, 0, 1])}


# --- the specs ---------------------------------------------------------------

A = "boundlab.algorithms."
L = "boundlab.landscapes."
T = "boundlab.theory."
C = "boundlab.claims."
F = "boundlab.figures."
X = "boundlab.testing."
V = "boundlab.validation."

SPECS: dict[str, Spec] = {
    # -- algorithms ---------------------------------------------------------
    A + "mean_aggregate": Spec(lambda: {}, {}),
    A + "project_out_radial": Spec(lambda: {}, {}),
    A + "with_mean_gradient": Spec(
        lambda: {"optimizer": __import__("optax").sgd(0.1)},
        {"optimizer": "optimizer"}),
    A + "with_batch_gradient": Spec(
        lambda: {"optimizer": __import__("optax").sgd(0.1)},
        {"optimizer": "optimizer"}),
    A + "coordinate_clip": Spec(lambda: {"fraction": 0.5},
                                {"fraction": "fraction"}),
    A + "coordinate_clip_threshold": Spec(
        lambda: {"tree": tree(), "fraction": 0.5},
        {"fraction": "fraction"}),
    A + "clip": Spec(lambda: {"tree": tree(), "clip_norm": 1.0},
                     {"clip_norm": "positive_or_inf"}),
    A + "clip_per_example": Spec(
        lambda: {"per_example_tree": per_example_tree(), "clip_norm": 1.0},
        {"clip_norm": "positive_or_inf"}),
    A + "clipped_mean": Spec(
        lambda: {"per_example_tree": per_example_tree(), "clip_norm": 1.0},
        {"clip_norm": "positive_or_inf"}),
    A + "dice_aggregate": Spec(
        lambda: {"clip_norm_1": 1.0, "clip_norm_2": 1.0, "noise_std": 0.5,
                 "key": key()},
        {"clip_norm_1": "positive_or_inf", "clip_norm_2": "positive_or_inf",
         "noise_std": "nonnegative", "key": "key",
         "sampling_rate": _RATE}),
    A + "dice_sgd": Spec(
        lambda: {"learning_rate": 0.1, "clip_norm_1": 1.0,
                 "clip_norm_2": 1.0, "noise_std": 0.5, "key": key()},
        {"learning_rate": "positive", "clip_norm_1": "positive_or_inf",
         "clip_norm_2": "positive_or_inf", "noise_std": "nonnegative",
         "key": "key", "sampling_rate": _RATE}),
    A + "dp_sgd_gc": Spec(
        lambda: {"learning_rate": 0.1, "clip_norm": 1.0,
                 "noise_multiplier": 1.0, "key": key()},
        {"learning_rate": "positive", "clip_norm": "positive_or_inf",
         "noise_multiplier": "nonnegative", "key": "key",
         "sampling_rate": _RATE}),
    A + "max_stable_sharpness": Spec(
        lambda: {"method": "gd", "learning_rate": 0.1, "momentum": 0.0},
        {"method": "choice", "learning_rate": "positive",
         "momentum": "decay"}),
    A + "sgdp": Spec(lambda: {"learning_rate": 0.1, "momentum": 0.9},
                     {"learning_rate": "positive", "momentum": "decay"}),
    A + "adamp": Spec(
        lambda: {"learning_rate": 0.1},
        {"learning_rate": "positive", "b1": "decay", "b2": "decay",
         "eps": "positive", "weight_decay": "nonnegative",
         "delta": "positive", "wd_ratio": "unit_closed"}),
    A + "perturbation_gain_1d": Spec(
        lambda: {"clip_norm": 1.0, "perturbation_scale": 0.5},
        {"clip_norm": "positive", "perturbation_scale": "nonnegative"}),
    A + "perturbed_clip_aggregate": Spec(
        lambda: {"clip_norm": 1.0, "perturbation_scale": 0.5,
                 "noise_multiplier": 1.0, "key": key()},
        {"clip_norm": "positive_or_inf", "perturbation_scale": "nonnegative",
         "noise_multiplier": "nonnegative", "key": "key"}),
    A + "perturbed_clipped_sgd": Spec(
        lambda: {"learning_rate": 0.1, "clip_norm": 1.0,
                 "perturbation_scale": 0.5, "noise_multiplier": 1.0,
                 "key": key()},
        {"learning_rate": "positive", "clip_norm": "positive_or_inf",
         "perturbation_scale": "nonnegative",
         "noise_multiplier": "nonnegative", "key": "key"}),
    A + "first_divergence": Spec(lambda: {"diverged_at": [-1, 3, 5]},
                                 {"diverged_at": ["'abc'", "None",
                                                  "[1.5, 2.0]"]}),
    A + "run": Spec(
        lambda: {"landscape": quad(), "optimizer": sgd(), "seeds": [0, 1],
                 "steps": 4, "record_every": 2, "batch_size": 2},
        {"landscape": "landscape", "optimizer": "optimizer",
         "seeds": "seeds", "steps": "positive_int",
         "record_every": "positive_int", "batch_size": "positive_int",
         "sampling": "choice", "unroll": "positive_int"}),
    A + "seed_keys": Spec(lambda: {"seeds": [0, 1]}, {"seeds": "seeds"}),
    A + "sam": Spec(lambda: {"learning_rate": 0.1, "rho": 0.05},
                    {"learning_rate": "positive", "rho": "positive"}),
    A + "saf": Spec(
        lambda: {"optimizer": __import__("optax").sgd(0.1),
                 "num_examples": 8, "num_outputs": 2, "steps_per_epoch": 2},
        {"optimizer": "optimizer", "num_examples": "size",
         "num_outputs": "size", "steps_per_epoch": "positive_int",
         "lag_epochs": "positive_int", "start_epoch": "nonnegative_int",
         "temperature": "positive", "weight": "nonnegative"}),
    A + "trajectory_kl": Spec(
        lambda: {"past_outputs": _ones(3, 2), "outputs": _ones(3, 2),
                 "temperature": 1.0},
        {"temperature": "positive", "outputs": ["'abc'", "None"]}),
    A + "Compressor": Spec(
        lambda: {"name": "c", "dim": 3, "compress": lambda k, v: v,
                 "contraction": 1.0},
        {"dim": "size", "compress": "callable",
         "contraction": ["0.0", "-0.1", "1.5", "nan", "'1'"],
         "variance": ["-1.0", "nan", "inf", "'1'"]}),
    A + "top_k": Spec(lambda: {"k": 1, "dim": 3},
                      {"k": "positive_int", "dim": "size"}),
    A + "rand_k": Spec(lambda: {"k": 1, "dim": 3},
                       {"k": "positive_int", "dim": "size"}),
    A + "scaled_sign": Spec(lambda: {"dim": 3}, {"dim": "size"}),
    A + "ef21_init": Spec(
        lambda: {"problem": problem(),
                 "compressor": __import__("boundlab").algorithms.top_k(1, 3),
                 "optimizer": __import__("optax").sgd(0.1),
                 "params": _np().zeros(3), "key": key(),
                 "weights": _np().full(4, 0.25)},
        {"problem": "problem", "compressor": "compressor",
         "optimizer": "optimizer", "key": "key",
         "weights": ["[0.5, 0.5]", "[nan, 1, 1, 1]", "[-1, 1, 1, 1]",
                     "None"],
         "initial_estimates": "choice"}),
    A + "ef21_step": Spec(
        lambda: _ef21_step_kwargs(),
        {"problem": "problem", "compressor": "compressor",
         "optimizer": "optimizer", "key": "key",
         "weights": ["[0.5, 0.5]", "[nan, 1, 1, 1]", "None"],
         "state": ["None", "3"]}),
    A + "run_ef21": Spec(
        lambda: {"problem": problem(),
                 "compressor": __import__("boundlab").algorithms.top_k(1, 3),
                 "step_size": 0.1, "num_steps": 3},
        {"problem": "problem", "compressor": "compressor",
         "step_size": "positive", "num_steps": "positive_int",
         "initial_estimates": "choice", "key": "key",
         "server_optimizer": ["3", "'sgd'"]}),
    A + "run_adam": Spec(
        lambda: {"landscape": quad(), "num_workers": 2, "num_steps": 3,
                 "lr": 0.1, "batch_size": 2},
        {"landscape": "landscape", "num_workers": "positive_int",
         "num_steps": "positive_int", "lr": "positive",
         "batch_size": "positive_int", "beta1": "decay", "beta2": "decay",
         "eps": "positive", "seeds": "seeds"}),
    A + "simulate_onebit_adam": Spec(
        lambda: {"landscape": quad(), "num_workers": 2, "num_steps": 4,
                 "warmup_steps": 2, "lr": 0.1, "batch_size": 2},
        {"landscape": "landscape", "num_workers": "positive_int",
         "num_steps": "positive_int", "warmup_steps": "nonnegative_int",
         "lr": "positive", "batch_size": "positive_int", "beta1": "decay",
         "beta2": "decay", "eps": "positive", "error_feedback": "choice",
         "seeds": "seeds", "compressor": ["3", "'sign'"]}),
    # -- landscapes ---------------------------------------------------------
    L + "Landscape": Spec(
        lambda: {"name": "q", "init": lambda k: _jnp().zeros(2),
                 "loss": lambda p, b: _jnp().sum(p**2),
                 "sample": lambda k, n: _jnp().zeros((n, 1)),
                 "objective": lambda p: _jnp().sum(p**2), "constants": {}},
        {"name": "text", "init": "callable", "loss": "callable",
         "sample": "callable", "objective": "callable",
         "constants": "mapping"}),
    L + "finite_sum": Spec(
        lambda: {"name": "q", "init": lambda k: _jnp().zeros(2),
                 "loss": lambda p, b: _jnp().sum(p**2),
                 "data": {"x": _np().ones((4, 2))}, "constants": {}},
        {"name": "text", "init": "callable", "loss": "callable",
         "constants": "mapping", "data": ["None", "{}", "{'x': 3.0}"]}),
    L + "NoiseDistribution": Spec(
        lambda: {"name": "n", "dim": 2,
                 "sample": lambda k, n: _jnp().zeros((n, 2)),
                 "symmetric": True},
        {"name": "text", "dim": "size", "sample": "callable",
         "symmetric": "bool", "variance": ["-1.0", "nan", "inf", "'1'"]}),
    L + "gaussian": Spec(lambda: {"dim": 2},
                         {"dim": "size", "scale": "nonnegative"}),
    L + "laplace": Spec(lambda: {"dim": 2},
                        {"dim": "size", "scale": "nonnegative"}),
    L + "one_sided_heavy_tail": Spec(
        lambda: {"dim": 2},
        {"dim": "size", "sigma": ["0.0", "-1.0", "nan", "inf", "40.0",
                                  "None"],
         "scale": "positive"}),
    L + "skewed_mixture": Spec(
        lambda: {"dim": 2},
        {"dim": "size", "weight": "unit_open", "offset": "positive",
         "scale": "positive"}),
    L + "symmetric_mixture": Spec(
        lambda: {"dim": 2},
        {"dim": "size", "offset": "nonnegative", "scale": "positive"}),
    L + "symmetrize": Spec(
        lambda: {"dist": __import__("boundlab").landscapes.gaussian(2)},
        {"dist": "noise"}),
    L + "zero_noise": Spec(lambda: {"dim": 2}, {"dim": "size"}),
    L + "diagonal_gaussian": Spec(lambda: {"scales": [1.0, 2.0]},
                                  {"scales": "finite_vector"}),
    L + "diagonal_quadratic_sum": Spec(
        lambda: {"points": [[0.0, 1.0], [1.0, 0.0]],
                 "curvatures": [[1.0, 2.0], [2.0, 1.0]]},
        {"points": "finite_vector", "curvatures": "finite_vector",
         "init": ["nan", "inf", "'1'", "None", "[1.0, 2.0, 3.0]"]}),
    L + "mean_of_squares": Spec(lambda: {"points": [[0.0], [1.0]]},
                                {"points": "finite_vector",
                                 "init": "finite"}),
    L + "noisy_quadratic": Spec(
        lambda: {"noise": __import__("boundlab").landscapes.gaussian(2)},
        {"noise": "noise", "curvature": ["0.0", "-1.0", "nan", "inf", "'1'",
                                         "None", "[1.0, 2.0, 3.0]"]}),
    L + "product_toy": Spec(lambda: {}, {"init_radius": "positive"}),
    L + "heterogeneous_curvature_toy": Spec(
        lambda: {}, {"init_low": ["nan", "inf", "11.0", "'1'", "None"],
                     "init_high": ["nan", "inf", "0.0", "'1'", "None"]}),
    L + "skewed_logistic_regression": Spec(
        lambda: {"num_examples": 20, "dim": 2},
        {"num_examples": "size", "dim": "size",
         "minority_fraction": "unit_open", "separation": "nonnegative",
         "regularization": "nonnegative", "seed": "seed"}),
    L + "chebyshev_regression": Spec(
        lambda: {"degree": 2, "num_points": 5, "width": 4},
        {"degree": "nonnegative_int", "num_points": "size", "width": "size",
         "first_layer_gain": "positive"}),
    L + "diagonal_linear_network": Spec(
        lambda: {"num_examples": 4, "dim": 6, "sparsity": 2},
        {"num_examples": "size", "dim": "size", "sparsity": "positive_int",
         "init_scale": "positive", "seed": "seed",
         "v_init_scale": ["0.0", "-1.0", "nan", "'1'"]}),
    L + "scale_invariant_regression": Spec(
        lambda: {"num_examples": 4, "dim": 3},
        {"num_examples": "size", "dim": "size", "seed": "seed"}),
    L + "signed_square_diagonal_network": Spec(
        lambda: {"num_examples": 4, "dim": 6, "sparsity": 2},
        {"num_examples": "size", "dim": "size", "sparsity": "positive_int",
         "init_scale": "positive", "seed": "seed"}),
    L + "mlp_classifier": Spec(
        lambda: {"num_examples": 8, "dim": 2, "width": 3, "num_classes": 2},
        {"num_examples": "size", "dim": "size", "width": "size",
         "num_classes": ["1", "0", "1.5", "None"], "seed": "seed",
         "minority_fraction": ["0.0", "-0.1", "1.5", "nan", "'1'"]}),
    L + "two_layer_relu_regression": Spec(
        lambda: {"num_examples": 4, "dim": 2, "width": 3,
                 "teacher_width": 2},
        {"num_examples": "size", "dim": "size", "width": "size",
         "teacher_width": "size", "seed": "seed"}),
    L + "deep_linear_network": Spec(
        lambda: {"depth": 2, "width": 4, "num_examples": 3},
        {"depth": "positive_int", "width": "size", "num_examples": "size",
         "seed": "seed"}),
    L + "single_index_model": Spec(
        lambda: {"dim": 3},
        {"dim": ["1", "0", "-1", "1.5", "None", "10**15", "2**62"],
         "link": "choice", "loss": "choice", "noise_std": "nonnegative",
         "seed": "seed"}),
    L + "SpikedTensor": Spec(lambda: {"dim": 3, "order": 3},
                             {"dim": "size", "order": ["1", "0", "1.5",
                                                       "None"],
                              "snr": "nonnegative"}),
    L + "linear_regression": Spec(
        lambda: {"num_examples": 5, "dim": 2},
        {"num_examples": "size", "dim": "size", "noise": "nonnegative",
         "feature_norm": "positive", "seed": "seed"}),
    L + "with_gradient_canary": Spec(
        lambda: {"landscape": __import__("boundlab").landscapes
                 .linear_regression(5, 2), "gradient_norm": 1.0},
        {"landscape": "landscape", "gradient_norm": "nonnegative"}),
    L + "canary_absent": Spec(
        lambda: {"data": __import__("boundlab").landscapes
                 .with_gradient_canary(__import__("boundlab").landscapes
                                       .linear_regression(5, 2), 1.0).data},
        {"data": ["None", "3", "{}"]}),
    L + "ill_conditioned_quadratic": Spec(
        lambda: {"dim": 3},
        {"dim": "size", "condition_number": ["0.5", "0.0", "nan", "inf",
                                             "None"],
         "noise_scale_spread": "positive", "init_distance": "positive"}),
    L + "sparse_sign_task": Spec(
        lambda: {"dim": 4, "sparsity": 2, "num_train": 4, "num_test": 4},
        {"dim": "size", "sparsity": "positive_int", "num_train": "size",
         "num_test": "size", "seed": "seed"}),
    L + "with_label_noise": Spec(
        lambda: {"landscape": __import__("boundlab").landscapes
                 .linear_regression(5, 2), "std": 0.1},
        {"landscape": "landscape", "std": "nonnegative"}),
    L + "feature_noise_classification": Spec(
        lambda: {"dim": 8, "num_examples": 4, "width": 2, "num_test": 4},
        {"dim": "size", "num_examples": "size", "width": "size",
         "strong_norm": "positive", "weak_norm": "positive",
         "noise_std": ["-1.0", "nan", "inf", "'1'"],
         "init_std": ["0.0", "-1.0", "nan", "inf", "'1'"],
         "weak_fraction": "decay", "num_test": "size",
         "weight_sharing": "choice", "seed": "seed"}),
    L + "feature_overlaps": Spec(
        lambda: _feature_params() | {"direction": _np().ones(8)},
        {"params": ["None", "3", "{}"], "direction": "finite_vector"}),
    L + "margins": Spec(
        lambda: _feature_params() | {"examples": _feature_examples()},
        {"params": ["None", "3", "{}"], "examples": ["None", "3", "{}"]}),
    L + "two_layer_cnn": Spec(
        lambda: _feature_params() | {"patches": _np().ones((2, 8))},
        {"params": ["None", "3", "{}"], "patches": ["'abc'", "None"]}),
    L + "DistributedFiniteSum": Spec(
        lambda: {"name": "d", "client_loss": lambda x, c: _jnp().sum(x**2),
                 "data": {"a": _np().ones((2, 3))},
                 "initial_point": _np().zeros(3), "constants": {}},
        {"name": "text", "client_loss": "callable",
         "data": ["3", "{}", "{'a': 3.0}"],
         "initial_point": "finite_vector", "constants": "mapping"}),
    L + "heterogeneous_quadratics": Spec(
        lambda: {"client_smoothness": [1.0, 2.0], "dim": 3},
        {"client_smoothness": "finite_vector", "dim": "size",
         "hessian": "choice", "heterogeneity": "nonnegative",
         "curvature_floor": "nonnegative", "seed": "seed"}),
    L + "distributed_logistic_regression": Spec(
        lambda: {"num_clients": 2, "examples_per_client": 5, "dim": 3},
        {"num_clients": "size", "examples_per_client": "size",
         "dim": "size", "feature_scales": ["[nan, 1.0]", "[1.0, 2.0, 3.0]",
                                           "[-1.0, 1.0]", "'abc'"],
         "regularization": "nonnegative", "nonconvex": "bool",
         "seed": "seed"}),
    L + "federated_quadratics": Spec(
        lambda: {"num_clients": 3, "dim": 2},
        {"num_clients": "size", "dim": "size",
         "heterogeneity": "nonnegative", "shared_hessian": "bool",
         "condition_number": ["0.5", "0.0", "nan", "inf", "None"],
         "seed": "seed"}),
    L + "label_skewed_logistic_regression": Spec(
        lambda: {"num_clients": 2, "examples_per_client": 5, "dim": 2},
        {"num_clients": "size", "examples_per_client": "size",
         "dim": "size", "label_concentration": "positive",
         "separation": "nonnegative", "regularization": "nonnegative",
         "seed": "seed"}),
    # -- theory -------------------------------------------------------------
    T + "dense_hessian": Spec(
        lambda: {"loss_fn": square_loss, "params": _jnp().ones(3)},
        {"loss_fn": "callable"}),
    T + "flat_hvp": Spec(
        lambda: {"loss_fn": square_loss, "params": _jnp().ones(3)},
        {"loss_fn": "callable"}),
    T + "hvp": Spec(
        lambda: {"loss_fn": square_loss, "params": _jnp().ones(3),
                 "vector": _jnp().ones(3)},
        {"loss_fn": "callable", "vector": ["'abc'", "None",
                                           "[1.0, 2.0]"]}),
    T + "per_example_hessians": Spec(
        lambda: {"loss_fn": lambda p, x: _jnp().sum((p * x)**2),
                 "params": _jnp().ones(3), "batch": _jnp().ones((2, 3))},
        {"loss_fn": "callable"}),
    T + "top_eigenvalue_dense": Spec(lambda: {"matrix": _np().eye(3)},
                                     {"matrix": ["[[1.0, 2.0]]", "'abc'",
                                                 "None", "[[nan]]"]}),
    T + "hutchinson_trace": Spec(
        lambda: {"matvec": matvec, "dim": 3, "num_probes": 4},
        {"matvec": "callable", "dim": "size",
         "num_probes": ["1", "0", "-1", "1.5", "None", "10**15"],
         "key": "key", "alpha": "unit_open", "args": _BAD_ARGS,
         "probe_dtype": "choice"}),
    T + "ggn_hutchinson_trace": Spec(
        lambda: {"predict": lambda p, x: x @ p, "params": _ones(3, 2),
                 "inputs": _ones(4, 3), "targets": _np().array([0, 1, 0, 1]),
                 "num_probes": 4, "key": key()},
        {"predict": "callable",
         "params": ["None", "'abc'", "{}"],
         "inputs": ["None", "'abc'", "{}"],
         "targets": _BAD_LABELS[1:],          # None: no targets, allowed
         "num_probes": ["1", "0", "-1", "1.5", "None", "10**15"],
         "key": ["None", *KINDS["key"]], "alpha": "unit_open",
         "loss": "choice", "probe_dtype": "choice"}),
    T + "hutchinson_diagonal": Spec(
        lambda: {"matvec": matvec, "dim": 3, "num_probes": 4},
        {"matvec": "callable", "dim": "size",
         "num_probes": ["1", "0", "-1", "1.5", "None", "10**15"],
         "key": "key", "batch_size": ["0", "-1", "1.5", "'3'"],
         "args": _BAD_ARGS}),
    T + "lanczos_tridiagonal": Spec(
        lambda: {"matvec": matvec, "start": _jnp().ones(3), "num_iters": 2},
        {"matvec": "callable", "start": ["[nan, 1.0]", "None", "'abc'",
                                         "[0.0, 0.0]"],
         "num_iters": ["0", "-1", "1.5", "4", "None"], "args": _BAD_ARGS}),
    T + "spectral_density": Spec(
        lambda: {"matvec": matvec, "dim": 4, "num_iters": 2,
                 "num_probes": 2},
        {"matvec": "callable", "dim": "size",
         "num_iters": ["0", "-1", "1.5", "5", "None"],
         "num_probes": "size", "key": "key", "args": _BAD_ARGS}),
    T + "top_eigenvalues": Spec(
        lambda: {"matvec": matvec, "dim": 4, "k": 1, "num_iters": 3},
        {"matvec": "callable", "dim": "size", "k": "positive_int",
         "num_iters": ["0", "-1", "1.5", "5"], "key": "key",
         "args": _BAD_ARGS}),
    T + "lanczos_top_eigenvalue": Spec(
        lambda: {"matvec": matvec, "dim": 4, "num_iters": 3, "key": key()},
        {"matvec": "callable", "dim": "size",
         "num_iters": ["0", "-1", "1.5", "5", "None"],
         "key": ["None", *KINDS["key"]], "args": _BAD_ARGS,
         "probe_dtype": "choice"}),
    T + "exact_trace": Spec(
        lambda: _mlp_kwargs(),
        {"params": _BAD_MLP_PARAMS, "inputs": _BAD_MLP_INPUTS,
         "targets": _BAD_LABELS,
         "activation": ["'tanh'", "'gelu'", "None", "3"], "loss": "choice",
         "negative_slope": "finite"}),
    T + "mlp_loss": Spec(
        lambda: _mlp_kwargs(),
        {"params": _BAD_MLP_PARAMS, "inputs": _BAD_MLP_INPUTS,
         "targets": _BAD_LABELS,
         "activation": ["'softplus'", "None", "3"], "loss": "choice",
         "negative_slope": "finite"}),
    T + "mlp_outputs": Spec(
        lambda: {k: a for k, a in _mlp_kwargs().items() if k != "targets"},
        {"params": _BAD_MLP_PARAMS, "inputs": _BAD_MLP_INPUTS,
         "activation": ["'softplus'", "None", "3"],
         "negative_slope": "finite"}),
    T + "best_local_loss_change": Spec(
        lambda: {"loss_fn": square_loss, "params": _jnp().ones(3),
                 "direction": _jnp().ones(3)},
        {"loss_fn": "callable", "direction": ["'abc'", "None"]}),
    T + "directional_sharpness": Spec(
        lambda: {"loss_fn": square_loss, "params": _jnp().ones(3),
                 "direction": _jnp().ones(3)},
        {"loss_fn": "callable", "direction": ["'abc'", "None",
                                              "[0.0, 0.0, 0.0]"]}),
    T + "linear_probe_accuracy": Spec(
        lambda: {"train_features": _samples(8, 2),
                 "train_labels": _np().array([-1, 1] * 4),
                 "test_features": _samples(4, 2),
                 "test_labels": _np().array([-1, 1] * 2)},
        {"train_features": ["[[nan, 1.0]]", "None", "'abc'"],
         "train_labels": ["None", "'abc'", "[0, 1]"],
         "test_features": ["[[nan, 1.0]]", "None", "'abc'"],
         "test_labels": ["None", "'abc'", "[0]"]}),
    T + "clip": Spec(lambda: {"tree": tree(), "clip_norm": 1.0},
                     {"clip_norm": "positive_or_inf"}),
    T + "clip_factor": Spec(lambda: {"norm": 2.0, "clip_norm": 1.0},
                            {"clip_norm": "positive",
                             "norm": ["-1.0", "nan", "'a'", "None"]}),
    T + "clip_per_example": Spec(
        lambda: {"per_example_tree": per_example_tree(), "clip_norm": 1.0},
        {"clip_norm": "positive_or_inf"}),
    T + "clipped_fixed_point": Spec(
        lambda: {"points": [-1.0, 0.0, 2.0], "clip_norm": 1.0},
        {"points": "finite_vector", "clip_norm": "positive_or_inf"}),
    T + "expected_clipped_gradient": Spec(
        lambda: {"x": [0.5, 1.0], "points": [-1.0, 0.0, 2.0],
                 "clip_norm": 1.0},
        {"x": "finite_vector", "points": "finite_vector",
         "clip_norm": "positive_or_inf"}),
    T + "sharpness": Spec(
        lambda: {"loss_fn": square_loss, "params": _jnp().ones(3),
                 "num_iters": 2},
        {"loss_fn": "callable", "num_iters": "positive_int",
         "args": ["3", "'abc'"]}),
    T + "clipped_inner_products": Spec(
        lambda: {"v": _np().ones(2), "xi": _samples(4, 2), "clip_norm": 1.0},
        {"v": "finite_vector", "xi": ["[[nan, 1.0]]", "None", "'abc'"],
         "clip_norm": "positive_or_inf"}),
    T + "symmetric_descent_measure": Spec(
        lambda: {"grad_norm": 1.0, "clip_norm": 1.0,
                 "small_noise_probability": 0.5},
        {"grad_norm": "nonnegative", "clip_norm": "positive",
         "small_noise_probability": "unit_closed"}),
    T + "symmetrization_bias_terms": Spec(
        lambda: {"v": _np().ones(2), "xi": _samples(4, 2), "clip_norm": 1.0},
        {"v": "finite_vector", "xi": ["[[nan, 1.0]]", "None", "'abc'"],
         "clip_norm": "positive_or_inf"}),
    T + "bootstrap_ci": Spec(
        lambda: {"samples": _samples(), "statistic": _np().mean,
                 "n_resamples": 50},
        {"samples": ["[nan, 1.0, 2.0]", "[1.0]", "None", "'abc'",
                     "[inf, 1.0]"],
         "statistic": "callable", "alpha": "unit_open",
         "n_resamples": "positive_int", "seed": "seed"}),
    T + "extreme_mean_ci": Spec(
        lambda: {"samples": _samples(8, 3)},
        {"samples": ["[[nan, 1.0], [1.0, 2.0]]", "[[1.0, 2.0]]", "None",
                     "'abc'", "[1.0, 2.0]"],
         "alpha": "unit_open", "which": "choice"}),
    T + "mean_ci": Spec(lambda: {"samples": _samples()},
                        {"samples": ["[nan, 1.0, 2.0]", "[1.0]", "None",
                                     "'abc'"],
                         "alpha": "unit_open"}),
    T + "simultaneous_mean_cis": Spec(
        lambda: {"samples": _samples(8, 3)},
        {"samples": ["[[nan, 1.0], [1.0, 2.0]]", "[[1.0, 2.0]]", "None",
                     "'abc'", "[1.0, 2.0]"],
         "alpha": "unit_open"}),
    T + "norm_of_mean_ci": Spec(
        lambda: {"samples": _samples(8, 3)},
        {"samples": ["[[nan, 1.0], [1.0, 2.0]]", "[[1.0, 2.0]]", "None",
                     "'abc'", "[1.0, 2.0]"],
         "alpha": "unit_open"}),
    T + "slope_ci": Spec(
        lambda: {"x": [0.0, 1.0, 2.0, 3.0], "y": [0.0, 1.1, 1.9, 3.2]},
        {"x": ["[nan, 1.0, 2.0, 3.0]", "[1.0, 1.0, 1.0, 1.0]", "[1.0]",
               "None", "'abc'"],
         "y": ["[nan, 1.0, 2.0, 3.0]", "[1.0, 2.0]", "None", "'abc'"],
         "alpha": "unit_open"}),
    T + "accuracy_resolution": Spec(lambda: {"num_points": 10},
                                    {"num_points": "positive_int"}),
    T + "selection_split": Spec(lambda: {"records": [{}, {}, {}, {}]},
                                {"records": ["[{}, {}]", "None", "3"]}),
    T + "nan_last_argmin": Spec(lambda: {"values": [3.0, 1.0, 2.0]},
                                {"values": ["'abc'", "None", "[]"]}),
    T + "abs_interval": Spec(lambda: {"ci": (-1.0, 2.0)},
                             {"ci": "interval"}),
    T + "range_interval": Spec(lambda: {"values": [1.0, 2.0]},
                               {"values": ["[nan, 1.0]", "[]", "None",
                                           "'abc'"]}),
    T + "assignment_transport_cost": Spec(
        lambda: {"cost": _np().ones((3, 3))},
        {"cost": ["[[nan, 1.0], [1.0, 1.0]]", "[[1.0, 2.0]]", "None",
                  "'abc'", "[1.0, 2.0]"]}),
    T + "clipped_direction_wasserstein": Spec(
        lambda: {"v": _np().ones(2), "xi_p": _samples(4, 2),
                 "xi_q": _samples(4, 2) + 1.0, "clip_norm": 1.0},
        {"v": "finite_vector", "xi_p": ["[[nan, 1.0]]", "None", "'abc'"],
         "xi_q": ["[[nan, 1.0]]", "None", "'abc'"],
         "clip_norm": "positive_or_inf"}),
    T + "clipped_projection": Spec(
        lambda: {"v": _np().ones(2), "xi": _samples(4, 2), "clip_norm": 1.0},
        {"v": "finite_vector", "xi": ["[[nan, 1.0]]", "None", "'abc'"],
         "clip_norm": "positive_or_inf"}),
    T + "w1_lower_confidence_bound_1d": Spec(
        lambda: {"x": _samples(), "y": _samples() + 1.0},
        {"x": ["[nan, 1.0]", "[]", "None", "'abc'"],
         "y": ["[nan, 1.0]", "[]", "None", "'abc'"],
         "alpha": "unit_open"}),
    T + "wasserstein_1": Spec(
        lambda: {"x": _samples(), "y": _samples() + 1.0},
        {"x": ["[nan, 1.0]", "[]", "None", "'abc'"],
         "y": ["[nan, 1.0]", "[]", "None", "'abc'"]}),
    # -- claims -------------------------------------------------------------
    C + "Citation": Spec(
        lambda: {"arxiv": "1234.56789", "version": "v1", "where": "Thm 1",
                 "verified": False},
        {"where": "text", "verified": "bool",
         "arxiv": ["3", "'not an id'"], "version": ["3", "'version one'"]}),
    C + "Paper": Spec(
        lambda: {"key": "fuzz2026", "title": "t", "authors": "a",
                 "arxiv": "1234.56789", "version": "v1"},
        {"key": ["None", "3", "''", "'Has Spaces'"], "title": "text",
         "authors": "text", "year": ["-1", "1.5", "'2020'"]}),
    C + "Bound": Spec(
        lambda: {"name": "b", "expression": 0, "citation": citation()},
        {"name": "text", "citation": ["None", "3", "'arXiv'"],
         "constants": ["3", "'c'"]}),
    C + "Evaluation": Spec(
        lambda: {"measured": 0.0, "ci": (0.0, 1.0)},
        {"ci": "interval", "measured": ["'a'", "None"],
         "instances": ["0", "-1", "1.5"],
         "detectable_effect": ["-1.0", "nan", "'a'"]}),
    C + "Experiment": Spec(
        lambda: {"id": "fuzz2026.runs", "config": lambda quick: {},
                 "measure": lambda config, seeds: []},
        {"id": ["None", "3", "''", "'no dot'"], "config": "callable",
         "measure": "callable", "seeds": "positive_int",
         "quick_seeds": "positive_int", "full_needs_gpu": "bool"}),
    C + "Claim": Spec(
        claim_kwargs,
        {"id": ["None", "3", "''", "'other2026.c'"], "paper": ["None", "3"],
         "bound": ["None", "3"], "relation": ["None", "'<'", "3"],
         "experiment": ["None", "3"], "evaluate": "callable",
         "false_fail_rate": "unit_open",
         "tolerance": ["-1.0", "nan", "inf", "'a'"],
         "evidence": ["'proof'", "3"]}),
    C + "Records": Spec(lambda: {"records": [{"x": 1.0}, {"x": 2.0}]},
                        {"records": ["None", "3", "[3, 4]"],
                         "seeds": ["[0]", "3", "'ab'"]}),
    C + "all_claims": Spec(lambda: {}, {}),
    C + "papers": Spec(lambda: {}, {}),
    C + "decide": Spec(
        lambda: {"relation": "<=", "ci": (0.0, 1.0), "bound_ci": (2.0, 2.0)},
        {"relation": ["'<'", "None", "3"], "ci": "interval",
         "bound_ci": "interval",
         "tolerance": ["-1.0", "inf", "-inf", "nan", "'a'", "None"]}),
    C + "get_claim": Spec(lambda: {"claim_id": "zhu2026.late_communication_"
                                   "beats_early"},
                          {"claim_id": ["'no.such_claim'", "None", "3"]}),
    C + "load": Spec(lambda: {"spec": "boundlab.paper_repro.zhu2026"},
                     {"spec": ["'no_such_module_xyz'", "None", "3",
                               "'/no/such/file.py'"]}),
    C + "paper_module": Spec(lambda: {"key": "zhu2026"},
                             {"key": ["'nope1999'", "None", "3"]}),
    C + "register": Spec(
        lambda: {"module": __import__("boundlab.paper_repro.zhu2026",
                                      fromlist=["x"])},
        {"module": ["None", "3", "'zhu2026'"]}),
    C + "select_claims": Spec(lambda: {"pattern": "zhu2026"},
                              {"pattern": ["'('", "3"]}),
    C + "float64_measure": Spec(
        lambda: {"measure": lambda config, seeds: []},
        {"measure": "callable"}),
    # -- figures ------------------------------------------------------------
    F + "band": Spec(
        lambda: {"ax": axes(), "x": [0.0, 1.0, 2.0],
                 "samples": _samples(4, 3), "label": "l"},
        {"ax": "axes", "x": ["[nan, 1.0, 2.0]", "None", "[0.0, 1.0]"],
         "samples": ["None", "'abc'", "[[1.0, 2.0]]"],
         "quantiles": ["(0.9, 0.1)", "(-0.1, 0.5)", "(0.5,)", "None"]}),
    F + "horizontal_reference": Spec(
        lambda: {"ax": axes(), "y": 1.0, "label": "l"},
        {"ax": "axes", "y": "finite"}),
    F + "intervals": Spec(
        lambda: {"ax": axes(), "labels": ["a", "b"], "points": [1.0, 2.0],
                 "cis": [[0.0, 2.0], [1.0, 3.0]]},
        {"ax": "axes", "points": ["[1.0]", "None", "'ab'"],
         "cis": ["[[0.0, 2.0]]", "[[2.0, 0.0], [1.0, 3.0]]", "None"],
         "labels": ["['a']", "None", "3"], "offset": "finite"}),
    F + "save_figure": Spec(
        lambda: {"fig": axes().figure, "path": _tmp_path(), "data": {},
                 "config": {}},
        {"fig": ["None", "3"], "path": ["None", "3"],
         "data": "mapping", "config": "mapping"}),
    F + "new_figure": Spec(lambda: {},
                           {"ncols": "positive_int", "nrows": "positive_int",
                            "width": ["0.0", "-1.0", "nan", "inf", "'1'"],
                            "height": ["0.0", "-1.0", "nan", "inf", "'1'"]}),
    F + "style": Spec(lambda: {}, {}),
    # -- testing ------------------------------------------------------------
    X + "assert_bound": Spec(
        lambda: {"measured": _samples() - 10.0, "bound": 0.0,
                 "reduce": "mean"},
        {"measured": ["[nan, 1.0]", "None", "'abc'", "[]"],
         "bound": "finite", "relation": ["'<'", "None", "3"],
         "reduce": "choice", "tolerance": ["-1.0", "nan", "inf", "'a'"],
         "false_fail_rate": "unit_open",
         "bound_ci": ["(1.0, 0.0)", "(nan, 1.0, 2.0)", "'ab'", "(0.0,)"]}),
    X + "check_claim": Spec(
        lambda: {"claim": claim()},
        {"claim": ["None", "3", "'zhu2026'"], "seed": "seed",
         "quick": "bool", "figures": "bool"}),
    X + "register_hypothesis_profile": Spec(
        lambda: {"max_examples": 5}, {"max_examples": "positive_int"}),
    X + "strict_numerics": Spec(
        lambda: {"rank_promotion": "raise"},
        {"rank_promotion": ["'loud'", "3"]}),
    # -- validation -----------------------------------------------------------
    V + "set_memory_budget": Spec(lambda: {"num_bytes": 2**33},
                                  {"num_bytes": ["0", "-1", "1.5", "'3'",
                                                 "True"]}),
    V + "seed_key": Spec(lambda: {"seed": 2**40}, {"seed": "seed"}),
    V + "memory_budget": Spec(lambda: {}, {}),
}


def _ef21_step_kwargs():
  import optax

  from boundlab import algorithms
  p, comp, opt = problem(), algorithms.top_k(1, 3), optax.sgd(0.1)
  weights = _np().full(4, 0.25)
  state = algorithms.ef21_init(p, comp, opt, _np().zeros(3), key(),
                               weights)
  return {"problem": p, "compressor": comp, "optimizer": opt,
          "weights": weights, "state": state, "key": key(1)}


def _feature_params():
  from boundlab import landscapes
  lscape = landscapes.feature_noise_classification(
      dim=8, num_examples=4, width=2, num_test=4)
  import jax
  return {"params": lscape.init(jax.random.key(0))}


def _feature_examples():
  from boundlab import landscapes
  lscape = landscapes.feature_noise_classification(
      dim=8, num_examples=4, width=2, num_test=4)
  return lscape.data


def _tmp_path():
  import tempfile
  from pathlib import Path
  return Path(tempfile.mkdtemp()) / "figure.png"


# Exports that take no user input of their own: records and estimates the
# library returns, exceptions it raises, and enums (whose constructor is
# Python's: ``Relation("<")`` raises ValueError "'<' is not a valid
# Relation").
EXEMPT = {
    A + "DiceState": "optimizer state built by dice_aggregate",
    A + "RunResult": "record returned by run",
    A + "EF21Run": "record returned by run_ef21",
    A + "EF21State": "state built by ef21_init",
    T + "DiagonalEstimate": "record returned by hutchinson_diagonal",
    T + "TraceEstimate": "record returned by hutchinson_trace",
    T + "EigenvalueEstimate": "record returned by lanczos_top_eigenvalue",
    C + "Verdict": "record returned by the runner and assert_bound",
    C + "Outcome": "enum",
    C + "Relation": "enum",
    C + "Evidence": "enum",
    X + "BoundInconclusive": "exception raised by assert_bound",
    X + "BoundViolation": "exception raised by assert_bound",
}

# The validation module's own checks are the layer under test: each is
# exercised by tests/test_validation.py; these fuzz entries cover the
# public setters and the seed mapping.
VALIDATION_CHECKS_TESTED_ELSEWHERE = {
    V + name: "a check of the validation layer (tests/test_validation.py)"
    for name in ("check_alpha", "check_callable", "check_choice", "check_finite_array",
                 "check_in_range", "check_instance", "check_nonnegative",
                 "check_positive", "check_positive_int", "check_seed",
                 "check_seeds", "check_size", "check_sizes")}
EXEMPT |= VALIDATION_CHECKS_TESTED_ELSEWHERE
