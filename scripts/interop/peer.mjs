// A Node `ws` peer for rfc6455-tokio's interop tests (rfc6455-tokio/tests/interop.rs).
//
// Run by the Rust tests with the `ws` that scripts/interop.sh installs next to this file:
//
//   node peer.mjs client URL exchange --deflate|--no-deflate --closer peer|server
//   node peer.mjs client URL oversize SIZE
//   node peer.mjs client URL keepalive IDLE_SECONDS
//   node peer.mjs server --deflate|--no-deflate [--subprotocols a,b]
//
// It prints `key=value` lines on stdout for the Rust side to check (a server prints `port=N`
// first), `fail=...` for each check of its own that failed, and exits 1 if any did. Every wait
// is bounded; the whole run is cut off after DEADLINE seconds. The messages are the ones
// tests/interop.rs and peer.py make: the three generators must stay identical.

import { createRequire } from 'node:module';
import WebSocket, { WebSocketServer } from 'ws';

const DEADLINE_MS = 30_000;
const WAIT_MS = 10_000;
const SIZES = [0, 125, 126, 65535, 65536, 1 << 20];
const FIXED_TEXT = 'héllo wörld – 日本語 – 🎉🦀 ✓ Ελληνικά';
const PATTERN = ['a', 'é', '€', '😀'];
const PING = Buffer.from('ping ✓');
const MAX_PAYLOAD = 16 << 20;

const failures = [];

function say(key, value) {
  process.stdout.write(`${key}=${value}\n`);
}

function check(ok, what) {
  if (!ok) {
    failures.push(what);
    say('fail', what);
  }
}

// `n` bytes of UTF-8: 'a', 'é', '€', '😀' in turn (1 to 4 bytes) while they fit, then 'z's.
function textOf(n) {
  const parts = [];
  let used = 0;
  for (let i = 0; ; i++) {
    const c = PATTERN[i % 4];
    const width = Buffer.byteLength(c);
    if (used + width > n) break;
    parts.push(c);
    used += width;
  }
  parts.push('z'.repeat(n - used));
  return parts.join('');
}

// `n` bytes from the LCG x = (x * 1103515245 + 12345) mod 2^31, each byte (x >> 16) & 0xff.
function binaryOf(n, seed) {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    // Math.imul keeps the low 32 bits exactly; the mask keeps 31 of them.
    x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
    out[i] = (x >>> 16) & 0xff;
  }
  return out;
}

// Text then binary for each size, then a fixed multi-byte text; each as { binary, bytes }.
function cases() {
  const out = [];
  for (const n of SIZES) {
    out.push({ binary: false, bytes: Buffer.from(textOf(n)) });
    out.push({ binary: true, bytes: binaryOf(n, n + 1) });
  }
  out.push({ binary: false, bytes: Buffer.from(FIXED_TEXT) });
  return out;
}

function describe(message) {
  return `${message.binary ? 'binary' : 'text'} of ${message.bytes.length} bytes`;
}

function same(got, expected) {
  return got.binary === expected.binary && got.bytes.equals(expected.bytes);
}

// What a WebSocket delivers, in order: messages, then its close, awaited one at a time.
class Inbox {
  constructor(ws) {
    this.items = [];
    this.waiting = null;
    this.pings = 0;
    this.pongs = [];
    this.errors = [];
    ws.on('message', (data, isBinary) => this.push({ binary: isBinary, bytes: data }));
    ws.on('ping', () => this.pings++);
    ws.on('pong', (data) => this.pongs.push(data));
    ws.on('error', (error) => this.errors.push(error.code || error.message));
    ws.on('close', (code, reason) => this.push({ close: true, code, reason: reason.toString() }));
  }

  push(item) {
    this.items.push(item);
    if (this.waiting) {
      const wake = this.waiting;
      this.waiting = null;
      wake();
    }
  }

  async next() {
    if (this.items.length === 0) {
      await within(new Promise((resolve) => (this.waiting = resolve)), 'the next message');
    }
    return this.items.shift();
  }

  // Skips messages until the close.
  async close() {
    for (let i = 0; i < 100; i++) {
      const item = await this.next();
      if (item.close) return item;
      check(false, `expected the close, got ${describe(item)}`);
    }
    throw new Error('no close');
  }
}

