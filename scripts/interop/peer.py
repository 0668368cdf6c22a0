"""A Python `websockets` peer for rfc6455-tokio's interop tests (rfc6455-tokio/tests/interop.rs).

Run by the Rust tests with the venv's interpreter that scripts/interop.sh sets up:

    peer.py client URL exchange --deflate|--no-deflate --closer peer|server
    peer.py client URL oversize SIZE
    peer.py client URL keepalive IDLE_SECONDS
    peer.py server --deflate|--no-deflate [--subprotocols a,b]

It prints `key=value` lines on stdout for the Rust side to check (a server prints `port=N`
first), `fail=...` for each check of its own that failed, and exits 1 if any did. Every wait is
bounded; the whole run is cut off after DEADLINE seconds. The messages are the ones
tests/interop.rs and peer.mjs make: the three generators must stay identical.
"""

import asyncio
import os
import signal
import sys

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode

DEADLINE = 30
WAIT = 10
SIZES = [0, 125, 126, 65535, 65536, 1 << 20]
FIXED_TEXT = "héllo wörld – 日本語 – 🎉🦀 ✓ Ελληνικά"
PATTERN = ["a", "é", "€", "😀"]
PING = "ping ✓".encode()
MAX_SIZE = 16 << 20

failures = []


def say(key, value):
    print(f"{key}={value}", flush=True)


def check(ok, what):
    if not ok:
        failures.append(what)
        say("fail", what)


def text_of(n):
    """`n` bytes of UTF-8: 'a', 'é', '€', '😀' in turn (1 to 4 bytes) while they fit, then 'z's."""
    parts, used, i = [], 0, 0
    while True:
        c = PATTERN[i % 4]
        width = len(c.encode())
        if used + width > n:
            break
        parts.append(c)
        used += width
        i += 1
    parts.append("z" * (n - used))
    return "".join(parts)


def binary_of(n, seed):
    """`n` bytes from the LCG x = (x * 1103515245 + 12345) mod 2^31, each byte (x >> 16) & 0xff."""
    out = bytearray(n)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


def cases():
    """Text then binary for each size, then a fixed multi-byte text."""
    out = []
    for n in SIZES:
        out.append(text_of(n))
        out.append(binary_of(n, n + 1))
    out.append(FIXED_TEXT)
    return out


def describe(message):
    kind = "text" if isinstance(message, str) else "binary"
    size = len(message.encode()) if isinstance(message, str) else len(message)
    return f"{kind} of {size} bytes"


def same(got, expected):
    """Same kind and the same bytes."""
    return type(got) is type(expected) and got == expected


class Counting:
    """Counts what crosses the wire, and the Pings received, on a connection."""

    def setup(self):
        self.bytes_in = 0
        self.bytes_out = 0
        self.pings = 0
        inner = self.protocol.data_to_send

        def counted():
            chunks = inner()
            self.bytes_out += sum(len(c) for c in chunks)
            return chunks

        self.protocol.data_to_send = counted

    def data_received(self, data):
        self.bytes_in += len(data)
        super().data_received(data)

    def process_event(self, event):
        if getattr(event, "opcode", None) is Opcode.PING:
            self.pings += 1
        super().process_event(event)


