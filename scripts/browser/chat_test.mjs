// Drives two Chromium pages against rfc6455-tokio/examples/chat. Run by scripts/browser_test.sh,
// which builds the server and passes its path in CHAT_BIN and a directory for logs and
// screenshots in OUT_DIR.
// Prints one PASS or FAIL line per check; exits non-zero if any failed.

import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { ChatServer, check, freePort, report, text, withTimeout } from "./common.mjs";

const BIN = process.env.CHAT_BIN;
const OUT = process.env.OUT_DIR;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const PING_MS = 1000; // short, so the silent-client check is quick; pages must survive it
const WAIT_MS = 15000;

const port = await freePort();
const addr = `127.0.0.1:${port}`;
const url = `http://${addr}/`;
const server = new ChatServer(BIN, [addr, "--ping-ms", String(PING_MS)], OUT);
const startServer = () => server.start();
const stopServer = () => server.stop();

const waitOpen = (page, opens) =>
  page.waitForFunction((n) => window.__chat.state === "open" && window.__chat.opens >= n && window.__chat.me,
    opens, { timeout: WAIT_MS });

// Waits until `page` received a chat message from `from` whose text is `expected`.
async function received(page, from, expected) {
  try {
    await page.waitForFunction(([f, t]) => window.__chat.messages.some((m) => m.kind === "msg" && m.from === f && m.text === t),
      [from, expected], { timeout: WAIT_MS });
    return true;
  } catch {
    return false;
  }
}

