"""Math only: statistics, estimators and the numerics of bounds."""

from boundlab.theory.clipping import clip, clip_factor, clip_per_example
from boundlab.theory.clipping_bias import (clipped_fixed_point,
                                           clipped_inner_products,
                                           expected_clipped_gradient,
                                           symmetric_descent_measure,
                                           symmetrization_bias_terms)
from boundlab.theory.exact_trace import exact_trace, mlp_loss, mlp_outputs
from boundlab.theory.hessian import (dense_hessian, flat_hvp, hvp,
                                     per_example_hessians,
                                     top_eigenvalue_dense)
from boundlab.theory.hutchinson import (DiagonalEstimate, TraceEstimate,
                                        ggn_hutchinson_trace,
                                        hutchinson_diagonal, hutchinson_trace)
from boundlab.theory.linear_probe import linear_probe_accuracy
from boundlab.theory.lanczos import (EigenvalueEstimate,
                                     lanczos_top_eigenvalue,
                                     lanczos_tridiagonal, spectral_density,
                                     top_eigenvalues)
from boundlab.theory.sharpness import (best_local_loss_change,
                                       directional_sharpness, sharpness)
from boundlab.theory.statistics import (abs_interval, accuracy_resolution,
                                        bootstrap_ci,
                                        extreme_mean_ci, mean_ci,
                                        norm_of_mean_ci,
                                        simultaneous_mean_cis,
                                        nan_last_argmin, range_interval,
                                        selection_split, slope_ci)
from boundlab.theory.wasserstein import (assignment_transport_cost,
                                         clipped_direction_wasserstein,
                                         clipped_projection,
                                         w1_lower_confidence_bound_1d,
                                         wasserstein_1)

__all__ = [
    "dense_hessian", "flat_hvp", "hvp", "per_example_hessians",
    "top_eigenvalue_dense", "DiagonalEstimate", "TraceEstimate", "hutchinson_diagonal",
    "hutchinson_trace", "lanczos_tridiagonal", "spectral_density",
    "top_eigenvalues", "best_local_loss_change",
    "directional_sharpness", "linear_probe_accuracy",
    "clip", "clip_factor", "clip_per_example", "clipped_fixed_point",
    "expected_clipped_gradient", "sharpness",
    "clipped_inner_products", "symmetric_descent_measure",
    "symmetrization_bias_terms", "bootstrap_ci", "extreme_mean_ci", "mean_ci",
    "simultaneous_mean_cis", "norm_of_mean_ci",
    "slope_ci", "accuracy_resolution", "selection_split", "nan_last_argmin", "abs_interval", "range_interval",  "assignment_transport_cost", "clipped_direction_wasserstein",
    "clipped_projection", "w1_lower_confidence_bound_1d", "wasserstein_1",
    "exact_trace", "mlp_loss", "mlp_outputs", "ggn_hutchinson_trace",
    "EigenvalueEstimate", "lanczos_top_eigenvalue",
]