class CountingClient(Counting, ClientConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup()


class CountingServer(Counting, ServerConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup()


def report_close(ws):
    rcvd = ws.protocol.close_rcvd
    say("close_code", rcvd.code if rcvd else ws.close_code)
    say("close_reason", rcvd.reason if rcvd else "")


async def client_exchange(url, deflate, closer):
    async with connect(
        url,
        compression="deflate" if deflate else None,
        max_size=MAX_SIZE,
        ping_interval=None,
        open_timeout=WAIT,
        close_timeout=WAIT,
        create_connection=CountingClient,
    ) as ws:
        say("offered", ws.request.headers.get("Sec-WebSocket-Extensions", ""))
        say("extensions", ws.response.headers.get("Sec-WebSocket-Extensions", ""))
        echoes = 0
        for i, message in enumerate(cases()):
            await ws.send(message)
            echo = await asyncio.wait_for(ws.recv(), WAIT)
            check(same(echo, message), f"echo {i}: sent {describe(message)}, got {describe(echo)}")
            echoes += same(echo, message)
        say("echoes", echoes)
        pong = await ws.ping(PING)
        await asyncio.wait_for(pong, WAIT)
        say("pong", "ok")
        if closer == "peer":
            await ws.close(4001, "client bye ✓")
        else:
            await ws.send("please close")
            try:
                extra = await asyncio.wait_for(ws.recv(), WAIT)
                check(False, f"expected the server's Close, got {describe(extra)}")
            except ConnectionClosed:
                pass
            await asyncio.wait_for(ws.wait_closed(), WAIT)
        report_close(ws)


async def client_oversize(url, size):
    # Made before connecting, so that it goes out in one burst.
    message = b"\x55" * size
    # Not `async with`: its exit would close a connection that has ended (and websockets
    # 17.4 can then trip over asyncio's closed transport).
    ws = await connect(url, compression=None, ping_interval=None, open_timeout=WAIT, close_timeout=WAIT)
    try:
        await ws.send(message)
    except ConnectionClosed:
        say("send", "interrupted")
    try:
        extra = await asyncio.wait_for(ws.recv(), WAIT)
        check(False, f"expected the server's Close, got {describe(extra)}")
    except ConnectionClosed:
        pass
    await asyncio.wait_for(ws.wait_closed(), WAIT)
    report_close(ws)


async def client_keepalive(url, idle):
    async with connect(
        url,
        compression=None,
        ping_interval=None,
        open_timeout=WAIT,
        close_timeout=WAIT,
        create_connection=CountingClient,
    ) as ws:
        # The connection answers Pings in the background while the application sleeps.
        await asyncio.sleep(idle)
        await ws.send("alive")
        say("pings", ws.pings)
        await ws.send("freezing")
        # Stop as a whole: nothing is read or answered any more.
        os.kill(os.getpid(), signal.SIGSTOP)


async def server(deflate, subprotocols):
    done = asyncio.get_running_loop().create_future()

    async def handler(ws):
        say("offered", ws.request.headers.get("Sec-WebSocket-Extensions", ""))
        say("extensions", ws.response.headers.get("Sec-WebSocket-Extensions", ""))
        say("subprotocol", ws.subprotocol or "")
        expected = cases()
        received = 0
        payload = 0
        try:
            for _ in range(len(expected) + 1):
                message = await asyncio.wait_for(ws.recv(), WAIT)
                if message == "please close":
                    await ws.close(4004, "server bye ✓")
                    break
                if received >= len(expected):
                    check(False, f"message {received}: one too many")
                    break
                want = expected[received]
                check(same(message, want), f"message {received}: want {describe(want)}, got {describe(message)}")
                received += 1
                payload += len(want.encode()) if isinstance(want, str) else len(want)
                await ws.send(message)
            # Our client closes: wait for its Close.
            await asyncio.wait_for(ws.recv(), WAIT)
        except ConnectionClosed:
            pass
        await asyncio.wait_for(ws.wait_closed(), WAIT)
        say("received", received)
        say("payload", payload)
        say("bytes_in", ws.bytes_in)
        say("bytes_out", ws.bytes_out)
        report_close(ws)
        done.set_result(None)

    async with serve(
        handler,
        "127.0.0.1",
        0,
        compression="deflate" if deflate else None,
        subprotocols=subprotocols or None,
        max_size=MAX_SIZE,
        ping_interval=None,
        close_timeout=WAIT,
        create_connection=CountingServer,
    ) as listening:
        say("port", listening.sockets[0].getsockname()[1])
        await done


async def main(argv):
    say("version", websockets.__version__)
    if argv[0] == "client":
        url, scenario, rest = argv[1], argv[2], argv[3:]
        if scenario == "exchange":
            await client_exchange(url, rest[0] == "--deflate", rest[rest.index("--closer") + 1])
        elif scenario == "oversize":
            await client_oversize(url, int(rest[0]))
        elif scenario == "keepalive":
            await client_keepalive(url, float(rest[0]))
        else:
            raise SystemExit(f"unknown scenario {scenario}")
    elif argv[0] == "server":
        subprotocols = []
        if "--subprotocols" in argv:
            subprotocols = argv[argv.index("--subprotocols") + 1].split(",")
        await server(argv[1] == "--deflate", subprotocols)
    else:
        raise SystemExit(f"unknown mode {argv[0]}")


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(sys.argv[1:]), DEADLINE))
    sys.exit(1 if failures else 0)
