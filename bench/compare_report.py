"""The figures of bench/compare.py: each side's rounds summed up, the ratio, the
targets, and the markdown report (printed, and written into docs/performance.md
between its markers with --write-docs)."""

from __future__ import annotations

import statistics

from bench.compare_scenarios import (
    BCRYPT_SHARE_TARGET,
    RATIO_SCENARIOS,
    RATIO_TARGET,
    RESET_TOLERANCE,
    SCENARIOS,
    TAIL_TARGET,
)
from bench.run import ROOT

DOCS = ROOT / "docs" / "performance.md"
MARK_START = "<!-- bench-evershop:start -->"
MARK_END = "<!-- bench-evershop:end -->"


def errors_text(figures: dict) -> str:
    """Non-2xx answers, with their statuses when there are any: ``12 (500×10, 409×2)``."""
    statuses = figures.get("error_statuses") or {}
    if not statuses:
        return str(figures["non2xx"])
    counts = sorted(statuses.items(), key=lambda item: -item[1])
    return f"{figures['non2xx']} ({', '.join(f'{s}×{n}' for s, n in counts)})"


def describe(run: dict) -> str:
    """One run on one line, for the progress log."""
    text = (
        f"{run['rps']} req/s, p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms, "
        f"non-2xx {errors_text(run)}, socket errors {run['socket_errors']}"
    )
    if run.get("stalled"):
        text += ", STALLED"
    if run.get("error_sample"):
        text += f"; first error: {run['error_sample'][:160]}"
    return text


def spread(values: list[float]) -> dict:
    """Median, min, max, and max − min as a percentage of the median."""
    median = statistics.median(values)
    low, high = min(values), max(values)
    return {
        "median": round(median, 1),
        "min": round(low, 1),
        "max": round(high, 1),
        "spread_pct": round((high - low) / median * 100, 1) if median else None,
    }


def summarise(rounds: list[dict]) -> dict:
    """One side's rounds of a scenario: medians, spread, and what went wrong."""
    requests = sum(r["requests"] for r in rounds)
    non2xx = sum(r["non2xx"] for r in rounds)
    statuses: dict[str, int] = {}
    for r in rounds:
        for status, count in (r.get("error_statuses") or {}).items():
            statuses[status] = statuses.get(status, 0) + count
    return {
        "rps": spread([r["rps"] for r in rounds]),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in rounds), 2),
        "p90_ms": round(statistics.median(r["p90_ms"] for r in rounds), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in rounds), 2),
        "requests": requests,
        "non2xx": non2xx,
        "non2xx_share": round(non2xx / requests, 4) if requests else None,
        "error_statuses": statuses,
        "socket_errors": sum(r["socket_errors"] for r in rounds),
        "stalled_rounds": sum(1 for r in rounds if r.get("stalled")),
    }


def ratio(ours: dict, evershop: dict) -> float | None:
    """The service's median req/s over EverShop's; None where EverShop's median
    is nothing, or most of its answers are errors (a rate of errors is no
    comparison)."""
    theirs = evershop["rps"]["median"]
    if not theirs or (evershop["non2xx_share"] or 0) > 0.5:
        return None
    return round(ours["rps"]["median"] / theirs, 2)


