r"""Sharpness-aware training: SAM (two gradients a step) and SAF (one).

SAM (Foret et al.) takes the gradient at an adversarial point on the same
minibatch,

.. math::
  \tilde w_t = w_t + \rho\,\frac{g_t(w_t)}{\|g_t(w_t)\|},\qquad
  w_{t+1} = w_t - \eta\, g_t(\tilde w_t),

so it costs two forward-backward passes per step. :func:`sam` is
``optax.contrib.sam`` in opaque mode (no re-implementation) with the
adversarial step above; it reads the minibatch gradient function from the
run loop's ``grad_fn`` extra argument.

SAF (Du et al.) replaces the adversarial gradient by a trajectory loss: the
KL divergence between the network's softened outputs now and
:math:`\tilde E` epochs ago on the same examples,

.. math::
  L(w) = L_{\mathcal B}(w) + \lambda\,\tau^2\,\frac1{|\mathcal B|}
  \sum_{i\in\mathcal B} \mathrm{KL}\big(\mathrm{softmax}(z_i^{(e-\tilde E)}
  /\tau)\,\big\|\,\mathrm{softmax}(z_i(w)/\tau)\big),

active in the epochs after :math:`E_{\mathrm{start}}` (0-indexed epochs
:math:`e > E_{\mathrm{start}}`, as the authors' code tests it), with the
past outputs :math:`z_i^{(e-\tilde E)}` stored per example. Constants:
:math:`\tau = 5`, :math:`E_{\mathrm{start}} = 5`, :math:`\lambda = 0.3`,
:math:`\tilde E = 3` (paper and README [V]; the code's argument defaults are
:math:`\lambda = 0.16` and its example script uses :math:`\tilde E = 2`);
the code multiplies the KL by :math:`\tau^2` and averages it over the batch,
with the direction KL(past || now) [V]. One forward-backward pass of the
regularised loss, so SAF costs about what SGD costs.

References:
  Foret, Kleiner, Mobahi, Neyshabur, Sharpness-Aware Minimization for
  Efficiently Improving Generalization, ICLR 2021, arXiv 2010.01412.

  Du, Zhou, Feng, Tan, Zhou, Sharpness-Aware Training for Free, NeurIPS 2022,
  arXiv 2205.14083 (loss and constants [V] against the paper and the
  authors' code, github.com/AngusDujw/SAF).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from boundlab import _validation as v
from boundlab.algorithms.aggregation import with_batch_gradient


def sam(learning_rate: float, rho: float) -> optax.GradientTransformation:
  """SAM with SGD outer steps; needs the run loop's ``extra_args=("grad_fn",)``.

  Args:
    learning_rate: :math:`\\eta > 0`.
    rho: adversarial radius :math:`\\rho > 0`.
  """
  lr = v.check_positive("learning_rate", learning_rate)
  rho = v.check_positive("rho", rho)
  adversary = optax.chain(optax.contrib.normalize(), optax.sgd(rho))
  # Both gradients come from grad_fn: one backward pass of the mean loss
  # each, so SAM's cost is two SGD steps' and no per-example gradients.
  return with_batch_gradient(optax.contrib.sam(
      optax.sgd(lr), adversary, sync_period=2, opaque_mode=True))


class SAFState(NamedTuple):
  """Step count, the stored outputs and the epoch each slot was written in."""

  step: jax.Array
  outputs: jax.Array          # (lag_epochs, N, K)
  written_epoch: jax.Array    # (lag_epochs, N); -1 before the first write
  inner: optax.OptState


def trajectory_kl(past_outputs: jax.Array, outputs: jax.Array,
                  temperature: float) -> jax.Array:
  r""":math:`\tau^2\,\mathrm{KL}(\mathrm{softmax}(z^{\mathrm{past}}/\tau)\,\|\,
  \mathrm{softmax}(z/\tau))` per example (last axis = classes)."""
  temperature = v.check_positive("temperature", temperature)
  past_outputs = v.check_array("past_outputs", past_outputs)
  outputs = v.check_array("outputs", outputs)
  past = jax.nn.log_softmax(past_outputs / temperature, axis=-1)
  now = jax.nn.log_softmax(outputs / temperature, axis=-1)
  return temperature ** 2 * jnp.sum(jnp.exp(past) * (past - now), axis=-1)


def saf(optimizer: optax.GradientTransformation, *, num_examples: int,
        num_outputs: int, steps_per_epoch: int, lag_epochs: int = 3,
        start_epoch: int = 5, temperature: float = 5.0, weight: float = 0.3
        ) -> optax.GradientTransformationExtraArgs:
  """SAF: ``optimizer`` applied to the gradient of the trajectory-regularised
  minibatch loss.

  Needs the run loop's ``extra_args=("batch_index", "batch_loss_and_outputs")``
  and shuffled (or full-batch) sampling, so that every example is seen once
  per epoch. The incoming per-example gradients are not used: the gradient of
  the regularised loss comes from one backward pass through
  ``batch_loss_and_outputs``.

  Args:
    optimizer: the base optax optimizer (consumes one gradient).
    num_examples: N, the data set size (rows of the output memory).
    num_outputs: K, outputs (logits) per example.
    steps_per_epoch: optimizer steps per epoch (N // batch size).
    lag_epochs: :math:`\\tilde E`, how many epochs back the target outputs
      are (paper: 3).
    start_epoch: the KL term is active in 0-indexed epochs after this one
      (paper: 5); at least ``lag_epochs - 1`` so that targets exist.
    temperature: :math:`\\tau` (paper: 5).
    weight: :math:`\\lambda` (paper: 0.3).
  """
  v.check_instance("optimizer", optimizer, optax.GradientTransformation,
                   "an optax GradientTransformation")
  k = v.check_size("num_outputs", num_outputs, bytes_per_unit=8)
  n = v.check_size("num_examples", num_examples, bytes_per_unit=8 * k,
                   what=f"the (num_examples, num_outputs = {k}) outputs")
  per_epoch = v.check_positive_int("steps_per_epoch", steps_per_epoch)
  lag = v.check_positive_int("lag_epochs", lag_epochs)
  start = v.check_positive_int("start_epoch", start_epoch, minimum=lag - 1)
  tau = v.check_positive("temperature", temperature)
  lam = v.check_nonnegative("weight", weight)

  def init_fn(params):
    return SAFState(step=jnp.zeros((), jnp.int32),
                    outputs=jnp.zeros((lag, n, k)),
                    written_epoch=jnp.full((lag, n), -1, jnp.int32),
                    inner=optimizer.init(params))

  def update_fn(updates, state, params=None, *, batch_index=None,
                batch_loss_and_outputs=None, **extra_args):
    del updates, extra_args
    if batch_index is None or batch_loss_and_outputs is None:
      raise ValueError("saf needs the extra arguments batch_index and "
                       "batch_loss_and_outputs")
    batch = batch_index.shape[0]
    if batch < n and n // batch != per_epoch:
      # A wrong epoch length would silently shift the lag.
      raise ValueError(f"steps_per_epoch must be num_examples // batch size "
                       f"= {n // batch}, got {per_epoch}")
    epoch = state.step // per_epoch
    slot = epoch % lag
    past = state.outputs[slot, batch_index]
    # A target exists only where this slot was written exactly lag epochs
    # ago (examples a ragged last batch skipped have none).
    valid = (state.written_epoch[slot, batch_index] == epoch - lag) & (
        epoch > start)

    def regularised(p):
      loss, outputs = batch_loss_and_outputs(p)
      kl = trajectory_kl(past, outputs, tau)
      return loss + lam * jnp.mean(jnp.where(valid, kl, 0.0)), outputs

    grads, outputs = jax.grad(regularised, has_aux=True)(params)
    new_updates, inner = optimizer.update(grads, state.inner, params)
    return new_updates, SAFState(
        step=state.step + 1,
        outputs=state.outputs.at[slot, batch_index].set(
            jax.lax.stop_gradient(outputs)),
        written_epoch=state.written_epoch.at[slot, batch_index].set(epoch),
        inner=inner)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)
