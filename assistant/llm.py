"""The optional LLM: it may call tools and phrase the answer, never decide the facts.

`LLMResponder.respond` redacts personal data from everything it sends (system
prompt, history, message, tool results), lets the model call the bound tools
for the one customer the caller may see, restores the placeholders in the
answer and checks it against the evidence. Whatever goes wrong (a timeout, an
error, a refused tool call, an answer the evidence does not hold) the template
answer is returned instead, with the reason: a turn never fails because of
the LLM.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.exceptions import ModelTimeoutError
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    convert_to_openai_messages,
)
from langchain_core.tools import BaseTool

from assistant.compose import environment
from assistant.grounding import as_recommendation, check_grounding
from assistant.redaction import (
    CUSTOMER,
    person_ids,
    placeholder_kind,
    redact,
    restore,
    restore_value,
    unresolved_placeholders,
)
from tools.types import Recommendation

DEFAULT_TIMEOUT_S = 15.0
MAX_TOOL_ROUNDS = 3
HISTORY_TURNS = 12  # latest history messages sent; older ones add cost, not facts
REFUSED_OTHER_CUSTOMER = "refused tool call for another customer"
NAMES_AN_UNSHOWN_ID = "the answer names a person's id the caller is not shown"
REPEATS_INSTRUCTIONS = "the answer repeats the system prompt"
TOOL_FAILED_MESSAGE = "The tool failed; answer from the facts you already have."
FACTS_HEADING = "## Explanation"  # where the system prompt's instructions end and the turn's facts begin
_SENTENCE_END = re.compile(r"(?<=[.:;])\s+|\n")
_RECOGNISABLE = 30  # an instruction sentence this long in an answer is the prompt repeated, not a coincidence
_HUMAN_ROLES = {"user", "human", "customer"}
_AI_ROLES = {"assistant", "ai", "bot"}


@dataclass
class LLMOutcome:
    text: str  # the answer to show: the LLM's, restored and grounded, or the template answer
    used_llm: bool
    fallback_reason: str | None = None
    tool_calls: list[dict] = field(default_factory=list)  # {name, args (restored), allowed, reason}
    prompt_messages_sent: list[dict] = field(default_factory=list)  # OpenAI-format messages, as redacted
    tool_recommendations: list[Recommendation] = field(default_factory=list)  # from tool-call artifacts


class LLMTimeout(TimeoutError):
    """The model did not answer within the responder's time budget."""


class _Refused(Exception):
    pass


