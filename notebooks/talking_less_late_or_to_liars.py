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
# # Talking less, late, or to liars: consensus in distributed SGD
#
# When n machines train one model without a server, each keeps its own copy
# $x_i$, takes a local SGD step on its own data and then *gossips*: it
# averages with its neighbours, $x_i \leftarrow \sum_j W_{ij} x_j$, with a
# doubly stochastic mixing matrix $W$ supported on the network's edges
# (decentralized SGD, D-SGD). This notebook looks at three questions on
# quadratic clients, where everything is exact:
#
# 1. How fast does gossip reach consensus, and what do the network's spectral
#    constants say?
# 2. Why does one *global merge* at the end (Zhu et al., ICLR 2026, arXiv
#    2507.06542) recover so much, and why is it better to spend a small
#    communication budget *late*?
# 3. How much does heterogeneity between clients cost?
#
# It runs on a CPU in well under a minute with boundlab's public API.

# %%
import jax
import matplotlib.pyplot as plt
import numpy as np

from boundlab import landscapes
from boundlab.algorithms import decentralized
from boundlab.theory import graphs

jax.config.update("jax_enable_x64", True)

# %% [markdown]
# ## 1. Networks and their spectral gaps
#
# One gossip round multiplies the disagreement between the clients by at most
# $|\lambda_2(W)|$: the *spectral gap* $1 - |\lambda_2(W)|$ says how many
# rounds consensus takes. A line of 16 clients mixes 30 times more slowly
# than a 4 x 4 torus.

# %%
n = 16
topologies = ("line", "ring", "torus", "complete")
mixing = {t: graphs.metropolis_hastings(graphs.adjacency(t, n))
          for t in topologies}
for t, w in mixing.items():
  lap = graphs.edge_sampling_laplacian(graphs.adjacency(t, n))
  print(f"{t:9s} spectral gap {graphs.spectral_gap(w):.4f}   chi_1 "
        f"{graphs.chi_1(lap):8.1f}   chi_2 {graphs.chi_2(lap):5.2f}")

rng = np.random.default_rng(0)
start = rng.standard_normal((n, 3))
fig, ax = plt.subplots(figsize=(6, 3.5))
for t, w in mixing.items():
  x, spread = start.copy(), []
  for _ in range(60):
    spread.append(np.mean(np.sum((x - x.mean(0)) ** 2, 1)))
    x = w @ x
  ax.semilogy(spread, label=t)
ax.set(xlabel="gossip round", ylabel="consensus distance",
       title="pure gossip on 16 clients")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. One merge at the end
#
# Gossip keeps the clients' *average* unchanged ($W$ is doubly stochastic),
# so the merged model $\bar x = \frac1n\sum_i x_i$ moves by the average of
# the local gradients. When all clients share one Hessian (their losses
# differ only by where their minima are), those gradients average to
# $\nabla f(\bar x)$: the merged model *is* server SGD with batch n, step for
# step, whatever the network. With client-specific Hessians it is not, and
# the gap is what limited communication costs.

# %%
kwargs = dict(heterogeneity=2.0, condition_number=10.0, seed=0)
shared = landscapes.federated_quadratics(n, 10, shared_hessian=True, **kwargs)
own = landscapes.federated_quadratics(n, 10, **kwargs)
x0 = np.random.default_rng(1).standard_normal(10)
steps = 400
runs = {name: decentralized.run_dsgd(p, mixing["ring"], 0.1, steps,
                                     noise_std=1.0, params=x0,
                                     key=jax.random.key(2))
        for name, p in (("shared Hessian", shared), ("own Hessians", own))}
