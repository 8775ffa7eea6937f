"""``/docs``: the interactive API documentation (Swagger UI), served by bocage itself.

FastAPI's own page loads Swagger UI from a CDN and inlines its start-up script;
bocage works on closed networks and forbids inline script, so this page loads
the Swagger UI bundle vendored from npm (``scripts/vendor_web.py``, served under
``/ui/static/vendor/swagger-ui/``) and starts it from ``/docs/init.js``, a file
of ours. The browser never calls another host.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter
from starlette.responses import HTMLResponse, Response

SWAGGER: Final = "/ui/static/vendor/swagger-ui"

_PAGE: Final = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>bocage API</title>
<link rel="icon" href="/ui/static/favicon.svg" type="image/svg+xml">
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