class LLMResponder:
    def __init__(
        self,
        chat_model: BaseChatModel,
        tools: list[BaseTool],
        timeout_s: float = DEFAULT_TIMEOUT_S,
        *,
        catalogue_names: Iterable[str] | Mapping[str, str] = (),
        max_tool_rounds: int = MAX_TOOL_ROUNDS,
    ):
        self.timeout_s = timeout_s
        self.max_tool_rounds = max_tool_rounds
        self.catalogue_names = catalogue_names
        self._tools = {tool.name: tool for tool in tools}
        self._model = _bind_tools(chat_model, tools)

    @classmethod
    def from_settings(
        cls,
        settings,
        tools: list[BaseTool],
        timeout_s: float = DEFAULT_TIMEOUT_S,
        *,
        catalogue_names: Iterable[str] | Mapping[str, str] = (),
    ) -> LLMResponder | None:
        """A responder over `ChatOpenAI` at the configured endpoint; None when no LLM is configured."""
        if not settings.llm_enabled:
            return None
        from langchain_openai import (
            ChatOpenAI,  # imported only when an LLM is configured
        )

        api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
        chat_model = ChatOpenAI(
            model=settings.llm_model,
            api_key=api_key,
            base_url=settings.openai_base_url,
            timeout=timeout_s,
            max_retries=0,
            # OpenAI-compatible servers speak Chat Completions, not the Responses API.
            use_responses_api=False if settings.openai_base_url else None,
        )
        return cls(chat_model, tools, timeout_s, catalogue_names=catalogue_names)

    def respond(
        self,
        *,
        message: str,
        history: list[dict],
        template_answer: str,
        recommendations: list[Recommendation] | list[dict],
        customer_id: str | None,
        caller_role: str,
        allowed_customer_id: str | None,
        known_names: list[str],
        catalogue_names: Iterable[str] | Mapping[str, str] | None = None,
    ) -> LLMOutcome:
        turn = _Turn(
            allowed_customer_id=allowed_customer_id,
            known_names=list(known_names),
            known_ids=[i for i in (allowed_customer_id, customer_id) if i],
        )
        catalogue = self.catalogue_names if catalogue_names is None else catalogue_names
        try:
            recommendations = [as_recommendation(item) for item in recommendations]
            turn.known_ids += [r.for_person for r in recommendations if r.for_person]
            answer = self._answer(turn, message, history, template_answer, recommendations, caller_role)
            problems = _answer_problems(answer, template_answer, recommendations, catalogue, turn)
        except _Refused:
            return turn.fallback(template_answer, REFUSED_OTHER_CUSTOMER)
        except Exception as exc:  # noqa: BLE001 - any failure falls back to the template answer
            return turn.fallback(template_answer, _failure_reason(exc))
        if problems:
            return turn.fallback(template_answer, problems[0])
        return turn.outcome(answer, used_llm=True)

    def _answer(self, turn: _Turn, message: str, history: list[dict], template_answer: str,
                recommendations: list[Recommendation], caller_role: str) -> str:
        """The model's answer with placeholders restored; raises on any model failure."""
        system_prompt = _system_prompt(caller_role, turn.allowed_customer_id, template_answer, recommendations)
        turn.instructions = _instruction_sentences(system_prompt)
        turn.messages = [
            SystemMessage(turn.redact(system_prompt)),
            *_history_messages(history, turn.redact),
            HumanMessage(turn.redact(message)),
        ]
        return restore(self._converse(turn), turn.mapping)

    def _converse(self, turn: _Turn) -> str:
        deadline = time.monotonic() + self.timeout_s
        for _round in range(self.max_tool_rounds + 1):
            turn.sent = list(turn.messages)
            reply = _call_before(deadline, lambda: self._model.invoke(turn.sent))
            turn.messages.append(reply)
            if not reply.tool_calls:
                return str(reply.text)
            if _round == self.max_tool_rounds:
                break
            self._run_tool_calls(turn, reply.tool_calls)
        raise RuntimeError(f"no answer after {self.max_tool_rounds} tool rounds")

    def _run_tool_calls(self, turn: _Turn, calls: list[dict]) -> None:
        checked = [(call, *self._authorise(turn, call)) for call in calls]
        for call, args, reason in checked:
            turn.tool_calls.append({"name": call["name"], "args": args, "allowed": reason is None, "reason": reason})
        if any(reason == REFUSED_OTHER_CUSTOMER for _, _, reason in checked):
            raise _Refused
        for call, args, reason in checked:
            content = reason or self._run_tool(turn, call, args)
            turn.messages.append(ToolMessage(turn.redact(content), tool_call_id=call.get("id") or call["name"]))

    def _authorise(self, turn: _Turn, call: dict) -> tuple[dict, str | None]:
        """The restored arguments, and why the call may not run (None when it may)."""
        raw_args = call.get("args") or {}
        args = restore_value(raw_args, turn.mapping)
        tool = self._tools.get(call["name"])
        if tool is None:
            return args, f"unknown tool '{call['name']}'"
        if "customer_id" in tool.args and "customer_id" not in args and turn.allowed_customer_id:
            args = {**args, "customer_id": turn.allowed_customer_id}
        named = _customer_ids_named(raw_args, args)
        if any(cid != turn.allowed_customer_id for cid in named):
            return args, REFUSED_OTHER_CUSTOMER
        return args, None

    def _run_tool(self, turn: _Turn, call: dict, args: dict) -> str:
        tool_call = {"type": "tool_call", "name": call["name"], "args": args, "id": call.get("id") or call["name"]}
        try:
            result = self._tools[call["name"]].invoke(tool_call)
        except Exception:  # noqa: BLE001 - a failing tool must not fail the turn
            return TOOL_FAILED_MESSAGE
        content = result.content if isinstance(result, ToolMessage) else result
        text = content if isinstance(content, str) else json.dumps(content, default=str)
        turn.tool_texts.append(text)
        artifact = getattr(result, "artifact", None)
        items = artifact if isinstance(artifact, list) else [artifact]
        turn.tool_recommendations += [
            as_recommendation(item) for item in items
            if isinstance(item, Recommendation) or (isinstance(item, Mapping) and "product_id" in item)
        ]
        return text


