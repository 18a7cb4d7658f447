"""/docs: Swagger UI from our own origin (routes/docs.py), used the way a person uses it - in Debian's
chromium (/usr/bin/chromium, `make chromium`), driven by Playwright: authorize with the admin key,
try GET /api/v1/garages, see its 200. Playwright only drives the browser: `playwright install` is
never run, no browser is downloaded."""

from __future__ import annotations

import re
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright
from starlette.applications import Starlette

from garage.routes import docs
from garage.routes.errors import EXCEPTION_HANDLERS
from tests.api.conftest import REPO, LiveServer, free_port

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = REPO / "build" / "screenshots" / "docs.png"
VERSION = docs.installed_version(docs.SWAGGER_UI_DIST)


def test_the_page_loads_only_our_files_and_runs_no_inline_script(anonymous: httpx.Client) -> None:
    page = anonymous.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    scripts = re.findall(r"<script([^>]*)>", page.text)
    assert scripts and all('src="' in attributes for attributes in scripts)
    linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert linked and not [url for url in linked if "//" in url]  # relative: nothing from another origin
    for url in linked:
        assert anonymous.get("/" + url).status_code == 200, url


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
        ("swagger-ui.css", "text/css; charset=utf-8"),
        ("favicon-32x32.png", "image/png"),
    ],
)
def test_swagger_ui_assets_are_versioned_and_cached_for_good(
    anonymous: httpx.Client, name: str, content_type: str
) -> None:
    response = anonymous.get(f"/docs/assets/{VERSION}/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == (docs.SWAGGER_UI_DIST / name).read_bytes()


def test_our_script_is_revalidated(anonymous: httpx.Client) -> None:
    script = anonymous.get("/docs/docs.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == "no-cache"
    assert "SwaggerUIBundle" in script.text
    again = anonymous.get("/docs/docs.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert anonymous.get("/docs/docs.js", headers={"If-None-Match": '"stale"'}).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/docs/assets/{VERSION}/package.json",  # in the package, but not something the page loads
        f"/docs/assets/{VERSION}/..%2Fpackage.json",
        "/docs/assets/0.0.1/swagger-ui.css",  # a page cached from before an upgrade
    ],
)
def test_only_the_pages_files_at_the_installed_version_are_served(anonymous: httpx.Client, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def serve_in_thread(app: Starlette) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def without_swagger_ui(tmp_path: Path) -> Iterator[str]:
    """The docs routes of a checkout whose node_modules lacks swagger-ui-dist, under uvicorn with the
    service's error handlers: removing the package from the shared checkout would break the tests
    running beside this one."""
    routes = docs.routes(tmp_path / "node_modules" / "swagger-ui-dist")
    yield from serve_in_thread(Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS))


def test_without_swagger_ui_installed_docs_answers_503_saying_to_run_npm_ci(without_swagger_ui: str) -> None:
    with httpx.Client(base_url=without_swagger_ui) as client:
        for path in ("/docs", f"/docs/assets/{VERSION}/swagger-ui-bundle.js"):
            response = client.get(path)
            assert response.status_code == 503, path
            error = response.json()["error"]
            assert error["code"] == "DOCS_UNAVAILABLE"
            assert "npm ci" in error["message"] and "swagger-ui-dist" in error["message"]
            assert any(missing.endswith("swagger-ui-bundle.js") for missing in error["details"]["missing"])


def test_a_person_authorizes_and_tries_get_garages_in_chromium(live: LiveServer, admin: httpx.Client) -> None:
    assert CHROMIUM.is_file(), "Debian's chromium is missing: make chromium (apt-get install chromium)"
    garage = {"name": "Harbour Street", "address": "12 Harbour Street", "capacity": 240}
    made = admin.post("/api/v1/garages", json=garage)
    assert made.status_code == 201, made.text
    garage_id = made.json()["id"]
    elsewhere: list[str] = []
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":  # CSP violations and failed loads are reported here
            errors.append(message.text)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1200})
            page.on("request", lambda sent: None if sent.url.startswith(live.url) else elsewhere.append(sent.url))
            page.on("console", console)
            page.goto(f"{live.url}/docs")
            authorize(page, live.admin_key)
            operation = page.locator("#operations-garages-listGarages")
            operation.locator(".opblock-summary-control").click()
            operation.get_by_role("button", name="Try it out").click()
            operation.get_by_role("button", name="Execute").click()
            response = operation.locator(".live-responses-table tbody .response")
            expect(response.locator(".response-col_status")).to_have_text("200", timeout=15_000)
            expect(response.locator(".response-col_description")).to_contain_text(garage_id)
            # the request Swagger UI sent carried the pasted key
            expect(operation.locator(".curl-command")).to_contain_text(f"Authorization: Bearer {live.admin_key}")
            operation.scroll_into_view_if_needed()
            page.evaluate("window.scrollBy(0, -60)")  # the tag heading above it, for context
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOT)
        finally:
            browser.close()
    assert elsewhere == [] and errors == []
    assert_png(SCREENSHOT, width=1280, height=1200)


def authorize(page: Page, key: str) -> None:
    page.get_by_role("button", name=re.compile("Authorize")).first.click()
    dialog = page.locator(".modal-ux")
    dialog.get_by_label("auth-bearer-value").fill(key)
    dialog.get_by_role("button", name="Apply credentials").click()
    expect(dialog.get_by_role("button", name="Remove authorization")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def assert_png(path: Path, *, width: int, height: int) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (width, height)
    # a blank or half-rendered page compresses to a few KiB; the rendered reference is far larger
    assert len(data) > 50_000, len(data)
