# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Information exponents, and why averaging helps
#
# To find a hidden direction $v \in S^{d-1}$ by gradient methods, the
# *information exponent* $k^\star$ of the problem sets the price: online SGD
# needs $n \sim d^{k^\star - 1}$ samples (Ben Arous, Gheissari & Jagannath,
# arXiv 2003.10409), while smoothing the landscape (Damian et al., arXiv
# 2305.10633) or averaging the iterates of noisy dynamics (Wei, Damian & Lee,
# arXiv 2603.06028) reaches $d^{k^\star/2}$. This notebook computes $k^\star$
# from exact Hermite coefficients, measures escape times with boundlab's exact
# O(1) overlap chains, draws a small phase diagram and looks at what iterate
# averaging does to Langevin dynamics. It runs on a CPU in under a minute;
# exercises with worked solutions are at the end.

# %%
import functools

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from boundlab.algorithms.langevin import spherical_langevin, symmetrize
from boundlab.algorithms.spherical_sgd import (online_step_size,
                                               single_index_overlap_chain,
                                               smoothed_polynomial_link,
                                               tensor_pca_overlap_chain)
from boundlab.landscapes.tensor_pca import SpikedTensor
from boundlab.theory import hermite
from boundlab.theory.phase_diagram import (fit_exponent,
                                           threshold_from_first_passage)

jax.config.update("jax_enable_x64", True)

# %% [markdown]
# ## 1. Hermite coefficients and the information exponent
#
# Write the link as $\sigma = \sum_j c_j h_j$ with orthonormal Hermite
# polynomials $h_j = He_j/\sqrt{j!}$. Near the equator $m = \langle w,
# w^\star\rangle \approx 0$ the population loss is $\mathrm{const} -
# c_{k^\star}^2 m^{k^\star}$: the first non-zero coefficient (beyond $c_0$)
# decides how flat the start is. boundlab computes the coefficients exactly
# with sympy (tanh with 30-digit quadrature).

# %%
coefficient_table = {}
for link in hermite.LINKS:
  coefficients = hermite.hermite_coefficients(link, 6)
  coefficient_table[link] = coefficients
  print(f"{link:5s} k* = {hermite.information_exponent(link)}   c_0..c_6 = "
        + " ".join(f"{c:+.4f}" for c in coefficients))

# %% [markdown]
# The same numbers as pictures. Left: $|c_j|$ per link; the first bright cell
# right of column 0 is $k^\star$. Right: how much the population correlation
# loss $-\sum_j c_j^2 m^j$ has dropped at overlap m (truncated at degree 6:
# exact for the $He_k$ links; for relu and abs the dropped terms are at most
# 3% of the drop, at m = 1, invisible on these axes). On log-log axes the
# small-m slope
# $k^\star$: a flatter start (larger slope) means a weaker pull away from
# the equator $m \approx d^{-1/2}$.

# %%
overlaps = np.geomspace(1e-3, 1, 60)
fig, (ax_coef, ax_loss) = plt.subplots(1, 2, figsize=(9, 3.4))
image = ax_coef.imshow(np.abs(np.array(list(coefficient_table.values()))),
                       cmap="viridis", aspect="auto")
ax_coef.set_xticks(range(7))
ax_coef.set_yticks(range(len(hermite.LINKS)), hermite.LINKS)
ax_coef.set_xlabel("Hermite degree j")
ax_coef.set_ylabel("link σ")
ax_coef.set_title("|c_j| (exact)")
fig.colorbar(image, ax=ax_coef)
for link in ("relu", "abs", "he3", "he4"):
  # Degree 6 is exact for he3/he4; for relu and abs the dropped degrees
  # change the curve by at most hermite.truncation_error_bound(link, 6,
  # "correlation"), so the check is switched off knowingly.
  loss_drop = (hermite.population_correlation_loss(
      link, 0.0, max_degree=6, tolerance=None)
               - hermite.population_correlation_loss(
                   link, overlaps, max_degree=6, tolerance=None))
  ax_loss.loglog(overlaps, loss_drop,
                 label=f"{link} (k* = {hermite.information_exponent(link)})")
ax_loss.set_xlabel("overlap m = ⟨w, w*⟩")
ax_loss.set_ylabel("L(0) − L(m)  (correlation loss)")
ax_loss.set_title("flatness at the equator")
ax_loss.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Escape from the equator: online SGD needs $d^{k-1}$ steps
#
# For order-3 tensor PCA the overlap of spherical online SGD is an exact
# Markov chain that costs O(1) per step whatever d is. With step size
# $\eta = 0.5\,d^{-3/2}$ the median escape time should grow like $d^2$.

