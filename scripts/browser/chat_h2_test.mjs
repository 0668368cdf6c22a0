// WebSockets over HTTP/2 (RFC 8441) in Chromium: rfc6455-tokio/examples/chat with --tls serves
// the page and its WebSocket on one TLS port with ALPN h2 and http/1.1. Page A loads over h2 and
// opens wss:// to the same origin, which Chromium sends as an extended CONNECT on that h2
// connection; page B, in a second Chromium started with --disable-http2, uses HTTP/1.1 and the
// Upgrade. Both are in the same room. Run by scripts/browser_h2_test.sh (through
// scripts/browser_test.sh), which builds the server and passes CHAT_BIN and OUT_DIR.
// Prints one PASS or FAIL line per check, and the evidence lines; exits non-zero on a failure.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { ChatServer, check, freePort, report, text, withTimeout } from "./common.mjs";

const BIN = process.env.CHAT_BIN;
const OUT = process.env.OUT_DIR;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const WAIT_MS = 15000;

const port = await freePort();
const addr = `127.0.0.1:${port}`;
const url = `https://${addr}/`;
const netLogPath = path.join(OUT, "netlog-h2.json");
fs.rmSync(netLogPath, { force: true });
const server = new ChatServer(BIN, [addr, "--tls", "--ping-ms", "5000"], OUT);

const baseArgs = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  // The certificate is made by the server at start, for this run only.
  "--ignore-certificate-errors"];

async function launch(dir, extraArgs) {
  return chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 900, height: 640 },
    handleSIGTERM: false,
    handleSIGINT: false,
    handleSIGHUP: false,
    args: [...baseArgs, ...extraArgs],
  });
}

const waitOpen = (page) =>
  page.waitForFunction(() => window.__chat.state === "open" && window.__chat.me, null, { timeout: WAIT_MS });

async function received(page, from, expected) {
  try {
    await page.waitForFunction(([f, t]) => window.__chat.messages.some((m) => m.kind === "msg" && m.from === f && m.text === t),
      [from, expected], { timeout: WAIT_MS });
    return true;
  } catch {
    return false;
  }
}

// The events of Chromium's net log (written when the browser exits) whose request headers carry
// `:protocol: websocket`: the extended CONNECTs Chromium sent, with the event's name.
function extendedConnectsInNetLog() {
  const raw = fs.readFileSync(netLogPath, "utf8").trim();
  let log;
  try {
    log = JSON.parse(raw);
  } catch {
    // A log cut short (the browser killed, not closed) lacks its closing brackets.
    log = JSON.parse(raw.replace(/,\s*$/, "") + "]}");
  }
  const names = Object.fromEntries(Object.entries(log.constants.logEventTypes).map(([name, id]) => [id, name]));
  const found = [];
  for (const event of log.events) {
    const headers = event.params && event.params.headers;
    if (Array.isArray(headers) && headers.some((h) => h === ":protocol: websocket")) {
      found.push({ type: names[event.type], headers });
    }
  }
  return found;
}

const dirA = fs.mkdtempSync(path.join(os.tmpdir(), "chat-h2-a-"));
const dirB = fs.mkdtempSync(path.join(os.tmpdir(), "chat-h2-b-"));
let h2Browser = null;
let h1Browser = null;
async function closeBrowsers() {
  for (const browser of [h2Browser, h1Browser]) {
    if (browser) await withTimeout(browser.close(), 5000, "browser close").catch(() => {});
  }
  h2Browser = null;
  h1Browser = null;
}

for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) {
  process.on(signal, async () => {
    check("test ran to the end", false, `interrupted by ${signal}`);
    report.interrupted = true;
    server.kill();
    await closeBrowsers();
    fs.rmSync(dirA, { recursive: true, force: true });
    fs.rmSync(dirB, { recursive: true, force: true });
    process.exit(1);
  });
}

