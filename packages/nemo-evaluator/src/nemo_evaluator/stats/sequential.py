"""A sequential paired test for comparisons that stop as soon as they are decided.

Rule: a mixture sequential probability ratio test (mSPRT; Robbins 1970, Johari et al. 2017)
on the discordant items of two 0/1-scored runs. Under "no difference" each discordant item
is B's win with probability 1/2. The test statistic is the likelihood ratio of a uniform
Beta(1, 1) mixture over that probability against 1/2::

    LR_n = B(w + 1, n - w + 1) / 0.5^n      (w of n discordant items won by B)

Under no difference ``LR_n`` is a non-negative martingale with mean 1, so by Ville's
inequality ``P(LR_n >= 1/alpha for some n) <= alpha``: the type-I error stays below alpha
however often it is looked at and whenever the comparison stops. It decides (B better or
A better, by the sign of the split) the first time ``LR_n >= 1/alpha``; the always-valid
p-value is ``min(1, 1 / max_n LR_n)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def log_likelihood_ratio(b_only: int, a_only: int) -> float:
    """log LR of the Beta(1, 1) mixture against 1/2 for the discordant split."""
    from scipy.special import betaln  # imported on first use

    n = a_only + b_only
    return float(betaln(b_only + 1, a_only + 1) + n * math.log(2.0))


@dataclass
class SequentialTest:
    """Feed discordant counts as they grow; ``decision`` becomes ``"B"`` or ``"A"`` once
    decided and stays so (a decided comparison stops)."""

    alpha: float = 0.05
    a_only: int = 0
    b_only: int = 0
    max_log_lr: float = 0.0
    decision: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be between 0 and 1 (got {self.alpha})")

    @property
    def threshold(self) -> float:
        """log(1 / alpha)."""
        return -math.log(self.alpha)

    @property
    def p_value(self) -> float:
        """The always-valid p-value, ``min(1, 1 / max LR)``."""
        return min(1.0, math.exp(-self.max_log_lr))

    def update(self, *, a_only: int, b_only: int) -> str | None:
        """Record the discordant counts so far (they only grow); returns the decision."""
        if a_only < self.a_only or b_only < self.b_only:
            raise ValueError("discordant counts only grow in a sequential test")
        self.a_only, self.b_only = a_only, b_only
        self.max_log_lr = max(self.max_log_lr, log_likelihood_ratio(b_only, a_only))
        if self.decision is None and self.max_log_lr >= self.threshold:
            self.decision = "B" if b_only > a_only else "A"
        return self.decision
