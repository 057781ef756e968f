#!/usr/bin/env python3
"""The compose test's ledger (tests/deploy/compose_e2e.sh): what the publisher saw acknowledged
against what the receiver got and what hookd's log says.

  check_ledger.py ACKS DELIVERIES.jsonl LOG.json

ACKS holds "seq event-id" lines (publish_events.sh); DELIVERIES.jsonl the receiver's lines
(tests/interop/receiver.mjs: path, ok, error, headers, body); LOG.json the `hookctl --json
deliveries list --all` of tenant e2e. The caller runs it until it passes or a deadline ends
(deliveries arrive, and are recorded, after the last acknowledgement). Checks: every acknowledged event arrived at least once, verified by the standardwebhooks
library; every copy of one event carries the same webhook-id, its event id; no request was
refused; the log holds exactly one delivery per acknowledged event, each SUCCEEDED. Prints a
summary; exits 1 naming the first broken rule.
"""
import json
import sys


def fail(message):
    print(f"check_ledger: {message}", file=sys.stderr)
    sys.exit(1)


def read_acks(path):
    acks = {}
    with open(path) as f:
        for line in f:
            seq, event_id = line.split()
            acks[int(seq)] = event_id
    return acks


def read_deliveries(path):
    """The receiver's lines for the app's path: its connection test (hookd.ping, which `apps
    create` sends first) and the events."""
    lines = []
    try:
        with open(path) as f:
            for text in f:
                if text.endswith("\n"):  # a line being written is read next time
                    lines.append(json.loads(text))
    except FileNotFoundError:
        pass
    return [line for line in lines if line["path"] == "/hook"]


def event_type(line):
    return json.loads(line["body"]).get("type")


def seq_of(line):
    envelope = json.loads(line["body"])
    data = envelope.get("data")
    return data.get("seq") if isinstance(data, dict) else None


def main():
    args = sys.argv[1:]
    if len(args) != 3:
        fail("usage: check_ledger.py ACKS DELIVERIES.jsonl LOG.json")
    acks = read_acks(args[0])
    lines = read_deliveries(args[1])
    pings = [line for line in lines if event_type(line) == "hookd.ping"]
    if not any(line["ok"] for line in pings):
        fail("the connection test of apps create never arrived verified")
    lines = [line for line in lines if event_type(line) != "hookd.ping"]
    arrived = {seq_of(line) for line in lines if line["ok"]}
    missing = sorted(set(acks) - arrived)
    refused = [l for l in lines if not l["ok"]]
    if refused:
        fail(f"{len(refused)} deliveries failed verification, the first: {refused[0]['error']}")
    if missing:
        fail(f"{len(missing)} acknowledged events never arrived, e.g. seq {missing[:5]}")
    copies = {}
    for line in lines:
        seq = seq_of(line)
        if seq not in acks:
            fail(f"a delivery of an event never acknowledged: seq {seq}")
        webhook_id = line["headers"].get("webhook-id")
        if webhook_id != acks[seq]:
            fail(f"seq {seq} arrived with webhook-id {webhook_id}, but was acknowledged as {acks[seq]}")
        copies[seq] = copies.get(seq, 0) + 1
    duplicates = sum(n - 1 for n in copies.values())

    with open(args[2]) as f:
        log = json.load(f)
    deliveries = log.get("deliveries", [])
    by_event = {}
    for d in deliveries:
        by_event.setdefault(d["event_id"], []).append(d)
    expected = set(acks.values())
    if set(by_event) != expected:
        extra = sorted(set(by_event) - expected)[:3]
        absent = sorted(expected - set(by_event))[:3]
        fail(f"the log's events differ from the acknowledged: extra {extra}, absent {absent}")
    if len(deliveries) != len(acks):
        fail(f"the log holds {len(deliveries)} deliveries for {len(acks)} events (one app)")
    unsucceeded = [d for d in deliveries if d.get("status") != "SUCCEEDED"]
    if unsucceeded:
        d = unsucceeded[0]
        fail(f"{len(unsucceeded)} deliveries are not SUCCEEDED, e.g. {d['id']}: {d.get('status')}")
    print(f"ledger: {len(acks)} events acknowledged, all delivered and verified "
          f"({len(lines)} requests, {duplicates} duplicates, each with its event's webhook-id); "
          f"the log holds {len(deliveries)} deliveries, all SUCCEEDED")


main()
