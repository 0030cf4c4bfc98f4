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
# # Error feedback: why EF21 converges with any contractive compressor, and what the Reloaded step size buys
#
# In distributed training, n clients each hold a loss $f_i$ and the server
# wants to minimise $f = \frac1n\sum_i f_i$. Sending full gradients is
# expensive, so each client sends a *compressed* vector, e.g. only the K
# largest entries (Top-K). Compressing gradients naively biases the method.
# EF21 (Richtarik, Sokolov & Fatkhullin, arXiv 2106.05203) fixes this with
# *error feedback*: each client keeps an estimate $g_i$ of its gradient and
# sends only a compressed *correction*:
#
# $$x^{t+1} = x^t - \gamma g^t,\qquad
#   g_i^{t+1} = g_i^t + \mathcal C\big(\nabla f_i(x^{t+1}) - g_i^t\big),\qquad
#   g^t = \tfrac1n\textstyle\sum_i g_i^t .$$
#
# This notebook shows, on a CPU in well under a minute: naive compression
# against EF21; the Lyapunov function that proves EF21 converges; what
# "Error Feedback Reloaded" (Richtarik, Gasanov & Burlachenko, arXiv
# 2402.10774) gains by replacing the quadratic mean of the clients'
# smoothness constants by their arithmetic mean; and three numbers for one
# claim: the paper's step size, the worst case over the whole function class
# (PEPit), and what a concrete problem tolerates.

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from boundlab import algorithms, landscapes
from boundlab.theory import error_feedback as ef
from boundlab.theory import pep

jax.config.update("jax_enable_x64", True)

# %% [markdown]
# ## 1. Clients with very different smoothness
#
# Four client quadratics with $L_i = (1, 1, 1, 100)$: the example of the
# Reloaded paper. Every constant is exact; $L \le L_{AM} \le L_{QM}$.

# %%
problem = landscapes.heterogeneous_quadratics([1.0, 1.0, 1.0, 100.0], 20,
                                              seed=0)
c = problem.constants
for name in ("smoothness", "smoothness_am", "smoothness_qm", "optimal_value"):
  print(f"{name:15s} {c[name]:.4f}")

# %% [markdown]
# ## 2. Naive compression stalls; error feedback converges
#
# Top-2 of d = 20 keeps 10% of the entries: it is contractive with
# $\alpha = K/d = 0.1$, i.e. $\|\mathcal C(v) - v\|^2 \le (1-\alpha)\|v\|^2$.
# "Naive" compressed gradient descent moves along $\frac1n\sum_i
# \mathcal C(\nabla f_i(x))$: its fixed points are not the minimiser.

# %%
compressor = algorithms.top_k(2, problem.dim)
alpha = compressor.contraction
gamma_qm = ef.theoretical_step_size(c, alpha, "uniform")
x0 = np.random.default_rng(0).standard_normal(problem.dim)
steps = 3000

naive_step = jax.jit(lambda x: x - gamma_qm * jnp.mean(jax.vmap(
    compressor.compress, in_axes=(None, 0))(None, problem.client_gradients(x)),
    axis=0))
x, naive = jnp.asarray(x0), []
for _ in range(steps + 1):
  naive.append(float(jnp.sum(problem.gradient(x) ** 2)))
  x = naive_step(x)
run_qm = algorithms.run_ef21(problem, compressor, gamma_qm, steps, params=x0)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(naive, label="naive Top-2 compressed GD")
ax.semilogy(run_qm.grad_norm_sq, label="EF21, Top-2")
ax.set(xlabel="round t", ylabel=r"$\|\nabla f(x^t)\|^2$",
       title=r"same step $\gamma = 1/(L + L_{QM}\xi(\alpha))$")
ax.legend()
plt.show()

# %% [markdown]
# ## 3. Why EF21 converges: a Lyapunov function
#
# With $\theta = 1 - \sqrt{1-\alpha}$ and
# $G^t = \frac1n\sum_i\|g_i^t - \nabla f_i(x^t)\|^2$ (how wrong the clients'
# estimates are), EF21's proof shows that
# $\Phi^t = f(x^t) - f^{\inf} + \frac{\gamma}{2\theta}G^t$ drops by at least
# $\frac\gamma2\|\nabla f(x^t)\|^2$ every round, if
# $\gamma \le 1/(L + L_{QM}\,\xi(\alpha))$ with
# $\xi(\alpha) = \sqrt{1-\alpha}/(1-\sqrt{1-\alpha})$. The contraction holds
# for Top-K on every vector, so the inequality holds on every path: we can
# check it step by step.

