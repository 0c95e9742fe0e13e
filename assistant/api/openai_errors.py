"""Errors on the OpenAI-compatible routes in OpenAI's own shape, so OpenAI clients and chat UIs read them.

    {"error": {"message": "...", "type": "invalid_request_error", "param": "n", "code": "unsupported_value"}}

`type` is OpenAI's category for the status; `code` is OpenAI's code where one
applies, else Fargo's own error kind. A request OpenAI's API would refuse
(a bad or unknown parameter) is 400 here too, not 422 as on Fargo's own routes.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

OPENAI_PATHS = ("/v1/chat/completions", "/v1/models")
TYPES = {401: "authentication_error", 403: "permission_error", 404: "invalid_request_error",
         429: "rate_limit_error"}
VALIDATION_CODES = {"extra_forbidden": "unknown_parameter", "missing": "missing_required_parameter"}


def is_openai_route(request: Request) -> bool:
    path = request.url.path
    return any(path == prefix or path.startswith(prefix + "/") for prefix in OPENAI_PATHS)


def openai_error(status: int, message: str, *, param: str | None = None, code: str | None = None,
                 headers=None) -> JSONResponse:
    kind = TYPES.get(status) or ("server_error" if status >= 500 else "invalid_request_error")
    body = {"message": message, "type": kind, "param": param, "code": code}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def invalid_request(problems: list[dict], field_of) -> JSONResponse:
    """A request that failed validation, as OpenAI answers one: 400, the first bad parameter named."""
    first = problems[0] if problems else {"loc": ("body",), "msg": "invalid request", "type": "value_error"}
    param = field_of(first["loc"])
    if first["type"] == "extra_forbidden":
        message = f"Unrecognized request argument supplied: {param}"
    else:
        message = "; ".join(f"{field_of(p['loc'])}: {p['msg']}" for p in problems[:5])
    return openai_error(400, message, param=param, code=VALIDATION_CODES.get(first["type"], "invalid_value"))
