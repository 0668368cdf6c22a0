// What the browser tests share: PASS/FAIL reporting, timeouts, a free port, deterministic
// text, and the chat server as a child process that can be stopped and started again.

import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

// One PASS or FAIL line per check; `failures` counts the FAILs. Once `interrupted` is set (the
// test is being torn down), what fails means nothing and is not reported.
export const report = {
  failures: 0,
  interrupted: false,
  check(name, ok, detail = "") {
    if (this.interrupted) return ok;
    if (!ok) this.failures += 1;
    console.log(`${ok ? "PASS" : "FAIL"}: ${name}${detail ? ` (${detail})` : ""}`);
    return ok;
  },
};
export const check = (name, ok, detail) => report.check(name, ok, detail);

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function freePort() {
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

// Deterministic text: `n` UTF-8 bytes drawn from `alphabet` (all of whose characters have the
// same encoded length), so both ends know exactly what to expect.
export function text(n, alphabet, seed) {
  const chars = [...alphabet];
  const width = Buffer.byteLength(chars[0]);
  let x = seed;
  let out = "";
  for (let i = 0; i < n / width; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out += chars[x % chars.length];
  }
  return out;
}

// The chat server (CHAT_BIN) as our child, so a test can restart it; its log goes to
// OUT/server.log (and its stderr text to `stderr`), its pid to OUT/server.pid for the shell
// script's cleanup trap.
export class ChatServer {
  constructor(bin, args, outDir) {
    this.bin = bin;
    this.args = args;
    this.outDir = outDir;
    this.child = null;
    this.stderr = "";
    this.log = fs.createWriteStream(path.join(outDir, "server.log"), { flags: "a" });
  }

  async start() {
    const child = spawn(this.bin, this.args, { stdio: ["ignore", "pipe", "pipe"] });
    fs.writeFileSync(path.join(this.outDir, "server.pid"), String(child.pid));
    child.stderr.on("data", (chunk) => {
      this.stderr += chunk;
      this.log.write(chunk);
    });
    let banner = "";
    const ready = new Promise((resolve, reject) => {
      child.stdout.on("data", (chunk) => {
        this.log.write(chunk);
        banner += chunk;
        if (banner.includes("chat: open")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`chat server exited with ${code} before listening`)));
    });
    await withTimeout(ready, 10000, "chat server start");
    this.child = child;
  }

  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await withTimeout(exited, 5000, "chat server stop").catch(() => child.kill("SIGKILL"));
    this.child = null;
  }

  kill() {
    if (this.child) this.child.kill("SIGKILL");
  }

  endLog() {
    this.log.end();
  }
}
