"""The cheapest request uvicorn can answer: a raw ASGI app, no framework.

    python benchmarks/asgi_hello.py PORT

Served like ``bocage serve`` (uvicorn, httptools, uvloop, no access log), it
measures what the HTTP stack alone costs on this machine: the floor under any
endpoint of the server (benchmarks/ingest.py reports it beside /healthz).
"""

from __future__ import annotations

import sys
from typing import Any

BODY = b'{"status":"ok"}'
START = {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"application/json"),
                     (b"content-length", str(len(BODY)).encode())]}
END = {"type": "http.response.body", "body": BODY}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(START)
    await send(END)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None,
                access_log=False, loop="uvloop", http="httptools")
