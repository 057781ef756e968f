#!/usr/bin/env python3
"""Turns one bench/run.sh run into its table and its JSON document.

Reads the RESULT lines hookd-bench-e2e printed (one per phase, two for the ceiling), the facts
run.sh gathered about the machine and the cluster, and the memory it sampled from /proc; prints
one Markdown table with the issue's targets, writes everything as one JSON document, and with
--update-benchmarks rewrites the table section of BENCHMARKS.md between its markers.
"""

import argparse
import json
import sys

# The single-Redis table; a run on a Redis Cluster (bench/run.sh --redis-cluster) has its own.
MARKS = {
    "default": ("<!-- bench:begin -->", "<!-- bench:end -->"),
    "cluster": ("<!-- bench:cluster:begin -->", "<!-- bench:cluster:end -->"),
}

# The targets of issue #6 on the 2-core machine.
TARGET_DELIVERIES_PER_S = 10_000
TARGET_RATIO = 0.25
TARGET_P99_MS_AT_1000 = 50.0
TARGET_RSS_MIB = 150.0
# A signature profile or payload template costs at most 10% of the default throughput (#14).
DIALECT_SHARE = 0.9


def read_results(path):
    """The RESULT documents of the bench output, in order."""
    results = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("RESULT "):
                try:
                    results.append(json.loads(line[len("RESULT "):]))
                except json.JSONDecodeError as e:
                    print(f"report: unparsable RESULT line ({e}): {line.strip()}", file=sys.stderr)
    return results


# Facts that are numbers or flags; every other fact stays a string ("12.10" is a Debian
# version, not a float).
NUMERIC_FACTS = {"nproc", "mem_total_kib", "workers", "worker_max_connections_per_host",
                 "attempts_logged", "deliveries_total", "deliveries_succeeded",
                 "deliveries_unfinished"}
BOOLEAN_FACTS = {"quick", "dirty"}


