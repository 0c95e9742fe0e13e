/*
 * Fargo chat widget: one script tag on the bank's page.
 *
 *   <script src="https://fargo.example-bank.com/widget.js"
 *           data-token-url="/fargo/token" async></script>
 *
 * data-token-url is an endpoint of the bank's own site (same origin as the
 * page, called with the page's cookies). It answers {"token", "customer_id"}
 * after calling Fargo's POST /v1/widget/tokens with the bank's API key.
 * Optional: data-api (Fargo's base URL; default: where this script came from),
 * data-title, data-open="true" (open on load). Strings can be replaced for
 * translation by setting window.FargoWidgetStrings before the script loads.
 *
 * Everything lives in a Shadow DOM, so the host page's CSS and the widget's do
 * not touch. Text from the server (answers, product names, evidence) is only
 * ever put in the page as text (textContent), never parsed as HTML.
 */
(function () {
  "use strict";

  var STRINGS = {
    title: "Ask Fargo",
    subtitle: "Your bank's assistant",
    openChat: "Open chat with Fargo",
    closeChat: "Close chat",
    placeholder: "Ask a question...",
    inputLabel: "Your message",
    send: "Send",
    you: "You",
    assistant: "Fargo",
    agent: "Agent",
    typing: "Fargo is typing",
    why: "Why?",
    hideWhy: "Hide reasons",
    reasons: "Reasons",
    evidence: "Based on your data",
    worth: "Worth about {value} a year to you",
    forPerson: "For your {relation}",
    forPersonAged: "For your {relation}, aged {ageBand}",
    suggestions: "Suggestions",
    talkToPerson: "Talk to a person",
    handoffWaiting: "Waiting for a colleague to join...",
    handoffActive: "You are chatting with {agent}.",
    welcome: "Hi! I can suggest products that fit you and your family, help with healthcare costs, and answer questions about our products.",
    errorGeneric: "Something went wrong. Please try again in a moment.",
    errorSignIn: "Please sign in to your bank to chat.",
    errorBusy: "Too many messages at once. Please wait {seconds} s.",
    quickReplies: [
      "What card suits my spending?",
      "Ideas for my family",
      "Healthcare options for me",
      "How does a high-yield savings account work?"
    ]
  };
  var strings = Object.assign({}, STRINGS, window.FargoWidgetStrings || {});
  var POLL_MS = 2000;
  var PIECES_PER_FRAME = 3;

  var script = document.currentScript;
  if (!script || window.__fargoWidgetLoaded) { return; }
  window.__fargoWidgetLoaded = true;
  var config = {
    api: (script.dataset.api || new URL(script.src).origin).replace(/\/$/, ""),
    tokenUrl: script.dataset.tokenUrl,
    title: script.dataset.title || strings.title,
    openOnLoad: script.dataset.open === "true"
  };

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "class") { node.className = attributes[name]; } else { node.setAttribute(name, attributes[name]); }
    });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function chatIcon() {  // drawn, not an emoji: not every system has an emoji font
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "launcher-icon");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  function money(value) {
    return "$" + Math.round(value).toLocaleString("en-US");
  }

  function evidenceValue(item) {
    var value = item.value;
    if (typeof value === "number") {
      var label = (item.label || item.field || "").toLowerCase();
      if (/spend|balance|premium|fee|income|amount|limit|cost|\$/.test(label)) {
        var cents = Number.isInteger(value) ? 0 : 2;
        return "$" + value.toLocaleString("en-US", { minimumFractionDigits: cents, maximumFractionDigits: cents });
      }
      if (/rate|apy|apr|share/.test(label) && value < 1) {
        return (value * 100).toLocaleString("en-US", { maximumFractionDigits: 2 }) + "%";
      }
      return value.toLocaleString("en-US");
    }
    if (Array.isArray(value)) { return value.join(", "); }
    if (value && typeof value === "object") { return JSON.stringify(value); }
    return String(value);
  }

  // --- state kept across reloads -------------------------------------------------------------------------------
  var auth = { token: null, customerId: null };
  var state = { sessionId: null, renderedTurns: 0, handoff: null, busy: false, pollTimer: null, whyCount: 0 };

  function sessionKey() { return "fargo.session." + auth.customerId; }
  function rememberSession(id) {
    state.sessionId = id;
    try { window.localStorage.setItem(sessionKey(), id); } catch (e) { /* storage may be off */ }
  }
  function storedSession() {
    try { return window.localStorage.getItem(sessionKey()); } catch (e) { return null; }
  }
  function forgetSession() {
    state.sessionId = null;
    state.renderedTurns = 0;
    try { window.localStorage.removeItem(sessionKey()); } catch (e) { /* storage may be off */ }
  }

  // --- talking to the bank and to Fargo ----------------------------------------------------------------------------
  function fetchToken() {
    if (!config.tokenUrl) { return Promise.reject(new Error("signin")); }
    return fetch(config.tokenUrl, { method: "POST", credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error("signin"); }
      return response.json();
    }).then(function (body) {
      auth.token = body.token;
      auth.customerId = body.customer_id;
    });
  }

  function api(path, options, retried) {
    options = options || {};
    var headers = Object.assign({ "Authorization": "Bearer " + auth.token }, options.headers || {});
    return fetch(config.api + path, Object.assign({}, options, { headers: headers })).then(function (response) {
      if (response.status === 401 && !retried) {  // the short-lived token expired: ask the bank for a new one
        return fetchToken().then(function () { return api(path, options, true); });
      }
      return response;
    });
  }

  function problem(response) {
    return response.json().catch(function () { return {}; }).then(function (body) {
      var error = new Error((body.error && body.error.message) || "HTTP " + response.status);
      error.status = response.status;
      error.retryAfter = response.headers.get("Retry-After");
      throw error;
    });
  }

  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) { return; }
        buffer += decoder.decode(chunk.value, { stream: true });
        var blocks = buffer.split("\n\n");
        buffer = blocks.pop();
        blocks.forEach(function (block) {
          var event = "message", data = "";
          block.split("\n").forEach(function (line) {
            if (line.indexOf("event: ") === 0) { event = line.slice(7); }
            if (line.indexOf("data: ") === 0) { data += line.slice(6); }
          });
          if (data) { onEvent(event, JSON.parse(data)); }
        });
        return pump();
      });
    }
    return pump();
  }

  // --- the DOM ----------------------------------------------------------------------------------------------------
  var host = el("div", { id: "fargo-widget", "data-fargo-widget": "" });
  var root = host.attachShadow({ mode: "open" });
  root.appendChild(el("link", { rel: "stylesheet", href: config.api + "/widget.css" }));
  var launcher = el("button", { class: "launcher", type: "button", "aria-label": strings.openChat,
                                "aria-expanded": "false", "aria-controls": "fargo-panel" });
  launcher.appendChild(chatIcon());
  var panel = el("section", { id: "fargo-panel", class: "panel", role: "dialog", "aria-modal": "false",
                              "aria-labelledby": "fargo-title", hidden: "" });
  var header = el("div", { class: "header" });
  var titles = el("div", { class: "titles" });
  titles.appendChild(el("h2", { id: "fargo-title", class: "title" }, config.title));
  titles.appendChild(el("p", { class: "subtitle" }, strings.subtitle));
  var closeButton = el("button", { class: "close", type: "button", "aria-label": strings.closeChat }, "\u00D7");
  header.appendChild(titles);
  header.appendChild(closeButton);
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": config.title, tabindex: "0" });
  var status = el("p", { class: "handoff-status", role: "status", hidden: "" });
  var typing = el("div", { class: "typing", role: "status", "aria-label": strings.typing, hidden: "" });
  [0, 1, 2].forEach(function () { typing.appendChild(el("span", { class: "dot", "aria-hidden": "true" })); });
  var quick = el("div", { class: "quick", role: "group", "aria-label": strings.suggestions });
  strings.quickReplies.forEach(function (text) {
    var button = el("button", { class: "chip", type: "button" }, text);
    button.addEventListener("click", function () { send(text); });
    quick.appendChild(button);
  });
  var personButton = el("button", { class: "chip person", type: "button" }, strings.talkToPerson);
  personButton.addEventListener("click", askForPerson);
  quick.appendChild(personButton);
  var form = el("form", { class: "composer" });
  var inputId = "fargo-input";
  form.appendChild(el("label", { for: inputId, class: "visually-hidden" }, strings.inputLabel));
  var input = el("textarea", { id: inputId, rows: "1", maxlength: "2000", placeholder: strings.placeholder,
                               autocomplete: "off" });
  var sendButton = el("button", { class: "send", type: "submit" }, strings.send);
  form.appendChild(input);
  form.appendChild(sendButton);
  [header, log, typing, status, quick, form].forEach(function (part) { panel.appendChild(part); });
  root.appendChild(panel);
  root.appendChild(launcher);

  function isOpen() { return !panel.hasAttribute("hidden"); }
  function open() {
    panel.removeAttribute("hidden");
    launcher.setAttribute("aria-expanded", "true");
    launcher.classList.add("is-open");
    input.focus();
    scrollToEnd();
  }
  function close() {
    panel.setAttribute("hidden", "");
    launcher.setAttribute("aria-expanded", "false");
    launcher.classList.remove("is-open");
    launcher.focus();
  }
  launcher.addEventListener("click", function () { if (isOpen()) { close(); } else { open(); } });
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") { close(); } });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (text) { send(text); }
  });

  function scrollToEnd() { log.scrollTop = log.scrollHeight; }

  function addMessage(role, text, who) {
    var names = { user: strings.you, assistant: strings.assistant, agent: who || strings.agent };
    var item = el("div", { class: "msg " + role });
    item.appendChild(el("span", { class: "who" }, names[role] || strings.assistant));
    var body = el("p", { class: "text" }, text);
    item.appendChild(body);
    log.appendChild(item);
    scrollToEnd();
    return { item: item, body: body };
  }

  function addCards(parent, recommendations) {
    if (!recommendations || !recommendations.length) { return; }
    var list = el("ul", { class: "cards", "aria-label": strings.suggestions });
    recommendations.forEach(function (rec) { list.appendChild(card(rec)); });
    parent.appendChild(list);
    scrollToEnd();
  }

  function forWhom(rec) {
    var words = { relation: rec.relation, ageBand: rec.age_band };
    return format(rec.age_band ? strings.forPersonAged : strings.forPerson, words);
  }

  function card(rec) {
    var item = el("li", { class: "card" });
    item.appendChild(el("h3", { class: "card-name" }, rec.name));
    if (rec.relation) { item.appendChild(el("p", { class: "card-for" }, forWhom(rec))); }
    if (typeof rec.estimated_annual_value === "number") {
      item.appendChild(el("p", { class: "card-value" }, format(strings.worth, { value: money(rec.estimated_annual_value) })));
    }
    var whyId = "fargo-why-" + (++state.whyCount);
    var whyButton = el("button", { class: "why", type: "button", "aria-expanded": "false", "aria-controls": whyId }, strings.why);
    var details = el("div", { id: whyId, class: "why-details", hidden: "" });
    details.appendChild(el("h4", {}, strings.reasons));
    var reasons = el("ul", { class: "reasons" });
    (rec.reasons || []).forEach(function (reason) { reasons.appendChild(el("li", {}, reason)); });
    details.appendChild(reasons);
    if (rec.evidence && rec.evidence.length) {
      details.appendChild(el("h4", {}, strings.evidence));
      var evidence = el("ul", { class: "evidence" });
      rec.evidence.forEach(function (piece) {
        var row = el("li", { class: "evidence-item" });
        row.appendChild(el("span", { class: "evidence-label" }, (piece.label || piece.field) + ": "));
        row.appendChild(el("strong", { class: "evidence-value" }, evidenceValue(piece)));
        row.appendChild(el("small", { class: "evidence-source", title: piece.collection + " " + piece.record_id + " " + piece.field },
                           " (" + piece.collection + " " + piece.record_id + ")"));
        evidence.appendChild(row);
      });
      details.appendChild(evidence);
    }
    whyButton.addEventListener("click", function () {
      var opening = details.hasAttribute("hidden");
      if (opening) { details.removeAttribute("hidden"); } else { details.setAttribute("hidden", ""); }
      whyButton.setAttribute("aria-expanded", String(opening));
      whyButton.textContent = opening ? strings.hideWhy : strings.why;
    });
    item.appendChild(whyButton);
    item.appendChild(details);
    return item;
  }

  function showError(error) {
    var text = strings.errorGeneric;
    if (error && error.message === "signin") { text = strings.errorSignIn; }
    else if (error && error.status === 429) { text = format(strings.errorBusy, { seconds: error.retryAfter || 5 }); }
    else if (error && error.status && error.status < 500 && error.message) { text = error.message; }
    var shown = addMessage("assistant", text);
    shown.item.classList.add("error");
  }

  function setBusy(busy) {
    state.busy = busy;
    sendButton.disabled = busy;
    typing.hidden = !busy;
    panel.setAttribute("aria-busy", String(busy));
  }

  // --- a turn, streamed --------------------------------------------------------------------------------------------
  function send(text) {
    if (state.busy) { return; }
    input.value = "";
    addMessage("user", text);
    setBusy(true);
    var reply = null, pieces = [], painting = false, cards = null, finished = null;
    var body = { message: text, stream: true };
    if (state.sessionId) { body.session_id = state.sessionId; }

    function paint() {  // lay the streamed pieces down a few per frame, so the answer visibly streams in
      if (!pieces.length) { painting = false; if (finished) { finished(); } return; }
      painting = true;
      if (!reply) { typing.hidden = true; reply = addMessage("assistant", ""); }
      reply.body.textContent += pieces.splice(0, PIECES_PER_FRAME).join("");
      scrollToEnd();
      window.requestAnimationFrame(paint);
    }
    function whenPainted() {
      return new Promise(function (resolve) {
        if (!painting && !pieces.length) { resolve(); } else { finished = resolve; }
      });
    }

    return api("/v1/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) { return problem(response); }
      return readEvents(response, function (event, data) {
        if (event === "token") { pieces.push(data.text); if (!painting) { paint(); } }
        if (event === "recommendations") { cards = data; }
        if (event === "done") {
          rememberSession(data.session_id);
          state.renderedTurns += 2;
          if (data.handoff) { state.handoff = state.handoff || "waiting"; }
        }
      });
    }).then(whenPainted).then(function () {
      if (!reply) { reply = addMessage("assistant", ""); }
      addCards(reply.item, cards);
      showHandoff();
    }).catch(function (error) {
      if (error.status === 403 || error.status === 404) { forgetSession(); }
      showError(error);
    }).then(function () { setBusy(false); });
  }

  function askForPerson() {
    if (state.busy) { return; }
    setBusy(true);
    var body = {};
    if (state.sessionId) { body.session_id = state.sessionId; }
    return api("/v1/handoffs", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) { return problem(response); }
      return response.json();
    }).then(function (handoff) {
      rememberSession(handoff.session_id);
      addMessage("assistant", handoff.answer);
      state.renderedTurns += 1;
      state.handoff = handoff.status;
      showHandoff();
    }).catch(showError).then(function () { setBusy(false); });
  }

  // --- history and the agent's replies -----------------------------------------------------------------------------
  function renderTurn(turn) {
    var shown = addMessage(turn.role, turn.text, turn.agent);
    if (turn.role === "assistant") { addCards(shown.item, turn.recommendations); }
  }

  function loadSession() {
    return api("/v1/sessions/" + encodeURIComponent(state.sessionId)).then(function (response) {
      if (response.status === 403 || response.status === 404) { forgetSession(); return null; }
      if (!response.ok) { return problem(response); }
      return response.json();
    });
  }

  function catchUp(session) {
    if (!session) { return; }
    session.turns.slice(state.renderedTurns).forEach(renderTurn);
    state.renderedTurns = session.turns.length;
    var agentTurn = session.turns.filter(function (t) { return t.role === "agent"; }).pop();
    state.handoff = session.handoff_status;
    state.agentName = agentTurn ? agentTurn.agent : state.agentName;
    showHandoff();
  }

  function showHandoff() {
    var waiting = state.handoff === "waiting", active = state.handoff === "active";
    status.hidden = !(waiting || active);
    status.textContent = active ? format(strings.handoffActive, { agent: state.agentName || strings.agent })
                                : strings.handoffWaiting;
    if ((waiting || active) && !state.pollTimer) {
      state.pollTimer = window.setInterval(poll, POLL_MS);
    } else if (!(waiting || active) && state.pollTimer) {
      window.clearInterval(state.pollTimer);
      state.pollTimer = null;
    }
  }

  function poll() {
    if (state.busy || !state.sessionId) { return; }
    loadSession().then(function (session) { if (!state.busy) { catchUp(session); } }).catch(function () { /* next poll */ });
  }

  function start() {
    document.body.appendChild(host);
    fetchToken().then(function () {
      state.sessionId = storedSession();
      if (!state.sessionId) { addMessage("assistant", strings.welcome); return null; }
      return loadSession().then(function (session) {
        if (session) { catchUp(session); } else { addMessage("assistant", strings.welcome); }
      });
    }).catch(showError);
    if (config.openOnLoad) { open(); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
