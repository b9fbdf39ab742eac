"""Per-item estimators over repeats: the unbiased pass@k of Chen et al. (2021) and maj@k.

``n`` samples of one item, ``c`` of them correct::

    pass_at_k(n=4, c=1, k=2)                      # 0.5 = 1 - C(3, 2) / C(4, 2)
    pass_at_k_array([4, 4], [0, 4], 2)            # array([0., 1.])
    maj_at_k(["12", "12", "7", None], "12", k=3)  # 1.0: the most common of the first 3 is "12"
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np
import numpy.typing as npt


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimator: 1 - C(n-c, k) / C(n, k), with exact integers."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_at_k_array(n: npt.ArrayLike, c: npt.ArrayLike, k: int) -> npt.NDArray[np.float64]:
    """pass@k of many items at once: ``1 - C(n-c, k) / C(n, k)`` through log-gamma (no
    overflow for large n); equal to :func:`pass_at_k` item by item to float precision."""
    n_arr, c_arr = np.broadcast_arrays(np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64))
    if k < 1 or np.any(k > n_arr) or np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (k={k})")
    from scipy.special import gammaln  # imported on first use

    wrong = n_arr - c_arr
    safe = np.maximum(wrong - k, 0)  # log-gamma of a valid argument where n - c < k
    log_ratio = gammaln(wrong + 1) - gammaln(safe + 1) - gammaln(n_arr + 1) + gammaln(n_arr - k + 1)
    return np.where(wrong < k, 1.0, 1.0 - np.exp(log_ratio))


def majority(answers: Sequence[Hashable | None]) -> Hashable | None:
    """The most common answer, ``None`` (no extracted answer) never voting; on a tie the one
    seen first wins. ``None`` when nothing was extracted."""
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return None
    top = max(votes.values())
    return next(a for a in answers if a is not None and votes[a] == top)


def maj_at_k(answers: Sequence[Hashable | None], target: Hashable, *, k: int) -> float:
    """1.0 when the majority answer of the first ``k`` samples equals ``target``."""
    if not 1 <= k <= len(answers):
        raise ValueError(f"maj@k needs 1 <= k <= {len(answers)} samples (k={k})")
    winner = majority(answers[:k])
    return 1.0 if winner is not None and winner == target else 0.0
