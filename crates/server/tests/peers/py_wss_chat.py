#!/usr/bin/env python3
"""A chat client over wss:// with Python's `ssl` and the PyPI `websockets` package (sync API):
usage `py_wss_chat.py wss://localhost:PORT/ws CA_FILE NICK json|line`. It trusts only CA_FILE,
speaks the `rustchat.json` subprotocol (json) or lines (line: no subprotocol), takes NICK, says
"hello from python", and waits until it has seen "ready" said by anyone in #lobby; then it
closes with 1000.
Prints each JSON event it receives on stdout, then `OK`; otherwise `FAIL: <what>` on stderr,
exit 1. Overall timeout 20 s. Run with the venv made by scripts/setup-python-peer.
"""
import json
import os
import ssl
import sys
import threading

from websockets.sync.client import connect

TIMEOUT_S = 20


def fail(what):
    print(f"FAIL: {what}", file=sys.stderr, flush=True)
    os._exit(1)


def until(ws, what, pred):
    while True:
        event = json.loads(ws.recv(timeout=10))
        print(json.dumps(event), flush=True)
        if pred(event):
            return event


def run_lines(url, context, nick):
    with connect(url, ssl=context, open_timeout=10, ping_interval=None, proxy=None) as ws:
        if ws.subprotocol is not None:
            fail(f"subprotocol: expected none, got {ws.subprotocol!r}")
        def until_line(pred):
            while True:
                line = ws.recv(timeout=10)
                print(line, flush=True)
                if pred(line):
                    return line
        until_line(lambda l: l.startswith("*** welcome, "))
        ws.send(f"/nick {nick}")
        until_line(lambda l: l.endswith(f"is now known as {nick}"))
        ws.send("hello from python")
        until_line(lambda l: l.endswith("> ready"))
        ws.close(1000, "bye")
    print("OK", flush=True)


def run(url, ca_file, nick, mode):
    context = ssl.create_default_context(cafile=ca_file)
    if mode == "line":
        return run_lines(url, context, nick)
    with connect(url, ssl=context, subprotocols=["rustchat.json"], open_timeout=10,
                 ping_interval=None, proxy=None) as ws:
        if ws.subprotocol != "rustchat.json":
            fail(f"subprotocol: expected rustchat.json, got {ws.subprotocol!r}")
        until(ws, "welcome", lambda e: e.get("type") == "welcome")
        ws.send(json.dumps({"type": "nick", "nick": nick}))
        until(ws, "our nick", lambda e: e.get("type") == "nick_changed" and e.get("new") == nick)
        ws.send(json.dumps({"type": "say", "text": "hello from python"}))
        until(ws, "ready", lambda e: e.get("type") == "message" and e.get("text") == "ready")
        ws.close(1000, "bye")
    print("OK", flush=True)


def main():
    if len(sys.argv) != 5 or sys.argv[4] not in ("json", "line"):
        fail("usage: py_wss_chat.py wss://HOST:PORT/ws CA_FILE NICK json|line")
    timer = threading.Timer(TIMEOUT_S, lambda: fail(f"no result within {TIMEOUT_S} s"))
    timer.daemon = True
    timer.start()
    try:
        run(*sys.argv[1:])
    except Exception as e:  # any failure is a test failure, with its reason
        fail(f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
