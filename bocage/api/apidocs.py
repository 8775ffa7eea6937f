"""``/docs``: the interactive API documentation (Swagger UI) without inline script.

FastAPI's own page inlines its start-up script, which a strict
Content-Security-Policy forbids; this page loads the same Swagger UI bundle and
starts it from ``/docs/init.js``, a file of ours. The bundle itself still comes
from its CDN (as with FastAPI's default page): on a machine without internet the
page stays blank, and ``/openapi.json`` is the description to use.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter
from starlette.responses import HTMLResponse, Response

SWAGGER: Final = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"

_PAGE: Final = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>bocage API</title>
<link rel="stylesheet" href="{SWAGGER}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{SWAGGER}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

_INIT: Final = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def docs() -> Response:
        return HTMLResponse(_PAGE)

    @router.get("/docs/init.js")
    async def init() -> Response:
        return Response(_INIT, media_type="text/javascript")

    return router
