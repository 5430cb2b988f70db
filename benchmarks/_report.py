"""Ratios, targets, the Markdown table and the chart (pure functions of the results)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["chart", "markdown", "targets"]

CASE_LABEL = {"invoke": "non-stream", "stream": "stream", "tools": "tool-call stream"}
PAIRS = {
    # group: (ours, alternative, framework floor)
    "langchain": ("ChatPowerTokens", "ChatOpenAI", "BaseChatModel, no I/O"),
    "llama-index": ("PowerTokens (llama-index)", "OpenAILike", "CustomLLM, no I/O"),
    "core": ("powertokens (core)", "openai SDK", None),
}
RAW = "raw httpx + json"


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _ratio(x: float) -> str:
    return f"{x:.2f}×"


def floor_of(per_call: dict[str, Any], case: str, mode: str, group: str) -> float | None:
    """Framework floor + raw httpx for one case (None for the core: its floor is httpx)."""
    framework = PAIRS[group][2]
    if framework is None:
        return None
    row = per_call[case][mode]
    return float(row[framework] + row[RAW])


# --- targets -----------------------------------------------------------------------------


def _target(name: str, value: float, limit: float, at_most: bool, note: str = "") -> dict[str, Any]:
    met = value <= limit if at_most else value >= limit
    return {
        "target": name,
        "value": value,
        "limit": f"{'≤' if at_most else '≥'} {limit:g}",
        "met": met,
        "note": "" if met else note,
    }


def _overhead(row: dict[str, float], ours: str, floor: float) -> str:
    """Where ours spends beyond the floor: in the core (vs raw httpx) or the adapter."""
    core = row[PAIRS["core"][0]] - row[RAW]
    extra = row[ours] - floor
    return (
        f"ours spends {fmt_time(extra)} more than framework floor + raw httpx, of which "
        f"the core client {fmt_time(core)} more than raw httpx (the rest: adapter, and "
        "framework work per field/chunk)"
    )


def targets(results: dict[str, Any], stream_chunks: int) -> list[dict[str, Any]]:
    """The issue's targets, each with its measured ratio and, when missed, what bounds it."""
    out: list[dict[str, Any]] = []
    per_call = results.get("per_call") or {}
    cases = (("invoke", "invoke"), ("stream", f"{stream_chunks}-chunk stream"))
    for group, verb in (("langchain", "invoke"), ("llama-index", "chat")) if per_call else ():
        ours, alt, _ = PAIRS[group]
        for case, label in cases:
            label = label.replace("invoke", verb)
            for mode in ("sync", "async"):
                row = per_call[case][mode]
                floor = floor_of(per_call, case, mode, group)
                assert floor is not None
                why = _overhead(row, ours, floor)
                bound = floor / row[alt]
                out.append(
                    _target(
                        f"{ours} {label} ({mode}) ÷ {alt}",
                        row[ours] / row[alt],
                        0.3,
                        True,
                        f"framework floor + raw httpx alone is {bound:.2f}× {alt}"
                        if bound > 0.3
                        else why,
                    )
                )
                out.append(
                    _target(
                        f"{ours} {label} ({mode}) ÷ (framework floor + raw httpx)",
                        row[ours] / floor,
                        1.5,
                        True,
                        why,
                    )
                )
    imports = results.get("imports")
    if imports:
        ours_s = imports["langchain_powertokens"]["seconds"]
        alt_s = imports["langchain_openai"]["seconds"]
        floor_s = imports["BaseChatModel + httpx"]["seconds"]
        out.append(
            _target(
                "import langchain_powertokens ÷ import langchain_openai",
                ours_s / alt_s,
                0.4,
                True,
                f"importing BaseChatModel + httpx alone is {floor_s / alt_s:.2f}× langchain_openai"
                if floor_s / alt_s > 0.4
                else f"ours adds {fmt_time(ours_s - floor_s)} to BaseChatModel + httpx",
            )
        )
    loopback = results.get("loopback")
    if loopback:
        for size, row in loopback["sizes"].items():
            for ours, alt in (
                ("ChatPowerTokens", "ChatOpenAI"),
                ("PowerTokens (llama-index)", "OpenAILike"),
            ):
                value = row[ours]["streams_per_s"] / row[alt]["streams_per_s"]
                core = row[PAIRS["core"][0]]["streams_per_s"]
                out.append(
                    _target(
                        f"{size} concurrent streams/s: {ours} ÷ {alt}",
                        value,
                        1.5,
                        False,
                        f"the core client alone does {core:.0f}/s; the rest is the "
                        "framework's per-chunk work (callbacks, instrumentation) and httpx's "
                        "pool, which both sides pay",
                    )
                )
            for name, figures in row.items():
                if loopback["contenders"][name]["kind"] == "ours":
                    out.append(
                        _target(
                            f"{size} concurrent streams: {name} errors + lost",
                            figures["errors"] + figures["lost"],
                            0,
                            True,
                            figures["first_error"],
                        )
                    )
    memory = results.get("memory")
    if memory:
        for name, figures in memory.items():
            out.append(
                _target(
                    f"RSS growth, 2nd half of {figures['calls']} calls, {name} (MiB)",
                    figures["second_half_growth_mib"],
                    1.0,
                    True,
                )
            )
    return out


