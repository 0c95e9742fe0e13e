"""POST /v1/chat: one turn of the conversation, as JSON or as Server-Sent Events."""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json

from assistant import audit, handoffs
from assistant.api.deps import CurrentCaller, LiveRuntime
from assistant.callers import Caller, Role
from assistant.engine import MAX_MESSAGE_CHARS, TurnResult
from retrieval.text import Text
from tools.requests.slots import find_customer_ids

router = APIRouter(prefix="/v1", tags=["chat"])
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Text = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    session_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    customer_id: str | None = Field(None, pattern=CUSTOMER_ID_PATTERN,
                                    description="The customer an agent acts for; customers never need it.")
    stream: bool = False


class ChatResponse(BaseModel):
    session_id: str
    answer: str
    recommendations: list[dict[str, Any]]
    explanation: dict[str, Any]
    handoff: bool = False


def subjects_of(result: TurnResult, asked: str | None) -> list[str]:
    """Every customer whose data the turn read: the one asked about, and any the tools were called for."""
    called = [call["arguments"].get("customer_id") for call in result.explanation.get("tool_calls", [])]
    return [cid for cid in [asked, *called] if cid]


def asked_customer(caller: Caller, message: str, customer_id: str | None) -> str | None:
    """The customer a turn asks about, for the audit log: named in the request, else in the message."""
    named = [cid for cid in find_customer_ids(message) if cid != caller.customer_id]
    return customer_id or next(iter(named), None) or caller.customer_id


async def take_turn(request: Request, runtime, caller: Caller, message: str, session_id: str | None,
                    customer_id: str | None) -> TurnResult:
    """The engine is synchronous and CPU-bound: the whole turn runs in one of the app's turn threads (one hop)."""
    request.state.asked_customer = asked_customer(caller, message, customer_id)
    call = functools.partial(turn, request.app.state.store, runtime, caller, message, session_id, customer_id)
    return await in_turn_thread(request, call)


async def in_turn_thread(request: Request, call):
    """`call()` in one of the app's turn threads."""
    return await asyncio.get_running_loop().run_in_executor(request.app.state.turn_executor, call)


def turn(store, runtime, caller: Caller, message: str, session_id: str | None, customer_id: str | None) -> TurnResult:
    """One turn: relayed to a person during a hand-off, else the engine's; staff access is audited.

    A customer whose conversation is with a person (a hand-off) talks to that person, not to the engine.
    """
    if caller.role is Role.customer and session_id is not None:
        relayed = _relay_to_person(store, runtime, caller, message, session_id)
        if relayed is not None:
            return relayed
    result = runtime.engine.turn(caller, message, session_id, customer_id)
    if result.handoff:
        handoffs.request_handoff(store, runtime.engine.sessions.get(result.session_id), message,
                                 result.explanation.get("handoff_kind") or "asked")
    if caller.is_staff:
        # a follow-up ("why?") calls no tool but still shows the session's customer's data
        audit.record_if_staff(store, caller, [*subjects_of(result, customer_id), result.customer_id], "chat")
    return result


def _relay_to_person(store, runtime, caller: Caller, message: str, session_id: str) -> TurnResult | None:
    # checked first, by id: most turns are not handed off and then read no session here (the engine reads it)
    handoff = handoffs.open_handoff(store, session_id)
    if handoff is None:
        return None
    session = runtime.engine.session_for(caller, session_id)
    note = handoffs.relay(runtime.engine.sessions, session, handoff, message)
    explanation = {"intent": "handoff:relayed", "confidence": 1.0, "tool_calls": [], "recommendations": [],
                   "answer_source": "template", "llm_fallback_reason": None, "handoff": True}
    return TurnResult(session_id, note, [], explanation, handoff=True, customer_id=session.customer_id)


def wants_stream(request: Request, stream: bool) -> bool:
    return stream or "text/event-stream" in request.headers.get("accept", "")


def answer_pieces(answer: str) -> list[str]:
    """The answer in word-sized pieces that join back to exactly the answer."""
    return re.findall(r"\S+\s*|\s+", answer)


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def chat_events(result: TurnResult) -> Iterator[str]:
    for piece in answer_pieces(result.answer):
        yield sse("token", {"text": piece})
    yield sse("recommendations", result.recommendations)
    yield sse("explanation", result.explanation)
    yield sse("done", {"session_id": result.session_id, "handoff": result.handoff})


def event_stream(events: Iterator[str]) -> StreamingResponse:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


@router.post("/chat", response_model=ChatResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def chat(body: ChatRequest, request: Request, caller: CurrentCaller, runtime: LiveRuntime):
    """Ask a question; the answer comes with the recommendations shown and how they were reached."""
    result = await take_turn(request, runtime, caller, body.message, body.session_id, body.customer_id)
    if wants_stream(request, body.stream):
        return event_stream(chat_events(result))
    return chat_json(result)


def chat_json(result: TurnResult) -> Response:
    """The ChatResponse as JSON, the bytes FastAPI would send for it, serialised once by pydantic-core (FastAPI
    would first validate again, field by field, the dicts the engine has just built)."""
    answer = {"session_id": result.session_id, "answer": result.answer, "recommendations": result.recommendations,
              "explanation": result.explanation, "handoff": result.handoff}
    return Response(to_json(answer), media_type="application/json")
