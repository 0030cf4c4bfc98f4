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
# It runs on a CPU in well under a minute; exercises with solutions are at the
# end.

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
# Compiled once: eagerly, jax.hessian dispatches thousands of small ops.
dense_hessian = jax.jit(theory.dense_hessian, static_argnums=0)
dense = np.asarray(dense_hessian(net.objective, params))
dense_eigenvalues = np.linalg.eigvalsh(dense)
top = theory.top_eigenvalues(matvec, dim, k=1, num_iters=30)
trace = theory.hutchinson_trace(matvec, dim, num_probes=200)
print(f"{dim} parameters")
print(f"lambda_max: Lanczos {float(top[0]):.6f}   dense {dense_eigenvalues[-1]:.6f}")
print(f"trace: Hutchinson {trace.mean:.3f}  95% CI [{trace.ci[0]:.3f}, {trace.ci[1]:.3f}]"
      f"   dense {np.trace(dense):.3f}")

# %% [markdown]
# How fast do the two estimators get there? Lanczos after $j$ steps has seen
# the Krylov space of $j$ matvecs; its top Ritz value is the top eigenvalue of
# the leading $j \times j$ block of the tridiagonal matrix, so one run gives the
# whole convergence curve. Power iteration from the same start, with the same
# matvecs, only contracts by $\lambda_2/\lambda_1$ per step (here
# $2.53/2.94 \approx 0.86$). Hutchinson's running mean is an average of i.i.d.
# probes: its interval shrinks like $1/\sqrt{\text{probes}}$.

# %%
num_matvecs = 30
# top_eigenvalues' default start vector, so the curve ends at the value above.
start = jax.random.normal(jax.random.key(0), (dim,))
tridiagonal, _ = theory.lanczos_tridiagonal(matvec, start, num_matvecs)
tridiagonal = np.asarray(tridiagonal)
lanczos_estimates = [np.linalg.eigvalsh(tridiagonal[:j, :j])[-1]
                     for j in range(1, num_matvecs + 1)]
power_estimates, vector = [], start / jnp.linalg.norm(start)
for _ in range(num_matvecs):
  product = matvec(vector)
  power_estimates.append(float(vector @ product))   # Rayleigh quotient
  vector = product / jnp.linalg.norm(product)

probes = np.arange(2, len(trace.samples) + 1)
running = [theory.mean_ci(trace.samples[:n]) for n in probes]
running_mean = np.array([mean for mean, _ in running])
running_low, running_high = np.array([ci for _, ci in running]).T

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
matvecs = np.arange(1, num_matvecs + 1)
# A floor at 1e-16: past convergence the error is float64 round-off.
floor = lambda error: np.maximum(np.abs(error), 1e-16)
ax1.semilogy(matvecs, floor(np.array(lanczos_estimates) - dense_eigenvalues[-1]),
             "o-", ms=3, label="Lanczos")
ax1.semilogy(matvecs, floor(np.array(power_estimates) - dense_eigenvalues[-1]),
             "s-", ms=3, label="power iteration")
ax1.set_xlabel("Hessian-vector products")
ax1.set_ylabel(r"$|\hat\lambda_{\max} - \lambda_{\max}|$ (vs dense)")
ax1.set_title("top eigenvalue")
ax1.legend()
ax2.plot(probes, running_mean, label="Hutchinson running mean")
ax2.fill_between(probes, running_low, running_high, alpha=0.3,
                 label="95% t-interval")
ax2.axhline(np.trace(dense), color="k", linestyle="--", label="dense trace")
ax2.set_xscale("log")
# The first few intervals are very wide; the scale is set by the later ones.
ax2.set_ylim(0, 2.5 * np.trace(dense))
ax2.set_xlabel("Rademacher probes")
ax2.set_ylabel(r"$\mathrm{Tr}\,H$ estimate")
ax2.set_title("trace")
ax2.legend()
plt.show()
print(f"lambda_2 / lambda_1 = {dense_eigenvalues[-2] / dense_eigenvalues[-1]:.3f}; "
      f"Lanczos error after 8 matvecs {abs(lanczos_estimates[7] - dense_eigenvalues[-1]):.1e}, "
      f"power iteration after 30: {abs(power_estimates[-1] - dense_eigenvalues[-1]):.1e}")