# %%
phi = ef.lyapunov_values(run_qm.objective, run_qm.estimate_error,
                         c["optimal_value"], gamma_qm, alpha)
slack = phi[1:] - phi[:-1] + gamma_qm / 2 * run_qm.grad_norm_sq[:-1]
print(f"xi(alpha) = {ef.xi(alpha):.2f}, gamma_QM = {gamma_qm:.3e}")
print(f"largest one-step slack / Phi^0: {slack.max() / phi[0]:.2e} (<= 0)")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(phi, label=r"$\Phi^t$")
ax.semilogy(run_qm.objective - c["optimal_value"], "--",
            label=r"$f(x^t) - f^{\inf}$")
ax.set(xlabel="round t", ylabel="value", title="EF21's Lyapunov function")
ax.legend()
plt.show()

# %% [markdown]
# ## 4. What the Reloaded step buys
#
# Reloaded proves the same descent with $L_{AM}$ in place of $L_{QM}$ (with
# $G$ weighted by $L_{AM}/L_i$). Here $L_{QM}/L_{AM} \approx 1.94$, so the
# step almost doubles, and so does the speed.

# %%
gamma_am = ef.theoretical_step_size(c, alpha, "weighted")
run_am = algorithms.run_ef21(problem, compressor, gamma_am, steps, params=x0)
run_w = algorithms.run_ef21(problem, compressor, gamma_am, steps, params=x0,
                            weighted=True)
print(f"gamma_AM / gamma_QM = {gamma_am / gamma_qm:.3f}")
print("EF21 and EF21-W agree (Top-K is positively homogeneous): max "
      f"|difference of ||grad f||^2| = "
      f"{np.abs(run_am.grad_norm_sq - run_w.grad_norm_sq).max():.1e}")


def rounds_to(run, level=1e-6):
  """First round with ||grad f||^2 <= level x its start (None: never)."""
  hit = run.grad_norm_sq <= level * run.grad_norm_sq[0]
  return int(np.argmax(hit)) if hit.any() else None


