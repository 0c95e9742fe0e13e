"""The assistant behind OpenAI's chat API, for tools that speak it: /v1/chat/completions and /v1/models.

The last user message is the question. OpenAI clients send the whole history on
every call: Fargo rebuilds the session from it (assistant.api.openai_history), so
"why the second one?" works from any client. A stored session is continued
instead when one is named: the extra field `session_id`, the `X-Fargo-Session`
header, or OpenAI's `user` field when it holds a session id. The id comes back
as `fargo_session_id` and in the `X-Fargo-Session` response header. Agents name
the customer in the extra field `customer_id`. The explanation rides in
`fargo_explanation`. Every documented OpenAI parameter is accepted; those that
cannot change a Fargo answer (temperature, max_tokens, tools, ...) are checked
and ignored, `n` other than 1 is refused, and an unknown parameter is refused as
OpenAI's API refuses it. Errors here come in OpenAI's shape (openai_errors).
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from assistant.api.chat import (
    CUSTOMER_ID_PATTERN,
    answer_pieces,
    asked_customer,
    event_stream,
    in_turn_thread,
    turn,
    wants_stream,
)
from assistant.api.deps import CurrentCaller, LiveRuntime
from assistant.api.openai_history import named_session, rebuild_session
from assistant.engine import InputError, TurnResult
from retrieval.errors import FargoError
from retrieval.text import Text

router = APIRouter(prefix="/v1", tags=["openai"])
MODEL = "fargo"
MODEL_CREATED = 1764547200  # 2025-12-01, when the model id "fargo" was first served
SESSION_HEADER = "X-Fargo-Session"
SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]+$"


class ModelNotFound(FargoError, LookupError):
    status = 404
    kind = "model_not_found"


class UnsupportedValue(FargoError, ValueError):
    status = 400
    kind = "unsupported_value"


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


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: bool = False
    include_obfuscation: bool | None = None  # Fargo sends no obfuscation padding either way


class CompletionRequest(BaseModel):
    """OpenAI's chat completion request: every documented parameter, plus Fargo's `session_id` and `customer_id`."""

    model_config = ConfigDict(extra="forbid")  # as OpenAI's API: an unknown parameter is a 400 naming it

    model: Text = Field(json_schema_extra={"enum": [MODEL]})
    messages: list[Message] = Field(min_length=1, max_length=200)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, ge=1, le=128, description="Only 1: Fargo gives one answer.")
    user: Text | None = Field(None, max_length=256, description="A session id continues that session.")
    session_id: str | None = Field(None, max_length=64, pattern=SESSION_ID_PATTERN)
    customer_id: str | None = Field(None, pattern=CUSTOMER_ID_PATTERN)
    # accepted and checked as OpenAI checks them, but they cannot change an answer built from the bank's data
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    seed: int | None = None
    stop: str | list[str] | None = None
    logit_bias: dict[str, float] | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    verbosity: str | None = None
    web_search_options: dict[str, Any] | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None

    def check_supported(self, streaming: bool) -> None:
        if self.model != MODEL:
            raise ModelNotFound(f"The model `{self.model}` does not exist or you do not have access to it; "
                                f"the only model is `{MODEL}`", field="model")
        if self.n not in (None, 1):
            raise UnsupportedValue(f"n is {self.n}: Fargo gives one answer per request, so only n=1 is supported",
                                   field="n")
        if self.stream_options is not None and not streaming:
            raise UnsupportedValue("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                                   field="stream_options")

    def question(self) -> str:
        return self._user_texts()[-1]

    def earlier_questions(self) -> list[str]:
        return self._user_texts()[:-1]

    def shown_before(self) -> str | None:
        """The last assistant message before the question: what the person last saw."""
        last_question = max(i for i, message in enumerate(self.messages) if message.role == "user")
        answers = [m.text() for m in self.messages[:last_question] if m.role == "assistant"]
        return answers[-1] if answers else None

    def _user_texts(self) -> list[str]:
        asked = [message.text() for message in self.messages if message.role == "user"]
        if not asked:
            raise InputError("messages has no user message: the last user message is the question", field="messages")
        return asked

    def words(self) -> int:
        return sum(len(answer_pieces(message.text())) for message in self.messages)


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def _fargo_fields(result: TurnResult) -> dict[str, Any]:
    return {"fargo_session_id": result.session_id, "fargo_explanation": result.explanation,
            "fargo_recommendations": result.recommendations}


def usage(prompt_words: int, result: TurnResult) -> dict[str, int]:
    """OpenAI's usage block, counted in words (Fargo's template answers are not made of a model's tokens)."""
    answer_words = len(answer_pieces(result.answer))
    return {"prompt_tokens": prompt_words, "completion_tokens": answer_words,
            "total_tokens": prompt_words + answer_words}


