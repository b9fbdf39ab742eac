"""pass@k and pooled stderr against hand-computed values."""

from __future__ import annotations

import math

import pytest

from nemo_evaluator.benchmarks.metrics import first_argmax, pass_at_k, pooled_stderr


def chen_product_form(n: int, c: int, k: int) -> float:
    """The numerically stable form from the Codex paper, written independently."""
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (5, 2, 1, 0.4),  # pass@1 is c / n
        (10, 1, 5, 0.5),  # 1 - C(9,5)/C(10,5) = 1 - 126/252
        (10, 3, 10, 1.0),  # n - c < k
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (20, 0, 10, 0.0),
    ],
)
def test_pass_at_k_hand_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)
    assert pass_at_k(n, c, k) == pytest.approx(chen_product_form(n, c, k))


def test_pass_at_k_large_n_and_bad_input() -> None:
    assert pass_at_k(200, 13, 100) == pytest.approx(chen_product_form(200, 13, 100))
    assert pass_at_k(100, 10, 10) == pytest.approx(0.6695237889, abs=1e-9)
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 10)


def test_pooled_stderr_matches_concatenated_samples_roughly() -> None:
    a = [1.0] * 30 + [0.0] * 70
    b = [1.0] * 60 + [0.0] * 40

    def se(xs: list[float]) -> float:
        m = sum(xs) / len(xs)
        return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1) / len(xs))

    pooled = pooled_stderr([se(a), se(b)], [100, 100])
    hand = math.sqrt((99 * se(a) ** 2 * 100 + 99 * se(b) ** 2 * 100) / 198 / 200)
    assert pooled == pytest.approx(hand)
    assert pooled == pytest.approx(se(a + b), rel=0.1)  # the stated intent of the formula


def test_first_argmax() -> None:
    assert first_argmax([-1.0, -0.5, -0.5]) == 1
    assert first_argmax([3.0]) == 0