# --- Markdown ----------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _per_call_tables(per_call: dict[str, Any], stream_chunks: int) -> list[str]:
    lines: list[str] = []
    for group, (ours, alt, framework) in PAIRS.items():
        header = ["case", ours, alt]
        if framework is not None:
            header += [framework, RAW, f"ours ÷ {alt}", "ours ÷ (floor + httpx)"]
        else:
            header += [RAW, f"ours ÷ {alt}", "ours ÷ raw httpx"]
        rows = []
        for case, case_rows in per_call.items():
            for mode, row in case_rows.items():
                label = CASE_LABEL[case]
                if case == "stream":
                    label = f"{stream_chunks}-chunk stream"
                cells = [f"{label}, {mode}", fmt_time(row[ours]), fmt_time(row[alt])]
                if framework is not None:
                    floor = row[framework] + row[RAW]
                    cells += [
                        fmt_time(row[framework]),
                        fmt_time(row[RAW]),
                        _ratio(row[ours] / row[alt]),
                        _ratio(row[ours] / floor),
                    ]
                else:
                    cells += [
                        fmt_time(row[RAW]),
                        _ratio(row[ours] / row[alt]),
                        _ratio(row[ours] / row[RAW]),
                    ]
                rows.append(cells)
        lines += [f"### Per call: {group} (CPU time per call, mock transport)", ""]
        lines += [*_table(header, rows), ""]
    return lines


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    chunks = meta["stream_chunks"]
    plan = meta["plan"]
    lines = [
        f"## Benchmark results ({meta['mode']} mode)",
        "",
        f"{meta['date']} · Python {meta['python']} · {meta['platform']} · "
        f"{meta['cpus']} CPUs · {meta['seconds']:.0f} s · `python benchmarks/run.py"
        f"{' --quick' if meta['mode'] == 'quick' else ''}`",
        "",
        "Every figure is a median of interleaved rounds, and every ratio compares figures "
        "of the same run. Per call: CPU time per call over an in-process "
        "`httpx.MockTransport` answering identical canned bytes in 4 KiB reads "
        f"({plan['per_call_rounds']} rounds); the floors are raw httpx + json and each "
        "framework's own model doing no I/O, so *floor + httpx* is what any adapter costs "
        "at least. Loopback: wall-clock streams per second against the emulator running "
        "in its own process. Versions: "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
        + ".",
        "",
    ]
    if "per_call" in results:
        lines += _per_call_tables(results["per_call"], chunks)
    loopback = results.get("loopback")
    if loopback:
        sizes = list(loopback["sizes"])
        first = next(iter(loopback["contenders"]))
        header = ["contender"] + [
            f"{s} at once: streams/s ({loopback['sizes'][s][first]['rounds_run']} rounds)"
            for s in sizes
        ]
        header += ["errors", "lost tokens"]
        rows = []
        for name in loopback["contenders"]:
            figures = [loopback["sizes"][s][name] for s in sizes]
            rows.append(
                [name]
                + [f"{f['streams_per_s']:.0f}" for f in figures]
                + [str(sum(f["errors"] for f in figures)), str(sum(f["lost"] for f in figures))]
            )
        lines += [
            f"### Concurrent async streams over loopback (median streams/s, "
            f"{loopback['chunks_per_stream']} chunks each, emulator in its own process)",
            "",
            *_table(header, rows),
            "",
        ]
    imports = results.get("imports")
    if imports:
        floors = {v["group"]: v["seconds"] for v in imports.values() if v["kind"] == "floor"}
        rows = [
            [
                label,
                v["kind"],
                fmt_time(v["seconds"]),
                "" if v["kind"] == "floor" else fmt_time(v["seconds"] - floors[v["group"]]),
            ]
            for label, v in imports.items()
        ]
        lines += [
            "### Import time (fresh process each, median)",
            "",
            *_table(["import", "kind", "time", "above its group's floor"], rows),
            "",
        ]
    memory = results.get("memory")
    if memory:
        rows = [
            [
                name,
                f"{m['rss_start_mib']:.1f} MiB",
                f"{m['growth_mib']:+.2f} MiB",
                f"{m['second_half_growth_mib']:+.2f} MiB",
                f"{m['bytes_per_call']:.1f}",
            ]
            for name, m in memory.items()
        ]
        calls = next(iter(memory.values()))["calls"]
        lines += [
            f"### Memory: resident set over {calls} non-stream calls (fresh process each)",
            "",
            *_table(
                ["contender", "RSS after warm-up", "growth", "growth, 2nd half", "bytes/call"],
                rows,
            ),
            "",
        ]
    rows = [
        [
            t["target"],
            f"{t['value']:.2f}" if isinstance(t["value"], float) else str(t["value"]),
            t["limit"],
            "met" if t["met"] else f"**missed**: {t['note']}",
        ]
        for t in results["targets"]
    ]
    lines += ["### Targets", "", *_table(["target", "measured", "limit", ""], rows), ""]
    return "\n".join(lines)


