#!/usr/bin/env python3
"""An HTTP receiver that verifies hookd's deliveries with VideoPilot's Python example (seed 002).

    python3 videopilot_receiver.py --port P --config CONFIG.json --out OUT.jsonl

The same protocol as receiver.mjs: CONFIG maps a request path to {"verifier": NAME, "secret":
"..."} and is read again on every request; every request appends one JSON line to OUT:
{"path","verifier","ok","error","headers","body"}. 200 "OK" when verified, 401 with the reason
otherwise, 404 for an unknown path. The only verifier is `videopilot-python`. Standard library
only. Listens on 127.0.0.1 and prints "listening <port>" once it does.
"""

import argparse
import hashlib
import hmac
import json
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


# ---- VideoPilot: the seed's Python/Flask example, as the seed has it. ----
def verify_webhook(payload, signature, secret):
    expected_signature = 'sha256=' + hmac.new(
        secret.encode('utf-8'),
        payload,
        hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(signature, expected_signature)


def videopilot_python(secret, payload, headers):
    """Raises when the request is not authentic. `payload` is the raw body (bytes)."""
    signature = headers.get('x-videopilot-signature')
    if signature is None:
        raise ValueError('missing x-videopilot-signature header')
    if not verify_webhook(payload, signature, secret):
        raise ValueError('Invalid signature')
    event = json.loads(payload)
    if not isinstance(event, dict) or not isinstance(event.get('event'), str):
        raise ValueError('body has no string "event"')


VERIFIERS = {'videopilot-python': videopilot_python}

_write_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'videopilot-receiver'

    def log_message(self, format, *args):  # quiet: the OUT file is the log
        pass

    def do_POST(self):
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length > 0 else b''
        path = urllib.parse.urlsplit(self.path).path
        headers = {name.lower(): value for name, value in self.headers.items()}
        line = {'path': path, 'verifier': '', 'ok': False, 'error': '', 'headers': headers,
                'body': raw.decode('utf-8', errors='replace')}
        status = 401
        try:
            with open(self.server.config_path, encoding='utf-8') as f:
                entry = json.load(f).get(path)
            if entry is None:
                status = 404
                raise ValueError('no receiver configured for ' + path)
            line['verifier'] = entry.get('verifier', '')
            verifier = VERIFIERS.get(line['verifier'])
            if verifier is None:
                raise ValueError('unknown verifier ' + line['verifier'])
            verifier(entry['secret'], raw, headers)
            line['ok'] = True
            status = 200
        except Exception as e:  # every failure is a refusal with its reason
            line['error'] = str(e) or type(e).__name__
        with _write_lock:
            with open(self.server.out_path, 'a', encoding='utf-8') as f:
                f.write(json.dumps(line) + '\n')
        answer = (b'OK' if line['ok'] else line['error'].encode('utf-8'))
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain; charset=utf-8')
        self.send_header('Content-Length', str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--config', required=True)
    parser.add_argument('--out', required=True)
    args = parser.parse_args()

    server = ThreadingHTTPServer(('127.0.0.1', args.port), Handler)
    server.daemon_threads = True
    server.config_path = args.config
    server.out_path = args.out

    def stop(signum, frame):
        # shutdown() waits for serve_forever, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print('listening %d' % server.server_address[1], flush=True)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