@dataclass
class _Turn:
    """One respond() call: the redaction mapping and everything sent and received."""

    allowed_customer_id: str | None
    known_names: list[str]
    known_ids: list[str]
    mapping: dict[str, str] = field(default_factory=dict)
    messages: list[BaseMessage] = field(default_factory=list)
    sent: list[BaseMessage] = field(default_factory=list)  # the input of the latest model call
    tool_calls: list[dict] = field(default_factory=list)
    tool_texts: list[str] = field(default_factory=list)
    tool_recommendations: list[Recommendation] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)  # the system prompt's rule sentences, never to be shown

    def redact(self, text: str) -> str:
        redacted = redact(text, self.known_names, known_ids=self.known_ids, mapping=self.mapping)
        self.mapping = redacted.mapping
        return redacted.text

    def outcome(self, text: str, *, used_llm: bool, reason: str | None = None) -> LLMOutcome:
        return LLMOutcome(
            text=text,
            used_llm=used_llm,
            fallback_reason=reason,
            tool_calls=list(self.tool_calls),
            prompt_messages_sent=convert_to_openai_messages(self.sent or self.messages),
            tool_recommendations=list(self.tool_recommendations) if used_llm else [],
        )

    def fallback(self, template_answer: str, reason: str) -> LLMOutcome:
        return self.outcome(template_answer, used_llm=False, reason=reason)


def _bind_tools(chat_model: BaseChatModel, tools: list[BaseTool]):
    if not tools:
        return chat_model
    try:
        return chat_model.bind_tools(tools)
    except NotImplementedError:  # a model without tool calling can still phrase the answer
        return chat_model