# %%
# dim, learning_rate and max_steps may be traced, so one compilation serves
# every d (same numbers as separate calls, a fraction of the time); order and
# num_chains fix the loop's shapes and stay static.
@functools.partial(jax.jit, static_argnames=("order", "num_chains"))
def tensor_pca_escape(key, dim, learning_rate, max_steps, *, order,
                      num_chains=128):
  return tensor_pca_overlap_chain(key, dim=dim, order=order, snr=1.0,
                                  learning_rate=learning_rate,
                                  num_chains=num_chains, max_steps=max_steps)


dims = [16, 32, 64, 128]
medians = []
escape_times = {}
for d in dims:
  tau, _ = tensor_pca_escape(jax.random.key(d), d, online_step_size(d, 3),
                             8 * d * d, order=3)
  tau = np.asarray(tau)
  escape_times[d] = tau
  # A chain that never reached m = 0.5 (tau = -1) counts as infinitely slow.
  medians.append(np.median(np.where(tau > 0, tau, np.inf)))
slopes = np.diff(np.log(medians)) / np.diff(np.log(dims))
print("median escape steps / d^2:", np.round(np.array(medians) / np.square(dims), 2))
print("local slopes:", np.round(slopes, 2), "(theory: 2)")

# %% [markdown]
# Left: the medians against d with a $d^2$ line through the first point.
# Right: the whole distribution of escape times, rescaled by $d^2$. If $d^2$
# is the right clock the four curves fall on top of each other (a *data
# collapse*); the chains that never escaped within $8d^2$ steps keep the
# curves below 1.

# %%
fig, (ax_median, ax_cdf) = plt.subplots(1, 2, figsize=(9, 3.4))
ax_median.loglog(dims, medians, "o-", label="median escape time")
ax_median.loglog(dims, medians[0] * (np.array(dims) / dims[0]) ** 2, "k--",
                 label="∝ d² (theory)")
ax_median.set_xticks(dims, [str(d) for d in dims])
ax_median.set_xticks([], minor=True)
ax_median.set_xlabel("dimension d")
ax_median.set_ylabel("steps (= samples) to reach m = 0.5")
ax_median.set_title("escape time, order-3 tensor PCA")
ax_median.legend(fontsize=8)
for d, tau in escape_times.items():
  passed = np.sort(tau[tau > 0]) / d**2
  ax_cdf.step(passed, np.arange(1, passed.size + 1) / tau.size, where="post",
              label=f"d = {d}")
ax_cdf.set_xscale("log")
ax_cdf.set_xlabel("escape time / d²")
ax_cdf.set_ylabel("fraction of chains escaped")
ax_cdf.set_title("rescaled distributions collapse")
ax_cdf.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. A small phase diagram: smoothing lowers the exponent
#
# Single-index model with link $He_3/\sqrt6$ ($k^\star = 3$), correlation
# loss. Plain online SGD ($\eta = 0.5\,d^{-3/2}$) against online SGD on the
# smoothed loss with $\lambda = d^{1/4}$ (exact for a polynomial link,
# $\eta = 2 d^{-1/2}/\log d$). Success within n samples is the first passage
# of $m \ge 0.5$ by step n; a logistic fit per d gives $n_{1/2}(d)$ and the
# exponent is the slope of $\log n_{1/2}$ on $\log d$. (At these small d the
# fits carry finite-size and log corrections; the full GPU runs to d = 4096
# are in `benchmarks/results/phase_diagrams_h100/`.)

# %%
sigma, dsigma = hermite.link_functions("he3")
coefficients = hermite.polynomial_coefficients("he3")


# As in section 2, one compilation per method serves every d; the smoothing
# radius is traced too (the exercises vary it).
@functools.partial(jax.jit, static_argnames=("smoothed", "num_chains"))
def he3_escape(key, dim, learning_rate, max_steps, smoothing=0.0, *,
               smoothed, num_chains=96):
  student = (smoothed_polynomial_link(coefficients, dim, smoothing)
             if smoothed else None)
  return single_index_overlap_chain(
      key, dim=dim, link=sigma, link_derivative=dsigma, noise_std=0.0,
      learning_rate=learning_rate, num_chains=num_chains,
      max_steps=max_steps, student_gradient=student)