try {
  await server.start();

  // Page A: HTTP/2. The net log records what Chromium sent on the wire's streams.
  h2Browser = await launch(dirA, [`--log-net-log=${netLogPath}`, "--net-log-capture-mode=Default"]);
  const a = await h2Browser.newPage();
  await a.goto(url);
  const protoA = await a.evaluate(() => performance.getEntriesByType("navigation")[0].nextHopProtocol);
  check("page A arrived over HTTP/2", protoA === "h2", `nextHopProtocol = ${protoA}`);
  await waitOpen(a);
  const meA = await a.evaluate(() => window.__chat.me);
  const extA = await a.evaluate(() => window.__chat.extensions);
  check("page A's wss:// WebSocket is open", !!meA, meA);
  check("permessage-deflate negotiated over HTTP/2", extA.startsWith("permessage-deflate"), `ws.extensions = "${extA}"`);

  // Page B: HTTP/1.1 only, the Upgrade.
  h1Browser = await launch(dirB, ["--disable-http2"]);
  const b = await h1Browser.newPage();
  await b.goto(url);
  const protoB = await b.evaluate(() => performance.getEntriesByType("navigation")[0].nextHopProtocol);
  check("page B arrived over HTTP/1.1", protoB === "http/1.1", `nextHopProtocol = ${protoB}`);
  await waitOpen(b);
  const meB = await b.evaluate(() => window.__chat.me);
  check("page B's WebSocket is open, in the same room", !!meB && meB !== meA, `${meA}, ${meB}`);

  // The server's own record: one extended CONNECT over HTTP/2, one Upgrade over HTTP/1.1.
  const h2Line = server.stderr.split("\n").find((l) => l.includes("ws request: HTTP/2.0 CONNECT /ws :protocol=websocket"));
  const h1Line = server.stderr.split("\n").find((l) => l.includes("ws request: HTTP/1.1 GET /ws"));
  check("server saw an extended CONNECT with :protocol = websocket on HTTP/2", !!h2Line, h2Line || "no such line");
  check("server saw an HTTP/1.1 Upgrade from page B", !!h1Line, h1Line || "no such line");
  const alpnLine = server.stderr.split("\n").find((l) => l.includes('ALPN "h2"'));
  check("the TLS connection negotiated h2 by ALPN", !!alpnLine, alpnLine || "no such line");

  // Messages both ways between the HTTP/2 page and the HTTP/1.1 page.
  const hello = "from A over an h2 stream";
  await a.locator("#text").fill(hello);
  await a.locator("#text").press("Enter");
  check("message A (h2) -> B (http/1.1)", await received(b, meA, hello));
  const back = "from B over HTTP/1.1 — ünïcödé ✓ 🎉";
  await b.locator("#text").fill(back);
  await b.locator("#send").click();
  check("message B (http/1.1) -> A (h2)", await received(a, meB, back));
  const bigA = text(65535, "→★€∑√∞≈≠≤≥♠♣♥♦✓", 3);
  await a.evaluate((t) => window.__chat.send(t), bigA);
  check("64 KiB multi-byte message A (h2) -> B", await received(b, meA, bigA), `${Buffer.byteLength(bigA)} bytes`);
  const bigB = text(65536, "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789.,", 5);
  await b.evaluate((t) => window.__chat.send(t), bigB);
  check("64 KiB ASCII message B -> A (h2)", await received(a, meB, bigB), `${Buffer.byteLength(bigB)} bytes`);

  await a.screenshot({ path: path.join(OUT, "chat-h2.png") });
  // Closing the browser writes out the net log.
  await closeBrowsers();
  const connects = extendedConnectsInNetLog();
  const first = connects[0];
  check("Chromium's net log shows the extended CONNECT it sent on an HTTP/2 stream", !!first &&
    /HTTP2/.test(first.type) && first.headers.includes(":method: CONNECT"),
    first ? `${first.type}: ${first.headers.filter((h) => /^(:method|:protocol|:path|sec-websocket-extensions)/.test(h)).join(", ")}` : "none");
} catch (error) {
  check("test ran to the end", false, String(error && error.stack || error).split("\n")[0]);
} finally {
  await closeBrowsers();
  await server.stop().catch(() => {});
  fs.rmSync(dirA, { recursive: true, force: true });
  fs.rmSync(dirB, { recursive: true, force: true });
  server.endLog();
}
process.exit(report.failures === 0 ? 0 : 1);
