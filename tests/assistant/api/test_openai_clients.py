"""Real OpenAI clients against Fargo on loopback: the official `openai` package (sync, async, streaming),
LangChain's ChatOpenAI and a real chat UI in Chromium (Gradio's `load_chat`), with the whole history sent on every
call as they send it.

A customer signs in with a widget token as the API key, so every answer is about
their own data; no LLM is configured (template answers).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import httpx
import pytest
from ingested_bank import build_app
from live_app import serve_app
from openai import (
    AsyncOpenAI,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    OpenAI,
    PermissionDeniedError,
)
from playwright.sync_api import expect

from assistant.auth import mint_widget_token

LIST_QUESTION = "which credit card suits my spending?"


@pytest.fixture(scope="module")
def fargo(bank):
    """(base URL of Fargo's OpenAI API, the app) served on loopback."""
    app = build_app(bank, requests_per_minute=10_000)
    with serve_app(app) as base_url:
        yield f"{base_url}/v1", app


@pytest.fixture(scope="module")
def customers(fargo) -> list[str]:
    store = fargo[1].state.store
    return [doc["_id"] for doc in store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)], limit=2)]


def token_for(fargo, customer_id: str) -> str:
    return mint_widget_token(fargo[1].state.token_secret(), customer_id, 600)[0]


@pytest.fixture(scope="module")
def client(fargo, customers) -> OpenAI:
    """The official client, signed in as the first customer."""
    return OpenAI(base_url=fargo[0], api_key=token_for(fargo, customers[0]), max_retries=0)


@pytest.fixture(scope="module")
def first_answer(client):
    """A list of cards, as the client received it."""
    answer = client.chat.completions.create(model="fargo", messages=[{"role": "user", "content": LIST_QUESTION}])
    assert len(answer.model_extra["fargo_recommendations"]) >= 2, answer.choices[0].message.content
    return answer


def history(first_answer, follow_up: str, shown: str | None = None) -> list[dict]:
    """The messages a client sends for a follow-up: the question, the answer it showed, the follow-up."""
    return [{"role": "system", "content": "You are a helpful bank assistant."},
            {"role": "user", "content": LIST_QUESTION},
            {"role": "assistant", "content": shown or first_answer.choices[0].message.content},
            {"role": "user", "content": follow_up}]


def shown(answer) -> list[str]:
    return [rec["product_id"] for rec in answer.model_extra["fargo_recommendations"]]


# --- models -----------------------------------------------------------------------------------------------------------


def test_the_client_lists_the_fargo_model_and_retrieves_it_by_id(client):
    assert [model.id for model in client.models.list()] == ["fargo"]
    model = client.models.retrieve("fargo")
    assert model.id == "fargo" and model.object == "model" and model.owned_by == "fargo"


def test_an_unknown_model_id_is_404_in_openais_error_shape(fargo, client):
    with pytest.raises(NotFoundError) as raised:
        client.models.retrieve("gpt-4o")
    assert raised.value.body == {"message": raised.value.body["message"], "type": "invalid_request_error",
                                 "param": "model", "code": "model_not_found"}
    assert "gpt-4o" in raised.value.body["message"]


def test_models_need_a_credential(fargo):
    with pytest.raises(AuthenticationError) as raised:
        OpenAI(base_url=fargo[0], api_key="fk_not-a-key", max_retries=0).models.list()
    assert raised.value.body["type"] == "authentication_error" and raised.value.body["message"]


# --- follow-ups from the history --------------------------------------------------------------------------------------


def test_why_the_second_one_from_the_history_explains_the_second_card_shown(client, first_answer):
    why = client.chat.completions.create(model="fargo", messages=history(first_answer, "why the second one?"))

    assert why.model_extra["fargo_explanation"]["intent"] == "followup:why"
    assert shown(why) == [shown(first_answer)[1]]
    assert first_answer.model_extra["fargo_recommendations"][1]["name"] in why.choices[0].message.content