dims = [16, 32, 64]
fits = {"online SGD": [], "smoothed SGD": []}
success_curves = {"online SGD": {}, "smoothed SGD": {}}
for name in fits:
  for d in dims:
    smoothed = name == "smoothed SGD"
    eta = 2 * d**-0.5 / np.log(d) if smoothed else online_step_size(d, 3)
    tau, _ = he3_escape(jax.random.key(d), d, eta, 20 * d * d,
                        smoothing=d**0.25, smoothed=smoothed)
    tau = np.asarray(tau)
    sizes = np.geomspace(0.02, 8, 12) * d**2
    fits[name].append(threshold_from_first_passage(d, tau, sizes,
                                                   num_bootstrap=100))
    success_curves[name][d] = (sizes, [np.mean((tau > 0) & (tau <= n))
                                       for n in sizes])
exponents = {name: fit_exponent(rows) for name, rows in fits.items()}
for name, exponent in exponents.items():
  print(f"{name}: exponent {exponent.alpha:.2f}, 95% CI "
        f"[{exponent.ci[0]:.2f}, {exponent.ci[1]:.2f}]")

# %% [markdown]
# Left and middle: the success probability within n samples, per d. Right:
# the fitted thresholds $n_{1/2}(d)$ (bars: 95% bootstrap intervals over
# seeds) and the weighted least-squares lines whose slopes are the exponents
# printed above.

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
for name, ax in zip(success_curves, axes):
  for d, (sizes, fractions) in success_curves[name].items():
    ax.plot(sizes / d**2, fractions, "o-", ms=3, label=f"d = {d}")
  ax.set_xscale("log")
  ax.set_xlabel("samples n / d²")
  ax.set_ylabel("P(m reaches 0.5 within n)")
  ax.set_title(name)
  ax.legend(fontsize=7)
ax_threshold = axes[2]
for name, rows in fits.items():
  dims_fit = np.array([row.dim for row in rows])
  centers = np.exp([row.log_threshold for row in rows])
  low, high = np.exp(np.nanquantile(np.stack([row.bootstrap for row in rows]),
                                    [0.025, 0.975], axis=1))
  bars = ax_threshold.errorbar(dims_fit, centers,
                               yerr=[centers - low, high - centers],
                               fmt="o", capsize=3, label=name)
  exponent = exponents[name]
  ax_threshold.plot(dims_fit, np.exp(exponent.intercept) * dims_fit
                    ** exponent.alpha, "--", color=bars[0].get_color(),
                    label=f"fit: d^{exponent.alpha:.2f}")
ax_threshold.set_xscale("log")
ax_threshold.set_yscale("log")
ax_threshold.set_xticks(dims, [str(d) for d in dims])
ax_threshold.set_xticks([], minor=True)
ax_threshold.set_xlabel("dimension d")
ax_threshold.set_ylabel("threshold n_1/2 (samples)")
ax_threshold.set_title("fitted exponents")
ax_threshold.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# At d <= 64 the two fitted exponents are close: finite-size effects and the
# smoothing's log factors dominate this small a range. The H100 runs over
# d = 64..4096 (64 seeds per d) separate them: plain online SGD 1.98
# [1.91, 2.06], smoothed SGD 1.68 [1.66, 1.69], and 1.49 [1.29, 1.69] once a
# log log d term absorbs the polylog -- the $d^{3/2}$ of the theory.
#
# ## 4. What averaging does to Langevin dynamics
#
# On a *fixed* data set (the averaged tensor $\bar T = v^{\otimes 3} +
# W/\sqrt n$), Langevin dynamics at inverse temperature $\beta$ samples
# around the landscape's good region but keeps fluctuating: its last iterate
# carries thermal noise. Averaging a window of iterates removes it. Wei,
# Damian & Lee go further: the average tracks a *smoothed* landscape. As a
# summary of their paper reads it [R], the average *alone* succeeds at
# $n \gtrsim d^{\lceil k/2\rceil}$ ($d^2$ at k = 3), and the $d^{k/2}$ rate
# needs a warm start from the average followed by online SGD; the claims
# `wei2026.langevin_average_exponent` and `wei2026.two_stage_exponent`
# measure both on the noise-dominated SDE that summary describes (full mode
# on an H200, d = 8..48: 2.18 [2.01, 2.38] and 1.95 [1.83, 2.11]). Here we
# only look at one run of the low-temperature schedule: overlap of the last
# iterate and of the window average, at d = 48 and $n = 4 d^{3/2}$.

# %%
# Compiled once per (steps, averaging window): the runs below differ only in
# traced arguments (data, starts, noise key, step size, temperature).
fast_langevin = jax.jit(spherical_langevin,
                        static_argnames=("steps", "average_from"))


