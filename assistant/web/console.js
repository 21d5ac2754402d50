/*
 * The officials' review console (/console): questions the assistant refused, answers rated down and
 * clarify questions nobody picked, grouped; for each, search the procedures and teach the right one
 * (or mark it not covered); the taught list with undo. Vanilla ES2020, same origin as the API.
 *
 * Credentials: an official's API key or widget token, typed in the sign-in form or handed over in the
 * address as #token=t.… (a portal's back end gets it from POST /v1/tokens). It is kept in
 * sessionStorage only (gone with the tab) and the address is cleaned at once.
 *
 * Security rule: text from the server is only ever put into the page as text nodes (textContent /
 * createTextNode); this file never parses HTML from any string.
 */
(() => {
  "use strict";
  const KEY = "assistant-console:credential";
  const $ = (id) => document.getElementById(id);
  const live = $("live");
  const KIND = { refuse: "Bị từ chối", down: "Chưa hữu ích", clarify: "Hỏi lại, chưa chọn" };
  const BEHAVIOR = { answer: "trả lời", clarify: "hỏi lại", refuse: "từ chối" };

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return el;
  }
  const fill = (el, ...children) => {
    el.textContent = "";
    for (const c of children.flat()) if (c) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    return el;
  };
  const say = (text) => {
    live.textContent = "";
    setTimeout(() => (live.textContent = text), 30);
  };
  const when = (iso) => {
    const d = new Date(iso);
    return isNaN(d) ? String(iso || "") : d.toLocaleString("vi-VN", { dateStyle: "short", timeStyle: "short" });
  };
  const codeOf = (r) => r.procedure_code || r.source_id;

  // ---------------------------------------------------------------- credentials and requests
  let credential = null;
  try {
    const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    credential = sessionStorage.getItem(KEY);
  } catch (_) {
    /* storage blocked: sign in on each visit */
  }

  class Refused extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  async function api(path, options = {}) {
    let resp;
    try {
      resp = await fetch(path, {
        ...options,
        headers: { Authorization: "Bearer " + credential, ...(options.body ? { "Content-Type": "application/json" } : {}) },
      });
    } catch (_) {
      throw new Refused(0, "Không kết nối được máy chủ. Vui lòng thử lại.");
    }
    let body = null;
    try {
      body = await resp.json();
    } catch (_) {
      /* an empty or non-JSON body: the status says enough */
    }
    if (!resp.ok) {
      const detail = body && typeof body.detail === "string" ? body.detail : "lỗi " + resp.status;
      if (resp.status === 401 || resp.status === 403) signOut(resp.status === 401
        ? "Khóa hoặc mã truy cập không hợp lệ hoặc đã hết hạn (" + detail + "). Vui lòng đăng nhập lại."
        : "Tài khoản này không có quyền của cán bộ (" + detail + ").");
      throw new Refused(resp.status, detail);
    }
    return { status: resp.status, body };
  }

  function signOut(message) {
    credential = null;
    try {
      sessionStorage.removeItem(KEY);
    } catch (_) {
      /* nothing kept */
    }
    $("app").hidden = true;
    $("signout").hidden = true;
    $("who").textContent = "";
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
    $("cred").focus();
  }

  $("signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    credential = $("cred").value.trim();
    $("cred").value = "";
    if (!credential) return;
    try {
      sessionStorage.setItem(KEY, credential);
    } catch (_) {
      /* kept for this page only */
    }
    start();
  });
  $("signout").addEventListener("click", () => signOut("Đã đăng xuất."));

  async function start() {
    $("signin").hidden = true;
    try {
      await Promise.all([loadItems(), loadTaught()]);
    } catch (err) {
      if (err instanceof Refused && (err.status === 401 || err.status === 403)) return;
      say(err.message);
    }
    if (!credential) return;
    $("app").hidden = false;
    $("signout").hidden = false;
    $("who").textContent = credential.startsWith("t.") ? "Cán bộ (mã truy cập)" : "Cán bộ (khóa API)";
  }

  // ---------------------------------------------------------------- the review list
  const filters = $("filters");
  let itemsSeq = 0;

  async function loadItems() {
    const seq = ++itemsSeq;
    const params = new URLSearchParams({ limit: "100" });
    for (const [k, v] of new FormData(filters)) if (v) params.set(k, String(v));
    let got;
    try {
      got = await api("/v1/review?" + params);
    } catch (err) {
      if (seq === itemsSeq) $("summary").textContent = err.message;
      throw err;
    }
    if (seq !== itemsSeq) return; // a newer filter's answer is on its way
    const { items, total } = got.body;
    $("summary").textContent = total
      ? "Có " + total + " mục" + (total > items.length ? ", hiện " + items.length + " mục mới nhất" : "") + "."
      : "Không có câu hỏi nào khớp bộ lọc.";
    fill($("items"), items.map(itemView));
  }

  function itemView(item) {
    const li = h("li", { class: "item" + (item.taught ? " is-taught" : ""), "data-id": item.id });
    const badges = h("div", { class: "badges" },
      Object.entries(item.counts).map(([k, n]) => h("span", { class: "badge " + k, text: KIND[k] + (n > 1 ? " ×" + n : "") })),
      item.count > 1 ? h("span", { class: "badge", text: "Hỏi " + item.count + " lần" }) : null,
      item.audiences.includes("official") ? h("span", { class: "badge", text: "Có câu của cán bộ" }) : null,
      item.taught ? h("span", { class: item.open ? "badge down" : "badge taught",
        text: item.open ? "Đã dạy, vẫn chưa đúng" : "Đã dạy" }) : null,
      h("span", { class: "when", text: "Gần nhất: " + when(item.last_seen) }));
    li.append(badges, h("p", { class: "q", text: item.question }));
    if (item.variants.length) {
      li.append(h("details", {}, h("summary", { text: "Cách hỏi gần giống (" + item.variants.length + ")" }),
        h("ul", { class: "variants" }, item.variants.map((v) => h("li", { text: v })))));
    }
    if (item.comments.length) {
      li.append(h("ul", { class: "comments", "aria-label": "Góp ý của người dùng" },
        item.comments.map((c) => h("li", { text: "Góp ý: " + c }))));
    }
    const last = item.last;
    li.append(h("details", { class: "given" },
      h("summary", { text: "Câu trả lời đã đưa ra (" + (BEHAVIOR[last.behavior] || last.behavior) + ")" }),
      h("div", { class: "answer", text: last.answer }),
      last.citations.length ? h("ol", { class: "cites", "aria-label": "Nguồn đã trích" }, last.citations.map((c) =>
        h("li", { text: c.title + " (" + (c.procedure_code || c.source_id) + ")" + (c.section ? " — " + c.section : "") }))) : null,
      last.options.length ? h("ul", { class: "cites", "aria-label": "Các lựa chọn đã đưa ra" }, last.options.map((o) =>
        h("li", { text: "Lựa chọn: " + o.label }))) : null));
    if (item.taught) {
      li.append(h("p", { class: "taught-to", text: taughtTo(item.taught) }),
        h("div", { class: "actions" }, h("button", { class: "btn warn undo", type: "button", text: "Hoàn tác",
          onclick: () => undo(item.taught.id) })));
    } else {
      const open = h("button", { class: "btn primary open-teach", type: "button", text: "Dạy trợ lý", "aria-expanded": "false" });
      const actions = h("div", { class: "actions" }, open);
      li.append(actions);
      open.addEventListener("click", () => {
        const shown = li.querySelector(".teach");
        if (shown) {
          shown.remove();
          open.setAttribute("aria-expanded", "false");
          open.textContent = "Dạy trợ lý";
          return;
        }
        open.setAttribute("aria-expanded", "true");
        open.textContent = "Đóng";
        li.append(teachView(item));
        li.querySelector(".teach input[type=search]").focus();
      });
    }
    return li;
  }

  function taughtTo(ex) {
    if (ex.expected_behavior === "refuse") {
      return "Không thuộc thủ tục nào" + (ex.refer_to ? " — hướng dẫn đến: " + ex.refer_to : "");
    }
    return "→ " + ex.expected_sources.map((c) => (ex.titles && ex.titles[c] ? ex.titles[c] + " (" + c + ")" : c)).join("; ");
  }

  // ---------------------------------------------------------------- teaching one item
  function teachView(item) {
    let chosen = null;
    let seq = 0;
    let timer = null;
    const results = h("ul", { class: "results", "aria-label": "Thủ tục tìm được" });
    const status = h("p", { class: "summary", role: "status" });
    const pick = h("button", { class: "btn primary pick", type: "button", disabled: true,
      text: "Thêm làm câu hỏi mẫu cho thủ tục đã chọn" });
    const search = h("input", { type: "search", maxlength: "200", value: item.question, "aria-label": "Tìm thủ tục đúng" });
    const refer = h("input", { type: "text", class: "refer", maxlength: "300", placeholder: "vd. Tòa án nhân dân khu vực" });

    async function find() {
      const mine = ++seq;
      const text = search.value.trim();
      if (!text) {
        fill(results);
        return;
      }
      status.textContent = "Đang tìm…";
      let got;
      try {
        got = await api("/v1/search?" + new URLSearchParams({ q: text, k: "8" }));
      } catch (err) {
        if (mine === seq) status.textContent = err.message;
        return;
      }
      if (mine !== seq) return;
      const found = got.body.results;
      status.textContent = found.length ? "Chọn thủ tục trả lời đúng câu hỏi này:" : "Không tìm thấy thủ tục nào: thử từ khác.";
      fill(results, found.map((r) => {
        const b = h("button", { class: "result", type: "button", "aria-pressed": String(chosen === codeOf(r)), "data-code": codeOf(r) },
          r.title + " ", h("span", { class: "code", text: "(" + codeOf(r) + ")" }));
        b.addEventListener("click", () => {
          chosen = codeOf(r);
          for (const other of results.querySelectorAll(".result")) other.setAttribute("aria-pressed", String(other === b));
          pick.disabled = false;
          pick.textContent = "Thêm làm câu hỏi mẫu cho: " + r.title;
        });
        return h("li", {}, b);
      }));
    }
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(find, 250);
    });
    pick.addEventListener("click", () => teach(item, { expected_sources: [chosen] }, pick));
    const notCovered = h("button", { class: "btn warn not-covered", type: "button", text: "Đánh dấu: không thuộc thủ tục nào" });
    notCovered.addEventListener("click", () =>
      teach(item, { expected_behavior: "refuse", refer_to: refer.value.trim() || null }, notCovered));
    find();
    return h("div", { class: "teach" },
      h("label", {}, "Tìm thủ tục đúng (gõ để tìm)", search), status, results, pick,
      h("p", { class: "or", text: "hoặc" }),
      h("div", { class: "notcovered" }, h("label", {}, "Hướng dẫn người dân đến (không bắt buộc)", refer), notCovered));
  }

  async function teach(item, what, button) {
    button.disabled = true;
    try {
      const { status, body } = await api("/v1/examples", {
        method: "POST", body: JSON.stringify({ question: item.question, message_id: item.id, ...what }),
      });
      say((status === 200 ? "Câu hỏi này đã được dạy trước đó: đã gộp. " : "Đã dạy trợ lý. ") + taughtTo(body) +
        ". Trợ lý dùng điều này từ câu hỏi tiếp theo.");
      await Promise.all([loadItems(), loadTaught()]);
    } catch (err) {
      button.disabled = false;
      say("Chưa dạy được: " + err.message);
    }
  }

  // ---------------------------------------------------------------- what was taught
  async function loadTaught() {
    const { body } = await api("/v1/examples?limit=50");
    fill($("taught"), body.examples.length ? body.examples.map((ex) => h("li", { class: "item is-taught", "data-id": ex.id },
      h("p", { class: "taught-q", text: ex.question }),
      h("p", { class: "taught-to", text: taughtTo(ex) }),
      h("p", { class: "taught-by", text: "Bởi " + ex.taught_by + ", " + when(ex.taught_at) }),
      h("div", { class: "actions" }, h("button", { class: "btn warn undo", type: "button", text: "Hoàn tác",
        onclick: () => undo(ex.id) })))) : [h("li", { class: "empty", text: "Chưa dạy câu hỏi nào." })]);
    fill($("audit"), body.audit.map((a) => h("li", {
      text: when(a.time) + " — " + a.role + ":" + a.actor + " " + ({ taught: "dạy", merged: "gộp", undone: "hoàn tác" }[a.action] || a.action) +
        " «" + a.question + "» " + taughtTo(a),
    })));
  }

  async function undo(id) {
    try {
      await api("/v1/examples/" + encodeURIComponent(id), { method: "DELETE" });
      say("Đã hoàn tác. Trợ lý không dùng câu hỏi mẫu này nữa từ câu hỏi tiếp theo.");
      await Promise.all([loadItems(), loadTaught()]);
    } catch (err) {
      say("Chưa hoàn tác được: " + err.message);
    }
  }

  let filterTimer = null;
  filters.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => loadItems().catch((err) => say(err.message)), 250);
  });
  filters.addEventListener("submit", (e) => e.preventDefault());

  if (credential) start();
  else signOut("");
})();
