/* Newsdesk, the reader's desk. Plain JavaScript, no build step, nothing from a third party.
 *
 * - Ask: POSTs /v1/ask with stream: true and reads the Server-Sent Events with fetch() and a
 *   stream reader (EventSource cannot POST). The draft is shown as it is written; the one
 *   `final` event replaces it with the verified answer and its numbered markers.
 * - Follow-ups: under an answer, a box asks the next question of the same conversation (the
 *   earlier turns go as `history`; the server rewrites the follow-up to stand alone and says
 *   what it searched for). A question asked in the main box starts a new conversation.
 * - Markers (a.marker, on every page): hover or focus shows the quote, outlet, date and support;
 *   a click or Enter opens the article beside the text, scrolled to the cited sentence, which is
 *   highlighted (class "cited") once its offsets match the citation's. Escape closes the pane.
 * - Text from the server goes into the page with textContent only. The one HTML inserted is the
 *   article from /articles/{id}?partial=1, rendered by the server with every text escaped.
 */
(() => {
  "use strict";

  const $ = (selector, root = document) => root.querySelector(selector);
  const ATTRS = new Set(["href", "id", "role", "type", "tabindex", "title", "value"]);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (ATTRS.has(key) || key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  const date10 = (value) => (value ? String(value).slice(0, 10) : "undated");
  const supportText = (value) => (typeof value === "number" ? value.toFixed(2) : "");
  const sentenceIndex = (sentenceId) => sentenceId.slice(sentenceId.lastIndexOf(":") + 1);
  const articleHref = (articleId, index) => `/articles/${encodeURIComponent(articleId)}#s${index}`;

  /* The same element the server renders in _macros.html. */
  function markerFor(c) {
    return el("a", {
      class: "marker", href: articleHref(c.article_id, sentenceIndex(c.sentence_id)),
      "data-marker": c.marker, "data-sentence-id": c.sentence_id, "data-article-id": c.article_id,
      "data-start": c.start, "data-end": c.end, "data-quote": c.quote, "data-source": c.source,
      "data-date": date10(c.published_at), "data-support": supportText(c.support),
      "aria-label": `Source ${c.marker}: ${c.source}, ${date10(c.published_at)}`,
    }, `[${c.marker}]`);
  }

  function sourcesList(citations) {
    const list = el("ol");
    for (const c of citations) {
      const meta = [c.source, date10(c.published_at)];
      if (typeof c.support === "number") meta.push(`support ${supportText(c.support)}`);
      list.append(el("li", { value: c.marker },
        el("q", { text: c.quote }), " ",
        el("span", { class: "meta", text: meta.join(" · ") }), " ",
        el("a", { class: "open-sentence", href: articleHref(c.article_id, sentenceIndex(c.sentence_id)), text: c.title })));
    }
    return el("section", { class: "sources", "aria-label": "Sources" }, el("h2", { text: "Sources" }), list);
  }

  /* ---- tooltip: quote, outlet, date, support ------------------------------------------ */
  const tip = $("#tip");
  let tipFor = null;

  function showTip(marker) {
    if (!tip) return;
    const meta = [marker.dataset.source, marker.dataset.date];
    if (marker.dataset.support) meta.push(`support ${marker.dataset.support}`);
    tip.replaceChildren(el("q", { text: marker.dataset.quote }), el("span", { class: "tip-meta", text: meta.join(" · ") }));
    tip.hidden = false;
    const box = marker.getBoundingClientRect();
    const width = tip.offsetWidth;
    const height = tip.offsetHeight;
    const viewport = document.documentElement.clientWidth;
    const left = Math.max(8, Math.min(box.left, viewport - width - 8));
    const below = box.bottom + 6 + height <= window.innerHeight || box.top < height + 12;
    tip.style.left = `${window.scrollX + left}px`;
    tip.style.top = `${window.scrollY + (below ? box.bottom + 6 : box.top - height - 6)}px`;
    marker.setAttribute("aria-describedby", "tip");
    tipFor = marker;
  }

  function hideTip() {
    if (tip) tip.hidden = true;
    if (tipFor) tipFor.removeAttribute("aria-describedby");
    tipFor = null;
  }

  document.addEventListener("mouseover", (event) => {
    const marker = event.target.closest && event.target.closest("a.marker");
    if (marker && marker !== tipFor) showTip(marker);
  });
  document.addEventListener("mouseout", (event) => {
    const marker = event.target.closest && event.target.closest("a.marker");
    if (marker && !marker.contains(event.relatedTarget) && document.activeElement !== marker) hideTip();
  });
  document.addEventListener("focusin", (event) => {
    const marker = event.target.closest && event.target.closest("a.marker");
    if (marker) showTip(marker);
    else if (tipFor) hideTip();
  });

  /* ---- the article pane ------------------------------------------------------------ */
  const pane = $("#pane");
  const paneBody = pane && $(".pane-body", pane);
  const paneTitle = pane && $("#pane-title", pane);
  const paneNotice = pane && $(".pane-notice", pane);
  let opener = null;
  let loads = 0;

  function notice(text) {
    paneNotice.textContent = text || "";
    paneNotice.hidden = !text;
  }

  async function openSentence(link) {
    const url = new URL(link.href, location.href);
    const match = url.pathname.match(/^\/articles\/([^/]+)$/);
    if (!pane || !match || !/^#s\d+$/.test(url.hash)) {
      location.assign(link.href);
      return;
    }
    const articleId = decodeURIComponent(match[1]);
    const sentenceId = `${articleId}:${url.hash.slice(2)}`;
    const related = link.classList.contains("related-link");
    const load = ++loads;
    if (opener && opener !== link) opener.removeAttribute("aria-expanded");
    opener = link;
    if (link.classList.contains("marker")) link.setAttribute("aria-expanded", "true");
    hideTip();
    const where = [link.dataset.source, link.dataset.date].filter(Boolean).join(", ");
    paneTitle.textContent = related ? "Related sentence (not a citation)"
      : `Source [${link.dataset.marker || ""}]${where ? ` · ${where}` : ""}`;
    notice("");
    paneBody.replaceChildren(el("p", { class: "meta", text: "Opening the article…" }));
    pane.hidden = false;
    document.body.classList.add("pane-open");
    let html;
    try {
      const response = await fetch(`/articles/${encodeURIComponent(articleId)}?partial=1`, { headers: { accept: "text/html" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      html = await response.text();
    } catch (error) {
      if (load === loads) paneBody.replaceChildren(el("p", { class: "error", text: `The article could not be opened (${error.message}).` }));
      return;
    }
    if (load !== loads) return;
    paneBody.innerHTML = html; // server-rendered: every title and text in it is escaped
    const span = paneBody.querySelector(`.sent[data-sentence-id="${CSS.escape(sentenceId)}"]`);
    if (!span) {
      notice("This sentence is no longer in the article.");
      paneTitle.focus();
      return;
    }
    const { start, end } = link.dataset;
    if (start !== undefined && (span.dataset.start !== start || span.dataset.end !== end)) {
      notice("The article has changed since this was written: the highlighted sentence may not be the one quoted.");
    }
    span.classList.add(related ? "related" : "cited");
    span.tabIndex = -1;
    centerIn(pane, span);
    span.focus({ preventScroll: true });
  }

  /* Scroll the pane (only the pane: the answer stays where it is) to put el in its visible middle. */
  function centerIn(container, node) {
    const box = container.getBoundingClientRect();
    const top = Math.max(box.top, 0);
    const bottom = Math.min(box.bottom, window.innerHeight);
    const at = node.getBoundingClientRect();
    container.scrollTop += at.top + at.height / 2 - (top + bottom) / 2;
  }

  function closePane({ restoreFocus = true } = {}) {
    if (!pane || pane.hidden) return false;
    loads += 1;
    pane.hidden = true;
    document.body.classList.remove("pane-open");
    paneBody.replaceChildren();
    const back = opener;
    opener = null;
    if (back) back.removeAttribute("aria-expanded");
    if (restoreFocus && back && document.contains(back)) back.focus();
    return true;
  }

  document.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest && event.target.closest("a.marker, a.open-sentence, a.related-link");
    if (link && pane) {
      event.preventDefault();
      openSentence(link);
    }
  });
  if (pane) $(".pane-close", pane).addEventListener("click", () => closePane());
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const hadTip = Boolean(tipFor);
    hideTip();
    if (closePane() || hadTip) event.preventDefault();
  });

  /* ---- the article page: #s{index} is highlighted ------------------------------------- */
  function highlightTarget() {
    const text = $("main .article-text");
    if (!text || !/^#s\d+$/.test(location.hash)) return;
    for (const old of text.querySelectorAll(".sent.cited")) old.classList.remove("cited");
    const span = document.getElementById(location.hash.slice(1));
    if (!span || !text.contains(span) || !span.dataset.sentenceId) return;
    span.classList.add("cited");
    span.tabIndex = -1;
    span.scrollIntoView({ block: "center" });
    span.focus({ preventScroll: true });
  }
  highlightTarget();
  window.addEventListener("hashchange", highlightTarget);

  /* ---- ask: stream the draft, then settle into the verified answer -------------------- */
  const form = $("#ask-form");
  const answer = $("#answer");
  const question = $("#question");
  let asking = null;
  let conversation = [];  // earlier turns: {role, content}, oldest first

  function setState(state, busy) {
    answer.dataset.state = state;
    answer.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function filters() {
    const data = new FormData(form);
    const out = {};
    const sources = data.getAll("source");
    if (sources.length) out.sources = sources;
    if (data.get("since")) out.since = data.get("since");
    if (data.get("until")) out.until = data.get("until");
    return Object.keys(out).length ? out : null;
  }

  function showProblem(problem) {
    setState("error", false);
    const title = problem.title || "Something went wrong";
    answer.replaceChildren(el("p", { class: "error", role: "alert", text: problem.detail ? `${title}: ${problem.detail}` : title }));
  }

  function earlierTurns() {
    const asked = conversation.filter((t) => t.role === "user");
    if (!asked.length) return null;
    const list = el("ol");
    for (const t of asked) list.append(el("li", { text: t.content }));
    return el("section", { class: "earlier", "aria-label": "Earlier in this conversation" },
      el("h2", { class: "meta", text: "Earlier in this conversation" }), list);
  }

  function followUpForm() {
    const box = el("form", { class: "follow-up", "aria-label": "Ask a follow-up question" });
    const input = el("input", { id: "follow-up", type: "text", "aria-label": "Follow-up question" });
    input.required = true;
    input.maxLength = 2000;
    input.autocomplete = "off";
    input.placeholder = "Ask a follow-up, e.g. “And what did the other side say?”";
    box.append(el("label", { class: "ask-label", text: "Follow up" }), el("div", { class: "ask-row" },
      input, el("button", { type: "submit", class: "primary", text: "Ask" })));
    box.querySelector("label").htmlFor = "follow-up";
    box.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (text) ask(text, { followUp: true });
    });
    return box;
  }

  function showFinal(r, asked) {
    const parts = [];
    const earlier = earlierTurns();
    if (earlier) parts.push(earlier);
    if (r.mode === "abstained" || r.abstained) {
      parts.push(el("p", { class: "mode", text: "No answer" }),
        el("p", { class: "abstention", text: r.answer || "The indexed sources do not answer this question." }));
      if (r.abstain_reason) parts.push(el("p", { class: "meta", text: `Why: ${r.abstain_reason}.` }));
      if (r.evidence && r.evidence.length) {
        const list = el("ul");
        for (const e of r.evidence) {
          list.append(el("li", {}, el("q", { text: e.quote }), " ",
            el("span", { class: "meta", text: `${e.source} · ${date10(e.published_at)}` }), " ",
            el("a", { class: "related-link", href: articleHref(e.article_id, sentenceIndex(e.sentence_id)), text: e.title })));
        }
        parts.push(el("section", { class: "related", "aria-label": "Related sentences" },
          el("h3", { text: "Related sentences: the nearest the sources come, not citations" }), list));
      }
    } else {
      const byMarker = new Map(r.citations.map((c) => [c.marker, c]));
      if (r.mode === "quoted") {
        parts.push(el("p", { class: "mode", text: "Quoted from the source" }),
          el("p", { class: "meta", text: "No written sentence could be verified, so the sentence that answers is quoted as its outlet wrote it." }));
      } else {
        parts.push(el("p", { class: "mode", text: "Answer" }));
      }
      const short = r.short_answer;
      if (short && byMarker.has(short.marker)) {  // its source is the [n] of the sentence below
        parts.push(el("p", { class: "short-answer" }, el("strong", { text: short.text })));
      }
      const text = el("p", { class: "answer-text" });
      r.sentences.forEach((s, i) => {
        if (i) text.append(" ");
        text.append(el("span", { class: s.flagged ? "sentence flagged" : "sentence", text: s.text }));
        for (const n of s.markers) if (byMarker.has(n)) text.append(" ", markerFor(byMarker.get(n)));
      });
      parts.push(text, sourcesList(r.citations));
    }
    const ms = r.timings && typeof r.timings.total_ms === "number" ? ` · ${Math.round(r.timings.total_ms)} ms` : "";
    const p = r.period;
    const period = p ? ` · searched articles ${p.since ? `from ${p.since} ` : ""}up to ${p.until}` : "";
    parts.push(el("p", { class: "meta", text: `${r.backend}/${r.model} · ${r.prompt}${ms}${period}` }));
    if (r.standalone_question) {
      parts.push(el("p", { class: "meta standalone", text: `Searched for: “${r.standalone_question}”` }));
    }
    conversation.push({ role: "user", content: asked }, { role: "assistant", content: r.answer });
    parts.push(followUpForm());
    answer.replaceChildren(...parts);
    setState(r.mode || (r.abstained ? "abstained" : "written"), false);
  }

  function parseEvent(block) {
    let event = "message";
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    return data.length ? { event, data: data.join("\n") } : null;
  }

  async function* events(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
        let boundary;
        while ((boundary = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const gap = buffer.slice(boundary).match(/^\r?\n\r?\n/)[0].length;
          const parsed = parseEvent(buffer.slice(0, boundary));
          buffer = buffer.slice(boundary + gap);
          if (parsed) yield parsed;
        }
        if (done) break;
      }
      const rest = parseEvent(buffer);
      if (rest) yield rest;
    } finally {
      reader.releaseLock();
    }
  }

  async function ask(typed = null, { followUp = false } = {}) {
    const text = (typed ?? question.value).trim();
    if (!text) {
      question.focus();
      return;
    }
    if (!followUp) conversation = [];
    if (asking) asking.abort();
    const mine = new AbortController();
    asking = mine;
    closePane({ restoreFocus: false });
    hideTip();
    setState("searching", true);
    answer.replaceChildren(el("p", { class: "state", text: "Looking for the sentences that answer…" }));
    const payload = { question: text, stream: true };
    if (followUp && conversation.length) payload.history = conversation.slice(-12);
    const chosen = filters();
    if (chosen) payload.filters = chosen;
    let response;
    try {
      response = await fetch("/v1/ask", {
        method: "POST", signal: mine.signal, body: JSON.stringify(payload),
        headers: { "content-type": "application/json", accept: "text/event-stream" },
      });
    } catch (error) {
      if (error.name !== "AbortError") showProblem({ title: "The service could not be reached", detail: error.message });
      return;
    }
    if (!response.ok) {
      let problem;
      try { problem = await response.json(); } catch { problem = { title: `HTTP ${response.status}` }; }
      showProblem(problem);
      return;
    }
    let draft = null;
    let settled = false;
    try {
      for await (const event of events(response.body)) {
        if (asking !== mine) return;
        if (event.event === "delta") {
          if (!draft) {
            draft = el("p", { class: "draft" });
            answer.replaceChildren(el("p", { class: "state", text: "Draft, as the model writes it; each sentence is checked against its sources before it is shown as the answer." }), draft);
            setState("streaming", true);
          }
          draft.append(JSON.parse(event.data).text);
        } else if (event.event === "final") {
          settled = true;
          showFinal(JSON.parse(event.data), text);
        } else if (event.event === "error") {
          settled = true;
          showProblem(JSON.parse(event.data));
        }
      }
    } catch (error) {
      if (error.name !== "AbortError") showProblem({ title: "The answer stream broke off", detail: error.message });
      return;
    }
    if (!settled && asking === mine) showProblem({ title: "The answer stream ended early", detail: "no verified answer arrived; ask again." });
  }

  if (form && answer && question) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      ask();
    });
    for (const button of document.querySelectorAll("button.example")) {
      button.addEventListener("click", () => {
        question.value = button.dataset.question;
        question.focus();
        ask();
      });
    }
  }

  /* ---- briefings being built: show them when ready ------------------------------------ */
  const building = $('.status[data-state="building"]');
  if (building) {
    const poll = async () => {
      try {
        const response = await fetch(building.dataset.statusUrl, { headers: { accept: "application/json" } });
        const status = response.ok ? await response.json() : null;
        if (status && status.state !== "building") {
          location.reload();
          return;
        }
      } catch (error) {
        /* the server may be restarting: try again */
      }
      setTimeout(poll, 3000);
    };
    setTimeout(poll, 3000);
  }

  /* ---- long form posts (summaries, building a briefing): say that work is under way -- */
  for (const slow of document.querySelectorAll("form.summary-form, form.build")) {
    slow.addEventListener("submit", () => {
      const button = $("button[type=submit]", slow);
      if (button) {
        button.disabled = true;
        button.textContent = slow.classList.contains("build") ? "Building…" : "Summarising…";
      }
      const note = $(".busy-note", slow);
      if (note) note.hidden = false;
    });
  }
})();
