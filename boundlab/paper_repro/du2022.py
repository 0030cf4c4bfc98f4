"""Du, Zhou, Feng, Tan & Zhou (NeurIPS 2022): sharpness-aware training for free.

SAF replaces SAM's adversarial gradient by a trajectory loss (the KL
divergence between the network's outputs now and a few epochs ago), so it
reaches flat minima as SAM does at almost the cost of SGD [V: abstract; loss
and constants checked against the paper and the authors' code, see
:mod:`boundlab.algorithms.sharpness_aware`]. Check: SGD, SAM and SAF at the
same learning rate on a small classifier (one-hidden-layer tanh MLP, three
Gaussian classes in 10 dimensions, n = 256, B = 32, shuffled epochs, one data
set; seeds vary the initialisation and the batch order), compared at equal
training loss (:mod:`boundlab.experiments.equal_loss`; exact dense Tr H).
Cost per step is a benchmark (``benchmarks/sharpness_aware_cost.py``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from boundlab import algorithms, figures, landscapes, theory
from boundlab.claims import Bound, Claim, Experiment, Paper, Relation
from boundlab.experiments.equal_loss import EqualLoss, crossings

PAPER = Paper(key="du2022", title="Sharpness-Aware Training for Free",
              authors="J. Du, D. Zhou, J. Feng, V. Y. F. Tan, J. T. Zhou",
              arxiv="2205.14083", version="v3", venue="NeurIPS 2022")


def _config(quick: bool) -> dict:
  del quick  # the same runs; quick mode has fewer seeds
  return {"num_examples": 256, "dim": 10, "width": 16, "num_classes": 3,
          "data_seed": 0, "batch_size": 32, "learning_rate": 0.2, "epochs": 150,
          # SAM's radius: Foret et al.'s default for SGD-trained models [R];
          # SAF's constants from the paper [V].
          "sam_rho": 0.05, "saf_temperature": 5.0, "saf_weight": 0.3,
          "saf_lag_epochs": 3, "saf_start_epoch": 5,
          # Levels every method reaches after SAF's term starts (after
          # epoch 5) and before the end; at higher losses SAF is still SGD.
          "loss_levels": [0.1, 0.03]}


def optimizers(c: dict) -> dict:
  """name -> (transformation, run-loop extra arguments) at config ``c``."""
  lr = c["learning_rate"]
  return {
      "sgd": (algorithms.with_mean_gradient(optax.sgd(lr)), ()),
      "sam": (algorithms.sam(lr, c["sam_rho"]), ("grad_fn",)),
      "saf": (algorithms.saf(
          optax.sgd(lr), num_examples=c["num_examples"],
          num_outputs=c["num_classes"], lag_epochs=c["saf_lag_epochs"],
          steps_per_epoch=c["num_examples"] // c["batch_size"],
          start_epoch=c["saf_start_epoch"], temperature=c["saf_temperature"],
          weight=c["saf_weight"]), ("batch_index", "batch_loss_and_outputs"))}


def _measure(config, seeds):
  """Each run's loss-level crossings; Tr H only at the bracketing records."""
  land = landscapes.mlp_classifier(
      config["num_examples"], config["dim"], config["width"],
      config["num_classes"], seed=config["data_seed"])
  per_epoch = config["num_examples"] // config["batch_size"]
  unravel = ravel_pytree(land.init(jax.random.key(0)))[1]
  trace = jax.jit(lambda flat: jnp.trace(
      theory.dense_hessian(land.objective, unravel(flat))))
  runs = {name: algorithms.run(
      land, opt, list(seeds), steps=config["epochs"] * per_epoch,
      record_every=per_epoch, batch_size=config["batch_size"],
      sampling="shuffle", extra_args=extra, metrics=lambda p, s: {
          "loss": land.objective(p), "flat": ravel_pytree(p)[0]}).seeds()
      for name, (opt, extra) in optimizers(config).items()}
  return [{"diverged_at": int(algorithms.first_divergence(
      [r[i].diverged_at for r in runs.values()])), **{
          name: crossings(r[i].metrics["loss"], config["loss_levels"],
                          lambda j, run=r[i]: trace(run.metrics["flat"][j]))
          for name, r in runs.items()}} for i in range(len(seeds))]


RUNS = Experiment("du2022.flatness_at_equal_loss", _config, _measure,
                  seeds=16, quick_seeds=6)
EQUAL_LOSS = EqualLoss(methods=("sgd", "sam", "saf"), reference="sgd")


def _notes(c, records):
  return (f"{c['epochs']} epochs, one record per epoch; lr "
          f"{c['learning_rate']}, SAM rho {c['sam_rho']}, SAF tau "
          f"{c['saf_temperature']}, lambda {c['saf_weight']}. SAF's term acts "
          f"after epoch {c['saf_start_epoch']}: a level crossed within a few "
          "epochs of that compares SAF in its start-up transient (the paper's "
          "constants were set for 200-epoch runs).")


CLAIMS = SAM_FLATTER, SAF_FLATTER = tuple(Claim(
    id=f"du2022.{method}_flatter_than_sgd_at_equal_loss", paper=PAPER,
    statement=statement, measurement="Largest over loss levels of the mean "
    f"over seeds of log10(Tr H {method.upper()} / Tr H SGD) where each run's "
    "training loss first reaches the level.",
    bound=Bound(
        name=f"log10(TrH_{method} / TrH_SGD) <= 0 at equal loss",
        expression=0, statement_latex=r"\log_{10}\frac{\mathrm{Tr}\,H("
        r"\theta^{\mathrm{" + method.upper() + r"}}_{L=\epsilon})}{\mathrm{Tr}"
        r"\,H(\theta^{\mathrm{SGD}}_{L=\epsilon})} \le 0",
        citation=PAPER.cite(
            "Abstract; Section 5 (flatness of the minima found)",
            "The qualitative claim is in the abstract [V]; the paper measures "
            "sharpness on CIFAR/ImageNet networks, not this synthetic "
            "classifier; Tr H as the flatness measure and the loss levels "
            "are ours.")),
    relation=Relation.LE, experiment=RUNS,
    # Bonferroni-simultaneous Student-t intervals over seeds, level 1 - alpha.
    evidence="statistical",
    evaluate=EQUAL_LOSS.evaluate_below_reference(method, notes=_notes),
    plot=EQUAL_LOSS.plot(colors=dict(zip(EQUAL_LOSS.methods, map(
        figures.PALETTE.get, ("neutral", "measured", "accent"))))))
    for method, statement in (
        ("sam", "SAM reaches flatter minima than SGD: lower Tr H at the same "
         "training loss."),
        ("saf", "SAF reaches flatter minima than SGD, as SAM does, at almost "
         "no extra cost: lower Tr H at the same training loss.")))
