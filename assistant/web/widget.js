/*
 * Procedure assistant: embeddable chat widget (vanilla ES2020, no dependencies).
 *
 *   <script src="https://HOST/widget.js" data-api="https://HOST" data-lang="vi" async></script>
 *
 * Attributes: data-api (defaults to the script's origin), data-lang ("vi" | "en", default "vi"),
 * data-token (a short-lived token from POST /v1/tokens; never an API key), data-help (text shown
 * with refusals: where else to ask), data-storage ("local", default: the conversation survives
 * reloads and restarts; "session": it ends with the tab, for shared computers).
 * Page API: window.AssistantWidget.{open, close, ask(text), newConversation, setToken(token)};
 * any element with data-assistant-ask="question" asks that question when clicked.
 *
 * Security rule: text from the server is only ever put into the page as text nodes
 * (textContent / createTextNode); this file never parses HTML from any string.
 */
(() => {
  "use strict";
  if (window.AssistantWidget && window.AssistantWidget.version) return;

  const script =
    document.currentScript || document.querySelector('script[src*="widget.js"]');
  const scriptOrigin = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  const API = ((script && script.dataset.api) || scriptOrigin).replace(/\/+$/, "");
  const LANG = ((script && script.dataset.lang) || "vi").toLowerCase().startsWith("en") ? "en" : "vi";
  const STORE_KEY = "assistant-widget:v1:" + API;
  const MAX_STORED = 40;
  const STORAGE = (() => {
    try {
      return script && script.dataset.storage === "session" ? window.sessionStorage : window.localStorage;
    } catch (_) {
      return null; // storage blocked (sandboxed frame, privacy settings)
    }
  })();
  let tokenOverride = null;

  const TEXT = {
    vi: {
      launcher: "Hỏi đáp thủ tục",
      title: "Trợ lý thủ tục hành chính",
      subtitle: "Trả lời kèm nguồn chính thức",
      close: "Đóng",
      newChat: "Cuộc trò chuyện mới",
      log: "Cuộc trò chuyện",
      inputLabel: "Câu hỏi của bạn",
      placeholder: "Nhập câu hỏi về thủ tục…",
      send: "Gửi",
      welcome:
        "Xin chào! Tôi giúp bạn tra cứu thủ tục hành chính: hồ sơ cần chuẩn bị, thời hạn, lệ phí, nơi nộp. " +
        "Mỗi câu trả lời có nguồn trích dẫn để bạn kiểm tra.",
      you: "Bạn",
      bot: "Trợ lý",
      thinking: "Đang tìm câu trả lời",
      unanswered: "Câu hỏi này chưa có câu trả lời.",
      sources: "Nguồn:",
      source: "Nguồn",
      code: "Mã thủ tục",
      section: "Mục",
      page: "Trang",
      official: "Xem nguồn chính thức",
      newTab: "(mở thẻ mới)",
      choose: "Chọn một thủ tục:",
      refuseHint:
        "Bạn có thể hỏi trực tiếp Bộ phận Một cửa của UBND xã/phường nơi cư trú, hoặc tra cứu trên Cổng Dịch vụ công quốc gia:",
      rate: "Câu trả lời có hữu ích không?",
      up: "Hữu ích",
      down: "Chưa hữu ích",
      commentLabel: "Góp ý thêm (không bắt buộc)",
      commentSend: "Gửi góp ý",
      thanks: "Cảm ơn bạn đã góp ý.",
      feedbackFailed: "Chưa gửi được góp ý.",
      dataDate: "Dữ liệu cập nhật: ",
      disclaimer: "Thông tin để tham khảo, hãy đối chiếu với văn bản chính thức.",
      errNetwork: "Không kết nối được máy chủ. Vui lòng thử lại.",
      errAuth: "Phiên làm việc đã hết hạn. Vui lòng tải lại trang.",
      errBusy: "Hệ thống đang bận. Vui lòng thử lại sau ít phút.",
      errServer: "Đã có lỗi xảy ra. Vui lòng thử lại.",
      retry: "Thử lại",
    },
    en: {
      launcher: "Ask about procedures",
      title: "Administrative procedures assistant",
      subtitle: "Answers with official sources",
      close: "Close",
      newChat: "New conversation",
      log: "Conversation",
      inputLabel: "Your question",
      placeholder: "Type a question about a procedure…",
      send: "Send",
      welcome:
        "Hello! I can help you look up administrative procedures: required documents, processing time, " +
        "fees and where to apply. Every answer cites its sources so you can check them.",
      you: "You",
      bot: "Assistant",
      thinking: "Looking for an answer",
      unanswered: "This question has not been answered yet.",
      sources: "Sources:",
      source: "Source",
      code: "Procedure code",
      section: "Section",
      page: "Page",
      official: "Open the official source",
      newTab: "(opens in a new tab)",
      choose: "Choose a procedure:",
      refuseHint:
        "You can ask the one-stop desk of your commune/ward People's Committee, or search the National Public Service Portal:",
      rate: "Was this answer helpful?",
      up: "Helpful",
      down: "Not helpful",
      commentLabel: "Add a comment (optional)",
      commentSend: "Send comment",
      thanks: "Thank you for your feedback.",
      feedbackFailed: "Could not send your feedback.",
      dataDate: "Data as of: ",
      disclaimer: "For reference only; check the official documents.",
      errNetwork: "Cannot reach the server. Please try again.",
      errAuth: "Your session has expired. Please reload the page.",
      errBusy: "The service is busy. Please try again in a few minutes.",
      errServer: "Something went wrong. Please try again.",
      retry: "Try again",
    },
  }[LANG];
  const HELP_URL = "https://dichvucong.gov.vn";

  // ---------------------------------------------------------------- DOM helpers (text only)
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    append(el, children);
    return el;
  }
  function append(el, children) {
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return el;
  }
  // Replace an element's children (null/false entries skipped, unlike replaceChildren, which prints "null").
  const fill = (el, ...children) => {
    el.textContent = "";
    return append(el, children);
  };
  const ICONS = {
    chat: "M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z",
    close: "M18 6 6 18M6 6l12 12",
    edit: "M12 20h9M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z",
    send: "M22 2 11 13M22 2l-7 20-4-9-9-4 20-7z",
    up: "M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.3a2 2 0 0 0 2-1.7l1.4-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3",
    down: "M10 15v4a3 3 0 0 0 3 3l4-9V2H5.7a2 2 0 0 0-2 1.7l-1.4 9a2 2 0 0 0 2 2.3zM17 2h2.7A2.3 2.3 0 0 1 22 4v7a2.3 2.3 0 0 1-2.3 2H17",
    link: "M18 13v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h6M15 3h6v6M10 14 21 3",
  };
  function icon(name) {
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(NS, "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }
  let idSeq = 0;
  const uid = (p) => "aw-" + p + "-" + ++idSeq;
  function safeUrl(u) {
    if (!u || typeof u !== "string") return null;
    try {
      const url = new URL(u, API + "/");
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }
  const str = (v) => (v === null || v === undefined ? "" : String(v));

  // ---------------------------------------------------------------- state (localStorage)
  function load() {
    try {
      const s = JSON.parse(STORAGE.getItem(STORE_KEY) || "null");
      if (s && Array.isArray(s.messages)) return s;
    } catch (_) {
      /* storage blocked or corrupt: start fresh */
    }
    return { session_id: null, messages: [], open: false };
  }
  function save() {
    state.messages = state.messages.slice(-MAX_STORED);
    try {
      STORAGE.setItem(STORE_KEY, JSON.stringify(state));
    } catch (_) {
      /* private mode or quota: the conversation still works, it just is not kept */
    }
  }
  let state = load();

  // ---------------------------------------------------------------- styles
  const CSS = `
:host { all: initial !important; }
*, *::before, *::after { box-sizing: border-box; }
.root { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif;
  color: #1b2430; -webkit-font-smoothing: antialiased; text-align: left; }
button, textarea { font: inherit; color: inherit; }
button { cursor: pointer; }
svg { width: 20px; height: 20px; fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; flex: none; }
:focus-visible { outline: 3px solid #f2a900; outline-offset: 2px; }
.sr { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; display: flex; align-items: center; gap: 8px;
  padding: 12px 18px; border: 0; border-radius: 999px; background: #0b4f9c; color: #fff; font-weight: 600;
  box-shadow: 0 4px 14px rgba(11, 40, 80, .3); }
.launcher:hover { background: #093f7d; }
.launcher svg { width: 22px; height: 22px; }
.panel { position: fixed; right: 20px; bottom: 84px; z-index: 2147483001; width: 400px; height: min(640px, calc(100vh - 108px));
  display: flex; flex-direction: column; background: #fff; border: 1px solid #c9d3df; border-radius: 12px; overflow: hidden;
  box-shadow: 0 12px 40px rgba(11, 40, 80, .25); }
.panel[hidden] { display: none; }
.head { display: flex; align-items: center; gap: 8px; padding: 12px 10px 12px 16px; background: #0b4f9c; color: #fff;
  border-bottom: 3px solid #c8102e; }
.head .t { flex: 1; min-width: 0; }
.head h2 { margin: 0; font-size: 16px; line-height: 1.3; font-weight: 700; }
.head p { margin: 0; font-size: 13px; opacity: .9; }
.icon-btn { display: inline-flex; align-items: center; justify-content: center; width: 40px; height: 40px; border: 0;
  border-radius: 8px; background: transparent; color: inherit; }
.head .icon-btn:hover { background: rgba(255, 255, 255, .15); }
.log { position: relative; flex: 1; overflow-y: auto; padding: 16px 14px; background: #f4f6f9; display: flex; flex-direction: column; gap: 12px; }
.msg { max-width: 92%; }
.msg.user { align-self: flex-end; }
.msg.bot, .msg.error { align-self: flex-start; }
.bubble { padding: 10px 13px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.user .bubble { background: #0b4f9c; color: #fff; border-bottom-right-radius: 4px; }
.bot .bubble { background: #fff; border: 1px solid #d5dde7; border-bottom-left-radius: 4px; }
.refuse .bubble { background: #fff8e6; border-color: #e8c66a; }
.error .bubble { background: #fdecec; border: 1px solid #e3a1a1; color: #8a1c1c; }
.bubble a { color: #0b4f9c; }
.ref { display: inline-block; min-width: 18px; margin: 0 1px; padding: 0 4px; border: 0; border-radius: 4px; background: #dbe7f6;
  color: #0b4f9c; font-size: 11px; font-weight: 700; line-height: 16px; vertical-align: super; }
.ref:hover { background: #c3d7f0; }
.thinking { color: #4a5868; font-style: italic; }
.thinking::after { content: "…"; }
.meta { margin-top: 6px; font-size: 13px; color: #4a5868; }
.chips { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin-top: 8px; }
.chips .label { font-size: 13px; color: #4a5868; }
.chip { display: inline-flex; align-items: center; gap: 6px; max-width: 100%; padding: 3px 10px 3px 3px; border: 1px solid #b7c7da;
  border-radius: 999px; background: #fff; font-size: 13px; color: #0b3a70; }
.chip:hover, .chip[aria-expanded="true"] { background: #e8f0fa; border-color: #0b4f9c; }
.chip .n { display: inline-flex; align-items: center; justify-content: center; min-width: 22px; height: 22px; border-radius: 999px;
  background: #0b4f9c; color: #fff; font-weight: 700; font-size: 12px; }
.chip .ct { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; max-width: 250px; }
.cite { margin-top: 8px; padding: 10px 12px; border: 1px solid #c9d8ea; border-left: 4px solid #0b4f9c; border-radius: 8px; background: #f0f5fb;
  font-size: 14px; }
.cite[hidden] { display: none; }
.cite .ttl { margin: 0 0 2px; font-weight: 700; color: #102a4c; }
.cite .where { margin: 0 0 6px; font-size: 13px; color: #4a5868; }
.cite blockquote { margin: 0 0 8px; padding: 0 0 0 10px; border-left: 3px solid #b7c7da; color: #2b3645; white-space: pre-wrap; overflow-wrap: anywhere; }
.cite a { display: inline-flex; align-items: center; gap: 4px; color: #0b4f9c; font-weight: 600; text-decoration: underline; }
.cite a svg { width: 15px; height: 15px; }
.options { display: flex; flex-direction: column; gap: 6px; margin-top: 8px; }
.options .label { font-size: 13px; color: #4a5868; }
.opt { padding: 8px 12px; border: 1px solid #0b4f9c; border-radius: 8px; background: #fff; color: #0b4f9c; font-weight: 600; text-align: left; }
.opt:hover:not(:disabled) { background: #e8f0fa; }
.opt:disabled { cursor: default; border-color: #c9d3df; color: #6b7786; }
.opt.chosen { background: #0b4f9c; border-color: #0b4f9c; color: #fff; }
.hint { margin-top: 8px; font-size: 14px; color: #5c4500; }
.hint a { color: #0b4f9c; font-weight: 600; }
.fb { display: flex; flex-wrap: wrap; align-items: center; gap: 4px; margin-top: 6px; font-size: 13px; color: #4a5868; }
.fb .icon-btn { width: 34px; height: 34px; color: #4a5868; }
.fb .icon-btn svg { width: 18px; height: 18px; }
.fb .icon-btn:hover { background: #e3e9f0; }
.fb .icon-btn[aria-pressed="true"] { background: #0b4f9c; color: #fff; }
.fb form { flex-basis: 100%; display: flex; gap: 6px; margin-top: 4px; }
.fb input { flex: 1; min-width: 0; padding: 6px 10px; border: 1px solid #b7c2cf; border-radius: 8px; font: inherit; font-size: 14px; }
.fb form button { padding: 6px 12px; border: 0; border-radius: 8px; background: #0b4f9c; color: #fff; font-size: 14px; }
.retry { margin-top: 6px; padding: 6px 12px; border: 1px solid #8a1c1c; border-radius: 8px; background: #fff; color: #8a1c1c; }
.foot { border-top: 1px solid #d5dde7; background: #fff; padding: 10px 12px 8px; }
.compose { display: flex; align-items: flex-end; gap: 8px; }
textarea { flex: 1; min-height: 44px; max-height: 132px; resize: none; padding: 10px 12px; border: 1px solid #8f9cab; border-radius: 10px;
  background: #fff; line-height: 1.4; }
textarea:focus-visible { border-color: #0b4f9c; outline: 2px solid #0b4f9c; outline-offset: 0; }
.send { width: 44px; height: 44px; border: 0; border-radius: 10px; background: #0b4f9c; color: #fff; display: inline-flex;
  align-items: center; justify-content: center; }
.send:disabled { background: #9aa8b8; cursor: default; }
.disc { margin: 6px 2px 0; font-size: 12px; color: #5b6776; }
@media (max-width: 480px) {
  .panel { inset: 0; width: 100%; height: 100%; border: 0; border-radius: 0; }
  .launcher[aria-expanded="true"] { display: none; }
  .launcher { right: 14px; bottom: 14px; padding: 16px; }
  .launcher span { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  .msg { max-width: 100%; }
  .chip .ct { max-width: 200px; }
}
@media (prefers-reduced-motion: no-preference) { .panel { animation: aw-in .16s ease-out; } }
@keyframes aw-in { from { opacity: 0; transform: translateY(8px); } to { opacity: 1; transform: none; } }
`;

  // ---------------------------------------------------------------- static UI
  // A custom element name: page rules aimed at div/section/etc. never match the host.
  const host = document.createElement("assistant-widget");
  const shadow = host.attachShadow({ mode: "open" });
  if (shadow.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS); // constructable sheets also work under a strict style-src CSP
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.appendChild(h("style", { text: CSS }));
  }

  const titleId = uid("title");
  const live = h("div", { class: "sr", role: "status", "aria-live": "polite", "aria-atomic": "true" });
  const log = h("div", { class: "log", role: "log", "aria-live": "off", "aria-label": TEXT.log, tabindex: "0" });
  const input = h("textarea", {
    rows: "1",
    "aria-label": TEXT.inputLabel,
    placeholder: TEXT.placeholder,
    maxlength: "2000",
    oninput: autosize,
    onkeydown: (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        submit();
      }
    },
  });
  const sendBtn = h("button", { class: "send", type: "submit", "aria-label": TEXT.send, title: TEXT.send }, icon("send"));
  const panel = h(
    "div",
    {
      class: "panel",
      id: uid("panel"),
      role: "dialog",
      "aria-modal": "false",
      "aria-labelledby": titleId,
      hidden: true,
      onkeydown: (e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          close();
        }
      },
    },
    h(
      "div",
      { class: "head" },
      h("div", { class: "t" }, h("h2", { id: titleId, text: TEXT.title }), h("p", { text: TEXT.subtitle })),
      h("button", { class: "icon-btn new", type: "button", "aria-label": TEXT.newChat, title: TEXT.newChat, onclick: newConversation }, icon("edit")),
      h("button", { class: "icon-btn close", type: "button", "aria-label": TEXT.close, title: TEXT.close, onclick: () => close() }, icon("close"))
    ),
    log,
    h(
      "div",
      { class: "foot" },
      h("form", { class: "compose", onsubmit: (e) => (e.preventDefault(), submit()) }, input, sendBtn),
      h("p", { class: "disc", text: TEXT.disclaimer })
    ),
    live
  );
  const launcher = h(
    "button",
    { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": panel.id, onclick: () => (panel.hidden ? open() : close()) },
    icon("chat"),
    h("span", { text: TEXT.launcher })
  );
  shadow.appendChild(h("div", { class: "root", lang: LANG }, launcher, panel));

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 132) + "px";
  }

  // ---------------------------------------------------------------- rendering
  // Answer text: `[n]` markers become small buttons, `**x**` bold, http(s) URLs links. All as text nodes.
  const TOKEN_RE = /\[(\d{1,2})\]|\*\*([^*\n]+)\*\*|(https?:\/\/[^\s<>"'()[\]]+[^\s<>"'()[\].,;:!?])/g;
  function richText(text, onRef) {
    const out = [];
    let last = 0;
    text = str(text);
    for (const m of text.matchAll(TOKEN_RE)) {
      if (m.index > last) out.push(text.slice(last, m.index));
      if (m[1]) {
        const n = Number(m[1]);
        out.push(
          onRef
            ? h("button", { class: "ref", type: "button", "aria-label": TEXT.source + " " + n, onclick: () => onRef(n) }, String(n))
            : h("sup", { class: "ref" }, String(n))
        );
      } else if (m[2]) out.push(h("strong", {}, m[2]));
      else {
        const href = safeUrl(m[3]);
        out.push(href ? h("a", { href, title: href, target: "_blank", rel: "noopener noreferrer" }, shortUrl(href)) : m[3]);
      }
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }
  // Long links read as "host/…" (the full address is in the link and its tooltip).
  function shortUrl(href) {
    const u = new URL(href);
    const rest = (u.pathname + u.search).replace(/^\/$/, "");
    return href.length <= 48 ? href.replace(/^https?:\/\//, "").replace(/\/$/, "") : u.host + (rest ? "/…" : "");
  }
  const plain = (text) => str(text).replace(/\s*\[\d{1,2}\]/g, "").replace(/\*\*/g, "");

  function citationBlock(citations) {
    const list = (Array.isArray(citations) ? citations : []).filter((c) => c && typeof c === "object");
    const wrap = h("div", { class: "sources" });
    if (!list.length) return { el: wrap, show: () => {} };
    const detail = h("div", { class: "cite", id: uid("cite"), hidden: true });
    const titles = list.map((c) => str(c.title) || str(c.source_id));
    const chips = list.map((c, i) => {
      const n = Number.isFinite(Number(c.n)) ? Number(c.n) : i + 1;
      const repeated = titles.indexOf(titles[i]) !== titles.lastIndexOf(titles[i]);
      const label = repeated && c.section ? titles[i] + " · " + str(c.section) : titles[i];
      const chip = h(
        "button",
        { class: "chip", type: "button", "aria-expanded": "false", "aria-controls": detail.id, "data-n": String(n), onclick: () => toggle(chip, c) },
        h("span", { class: "n", "aria-hidden": "true" }, String(n)),
        h("span", { class: "sr" }, TEXT.source + " " + n + ": "),
        h("span", { class: "ct", title: label }, label)
      );
      return chip;
    });
    function toggle(chip, c) {
      const opening = chip.getAttribute("aria-expanded") !== "true";
      chips.forEach((b) => b.setAttribute("aria-expanded", "false"));
      detail.hidden = !opening;
      if (!opening) return;
      chip.setAttribute("aria-expanded", "true");
      const where = [
        c.procedure_code ? TEXT.code + " " + c.procedure_code : "",
        c.section ? TEXT.section + ": " + c.section : "",
        c.page !== null && c.page !== undefined && c.page !== "" ? TEXT.page + " " + c.page : "",
      ].filter(Boolean);
      const href = safeUrl(c.url) || (c.source_id ? API + "/v1/documents/" + encodeURIComponent(c.source_id) : null);
      fill(
        detail,
        h("p", { class: "ttl" }, str(c.title) || str(c.source_id)),
        where.length ? h("p", { class: "where" }, where.join(" · ")) : null,
        c.quote ? h("blockquote", {}, richText(c.quote, null)) : null,
        href
          ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }, TEXT.official, h("span", { class: "sr" }, " " + TEXT.newTab), icon("link"))
          : null
      );
      // Bring the opened source into view inside the log (never scrolls the host page).
      const r = detail.getBoundingClientRect();
      const lr = log.getBoundingClientRect();
      if (r.bottom > lr.bottom) log.scrollTop += Math.min(r.bottom - lr.bottom + 8, r.top - lr.top - 8);
    }
    append(wrap, [h("div", { class: "chips" }, h("span", { class: "label" }, TEXT.sources), chips), detail]);
    const show = (n) => {
      const chip = chips.find((b) => b.dataset.n === String(n));
      if (chip) {
        if (chip.getAttribute("aria-expanded") !== "true") chip.click();
        chip.focus();
      }
    };
    return { el: wrap, show };
  }

  function renderUser(msg) {
    return h("div", { class: "msg user" }, h("span", { class: "sr" }, TEXT.you + ": "), h("div", { class: "bubble" }, str(msg.text)));
  }

  function renderBot(msg, isLast) {
    const behavior = ["clarify", "refuse"].includes(msg.behavior) ? msg.behavior : "answer";
    const cites = citationBlock(msg.citations);
    const el = h(
      "div",
      { class: "msg bot " + behavior, "data-behavior": behavior },
      h("span", { class: "sr" }, TEXT.bot + ": "),
      h("div", { class: "bubble" }, richText(msg.text, cites.show)),
      cites.el
    );
    // Options are sent back by label, so two with the same label are one choice.
    const labels = Array.isArray(msg.options) ? msg.options.map((o) => str(o && o.label).trim()).filter(Boolean) : [];
    const options = [...new Set(labels)];
    if (behavior === "clarify" && options.length) {
      const usable = isLast && !msg.chosen;
      append(el, [
        h(
          "div",
          { class: "options", role: "group", "aria-label": TEXT.choose },
          h("span", { class: "label" }, TEXT.choose),
          options.map((label) =>
            h(
              "button",
              {
                class: "opt" + (msg.chosen === label ? " chosen" : ""),
                type: "button",
                disabled: !usable,
                onclick: (e) => {
                  if (busy) return;
                  msg.chosen = label;
                  e.currentTarget.classList.add("chosen");
                  ask(label);
                },
              },
              label
            )
          )
        ),
      ]);
    }
    // Where to ask instead: the portal's own text (data-help), else ours when the refusal names no link.
    const help = script && script.dataset.help;
    if (behavior === "refuse" && (help || !/https?:\/\//.test(str(msg.text)))) {
      el.appendChild(
        h(
          "p",
          { class: "hint" },
          help || TEXT.refuseHint,
          " ",
          h("a", { href: HELP_URL, target: "_blank", rel: "noopener noreferrer" }, "dichvucong.gov.vn")
        )
      );
    }
    // The data date, unless the answer already says it.
    if (msg.data_date && !str(msg.text).includes(str(msg.data_date))) el.appendChild(h("p", { class: "meta" }, TEXT.dataDate + str(msg.data_date)));
    if (msg.message_id) el.appendChild(feedbackRow(msg));
    return el;
  }

  function feedbackRow(msg) {
    const note = h("span", { class: "note", role: "status" });
    const row = h("div", { class: "fb" }, h("span", {}, TEXT.rate));
    const buttons = ["up", "down"].map((r) =>
      h(
        "button",
        { class: "icon-btn", type: "button", "data-rating": r, "aria-label": TEXT[r], title: TEXT[r], "aria-pressed": String(msg.rating === r), onclick: () => rate(r) },
        icon(r)
      )
    );
    append(row, [buttons, note]);
    let form = null;
    async function rate(r) {
      msg.rating = r;
      save();
      buttons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.rating === r)));
      const ok = await sendFeedback({ message_id: msg.message_id, rating: r });
      note.textContent = ok ? TEXT.thanks : TEXT.feedbackFailed;
      if (!form && ok) {
        const box = h("input", { type: "text", "aria-label": TEXT.commentLabel, placeholder: TEXT.commentLabel, maxlength: "1000" });
        form = h(
          "form",
          {
            onsubmit: async (e) => {
              e.preventDefault();
              const comment = box.value.trim();
              if (!comment) return;
              const sent = await sendFeedback({ message_id: msg.message_id, rating: msg.rating, comment });
              if (sent) form.remove();
              note.textContent = sent ? TEXT.thanks : TEXT.feedbackFailed;
            },
          },
          box,
          h("button", { type: "submit" }, TEXT.commentSend)
        );
        row.appendChild(form);
      }
      scrollDown();
    }
    return row;
  }

  function renderError(msg) {
    const el = h("div", { class: "msg error", role: "alert" }, h("div", { class: "bubble" }, str(msg.text)));
    const retry = () => {
      if (busy) return;
      el.remove();
      stream(msg.retry);
    };
    if (msg.retry) el.appendChild(h("button", { class: "retry", type: "button", onclick: retry }, TEXT.retry));
    return el;
  }

  function renderAll() {
    const last = state.messages.length - 1;
    fill(
      log,
      h("div", { class: "msg bot welcome" }, h("div", { class: "bubble" }, TEXT.welcome)),
      ...state.messages.map((m, i) => (m.role === "user" ? renderUser(m) : renderBot(m, i === last))),
      // The page was left (or the request failed) before the answer came: offer to ask again.
      last >= 0 && state.messages[last].role === "user" ? renderError({ text: TEXT.unanswered, retry: state.messages[last].text }) : null
    );
    scrollDown(true);
  }

  // Show a new answer: all of it when it fits, else from its first line (with the question above when short).
  function reveal(el) {
    if (el.offsetHeight < log.clientHeight - 24) {
      log.scrollTop = log.scrollHeight;
      return;
    }
    const q = el.previousElementSibling;
    const withQuestion = q && q.classList.contains("user") && el.offsetTop - q.offsetTop < 120;
    log.scrollTop = (withQuestion ? q.offsetTop : el.offsetTop) - 12;
  }

  function scrollDown(force) {
    if (force || log.scrollHeight - log.scrollTop - log.clientHeight < 120) log.scrollTop = log.scrollHeight;
  }

  // ---------------------------------------------------------------- network
  function headers(extra) {
    const token = tokenOverride || (script && script.getAttribute("data-token"));
    const hs = Object.assign({ "Content-Type": "application/json" }, extra);
    if (token) hs.Authorization = "Bearer " + token;
    return hs;
  }

  async function sendFeedback(body) {
    try {
      const r = await fetch(API + "/v1/feedback", { method: "POST", headers: headers(), body: JSON.stringify(body), credentials: "omit" });
      if (r.status === 401 || r.status === 403) unauthorized(r.status);
      return r.ok;
    } catch (_) {
      return false;
    }
  }

  function unauthorized(status) {
    window.dispatchEvent(new CustomEvent("assistant-widget:unauthorized", { detail: { status } }));
  }

  // Parse a text/event-stream body: calls onEvent(name, data) per event.
  async function readSSE(body, onEvent) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    const flush = (block) => {
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line[0] === ":") continue;
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        let value = i < 0 ? "" : line.slice(i + 1);
        if (value[0] === " ") value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
      if (data.length) onEvent(event, data.join("\n"));
    };
    for (;;) {
      const { value, done } = await reader.read();
      buf += done ? decoder.decode() : decoder.decode(value, { stream: true });
      // Normalise CRLF/CR to LF, keeping a trailing CR that may pair with the next chunk's LF.
      const cut = !done && buf.endsWith("\r") ? buf.length - 1 : buf.length;
      buf = buf.slice(0, cut).replace(/\r\n?/g, "\n") + buf.slice(cut);
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        flush(buf.slice(0, i));
        buf = buf.slice(i + 2);
      }
      if (done) {
        if (buf.trim()) flush(buf);
        return;
      }
    }
  }

  async function errorText(res) {
    const s = res.status;
    if (s === 401 || s === 403) return TEXT.errAuth;
    if (s === 429) return TEXT.errBusy;
    if ((s >= 400 && s < 500) || s === 503) {
      // The server's own words, shown as text: a bad question (too long, empty...) or, with 503,
      // the maintenance message while answering is turned off.
      const body = await res.json().catch(() => null);
      if (body && typeof body.detail === "string") return body.detail;
    }
    return s === 503 ? TEXT.errBusy : TEXT.errServer;
  }

  const parse = (data) => {
    try {
      return JSON.parse(data);
    } catch (_) {
      return data;
    }
  };

  let busy = false;
  let controller = null;

  function setBusy(b) {
    busy = b;
    sendBtn.disabled = b;
    log.setAttribute("aria-busy", String(b));
  }

  async function stream(text) {
    setBusy(true);
    const ctrl = (controller = new AbortController());
    const textNode = document.createTextNode("");
    const thinking = h("span", { class: "thinking" }, TEXT.thinking);
    const bubble = h("div", { class: "bubble" }, thinking, textNode);
    const pending = h("div", { class: "msg bot pending" }, h("span", { class: "sr" }, TEXT.bot + ": "), bubble);
    log.appendChild(pending);
    scrollDown(true);
    let final = null;
    let failure = null;
    try {
      const post = (sessionId) =>
        fetch(API + "/v1/chat/stream", {
          method: "POST",
          headers: headers({ Accept: "text/event-stream" }),
          body: JSON.stringify(sessionId ? { message: text, session_id: sessionId } : { message: text }),
          credentials: "omit",
          cache: "no-store",
          signal: ctrl.signal,
        });
      let res = await post(state.session_id);
      if (res.status === 404 && state.session_id) {
        // The server no longer knows this session (expired or restarted): carry on in a new one.
        state.session_id = null;
        save();
        res = await post(null);
      }
      if (!res.ok || !res.body) {
        if (res.status === 401 || res.status === 403) unauthorized(res.status);
        failure = await errorText(res);
      } else {
        await readSSE(res.body, (event, data) => {
          const d = parse(data);
          if (event === "delta") {
            thinking.remove();
            textNode.appendData(typeof d === "string" ? d : str(d && d.text));
            scrollDown();
          } else if (event === "citations") {
            const old = pending.querySelector(".sources");
            if (old) old.remove();
            pending.appendChild(citationBlock(d).el);
          } else if (event === "done" && d && typeof d === "object") {
            final = d;
          } else if (event === "error") {
            failure = (d && d.detail && str(d.detail)) || TEXT.errServer;
          }
        });
        if (!final && !failure) failure = TEXT.errServer;
      }
    } catch (e) {
      if (ctrl.signal.aborted) return;
      failure = TEXT.errNetwork;
    } finally {
      if (controller === ctrl) {
        controller = null;
        setBusy(false);
      }
    }
    if (ctrl.signal.aborted) return;
    if (final) {
      if (final.session_id) state.session_id = str(final.session_id);
      const msg = {
        role: "assistant",
        text: str(final.answer),
        behavior: final.behavior,
        citations: Array.isArray(final.citations) ? final.citations : [],
        options: Array.isArray(final.options) ? final.options : [],
        message_id: final.message_id ? str(final.message_id) : null,
        data_date: final.data_date ? str(final.data_date) : null,
      };
      state.messages.push(msg);
      save();
      const el = renderBot(msg, true);
      pending.replaceWith(el);
      reveal(el);
      live.textContent = "";
      live.textContent = TEXT.bot + ": " + plain(msg.text);
    } else {
      pending.replaceWith(renderError({ text: failure, retry: text }));
      live.textContent = failure;
      scrollDown(true);
    }
  }

  // ---------------------------------------------------------------- actions
  function open() {
    if (!panel.hidden) return;
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    state.open = true;
    save();
    scrollDown(true);
    input.focus();
  }

  function close() {
    if (panel.hidden) return;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    state.open = false;
    save();
    launcher.focus();
  }

  function ask(text) {
    text = str(text).trim();
    open();
    if (!text || busy) return false;
    const msg = { role: "user", text };
    state.messages.push(msg);
    save();
    log.querySelectorAll(".opt").forEach((b) => (b.disabled = true));
    log.appendChild(renderUser(msg));
    stream(text);
    input.focus();
    return true;
  }

  function submit() {
    if (busy) return;
    if (ask(input.value)) {
      input.value = "";
      autosize();
    }
  }

  function newConversation() {
    if (controller) controller.abort();
    controller = null;
    setBusy(false);
    state = { session_id: null, messages: [], open: !panel.hidden };
    save();
    renderAll();
    input.value = "";
    input.focus();
  }

  function mount() {
    document.body.appendChild(host);
    renderAll();
    if (state.open) {
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      scrollDown(true);
    }
    // Declarative hooks: <button data-assistant-ask="Question?">
    document.addEventListener("click", (e) => {
      const el = e.target instanceof Element ? e.target.closest("[data-assistant-ask]") : null;
      if (!el) return;
      e.preventDefault();
      ask(el.getAttribute("data-assistant-ask"));
    });
    window.dispatchEvent(new CustomEvent("assistant-widget:ready"));
  }

  window.AssistantWidget = Object.freeze({
    version: "1",
    open,
    close,
    ask,
    newConversation,
    setToken: (t) => {
      tokenOverride = t ? String(t) : null;
    },
  });

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
})();