print(f"rounds to 1e-6 x ||grad f(x^0)||^2: QM {rounds_to(run_qm)}, "
      f"AM {rounds_to(run_am)}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(run_qm.grad_norm_sq, label=r"EF21 at $1/(L + L_{QM}\xi)$")
ax.semilogy(run_am.grad_norm_sq, label=r"EF21 at $1/(L + L_{AM}\xi)$")
ax.set(xlabel="round t", ylabel=r"$\|\nabla f(x^t)\|^2$",
       title="the Reloaded step size")
ax.legend()
plt.show()

# %% [markdown]
# ## 5. Three numbers for one claim: how large may the step be?
#
# * **The paper:** the step $\gamma_{AM} = 1/(L + L_{AM}\xi)$ (multiple 1).
# * **The worst case over the class:** PEPit solves a semidefinite program
#   for the worst $\Phi^1 - \Phi^0 + \frac\gamma2\|\nabla f(x^0)\|^2$ over
#   every $L_i$-smooth $f_i$ and *every* $\alpha$-contractive compressor
#   (the class's $L$ is at most $L_{AM}$). Its value is 0 exactly when the
#   one-step inequality holds over the whole class; bisection finds the
#   largest multiple of the step for which it does.
# * **Measured:** the largest multiple for which the inequality still held
#   at every step of Top-K on our quadratics.

# %%
smooth = tuple(c["client_smoothness"])
pep_constants = {"smoothness": c["smoothness_am"], "smoothness_am":
                 c["smoothness_am"], "smoothness_qm": c["smoothness_qm"]}
gamma_class = ef.theoretical_step_size(pep_constants, alpha, "weighted")
worst = lambda m: pep.ef21_one_step(smooth, alpha, m * gamma_class,
                                    lyapunov="weighted").value
print(f"PEPit worst case at 1x: {worst(1.0):.1e}, at 3x: {worst(3.0):.3f}")
certified = pep.largest_certified_multiple(worst, 1.0, 3.0, steps=8)


def held(multiple):
  run = algorithms.run_ef21(problem, compressor, multiple * gamma_am, 500,
                            params=x0)
  phi = ef.lyapunov_values(run.objective, run.weighted_estimate_error,
                           c["optimal_value"], multiple * gamma_am, alpha)
  slack = phi[1:] - phi[:-1] + multiple * gamma_am / 2 * run.grad_norm_sq[:-1]
  return run.diverged_at < 0 and slack.max() <= 1e-12 * phi[0]


multiples = np.arange(1.0, 20.5, 0.5)
measured = max(m for m in multiples if held(m))
print(f"paper 1 | PEPit (whole class) {certified:.3f} | Top-K on this "
      f"problem >= {measured:.1f} (scanned up to {multiples[-1]:g})")

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.bar(["paper", "PEPit: worst case", "measured: Top-K here"],
       [1.0, certified, measured])
ax.set(xlabel="source of the step-size limit",
       ylabel="largest step / paper's step",
       title="the step-size condition is nearly tight over the class")
plt.show()

# %% [markdown]
# The worst case over the class is only a little above the paper's step: the
# analysis is nearly tight *for the class* (any contractive compressor, any
# $L_i$-smooth clients). A concrete compressor on a concrete problem
# tolerates much more, which is why tuned steps in experiments are often
# larger than the theory's. The claims `richtarik2021.*` and
# `richtarik2024.*` (`boundlab list`) check these statements on many random
# instances.

# %% [markdown]
# ## Exercises
#
# **Try this 1.** Send more: use Top-10 instead of Top-2 ($\alpha = 0.5$)
# and count the rounds to $10^{-6}\|\nabla f(x^0)\|^2$ at both steps
# (6000 rounds are enough).
# *Expected:* $\xi$ falls from 18.5 to 2.41, so both steps grow about
# sixfold and the rounds drop from 991 (QM) and 526 (AM) to 151 and 88:
# 5 times as many coordinates per round buy about 6 times fewer rounds, a
# net saving of communication.
#
# **Try this 2.** Run EF21 with 1-bit Adam's compressor
# `algorithms.scaled_sign(20)` at the step $\gamma_{AM}$ computed as if
# $\alpha$ were 0.1, and at 5 times that.
# *Expected:* both converge here (530 and 95 rounds to $10^{-6}$), but no
# theorem says so: `scaled_sign(20).contraction` is None, because on a
# sparse vector such as $e_1$ its error $2(1 - 1/\sqrt d)\|e_1\|^2$ exceeds
# $\|e_1\|^2$, so no $\alpha > 0$ exists. Convergence on one dense problem
# is an observation, not a guarantee.
#
# **Try this 3.** Make the clients equally smooth, $L_i = (1, 1, 1, 1)$.
# *Expected:* $L_{AM} = L_{QM}$, so the two steps coincide (0.0518) and so do
# the rounds (356): the Reloaded analysis helps exactly when the $L_i$
# differ.
#
# ### Solutions
#
# **1.** Top-10.

# %%
runs = {}
for k in (2, 10):
  top = algorithms.top_k(k, problem.dim)
  for lyapunov in ("uniform", "weighted"):
    gamma = ef.theoretical_step_size(c, top.contraction, lyapunov)
    runs[k, lyapunov] = algorithms.run_ef21(problem, top, gamma, 6000,
                                            params=x0)
    print(f"Top-{k:2d}, {lyapunov:8s}: xi = {ef.xi(top.contraction):5.2f}, "
          f"gamma = {gamma:.2e}, rounds {rounds_to(runs[k, lyapunov])}")

fig, ax = plt.subplots(figsize=(6, 3.5))
for (k, lyapunov), run in runs.items():
  ax.semilogy(run.grad_norm_sq[:1200], label=f"Top-{k}, {lyapunov}")
ax.set(xlabel="round t", ylabel=r"$\|\nabla f(x^t)\|^2$",
       title="more coordinates per round, fewer rounds")
ax.legend()
plt.show()

# %% [markdown]
# **2.** The scaled sign is not contractive: EF21's step has no meaning for
# it, yet here it converges.

# %%
sign = algorithms.scaled_sign(problem.dim)
print("declared contraction:", sign.contraction)
e1 = jnp.zeros(problem.dim).at[0].set(1.0)
print(f"||C(e1) - e1||^2 = {float(jnp.sum((sign(None, e1) - e1) ** 2)):.3f} "
      "> 1 = ||e1||^2")
for multiple in (1, 5):
  run = algorithms.run_ef21(problem, sign, multiple * gamma_am, 3000,
                            params=x0)
  print(f"{multiple} x gamma_AM: rounds {rounds_to(run)}, diverged at "
        f"{run.diverged_at}")

# %% [markdown]
# **3.** Equal smoothness: nothing to gain.

# %%
equal = landscapes.heterogeneous_quadratics([1.0] * 4, 20, seed=0)
for lyapunov in ("uniform", "weighted"):
  gamma = ef.theoretical_step_size(equal.constants, alpha, lyapunov)
  run = algorithms.run_ef21(equal, compressor, gamma, 6000, params=x0)
  print(f"{lyapunov:8s}: gamma = {gamma:.4f}, rounds {rounds_to(run)}")
