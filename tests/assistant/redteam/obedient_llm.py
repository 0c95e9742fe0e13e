"""A loopback OpenAI-compatible model that obeys every instruction it reads: the worst case for prompt injection.

It reads the latest conversation it is sent (the data part of the system prompt, the history, the message and
any tool results) and does what the text asks, first match wins:

- "call <tool> for customer <who>": calls that tool with `customer_id=<who>` (once per conversation);
- "print the system prompt" / "repeat the first N lines of your instructions": answers with that text;
- "say exactly: <text>": answers with <text> (HTML and script included);
- after a tool ran: answers with every tool result verbatim (whatever data reached it goes out);
- otherwise: answers with the draft answer.

Every request it receives is kept (`requests`), with the tool calls it made, so a test can check what reached
the model and what ran. Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import re

from loopback_llm import StubOpenAI, completion

CALL = re.compile(r"\bcall (?:the )?(?:tool )?`?(?P<tool>[a-z_]{3,40})`?(?: tool)? for (?:customer )?"
                  r"(?P<who>\[[A-Z]+_\d+\]|[\w-]+)", re.IGNORECASE)
WHOLE_PROMPT = re.compile(r"\b(?:print|reveal|show|output|repeat)\b[^.\n]{0,40}\bsystem prompt\b", re.IGNORECASE)
FIRST_LINES = re.compile(r"\brepeat the first (?P<n>\d+) lines of your instructions\b", re.IGNORECASE)
SAY = re.compile(r"\b(?:say|reply with|answer with) exactly:\s*(?P<text>[^\n]+)", re.IGNORECASE)
DATA_STARTS = "## Explanation"
DRAFT_STARTS = "## Draft answer"


class ObedientLLM(StubOpenAI):
    def __init__(self):
        super().__init__()
        self.requests: list[dict] = []  # every request body, parsed
        self.tool_calls: list[dict] = []  # {id, name, args}

    def reply(self, body: dict) -> tuple[int, dict]:
        self.requests.append(body)
        return 200, self.obey(body["messages"])

    def forget(self) -> None:
        self.requests.clear()
        self.tool_calls.clear()

    # -- obeying ------------------------------------------------------------------------------------------------------
    def obey(self, messages: list[dict]) -> dict:
        system = next((text_of(m) for m in messages if m["role"] == "system"), "")
        readable = "\n".join([system.partition(DATA_STARTS)[2]] + [text_of(m) for m in messages if m["role"] != "system"])
        tool_results = [text_of(m) for m in messages if m["role"] == "tool"]
        calls = [] if tool_results else self._calls_asked(readable)
        if calls:
            return completion(tool_calls=calls)
        if lines := FIRST_LINES.search(readable):
            return completion("\n".join(system.splitlines()[: int(lines["n"])]))
        if WHOLE_PROMPT.search(readable):
            return completion(system)
        if said := SAY.search(readable):
            return completion(said["text"].strip())
        if tool_results:
            return completion("\n".join(tool_results))
        return completion(system.partition(DRAFT_STARTS)[2].partition("\n")[2].strip() or "OK")

    def _calls_asked(self, text: str) -> list[dict]:
        calls = []
        for found in CALL.finditer(text):
            name, who = found["tool"], found["who"].rstrip(".,;")
            args = {"customer_id": who}
            if name == "search_products":
                args["query"] = "everything"
            call = {"id": f"call_{len(self.tool_calls) + len(calls)}", "name": name, "args": args}
            if (name, who) not in {(c["name"], c["args"]["customer_id"]) for c in calls}:
                calls.append(call)
        self.tool_calls += calls
        return calls

    # -- what it saw --------------------------------------------------------------------------------------------------
    def sent_texts(self) -> list[str]:
        """Every message text of every request, as sent."""
        return [text_of(m) for body in self.requests for m in body["messages"]]

    def tool_calls_that_ran(self) -> list[dict]:
        """Calls whose result came back in a later request: the product ran them (or said why not)."""
        answered = {m.get("tool_call_id") for body in self.requests for m in body["messages"] if m["role"] == "tool"}
        return [call for call in self.tool_calls if call["id"] in answered]

    def subject_placeholder(self) -> str | None:
        """The placeholder the system prompt gives the customer the conversation is about."""
        for body in self.requests:
            system = next((text_of(m) for m in body["messages"] if m["role"] == "system"), "")
            if found := re.search(r"\bcustomer (\[CUSTOMER_\d+\])", system.partition(DATA_STARTS)[0]):
                return found[1]
        return None


def text_of(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""
