"""The web widget's files, and the demo bank's homepage that embeds it (demo mode only)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.concurrency import run_in_threadpool

from assistant.api.errors import NotFound
from assistant.auth import MAX_TOKEN_TTL_S, demo_customer_id, mint_widget_token

router = APIRouter(include_in_schema=False)
WIDGET_DIR = Path(__file__).resolve().parents[2] / "web_widget"  # installed beside assistant/
WIDGET_CACHE = "public, max-age=300"
# The demo page loads only what this server serves: no CDN, no inline script.
DEMO_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def _widget_file(name: str, media_type: str) -> FileResponse:
    return FileResponse(WIDGET_DIR / name, media_type=media_type, headers={"Cache-Control": WIDGET_CACHE})


@router.get("/widget.js")
def widget_js() -> FileResponse:
    return _widget_file("widget.js", "text/javascript; charset=utf-8")


@router.get("/widget.css")
def widget_css() -> FileResponse:
    return _widget_file("widget.css", "text/css; charset=utf-8")


def _require_demo(request: Request) -> None:
    if not request.app.state.settings.demo_mode:
        raise NotFound("the demo exists only in demo mode (embedded stores, no FARGO_MONGODB_URI)")


@router.get("/demo")
def demo_page(request: Request) -> HTMLResponse:
    """A made-up bank's homepage with the widget embedded by one script tag."""
    _require_demo(request)
    html = (WIDGET_DIR / "demo.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Content-Security-Policy": DEMO_CSP, "Cache-Control": "no-store"})


@router.post("/demo/token")
async def demo_token(request: Request) -> dict:
    """Stands in for the bank's own token endpoint: the demo customer is always "signed in"."""
    _require_demo(request)
    state = request.app.state
    if getattr(state, "demo_customer_id", None) is None:
        state.demo_customer_id = await run_in_threadpool(demo_customer_id, state.store)
    customer_id = state.demo_customer_id
    token, expires_at = mint_widget_token(state.token_secret(), customer_id, MAX_TOKEN_TTL_S)
    return {"token": token, "customer_id": customer_id, "expires_at": expires_at}
