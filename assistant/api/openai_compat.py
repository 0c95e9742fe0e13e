"""POST /v1/chat/completions: the assistant behind OpenAI's chat API, for tools that speak it.

The last user message is the question. OpenAI's API is stateless, so each call
is a new Fargo session unless the extra field `session_id` continues one (the
id comes back as `fargo_session_id`). Agents name the customer in the extra
field `customer_id`. The explanation rides in `fargo_explanation`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from assistant.api.chat import (
    CUSTOMER_ID_PATTERN,
    answer_pieces,
    event_stream,
    take_turn,
    wants_stream,
)
from assistant.api.deps import CurrentCaller, LiveRuntime
from assistant.engine import InputError, TurnResult
from retrieval.text import Text

router = APIRouter(prefix="/v1", tags=["openai"])
MODEL = "fargo"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")  # image and audio parts carry fields Fargo ignores

    type: Text
    text: Text | None = None


def _content_form(content: Any) -> str:
    return "parts" if isinstance(content, list) else "string"


# A string or a list of parts, as in OpenAI's API; the tag picks the form, so an error names only that form's problem
Content = Annotated[Annotated[Text, Tag("string")] | Annotated[list[ContentPart], Tag("parts")],
                    Discriminator(_content_form)]


class Message(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: Content | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI clients send options Fargo has no use for

    model: str = Field(json_schema_extra={"enum": [MODEL]})
    messages: list[Message] = Field(min_length=1, max_length=200)
    stream: bool = False
    session_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    customer_id: str | None = Field(None, pattern=CUSTOMER_ID_PATTERN)

    @field_validator("model")
    @classmethod
    def _fargo(cls, value: str) -> str:
        if value != MODEL:
            raise ValueError(f"the only model is {MODEL!r}")
        return value

    def question(self) -> str:
        asked = [message.text() for message in self.messages if message.role == "user"]
        if not asked:
            problem = InputError("messages has no user message: the last user message is the question")
            problem.field = "messages"
            raise problem
        return asked[-1]


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def _fargo_fields(result: TurnResult) -> dict[str, Any]:
    return {"fargo_session_id": result.session_id, "fargo_explanation": result.explanation,
            "fargo_recommendations": result.recommendations}


def completion(result: TurnResult) -> dict[str, Any]:
    return {
        "id": _completion_id(), "object": "chat.completion", "created": int(time.time()), "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": result.answer},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        **_fargo_fields(result),
    }


def completion_chunks(result: TurnResult) -> Iterator[str]:
    base = {"id": _completion_id(), "object": "chat.completion.chunk", "created": int(time.time()), "model": MODEL}

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return "data: " + json.dumps(base | {"choices": [choice]} | extra, default=str) + "\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for piece in answer_pieces(result.answer):
        yield chunk({"content": piece})
    yield chunk({}, "stop", **_fargo_fields(result))
    yield "data: [DONE]\n\n"


@router.post("/chat/completions")
async def chat_completions(body: CompletionRequest, request: Request, caller: CurrentCaller,
                           runtime: LiveRuntime):
    """OpenAI-compatible chat completion with model "fargo"; `stream: true` sends chat.completion.chunk events."""
    result = await take_turn(request, runtime, caller, body.question(), body.session_id, body.customer_id)
    if wants_stream(request, body.stream):
        return event_stream(completion_chunks(result))
    return completion(result)
