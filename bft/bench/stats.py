"""Summary statistics over seeds: the mean and a 95% confidence interval.

The interval is Student's t: mean +/- t(0.975, k-1) * s / sqrt(k) for k
values with sample standard deviation s. Quantiles for 1..30 degrees of
freedom are tabulated (to three decimals, as printed in every statistics
text); beyond 30 a Cornish-Fisher expansion around the normal quantile is
accurate to better than 1e-4. Metrics that are null in some runs (e.g.
"rounds to recover" when a run never recovered) are summarised over the runs
that have a value, and ``n`` says how many that was.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import attrs

# t quantiles at 0.975 for 1..30 degrees of freedom.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
_Z975 = 1.959963984540054


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t distribution with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1 (got {df})")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


@attrs.frozen
class Summary:
    """Mean and 95% confidence half-width of one metric over ``n`` runs (None if n < 2)."""

    mean: float | None
    ci95: float | None
    n: int

    def to_json(self) -> dict[str, float | int | None]:
        return {"mean": self.mean, "ci95": self.ci95, "n": self.n}


def summarize(values: Iterable[float | int | bool | None]) -> Summary:
    xs = [x for x in (float(v) for v in values if v is not None) if x == x]  # NaN != NaN
    k = len(xs)
    if k == 0:
        return Summary(None, None, 0)
    mean = math.fsum(xs) / k
    if k == 1:
        return Summary(mean, None, 1)
    if min(xs) == max(xs):  # no spread: exactly zero, not rounding noise from the mean
        return Summary(xs[0], 0.0, k)
    var = math.fsum((x - mean) ** 2 for x in xs) / (k - 1)
    return Summary(mean, t975(k - 1) * math.sqrt(var) / math.sqrt(k), k)