# %% [markdown]
# ## 2. GD settles only in minima flatter than $2/\eta$
#
# $L(x, y) = \tfrac12(xy-1)^2$ has a whole curve of minima $xy = 1$, with
# sharpness $x^2 + 1/x^2$ anywhere from 2 to infinity. Started at random, GD
# with a large step still converges, but only to the flat part of the curve.
# The learning rates form a grid inside one compiled program (they are
# arguments of it, not constants), so the three runs cost one compilation.

# %%
toy = landscapes.product_toy()
sgd_with_lr = lambda key, learning_rate: algorithms.with_mean_gradient(
    optax.sgd(learning_rate))
toy_etas = (0.1, 0.5, 0.8)
toy_run = algorithms.run(toy, sgd_with_lr, seeds=list(range(32)), steps=3000,
                         record_every=3000,
                         hyperparams={"learning_rate": toy_etas})
# One compiled, vmapped call over every (learning rate, seed) pair.
over_runs = lambda fn: jax.jit(jax.vmap(jax.vmap(fn)))
toy_loss = np.asarray(over_runs(toy.objective)(toy_run.final_params))
toy_sharpness = np.asarray(over_runs(lambda p: theory.top_eigenvalue_dense(
    theory.dense_hessian(toy.objective, p)))(toy_run.final_params))
for i, eta in enumerate(toy_etas):
  ok = toy_loss[i] < 1e-16
  print(f"eta = {eta}: {ok.sum():2d}/32 converged, sharpest limit "
        f"{toy_sharpness[i][ok].max():.3f} <= 2/eta = {2 / eta:.3f}; "
        f"{int(toy_run.diverged[i].sum())} diverged")

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
abs_x = np.geomspace(0.25, 4, 200)
ax.plot(abs_x, abs_x**2 + 1 / abs_x**2, color="0.6",
        label=r"minima $xy = 1$: $x^2 + 1/x^2$")
for i, eta in enumerate(toy_etas):
  ok = toy_loss[i] < 1e-16
  ax.plot(np.abs(toy_run.final_params[i][ok, 0]), toy_sharpness[i][ok], "o",
          color=f"C{i}", ms=4, label=rf"GD limits, $\eta = {eta}$")
  ax.axhline(2 / eta, color=f"C{i}", linestyle="--", lw=1)
ax.set_xscale("log")
ax.set_xticks([0.25, 0.5, 1, 2, 4], ["0.25", "0.5", "1", "2", "4"])
ax.minorticks_off()
ax.set_ylim(0, 12)   # 2/eta = 20 for eta = 0.1 is off the top: it never binds
ax.set_xlabel(r"$|x|$ at the limit")
ax.set_ylabel(r"sharpness $\lambda_{\max}(\nabla^2 L)$")
ax.set_title(r"dashed: $2/\eta$ for each learning rate")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 3. The edge of stability
#
# On a real (small) network the sharpness is not fixed: during GD it *rises*
# (progressive sharpening) until it reaches $2/\eta$, then hovers there while
# the loss keeps falling, non-monotonically. The run loop computes the top
# eigenvalue on device every 50 steps.

# %%
eta = 0.2
track_sharpness = lambda p, s: {"sharpness": theory.sharpness(net.objective, p),
                                "loss": net.objective(p)}
run = algorithms.run(
    net, algorithms.with_mean_gradient(optax.sgd(eta)), seeds=[0],
    steps=4000, record_every=50, metrics=track_sharpness)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
ax1.plot(run.record_steps, run.metrics["sharpness"][0], label="GD sharpness")
ax1.axhline(2 / eta, color="C3", linestyle="--", label=r"$2/\eta$")
ax1.set_xlabel("step")
ax1.set_ylabel(r"sharpness $\lambda_{\max}(\nabla^2 L)$")
ax1.legend()
ax2.semilogy(run.record_steps, run.metrics["loss"][0])
ax2.set_xlabel("step")
ax2.set_ylabel("training loss (half MSE)")
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
dln_etas = (0.05, 0.15)
dln_hessians = over_runs(lambda p: theory.dense_hessian(dln.objective, p))


