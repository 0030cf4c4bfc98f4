"""Reference optimizers as optax transformations, and the run loop."""

from boundlab.algorithms.aggregation import (mean_aggregate,
                                             with_batch_gradient,
                                             with_mean_gradient)
from boundlab.algorithms.clipping import (clip, clip_per_example,
                                          clipped_mean)
from boundlab.algorithms.compressors import (Compressor, rand_k, scaled_sign,
                                              top_k)
from boundlab.algorithms.coordinate_clipping import (
    coordinate_clip, coordinate_clip_threshold)
from boundlab.algorithms.dice_sgd import DiceState, dice_aggregate, dice_sgd
from boundlab.algorithms.dp_sgd import dp_sgd_gc
from boundlab.algorithms.error_feedback import (EF21Run, EF21State, ef21_init,
                                                ef21_step, run_ef21)
from boundlab.algorithms.onebit_adam import run_adam, simulate_onebit_adam
from boundlab.algorithms.momentum import max_stable_sharpness
from boundlab.algorithms.radial_projection import (adamp, project_out_radial,
                                                   sgdp)
from boundlab.algorithms.perturbed_clipping import (perturbation_gain_1d,
                                                    perturbed_clip_aggregate,
                                                    perturbed_clipped_sgd)
from boundlab.algorithms.run_loop import RunResult, first_divergence, run, seed_keys
from boundlab.algorithms.sharpness_aware import sam, saf, trajectory_kl

__all__ = [
    "mean_aggregate", "with_mean_gradient", "with_batch_gradient", "coordinate_clip",
    "coordinate_clip_threshold",
    "clip", "clip_per_example", "clipped_mean", "DiceState", "dice_aggregate",
    "dice_sgd", "dp_sgd_gc", "max_stable_sharpness", "project_out_radial", "sgdp", "adamp", "perturbation_gain_1d", "perturbed_clip_aggregate",
    "perturbed_clipped_sgd", "RunResult", "first_divergence", "run", "seed_keys",
    "sam", "saf", "trajectory_kl", "Compressor", "top_k", "rand_k",
    "scaled_sign", "EF21Run", "EF21State", "ef21_init", "ef21_step",
    "run_ef21", "run_adam", "simulate_onebit_adam",
]
