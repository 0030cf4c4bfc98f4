"""Synthetic problems as pure JAX functions, with their known constants."""

from boundlab.landscapes._landscape import Landscape, finite_sum
from boundlab.landscapes.distributed import (DistributedFiniteSum,
                                             distributed_logistic_regression,
                                             federated_quadratics,
                                             heterogeneous_quadratics,
                                             label_skewed_logistic_regression)
from boundlab.landscapes.feature_noise import (feature_noise_classification,
                                               feature_overlaps, margins,
                                               two_layer_cnn)
from boundlab.landscapes.gradient_noise import (
    NoiseDistribution, diagonal_gaussian, gaussian, laplace,
    one_sided_heavy_tail, skewed_mixture, symmetric_mixture, symmetrize,
    zero_noise)
from boundlab.landscapes.logistic import skewed_logistic_regression
from boundlab.landscapes.networks import (chebyshev_regression,
                                          deep_linear_network,
                                          diagonal_linear_network,
                                          mlp_classifier,
                                          signed_square_diagonal_network,
                                          sparse_sign_task,
                                          two_layer_relu_regression)
from boundlab.landscapes.quadratic import (diagonal_quadratic_sum,
                                           ill_conditioned_quadratic,
                                           mean_of_squares, noisy_quadratic)
from boundlab.landscapes.regression import (canary_absent, linear_regression,
                                            with_gradient_canary,
                                            with_label_noise)
from boundlab.landscapes.single_index import single_index_model
from boundlab.landscapes.tensor_pca import SpikedTensor
from boundlab.landscapes.toys import (heterogeneous_curvature_toy,
                                      product_toy, scale_invariant_regression)

__all__ = [
    "Landscape", "finite_sum", "NoiseDistribution", "gaussian", "laplace",
    "one_sided_heavy_tail", "skewed_mixture", "symmetric_mixture", "symmetrize",
    "zero_noise", "diagonal_quadratic_sum",
    "skewed_logistic_regression", "mean_of_squares", "noisy_quadratic",
    "product_toy", "chebyshev_regression", "diagonal_linear_network",
    "scale_invariant_regression", "signed_square_diagonal_network",
    "mlp_classifier", "heterogeneous_curvature_toy", "two_layer_relu_regression",
    "deep_linear_network", "single_index_model", "SpikedTensor",
    "linear_regression", "with_gradient_canary", "canary_absent",
    "ill_conditioned_quadratic", "diagonal_gaussian", "sparse_sign_task",
    "with_label_noise",
    "feature_noise_classification", "feature_overlaps", "margins",
    "two_layer_cnn", "DistributedFiniteSum", "heterogeneous_quadratics",
    "distributed_logistic_regression", "federated_quadratics",
    "label_skewed_logistic_regression",
]
