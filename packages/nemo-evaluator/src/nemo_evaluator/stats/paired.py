"""Paired tests of two runs scored on the same items (``b - a``: B's gain over A).

::

    paired_bootstrap(a, b, level=0.95, resamples=1000, seed=0)   # Interval of mean(b - a)
    mcnemar_exact(a, b)            # exact McNemar p-value for 0/1 scores (a binomial test)
    permutation_test(a, b, seed=0) # paired sign-flip permutation p-value, any scores
    minimum_detectable_effect(a, b, alpha=0.05, power=0.8)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .intervals import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED, Interval, bootstrap_interval

ArrayLike = Sequence[float] | npt.ArrayLike


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    xa = np.asarray(a, dtype=np.float64).ravel()
    xb = np.asarray(b, dtype=np.float64).ravel()
    if xa.size != xb.size:
        raise ValueError(f"paired scores need the same items ({xa.size} vs {xb.size})")
    if xa.size == 0:
        raise ValueError("paired scores need at least one item")
    return xa, xb


def is_binary(values: ArrayLike) -> bool:
    """Every score is 0 or 1 (then McNemar applies)."""
    arr = np.asarray(values, dtype=np.float64)
    return bool(np.all((arr == 0.0) | (arr == 1.0)))


def paired_bootstrap(
    a: ArrayLike,
    b: ArrayLike,
    *,
    level: float = DEFAULT_LEVEL,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Percentile bootstrap interval of ``mean(b - a)``, resampling items (pairs kept)."""
    xa, xb = _pair(a, b)
    return bootstrap_interval(xb - xa, level=level, resamples=resamples, seed=seed)


@dataclass(frozen=True)
class McNemar:
    a_only: int
    """Items right in A and wrong in B."""
    b_only: int
    """Items wrong in A and right in B."""
    p_value: float


def mcnemar_exact(a: ArrayLike, b: ArrayLike) -> McNemar:
    """The exact (binomial) McNemar test: under no difference, the discordant items split
    as Binomial(a_only + b_only, 1/2); the two-sided p-value of ``scipy.stats.binomtest``."""
    xa, xb = _pair(a, b)
    if not (is_binary(xa) and is_binary(xb)):
        raise ValueError("McNemar needs 0/1 scores; use permutation_test for others")
    a_only = int(np.sum((xa == 1.0) & (xb == 0.0)))
    b_only = int(np.sum((xa == 0.0) & (xb == 1.0)))
    return McNemar(a_only, b_only, mcnemar_p(a_only, b_only))


def mcnemar_p(a_only: int, b_only: int) -> float:
    """Exact two-sided McNemar p-value from the two discordant counts."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    from scipy import stats as sps  # imported on first use: it takes most of a second

    return float(sps.binomtest(b_only, n, 0.5, alternative="two-sided").pvalue)


def permutation_test(
    a: ArrayLike, b: ArrayLike, *, resamples: int = DEFAULT_RESAMPLES * 10, seed: int = DEFAULT_SEED
) -> float:
    """Two-sided paired permutation p-value of ``mean(b - a)`` (each item's pair swapped
    at random; ``scipy.stats.permutation_test``, exact when 2^n <= resamples)."""
    xa, xb = _pair(a, b)
    if np.all(xa == xb):
        return 1.0

    def statistic(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], axis: int) -> object:
        return np.mean(y - x, axis=axis)

    from scipy import stats as sps

    res = sps.permutation_test(
        (xa, xb),
        statistic,
        permutation_type="samples",
        vectorized=True,
        n_resamples=resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(min(1.0, res.pvalue))


def minimum_detectable_effect(
    a: ArrayLike, b: ArrayLike, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """The smallest true ``mean(b - a)`` a two-sided paired test at ``alpha`` detects with
    probability ``power`` at this many items and this spread of per-item differences:
    ``(z_{1-alpha/2} + z_{power}) * sd(b - a) / sqrt(n)``. ``nan`` below two items."""
    xa, xb = _pair(a, b)
    if xa.size < 2:
        return math.nan
    sd = float(np.std(xb - xa, ddof=1))
    from scipy import stats as sps

    z = float(sps.norm.ppf(1.0 - alpha / 2.0) + sps.norm.ppf(power))
    return z * sd / math.sqrt(xa.size)
