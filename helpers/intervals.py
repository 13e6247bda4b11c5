"""How sure a measured accuracy is: 95% intervals for one rate, and for the gap between two on the same items.

An accuracy on n reviews is a count out of n, so it moves by chance: 85% on 300 reviews could be 81% or 89% on
another 300. Every comparison in the course states its interval and says "beats" only when the interval
excludes zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054  # the normal quantile for a two-sided 95% interval


def wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson's 95% interval for a rate of `successes` in `n` (scipy's); unlike p +/- 1.96*SE it holds
    near 0 and 1.

    >>> [round(x, 3) for x in wilson(90, 100)]
    [0.826, 0.945]
    >>> [round(x, 3) for x in wilson(300, 300)]
    [0.987, 1.0]
    """
    from scipy import stats  # imported here: most chapters never need scipy

    if not (isinstance(n, int) and n > 0 and 0 <= successes <= n):
        raise ValueError(f"wilson needs 0 <= successes <= n and n > 0, got {successes} of {n}.")
    ci = stats.binomtest(int(successes), n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def paired_difference(correct_a: Sequence[bool], correct_b: Sequence[bool],
                      z: float = Z95) -> tuple[float, float, float]:
    """(b's accuracy minus a's, and its 95% interval), both scored on the same items.

    Only the items where exactly one is right carry the difference (as in McNemar's test), so two models
    that agree on most reviews can be told apart on fewer reviews than two independent samples would need.

    >>> [round(x, 3) for x in paired_difference([1, 1, 1, 0] * 50, [1, 1, 1, 1] * 50)]
    [0.25, 0.19, 0.31]
    """
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"paired_difference needs two equally long, non-empty lists, got {a.shape} "
                         f"and {b.shape}.")
    n = len(a)
    only_b, only_a = int((b & ~a).sum()), int((a & ~b).sum())
    gap = (only_b - only_a) / n
    half = z * math.sqrt(max(only_b + only_a - n * gap * gap, 0.0)) / n
    return gap, gap - half, gap + half
