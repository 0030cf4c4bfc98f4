r"""Single-index models with Gaussian inputs.

:math:`x \sim N(0, I_d)`, :math:`y = \sigma(\langle w^\star, x\rangle) +
\varepsilon`, :math:`\varepsilon \sim N(0, s^2)`, a unit student w with the
teacher's link. Losses:

* correlation, :math:`\ell = -y\,\sigma(\langle w, x\rangle)`; population
  :math:`-\sum_j c_j^2 m^j`;
* square, :math:`\ell = \tfrac12(\sigma(\langle w, x\rangle) - y)^2`;
  population :math:`\sum_j c_j^2(1 - m^j) + s^2/2`,

with :math:`m = \langle w, w^\star\rangle` and the Hermite coefficients
:math:`c_j` of :mod:`boundlab.theory.hermite` (so the information exponent
sits beside the functions). The population forms hold for unit w; they are
truncated at degree 12, exact for the polynomial links; for the others the
truncation error is at most the bound of
:func:`boundlab.theory.hermite.truncation_error_bound` (its tail of
:math:`E\sigma^2`; e.g. relu 9.8e-4 for the correlation loss), recorded as
``constants["population_truncation_error"]``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from boundlab import _validation as v
from boundlab.landscapes._landscape import Landscape
from boundlab.landscapes.tensor_pca import random_unit_vector
from boundlab.theory import hermite

LOSSES = ("correlation", "square")
POPULATION_DEGREE = 12


def single_index_model(dim: int, link: str = "he3", loss: str = "correlation",
                       noise_std: float = 0.0, seed: int = 0) -> Landscape:
  """The model above with a hidden direction drawn from ``seed``.

  ``init`` is uniform on the sphere; ``objective`` is the closed-form
  population loss at the normalised parameter.
  """
  d = v.check_size("dim", dim, minimum=2, bytes_per_unit=8,
                   what="one vector")
  if link not in hermite.LINKS:
    raise ValueError(f"link must be one of {hermite.LINKS}, got {link!r}")
  if loss not in LOSSES:
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
  s = v.check_nonnegative("noise_std", noise_std)
  sigma, _ = hermite.link_functions(link)
  w_star = random_unit_vector(v.seed_key(seed), d)

  def sample(key, n):
    k_x, k_eps = jax.random.split(key)
    x = jax.random.normal(k_x, (n, d))
    y = sigma(x @ w_star) + s * jax.random.normal(k_eps, (n,))
    return {"x": x, "y": y}

  def per_example(params, example):
    prediction = sigma(jnp.dot(params, example["x"]))
    if loss == "correlation":
      return -example["y"] * prediction
    return 0.5 * (prediction - example["y"]) ** 2

  # Degree 12 whatever the link: the error is declared in the constants
  # instead of refused (relu's and sign's tails decay too slowly for any
  # practical degree to meet the default tolerance).
  def objective(params):
    m = jnp.dot(params / jnp.linalg.norm(params), w_star)
    if loss == "correlation":
      return hermite.population_correlation_loss(link, m,
                                                 max_degree=POPULATION_DEGREE,
                                                 tolerance=None)
    return hermite.population_square_loss(link, m, s,
                                          max_degree=POPULATION_DEGREE,
                                          tolerance=None)

  return Landscape(
      name=f"single_index_model(d={d},link={link},loss={loss},noise={s})",
      init=lambda key: random_unit_vector(key, d), loss=per_example,
      sample=sample, objective=objective,
      constants={"optimum": w_star,
                 "information_exponent": hermite.information_exponent(link),
                 "hermite_coefficients": hermite.hermite_coefficients(link,
                                                                      6),
                 "population_truncation_error":
                     hermite.truncation_error_bound(
                         link, POPULATION_DEGREE, loss=loss)})
