"""The harness's results as a Markdown table and a PNG plot of latency against throughput."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _ms(d: dict[str, float]) -> str:
    return f"{d['p50']:.2f} / {d['p95']:.2f} / {d['p99']:.2f}"


def _throughput_rows(name: str, t: dict[str, Any]) -> list[str]:
    cpu = t.get("cpu_percent_at_max") or {}
    gw = sum(v for k, v in cpu.items() if k.startswith("gateway"))
    ad = sum(v for k, v in cpu.items() if k.startswith("adapter"))
    other = {k: v for k, v in cpu.items() if not k.startswith(("gateway", "adapter"))}
    extra = ", ".join(f"{k} {v:.0f}%" for k, v in other.items())
    per = t.get("cpu_ms_per_lookup_at_max") or {}
    gw_ms = sum(v for k, v in per.items() if k.startswith("gateway"))
    ad_ms = sum(v for k, v in per.items() if k.startswith("adapter"))
    total = t.get("cpu_ms_per_lookup_total_at_max") or 0.0
    return [
        f"| {name} | {t['max_sustained_lookups_per_s']:.0f} | {t['at_concurrency']} "
        f"| {gw:.0f}% | {ad:.0f}% | {extra} | {gw_ms:.2f} / {ad_ms:.2f} / {total:.2f} |"
    ]


def markdown(r: dict[str, Any]) -> str:
    lines = [f"# fedgate benchmark ({r['started']})", ""]
    m = r["machine"]
    lines += [
        f"{m['cpus']} CPUs, {m['memory_gib']} GiB, Python {m['python']}; every process on this machine. "
        f"Data: {r['parameters']['people']:,} synthetic people; rows per agency: "
        + ", ".join(f"{a} {next(iter(t.values())):,}" for a, t in r["data"].items())
        + ".",
        "",
    ]
    lat = r.get("latency_embedded")
    if lat:
        lines += [
            "## (a) Latency, sequential, ms (p50 / p95 / p99)",
            "",
            "| call | p50 / p95 / p99 |",
            "|---|---|",
        ]
        lines.append(f"| lookup through the gateway, embedded policy | {_ms(lat['gateway']['latency_ms'])} |")
        if "latency_opa" in r:
            lines.append(
                "| lookup through the gateway, OPA server "
                f"| {_ms(r['latency_opa']['gateway']['latency_ms'])} |"
            )
        for agency, d in lat.get("direct", {}).items():
            lines.append(f"| direct mTLS call to the {agency} adapter | {_ms(d['latency_ms'])} |")
        ratio = lat.get("ratio_p50", {})
        if ratio:
            lines += [
                "",
                "**Ratio of p50s, gateway lookup / direct call: "
                f"{ratio['vs_police']} against the police adapter, "
                f"{ratio['vs_slowest_adapter']} against the slowest adapter ({ratio['slowest_adapter']}), "
                f"{ratio['vs_median_adapter']} against the median adapter.**",
            ]
        lines.append("")
    rows = []
    for key, name in (
        ("throughput_embedded", "embedded policy, SQLite log"),
        ("throughput_opa", "OPA server, SQLite log"),
    ):
        if key in r:
            rows += _throughput_rows(name, r[key])
    so = r.get("scale_out", {})
    for n in (1, 2):
        if f"gateways_{n}" in so:
            rows += _throughput_rows(f"{n} gateway process(es), PostgreSQL log", so[f"gateways_{n}"])
    if rows:
        lines += [
            "## (b, c, d) Maximum sustained lookups/s (closed loop, p99 ≤ 50 ms)",
            "",
            "CPU as % of one core, per process, at that point.",
            "",
            "| configuration | lookups/s | concurrency | gateway CPU | adapters CPU (sum) | other "
            "| CPU ms per lookup: gateway / adapters / all |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
        if so.get("two_over_one") is not None:
            lines.append(f"Two gateway processes / one: {so['two_over_one']}×.")
        if "audit_verify" in so:
            v = so["audit_verify"]
            lines.append(
                f"Shared PostgreSQL log after both runs: `fedgate audit verify` exit {v['exit_code']}."
            )
        lines.append("")
    man = r.get("manifest")
    if man:
        if "skipped" in man:
            lines += [f"## (e) Manifest: {man['skipped']}", ""]
        else:
            lines += [
                "## (e) Manifest screening",
                "",
                f"{man['travellers']} travellers: one streaming call {man['manifest_s']:.2f} s; "
                f"the same lookups one by one {man['sequential_s']:.2f} s ({man['speedup']}× faster).",
                "",
            ]
    soak = r.get("soak")
    if soak:
        lines += [
            f"## (f) Soak: {soak['seconds']:.0f} s at {soak['target_rate']}/s (80% of max)",
            "",
            f"{soak['lookups']} lookups, achieved {soak['lookups_per_s']}/s, "
            f"latency {_ms(soak['latency_ms'])} ms, "
            f"errors {soak['errors'] or 'none'}, agency faults {soak['agency_faults'] or 'none'}.",
            "",
            "| process | RSS MiB first → last (max) | RSS slope MiB/min | fds first → last (max) |",
            "|---|---|---|---|",
        ]
        for name, p in soak["processes"].items():
            lines.append(
                f"| {name} | {p['rss_mib_first']} → {p['rss_mib_last']} ({p['rss_mib_max']}) | "
                f"{p['rss_mib_per_min']} | {p['fds_first']:.0f} → {p['fds_last']:.0f} ({p['fds_max']:.0f}) |"
            )
        lines.append("")
    if r.get("audit_verify_sqlite"):
        v = r["audit_verify_sqlite"]
        lines.append(f"SQLite log after the embedded runs: `fedgate audit verify` exit {v['exit_code']}.")
        lines.append("")
    return "\n".join(lines)


def plot(r: dict[str, Any], path: Path) -> None:
    """p50 and p99 latency against achieved throughput, one line per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = []
    for key, name in (("throughput_embedded", "embedded"), ("throughput_opa", "OPA server")):
        if key in r:
            series.append((name + ", SQLite", r[key]["steps"]))
    for n in (1, 2):
        steps = r.get("scale_out", {}).get(f"gateways_{n}", {}).get("steps")
        if steps:
            series.append((f"{n} gateway(s), PostgreSQL", steps))
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    for name, steps in series:
        xs = [s["lookups_per_s"] for s in steps]
        (line,) = ax.plot(xs, [s["latency_ms"]["p50"] for s in steps], marker="o", label=f"{name} p50")
        ax.plot(
            xs,
            [s["latency_ms"]["p99"] for s in steps],
            marker="x",
            linestyle="--",
            color=line.get_color(),
            label=f"{name} p99",
        )
    ax.axhline(50, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("lookups/s (closed loop; concurrency doubles per point)")
    ax.set_ylabel("latency, ms")
    ax.set_yscale("log")
    ax.set_title("fedgate: federated lookup latency against throughput")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
