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
# # Sharpness, stability and the edge of stability
#
# A step of gradient descent on a quadratic with curvature $\lambda$
# multiplies the error by $1 - \eta\lambda$: it diverges when
# $\lambda > 2/\eta$. So GD can only *settle* in minima no sharper than
# $2/\eta$. This notebook measures that with boundlab's curvature toolkit, then
# shows two consequences: GD trains at the *edge of stability* (Cohen et al.,
# arXiv 2103.00065), and SGD with batch size 1 is constrained much more
# strongly, through the *trace* of the Hessian (Wu & Su, arXiv 2305.17490).
# It runs on a CPU in well under a minute.

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

from boundlab import algorithms, landscapes, theory

jax.config.update("jax_enable_x64", True)

# %% [markdown]
# ## 1. Measuring curvature without forming the Hessian
#
# A Hessian-vector product costs about two gradients. Lanczos turns a few of
# them into the top eigenvalue; Hutchinson's estimator turns random probes into
# the trace. On a small network we can check both against the dense Hessian.

# %%
net = landscapes.chebyshev_regression(degree=3)
params = net.init(jax.random.key(0))
matvec, dim = theory.flat_hvp(net.objective, params)
dense = np.asarray(theory.dense_hessian(net.objective, params))
top = theory.top_eigenvalues(matvec, dim, k=1, num_iters=30)
trace = theory.hutchinson_trace(matvec, dim, num_probes=200)
print(f"{dim} parameters")
print(f"lambda_max: Lanczos {float(top[0]):.6f}   dense {np.linalg.eigvalsh(dense)[-1]:.6f}")
print(f"trace: Hutchinson {trace.mean:.3f}  95% CI [{trace.ci[0]:.3f}, {trace.ci[1]:.3f}]"
      f"   dense {np.trace(dense):.3f}")

# %% [markdown]
# ## 2. GD settles only in minima flatter than $2/\eta$
#
# $L(x, y) = \tfrac12(xy-1)^2$ has a whole curve of minima $xy = 1$, with
# sharpness $x^2 + 1/x^2$ anywhere from 2 to infinity. Started at random, GD
# with a large step still converges, but only to the flat part of the curve.

# %%
toy = landscapes.product_toy()
for eta in (0.1, 0.5, 0.8):
  run = algorithms.run(toy, algorithms.with_mean_gradient(optax.sgd(eta)),
                       seeds=list(range(32)), steps=3000, record_every=3000)
  final = jnp.asarray(run.final_params)
  loss = np.asarray(jax.vmap(toy.objective)(final))
  sharp = np.asarray(jax.vmap(lambda p: theory.top_eigenvalue_dense(
      theory.dense_hessian(toy.objective, p)))(final))
  ok = loss < 1e-16
  print(f"eta = {eta}: {ok.sum():2d}/32 converged, sharpest limit "
        f"{sharp[ok].max():.3f} <= 2/eta = {2 / eta:.3f}; "
        f"{int(run.diverged.sum())} diverged")

# %% [markdown]
# ## 3. The edge of stability
#
# On a real (small) network the sharpness is not fixed: during GD it *rises*
# (progressive sharpening) until it reaches $2/\eta$, then hovers there while
# the loss keeps falling, non-monotonically. The run loop computes the top
# eigenvalue on device every 50 steps.

# %%
eta = 0.2
run = algorithms.run(
    net, algorithms.with_mean_gradient(optax.sgd(eta)), seeds=[0],
    steps=4000, record_every=50,
    metrics=lambda p, s: {"sharpness": theory.sharpness(net.objective, p),
                          "loss": net.objective(p)})
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3))
ax1.plot(run.record_steps, run.metrics["sharpness"][0])
ax1.axhline(2 / eta, color="C3", linestyle="--", label="2/eta")
ax1.set_xlabel("step")
ax1.set_ylabel("lambda_max")
ax1.legend()
ax2.semilogy(run.record_steps, run.metrics["loss"][0])
ax2.set_xlabel("step")
ax2.set_ylabel("loss")
plt.show()
late = run.metrics["sharpness"][0][run.record_steps > 2000]
print(f"late sharpness / (2/eta): min {late.min() * eta / 2:.3f}, "
      f"max {late.max() * eta / 2:.3f}")

# %% [markdown]
# ## 4. SGD constrains the trace, GD only the top eigenvalue
#
# For square loss at an interpolating minimum, linear stability of SGD with
# batch size 1 forces $\mathrm{Tr}\,H \le 2/\eta$, while GD only needs
# $\lambda_{\max} \le 2/\eta$. On a diagonal linear network
# $\beta = u \odot v$ with $\pm 1$ features the trace is
# $\|u\|^2 + \|v\|^2 \ge 2\|\beta\|_1$: SGD's minima are sparse-ish, GD's need
# not be.

# %%
dln = landscapes.diagonal_linear_network()
for eta in (0.05, 0.15):
  for name, batch in (("SGD (B=1)", 1), ("GD", None)):
    run = algorithms.run(dln, algorithms.with_mean_gradient(optax.sgd(eta)),
                         seeds=list(range(4)), steps=20_000,
                         record_every=20_000, batch_size=batch)
    traces = [float(jnp.trace(theory.dense_hessian(
        dln.objective, jax.tree.map(lambda a: a[i], run.final_params))))
        for i in range(4)]
    print(f"eta = {eta}, {name:9s}: eta * Tr H / 2 = "
          + ", ".join(f"{t * eta / 2:.2f}" for t in traces))

# %% [markdown]
# The same checks, with seeds, intervals and verdicts, are claims:
# `boundlab verify --only "cohen2021|wusu2023"`.
