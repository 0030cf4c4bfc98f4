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
# # Why clipping biases SGD, and how error feedback removes it
#
# Differentially private SGD clips every per-example gradient to norm at most
# $c$ before averaging: $\mathrm{clip}(g, c) = g \min(1, c/\|g\|)$. Clipping
# bounds each example's influence, which is what privacy needs, but it also
# changes *where* SGD converges. This notebook shows the effect on the smallest
# possible example, explains it with Chen, Wu & Hong's geometric picture
# (arXiv 2006.15429), and shows two fixes: perturbing before clipping, and
# DiceSGD's clipped error feedback (Zhang et al., arXiv 2311.14632).
#
# Everything runs on a CPU in a few seconds, with boundlab's public API.

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from boundlab import algorithms, landscapes, theory

jax.config.update("jax_enable_x64", True)

# %% [markdown]
# ## 1. Three data points, one threshold
#
# Take $f(x) = \frac13 \sum_i \tfrac12 (x - a_i)^2$ with $a = (-3, -3, 9)$. The
# minimiser is the mean, $x^\star = 1$. The per-example gradients are
# $x - a_i$. Clipping with $c = 1$ replaces the gradient by
# $\frac13\sum_i \mathrm{clip}(x - a_i, 1)$, which is zero somewhere else.

# %%
points = [-3.0, -3.0, 9.0]
grid = np.linspace(-6, 8, 701)
clipped = theory.expected_clipped_gradient(grid, points, 1.0)
x_bar = theory.clipped_fixed_point(points, 1.0)
print(f"zero of the clipped gradient: {x_bar:.3f}; minimiser x* = {np.mean(points):.3f}")

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(grid, grid - np.mean(points), label="f'(x)")
ax.plot(grid, clipped, label="mean of clipped per-example gradients")
ax.axhline(0, color="gray", lw=0.8)
ax.set_ylim(-4, 4)
ax.legend()
plt.show()

# %% [markdown]
# Clipped gradient descent therefore stops at $\bar x = -2.5$, where the true
# gradient is $f'(\bar x) = -3.5$: a stationary point of the wrong function.

# %%
landscape = landscapes.mean_of_squares(points, init=5.0)
result = algorithms.run(landscape, algorithms.dp_sgd_gc(0.1, 1.0), seeds=[0],
                        steps=1000, record_every=10,
                        metrics=lambda params, state: {"x": params})
print("clipped GD ends at", float(result.final_params[0]))

# %% [markdown]
# ## 2. Why: the noise is not symmetric
#
# Relative to the full gradient, the per-example "noise" is $\{-4, -4, +8\}$:
# skewed. Chen, Wu & Hong measure the damage by the clipping bias
# $b = \mathbb E_{\tilde p}\langle v, \mathrm{clip}(v+\xi)\rangle -
# \mathbb E_{p}\langle v, \mathrm{clip}(v+\xi)\rangle$, comparing the noise law
# $p$ with its symmetrisation $\tilde p$, and bound it by a Wasserstein
# distance: $b \le \|v\| W_{v,c}(\tilde p, p) \le \|v\| W_1(\tilde p, p)$. For
# symmetric noise the bias is zero.

# %%
v, c = jnp.array([0.5, 0.0]), 1.0
h = lambda samples: 0.5 * theory.clipped_projection(v, samples, c)  # <v, clip(v+xi)>
for dist in (landscapes.gaussian(2), landscapes.skewed_mixture(2)):
  xi = np.asarray(dist.sample(jax.random.key(0), 2**13))
  sym = np.asarray(landscapes.symmetrize(dist).sample(jax.random.key(1), 2**13))
  bias = h(sym).mean() - h(xi).mean()
  w_vc = theory.clipped_direction_wasserstein(v, sym, xi, c)
  w_1 = theory.wasserstein_1(sym[:400], xi[:400])
  print(f"{dist.name:55s} b = {bias:+.4f}   ||v|| W_vc = {0.5 * w_vc:.4f}"
        f"   ||v|| W_1 (400 points) = {0.5 * w_1:.4f}")

# %% [markdown]
# For the Gaussian, $b$ is zero up to sampling error. For the skewed mixture
# the first inequality is nearly an equality: along $v$, clipping pushes the
# symmetrised law uniformly above the original one, which is exactly when the
# coupling bound is attained. $W_1$ ignores clipping and is much looser.

# %% [markdown]
# ## 3. Fix 1: perturb before clipping
#
# Adding $k\,\zeta_i$, $\zeta_i\sim N(0, I)$, to every per-example gradient
# before clipping makes clipping nearly linear when $k \gg c$: the bias shrinks,
# the variance grows. (The step is divided by the gain of perturbed clipping at
# the optimum so that each $k$ moves at the same speed.)

# %%
for k in (0.0, 3.0, 10.0):
  eta = 0.02 / algorithms.perturbation_gain_1d(1.0, k)
  run = algorithms.run(
      landscapes.mean_of_squares(points, init=1.0),
      lambda key, eta=eta, k=k: algorithms.perturbed_clipped_sgd(eta, 1.0, k, key=key),
      seeds=[0, 1, 2, 3], steps=20_000, record_every=1000,
      step_metrics=lambda x, key: {"x": x})
  tail = run.window_average("x", 10_000)
  print(f"k = {k:4.1f}: tail average {tail.mean():+.3f} (x* = 1)")

# %% [markdown]
# ## 4. Fix 2: error feedback (DiceSGD)
#
# DiceSGD keeps what clipping removed in a hidden error $e^t$ and feeds it back
# through a second clipped channel:
# $v^t = \frac1B\sum_i \mathrm{clip}(g_i^t, C_1) + \mathrm{clip}(e^t, C_2)$,
# $x^{t+1} = x^t - \eta (v^t + w^t)$,
# $e^{t+1} = e^t + \frac1B \sum_i g_i^t - v^t$. At a fixed point the
# *unclipped* mean gradient must vanish, whatever $C_1$ is.

# %%
for c1 in (0.1, 1.0):
  run = algorithms.run(
      landscapes.mean_of_squares(points, init=2.0),
      algorithms.dice_sgd(0.5, c1, c1), seeds=[0], steps=20_000,
      record_every=1000, metrics=lambda p, s: {"x": p, "e": s[0].error})
  print(f"C1 = {c1}: x_T = {run.metrics['x'][0, -1]:.4f}, "
        f"e_T = {run.metrics['e'][0, -1]:+.4f} (= -C1/3: the clipped part it repays)")

# %% [markdown]
# ## 5. The same, as checkable claims
#
# boundlab packages each statement as a claim with a citation, a measurement
# over seeds and a verdict. `boundlab verify --only stall` runs this one from
# the shell; here through the Python API.

# %%
import tempfile

from boundlab import claims
from boundlab.claims import runner

with tempfile.TemporaryDirectory() as out:
  (run,) = runner.run_claims([claims.get_claim("chen2020.stall_fixed_point")],
                             out, quick=True, figures=False)
  v = run.verdict
  print(v.claim_id, v.outcome.value, f"measured {v.measured:.6f}",
        f"bound {v.bound:.6f}", f"interval {v.ci}")
