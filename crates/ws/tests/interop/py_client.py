#!/usr/bin/env python3
"""WebSocket client (PyPI `websockets`, sync API) that checks an echo server: usage
`py_client.py ws://127.0.0.1:PORT/ [default|window-bits|no-context|off]`. Offers subprotocol
`chat` and permessage-deflate: the library's default offer (`default`, also without the
argument), one with small windows (`window-bits`: client_max_window_bits=10,
server_max_window_bits=11), one asking for no context takeover either way (`no-context`), or
none (`off`). Sends text/binary messages and checks each echo, pings and waits for the pong,
then closes with 1000 "bye" and checks the server echoed the close.
Prints `OK <n> messages, extensions: <the response's Sec-WebSocket-Extensions or none>` and
exits 0; otherwise `FAIL: <what>` on stderr, exit 1.
Overall timeout 30 s; a normal run takes well under 1 s.
Run with the venv made by scripts/setup-python-peer.
"""
import os
import sys
import threading

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect

TIMEOUT_S = 30
MESSAGES = [
    "hello",
    "héllo wörld ✓ 🚀",
    "",
    bytes(range(256)),
    bytes(i * 7 % 251 for i in range(100_000)),
    "".join(chr(ord("a") + i % 26) for i in range(70_000)),
]


def fail(what):
    print(f"FAIL: {what}", file=sys.stderr, flush=True)
    os._exit(1)


def describe(m):
    return f"{type(m).__name__} of length {len(m)}: {m[:40]!r}"


OFFERS = {
    "default": {"compression": "deflate"},
    "window-bits": {"compression": None, "extensions": [ClientPerMessageDeflateFactory(
        client_max_window_bits=10, server_max_window_bits=11)]},
    "no-context": {"compression": None, "extensions": [ClientPerMessageDeflateFactory(
        server_no_context_takeover=True, client_no_context_takeover=True)]},
    "off": {"compression": None},
}


def run(url, offer):
    with connect(url, subprotocols=["chat"], max_size=16 * 1024 * 1024,
                 open_timeout=10, ping_interval=None, proxy=None, **OFFERS[offer]) as ws:
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "none")
        if ws.subprotocol != "chat":
            fail(f"subprotocol: expected 'chat', got {ws.subprotocol!r}")
        for i, sent in enumerate(MESSAGES):
            ws.send(sent)
            got = ws.recv(timeout=10)
            if got != sent:
                fail(f"message {i}: sent {describe(sent)}, echo was {describe(got)}")
        if not ws.ping(b"are you there").wait(10):
            fail("no pong within 10 s")
        ws.close(1000, "bye")
    if ws.protocol.close_rcvd is None:
        fail("the server did not answer our close frame")
    if (ws.close_code, ws.close_reason) != (1000, "bye"):
        fail(f"close echo: expected (1000, 'bye'), got ({ws.close_code}, {ws.close_reason!r})")
    print(f"OK {len(MESSAGES)} messages, extensions: {extensions}", flush=True)


def main():
    if len(sys.argv) not in (2, 3) or (sys.argv[2:] and sys.argv[2] not in OFFERS):
        print(f"usage: py_client.py ws://HOST:PORT/PATH [{'|'.join(OFFERS)}]", file=sys.stderr)
        sys.exit(2)
    threading.Timer(TIMEOUT_S, fail, args=(f"timed out after {TIMEOUT_S} s",)).start()
    try:
        run(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "default")
    except Exception as e:  # connection refused, handshake rejected, closed early...
        fail(f"{type(e).__name__}: {e}")
    os._exit(0)


if __name__ == "__main__":
    main()
