#!/usr/bin/env python3
"""A webhook receiver for the README demo: logs each POST as one JSON line and checks its
Standard Webhooks signature (webhook-id, webhook-timestamp, webhook-signature) against the
secret in --secret-file, read on every request so a rotation is picked up. Loopback only."""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret_file, msg_id, timestamp, body, header):
    try:
        secret = open(secret_file).read().strip()
    except OSError:
        return False
    if not secret.startswith("whsec_"):
        return False
    key = base64.b64decode(secret[len("whsec_"):])
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # Several space-separated "v1,<sig>" entries while a secret rotates; any may match.
    return any(hmac.compare_digest(part[3:], expected)
               for part in header.split() if part.startswith("v1,"))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret-file", required=True)
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            record = {
                "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "path": self.path,
                "webhook-id": self.headers.get("webhook-id"),
                "webhook-timestamp": self.headers.get("webhook-timestamp"),
                "signature_valid": verify(args.secret_file, self.headers.get("webhook-id", ""),
                                          self.headers.get("webhook-timestamp", ""), body,
                                          self.headers.get("webhook-signature", "")),
                "user-agent": self.headers.get("user-agent"),
                "body": body.decode("utf-8", "replace"),
            }
            print(json.dumps(record), flush=True)
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *unused):
            pass  # one JSON line per request is the log

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    sys.exit(main())