def test_tell_me_more_about_the_first_one_follows_the_order_the_client_showed(client, first_answer):
    """An answer phrased elsewhere (another model, an edit) that lists the cards in another order: "the first one"
    is the first the person saw there."""
    names = [rec["name"] for rec in first_answer.model_extra["fargo_recommendations"]]
    reordered = "Here are two picks: " + " and ".join(reversed(names[:2])) + "."

    more = client.chat.completions.create(
        model="fargo", messages=history(first_answer, "tell me more about the first one", shown=reordered))

    assert more.model_extra["fargo_explanation"]["intent"] == "followup:details"
    assert shown(more) == [shown(first_answer)[1]]


def test_a_follow_up_without_history_is_not_taken_for_one(client):
    alone = client.chat.completions.create(model="fargo", messages=[{"role": "user", "content": "why the second one?"}])
    assert not alone.model_extra["fargo_explanation"]["intent"].startswith("followup:")


def test_the_async_client_follows_up_from_the_history(fargo, customers, first_answer):
    async def ask():
        async with AsyncOpenAI(base_url=fargo[0], api_key=token_for(fargo, customers[0]), max_retries=0) as client:
            return await client.chat.completions.create(model="fargo",
                                                        messages=history(first_answer, "why the first one?"))

    why = asyncio.run(ask())
    assert why.model_extra["fargo_explanation"]["intent"] == "followup:why"
    assert shown(why) == [shown(first_answer)[0]]


def test_a_session_named_in_the_header_or_the_user_field_is_continued(client, first_answer):
    session_id = first_answer.model_extra["fargo_session_id"]
    only_the_question = [{"role": "user", "content": "why the second one?"}]

    by_header = client.chat.completions.create(model="fargo", messages=only_the_question,
                                               extra_headers={"X-Fargo-Session": session_id})
    by_user = client.chat.completions.create(model="fargo", messages=only_the_question, user=session_id)

    for answer in (by_header, by_user):
        assert answer.model_extra["fargo_session_id"] == session_id
        assert shown(answer) == [shown(first_answer)[1]]


def test_another_customer_cannot_continue_a_session_by_naming_it(fargo, customers, first_answer):
    other = OpenAI(base_url=fargo[0], api_key=token_for(fargo, customers[1]), max_retries=0)
    with pytest.raises(PermissionDeniedError) as raised:
        other.chat.completions.create(model="fargo", messages=[{"role": "user", "content": "why?"}],
                                      extra_headers={"X-Fargo-Session": first_answer.model_extra["fargo_session_id"]})
    assert raised.value.body["type"] == "permission_error" and "someone else" in raised.value.body["message"]


# --- streaming --------------------------------------------------------------------------------------------------------


def test_streaming_with_include_usage_ends_with_a_usage_chunk(client, first_answer):
    chunks = list(client.chat.completions.create(model="fargo", messages=history(first_answer, "why the first one?"),
                                                 stream=True, stream_options={"include_usage": True}))

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert first_answer.model_extra["fargo_recommendations"][0]["name"] in text
    assert chunks[-2].choices[0].finish_reason == "stop" and chunks[-2].usage is None
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(text.split())
    assert chunks[-1].usage.total_tokens == chunks[-1].usage.prompt_tokens + chunks[-1].usage.completion_tokens


def test_the_session_id_comes_back_in_a_header(fargo, customers):
    answer = httpx.post(f"{fargo[0]}/chat/completions", json={"model": "fargo", "stream": True, "messages": [
        {"role": "user", "content": "hello"}]}, headers={"Authorization": f"Bearer {token_for(fargo, customers[0])}"})
    assert answer.status_code == 200 and len(answer.headers["X-Fargo-Session"]) == 32
    assert answer.headers["X-Fargo-Session"] in answer.text


# --- parameters accepted and refused as OpenAI's API does --------------------------------------------------------------


def test_documented_parameters_that_cannot_change_an_answer_are_accepted(client):
    answer = client.chat.completions.create(
        model="fargo", messages=[{"role": "user", "content": "what is a HELOC?"}], n=1, temperature=0.2, top_p=0.9,
        max_tokens=300, seed=3, stop=["\n\n\n"], presence_penalty=0.1, metadata={"ticket": "42"})
    assert answer.choices[0].message.content