def final_curvature(batch_size):
  """Tr H and lambda_max at the end of 20k steps, shape (eta, seed)."""
  result = algorithms.run(dln, sgd_with_lr, seeds=list(range(4)),
                          steps=20_000, record_every=20_000,
                          batch_size=batch_size,
                          hyperparams={"learning_rate": dln_etas})
  hessians = np.asarray(dln_hessians(result.final_params))
  return (np.trace(hessians, axis1=-2, axis2=-1),
          np.linalg.eigvalsh(hessians)[..., -1])


curvature = {"SGD (B=1)": final_curvature(1), "GD": final_curvature(None)}
for i, eta in enumerate(dln_etas):
  for name, (traces, _) in curvature.items():
    print(f"eta = {eta}, {name:9s}: eta * Tr H / 2 = "
          + ", ".join(f"{t * eta / 2:.2f}" for t in traces[i]))

# %% [markdown]
# In units of each bound (1 = the edge), GD's limits at $\eta = 0.15$ break
# the trace bound that SGD respects, while their top eigenvalue stays far below
# $2/\eta$: the only bound GD obeys is not binding here at all.

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
series = ((r"SGD (B=1): $\eta\,\mathrm{Tr}H/2$", "SGD (B=1)", 0, "o", -0.006),
          (r"GD: $\eta\,\mathrm{Tr}H/2$", "GD", 0, "s", 0.0),
          (r"GD: $\eta\,\lambda_{\max}/2$", "GD", 1, "^", 0.006))
for k, (label, name, which, marker, shift) in enumerate(series):
  values = np.array(curvature[name][which]) * np.array(dln_etas)[:, None] / 2
  for i, eta in enumerate(dln_etas):
    ax.plot(np.full(values.shape[1], eta + shift), values[i], marker,
            color=f"C{k}", label=label if i == 0 else None)
ax.axhline(1, color="k", linestyle="--", lw=1, label="stability edge")
ax.set_xticks(dln_etas)
ax.set_xlabel(r"learning rate $\eta$")
ax.set_ylabel(r"curvature $\times\ \eta/2$ (1 = edge)")
ax.set_title("4 seeds per marker group")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The same checks, with seeds, intervals and verdicts, are claims:
# `boundlab verify --only "cohen2021|wusu2023"`.

# %% [markdown]
# ## Exercises
#
# **Try this 1.** In section 1, quadruple the Hutchinson probes
# (`num_probes=800`, with a fresh `key=jax.random.key(1)` so the probes are new
# ones). *Expected:* the 95% interval is about half as wide ($1/\sqrt 4$) and
# still covers the dense trace 5.454; the variance of one probe's sample is
# close to the exact $2(\|H\|_F^2 - \sum_i H_{ii}^2) \approx 35.9$, which is
# what sets the width.
#
# **Try this 2.** In section 2, raise the learning rate to $\eta = 1.1$, so
# $2/\eta \approx 1.82$ lies below the sharpness 2 of even the flattest
# minimum ($x = y = \pm 1$). *Expected:* none of the 32 runs converges: no
# minimum is stable. About half diverge; the others end on the balanced
# diagonal $x = y$ with a loss stuck at a few hundredths, bouncing between two
# points (a period-2 orbit around the minimum they cannot settle in).
#
# **Try this 3.** In section 3, rerun the network with $\eta = 0.4$
# ($2/\eta = 5$) and with $\eta = 0.1$ ($2/\eta = 20$). *Expected:* at
# $\eta = 0.4$ progressive sharpening reaches $2/\eta$ within about 150
# steps and the sharpness then hovers around it (after step 2000 within
# roughly $\pm 15\%$, like $\eta = 0.2$); at $\eta = 0.1$ the sharpness is
# still rising after 4000 steps, at about 0.65 of $2/\eta$: the edge is not
# reached in this budget and GD is stable in the classical sense.
#
# **Try this 4.** In section 4, run SGD with batch size 2 and 5 instead of 1.
# *Expected:* the trace bound is a batch-size-1 statement: with batches drawn
# with replacement (the run loop's default) the gradient noise shrinks by $1/B$
# and the same argument gives only $\mathrm{Tr}\,H \le 2B/\eta$, i.e. $B$ in
# the units of section 4's figure. At $\eta = 0.15$, $B = 2$ already ends at
# $\eta\,\mathrm{Tr}H/2 \approx 1.0$--$1.1$, above the $B = 1$ edge but
# within its own (2), and $B = 5$ lands within GD's seed-to-seed spread
# (about 1.2--1.3 for both). At $\eta = 0.05$ every batch size gives about
# 0.4: there the stability constraint is not what picks the minimum.