function within(promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function sent(ws, data, options) {
  return within(
    new Promise((resolve, reject) => ws.send(data, options, (error) => (error ? reject(error) : resolve()))),
    'a send',
  );
}

function opened(ws) {
  return within(
    new Promise((resolve, reject) => {
      ws.once('upgrade', (response) => (ws.responseHeaders = response.headers));
      ws.once('open', resolve);
      ws.once('error', reject);
    }),
    'the handshake',
  );
}

function reportClose(close) {
  say('close_code', close.code);
  say('close_reason', close.reason);
}

async function clientExchange(url, deflate, closer) {
  const ws = new WebSocket(url, { perMessageDeflate: deflate, maxPayload: MAX_PAYLOAD });
  const inbox = new Inbox(ws);
  await opened(ws);
  say('extensions', ws.responseHeaders['sec-websocket-extensions'] || '');
  const all = cases();
  let echoes = 0;
  for (const [i, message] of all.entries()) {
    await sent(ws, message.binary ? message.bytes : message.bytes.toString(), { binary: message.binary });
    const echo = await inbox.next();
    const ok = !echo.close && same(echo, message);
    check(ok, `echo ${i}: sent ${describe(message)}, got ${echo.close ? 'the close' : describe(echo)}`);
    echoes += ok ? 1 : 0;
  }
  say('echoes', echoes);
  ws.ping(PING);
  for (let i = 0; i < 100 && inbox.pongs.length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  check(inbox.pongs.length === 1 && inbox.pongs[0].equals(PING), `pong: ${inbox.pongs.map((p) => p.toString())}`);
  say('pong', inbox.pongs.length === 1 ? 'ok' : 'missing');
  if (closer === 'peer') {
    ws.close(4001, 'client bye ✓');
  } else {
    await sent(ws, 'please close', { binary: false });
  }
  reportClose(await inbox.close());
  say('errors', inbox.errors.join(','));
}

async function clientOversize(url, size) {
  // Made before connecting, so that it goes out in one burst.
  const message = Buffer.alloc(size, 0x55);
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const inbox = new Inbox(ws);
  await opened(ws);
  // The send's callback may report the reset of a server that stopped reading; the close
  // event says what was received.
  ws.send(message, { binary: true }, (error) => say('send', error ? error.code || error.message : 'ok'));
  reportClose(await inbox.close());
  say('errors', inbox.errors.join(','));
}

async function clientKeepalive(url, idle) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const inbox = new Inbox(ws);
  await opened(ws);
  // ws answers Pings by itself while the application waits.
  await new Promise((resolve) => setTimeout(resolve, idle * 1000));
  await sent(ws, 'alive', { binary: false });
  say('pings', inbox.pings);
  await sent(ws, 'freezing', { binary: false });
  // Stop as a whole: nothing is read or answered any more.
  process.kill(process.pid, 'SIGSTOP');
}

async function server(deflate, subprotocols) {
  let negotiated = '';
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: deflate,
    maxPayload: MAX_PAYLOAD,
    // The first of ours the client offered (what python-websockets does too).
    handleProtocols: (offered) => subprotocols.find((p) => offered.has(p)) || false,
  });
  wss.on('headers', (headers) => {
    const line = headers.find((h) => h.toLowerCase().startsWith('sec-websocket-extensions:'));
    negotiated = line ? line.slice(line.indexOf(':') + 1).trim() : '';
  });
  await within(new Promise((resolve) => wss.once('listening', resolve)), 'listening');
  say('port', wss.address().port);
  const [ws, request] = await within(
    new Promise((resolve) => wss.once('connection', (ws, request) => resolve([ws, request]))),
    'a connection',
  );
  const inbox = new Inbox(ws);
  say('offered', request.headers['sec-websocket-extensions'] || '');
  say('extensions', negotiated);
  say('subprotocol', ws.protocol);
  const expected = cases();
  let received = 0;
  let payload = 0;
  let close = null;
  for (let i = 0; i <= expected.length; i++) {
    const message = await inbox.next();
    if (message.close) {
      close = message;
      break;
    }
    if (!message.binary && message.bytes.toString() === 'please close') {
      ws.close(4004, 'server bye ✓');
      close = await inbox.close();
      break;
    }
    if (received >= expected.length) {
      check(false, `message ${received}: one too many`);
      break;
    }
    const want = expected[received];
    check(same(message, want), `message ${received}: want ${describe(want)}, got ${describe(message)}`);
    received++;
    payload += want.bytes.length;
    await sent(ws, message.binary ? message.bytes : message.bytes.toString(), { binary: message.binary });
  }
  close = close || (await inbox.close());
  say('received', received);
  say('payload', payload);
  say('bytes_in', request.socket.bytesRead);
  say('bytes_out', request.socket.bytesWritten);
  reportClose(close);
  say('errors', inbox.errors.join(','));
  await within(new Promise((resolve) => wss.close(resolve)), 'the server to close');
}

async function main(argv) {
  say('version', createRequire(import.meta.url)('ws/package.json').version);
  if (argv[0] === 'client') {
    const [, url, scenario, ...rest] = argv;
    if (scenario === 'exchange') {
      await clientExchange(url, rest[0] === '--deflate', rest[rest.indexOf('--closer') + 1]);
    } else if (scenario === 'oversize') {
      await clientOversize(url, Number(rest[0]));
    } else if (scenario === 'keepalive') {
      await clientKeepalive(url, Number(rest[0]));
    } else {
      throw new Error(`unknown scenario ${scenario}`);
    }
  } else if (argv[0] === 'server') {
    const i = argv.indexOf('--subprotocols');
    await server(argv[1] === '--deflate', i >= 0 ? argv[i + 1].split(',') : []);
  } else {
    throw new Error(`unknown mode ${argv[0]}`);
  }
}

setTimeout(() => {
  say('fail', 'the peer ran out of time');
  process.exit(3);
}, DEADLINE_MS).unref();

main(process.argv.slice(2)).then(
  () => process.exit(failures.length > 0 ? 1 : 0),
  (error) => {
    say('fail', error.stack || error);
    process.exit(2);
  },
);
