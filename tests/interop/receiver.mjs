// An HTTP receiver that verifies hookd's deliveries with the vendors' own code, never hookd's:
// the Standard Webhooks, Octokit and Stripe libraries, and the checks Shopify, Slack and the
// seed vendors (tests/../seeds) document for their customers' receivers.
//
//   node receiver.mjs --port P --config CONFIG.json --out OUT.jsonl [--host ADDRESS] [--delay-ms N]
//
// CONFIG maps a request path to {"verifier": NAME, "secret": "..."}; it is read again on every
// request, so a test may add paths while the receiver runs. Every request appends one JSON line
// to OUT: {"path","verifier","ok","error","headers","body"}. A verified request is answered
// 200 "OK", a refused one 401 with the reason, an unknown path 404. Listens on --host (default
// 127.0.0.1; 0.0.0.0 in the compose test's container) and prints "listening <port>" once it does.
// --delay-ms holds every answer that long (a slow endpoint: deliveries stay in flight). Needs Node 18 or newer and `npm ci` in this folder
// (scripts/install-interop.sh).

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import process from 'node:process';

import { verify as octokitVerify } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    args[m[1]] = m[2] !== undefined ? m[2] : argv[++i];
  }
  for (const name of ['port', 'config', 'out']) {
    if (!args[name]) throw new Error(`--${name} is required`);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const stripe = new Stripe('sk_test_unused');

function header(headers, name) {
  const value = headers[name];
  if (value === undefined || value === '') throw new Error(`missing ${name} header`);
  return value;
}

// Within `seconds` of now, either way.
function requireRecent(nowSeconds, seconds, what) {
  const delta = Math.abs(Date.now() / 1000 - nowSeconds);
  if (!(delta <= seconds)) throw new Error(`${what} is ${Math.round(delta)} s away from now`);
}

// Compares two strings in constant time; false (not an exception) when the lengths differ.
function safeEqual(a, b) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

// ---- VideoPilot: the seed's Node.js/Express example, as the seed has it. ----
function verifyWebhook(payload, signature, secret) {
  const hmac = crypto.createHmac('sha256', secret);
  hmac.update(payload, 'utf8');
  const expectedSignature = 'sha256=' + hmac.digest('hex');
  return crypto.timingSafeEqual(
    Buffer.from(signature),
    Buffer.from(expectedSignature)
  );
}

// Each verifier throws (or returns a message) when the request is not authentic.
const verifiers = {
  // The Standard Webhooks reference library (`standardwebhooks` on npm): id, timestamp within
  // 5 minutes, and any `v1,` entry of webhook-signature.
  async standardwebhooks(secret, body, headers) {
    new Webhook(secret).verify(body, headers);
  },

  // GitHub: @octokit/webhooks-methods, what @octokit/webhooks and Probot verify with.
  async github(secret, body, headers) {
    header(headers, 'x-github-event');
    header(headers, 'x-github-delivery');
    const signature = header(headers, 'x-hub-signature-256');
    if (!(await octokitVerify(secret, body, signature))) {
      throw new Error('x-hub-signature-256 does not match');
    }
  },

  // Stripe's own library; tolerance is its default of 300 s.
  async stripe(secret, body, headers) {
    stripe.webhooks.constructEvent(body, header(headers, 'stripe-signature'), secret);
  },

  // Shopify's documented check,
  // https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook :
  // base64 HMAC-SHA256 of the raw body with the app's client secret, compared with
  // X-Shopify-Hmac-Sha256 by crypto.timingSafeEqual.
  async shopify(secret, body, headers, raw) {
    header(headers, 'x-shopify-topic');
    const hmacHeader = header(headers, 'x-shopify-hmac-sha256');
    const calculated = crypto.createHmac('sha256', secret).update(raw).digest('base64');
    if (!safeEqual(calculated, hmacHeader)) throw new Error('x-shopify-hmac-sha256 does not match');
  },

  // Slack's documented check, https://api.slack.com/authentication/verifying-requests-from-slack :
  // refuse timestamps more than 5 minutes away (replays), then compare
  // 'v0=' + hex HMAC-SHA256 of `v0:${timestamp}:${body}` with X-Slack-Signature.
  async slack(secret, body, headers) {
    const timestamp = header(headers, 'x-slack-request-timestamp');
    const slackSignature = header(headers, 'x-slack-signature');
    if (!/^\d+$/.test(timestamp)) throw new Error(`bad x-slack-request-timestamp ${timestamp}`);
    if (Math.abs(Math.floor(Date.now() / 1000) - Number(timestamp)) > 60 * 5) {
      throw new Error('x-slack-request-timestamp is more than 5 minutes away');
    }
    const sigBasestring = `v0:${timestamp}:${body}`;
    const mySignature =
      'v0=' + crypto.createHmac('sha256', secret).update(sigBasestring, 'utf8').digest('hex');
    if (!safeEqual(mySignature, slackSignature)) throw new Error('x-slack-signature does not match');
  },

  // VideoPilot (seed 002): the seed's verifyWebhook above on the raw body, then the body's shape
  // as its docs show it: {"event": string, "data": object, "timestamp": ISO date string}.
  async 'videopilot-node'(secret, body, headers) {
    const signature = headers['x-videopilot-signature'];
    const payload = body;
    const isValid = verifyWebhook(payload, signature, secret);
    if (!isValid) throw new Error('Invalid signature');
    const event = JSON.parse(payload);
    const keys = Object.keys(event);
    if (JSON.stringify(keys) !== JSON.stringify(['event', 'data', 'timestamp'])) {
      throw new Error(`body keys are ${JSON.stringify(keys)}, not ["event","data","timestamp"]`);
    }
    if (typeof event.event !== 'string') throw new Error('event is not a string');
    if (typeof event.data !== 'object' || event.data === null || Array.isArray(event.data)) {
      throw new Error('data is not an object');
    }
    if (typeof event.timestamp !== 'string' || Number.isNaN(Date.parse(event.timestamp))) {
      throw new Error(`timestamp ${JSON.stringify(event.timestamp)} is not a date string`);
    }
  },

  // Elai (seed 001) shows Delivery-ID, Elai-Timestamp (ms) and Elai-Signature (64 hex digits) but
  // does not publish what it signs. This checks the assumption of the README's Elai recipe:
  // hex HMAC-SHA256 of `${timestamp}.${body}` keyed by the secret's text.
  async elai(secret, body, headers) {
    header(headers, 'delivery-id');
    const ts = header(headers, 'elai-timestamp');
    const signature = header(headers, 'elai-signature');
    if (!/^\d{13}$/.test(ts)) throw new Error(`elai-timestamp ${ts} is not 13 digits (ms)`);
    requireRecent(Number(ts) / 1000, 300, 'elai-timestamp');
    if (!/^[0-9a-f]{64}$/.test(signature)) throw new Error('elai-signature is not 64 hex digits');
    const expected = crypto.createHmac('sha256', secret).update(`${ts}.${body}`, 'utf8').digest('hex');
    if (!safeEqual(expected, signature)) throw new Error('elai-signature does not match');
  },

  // Targetvideo (seed 003) signs nothing: the receiver checks the secret it chose, echoed in the
  // body, and the body's unix timestamp; the rest of the body is the event.
  async targetvideo(secret, body) {
    const event = JSON.parse(body);
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      throw new Error('body is not a JSON object');
    }
    if (event.secret !== secret) throw new Error('secret does not match');
    if (!Number.isInteger(event.timestamp)) {
      throw new Error(`timestamp ${JSON.stringify(event.timestamp)} is not an integer`);
    }
    requireRecent(event.timestamp, 300, 'timestamp');
  },
};

function readConfig() {
  return JSON.parse(fs.readFileSync(args.config, 'utf8'));
}

function record(line) {
  fs.appendFileSync(args.out, JSON.stringify(line) + '\n');
}

async function handle(req, res, raw) {
  const path = new URL(req.url, 'http://receiver').pathname;
  const body = raw.toString('utf8');
  const headers = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name.toLowerCase()] = value;
  const line = { path, verifier: '', ok: false, error: '', headers, body };
  let status = 401;
  try {
    const entry = readConfig()[path];
    if (!entry) {
      status = 404;
      throw new Error(`no receiver configured for ${path}`);
    }
    line.verifier = entry.verifier;
    const verifier = verifiers[entry.verifier];
    if (!verifier) throw new Error(`unknown verifier ${entry.verifier}`);
    await verifier(entry.secret, body, headers, raw);
    line.ok = true;
    status = 200;
  } catch (err) {
    line.error = err && err.message ? err.message : String(err);
  }
  record(line);
  const delay = Number(args['delay-ms'] || 0);
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(line.ok ? 'OK' : line.error);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    handle(req, res, Buffer.concat(chunks)).catch((err) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
});

server.listen(Number(args.port), args.host || '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  if (server.closeAllConnections) server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