def number(value):
    """An int or float from a numeric string; None when empty or not a number."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return None


def read_facts(path):
    facts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            if key in NUMERIC_FACTS:
                facts[key] = number(value)
            elif key in BOOLEAN_FACTS:
                facts[key] = value == "true"
            else:
                facts[key] = value or None
    return facts


def read_memory(path):
    memory = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            name, pid, hwm, rss, cpu = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
            memory[name] = {
                "pid": number(pid),
                "running_at_end": hwm != "",
                "vmhwm_kib": number(hwm),
                "vmrss_kib": number(rss),
                "vmhwm_mib": round(int(hwm) / 1024, 1) if hwm else None,
                "vmrss_mib": round(int(rss) / 1024, 1) if rss else None,
                "cpu_s": number(cpu),
            }
    return memory


def group(results):
    """The RESULT documents by phase: ceiling clients, throughput, latency and fan-out runs."""
    figures = {"ceiling": {}, "throughput": None, "dialects": {}, "latency": {}, "fanout": {}}
    for r in results:
        phase = r.get("phase", "")
        if phase == "ceiling":
            figures["ceiling"][r["client"]] = r
        elif phase == "throughput":
            figures["throughput"] = r
        elif phase.startswith("throughput:"):
            figures["dialects"][phase.split(":", 1)[1]] = r
        elif phase.startswith("latency:"):
            figures["latency"][phase.split(":", 1)[1]] = r
        elif phase.startswith("fanout:"):
            figures["fanout"][phase.split(":", 1)[1]] = r
    return figures


def num(value, digits=0):
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def verdict(ok):
    if ok is None:
        return "n/a"
    return "pass" if ok else "FAIL"


def rate_label(rate):
    return f"{rate:g}"


def build(results, facts, memory):
    figures = group(results)
    rows = []  # (measurement, result, target, status)
    targets = []

    def target(name, value, wanted, ok):
        targets.append({"name": name, "value": value, "target": wanted, "pass": ok})
        return verdict(ok)

    ceilings = {}

    def ceiling_row(label, r):
        ceilings[r["client"]] = r["requests_per_s"]
        rows.append((label, f"{num(r['requests_per_s'])} req/s (p50 {r['p50_ms']:.2f} ms, "
                            f"p99 {r['p99_ms']:.2f} ms, {r['errors']} errors)", "", ""))

    sender = figures["ceiling"].get("hookd-http")
    if sender:
        ceiling_row(f"ceiling: hookd HTTP sender in a loop ({sender['connections']} in flight, "
                    "1 thread)", sender)
    else:
        rows.append(("ceiling: hookd HTTP sender in a loop", "n/a", "", ""))
    wrk = figures["ceiling"].get("wrk")
    if wrk and wrk.get("available"):
        ceiling_row(f"ceiling: wrk -t{wrk['threads']} -c{wrk['connections']}", wrk)
    else:
        reason = wrk.get("reason", "not run") if wrk else "not run"
        rows.append(("ceiling: wrk", f"n/a ({reason})", "", ""))

    tp = figures["throughput"]
    ratio = None
    against = None
    if tp:
        rows.append((
            f"e2e sustained throughput ({tp['duration_s']:.0f} s, {facts.get('workers')} workers, "
            f"1 app, {tp['payload_bytes']} B)",
            f"{num(tp['deliveries_per_s'])} deliveries/s",
            f">= {TARGET_DELIVERIES_PER_S:,}",
            target("e2e deliveries/s", tp["deliveries_per_s"], TARGET_DELIVERIES_PER_S,
                   tp["deliveries_per_s"] >= TARGET_DELIVERIES_PER_S)))
        if ceilings:
            against = max(ceilings, key=ceilings.get)
            ratio = tp["deliveries_per_s"] / ceilings[against] if ceilings[against] else None
        rows.append((
            f"ratio e2e / ceiling (against {against or 'n/a'}, the higher)",
            f"{ratio:.3f}" if ratio is not None else "n/a",
            f">= {TARGET_RATIO}",
            target("ratio e2e/ceiling", ratio, TARGET_RATIO,
                   None if ratio is None else ratio >= TARGET_RATIO)))
        wal = tp.get("wal_bytes_per_delivery", -1)
        rows.append((
            "Postgres WAL per delivery in the throughput phase (pg_stat_wal)",
            (f"{wal:,.0f} bytes, {tp['wal_records_per_delivery']:.1f} records "
             f"({tp['wal_fpi_per_delivery']:.2f} full-page images)") if wal >= 0 else "n/a",
            "", ""))
        rows.append((
            "backlog at the end of the throughput phase",
            f"{num(tp['backlog_at_end'])} deliveries "
            f"({'drained' if tp['drained'] else 'drain ended'} {tp['drain_s']:.1f} s after "
            "publishing)",
            "", ""))
    else:
        rows.append(("e2e sustained throughput", "n/a", f">= {TARGET_DELIVERIES_PER_S:,}",
                     target("e2e deliveries/s", None, TARGET_DELIVERIES_PER_S, None)))
        rows.append(("ratio e2e / ceiling", "n/a", f">= {TARGET_RATIO}",
                     target("ratio e2e/ceiling", None, TARGET_RATIO, None)))

    # Signature profiles and payload templates against the default, in the same sitting.
    for dialect, r in figures["dialects"].items():
        share = (r["deliveries_per_s"] / tp["deliveries_per_s"]
                 if tp and tp["deliveries_per_s"] else None)
        rows.append((
            f"e2e throughput with the {dialect} dialect ({r['duration_s']:.0f} s)",
            f"{num(r['deliveries_per_s'])} deliveries/s"
            + (f", {share:.3f} of the default" if share is not None else ""),
            f">= {DIALECT_SHARE} of the default",
            target(f"{dialect} dialect / default throughput", share, DIALECT_SHARE,
                   None if share is None else share >= DIALECT_SHARE)))

    def latency_text(r):
        text = (f"p50 {r['p50_ms']:.1f} / p95 {r['p95_ms']:.1f} / p99 {r['p99_ms']:.1f} ms; "
                f"{num(r['deliveries_per_s'])} deliveries/s")
        if r["backlog_at_end"]:
            text += f", {num(r['backlog_at_end'])} missing"
        if r["events_per_s"] < 0.95 * r["rate_offered"]:
            text += f", only {num(r['events_per_s'])} events/s published"
        return text

    for rate in sorted(figures["latency"], key=float):
        r = figures["latency"][rate]
        wanted, status = "", ""
        if float(rate) == 1000:
            wanted = f"p99 < {TARGET_P99_MS_AT_1000:g} ms"
            # Percentiles of an incomplete or under-offered run leave out its worst part.
            ok = (r["p99_ms"] < TARGET_P99_MS_AT_1000 and r["backlog_at_end"] == 0
                  and r["events_per_s"] >= 0.95 * r["rate_offered"])
            status = target("p99 ms at 1000 events/s", r["p99_ms"], TARGET_P99_MS_AT_1000, ok)
        rows.append((f"latency publish -> receipt at {rate_label(float(rate))} events/s",
                     latency_text(r), wanted, status))
    if "1000" not in figures["latency"] and not any(float(k) == 1000 for k in figures["latency"]):
        rows.append(("latency at 1000 events/s", "n/a", f"p99 < {TARGET_P99_MS_AT_1000:g} ms",
                     target("p99 ms at 1000 events/s", None, TARGET_P99_MS_AT_1000, None)))

    for apps in sorted(figures["fanout"], key=int):
        r = figures["fanout"][apps]
        rows.append((f"fan-out: each event to {apps} apps at {rate_label(r['rate_offered'])} "
                     "events/s", latency_text(r), "", ""))

    for name, m in memory.items():
        if m["vmhwm_mib"] is None:
            rows.append((f"peak RSS {name}", "n/a (exited before the end)",
                         f"< {TARGET_RSS_MIB:g} MiB",
                         target(f"peak RSS MiB {name}", None, TARGET_RSS_MIB, False)))
            continue
        rows.append((f"peak RSS (VmHWM) {name}",
                     f"{m['vmhwm_mib']:.1f} MiB (at the end {m['vmrss_mib']:.1f} MiB; "
                     f"{m['cpu_s']:.1f} s CPU)",
                     f"< {TARGET_RSS_MIB:g} MiB",
                     target(f"peak RSS MiB {name}", m["vmhwm_mib"], TARGET_RSS_MIB,
                            m["vmhwm_mib"] < TARGET_RSS_MIB)))
    return figures, rows, targets, ratio, against


def markdown_table(rows):
    head = ("measurement", "result", "target", "status")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(4)]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def machine_line(facts):
    mem_gib = (facts.get("mem_total_kib") or 0) / 1024 / 1024
    return (f"{facts.get('nproc')} cores ({facts.get('cpu_model')}), {mem_gib:.1f} GiB RAM, "
            f"{facts.get('kernel')}, Debian {facts.get('debian')}; PostgreSQL "
            f"{facts.get('postgres_version')} (fsync={facts.get('postgres_fsync')}, "
            f"synchronous_commit={facts.get('postgres_synchronous_commit')}), Redis "
            f"{facts.get('redis_version')}, {facts.get('redis_topology') or 'one server'} "
            f"(appendonly={facts.get('redis_appendonly')}, "
            f"appendfsync={facts.get('redis_appendfsync')}); build {facts.get('build_type')}; "
            f"load average before the run {facts.get('loadavg_before')}, after "
            f"{facts.get('loadavg_after')}")


def header(facts, bench_exit):
    commit = facts.get("commit")
    if facts.get("dirty"):
        commit = f"{commit} + uncommitted changes"
    kind = ("QUICK smoke run (short windows; not for comparison)" if facts.get("quick")
            else "full run")
    lines = [
        f"hookd benchmark, {facts.get('time')}, commit {commit}: {kind}",
        f"machine: {machine_line(facts)}",
        (f"cluster: hookd-subscription, hookd-ingest, {facts.get('workers')} hookd-workers "
         f"(--max_connections_per_host {facts.get('worker_max_connections_per_host')}); one receiver "
         f"(libevent evhttp, one thread) for every phase; "
         f"windows: throughput {facts.get('duration')}, latency/fan-out "
         f"{facts.get('latency_duration')}, ceiling {facts.get('ceiling_duration')}, "
         f"warm-up {facts.get('warmup')}"),
        (f"CPU over the whole run: Postgres {facts.get('postgres_cpu_seconds')} s, Redis "
         f"{facts.get('redis_cpu_seconds')} s (the hookd processes' are in the table)"),
        (f"delivery log: {facts.get('attempts_logged')} attempts recorded in Postgres for "
         f"{facts.get('deliveries_total')} deliveries ({facts.get('deliveries_succeeded')} "
         f"succeeded, {facts.get('deliveries_unfinished')} unfinished at the end)"),
    ]
    if bench_exit != 0:
        lines.append(f"hookd-bench-e2e exited with {bench_exit}: some figures may be missing")
    return lines


def update_benchmarks(path, section, which):
    begin_mark, end_mark = MARKS[which]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    begin = text.find(begin_mark)
    end = text.find(end_mark)
    if begin < 0 or end < begin:
        raise SystemExit(f"report: {path} has no {begin_mark} ... {end_mark} section")
    text = text[:begin + len(begin_mark)] + "\n" + section + "\n" + text[end:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True, help="hookd-bench-e2e output")
    parser.add_argument("--facts", required=True, help="key<TAB>value lines from run.sh")
    parser.add_argument("--memory", required=True,
                        help="name<TAB>pid<TAB>VmHWM kB<TAB>VmRSS kB<TAB>CPU s lines")
    parser.add_argument("--bench-exit", type=int, default=0)
    parser.add_argument("--json", required=True, help="where to write the JSON document")
    parser.add_argument("--update-benchmarks", metavar="BENCHMARKS.md")
    parser.add_argument("--section", choices=sorted(MARKS), default="default",
                        help="which table of BENCHMARKS.md --update-benchmarks rewrites")
    args = parser.parse_args()

    results = read_results(args.results)
    facts = read_facts(args.facts)
    memory = read_memory(args.memory)
    figures, rows, targets, ratio, against = build(results, facts, memory)
    lines = header(facts, args.bench_exit)
    table = markdown_table(rows)

    document = {
        "schema": 1,
        "time": facts.get("time"),
        "quick": bool(facts.get("quick")),
        "command": facts.get("command"),
        "bench_exit_status": args.bench_exit,
        "commit": facts.get("commit"),
        "dirty": bool(facts.get("dirty")),
        "machine": {k: facts.get(k) for k in (
            "nproc", "cpu_model", "mem_total_kib", "kernel", "debian", "build_type",
            "postgres_version", "postgres_fsync", "postgres_synchronous_commit", "redis_version",
            "redis_topology",
            "redis_appendonly", "redis_appendfsync", "wrk_version", "loadavg_before",
            "loadavg_after")},
        "cluster": {k: facts.get(k) for k in (
            "workers", "worker_max_connections_per_host", "phases", "duration",
            "latency_duration", "ceiling_duration", "warmup")},
        "ceiling": figures["ceiling"],
        "throughput": figures["throughput"],
        "dialects": figures["dialects"],
        "latency": figures["latency"],
        "fanout": figures["fanout"],
        "ratio_e2e_to_ceiling": {"value": ratio, "against": against},
        "memory": memory,
        "cpu_seconds": {"postgres": facts.get("postgres_cpu_seconds"),
                    "redis": facts.get("redis_cpu_seconds")},
    "delivery_log": {k: facts.get(k) for k in (
            "attempts_logged", "deliveries_total", "deliveries_succeeded",
            "deliveries_unfinished")},
        "targets": targets,
        "table_markdown": table,
    }
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=2)
        f.write("\n")

    print()
    for line in lines:
        print(line)
    print()
    print(table)
    print()
    print(f"figures: {args.json}")

    if args.update_benchmarks:
        section = "\n".join(["", *[f"- {line}" for line in lines], "", table, "",
                             f"Figures: [`{args.json}`]({args.json})", ""])
        update_benchmarks(args.update_benchmarks, section, args.section)
        print(f"updated {args.update_benchmarks}")


if __name__ == "__main__":
    main()