// A client that completes the handshake and then never answers: the server must drop it.
async function silentClient() {
  const socket = net.connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.write("GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  let bytes = Buffer.alloc(0);
  socket.on("data", (chunk) => { bytes = Buffer.concat([bytes, chunk]); });
  const start = Date.now();
  const closed = new Promise((resolve) => socket.on("close", resolve));
  socket.on("error", () => {});
  const ok = await withTimeout(closed, 5 * PING_MS + 5000, "silent client drop").then(() => true, () => false);
  socket.destroy();
  const head = bytes.indexOf("\r\n\r\n");
  const frames = head >= 0 ? bytes.subarray(head + 4) : Buffer.alloc(0);
  // Frames the server sent: the welcome text, the join broadcast, then an empty Ping (0x89 0x00).
  const pinged = frames.includes(Buffer.from([0x89, 0x00]));
  return { ok, upgraded: bytes.subarray(0, 12).toString() === "HTTP/1.1 101", pinged, after: Date.now() - start };
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-test-chromium-"));
let context = null;

// Stopped from outside (the shell script's timeout or trap): leave no server, browser or
// profile behind, and say so.
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) {
  process.on(signal, async () => {
    check(`test ran to the end`, false, `interrupted by ${signal}`);
    report.interrupted = true;
    server.kill();
    if (context) await withTimeout(context.close(), 3000, "browser close").catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
    process.exit(1);
  });
}
try {
  await startServer();

  const page = await fetch(url);
  const html = await page.text();
  check("server serves the page on the WebSocket's port", page.status === 200 && html.includes("rfc6455 chat"),
    `HTTP ${page.status}`);
  const notFound = await fetch(`http://${addr}/nope`);
  check("server answers other paths with 404", notFound.status === 404, `HTTP ${notFound.status}`);

  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 900, height: 640 },
    handleSIGTERM: false, // our handler above closes the browser and the server
    handleSIGINT: false,
    handleSIGHUP: false,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const a = await context.newPage();
  const b = await context.newPage();
  await a.goto(url);
  await b.goto(url);
  await waitOpen(a, 1);
  await waitOpen(b, 1);
  const meA = await a.evaluate(() => window.__chat.me);
  const meB = await b.evaluate(() => window.__chat.me);
  check("both pages connected and joined the room", meA && meB && meA !== meB, `${meA}, ${meB}`);
  const shownState = await a.locator("#state").textContent();
  check("page shows the connection state", shownState === "open", `#state = ${shownState}`);

  const extensions = await a.evaluate(() => window.__chat.extensions);
  const shownExtensions = await a.locator("#extensions").textContent();
  check("Chromium negotiated permessage-deflate", extensions.startsWith("permessage-deflate") &&
    shownExtensions === extensions, `ws.extensions = "${extensions}"`);

  // A -> B, ASCII, typed into the page.
  const ascii = "hello from A, plain ASCII";
  await a.locator("#text").fill(ascii);
  await a.locator("#text").press("Enter");
  check("ASCII message A -> B", await received(b, meA, ascii));
  check("the room echoes a message to its sender", await received(a, meA, ascii));

  // B -> A, multi-byte UTF-8 (2-, 3- and 4-byte sequences), sent with the button.
  const multibyte = "héllo wörld — Ελληνικά, кириллица, ∑ → ★ €, 🎉👍🏽";
  await b.locator("#text").fill(multibyte);
  await b.locator("#send").click();
  check("multi-byte UTF-8 message B -> A", await received(a, meB, multibyte));

  // 64 KiB each way: ASCII A -> B, 3-byte characters B -> A.
  const bigAscii = text(65536, "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789.,", 7);
  await a.evaluate((t) => window.__chat.send(t), bigAscii);
  check("64 KiB ASCII message A -> B", await received(b, meA, bigAscii), `${Buffer.byteLength(bigAscii)} bytes`);
  const bigUtf8 = text(65535, "→★€∑√∞≈≠≤≥♠♣♥♦✓", 11);
  await b.evaluate((t) => window.__chat.send(t), bigUtf8);
  check("64 KiB multi-byte message B -> A", await received(a, meB, bigUtf8), `${Buffer.byteLength(bigUtf8)} bytes`);

  // The server pings every client each second of silence; Chromium answers, so nobody is dropped.
  const silent = await silentClient();
  check("server drops a client that stops answering pings", silent.ok && silent.upgraded && silent.pinged,
    `pinged: ${silent.pinged}, dropped after ${silent.after} ms`);
  const opensBefore = await Promise.all([a, b].map((p) => p.evaluate(() => window.__chat.opens)));
  check("pages that answer pings stay connected", opensBefore.every((n) => n === 1) &&
    (await a.evaluate(() => window.__chat.state)) === "open", `opens: ${opensBefore}`);

  // Restart the server: the pages must show the loss, count down, and come back by themselves.
  await stopServer();
  // The history, not the current state: by now a page may already have retried and failed
  // against the stopped server, replacing 1001 with 1006 on screen.
  const sawGoingAway = () => window.__chat.history.some((h) =>
    h.state === "closed" && h.detail.includes("1001") && /reconnecting in \d+ ms/.test(h.detail));
  let sawClose = false;
  try {
    await Promise.all([a, b].map((p) => p.waitForFunction(sawGoingAway, null, { timeout: WAIT_MS })));
    sawClose = true;
  } catch { /* reported below */ }
  const closedDetail = await a.evaluate(() =>
    window.__chat.history.filter((h) => h.state === "closed").map((h) => h.detail)[0] || "never closed");
  check("pages show the server going away and the reconnect countdown", sawClose, closedDetail);
  await a.screenshot({ path: path.join(OUT, "chat-reconnecting.png") });
  await new Promise((r) => setTimeout(r, 1000)); // let a retry or two fail against no server
  await startServer();
  let back = true;
  try {
    await Promise.all([waitOpen(a, 2), waitOpen(b, 2)]);
  } catch {
    back = false;
  }
  const history = await a.evaluate(() => window.__chat.history.map((h) => h.state).join(" > "));
  check("both pages reconnected after the server restarted", back, `page A: ${history}`);

  const meA2 = await a.evaluate(() => window.__chat.me);
  const meB2 = await b.evaluate(() => window.__chat.me);
  const after = "back after the restart ✓";
  await b.locator("#text").fill(after);
  await b.locator("#text").press("Enter");
  check("messages flow again after the reconnect", await received(a, meB2, after), `${meB2} -> ${meA2}`);

  await a.screenshot({ path: path.join(OUT, "chat.png") });
  console.log(`screenshots: ${path.join(OUT, "chat.png")}, ${path.join(OUT, "chat-reconnecting.png")}`);
} catch (error) {
  check("test ran to the end", false, String(error && error.stack || error).split("\n")[0]);
} finally {
  if (context) await context.close().catch(() => {});
  await stopServer().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
  server.endLog();
}
process.exit(report.failures === 0 ? 0 : 1);
