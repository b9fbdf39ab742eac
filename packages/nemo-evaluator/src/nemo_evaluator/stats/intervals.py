"""Confidence intervals of a mean: analytic (normal), seeded percentile bootstrap, and the
cluster-robust standard error of Miller, "Adding Error Bars to Evals" (2024).

::

    analytic_interval(scores, level=0.95)
    bootstrap_interval(scores, level=0.95, resamples=1000, seed=0)
    bootstrap_intervals([strict, flexible])   # metrics of the same items: one set of draws
    clustered_interval(scores, clusters=doc_ids, level=0.95)   # repeats of one document
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_LEVEL = 0.95
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
_STANDARD_NORMAL = NormalDist()
_BATCH_ELEMENTS = 1 << 19
"""Bootstrap draws held at once (resamples x items, ~4 MB of float64): memory stays flat with
the item count. The draws come from one seeded stream in order, so the batch size does not
change the interval."""


@dataclass(frozen=True)
class Interval:
    """A two-sided interval of a mean (or a difference of means) at ``level``."""

    method: str
    """``analytic``, ``bootstrap`` or ``clustered``."""
    level: float
    low: float
    high: float
    stderr: float | None = None
    seed: int | None = None
    resamples: int | None = None
    clusters: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _values(values: Sequence[float] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError("an interval needs at least one value")
    return arr


def _check_level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1 (got {level})")
    return level


def z_value(level: float) -> float:
    """The two-sided normal quantile of ``level`` (1.959964 for 0.95).

    The standard library's inverse normal CDF agrees with ``scipy.stats.norm.ppf`` to 1e-15;
    importing ``scipy.stats`` for it would cost every run 1 to 2 s of its finish."""
    return _STANDARD_NORMAL.inv_cdf(0.5 + _check_level(level) / 2.0)


def stderr_of_mean(values: Sequence[float] | npt.ArrayLike) -> float | None:
    """Sample standard deviation (n - 1) over sqrt(n); ``None`` below two values."""
    arr = _values(values)
    if arr.size < 2:
        return None
    return float(np.std(arr, ddof=1) / math.sqrt(arr.size))


def analytic_interval(
    values: Sequence[float] | npt.ArrayLike, *, level: float = DEFAULT_LEVEL
) -> Interval:
    """mean +- z * stderr (the central limit theorem; the interval lm-eval's stderr implies)."""
    arr = _values(values)
    se = stderr_of_mean(arr) or 0.0
    mean, half = float(arr.mean()), z_value(level) * se
    return Interval("analytic", level, mean - half, mean + half, stderr=se)


def _type7_quantile(ordered: npt.NDArray[np.float64], q: float) -> float:
    """Hyndman and Fan's type 7 (linear) quantile of sorted values, in the arithmetic of
    ``scipy.stats.quantile`` (``np.quantile`` can differ from it in the last bit)."""
    n = ordered.size
    position = q * n + (1.0 - q)
    j = math.floor(position) - 1
    g = 0.0 if j < 0 else position % 1.0
    lo, hi = min(max(j, 0), n - 1), min(max(j + 1, 0), n - 1)
    return float((1.0 - g) * ordered[lo] + g * ordered[hi])


def bootstrap_interval(
    values: Sequence[float] | npt.ArrayLike,
    *,
    level: float = DEFAULT_LEVEL,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Percentile bootstrap of the mean, seeded, reproducible.

    The same draws and quantiles as ``scipy.stats.bootstrap(..., method="percentile")`` with
    ``rng=np.random.default_rng(seed)`` (a test holds the two equal), written with numpy
    because importing ``scipy.stats`` costs every run 1 to 2 s for a few lines of arithmetic.
    """
    return bootstrap_intervals([values], level=level, resamples=resamples, seed=seed)[0]


def bootstrap_intervals(
    columns: Sequence[Sequence[float] | npt.ArrayLike],
    *,
    level: float = DEFAULT_LEVEL,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> list[Interval]:
    """:func:`bootstrap_interval` of each column, the columns scoring the same items (a
    task's metrics): one set of draws serves them all, each interval the one the column
    gets alone. The draws (1,000 x items integers) are most of a bootstrap's time."""
    arrays = [_values(c) for c in columns]
    if len({a.size for a in arrays}) > 1:
        raise ValueError(f"columns of different sizes: {sorted({a.size for a in arrays})}")
    if resamples < 1:
        raise ValueError(f"resamples must be positive (got {resamples})")
    alpha = (1.0 - _check_level(level)) / 2.0
    out: dict[int, Interval] = {}  # column -> its interval
    for column, a in enumerate(arrays):
        if a.size < 2 or np.all(a == a[0]):
            mean = float(a.mean())
            out[column] = Interval("bootstrap", level, mean, mean, 0.0, seed, resamples)
    varied = [column for column in range(len(arrays)) if column not in out]
    if not varied:
        return [out[column] for column in range(len(arrays))]
    n = arrays[0].size
    rng = np.random.default_rng(seed)
    # the seeded stream is the same however it is cut into batches; each column is gathered
    # and averaged on its own, as alone (a mean over a 3-d gather can differ in the last bit)
    batch = max(1, min(resamples, _BATCH_ELEMENTS // n))
    means = np.empty((len(varied), resamples), dtype=np.float64)
    for start in range(0, resamples, batch):
        rows = min(batch, resamples - start)
        draws = rng.integers(0, n, (rows, n))
        for row, column in enumerate(varied):
            means[row, start : start + rows] = arrays[column][draws].mean(-1)
    for column, dist in zip(varied, means, strict=True):
        ordered = np.sort(dist)
        out[column] = Interval(
            "bootstrap",
            level,
            _type7_quantile(ordered, alpha),
            _type7_quantile(ordered, 1.0 - alpha),
            float(np.std(dist, ddof=1)) if resamples > 1 else None,
            seed,
            resamples,
        )
    return [out[column] for column in range(len(arrays))]


def clustered_stderr(
    values: Sequence[float] | npt.ArrayLike, clusters: Sequence[Any] | npt.ArrayLike
) -> float | None:
    """Cluster-robust stderr of the mean (Miller 2024, eq. 4):
    ``sqrt(sum_c (sum_{i in c} (x_i - mean))^2) / n``. Equals the plain stderr times
    sqrt((n-1)/n) when every item is its own cluster; ``None`` below two clusters."""
    arr = _values(values)
    labels = np.asarray(clusters, dtype=object).ravel()
    if labels.size != arr.size:
        raise ValueError(f"{arr.size} values but {labels.size} cluster labels")
    _, codes = np.unique(labels.astype(str), return_inverse=True)
    sums = np.bincount(codes, weights=arr - arr.mean())
    if sums.size < 2:
        return None
    return float(math.sqrt(float(np.sum(sums**2))) / arr.size)


def clustered_interval(
    values: Sequence[float] | npt.ArrayLike,
    *,
    clusters: Sequence[Any] | npt.ArrayLike,
    level: float = DEFAULT_LEVEL,
) -> Interval:
    """mean +- z * the clustered stderr."""
    arr = _values(values)
    se = clustered_stderr(arr, clusters) or 0.0
    count = int(np.unique(np.asarray(clusters, dtype=object).astype(str)).size)
    mean, half = float(arr.mean()), z_value(level) * se
    return Interval("clustered", level, mean - half, mean + half, stderr=se, clusters=count)


def score_intervals(
    values: Sequence[float] | npt.ArrayLike,
    *,
    clusters: Sequence[Any] | None = None,
    level: float = DEFAULT_LEVEL,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    bootstrap: Interval | None = None,
) -> list[Interval]:
    """The intervals every aggregate score records: analytic and bootstrap, plus the
    clustered one when ``clusters`` holds at least two clusters and fewer than the items.
    ``bootstrap``: the bootstrap interval when already drawn (:func:`bootstrap_intervals`
    of several metrics at once)."""
    arr = _values(values)
    out = [
        analytic_interval(arr, level=level),
        bootstrap or bootstrap_interval(arr, level=level, resamples=resamples, seed=seed),
    ]
    if clusters is not None:
        count = len({str(c) for c in clusters})
        if 2 <= count < arr.size:
            out.append(clustered_interval(arr, clusters=clusters, level=level))
    return out