def completion(result: TurnResult, prompt_words: int) -> dict[str, Any]:
    return {
        "id": _completion_id(), "object": "chat.completion", "created": int(time.time()), "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": result.answer, "refusal": None},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": usage(prompt_words, result),
        **_fargo_fields(result),
    }


def completion_chunks(result: TurnResult, prompt_words: int, include_usage: bool = False) -> Iterator[str]:
    """The answer as chat.completion.chunk events; with `include_usage`, a last chunk with no choices and the usage,
    and `usage: null` on the others, as OpenAI sends them."""
    base = {"id": _completion_id(), "object": "chat.completion.chunk", "created": int(time.time()), "model": MODEL}
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return _event(base | {"choices": [choice]} | extra)

    yield chunk({"role": "assistant", "content": ""})
    for piece in answer_pieces(result.answer):
        yield chunk({"content": piece})
    yield chunk({}, "stop", **_fargo_fields(result))
    if include_usage:
        yield _event(base | {"choices": [], "usage": usage(prompt_words, result)})
    yield "data: [DONE]\n\n"


def _event(data: dict) -> str:
    return "data: " + json.dumps(data, default=str) + "\n\n"


def _turn_from_messages(store, runtime, caller, body: CompletionRequest, session_id: str | None) -> TurnResult:
    """The turn for the last user message, in the session named or else in one rebuilt from the messages."""
    engine = runtime.engine
    session_id = session_id or named_session(engine, body.user)
    if session_id is None:
        session_id = rebuild_session(engine, caller, body.earlier_questions(), body.shown_before(), body.customer_id)
    return turn(store, runtime, caller, body.question(), session_id, body.customer_id)


SessionHeader = Annotated[str | None, Header(alias=SESSION_HEADER, max_length=64, pattern=SESSION_ID_PATTERN,
                                             description="A Fargo session to continue.")]


@router.post("/chat/completions")
async def chat_completions(body: CompletionRequest, request: Request, caller: CurrentCaller, runtime: LiveRuntime,
                           session_header: SessionHeader = None):
    """OpenAI-compatible chat completion with model "fargo"; `stream: true` sends chat.completion.chunk events."""
    streaming = wants_stream(request, bool(body.stream))
    body.check_supported(streaming)
    request.state.asked_customer = asked_customer(caller, body.question(), body.customer_id)
    call = functools.partial(_turn_from_messages, request.app.state.store, runtime, caller, body,
                             body.session_id or session_header)
    result = await in_turn_thread(request, call)
    headers = {SESSION_HEADER: result.session_id}
    if streaming:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        response = event_stream(completion_chunks(result, body.words(), include_usage))
        response.headers.update(headers)
        return response
    return JSONResponse(completion(result, body.words()), headers=headers)


def model_card() -> dict[str, Any]:
    return {"id": MODEL, "object": "model", "created": MODEL_CREATED, "owned_by": "fargo"}


@router.get("/models")
async def list_models(caller: CurrentCaller) -> dict[str, Any]:
    """The models this endpoint serves, as OpenAI lists them: only `fargo`."""
    return {"object": "list", "data": [model_card()]}


@router.get("/models/{model}")
async def get_model(model: str, caller: CurrentCaller) -> dict[str, Any]:
    """One model by id: `fargo`, or 404 in OpenAI's error shape."""
    if model != MODEL:
        raise ModelNotFound(f"The model `{model}` does not exist or you do not have access to it", field="model")
    return model_card()
