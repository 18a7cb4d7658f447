"""GET /docs: the interactive API reference (Swagger UI) on /openapi.json, served from our own origin.

Swagger UI's files come from the npm package swagger-ui-dist, pinned in the checkout's package.json
and installed into node_modules by `npm ci` (`make node_modules`, which `make run` does first): no
CDN, nothing fetched at run time. Its assets are served under their package version
(/docs/assets/<version>/<file>), so a browser may keep them for a year and an upgrade changes
every URL; the page and our docs.js are revalidated on every load. Only the files the page needs
are served: node_modules is not browsable. Nothing here needs an API key: a person pastes one into
Swagger UI's Authorize dialog and it is sent as `Authorization: Bearer` by "Try it out".

A checkout whose node_modules lacks the package answers 503 with the error envelope saying to
run `npm ci`, on the page and its assets alike: the API itself keeps working.
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from garage.config.settings import REPO_ROOT
from garage.errors import GarageError, NotFound

SWAGGER_UI_DIST = REPO_ROOT / "node_modules" / "swagger-ui-dist"
DOCS_JS = Path(__file__).with_name("docs.js")

# What the page loads, with the content type each is sent with (not guessed from the host's mime table).
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
    # the browser's developer tools ask for these; nothing else does
    "swagger-ui.css.map": "application/json",
    "swagger-ui-bundle.js.map": "application/json",
}
REQUIRED = ("package.json", "swagger-ui.css", "swagger-ui-bundle.js")

# Versioned URLs: the content behind one never changes.
IMMUTABLE = "public, max-age=31536000, immutable"
# Ours, and the page naming the current version: always asked again (a 304 when unchanged).
REVALIDATE = "no-cache"

# The page runs no inline script and loads nothing from elsewhere; Swagger UI sets inline styles
# and draws its icons from data: URLs.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class DocsUnavailable(GarageError):
    """503: Swagger UI's files are not installed in this checkout (the API itself is unaffected)."""

    status = 503
    code = "DOCS_UNAVAILABLE"


def installed_version(dist: Path) -> str:
    """swagger-ui-dist's version in `dist`, or DocsUnavailable naming the fix."""
    missing = [name for name in REQUIRED if not (dist / name).is_file()]
    if missing:
        raise DocsUnavailable(
            f"The API reference needs the npm package swagger-ui-dist, not installed in {dist.parent}: "
            f"run `npm ci` in {dist.parent.parent} (or `make node_modules`)",
            details={"missing": [str(dist / name) for name in missing]},
        )
    version = json.loads((dist / "package.json").read_text(encoding="utf-8"))["version"]
    return str(version)


def page(version: str) -> str:
    # Relative URLs: the page also works behind a proxy that mounts the service under a prefix.
    assets = f"docs/assets/{escape(version)}"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Garage API reference</title>
<link rel="icon" type="image/png" sizes="32x32" href="{assets}/favicon-32x32.png">
<link rel="icon" type="image/png" sizes="16x16" href="{assets}/favicon-16x16.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="openapi.json"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="docs/docs.js"></script>
</body>
</html>
"""


def file_response(request: Request, path: Path, media_type: str, cache_control: str) -> Response:
    """`path` with its ETag and Last-Modified; 304 when the browser's copy (If-None-Match) is current."""
    stat = os.stat(path)
    response = FileResponse(
        path,
        media_type=media_type,
        stat_result=stat,
        headers={"Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"},
    )
    etag = response.headers["etag"]
    if etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": cache_control})
    return response


def routes(dist: Path = SWAGGER_UI_DIST) -> list[Route]:
    """/docs, its script and Swagger UI's assets from `dist` (node_modules/swagger-ui-dist)."""

    async def docs(_: Request) -> Response:
        version = await run_in_threadpool(installed_version, dist)
        return HTMLResponse(
            page(version), headers={"Cache-Control": REVALIDATE, "Content-Security-Policy": PAGE_POLICY}
        )

    async def script(request: Request) -> Response:
        return await run_in_threadpool(file_response, request, DOCS_JS, "text/javascript; charset=utf-8", REVALIDATE)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        media_type = ASSETS.get(name)
        if media_type is None:
            raise NotFound(f"No asset {name} in the API reference")
        installed = await run_in_threadpool(installed_version, dist)
        if request.path_params["version"] != installed:
            # a page from before an upgrade: reloading /docs names the installed version
            raise NotFound(f"The API reference's assets are at version {installed}: reload /docs")
        return await run_in_threadpool(file_response, request, dist / name, media_type, IMMUTABLE)

    return [
        Route("/docs", docs, methods=["GET"]),
        Route("/docs/docs.js", script, methods=["GET"]),
        Route("/docs/assets/{version}/{name}", asset, methods=["GET"]),
    ]