def langevin_overlaps(d, n, beta, *, steps=4000, average_from=2000, seed=0,
                      num_chains=16):
  """Per-chain overlaps <x, v> of the last iterate and of the window average.

  One data set (tensor of order 3 from n samples) shared by all chains;
  starts uniform on the sphere, flipped into the hemisphere m > 0.
  """
  model = SpikedTensor(d, 3)
  k_spike, k_data, k_start, k_noise = jax.random.split(jax.random.key(seed), 4)
  spike = model.spike(k_spike)
  tensor = symmetrize(model.averaged_tensor(k_data, spike, n))
  x0 = jax.random.normal(k_start, (num_chains, d))
  x0 = x0 / jnp.linalg.norm(x0, axis=1, keepdims=True)
  x0 = x0 * jnp.sign(x0 @ spike)[:, None]
  # The step shrinks with the temperature (beta / d) and with the noise
  # operator norm of W/sqrt(n) (~ sqrt(d / n)), so that one step stays small.
  eta = 0.05 * min(beta / d, 1 / (3 * np.sqrt(3 * d / n) + 3))
  last, average = fast_langevin(tensor, x0, k_noise, learning_rate=eta,
                                inverse_temperature=beta, steps=steps,
                                average_from=average_from)
  return np.asarray(last @ spike), np.asarray(average @ spike)


d, n, beta = 48, int(4 * 48**1.5), 48.0
last_overlap, average_overlap = langevin_overlaps(d, n, beta)
print("median overlap, last iterate:  ", float(np.median(last_overlap)))
print("median overlap, window average:", float(np.median(average_overlap)))
print("chains improved by averaging:",
      f"{np.sum(average_overlap > last_overlap)} of {last_overlap.size}")

# %% [markdown]
# Chain by chain: each point is one of the 16 chains, the last iterate's
# overlap on x and the window average's on y. Points above the diagonal are
# chains that averaging improved: 15 of the 16. The one below ends with a
# good last iterate but a worse average -- a window average is only as good
# as where the chain spent the whole window, not just its end.

# %%
fig, ax = plt.subplots(figsize=(4.2, 4))
ax.plot([-1, 1], [-1, 1], "k--", lw=1, label="no gain (y = x)")
ax.plot(last_overlap, average_overlap, "o", label="one chain")
ax.set_xlim(-0.1, 1.02)
ax.set_ylim(-0.1, 1.02)
ax.set_xlabel("overlap of last iterate ⟨x_T, v⟩")
ax.set_ylabel("overlap of window average ⟨x̄, v⟩")
ax.set_title(f"Langevin, d = {d}, n = {n}, β = {beta:g}")
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %% [markdown]
# For all but one chain the window average sits much closer to $v$ than the
# last iterate of the same chain. Whether that gain turns into a better
# *exponent* is what the wei2026 phase diagrams measure; at the sizes an
# SDE with $d^4$ steps allows, neither estimator shows $d^{3/2}$ yet.
#
# ## Exercises
#
# **Try this 1.** (Information exponent.) Rerun section 2 with order-2
# tensor PCA (a spiked matrix, $k^\star = 2$) and its step
# `online_step_size(d, 2)` $= 0.5/d$, for d = 16, 64, 256 and a budget of
# $20\, d\ln d$ steps.
# *Expected:* the median escape time grows like $d \log d$, not $d^2$:
# median / (d ln d) stays at about 0.6 at all three d, and the local slopes
# are about 1.25 -- exactly what $d\ln d$ gives over this range,
# $\log\big(\tfrac{256\ln 256}{16\ln 16}\big)/\log 16 = 1.25$. About 15% of
# the chains never reach m = 0.5: for even order the loss is symmetric under
# $v \to -v$, and those chains went to $-v$ instead (every one of them ends
# below m = -0.7), which the first-passage event does not count.
#
# **Try this 2.** (Smoothing radius.) At d = 64 keep the smoothed run's step
# $\eta = 2 d^{-1/2}/\log d$ of section 3 and vary the smoothing radius
# $\lambda \in \{0, d^{1/4}, d^{1/2}\}$ (128 chains, budget $4d^2$).
# *Expected:* $\lambda = d^{1/4}$ is the fastest, median about $0.14\,d^2$.
# With $\lambda = 0$ the same large step is several times slower (median
# near $0.85\,d^2$; a few per cent of the chains not even within $4d^2$) and
# the escape times spread far wider: the $He_3$ drift $\propto m^2$ vanishes at
# the equator, and smoothing is what adds a term linear in m. Over-smoothing,
# $\lambda = d^{1/2}$, is slower again (about $0.5\,d^2$), in part because
# the smoothed linear term's prefactor $3\lambda^2/(d(1+\lambda^2)^{3/2})$
# (from the expansion of Damian et al.'s smoothed loss) decays like
# $1/\lambda$ once $\lambda \gg 1$: 2.4 times smaller at $\lambda = 8$ than
# at $\lambda = 2.83$.
#
# **Try this 3.** (Averaging window.) In section 4 shrink the averaging
# window from the last 2000 steps to the last 100 and the last 10
# (`average_from=3900`, `3990`).
# *Expected:* the averaged overlap falls monotonically towards the last
# iterate's 0.74 (about 0.85 for 100 steps, 0.76 for 10): a short window
# averages too few independent thermal fluctuations.
#
# **Try this 4.** (Temperature.) Rerun section 4 colder, $\beta = 192$, and
# hotter, $\beta = 12$.
# (The step size is practically the same in all three runs: the bound from
# the noise $\sqrt{d/n}$, not $\beta/d$, sets it.)
# *Expected:* cold, the last iterate is already good (about 0.95) and
# averaging adds little (about 0.99): less thermal noise to remove. Hot, the
# chains do not find $v$ in 4000 steps (median last-iterate overlap near 0,
# the average's below 0.2): averaging removes the fluctuations around the
# region a chain is in; it cannot find a region the dynamics did not reach.
#
# ### Solutions

