#!/usr/bin/env python3
"""WebSocket echo server (PyPI `websockets`, sync API) for our interop tests.

Binds 127.0.0.1 on a free port and prints exactly one line `LISTENING <port>` (flushed)
once it accepts connections. Echoes text and binary messages unchanged (max 16 MiB), selects
subprotocol `chat` when the client offers it, and negotiates permessage-deflate if offered.
Exits by itself after 60 s, or as soon as stdin reaches EOF: spawn it with a *piped* stdin
and keep the handle open (stdin=/dev/null makes it exit at once).
Run with the venv made by scripts/setup-python-peer. Starts in about 0.2 s.
"""
import os
import sys
import threading

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

LIFETIME_S = 60
MAX_SIZE = 16 * 1024 * 1024


def select_subprotocol(_conn, offered):
    return "chat" if "chat" in offered else None


def echo(ws):
    try:
        for message in ws:  # str for text frames, bytes for binary frames
            ws.send(message)
    except ConnectionClosed:
        pass


def stop_when_stdin_closes():
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


def main():
    with serve(echo, "127.0.0.1", 0, select_subprotocol=select_subprotocol,
               max_size=MAX_SIZE, ping_interval=None) as server:
        threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
        threading.Timer(LIFETIME_S, os._exit, args=(0,)).start()
        print(f"LISTENING {server.socket.getsockname()[1]}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
