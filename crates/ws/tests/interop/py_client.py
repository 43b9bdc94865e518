#!/usr/bin/env python3
"""WebSocket client (PyPI `websockets`, sync API) that checks an echo server: usage
`py_client.py ws://127.0.0.1:PORT/`. Offers subprotocol `chat` (and permessage-deflate,
the library default), sends text/binary messages and checks each echo, pings and waits
for the pong, then closes with 1000 "bye" and checks the server echoed the close.
Prints `OK <n> messages` and exits 0; otherwise `FAIL: <what>` on stderr, exit 1.
Overall timeout 30 s; a normal run takes well under 1 s.
Run with the venv made by scripts/setup-python-peer.
"""
import os
import sys
import threading

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


def run(url):
    with connect(url, subprotocols=["chat"], max_size=16 * 1024 * 1024,
                 open_timeout=10, ping_interval=None, proxy=None) as ws:
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
    print(f"OK {len(MESSAGES)} messages", flush=True)


def main():
    if len(sys.argv) != 2:
        print("usage: py_client.py ws://HOST:PORT/PATH", file=sys.stderr)
        sys.exit(2)
    threading.Timer(TIMEOUT_S, fail, args=(f"timed out after {TIMEOUT_S} s",)).start()
    try:
        run(sys.argv[1])
    except Exception as e:  # connection refused, handshake rejected, closed early...
        fail(f"{type(e).__name__}: {e}")
    os._exit(0)


if __name__ == "__main__":
    main()