def check_targets(result: dict) -> list[dict]:
    """The issue's targets against this run's figures."""
    found = []
    scenarios = result["scenarios"]

    def runs(name):
        return scenarios.get(name, {}).get("runs", [])

    for name in RATIO_SCENARIOS:
        for run in runs(name):
            value = run["ratio"]
            stalled = run["evershop"]["stalled_rounds"]
            found.append(
                {
                    "target": f"{name} ≥ {RATIO_TARGET:g}× EverShop",
                    "connections": run["connections"],
                    "value": f"{value:g}×" if value is not None else "no ratio",
                    "met": None if value is None else value >= RATIO_TARGET,
                    "note": f"EverShop stalled in {stalled} round(s)" if stalled else "",
                }
            )
        for run in runs(name):
            if run["connections"] == 32:
                ours = run["ours"]
                found.append(
                    {
                        "target": f"{name}: p99 ≤ {TAIL_TARGET:g}× p50 at 32 connections",
                        "connections": 32,
                        "value": f"p50 {ours['p50_ms']} ms, p99 {ours['p99_ms']} ms",
                        "met": ours["p99_ms"] <= TAIL_TARGET * ours["p50_ms"],
                        "note": "",
                    }
                )
    ceiling = result["ceilings"].get("bcrypt", {}).get("median")
    for name in ("create_customer", "customer_token"):
        for run in runs(name):
            if not ceiling:
                continue
            share = run["ours"]["rps"]["median"] / ceiling
            found.append(
                {
                    "target": f"{name} ≥ {BCRYPT_SHARE_TARGET:.0%} of the bcrypt ceiling",
                    "connections": run["connections"],
                    "value": f"{share:.0%} ({run['ours']['rps']['median']} of {ceiling} hashes/s)",
                    "met": share >= BCRYPT_SHARE_TARGET,
                    "note": "",
                }
            )
    known = {r["connections"]: r["ours"] for r in runs("reset_known")}
    unknown = {r["connections"]: r["ours"] for r in runs("reset_unknown")}
    for conns in sorted(set(known) & set(unknown)):
        a, b = known[conns], unknown[conns]
        rps = relative_difference(a["rps"]["median"], b["rps"]["median"])
        p50 = relative_difference(a["p50_ms"], b["p50_ms"])
        found.append(
            {
                "target": "reset-password: known and unknown emails within "
                f"{RESET_TOLERANCE:.0%} (req/s and p50)",
                "connections": conns,
                "value": f"req/s {a['rps']['median']} vs {b['rps']['median']} ({rps:.0%}), "
                f"p50 {a['p50_ms']} vs {b['p50_ms']} ms ({p50:.0%})",
                "met": rps <= RESET_TOLERANCE and p50 <= RESET_TOLERANCE,
                "note": f"EVENTS_DELIVERY={result['service']['events_delivery']}",
            }
        )
    return found


def relative_difference(a: float, b: float) -> float:
    """|a − b| over the larger of the two."""
    return abs(a - b) / max(a, b) if max(a, b) else 0.0


def _pct(value) -> str:
    return "-" if value is None else f"{value:g}%"


def markdown(result: dict) -> str:
    """The report: how it was measured, the table, the ceilings, the targets."""
    lines = [*_intro(result), "", *_table(result), "", *_ceilings(result)]
    notes = sorted(
        {
            f"- `{name}`: {SCENARIOS[name].evershop_what}."
            for name in result["scenarios"]
            if SCENARIOS[name].evershop_what
        }
    )
    if notes:
        lines += ["", *notes]
    if result["targets"]:
        lines += ["", "| target | conns | measured | met | note |", "|---|---|---|---|---|"]
        for t in result["targets"]:
            met = {True: "yes", False: "**no**", None: "-"}[t["met"]]
            lines.append(
                f"| {t['target']} | {t['connections']} | {t['value']} | {met} | {t['note']} |"
            )
    return "\n".join(lines)


def _intro(result: dict) -> list[str]:
    """The machine, the commit, the command, and both sides' settings."""
    m, s, svc = result["machine"], result["settings"], result["service"]
    commit = result["commit"] + (" with uncommitted changes" if result["dirty"] else "")
    return [
        f"Measured {result['date']} UTC on {m['nproc']} cores ({m['cpu']}), "
        f"{m['memory_gib']} GiB, PostgreSQL {m['postgresql']}, Python {m['python']}, "
        f"Node {m['node']}, wrk {m['wrk']}, kernel {m['kernel']}; load average "
        f"{', '.join(map(str, m['load_average_at_start']))} at the start. Commit `{commit}`, "
        f"command `{result['command']}`, results `{result['results_file']}`.",
        "",
        f"The service: gunicorn, {svc['workers']} sync workers, APP_ENV=production, "
        f"LOG_LEVEL={svc['log_level']}, BCRYPT_ROUNDS={svc['bcrypt_rounds']}, "
        f"RATELIMIT_ENABLED=false, EVENTS_DELIVERY={svc['events_delivery']}. EverShop "
        f"{result['evershop']['version']}: its production build, `evershop start`. "
        f"{s['seed_customers']} customers with 2 addresses each and "
        f"{s['seed_spare_customers']} without, the same rows on both. Per scenario and "
        f"connection count: a {s['warmup_s']:g} s warm-up on each side, then "
        f"{s['rounds']} alternating rounds of {s['duration_s']:g} s (service first).",
    ]


