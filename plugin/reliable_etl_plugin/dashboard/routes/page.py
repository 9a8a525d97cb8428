"""The page (HTML, its script and style, all from this package) and the API's own OpenAPI documents.

FastAPI's default ``/docs`` and ``/openapi.json`` would be public: the app turns them off and
serves them here behind ``PAGE`` like the page itself.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response

from reliable_etl_plugin.dashboard.security import PAGE

router = APIRouter(tags=["page"], dependencies=PAGE)

PAGE_DIR = Path(__file__).resolve().parents[1] / "page"
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
NO_STORE = {"Cache-Control": "no-store"}  # per-user content: never cached by a proxy


@cache
def _read(name: str) -> str:
    return (PAGE_DIR / name).read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse, summary="The reliability dashboard")
def get_page() -> HTMLResponse:
    return HTMLResponse(_read("index.html"), headers=NO_STORE)


@router.get("/assets/{name}", summary="The page's script and style")
def get_asset(name: str) -> Response:
    if name not in ASSETS:
        raise HTTPException(404, f"no asset {name!r}")
    return Response(_read(name), media_type=ASSETS[name], headers={"Cache-Control": "private, max-age=300"})


@router.get("/openapi.json", include_in_schema=False)
def get_openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False)
def get_docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title="ETL reliability dashboard API")
