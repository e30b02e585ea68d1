// derivcheck serve: the slot page. Student text is only ever set as textContent; the only
// markup inserted is MathML that the server rebuilt from an allow-list (fields named *mathml,
// render.read_as, render.links[].claim, render.point[].name_mathml).
"use strict";
(function () {
  const slotEl = document.getElementById("slot-id");
  if (!slotEl) return;
  const slot = slotEl.dataset.slot;
  const $ = (id) => document.getElementById(id);
  const VERDICT_WORDS = {correct: "correct", wrong: "wrong", invalid: "not an answer", unchecked: "not checked"};
  const STATUS_WORDS = {proved: "holds", refuted: "invalid", unchecked: "not checked", error: "error"};

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function math(markup, cls) {            // server-sanitised MathML only
    const e = el("span", "math" + (cls ? " " + cls : ""));
    if (markup) e.innerHTML = markup;
    return e;
  }
  async function post(url, payload) {
    const response = await fetch(url, {method: "POST", headers: {"content-type": "application/json"},
                                       body: JSON.stringify(payload)});
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      throw new Error((data && data.error) || ("the server answered " + response.status));
    }
    return data;
  }
  function debounce(fn, ms) {
    let timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }
  function steps() {
    return $("chain-input").value.split("\n").filter((s) => s.trim() !== "");
  }

  // ---- live preview ----
  let answerSeq = 0;
  const previewAnswer = debounce(async function () {
    const latex = $("answer-input").value;
    const seq = ++answerSeq;
    const box = $("answer-preview");
    if (!latex.trim()) {
      box.querySelector(".typed").replaceChildren();
      box.querySelector(".read").replaceChildren();
      $("answer-message").textContent = "";
      return;
    }
    try {
      const data = await post("/api/preview", {slot: slot, latex: latex});
      if (seq !== answerSeq) return;
      box.querySelector(".typed").innerHTML = data.mathml || "";
      box.querySelector(".read").innerHTML = data.read_as || "";
      $("answer-message").textContent = data.error ? "Cannot read this: " + data.error : "";
      $("answer-input").setAttribute("aria-invalid", data.error ? "true" : "false");
    } catch (err) {
      if (seq === answerSeq) $("answer-message").textContent = err.message;
    }
  }, 300);

  let chainSeq = 0;
  const previewChain = debounce(async function () {
    const lines = steps();
    const seq = ++chainSeq;
    const list = $("chain-preview");
    if (!lines.length) { list.replaceChildren(); return; }
    try {
      const data = await post("/api/preview", {slot: slot, steps: lines});
      if (seq !== chainSeq) return;
      list.replaceChildren(...data.steps.map((m) => { const li = el("li"); li.appendChild(math(m)); return li; }));
    } catch (err) {
      if (seq === chainSeq) $("chain-message").textContent = err.message;
    }
  }, 300);

  // ---- results ----
  function verdictBlock(d) {
    const box = el("div", "verdict-block");
    const v = el("p", "verdict verdict-" + d.verdict);
    v.appendChild(el("strong", "verdict-word", VERDICT_WORDS[d.verdict] || d.verdict));
    box.appendChild(v);
    box.appendChild(el("p", "message", d.message));
    const r = d.render || {};
    const dl = el("dl", "facts");
    function fact(name, node) { dl.appendChild(el("dt", null, name)); const dd = el("dd"); dd.appendChild(node); dl.appendChild(dd); }
    if (r.read_as) fact("read as", math(r.read_as, "read-as"));
    if (d.evidence && d.evidence.kind) {
      fact("evidence", el("span", "evidence", r.evidence_words + (d.evidence.detail ? " \u2014 " + d.evidence.detail : "")));
    }
    if (d.mistake) fact("mistake", el("span", "mistake", (r.mistake_words ? r.mistake_words + " (" + d.mistake + ")" : d.mistake)));
    if ((r.point && r.point.length) || (r.sides && r.sides.length)) fact("where it fails", pointTable(r));
    box.appendChild(dl);
    return box;
  }
  function pointTable(r) {
    const table = el("table", "counterexample");
    table.appendChild(el("caption", null, "a point where the two sides differ"));
    const body = el("tbody");
    for (const p of r.point || []) {
      const tr = el("tr"); const th = el("th"); th.setAttribute("scope", "row");
      th.appendChild(math(p.name_mathml)); tr.appendChild(th); tr.appendChild(el("td", null, p.value)); body.appendChild(tr);
    }
    const names = {answer: "your answer", reference: "the right value", lhs: "left side", rhs: "right side"};
    for (const s of r.sides || []) {
      const tr = el("tr", "side"); const th = el("th", null, names[s.side] || s.side); th.setAttribute("scope", "row");
      tr.appendChild(th); tr.appendChild(el("td", null, s.value)); body.appendChild(tr);
    }
    table.appendChild(body);
    return table;
  }
  function chainBlock(d, lines, stepMarkup) {
    const box = verdictBlock(d);
    const c = d.chain || {};
    const byStep = {};
    for (const l of (d.render && d.render.links) || []) (byStep[l.step] = byStep[l.step] || []).push(l);
    const unreadable = {};
    for (const u of c.unreadable_steps || []) unreadable[u.step] = u.message;
    const ol = el("ol", "checked-steps");
    lines.forEach(function (line, i) {
      const k = i + 1;
      const li = el("li", "step");
      li.dataset.step = String(k);
      li.appendChild(math(stepMarkup[i]));
      const links = byStep[k] || [];
      let status = links.length ? "proved" : "";
      for (const l of links) if (l.status !== "proved") { status = l.status; break; }
      if (unreadable[k] !== undefined) status = "unreadable";
      if (status) { li.classList.add("status-" + status); li.appendChild(el("span", "step-status", STATUS_WORDS[status] || "cannot be read")); }
      if ((c.definition_steps || []).includes(k)) li.appendChild(el("span", "step-status", "definition"));
      if ((c.remark_steps || []).includes(k)) li.appendChild(el("span", "step-status", "remark"));
      if (c.first_invalid_step === k) {
        li.classList.add("first-invalid");
        li.setAttribute("aria-current", "step");
        li.appendChild(el("strong", "first-invalid-label", "first invalid step"));
        const bad = links.find((l) => l.status === "refuted");
        if (bad) li.appendChild(el("p", "step-detail", bad.detail));
      } else if (unreadable[k] !== undefined) {
        li.appendChild(el("p", "step-detail", unreadable[k]));
      }
      ol.appendChild(li);
    });
    box.appendChild(ol);
    return box;
  }

  async function checkAnswer(event) {
    event.preventDefault();
    const out = $("answer-result");
    const latex = $("answer-input").value;
    out.replaceChildren(el("p", "pending", "checking\u2026"));
    $("answer-check").disabled = true;
    try {
      const d = await post("/api/answer?render=1", {slot: slot, latex: latex});
      out.replaceChildren(verdictBlock(d));
      $("answer-message").textContent = d.verdict === "invalid" ? d.message : "";
      $("answer-input").setAttribute("aria-invalid", d.verdict === "invalid" ? "true" : "false");
    } catch (err) {
      out.replaceChildren(el("p", "error", err.message));
    } finally {
      $("answer-check").disabled = false;
    }
  }
  async function checkChain(event) {
    event.preventDefault();
    const out = $("chain-result");
    const lines = steps();
    $("chain-message").textContent = "";
    if (!lines.length) { $("chain-message").textContent = "Write at least one step."; return; }
    out.replaceChildren(el("p", "pending", "checking\u2026"));
    $("chain-check").disabled = true;
    try {
      const [d, shown] = await Promise.all([post("/api/chain?render=1", {slot: slot, steps: lines}),
                                            post("/api/preview", {slot: slot, steps: lines})]);
      out.replaceChildren(chainBlock(d, lines, shown.steps));
      $("chain-message").textContent = d.verdict === "invalid" ? d.message : "";
    } catch (err) {
      out.replaceChildren(el("p", "error", err.message));
    } finally {
      $("chain-check").disabled = false;
    }
  }

  $("answer-input").addEventListener("input", previewAnswer);
  $("chain-input").addEventListener("input", previewChain);
  $("answer-form").addEventListener("submit", checkAnswer);
  $("chain-form").addEventListener("submit", checkChain);
  $("chain-input").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $("chain-form").requestSubmit(); }
  });
})();