for name, run in runs.items():
  print(f"{name:15s}: max ||merged - server SGD|| = {run.merged_gap.max():.2e}"
        f", final consensus distance {run.consensus_distance[-1]:.3f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, run in runs.items():
  ax.semilogy(np.maximum(run.merged_gap, 1e-17), label=name)
ax.set(xlabel="round t", ylabel=r"$\|\bar x^t - y^t\|$ (merged vs server)",
       title="ring of 16, same gradient noise")
ax.legend()
plt.show()

# %% [markdown]
# ## 3. Spend the budget late
#
# With 10% of the rounds allowed to gossip, when should they happen? Early
# gossip is forgotten: the clients drift apart again towards their own
# minima. Late gossip leaves them close at the end, where the merge happens.

# %%
f_star = own.constants["optimal_value"]
fig, ax = plt.subplots(figsize=(6, 3.5))
for where in ("early", "uniform", "late"):
  schedule = decentralized.communication_schedule(steps, steps // 10, where)
  run = decentralized.run_dsgd(own, mixing["ring"], 0.1, steps,
                               gossip=schedule, noise_std=1.0, params=x0,
                               key=jax.random.key(2))
  excess = run.merged_objective[-1] - run.parallel_objective[-1]
  print(f"{where:8s}: f(merged) - f(server SGD) at the end = {excess:.4f}")
  ax.semilogy(run.merged_objective - f_star, label=f"merged, {where}")
ax.semilogy(run.parallel_objective - f_star, "k--", label="server SGD")
ax.set(xlabel="round t", ylabel=r"$f - f^\star$",
       title="10% of the rounds gossip")
ax.legend()
plt.show()

# %% [markdown]
# ## 4. Talking rarely: stale updates in federated learning
#
# With a server, clients that skip a round leave a hole in the average.
# FedAvg reweights the ones that came by $1/p_i$ (unbiased, but noisy when
# some $p_i$ are small); FedVARP fills the hole with each absent client's
# last update; FedStale (Rodio & Neglia, arXiv 2405.04171) mixes the two
# with a weight $\beta$ ($\beta = 0$: FedAvg, $\beta = 1$: FedVARP). Old
# updates are biased, fresh ones noisy: the best $\beta$ should grow with
# the data heterogeneity, which is what makes missing clients costly.

# %%
from boundlab.algorithms import federated  # noqa: E402

participation = np.array([0.8, 0.2] * 8)
masks = federated.participation_masks(participation, 400,
                                      np.random.default_rng(3))
betas = [0.0, 0.25, 0.5, 0.75, 1.0]
fig, ax = plt.subplots(figsize=(6, 3.5))
for zeta in (0.2, 3.0):
  clients = landscapes.federated_quadratics(n, 10, heterogeneity=zeta,
                                            condition_number=10.0, seed=0)
  floors = []
  for beta in betas:
    run = federated.run_fedstale(clients, participation, 400, beta=beta,
                                 local_steps=5, local_step_size=0.05,
                                 noise_std=1.0, masks=masks,
                                 key=jax.random.key(4), params=x0)
    floors.append(np.mean(run.objective[-100:])
                  - clients.constants["optimal_value"])
  print(f"zeta = {zeta}: floors " + ", ".join(f"{f:.4f}" for f in floors)
        + f"; best beta {betas[int(np.argmin(floors))]}")
  ax.semilogy(betas, floors, "o-", label=f"heterogeneity {zeta}")
ax.set(xlabel=r"weight $\beta$ of the stale updates",
       ylabel=r"error floor $f - f^\star$",
       title="FedStale: half the clients take part 20% of the time")
ax.legend()
plt.show()

# %% [markdown]
# ## 5. Talking to liars: Byzantine clients
#
# If f of the n clients may send anything, plain averaging is lost: one
# vector of norm $10^3$ moves the mean by $10^3/n$. MoNNA (Farhadkhani et
# al., ICML 2023, arXiv 2209.10931) lets each honest client average only
# the $n - f$ received models *nearest to its own* (NNA), after a momentum
# step. Below, 12 honest clients and f Byzantine ones. Crude attacks
# (flipping the sign of the honest models, huge norms) are far from every
# honest model and never get averaged in; "a little is enough" (ALIE: the
# honest mean plus a multiple of their spread) and "fall of empires" (FOE:
# a shrunk honest mean), with the multiple chosen by the authors' line
# search, stay close enough to be averaged, and cost accuracy that grows
# with f.

# %%
from boundlab.algorithms import robust_aggregation  # noqa: E402

honest = landscapes.federated_quadratics(12, 10, heterogeneity=1.0,
                                         condition_number=10.0, seed=0)
f_honest = honest.constants["optimal_value"]
fig, ax = plt.subplots(figsize=(6, 3.5))
for name in robust_aggregation.ATTACKS:
  finals = []
  for f in (0, 1, 2, 3):
    run = robust_aggregation.run_monna(honest, f, name, 0.05, 400,
                                       noise_std=0.5, key=jax.random.key(5),
                                       params=x0)
    finals.append(run.honest_objective[-1] - f_honest)
  print(f"{name:10s}: honest f_H - f_H* at the end, f = 0..3: "
        + ", ".join(f"{v:.4f}" for v in finals))
  ax.semilogy(range(4), finals, "o-", label=name)
ax.set(xlabel="Byzantine clients f (12 honest)",
       ylabel=r"$f_H - f_H^\star$ after 400 rounds",
       title="MoNNA under four attacks")
ax.legend()
plt.show()

# %% [markdown]
# ## Exercises
#
# **Try this 1.** In Section 2, replace the ring by the line and by the
# complete graph (`mixing["line"]`, `mixing["complete"]`) for the clients
# with their own Hessians.
# *Expected:* the merged model's distance to server SGD grows on the line
# (its spectral gap is 0.013, against 0.051 for the ring) and vanishes, up
# to rounding, on the complete graph: there every client holds the average
# after each round, so D-SGD *is* server SGD.
#
# **Try this 2.** In Section 3, set `heterogeneity=0.0` when building `own`.
# *Expected:* the excesses fall by an order of magnitude (about 0.006 early,
# -0.0003 uniform, -0.003 late, against 0.080, 0.040 and 0.015): with no
# heterogeneity the clients' minima coincide and there is little to drift
# apart towards. What is left comes from the gradient noise and the
# clients' different curvatures: early gossip still pays a small price.
#
# ### Solutions
#
# **1.** Three networks.

# %%
for t in ("line", "ring", "complete"):
  run = decentralized.run_dsgd(own, mixing[t], 0.1, steps, noise_std=1.0,
                               params=x0, key=jax.random.key(2))
  print(f"{t:9s}: max ||merged - server SGD|| = {run.merged_gap.max():.3e}")

# %% [markdown]
# **2.** No heterogeneity.

# %%
same = landscapes.federated_quadratics(n, 10, heterogeneity=0.0,
                                       condition_number=10.0, seed=0)
for where in ("early", "uniform", "late"):
  schedule = decentralized.communication_schedule(steps, steps // 10, where)
  run = decentralized.run_dsgd(same, mixing["ring"], 0.1, steps,
                               gossip=schedule, noise_std=1.0, params=x0,
                               key=jax.random.key(2))
  print(f"{where:8s}: excess {run.merged_objective[-1] - run.parallel_objective[-1]:.5f}")