# %%
# Try this 1: order 2. The chain stops early only once every chain passed,
# and chains heading to -v never do, so the budget sets the cost here.
order2_dims = [16, 64, 256]
order2_medians = []
for d in order2_dims:
  tau, final_overlap = tensor_pca_escape(
      jax.random.key(d), d, online_step_size(d, 2), int(20 * d * np.log(d)),
      order=2)
  tau, final_overlap = np.asarray(tau), np.asarray(final_overlap)
  order2_medians.append(np.median(np.where(tau > 0, tau, np.inf)))
  print(f"d = {d:3d}: median / (d ln d) = "
        f"{order2_medians[-1] / (d * np.log(d)):.2f}, "
        f"median / d^2 = {order2_medians[-1] / d**2:.3f}, "
        f"never escaped: {np.mean(tau < 0):.0%} "
        f"(their final m: at most {np.max(final_overlap[tau < 0]):+.2f})")
print("local slopes:", np.round(np.diff(np.log(order2_medians))
                                / np.diff(np.log(order2_dims)), 2))

# %%
# Try this 2: the smoothing radius at fixed d and fixed (large) step.
d = 64
radius_names = {"λ = 0": 0.0, "λ = d^(1/4)": d**0.25, "λ = d^(1/2)": d**0.5}
fig, ax = plt.subplots(figsize=(5, 3.4))
for label, radius in radius_names.items():
  tau, _ = he3_escape(jax.random.key(d), d, 2 * d**-0.5 / np.log(d),
                      4 * d * d, smoothing=radius, smoothed=True,
                      num_chains=128)
  tau = np.asarray(tau)
  quartiles = np.quantile(np.where(tau > 0, tau, np.inf), [0.25, 0.5, 0.75])
  print(f"{label:12s} escaped: {np.mean(tau > 0):.0%}, quartiles / d^2: "
        + " ".join(f"{q:.2f}" for q in quartiles / d**2))
  passed = np.sort(tau[tau > 0]) / d**2
  ax.step(passed, np.arange(1, passed.size + 1) / tau.size, where="post",
          label=label)
ax.set_xscale("log")
ax.set_xlabel("escape time / d²  (samples)")
ax.set_ylabel("fraction of chains escaped")
ax.set_title(f"He3 link, d = {d}, η = 2 d^(-1/2) / log d")
ax.legend(fontsize=8)
plt.show()

# %%
# Try this 3: shorter averaging windows on the same data, starts and noise.
d, n, beta = 48, int(4 * 48**1.5), 48.0
print(f"last iterate: median overlap {np.median(last_overlap):.3f}")
for window in (2000, 100, 10):
  if window == 2000:
    averaged = average_overlap            # section 4's run
  else:
    _, averaged = langevin_overlaps(d, n, beta, average_from=4000 - window)
  print(f"window of the last {window:4d} steps: median overlap "
        f"{np.median(averaged):.3f}")

# %%
# Try this 4: colder and hotter than section 4's beta = 48.
for beta in (192.0, 48.0, 12.0):
  if beta == 48.0:
    last, averaged = last_overlap, average_overlap
  else:
    last, averaged = langevin_overlaps(d, n, beta)
  print(f"beta = {beta:5.0f}: median overlap, last {np.median(last):+.3f}, "
        f"window average {np.median(averaged):+.3f}")
