// catloc review page: choose the winners of every SKU with the keyboard (see the "?" panel).
// Decisions live in this browser's local storage until saved as picks.csv.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("catloc-data").textContent);
  const skus = data.skus;
  const FILTERS = ["all", "undecided", "picked", "regenerate", "failed", "flags"];
  const $ = (id) => document.getElementById(id);
  const main = $("skus"), viewer = $("viewer"), help = $("help"), toastBox = $("toast");
  const decisions = loadDecisions();   // sku -> {attempt, c: {candidate id: "pick" | "reject"}, regen: bool}
  const undoStack = [];                // {sku, before: JSON of its decision}
  let filter = "all", visible = [], at = 0, cand = 0, toastTimer = 0;

  // ---- decisions --------------------------------------------------------------------------
  function loadDecisions() {
    let saved = {};
    try { saved = JSON.parse(localStorage.getItem(data.storage_key) || "{}"); } catch (e) { saved = {}; }
    const kept = {};
    for (const s of skus) {   // only what still matches this run's SKUs, attempts and candidates
      const d = saved[s.sku];
      if (!d || !s.candidates.length || (d.attempt || 0) !== s.attempt) continue;
      const ids = new Set(s.candidates.map((c) => c.id)), c = {};
      for (const [id, v] of Object.entries(d.c || {})) if (ids.has(id) && (v === "pick" || v === "reject")) c[id] = v;
      if (Object.keys(c).length || d.regen) kept[s.sku] = {attempt: s.attempt, c, regen: !!d.regen};
    }
    return kept;
  }
  function persist() {
    try { localStorage.setItem(data.storage_key, JSON.stringify(decisions)); }
    catch (e) { toast("This browser did not keep the decisions: save picks.csv now (" + e.message + ")"); }
  }
  const decisionOf = (s) => decisions[s.sku] || {attempt: s.attempt, c: {}, regen: false};
  const picksOf = (s) => s.candidates.filter((c) => decisionOf(s).c[c.id] === "pick");
  const isDecided = (s) => s.candidates.length > 0 && (decisionOf(s).regen || picksOf(s).length > 0);
  const hasFlags = (s) => s.candidates.some((c) => !c.pass || c.reasons);

  function store(s, d) {
    if (Object.keys(d.c).length || d.regen) decisions[s.sku] = d; else delete decisions[s.sku];
    persist(); paint(s); showProgress();
  }
  function change(s, mutate) {   // mutate(d) edits a copy; returning false means "nothing changed"
    const before = JSON.stringify(decisionOf(s)), d = JSON.parse(before);
    if (mutate(d) === false) return;
    undoStack.push({sku: s.sku, before});
    store(s, d);
  }
  function pick(s, c) {
    change(s, (d) => {
      if (d.c[c.id] === "pick") return false;
      if (s.candidates.filter((x) => d.c[x.id] === "pick").length >= data.max_picks) {
        toast(`At most ${data.max_picks} picks per SKU: clear one first (U)`);
        return false;
      }
      d.c[c.id] = "pick";
      d.regen = false;
      if (!c.pass) toast(`${c.id} failed QC: publishing it needs --allow-failed`);
    });
  }
  const reject = (s, c) => change(s, (d) => { if (d.c[c.id] === "reject") return false; d.c[c.id] = "reject"; });
  const clear = (s, c) => change(s, (d) => { if (!(c.id in d.c)) return false; delete d.c[c.id]; d.regen = false; });
  function regenerate(s) {
    if (!s.candidates.length) { toast("No candidates to reject: catloc rerun RUN_ID --failed makes them"); return; }
    change(s, (d) => {
      d.regen = !d.regen;
      for (const c of s.candidates) if (d.regen) d.c[c.id] = "reject"; else delete d.c[c.id];
    });
  }
  function undo() {
    const last = undoStack.pop();
    if (!last) { toast("Nothing to undo"); return; }
    const s = skus.find((x) => x.sku === last.sku);
    store(s, JSON.parse(last.before));
    select(s.index, Math.min(cand, Math.max(0, s.candidates.length - 1)));
  }

  // ---- drawing ----------------------------------------------------------------------------
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function imageBox(item) {
    const box = el("div", "img"), img = el("img");
    img.loading = "lazy"; img.decoding = "async"; img.alt = item.image;
    img.src = item.thumb || item.image;
    box.append(img);
    return box;
  }
  function refFigure(item, label) {
    const f = el("figure", "ref");
    f.append(imageBox(item), el("figcaption", "", label));
    return f;
  }
  function candFigure(c, n) {
    const f = el("figure", "cand"), cap = el("figcaption"), what = el("div", "what");
    if (n <= 9) f.append(el("span", "key", String(n)));
    f.append(el("span", "mark"), imageBox(c));
    const [cls, label] = c.pass ? (c.reasons ? ["warn", "PASS \u26a0"] : ["pass", "PASS"]) : ["fail", "QC FAIL"];
    what.append(el("span", "qc " + cls, label), document.createTextNode(` ${c.id} \u00b7 rank ${c.rank}`));
    const scene = el("div", "what", `${c.scene} \u00b7 ${c.framing}`);
    scene.title = `${c.id}, rank ${c.rank}: ${c.scene}, ${c.framing}`;
    cap.append(what, scene);
    if (c.reasons) { const why = el("div", c.pass ? "why warn" : "why", c.reasons); why.title = c.reasons; cap.append(why); }
    f.append(cap);
    return f;
  }
  function buildSku(s) {
    const sec = el("section", "sku"), head = el("div", "head"), strip = el("div", "strip");
    head.append(el("span", "name", s.sku), el("span", "title", s.title), el("span", "cat", s.category));
    if (s.status !== "done") head.append(el("span", "badge " + s.status, s.status + (s.stage ? " at " + s.stage : "")));
    if (s.attempt > 0) head.append(el("span", "badge attempt", `regenerated ${s.attempt}\u00d7`));
    s.regenBadge = head.appendChild(el("span", "badge regen", "regenerate"));
    s.count = head.appendChild(el("span", "count"));
    if (s.candidates.length) {
      const b = head.appendChild(el("button", "regen-btn", "Reject all \u2014 regenerate (R)"));
      b.addEventListener("click", (ev) => { ev.currentTarget.blur(); select(s.index, cand); regenerate(s); });
    }
    sec.append(head);
    if (s.error) sec.append(el("div", "error", s.error));
    if (s.source) strip.append(refFigure(s.source, "source"));
    if (s.cleaned) strip.append(refFigure(s.cleaned, "cleaned"));
    s.figs = s.candidates.map((c, k) => {
      const f = strip.appendChild(candFigure(c, k + 1));
      f.addEventListener("click", () => select(s.index, k));
      f.addEventListener("dblclick", () => { select(s.index, k); openViewer(); });
      return f;
    });
    sec.append(strip);
    if (s.earlier.length) {
      const det = el("details", "earlier"), old = el("div", "strip");
      det.append(el("summary", "", `earlier attempts: ${s.earlier.length} candidates, all rejected`));
      for (const c of s.earlier) old.append(candFigure(c, 99));
      det.append(old);
      sec.append(det);
    }
    return sec;
  }
  function paint(s) {
    const d = decisionOf(s), n = picksOf(s).length;
    s.section.classList.toggle("regen", d.regen);
    s.regenBadge.hidden = !d.regen;
    s.candidates.forEach((c, k) => {
      s.figs[k].classList.toggle("pick", d.c[c.id] === "pick");
      s.figs[k].classList.toggle("reject", d.c[c.id] === "reject");
    });
    s.count.textContent = s.candidates.length ? `${n}/${data.max_picks} picks` : "";
    s.count.classList.toggle("full", n > 0);
  }
  function showProgress() {
    const decidable = skus.filter((s) => s.candidates.length);
    const decided = decidable.filter(isDecided).length;
    const picks = decidable.reduce((n, s) => n + picksOf(s).length, 0);
    const regen = decidable.filter((s) => decisionOf(s).regen).length;
    const box = $("progress");
    box.textContent = "";
    box.append(el("b", "", `${decided} of ${decidable.length} SKUs decided`),
      ` \u00b7 ${picks} picks (at most ${data.max_picks} per SKU) \u00b7 ${regen} to regenerate` +
      ` \u00b7 ${skus.length - decidable.length} failed or deferred`);
  }

  // ---- moving around ----------------------------------------------------------------------
  const current = () => (visible.length ? skus[visible[at]] : null);
  function applyFilter(name) {
    const was = current();
    filter = name;
    visible = [];
    for (const s of skus) {
      const show = matches(s, name);
      s.section.classList.toggle("hidden", !show);
      if (show) visible.push(s.index);
    }
    for (const b of document.querySelectorAll("#filters button")) b.classList.toggle("on", b.dataset.filter === name);
    $("empty").hidden = visible.length > 0;
    const keep = was ? visible.indexOf(was.index) : -1;
    if (keep < 0) cand = 0;
    at = Math.max(0, keep);
    highlight(true);
  }
  function matches(s, name) {
    if (name === "undecided") return s.candidates.length > 0 && !isDecided(s);
    if (name === "picked") return picksOf(s).length > 0;
    if (name === "regenerate") return decisionOf(s).regen;
    if (name === "failed") return s.status !== "done";
    if (name === "flags") return hasFlags(s);
    return true;
  }
  function select(index, k) {
    const v = visible.indexOf(index);
    if (v < 0) return;
    at = v; cand = k;
    highlight(true);
  }
  function highlight(scroll) {
    for (const e of document.querySelectorAll(".current")) e.classList.remove("current");
    const s = current();
    if (!s) return;
    cand = Math.min(cand, Math.max(0, s.candidates.length - 1));
    s.section.classList.add("current");
    const fig = s.figs[cand];
    if (fig) fig.classList.add("current");
    if (scroll) (fig || s.section).scrollIntoView({block: "nearest", inline: "nearest"});
    if (!viewer.hidden) openViewer();
  }
  function moveCandidate(step) {
    const s = current();
    if (!s) return;
    if (cand + step >= 0 && cand + step < s.candidates.length) cand += step;
    else if (step > 0 && at < visible.length - 1) { at += 1; cand = 0; }
    else if (step < 0 && at > 0) { at -= 1; cand = skus[visible[at]].candidates.length - 1; }
    highlight(true);
  }
  function moveSku(step) {
    if (at + step < 0 || at + step >= visible.length) return;
    at += step;
    highlight(true);
  }
  function nextUndecided() {
    for (let step = 1; step <= visible.length; step++) {
      const v = (at + step) % visible.length, s = skus[visible[v]];
      if (s.candidates.length && !isDecided(s)) { at = v; cand = 0; highlight(true); return; }
    }
    toast("Every SKU shown here is decided");
  }
  function pickNumber(k) {
    const s = current();
    if (!s || k >= s.candidates.length) return;
    cand = k;
    highlight(true);
    pick(s, s.candidates[k]);
  }
  function openViewer() {
    const s = current(), c = s && s.candidates[cand];
    if (!c) return;
    $("viewer-img").src = c.image;
    $("viewer-caption").textContent = `${s.sku} \u00b7 ${c.id} \u00b7 ${c.scene} \u00b7 ${c.framing} \u00b7 ` +
      (c.pass ? "QC pass" : "QC fail") + (c.reasons ? ": " + c.reasons : "");
    viewer.hidden = false;
  }
  const toggleViewer = () => (viewer.hidden ? openViewer() : (viewer.hidden = true));
  const closeOverlays = () => { viewer.hidden = true; help.hidden = true; };

  // ---- picks.csv --------------------------------------------------------------------------
  const csvField = (v) => { const t = String(v); return /[",\r\n]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t; };
  function picksCsv() {
    const rows = [["run_id", "market", "sku", "attempt", "candidate_id", "decision", "image"]];
    for (const s of skus) {
      const d = decisions[s.sku];
      if (!d) continue;
      for (const c of s.candidates) if (d.c[c.id]) rows.push([data.run_id, data.market, s.sku, c.attempt, c.id, d.c[c.id], c.image]);
      if (d.regen) rows.push([data.run_id, data.market, s.sku, s.attempt, "", "regenerate", ""]);
    }
    return rows.map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
  }
  function save() {
    const a = el("a");
    a.href = URL.createObjectURL(new Blob([picksCsv()], {type: "text/csv;charset=utf-8"}));
    a.download = "picks.csv";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    toast(`Saved picks.csv. Publish: catloc picks apply ${data.run_id} picks.csv --publish URI`);
  }
  function toast(message) {
    toastBox.textContent = message;
    toastBox.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => toastBox.classList.remove("show"), 3000);
  }

  // ---- keys -------------------------------------------------------------------------------
  const KEYS = {
    ArrowRight: () => moveCandidate(1), ArrowLeft: () => moveCandidate(-1),
    ArrowDown: () => moveSku(1), ArrowUp: () => moveSku(-1), j: () => moveSku(1), k: () => moveSku(-1),
    n: nextUndecided, r: () => current() && regenerate(current()),
    p: () => onCandidate(pick), x: () => onCandidate(reject), u: () => onCandidate(clear),
    Enter: toggleViewer, " ": toggleViewer, Escape: closeOverlays, "?": () => { help.hidden = !help.hidden; },
    f: () => applyFilter(FILTERS[(FILTERS.indexOf(filter) + 1) % FILTERS.length]), s: save,
  };
  function onCandidate(action) {
    const s = current(), c = s && s.candidates[cand];
    if (c) action(s, c);
  }
  document.addEventListener("keydown", (ev) => {
    if (ev.altKey) return;
    if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "z") { ev.preventDefault(); undo(); return; }
    if (ev.ctrlKey || ev.metaKey) return;
    if (!help.hidden && ev.key !== "?" && ev.key !== "Escape") return;
    let action = KEYS[ev.key] || KEYS[ev.key.toLowerCase()];
    if (!action && /^[1-9]$/.test(ev.key)) action = () => pickNumber(Number(ev.key) - 1);
    if (!action) return;
    ev.preventDefault();
    action();
  });

  // ---- start ------------------------------------------------------------------------------
  $("run-id").textContent = data.run_id;
  $("run-market").textContent = `${data.market_name} (${data.market}) \u00b7 ${skus.length} SKUs \u00b7 made ${data.generated}`;
  const page = document.createDocumentFragment();
  skus.forEach((s, i) => { s.index = i; s.section = page.appendChild(buildSku(s)); paint(s); });
  main.append(page);
  for (const b of document.querySelectorAll("#filters button")) {
    b.addEventListener("click", (ev) => { ev.currentTarget.blur(); applyFilter(b.dataset.filter); });
  }
  $("save").addEventListener("click", (ev) => { ev.currentTarget.blur(); save(); });
  $("show-help").addEventListener("click", (ev) => { ev.currentTarget.blur(); help.hidden = !help.hidden; });
  viewer.addEventListener("click", closeOverlays);
  help.addEventListener("click", closeOverlays);
  showProgress();
  applyFilter("all");
  performance.mark("catloc-ready");
  document.body.dataset.ready = "1";
})();
