#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer harnesses into tests/fuzz/corpus/<corpus>/.

Seeds come from tests/fixtures (the sample payloads) and from the shapes the README documents
(urls, templates, presets, Retry-After forms, hookctl command lines). Harnesses that read their
input through FuzzedDataProvider take strings from the front, each ended by a backslash and one
more character (a literal backslash is doubled), and numbers and choices from the back, last
byte first; the seeds are laid out that way. Run it again after changing a harness's layout:
  python3 tests/fuzz/seeds.py
"""
import base64
import json
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fuzz" / "corpus"
PAYLOADS = sorted((ROOT / "tests" / "fixtures" / "payloads").glob("*.json"))


def s(text):
    """One FuzzedDataProvider string from the front, ended."""
    if isinstance(text, str):
        text = text.encode()
    return text.replace(b"\\", b"\\\\") + b"\\\n"


def tail(*values):
    """Bytes consumed from the back: the first value is consumed first (it is the last byte)."""
    return bytes(reversed(values))


def write(corpus, name, data):
    d = OUT / corpus
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def fixture_payloads():
    for path in PAYLOADS:
        doc = json.loads(path.read_text())
        yield path.stem, doc.get("event_type", path.stem), json.dumps(doc.get("payload", doc))


SCHEMA = json.dumps({
    "type": "object",
    "required": ["video"],
    "properties": {"video": {"type": "object", "properties": {
        "status": {"enum": ["ready", "failed"]}, "tags": {"type": "array", "maxItems": 3}}}},
})


def publish():
    for stem, event_type, payload in fixture_payloads():
        # tenant, event_type, idempotency_key; channel count 1 (from the back); one channel;
        # traceparent; deliver_after? no; deliver_at? no; schema; payload (the rest).
        front = (s("acme") + s(event_type) + s("key-" + stem) + s("project.42") +
                 s("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") + s(SCHEMA))
        write("publish", stem, front + payload.encode() + tail(1, 0, 0))


def url_policy():
    urls = ["https://example.com/webhooks", "http://hooks.example.com:8080/x?a=1",
            "https://127.0.0.1/", "https://[::1]:8443/h", "https://10.1.2.3/",
            "http://169.254.169.254/latest/meta-data", "https://[::ffff:10.0.0.1]/",
            "https://[64:ff9b::a9fe:a9fe]/", "https://user:pw@example.com/",
            "https://localhost/", "https://example.com:0/", "https://[fe80::1%25eth0]/",
            "HTTPS://EXAMPLE.COM/", "https://xn--bcher-kva.example/", "10.0.0.0/8",
            "::ffff:192.168.0.1", "2001:db8::/32", "100.64.0.1"]
    allowlists = ["", "10.0.0.0/8, 127.0.0.1", "::1/128,fd00::/8", "169.254.169.254/32"]
    for i, url in enumerate(urls):
        write("url_policy", f"url{i:02d}", s(allowlists[i % len(allowlists)]) + url.encode() +
              tail(i % 2))


def page_token():
    for i, (filters, cursor) in enumerate([
            ("acme|video.ready||", "2024-05-01T12:00:00Z|del_2KWPBgLl"), ("", ""),
            ("tenant=acme|app=app_1|status=failed", "1714564800000000|42")]):
        token = base64.b64encode(f"p1\n{filters}\n{cursor}".encode())
        write("page_token", f"token{i}", s(filters) + s(cursor) + token)


def retry_after():
    for i, header in enumerate(["120", "0", " 5 ", "99999999999999999999999",
                                "Wed, 21 Oct 2015 07:28:00 GMT", "Sun, 06 Nov 2044 08:49:37 GMT",
                                "Sunday, 06-Nov-94 08:49:37 GMT", "-1", "1.5"]):
        # status (first from the back), attempts, jitter (8 bytes), now (6 bytes).
        write("retry_after", f"header{i}",
              header.encode() + tail(i % 2, 2, *([0x80] * 8), *([0x10] * 6)))


def hookctl_flags():
    lines = [["--tenant", "acme", "--since", "1h", "list"], ["--timeout=1h30m", "-o", "json"],
             ["--all", "--limit", "50", "--event-type", "a.b", "--event-type=c.d"],
             ["--since", "2024-05-01T14:00:00.5+02:00"], ["--all=false", "--", "--tenant"],
             ["-h"], ["--limit", "x"], ["--since", "-5m"], ["500ms"]]
    for i, argv in enumerate(lines):
        write("hookctl_flags", f"argv{i}", "\0".join(argv))


METRICS = """# HELP hookd_worker_deliveries_total Deliveries finished, by outcome.
# TYPE hookd_worker_deliveries_total counter
hookd_worker_deliveries_total{outcome="succeeded"} 1027
hookd_worker_deliveries_total{outcome="failed"} 3
# HELP hookd_worker_app_in_flight_requests Requests in flight per app.
# TYPE hookd_worker_app_in_flight_requests gauge
hookd_worker_app_in_flight_requests{app_id="app_2KWPBgLlAfxdpx2AI54pPJ85f4W"} 64
# HELP hookd_grpc_server_handling_seconds Time to answer an RPC \\\\ with "escapes"\\n.
# TYPE hookd_grpc_server_handling_seconds histogram
hookd_grpc_server_handling_seconds_bucket{method="Publish",le="0.005"} 10
hookd_grpc_server_handling_seconds_bucket{method="Publish",le="+Inf"} 12
hookd_grpc_server_handling_seconds_sum{method="Publish"} 0.25
hookd_grpc_server_handling_seconds_count{method="Publish"} 12
# TYPE up gauge
up{label="a\\"b\\\\c\\nd"} NaN
"""


def metrics_text():
    write("metrics_text", "scrape", METRICS)
    write("metrics_text", "empty", "")


def dialect():
    templates = ['{"event":"{{event_type}}","data":"{{payload}}","timestamp":"{{timestamp}}"}',
                 '{"...":"{{payload}}","timestamp":"{{timestamp_unix}}","secret":"{{secret}}"}',
                 '{"id":"{{event_id}}","ms":"{{timestamp_ms}}","list":["{{payload}}",1,null]}']
    profiles = [  # id, timestamp, signature header, signed content, format, separator
        ("webhook-id", "webhook-timestamp", "webhook-signature", "{id}.{timestamp}.{body}",
         "v1,{sig}", " "),
        ("", "X-Timestamp", "X-Signature", "{timestamp}.{body}", "t={timestamp},v1={sig}", ","),
        ("", "", "X-Hub-Signature-256", "{body}", "sha256={sig}", ""), ("", "", "", "", "", "")]
    payloads = [p for _, _, p in fixture_payloads()][:3] + ['{}', '[1]']
    n = 0
    for t in templates:
        for i, (idh, tsh, sigh, content, fmt, sep) in enumerate(profiles):
            payload = payloads[n % len(payloads)]
            front = s(idh) + s(tsh) + s(sigh) + s(content) + s(fmt) + s(sep) + s(payload)
            # preset, timestamp unit, algorithm, encoding, key, rotation, secret (from the back).
            write("dialect", f"seed{n:02d}", front + t.encode() + tail(i % 6, 1, i % 5, 1, 0, 0,
                                                                       n % 3))
            n += 1


def stream_reply():
    def bulk(b):
        b = b if isinstance(b, bytes) else b.encode()
        return b"$%d\r\n%s\r\n" % (len(b), b)

    def arr(*items):
        return b"*%d\r\n" % len(items) + b"".join(items)

    fields = [bulk(x) for x in ["d", "del_1", "e", "msg_1", "a", "app_1", "n", "1", "t",
                                "video.ready", "p", '{"a":1}', "c", "1714564800000000"]]
    entry = arr(bulk("1714564800000-0"), arr(*fields))
    write("stream_reply", "xreadgroup", arr(arr(bulk("hookd:{p3}:deliveries"), arr(entry))))
    write("stream_reply", "xautoclaim", arr(bulk("0-0"), arr(entry, arr(bulk("1-1"), b"*-1\r\n")),
                                            arr()))
    write("stream_reply", "mixed", b"+OK\r\n:42\r\n-NOGROUP No such key\r\n$-1\r\n" +
          arr(bulk("1-0"), arr(bulk("d"), bulk(""), bulk("n"), bulk("0"))))


def cluster_reply():
    """Replies recorded from a Redis 7.0.15 cluster of three primaries (libs/queue's
    redis_cluster_test.cc has the same)."""
    def node(port, node_id):
        return b"*4\r\n$9\r\n127.0.0.1\r\n:%d\r\n$40\r\n%s\r\n*0\r\n" % (port, node_id)

    slots = (b"*3\r\n" +
             b"*3\r\n:0\r\n:5460\r\n" + node(27121, b"2cce9f5923d0fc2eb25661207339113e6c54bb1d") +
             b"*3\r\n:5461\r\n:10922\r\n" + node(27122, b"f6887f40935ea541fb2a5fbfd7da24deb14e6cd7") +
             b"*3\r\n:10923\r\n:16383\r\n" + node(27123, b"2b6b85fc1aea20efa7ca7fb05f33706bee6f7ad5"))
    write("cluster_reply", "cluster_slots", slots)
    write("cluster_reply", "redirects", b"-MOVED 12182 127.0.0.1:27123\r\n"
          b"-ASK 12182 127.0.0.1:27121\r\n-CLUSTERDOWN The cluster is down\r\n-MOVED 1 :6380\r\n")


if __name__ == "__main__":
    shutil.rmtree(OUT, ignore_errors=True)
    for make in [publish, url_policy, page_token, retry_after, hookctl_flags, metrics_text,
                 dialect, stream_reply, cluster_reply]:
        make()
    print("seeds written to", OUT.relative_to(ROOT))
