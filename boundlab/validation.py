"""Input checks of every public entry point, for user code too.

Each check raises ``ValueError("<param> must be ..., got ...")``. The size
guard refuses a dimension, probe count or sample size whose largest array
would exceed :func:`memory_budget` (half the machine's memory by default;
``set_memory_budget`` or the environment's ``BOUNDLAB_MEMORY_BUDGET``
changes it) before anything is allocated or compiled: XLA aborts the
process on an allocation it cannot make, and nothing can catch that. Seeds
are integers in [0, 2^63), mapped to PRNG keys by :func:`seed_key`.
"""

from boundlab._validation import (SEED_LIMIT, check_alpha, check_callable,
                                  check_choice, check_finite_array,
                                  check_in_range, check_instance,
                                  check_nonnegative, check_positive,
                                  check_positive_int, check_seed, check_seeds,
                                  check_size, check_sizes, memory_budget,
                                  seed_key, set_memory_budget)

__all__ = ["SEED_LIMIT", "check_alpha", "check_callable", "check_choice",
           "check_finite_array", "check_in_range", "check_instance",
           "check_nonnegative", "check_positive", "check_positive_int",
           "check_seed", "check_seeds", "check_size", "check_sizes",
           "memory_budget",
           "seed_key", "set_memory_budget"]