# %% [markdown]
# ### Solutions
#
# **1.** Four times the probes, fresh ones:

# %%
more_probes = theory.hutchinson_trace(matvec, dim, num_probes=800,
                                      key=jax.random.key(1))
width = lambda estimate: estimate.ci[1] - estimate.ci[0]
exact_probe_variance = 2 * (np.sum(dense**2) - np.sum(np.diag(dense) ** 2))
print(f"800 probes: {more_probes.mean:.3f}, 95% CI [{more_probes.ci[0]:.3f}, "
      f"{more_probes.ci[1]:.3f}], dense {np.trace(dense):.3f}")
print(f"interval width 800 / 200 probes: "
      f"{width(more_probes) / width(trace):.3f} (1/sqrt(4) = 0.5)")
print(f"one probe's variance: sample {more_probes.samples.var(ddof=1):.1f}, "
      f"exact {exact_probe_variance:.1f}")

# %% [markdown]
# **2.** $\eta = 1.1$ on the toy; for the runs that stayed finite, two more GD
# steps by hand test whether they are bouncing between two points:

# %%
big_eta = 1.1
big_run = algorithms.run(toy, algorithms.with_mean_gradient(optax.sgd(big_eta)),
                         seeds=list(range(32)), steps=3000, record_every=3000)
finals = np.asarray(big_run.final_params)
alive = np.all(np.isfinite(finals), axis=1)
losses = np.asarray(jax.vmap(toy.objective)(jnp.asarray(finals[alive])))
gd_step = jax.vmap(lambda p: p - big_eta * jax.grad(toy.objective)(p))
one_step = gd_step(jnp.asarray(finals[alive]))
two_steps = gd_step(one_step)
print(f"eta = {big_eta}: {int((losses < 1e-16).sum())}/32 converged, "
      f"{int(big_run.diverged.sum())} diverged, {int(alive.sum())} finite")
print(f"finite runs: loss in [{losses.min():.3f}, {losses.max():.3f}], "
      f"max |x - y| = {np.abs(finals[alive, 0] - finals[alive, 1]).max():.1e}")
print(f"max move in one step {float(jnp.abs(one_step - finals[alive]).max()):.3f}, "
      f"in two steps {float(jnp.abs(two_steps - finals[alive]).max()):.1e}")

# %% [markdown]
# **3.** Both learning rates in one compiled grid (same network, seed and
# metrics as section 3):

# %%
eos_etas = (0.1, 0.4)
eos_run = algorithms.run(net, sgd_with_lr, seeds=[0], steps=4000,
                         record_every=50, metrics=track_sharpness,
                         hyperparams={"learning_rate": eos_etas})
fig, ax = plt.subplots(figsize=(6, 3.5))
for i, eta_i in enumerate(eos_etas):
  ratio = eos_run.metrics["sharpness"][i][0] * eta_i / 2
  ax.plot(eos_run.record_steps, ratio, color=f"C{i}", label=rf"$\eta = {eta_i}$")
  late = ratio[eos_run.record_steps > 2000]
  reached = eos_run.record_steps[ratio >= 0.95]
  print(f"eta = {eta_i}: first within 5% of 2/eta at step "
        f"{reached[0] if reached.size else 'never'}; after step 2000 "
        f"sharpness / (2/eta) in [{late.min():.3f}, {late.max():.3f}]")
ax.axhline(1, color="k", linestyle="--", lw=1, label=r"$2/\eta$")
ax.set_xlabel("step")
ax.set_ylabel(r"sharpness / $(2/\eta)$")
ax.legend()
plt.show()

# %% [markdown]
# **4.** Batch sizes 2 and 5 (each batch size is its own compiled program):

# %%
for batch in (2, 5):
  traces, _ = final_curvature(batch)
  for i, eta_i in enumerate(dln_etas):
    print(f"eta = {eta_i}, SGD (B={batch}): eta * Tr H / 2 = "
          + ", ".join(f"{t * eta_i / 2:.2f}" for t in traces[i]))
