"""An ASGI echo application for hypercorn: the independent HTTP/2 WebSocket server that
scripts/h2_peer.sh runs our HTTP/2 client against. Every text or binary message comes back
as it came; each WebSocket is logged with the HTTP version it arrived on, so the log shows
that hypercorn took it as an RFC 8441 extended CONNECT over HTTP/2."""

import sys


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not a WebSocket request\n"})
        return
    if scope["type"] != "websocket":
        return
    event = await receive()
    if event["type"] != "websocket.connect":
        return
    extensions = dict(scope.get("headers", [])).get(b"sec-websocket-extensions", b"").decode()
    print(
        f"websocket: HTTP/{scope['http_version']} {scope['scheme']} {scope['path']}"
        f" extensions offered: {extensions or '-'}",
        file=sys.stderr,
        flush=True,
    )
    await send({"type": "websocket.accept"})
    messages = 0
    while True:
        event = await receive()
        if event["type"] == "websocket.receive":
            messages += 1
            if event.get("text") is not None:
                await send({"type": "websocket.send", "text": event["text"]})
            else:
                await send({"type": "websocket.send", "bytes": event["bytes"]})
        elif event["type"] == "websocket.disconnect":
            print(f"websocket: {scope['path']} ended with {event.get('code')} after {messages} messages",
                  file=sys.stderr, flush=True)
            return