# --- the chart ---------------------------------------------------------------------------


def chart(results: dict[str, Any], path: Path) -> None:
    """Four panels: per-call cost for each framework, loopback throughput, import time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chunks = results["meta"]["stream_chunks"]
    fig, axes = plt.subplots(2, 2, figsize=(14, 9.5))
    colours = {"ours": "#2b8a3e", "alternative": "#c92a2a", "floor": "#adb5bd"}

    per_call = results.get("per_call")
    for ax, group in ((axes[0][0], "langchain"), (axes[0][1], "llama-index")):
        if per_call is None:
            ax.set_axis_off()
            continue
        ours, alt, framework = PAIRS[group]
        assert framework is not None
        labels, ours_r, floor_r = [], [], []
        for case, case_rows in per_call.items():
            for mode, row in case_rows.items():
                name = f"{chunks}-chunk stream" if case == "stream" else CASE_LABEL[case]
                labels.append(f"{name}, {mode}")
                ours_r.append(row[ours] / row[alt])
                floor_r.append((row[framework] + row[RAW]) / row[alt])
        ys = list(range(len(labels)))
        height = 0.38
        ax.barh([y - height / 2 for y in ys], ours_r, height, label=ours, color=colours["ours"])
        ax.barh([y + height / 2 for y in ys], floor_r, height, color=colours["floor"],
                label=f"{framework} + raw httpx (the floor)")  # fmt: skip
        for y, r in zip(ys, ours_r, strict=True):
            ax.annotate(f" {r:.2f}×", (r, y - height / 2), va="center", fontsize=8)
        ax.axvline(1.0, color=colours["alternative"], linewidth=2, label=f"{alt} = 1")
        ax.axvline(0.3, color="black", linestyle="--", linewidth=0.8, label="target ≤ 0.3×")
        ax.set_yticks(ys, labels, fontsize=9)
        ax.invert_yaxis()
        ax.set_xlim(0, max(1.1, *ours_r, *floor_r) * 1.05)
        ax.set_xlabel(f"CPU time per call ÷ {alt}'s  (lower is faster)")
        ax.set_title(f"{group}: per-call cost, mock transport")
        ax.legend(fontsize=8, loc="lower right")

    ax = axes[1][0]
    loopback = results.get("loopback")
    if loopback:
        names = list(loopback["contenders"])
        sizes = list(loopback["sizes"])
        height = 0.8 / len(sizes)
        shades = ("#74c0fc", "#1c7ed6", "#0b4f8a")
        for i, size in enumerate(sizes):
            rates = [loopback["sizes"][size][n]["streams_per_s"] for n in names]
            ax.barh([y + i * height for y in range(len(names))], rates, height,
                    label=f"{size} streams at once", color=shades[i % len(shades)])  # fmt: skip
        ticks = [y + height * (len(sizes) - 1) / 2 for y in range(len(names))]
        kinds = [loopback["contenders"][n]["kind"] for n in names]
        ax.set_yticks(ticks, names)
        for tick, kind in zip(ax.get_yticklabels(), kinds, strict=True):
            tick.set_color(colours["ours"] if kind == "ours" else "black")
        ax.invert_yaxis()
        ax.set_xlabel("streams per second (higher is better)")
        ax.set_title("concurrent async streams, loopback HTTP to the emulator")
        ax.legend(fontsize=8, loc="lower right")
    else:
        ax.set_axis_off()

    ax = axes[1][1]
    imports = results.get("imports")
    if imports:
        labels = list(imports)
        ax.barh(
            labels,
            [imports[label]["seconds"] for label in labels],
            color=[colours[imports[label]["kind"]] for label in labels],
        )
        ax.invert_yaxis()
        ax.set_xlabel("seconds (fresh process, median)")
        ax.set_title("import time: ours green, alternative red, floor grey")
    else:
        ax.set_axis_off()

    fig.suptitle(
        f"PowerTokens against the clients users would pick instead ({results['meta']['mode']} mode)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
