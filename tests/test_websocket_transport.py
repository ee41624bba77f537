"""The WebSocket transport against a real `tabsense serve --ws` process."""

from __future__ import annotations

import base64
import json
import re
import subprocess

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from support import EXTENSION_ORIGIN, PYTHON, REPO, sample

PHOTO_B64 = base64.b64encode(sample("brambling").read_bytes()).decode()


@pytest.fixture(scope="module")
def server(tabsense_home):
    import os

    env = dict(os.environ, TABSENSE_HOME=str(tabsense_home), TABSENSE_THREADS="1")
    proc = subprocess.Popen([PYTHON, "-m", "host.cli", "serve", "--ws", "--port", "0"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = None
    for line in proc.stderr:
        match = re.search(r"listening on ws://127\.0\.0\.1:(\d+)/", line)
        if match:
            port = int(match.group(1))
            break
    assert port, "the server did not announce its port"
    token = subprocess.run([PYTHON, "-m", "host.cli", "token"], cwd=REPO, env=env, capture_output=True,
                           text=True, check=True).stdout.strip()
    yield {"port": port, "token": token}
    proc.terminate()
    proc.wait(10)


def url(server, token=None) -> str:
    token = server["token"] if token is None else token
    return f"ws://127.0.0.1:{server['port']}/?token={token}"


def test_ping_and_classify_over_text_and_binary_frames(server):
    with connect(url(server), origin=EXTENSION_ORIGIN) as ws:
        ws.send(json.dumps({"id": 1, "type": "ping"}))
        assert json.loads(ws.recv(timeout=10))["result"]["version"] == "0.1.0"
        ws.send(json.dumps({"id": 2, "type": "classify_image", "image": PHOTO_B64}).encode())  # binary frame
        answer = json.loads(ws.recv(timeout=20))
        assert answer["id"] == 2 and answer["result"]["labels"][0]["label"] == "brambling"


def test_errors_keep_the_connection_open(server):
    with connect(url(server), origin=EXTENSION_ORIGIN) as ws:
        ws.send("not json")
        assert json.loads(ws.recv(timeout=10))["error"]["code"] == "invalid_json"
        ws.send('{"id": "\\ud800", "type": "ping"}')  # valid JSON text; no answer can carry that id
        assert json.loads(ws.recv(timeout=10)) == {"id": None, "ok": False, "error": {
            "code": "invalid_request",
            "message": "The request holds a lone UTF-16 surrogate escape (like \\ud800), which is not valid "
                       "Unicode; escape characters outside the BMP as surrogate pairs."}}
        ws.send(json.dumps({"id": 3, "type": "classify_image", "image": "!!"}))
        assert json.loads(ws.recv(timeout=10))["error"]["code"] == "bad_base64"
        ws.send(json.dumps({"id": 4, "type": "ping"}))
        assert json.loads(ws.recv(timeout=10))["ok"]


@pytest.mark.parametrize(
    "origin, token, status",
    [
        ("https://evil.example", None, 403),
        ("chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", None, 403),
        (None, None, 403),
        (EXTENSION_ORIGIN, "", 401),
        (EXTENSION_ORIGIN, "wrong-token", 401),
    ],
)
def test_handshake_refuses_wrong_origin_or_token(server, origin, token, status):
    with pytest.raises(InvalidStatus) as info:
        connect(url(server, token), origin=origin, open_timeout=10)
    assert info.value.response.status_code == status


def test_binds_to_loopback_only(capabilities):
    import asyncio

    from host.dispatcher import Dispatcher
    from host.transports.websocket import WebSocketServer

    server = WebSocketServer(Dispatcher(capabilities), "t", [EXTENSION_ORIGIN], 0)

    async def start_and_stop():
        ready = asyncio.Event()
        task = asyncio.create_task(server.serve_forever(on_ready=ready.set))
        await asyncio.wait_for(ready.wait(), 10)
        task.cancel()

    asyncio.run(start_and_stop())
    assert server.addresses and all(host == "127.0.0.1" for host, _ in server.addresses)


def test_an_answer_that_fails_is_logged_and_the_connection_keeps_serving(capabilities, caplog):
    """Whatever one message's answer raises stays with that message."""
    import asyncio
    import threading

    from host.dispatcher import Dispatcher
    from host.transports.websocket import WebSocketServer

    class FailsOnce(Dispatcher):
        async def handle(self, payload, session=None):
            if "boom" in payload:
                raise RuntimeError("a bug")
            return await super().handle(payload, session)

    server = WebSocketServer(FailsOnce(capabilities), "t", [EXTENSION_ORIGIN], 0)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    task = loop.create_task(server.serve_forever(on_ready=ready.set))
    thread = threading.Thread(target=loop.run_until_complete, args=(asyncio.wait([task]),), daemon=True)
    thread.start()
    try:
        assert ready.wait(30)
        with connect(f"ws://127.0.0.1:{server.port}/?token=t", origin=EXTENSION_ORIGIN) as ws:
            for message in ({"id": 1, "type": "boom"}, {"id": 2, "type": "ping"}):
                ws.send(json.dumps(message))
            assert json.loads(ws.recv(timeout=60))["id"] == 2
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(30)
        loop.close()
    dropped = [r for r in caplog.records if "was dropped" in r.getMessage()]
    assert len(dropped) == 1 and dropped[0].exc_info[0] is RuntimeError


def test_a_flooding_client_is_rate_limited_while_others_are_served(server):
    with connect(url(server), origin=EXTENSION_ORIGIN) as flood, connect(url(server), origin=EXTENSION_ORIGIN) as other:
        for i in range(600):
            flood.send(json.dumps({"id": i, "type": "ping"}))
        # Most likely past the burst, so refused unread: still one answer each (null id).
        flood.send("[" * 100_000)
        flood.send('{"id": "\\ud800", "type": "ping"}')
        # The polite client is answered, and not rate-limited, before the flooding one has
        # read a single answer: the flood neither blocks nor throttles other connections.
        other.send(json.dumps({"id": "polite", "type": "ping"}))
        polite = json.loads(other.recv(timeout=60))
        assert polite["id"] == "polite" and polite["ok"]
        answers = [json.loads(flood.recv(timeout=60)) for _ in range(602)]
        assert [a["id"] for a in answers].count(None) == 2
        answers = [a for a in answers if a["id"] is not None]
        limited = [a for a in answers if not a["ok"]]
        assert limited and all(a["error"]["code"] == "rate_limited" for a in limited)
        assert len(answers) - len(limited) >= 200  # the burst allowance is served
        assert {a["id"] for a in answers} == set(range(600))  # every request answered


def test_an_oversized_message_closes_only_that_connection(server):
    from websockets.exceptions import ConnectionClosed

    with connect(url(server), origin=EXTENSION_ORIGIN, max_size=None) as ws:
        ws.send("x" * (64 * 1024 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=30)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009  # message too big
    with connect(url(server), origin=EXTENSION_ORIGIN) as ws:
        ws.send(json.dumps({"id": 1, "type": "ping"}))
        assert json.loads(ws.recv(timeout=10))["ok"]
