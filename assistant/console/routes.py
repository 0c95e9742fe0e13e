"""The console's router: its pages under /console, kept out of the API's OpenAPI schema."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from assistant import audit
from assistant.auth import API_KEYS
from assistant.console import (
    routes_customers,
    routes_experiment,
    routes_figures,
    routes_handoffs,
    routes_signin,
)
from assistant.console.guard import Admin
from assistant.console.web import HERE, HOME, ConsoleRoute, redirect, render

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)
AUDIT_ROWS = 200


@router.get("/static/console.css")
def style_sheet() -> FileResponse:
    return FileResponse(HERE / "static" / "console.css", media_type="text/css",
                        headers={"Cache-Control": "max-age=3600"})


@router.get("")
def home() -> Response:
    return redirect(HOME)


@router.get("/audit")
def audit_log(request: Request, user: Admin, customer_id: str = "", allowed: str = "") -> Response:
    store = request.app.state.store
    wanted = {"yes": True, "no": False}.get(allowed)
    entries = audit.entries(store, customer_id.strip() or None, wanted, AUDIT_ROWS)
    key_ids = sorted({entry["who"].removeprefix("key:") for entry in entries if entry["who"].startswith("key:")})
    names = {doc["_id"]: doc.get("name", "") for doc in store[API_KEYS].find({"_id": {"$in": key_ids}}, {"name": 1})}
    return render(request, "audit.html", entries=entries, key_names=names, customer_id=customer_id.strip(),
                  allowed=allowed, limit=AUDIT_ROWS)


for pages in (routes_signin, routes_customers, routes_handoffs, routes_figures, routes_experiment):
    router.include_router(pages.router)
