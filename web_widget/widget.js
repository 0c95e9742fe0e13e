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
 * data-title, data-open="true" (open on load), data-disclosure (the bank's
 * notice that this is an automated assistant, shown before the first message), data-locale (a bundle below:
 * "en", "ar"; anything else falls back to English), data-mode="inline" with
 * data-target (a CSS selector: the chat fills that element, no launcher), and
 * the theme: data-primary-color, data-font, data-radius, data-launcher-icon
 * (an image URL), data-position="left|right", data-apply-url (where "Apply" on a
 * card leads, "{product}" standing for the product id; without it the card's
 * "Apply" only raises a "fargo:apply" event on #fargo-widget with the
 * product). The page may also set the
 * custom properties (--fargo-accent, --fargo-font, --fargo-radius, ...) on
 * #fargo-widget. More bundles: window.FargoWidgetLocales = {fr: {...}}; single
 * strings: window.FargoWidgetStrings = {...}; both before the script loads.
 *
 * Everything lives in a Shadow DOM, so the host page's CSS and the widget's do
 * not touch. Text from the server (answers, product names, evidence) is only
 * ever put in the page as text (textContent), never parsed as HTML.
 */
(function () {
  "use strict";

  // Every visible string of the widget, per locale. A bundle may leave strings out: English fills them in.
  // Quick replies show their label and send their message (the assistant understands English).
  var LOCALES = {
    en: {
      dir: "ltr",
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
      agentNamed: "{name} (agent)",
      typing: "Fargo is typing",
      why: "Why?",
      hideWhy: "Hide reasons",
      apply: "Apply",
      dismiss: "Not for me",
      dismissed: "Got it: we won't suggest {name} for now.",
      reasons: "Reasons",
      evidence: "Based on your data",
      worth: "Worth about {value} a year to you",
      forPerson: "For your {relation}",
      forPersonAged: "For your {relation}, aged {ageBand}",
      protectsPerson: "To protect your {relation}",
      protectsPersonAged: "To protect your {relation}, aged {ageBand}",
      suggestions: "Suggestions",
      talkToPerson: "Talk to a person",
      handoffWaiting: "Waiting for a colleague to join...",
      handoffActive: "You are chatting with {agent}.",
      disclosure: "You're chatting with Fargo, an automated assistant, not a person. To reach a person at any time, press \"Talk to a person\".",
      welcome: "Hi! I can suggest products that fit you and your family, help with healthcare costs, and answer questions about our products.",
      errorGeneric: "Something went wrong. Please try again in a moment.",
      errorSignIn: "Please sign in to your bank to chat.",
      errorBusy: "Too many messages at once. Please wait {seconds} s.",
      downloadTranscript: "Download the conversation",
      transcriptHeading: "{title}: conversation transcript",
      transcriptSession: "Conversation: {id}",
      transcriptSaved: "Saved: {time} (times are UTC{offset})",
      transcriptFile: "fargo-conversation-{date}.txt",
      ratingQuestion: "How satisfied are you with the help you got from our colleague?",
      ratingScore: "{score} out of 5",
      ratingLow: "Not satisfied",
      ratingHigh: "Very satisfied",
      ratingLater: "Not now",
      ratingThanks: "Thank you for your rating.",
      quickReplies: [
        "What card suits my spending?",
        "Ideas for my family",
        "Healthcare options for me",
        "How does a high-yield savings account work?"
      ]
    },
    ar: {
      dir: "rtl",
      title: "اسأل فارغو",
      subtitle: "مساعد مصرفك",
      openChat: "افتح المحادثة مع فارغو",
      closeChat: "أغلق المحادثة",
      placeholder: "اكتب سؤالك...",
      inputLabel: "رسالتك",
      send: "إرسال",
      you: "أنت",
      assistant: "فارغو",
      agent: "موظف",
      agentNamed: "{name} (موظف)",
      typing: "فارغو يكتب",
      why: "لماذا؟",
      hideWhy: "إخفاء الأسباب",
      apply: "تقدّم بطلب",
      dismiss: "لا يناسبني",
      dismissed: "حسنًا: لن نقترح {name} في الوقت الحالي.",
      reasons: "الأسباب",
      evidence: "استنادًا إلى بياناتك",
      worth: "قيمته لك نحو {value} في السنة",
      forPerson: "من أجل {relation}",
      forPersonAged: "من أجل {relation}، العمر {ageBand}",
      protectsPerson: "لحماية {relation}",
      protectsPersonAged: "لحماية {relation}، العمر {ageBand}",
      suggestions: "اقتراحات",
      talkToPerson: "التحدث إلى موظف",
      handoffWaiting: "بانتظار انضمام أحد زملائنا...",
      handoffActive: "أنت تتحدث مع {agent}.",
      disclosure: "أنت تتحدث مع فارغو، وهو مساعد آلي وليس شخصًا. للتحدث إلى موظف في أي وقت، اضغط «التحدث إلى موظف».",
      welcome: "مرحبًا! يمكنني أن أقترح منتجات تناسبك وتناسب عائلتك، وأن أساعدك في تكاليف الرعاية الصحية، وأن أجيب عن أسئلتك حول منتجاتنا.",
      errorGeneric: "حدث خطأ ما. يُرجى المحاولة مرة أخرى بعد قليل.",
      errorSignIn: "يُرجى تسجيل الدخول إلى مصرفك لبدء المحادثة.",
      errorBusy: "رسائل كثيرة في وقت واحد. يُرجى الانتظار {seconds} ثانية.",
      downloadTranscript: "تنزيل المحادثة",
      transcriptHeading: "{title}: نص المحادثة",
      transcriptSession: "المحادثة: {id}",
      transcriptSaved: "تاريخ الحفظ: {time} (الأوقات بتوقيت UTC{offset})",
      transcriptFile: "fargo-conversation-{date}.txt",
      ratingQuestion: "ما مدى رضاك عن المساعدة التي قدّمها لك زميلنا؟",
      ratingScore: "{score} من 5",
      ratingLow: "غير راضٍ",
      ratingHigh: "راضٍ جدًا",
      ratingLater: "ليس الآن",
      ratingThanks: "شكرًا لك على تقييمك.",
      quickReplies: [
        { label: "ما البطاقة التي تناسب إنفاقي؟", message: "What card suits my spending?" },
        { label: "أفكار لعائلتي", message: "Ideas for my family" },
        { label: "خيارات الرعاية الصحية لي", message: "Healthcare options for me" },
        { label: "كيف يعمل حساب التوفير عالي العائد؟", message: "How does a high-yield savings account work?" }
      ]
    }
  };
  var DEFAULT_LOCALE = "en";
  var POLL_MS = 2000;
  var PIECES_PER_FRAME = 3;

  var script = document.currentScript;
  if (!script || window.__fargoWidgetLoaded) { return; }
  window.__fargoWidgetLoaded = true;
  var bundles = Object.assign({}, LOCALES, window.FargoWidgetLocales || {});
  var locale = pickLocale(script.dataset.locale);
  var strings = Object.assign({}, LOCALES[DEFAULT_LOCALE], bundles[locale], window.FargoWidgetStrings || {});
  var config = {
    api: (script.dataset.api || new URL(script.src).origin).replace(/\/$/, ""),
    tokenUrl: script.dataset.tokenUrl,
    title: script.dataset.title || strings.title,
    openOnLoad: script.dataset.open === "true",
    disclosure: script.dataset.disclosure || strings.disclosure,
    inline: script.dataset.mode === "inline",
    applyUrl: script.dataset.applyUrl,
    target: script.dataset.target
  };

  function pickLocale(asked) {  // "ar-EG" -> "ar"; unknown -> English
    var tag = (asked || "").toLowerCase();
    if (bundles[tag]) { return tag; }
    var language = tag.split("-")[0];
    return bundles[language] ? language : DEFAULT_LOCALE;
  }

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

  var ICONS = {  // drawn, not emoji: not every system has an emoji font
    chat: "M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    download: "M11 3h2v9.2l3.3-3.3 1.4 1.4L12 16l-5.7-5.7 1.4-1.4 3.3 3.3V3zM5 18h14v2H5z"
  };

  function icon(name, className) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", className);
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICONS[name]);
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  function launcherIcon() {  // the bank's own image (data-launcher-icon), else the drawn bubble
    var url = imageUrl(script.dataset.launcherIcon);
    return url ? el("img", { class: "launcher-icon", src: url, alt: "" }) : icon("chat", "launcher-icon");
  }

  function imageUrl(value) {
    if (!value) { return null; }
    var url = new URL(value, document.baseURI);
    if (/^https?:$/.test(url.protocol) || /^data:image\//.test(value)) { return url.href; }
    warn("data-launcher-icon must be an http(s) or data:image URL; the default icon is shown");
    return null;
  }

  function warn(message) { if (window.console) { window.console.warn("Fargo widget: " + message); } }

  // data-primary-color, data-font, data-radius: set as the custom properties widget.css is written in
  var THEME = { primaryColor: ["--fargo-accent", "color"], font: ["--fargo-font", "font-family"],
                radius: ["--fargo-radius", "border-radius"] };

  function applyTheme(element) {
    Object.keys(THEME).forEach(function (key) {
      var value = script.dataset[key], property = THEME[key][0], checkedAs = THEME[key][1];
      if (!value) { return; }
      if (window.CSS && CSS.supports(checkedAs, value)) { element.style.setProperty(property, value); }
      else { warn("data-" + key.replace(/[A-Z]/g, "-$&").toLowerCase() + " \"" + value + "\" is not a valid " + checkedAs); }
    });
    var position = script.dataset.position;
    if (position && position !== "left" && position !== "right") { warn("data-position is left or right"); }
    element.setAttribute("data-position", position === "left" ? "left" : "right");
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
    transcriptButton.hidden = false;
    try { window.localStorage.setItem(sessionKey(), id); } catch (e) { /* storage may be off */ }
  }
  function storedSession() {
    try { return window.localStorage.getItem(sessionKey()); } catch (e) { return null; }
  }
  function forgetSession() {
    state.sessionId = null;
    state.renderedTurns = 0;
    transcriptButton.hidden = true;
    try { window.localStorage.removeItem(sessionKey()); } catch (e) { /* storage may be off */ }
  }
  function ratingLaterKey() { return "fargo.rating-later." + state.sessionId; }
  function ratingPutOff() {
    try { return window.localStorage.getItem(ratingLaterKey()) === "1"; } catch (e) { return false; }
  }
  function putOffRating(later) {
    try {
      if (later) { window.localStorage.setItem(ratingLaterKey(), "1"); } else { window.localStorage.removeItem(ratingLaterKey()); }
    } catch (e) { /* storage may be off */ }
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
  var host = el("div", { id: "fargo-widget", "data-fargo-widget": "", "data-mode": config.inline ? "inline" : "launcher",
                         dir: strings.dir, lang: locale });
  applyTheme(host);
  var root = host.attachShadow({ mode: "open" });
  root.appendChild(el("link", { rel: "stylesheet", href: config.api + "/widget.css" }));
  var launcher = el("button", { class: "launcher", type: "button", "aria-label": strings.openChat,
                                "aria-expanded": "false", "aria-controls": "fargo-panel" });
  launcher.appendChild(launcherIcon());
  var panel = el("section", config.inline
    ? { id: "fargo-panel", class: "panel", role: "region", "aria-labelledby": "fargo-title" }
    : { id: "fargo-panel", class: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "fargo-title",
        hidden: "" });
  panel.setAttribute("dir", strings.dir);
  var header = el("div", { class: "header" });
  var titles = el("div", { class: "titles" });
  titles.appendChild(el("h2", { id: "fargo-title", class: "title" }, config.title));
  titles.appendChild(el("p", { class: "subtitle" }, strings.subtitle));
  var actions = el("div", { class: "actions" });
  var transcriptButton = el("button", { class: "header-button", type: "button", "aria-label": strings.downloadTranscript,
                                        title: strings.downloadTranscript, hidden: "" });
  transcriptButton.appendChild(icon("download", "header-icon"));
  transcriptButton.addEventListener("click", downloadTranscript);
  actions.appendChild(transcriptButton);
  var closeButton = el("button", { class: "header-button close", type: "button", "aria-label": strings.closeChat }, "\u00D7");
  if (!config.inline) { actions.appendChild(closeButton); }
  header.appendChild(titles);
  header.appendChild(actions);
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": config.title, tabindex: "0" });
  var status = el("p", { class: "handoff-status", role: "status", hidden: "" });
  var rating = ratingForm();
  var typing = el("div", { class: "typing", role: "status", "aria-label": strings.typing, hidden: "" });
  [0, 1, 2].forEach(function () { typing.appendChild(el("span", { class: "dot", "aria-hidden": "true" })); });
  var quick = el("div", { class: "quick", role: "group", "aria-label": strings.suggestions });
  strings.quickReplies.forEach(function (reply) {
    var label = reply.label || reply, message = reply.message || reply;
    var button = el("button", { class: "chip", type: "button" }, label);
    button.addEventListener("click", function () { send(message); });
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
  [header, log, typing, status, rating.box, quick, form].forEach(function (part) { panel.appendChild(part); });
  root.appendChild(panel);
  if (!config.inline) { root.appendChild(launcher); }

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
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape" && !config.inline) { close(); } });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (text) { send(text); }
  });

  function scrollToEnd() { log.scrollTop = log.scrollHeight; }

  // The notice that this is an automated assistant and how to reach a person comes before anything else.
  function greeting() {
    return config.disclosure + "\n\n" + strings.welcome;
  }

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

  function addCards(parent, recommendations, live) {
    if (!recommendations || !recommendations.length) { return; }
    var list = el("ul", { class: "cards", "aria-label": strings.suggestions });
    recommendations.forEach(function (rec) {
      list.appendChild(card(rec));
      if (live) { respond(rec, "shown"); }
    });
    parent.appendChild(list);
    scrollToEnd();
  }

  function forWhom(rec) {
    var words = { relation: rec.relation, ageBand: rec.age_band };
    if (rec.protects) { return format(rec.age_band ? strings.protectsPersonAged : strings.protectsPerson, words); }
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
    var whyReported = false;
    whyButton.addEventListener("click", function () {
      var opening = details.hasAttribute("hidden");
      if (opening) { details.removeAttribute("hidden"); } else { details.setAttribute("hidden", ""); }
      whyButton.setAttribute("aria-expanded", String(opening));
      whyButton.textContent = opening ? strings.hideWhy : strings.why;
      if (opening && !whyReported) { whyReported = true; respond(rec, "why_opened"); }
    });
    var actions = el("div", { class: "card-actions" });
    actions.appendChild(whyButton);
    if (rec.decision_id) { cardResponses(item, rec, actions); }
    item.appendChild(actions);
    item.appendChild(details);
    return item;
  }

  // "Apply" (a click-through) and "Not for me" on a card: each reported against the offer (decision id + product)
  function cardResponses(item, rec, actions) {
    var apply = el("button", { class: "apply", type: "button" }, strings.apply);
    var dismiss = el("button", { class: "dismiss", type: "button" }, strings.dismiss);
    apply.addEventListener("click", function () {
      respond(rec, "accepted");
      host.dispatchEvent(new CustomEvent("fargo:apply", { detail: { product_id: rec.product_id, name: rec.name } }));
      if (config.applyUrl) {
        window.open(config.applyUrl.replace("{product}", encodeURIComponent(rec.product_id)), "_blank", "noopener");
      }
    });
    dismiss.addEventListener("click", function () {
      respond(rec, "dismissed").then(function (ok) {
        if (ok) { item.replaceChildren(el("p", { class: "card-dismissed", role: "status" }, format(strings.dismissed, { name: rec.name }))); }
      });
    });
    actions.appendChild(apply);
    actions.appendChild(dismiss);
  }

  function respond(rec, kind) {  // true once recorded; a failure is shown only for what the customer pressed
    if (!rec.decision_id) { return Promise.resolve(false); }
    var body = { decision_id: rec.decision_id, product_id: rec.product_id, kind: kind };
    return api("/v1/responses", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) { return problem(response); }
      return true;
    }).catch(function (error) {
      if (kind === "dismissed" || kind === "accepted") { showError(error); }
      return false;
    });
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
      addCards(reply.item, cards, true);
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
    state.rated = session.rating !== null && session.rating !== undefined;
    state.agentName = agentTurn ? agentTurn.agent : state.agentName;
    showHandoff();
  }

  function showHandoff() {
    var waiting = state.handoff === "waiting", active = state.handoff === "active";
    status.hidden = !(waiting || active);
    status.textContent = active ? format(strings.handoffActive, { agent: state.agentName || strings.agent })
                                : strings.handoffWaiting;
    if (waiting || active) { putOffRating(false); rating.reset(); }
    rating.box.hidden = !rating.thanked && !(state.handoff === "closed" && !state.rated && !ratingPutOff());
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

  // --- after a hand-off closes: one question --------------------------------------------------------------------------
  function ratingForm() {
    var box = el("div", { class: "rating", role: "group", "aria-labelledby": "fargo-rating-question", hidden: "" });
    var question = el("p", { id: "fargo-rating-question", class: "rating-question" }, strings.ratingQuestion);
    var scale = el("div", { class: "rating-scale" });
    [1, 2, 3, 4, 5].forEach(function (score) {
      var button = el("button", { class: "rating-score", type: "button",
                                  "aria-label": format(strings.ratingScore, { score: score }) }, score.toLocaleString(locale));
      button.addEventListener("click", function () { rate(score); });
      scale.appendChild(button);
    });
    var ends = el("div", { class: "rating-ends", "aria-hidden": "true" });
    ends.appendChild(el("span", {}, strings.ratingLow));
    ends.appendChild(el("span", {}, strings.ratingHigh));
    var later = el("button", { class: "rating-later", type: "button" }, strings.ratingLater);
    later.addEventListener("click", function () { putOffRating(true); box.hidden = true; });
    var parts = [question, scale, ends, later];
    var form = { box: box, thanked: false, reset: function () { form.thanked = false; box.replaceChildren.apply(box, parts); } };
    form.reset();

    function rate(score) {
      api("/v1/sessions/" + encodeURIComponent(state.sessionId) + "/rating", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ score: score })
      }).then(function (response) {
        if (!response.ok) { return problem(response); }
        state.rated = form.thanked = true;
        box.replaceChildren(el("p", { class: "rating-thanks", role: "status" }, strings.ratingThanks));
      }).catch(showError);
    }
    return form;
  }

  // --- the transcript: who said what, and when, as a text file --------------------------------------------------------
  function downloadTranscript() {
    if (!state.sessionId) { return; }
    loadSession().then(function (session) {
      if (!session) { return; }
      var now = new Date();
      var file = new Blob([transcript(session, now)], { type: "text/plain;charset=utf-8" });
      var link = el("a", { href: URL.createObjectURL(file), download: format(strings.transcriptFile, { date: localTime(now).slice(0, 10) }) });
      root.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
    }).catch(showError);
  }

  function transcript(session, now) {
    var lines = [format(strings.transcriptHeading, { title: config.title }),
                 format(strings.transcriptSession, { id: session.session_id }),
                 format(strings.transcriptSaved, { time: localTime(now), offset: utcOffset(now) }), ""];
    session.turns.forEach(function (turn) {
      var when = turn.at ? "[" + localTime(new Date(turn.at * 1000)) + "] " : "";
      lines.push(when + speaker(turn) + ": " + turn.text);
      (turn.recommendations || []).forEach(function (rec) { lines.push("    - " + rec.name); });
    });
    return lines.join("\n") + "\n";
  }

  function speaker(turn) {
    if (turn.role === "user") { return strings.you; }
    if (turn.role === "agent") { return turn.agent ? format(strings.agentNamed, { name: turn.agent }) : strings.agent; }
    return strings.assistant;
  }

  function localTime(date) {  // 2026-03-14 09:05:02, in the customer's own time zone
    function two(n) { return String(n).padStart(2, "0"); }
    return date.getFullYear() + "-" + two(date.getMonth() + 1) + "-" + two(date.getDate()) + " " +
           two(date.getHours()) + ":" + two(date.getMinutes()) + ":" + two(date.getSeconds());
  }

  function utcOffset(date) {  // "+05:30"
    var minutes = -date.getTimezoneOffset(), sign = minutes < 0 ? "-" : "+";
    minutes = Math.abs(minutes);
    return sign + String(Math.floor(minutes / 60)).padStart(2, "0") + ":" + String(minutes % 60).padStart(2, "0");
  }

  function mount() {  // the page's body, or in inline mode the element data-target names
    if (!config.inline) { document.body.appendChild(host); return true; }
    var target = config.target ? document.querySelector(config.target) : null;
    if (!target) {
      if (window.console) { window.console.error("Fargo widget: data-mode=\"inline\" needs data-target naming an element on the page; \"" + (config.target || "") + "\" names none"); }
      return false;
    }
    target.appendChild(host);
    return true;
  }

  function start() {
    if (!mount()) { return; }
    fetchToken().then(function () {
      state.sessionId = storedSession();
      if (!state.sessionId) { addMessage("assistant", greeting()); return null; }
      return loadSession().then(function (session) {
        if (session) { catchUp(session); } else { addMessage("assistant", greeting()); }
      });
    }).catch(showError);
    if (config.openOnLoad) { open(); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
