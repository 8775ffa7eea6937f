"""The serving protocol writes a response's head and body together, and stays HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from bocage.api.http_protocol import CoalescingHttpToolsProtocol, CoalescingTransport


class Recorder:
    """A transport that records what is written to it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def test_head_and_body_go_out_in_one_write() -> None:
    rec = Recorder()
    t = CoalescingTransport(rec)  # type: ignore[arg-type]
    t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert rec.writes == []
    t.write(b"ok")
    assert rec.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    t.write(b"more")  # later chunks of a streamed body go straight through
    assert rec.writes[-1] == b"more"
    assert t.is_closing() is False  # everything else is the wrapped transport's


def test_interim_continue_is_not_held_and_close_flushes_a_held_head() -> None:
    rec = Recorder()
    t = CoalescingTransport(rec)  # type: ignore[arg-type]
    t.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert rec.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    t.write(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    t.close()
    assert rec.writes[-1] == b"HTTP/1.1 500 Internal Server Error\r\n\r\n"
    assert rec.closed


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for part in (b"a", b"b", b"c"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    answer = b"echo:" + body if body else b"hello"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture
def base() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                        access_log=False, http=CoalescingHttpToolsProtocol))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_real_server_answers_every_kind_of_response(base: str) -> None:
    with httpx.Client(base_url=base) as client:  # one kept-alive connection
        for _ in range(3):
            r = client.get("/")
            assert (r.status_code, r.text) == (200, "hello")
        assert client.head("/").status_code == 200
        assert client.get("/empty").status_code == 204
        r = client.get("/stream")
        assert (r.status_code, r.text, r.headers.get("transfer-encoding")) == (200, "abc",
                                                                               "chunked")
        r = client.post("/", content=b"x" * 100_000)
        assert r.text == "echo:" + "x" * 100_000


def test_expect_continue_and_pipelined_requests_over_a_raw_socket(base: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n"
                     b"expect: 100-continue\r\n\r\n")
        first = sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")  # sent before the body
        sock.sendall(b"abc")
        got = first
        while b"echo:abc" not in got:
            got += sock.recv(4096)
        # two requests in one segment: both answered, in order
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\nPOST / HTTP/1.1\r\nhost: x\r\n"
                     b"content-length: 2\r\n\r\nhi")
        got = b""
        while got.count(b"HTTP/1.1 200") < 2 or not got.endswith(b"echo:hi"):
            chunk = sock.recv(4096)
            assert chunk, got
            got += chunk
        assert got.index(b"hello") < got.index(b"echo:hi")