def _call_before(deadline: float, call: Callable[[], AIMessage]) -> AIMessage:
    """Run `call` in a worker thread and give up at `deadline` (a model call cannot be interrupted)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise LLMTimeout("no time left for another model call")
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="fargo-llm-call", daemon=True)
    worker.start()
    worker.join(remaining)
    if worker.is_alive():
        raise LLMTimeout("the model did not answer within the time budget")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _answer_problems(answer: str, template_answer: str, recommendations: list[Recommendation],
                     catalogue: Iterable[str] | Mapping[str, str], turn: _Turn) -> list[str]:
    """Why the answer may not be shown (empty when it may), each phrased as a fallback reason."""
    if not answer.strip():
        return ["error: empty answer"]
    if invented := unresolved_placeholders(answer):
        return [f"unknown placeholder {invented[0]}"]
    if _ids_not_shown(answer, turn):
        return [NAMES_AN_UNSHOWN_ID]
    if _repeats_instructions(answer, turn.instructions):
        return [REPEATS_INSTRUCTIONS]
    trusted = "\n".join([template_answer, *turn.tool_texts])
    problems = check_grounding(answer, [*recommendations, *turn.tool_recommendations], catalogue,
                               trusted_text=trusted)
    return ["grounding: " + "; ".join(problems)] if problems else []


def _ids_not_shown(answer: str, turn: _Turn) -> set[str]:
    """Ids of people the answer names beyond the turn's `known_ids` (the customer asked about, relatives the caller is
    shown), whether written out or restored from a placeholder (a relative's id in a tool result or the history)."""
    restored = {original for placeholder, original in turn.mapping.items() if placeholder_kind(placeholder) == CUSTOMER}
    named = set(person_ids(answer)) | {original for original in restored if original in answer}
    return named - set(turn.known_ids)


def _instruction_sentences(system_prompt: str) -> list[str]:
    rules = system_prompt.partition(FACTS_HEADING)[0]
    sentences = (" ".join(part.split()) for part in _SENTENCE_END.split(rules))
    return [sentence.rstrip(".:;").lower() for sentence in sentences if len(sentence) >= _RECOGNISABLE]


def _repeats_instructions(answer: str, instructions: list[str]) -> bool:
    """Whether the answer shows a sentence of the system prompt's instructions (an injected "print your prompt")."""
    flat = " ".join(answer.split()).lower()
    return any(sentence in flat for sentence in instructions)


def _failure_reason(exc: BaseException) -> str:
    if _is_timeout(exc):
        return "timeout"
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"error: {type(exc).__name__}" + (f": {detail}" if detail else "")


def _is_timeout(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, (TimeoutError, ModelTimeoutError)):
            return True
        if any("timeout" in cls.__name__.lower() for cls in type(exc).__mro__):  # openai/httpx timeouts
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _customer_ids_named(raw_args: Mapping, args: Mapping) -> list[str]:
    """Customer ids a tool call asks for: customer-id arguments, and any argument given as a [CUSTOMER_n]."""
    named = []
    for key, value in args.items():
        raw = raw_args.get(key)
        is_id_key = key == "customer_id" or key.endswith("_customer_id") or key in ("customer", "cid")
        is_id_placeholder = isinstance(raw, str) and placeholder_kind(raw) == CUSTOMER
        if is_id_key or is_id_placeholder:
            named.append(value if isinstance(value, str) else json.dumps(value, default=str))
    return named


def _system_prompt(caller_role: str, customer_id: str | None, template_answer: str,
                   recommendations: list[Recommendation]) -> str:
    template = environment().get_template("system.j2")
    return template.render(
        caller_role=caller_role,
        customer_ref=customer_id,
        template_answer=template_answer,
        recommendations=[_recommendation_view(rec) for rec in recommendations],
    ).strip()


def _recommendation_view(rec: Recommendation) -> dict:
    return {
        "name": rec.name,
        "category": rec.category,
        "relation": rec.relation,
        "age_band": rec.age_band,
        "estimated_annual_value": rec.estimated_annual_value,
        "reasons": rec.reasons,
        "evidence": [{"label": e.label, "field": e.field, "value": _show(e.value)} for e in rec.evidence],
    }


def _show(value: Any) -> str:
    """A value as the prompt shows it; thousands separators keep amounts from looking like account numbers."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:,}"
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {_show(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple, set)):
        return ", ".join(_show(item) for item in value)
    return str(value)


def _history_messages(history: list[dict], redact_text: Callable[[str], str]) -> list[BaseMessage]:
    """Chat messages from `{"role", "content"}` items or `{"message", "answer"}` turns, latest last."""
    pairs: list[tuple[str, Any]] = []
    for item in history:
        if "role" in item:
            pairs.append((str(item["role"]).lower(), item.get("content")))
        else:
            pairs += [("user", item.get("message")), ("assistant", item.get("answer"))]
    messages: list[BaseMessage] = []
    for role, content in pairs[-HISTORY_TURNS:]:
        if not isinstance(content, str) or not content.strip():
            continue
        if role in _HUMAN_ROLES:
            messages.append(HumanMessage(redact_text(content)))
        elif role in _AI_ROLES:
            messages.append(AIMessage(redact_text(content)))
    return messages