def _table(result: dict) -> list[str]:
    """A row per scenario and connection count, both sides side by side."""
    lines = [
        "| scenario | conns | service req/s | spread | EverShop req/s | spread | ratio "
        "| service p50 / p99 ms | EverShop p50 / p99 ms | non-2xx service / EverShop "
        "| socket errors service / EverShop | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in result["scenarios"].items():
        for run in entry["runs"]:
            ours, theirs = run["ours"], run["evershop"]
            shown_ratio = "-" if run["ratio"] is None else f"{run['ratio']:g}×"
            lines.append(
                f"| {name} | {run['connections']} | {ours['rps']['median']} "
                f"| {_pct(ours['rps']['spread_pct'])} | {theirs['rps']['median']} "
                f"| {_pct(theirs['rps']['spread_pct'])} | {shown_ratio} "
                f"| {ours['p50_ms']} / {ours['p99_ms']} | {theirs['p50_ms']} / {theirs['p99_ms']} "
                f"| {errors_text(ours)} / {errors_text(theirs)} "
                f"| {ours['socket_errors']} / {theirs['socket_errors']} "
                f"| {'; '.join(_notes(name, run, result))} |"
            )
    lines += [
        "",
        "Medians of the rounds; spread: (max − min) / median of the rounds' req/s; ratio: "
        "the service's median req/s over EverShop's; latencies: medians of the rounds' "
        "percentiles.",
    ]
    return lines


def _notes(name: str, run: dict, result: dict) -> list[str]:
    """What a row's figures need said: shares of the ceilings, stalls, errors."""
    scenario, rounds = SCENARIOS[name], result["settings"]["rounds"]
    ours, theirs = run["ours"], run["evershop"]
    ceiling = result["ceilings"].get("bcrypt", {}).get("median")
    js_ceiling = result["ceilings"].get("bcryptjs", {}).get("median")
    notes = []
    if scenario.bound == "bcrypt" and ceiling:
        notes.append(f"service {ours['rps']['median'] / ceiling:.0%} of bcrypt")
        if js_ceiling and run["ratio"] is not None:
            notes.append(f"EverShop {theirs['rps']['median'] / js_ceiling:.0%} of bcryptjs")
    if scenario.evershop != scenario.ours:
        notes.append(f"EverShop: {scenario.evershop}")
    for side, label in ((theirs, "EverShop"), (ours, "service")):
        if side["stalled_rounds"]:
            notes.append(f"{label} stalled in {side['stalled_rounds']} of {rounds} rounds")
    if run["ratio"] is None and (theirs["non2xx_share"] or 0) > 0.5:
        notes.append(f"EverShop: {theirs['non2xx_share']:.0%} of answers non-2xx")
    return notes


def _ceilings(result: dict) -> list[str]:
    if not result["ceilings"].get("bcrypt", {}).get("median"):
        return []
    c, j = result["ceilings"]["bcrypt"], result["ceilings"]["bcryptjs"]
    return [
        f"Ceilings measured in this run: bcrypt (Python, cost 10, "
        f"{result['service']['workers']} processes) {c['median']} hashes/s (spread "
        f"{_pct(c['spread_pct'])}); bcryptjs (EverShop's, cost 10, one Node process) "
        f"{j['median']} hashes/s (spread {_pct(j['spread_pct'])}).",
    ]


def write_docs(text: str) -> None:
    """Replace what lies between the markers in docs/performance.md."""
    doc = DOCS.read_text()
    start, end = doc.find(MARK_START), doc.find(MARK_END)
    if start < 0 or end < start:
        raise SystemExit(f"docs/performance.md lacks the {MARK_START} … {MARK_END} markers")
    DOCS.write_text(doc[: start + len(MARK_START)] + "\n" + text + "\n" + doc[end:])


def harness_problems(result: dict) -> list[str]:
    """What says a request is built wrong: a non-2xx answer, socket error or
    stall of the service, or nothing but non-2xx answers from EverShop where it
    answers 2xx when it works."""
    problems = []
    for name, entry in result["scenarios"].items():
        for run in entry["runs"]:
            where = f"{name} @{run['connections']}"
            ours = [run["ours"]["warmup"], *run["ours"]["rounds"]]
            bad = sum(r["non2xx"] + r["socket_errors"] for r in ours)
            if bad:
                problems.append(
                    f"{where}: the service gave {bad} non-2xx answers or socket errors "
                    f"{_first_sample(ours)}"
                )
            if any(r.get("stalled") for r in ours):
                problems.append(f"{where}: the service stalled")
            theirs = run["evershop"]
            if SCENARIOS[name].evershop_answers_2xx and theirs["non2xx_share"] == 1:
                every = [theirs["warmup"], *theirs["rounds"]]
                problems.append(f"{where}: EverShop refused every request {_first_sample(every)}")
    return problems


def _first_sample(runs: list[dict]) -> str:
    return next((r["error_sample"] for r in runs if r.get("error_sample")), "")