@pytest.mark.parametrize(("options", "param", "words"), [
    ({"n": 2}, "n", "only n=1"),
    ({"temperature": 3}, "temperature", "less than or equal to 2"),
    ({"extra_body": {"colour": "red"}}, "colour", "Unrecognized request argument supplied: colour"),
    ({"stream_options": {"include_usage": True}}, "stream_options", "only allowed when 'stream' is enabled"),
])
def test_an_unsupported_or_unknown_parameter_is_400_naming_it(client, options, param, words):
    with pytest.raises(BadRequestError) as raised:
        client.chat.completions.create(model="fargo", messages=[{"role": "user", "content": "hi"}], **options)
    error = raised.value.body
    assert error["type"] == "invalid_request_error" and error["param"] == param and words in error["message"]


def test_another_model_is_404_model_not_found(client):
    with pytest.raises(NotFoundError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.body["code"] == "model_not_found" and "fargo" in raised.value.body["message"]


# --- LangChain --------------------------------------------------------------------------------------------------------


def test_langchain_chat_openai_answers_and_follows_up_from_its_message_list(fargo, customers, first_answer):
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(model="fargo", base_url=fargo[0], api_key=token_for(fargo, customers[0]), max_retries=0,
                      temperature=0, stream_usage=True)
    names = [rec["name"] for rec in first_answer.model_extra["fargo_recommendations"]]

    listed = chat.invoke([HumanMessage(LIST_QUESTION)])
    streamed = list(chat.stream([HumanMessage(LIST_QUESTION), AIMessage(listed.content),
                                 HumanMessage("why the second one?")]))

    assert all(name in listed.content for name in names)
    why = "".join(chunk.content for chunk in streamed)
    assert names[1] in why and names[0] not in why
    usage = next(chunk.usage_metadata for chunk in streamed if chunk.usage_metadata)
    assert usage["output_tokens"] == len(why.split())


# --- a chat UI in a browser ---------------------------------------------------------------------------------------------

# Gradio's chat UI for any OpenAI-compatible endpoint; Open WebUI runs here too but weighs 7.4 GB (see README)
CHAT_UI = """
import sys, gradio
base_url, api_key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
gradio.load_chat(base_url, model="fargo", token=api_key, file_types=None).launch(
    server_name="127.0.0.1", server_port=port)
"""
CHAT_UI_START_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def chat_ui(fargo, customers):
    """The chat UI's address: its own process, Fargo as its OpenAI connection, the first customer's token as key."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    ui = subprocess.Popen([sys.executable, "-c", CHAT_UI, fargo[0], token_for(fargo, customers[0]), str(port)],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + CHAT_UI_START_TIMEOUT_S
    try:
        while not _answers(url):
            if ui.poll() is not None or time.monotonic() > deadline:
                ui.kill()
                pytest.fail(f"the chat UI did not start: {ui.communicate()[1].decode()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        ui.terminate()
        ui.wait(timeout=15)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_chat_ui_in_the_browser_shows_fargos_list_and_follows_up_on_it(page, chat_ui, first_answer, screenshots):
    names = [rec["name"] for rec in first_answer.model_extra["fargo_recommendations"]]
    hosts = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.goto(chat_ui)
    message = page.get_by_role("textbox")

    message.fill(LIST_QUESTION)
    message.press("Enter")
    answers = page.locator('[data-testid="bot"]')
    expect(answers.first).to_contain_text(names[1], timeout=60_000)
    expect(answers.first).to_contain_text(names[0])
    message.fill("why the second one?")
    message.press("Enter")

    expect(answers).to_have_count(2, timeout=60_000)
    expect(answers.nth(1)).to_contain_text(names[1], timeout=60_000)
    expect(page.get_by_role("button", name="Retry")).to_be_visible()  # shown once the answer is complete
    expect(answers.nth(1)).not_to_contain_text(names[0])
    page.screenshot(path=screenshots / "chat-ui-follow-up.png", full_page=True)
    assert hosts == {urlsplit(chat_ui).netloc}  # the page fetched nothing from elsewhere
