"""The table and the checks that ``bench/adapter_overhead.py`` prints after its run.

Ours against the targets, against ``--floor`` and ``--baseline-src`` when they ran, and against
NVIDIA's releases, every figure from the same run.
"""

from __future__ import annotations

import os


def report(
    rows: dict[tuple[str, int], dict],
    *,
    levels: list[int],
    releases: list[str],
    stub_engine: str,
    floor: bool,
    baseline: bool,
    waitress: bool = False,
) -> None:
    """Print every row, then each check with ours, the target or theirs, and whether met."""
    print(
        f"\nAdapter overhead on {os.cpu_count()} CPUs (upstream: {stub_engine} stub, "
        "answers at once)\n"
    )
    print(
        f"{'mode':<14} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs direct':>9} "
        f"{'errors':>6} {'server CPU ms/req':>18}"
    )
    for (mode, c), r in rows.items():
        ratio = r["rps"] / rows["direct", c]["rps"]
        cpu = "" if r["cpu_ms"] is None else f"{r['cpu_ms']:.3f}"
        print(
            f"{mode:<14} {c:>4} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{ratio:>8.0%} {r['errors']:>6} {cpu:>18}"
        )
    print(
        "\nserver CPU: user + system seconds of the process answering (the stub for direct, "
        "the proxy, NVIDIA's proxy) per request; for client mode this process's, calling "
        "threads included"
    )
    c1, c64 = min(levels), max(levels)
    added_miss = rows["proxy-miss", c1]["p50_ms"] - rows["direct", c1]["p50_ms"]
    added_hit = rows["proxy-hit", c1]["p50_ms"] - rows["direct", c1]["p50_ms"]
    tp_proxy = rows["proxy-miss", c64]["rps"] / rows["direct", c64]["rps"]
    tp_client = rows["client", c64]["rps"] / rows["direct", c64]["rps"]
    checks = [
        (f"added p50, miss, conc {c1}", f"{added_miss:+.2f} ms", "<= +0.80 ms", added_miss <= 0.8),
        (f"added p50, hit, conc {c1}", f"{added_hit:+.2f} ms", "<= +0.50 ms", added_hit <= 0.5),
        (f"proxy throughput, conc {c64}", f"{tp_proxy:.0%} of direct", ">= 70%", tp_proxy >= 0.70),
        (
            f"client mode throughput, conc {c64}",
            f"{tp_client:.0%} of direct",
            ">= 90%",
            tp_client >= 0.90,
        ),
    ]
    cpu_miss = rows["proxy-miss", c64]["cpu_ms"]
    checks.append(
        (
            f"proxy CPU per request, miss, conc {c64}",
            f"{cpu_miss:.3f} ms",
            "~0.6 ms (70%)",
            cpu_miss <= 0.6,
        )
    )

    def share_and_cpu(mode: str, c: int) -> str:
        """``mode``'s throughput as a share of direct and its CPU ms per request at ``c``."""
        row = rows[mode, c]
        return f"{row['rps'] / rows['direct', c]['rps']:.0%} {row['cpu_ms']:.3f}"

    if floor:
        for c in levels:
            label = f"vs bare waitress floor, conc {c}: of direct, CPU"
            checks.append((label, share_and_cpu("proxy-miss", c), share_and_cpu("floor", c), None))
    if waitress:
        for c in levels:
            label = f"vs our waitress engine, conc {c}: of direct, CPU"
            better = rows["proxy-miss", c]["cpu_ms"] < rows["wsgi-miss", c]["cpu_ms"]
            checks.append(
                (label, share_and_cpu("proxy-miss", c), share_and_cpu("wsgi-miss", c), better)
            )
    if baseline:
        for c in levels:
            label = f"vs baseline, conc {c}: of direct, CPU"
            better = rows["proxy-miss", c]["cpu_ms"] < rows["base-miss", c]["cpu_ms"]
            checks.append(
                (label, share_and_cpu("proxy-miss", c), share_and_cpu("base-miss", c), better)
            )
        was_added = rows["base-miss", c1]["p50_ms"] - rows["direct", c1]["p50_ms"]
        checks.append(
            (
                f"vs baseline: added p50, miss, conc {c1}",
                f"{added_miss:+.2f} ms",
                f"{was_added:+.2f} ms",
                added_miss < was_added,
            )
        )
    for r in releases:
        nv_miss = rows[f"nv-{r}-miss", c1]["p50_ms"] - rows["direct", c1]["p50_ms"]
        checks.append(
            (
                f"added p50, miss, conc {c1}, vs {r}",
                f"{added_miss:+.2f} ms",
                f"{nv_miss:+.2f} ms",
                added_miss < nv_miss,
            )
        )
        for c in levels:
            ours = rows["proxy-miss", c]["rps"] / rows["direct", c]["rps"]
            them = rows[f"nv-{r}-miss", c]["rps"] / rows["direct", c]["rps"]
            checks.append(
                (
                    f"proxy throughput, conc {c}, vs {r}",
                    f"{ours:.0%} of direct",
                    f"{them:.0%}",
                    ours > them,
                )
            )
    print(f"\n{'check':<42} {'ours':>16} {'target/theirs':>14}  met")
    for name, ours, target, ok in checks:
        met = "info" if ok is None else "yes" if ok else "NO"
        print(f"{name:<42} {ours:>16} {target:>14}  {met}")
