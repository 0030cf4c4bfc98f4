r"""Linear-probe evaluation of a learned representation on a downstream task.

A frozen representation :math:`h(x)` is read out by the minimum-norm least
squares fit of :math:`\pm1` labels,

.. math::
  c = \arg\min\{\|c\| : c \in \arg\min_c \textstyle\sum_i (\langle c,
  h(x_i)\rangle - y_i)^2\} = H^+ y,

and scored by the sign accuracy on held-out points. With fewer downstream
examples than features the fit interpolates, and the probe favours the
directions the representation makes large: a representation concentrated on
the task's features transfers from few examples (the sense of "transfer" in
Liu, Xie, Li & Ma, arXiv 2210.14199, where the downstream evaluation is a
linear probe or fine-tuning of the pre-trained network).
"""

from __future__ import annotations

import numpy as np

from boundlab import _validation as v


def linear_probe_accuracy(train_features, train_labels, test_features,
                          test_labels) -> float:
  """Sign accuracy of the minimum-norm least-squares probe.

  Args:
    train_features: ``(n, p)`` representation of the downstream training set.
    train_labels: ``(n,)`` labels in {-1, +1}.
    test_features: ``(m, p)``; test_labels: ``(m,)`` in {-1, +1}.
  """
  h = v.check_finite_array("train_features", train_features, ndim=2)
  h_test = v.check_finite_array("test_features", test_features, ndim=2)
  if h.shape[1] != h_test.shape[1]:
    raise ValueError(f"test_features must be (m, p = {h.shape[1]}) like "
                     f"train_features, got {h_test.shape}")
  for name, labels, rows in (("train_labels", train_labels, h.shape[0]),
                             ("test_labels", test_labels, h_test.shape[0])):
    y_ = v.check_finite_array(name, labels, ndim=1, min_len=0)
    if y_.shape != (rows,):
      raise ValueError(f"{name} must have one label per row of the "
                       f"features ({rows}), got shape {y_.shape}")
    if not np.all(np.abs(y_) == 1):
      raise ValueError(f"{name} must be in {{-1, +1}}")
  y = np.asarray(train_labels, dtype=float)
  y_test = np.asarray(test_labels, dtype=float)
  coef = np.linalg.lstsq(h, y, rcond=None)[0]
  return float(np.mean(np.sign(h_test @ coef) == y_test))
