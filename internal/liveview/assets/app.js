// The live page: one EventSource, one array of the last few minutes of
// events, and SVG redrawn from it on every event. No library, no request
// beyond this page's own origin.
"use strict";

const KEEP = 300;          // events kept, one a second: five minutes
const HOLD_DOWN_MS = 2000; // a restarted process stays red this long, so a quick restart is seen
const WORKER_DASHES = ["", "6 3", "2 2", "8 2 2 2"];
const events = [];
const faults = [];
const downSince = {};      // role -> ms when it was last seen going down or changing pid
let lastProcs = {};
let actionsKey = "";

const $ = (id) => document.getElementById(id);
const token = document.querySelector('meta[name="offload-token"]').content;
const fmt = (v, digits = 0) => (v === undefined || v === null ? "–" : Number(v).toFixed(digits));

function connect() {
  const es = new EventSource("/events");
  es.onopen = () => setConn("open", "live");
  es.onerror = () => setConn("lost", "reconnecting…"); // EventSource retries by itself (retry: from the server)
  es.onmessage = (m) => onEvent(JSON.parse(m.data));
}

function setConn(state, text) {
  const c = $("conn");
  c.dataset.state = state;
  c.textContent = text;
}

function onEvent(ev) {
  if (events.length && events[events.length - 1].seq >= ev.seq) return; // a replay after reconnect
  events.push(ev);
  if (events.length > KEEP) events.shift();
  for (const f of ev.faults || []) faults.push(f);
  while (faults.length > 100) faults.shift();
  if (ev.color) document.documentElement.style.setProperty("--strategy", ev.color);
  $("strategy").textContent = ev.strategy || "";
  $("loop").textContent = ev.loop ? "loop " + ev.loop : "";
  setNum("rate-offered", ev.rates.offered, 1);
  setNum("rate-accepted", ev.rates.accepted, 1);
  setNum("rate-delivered", ev.rates.delivered, 1);
  setNum("accepted", ev.accepted);
  setNum("delivered", ev.delivered);
  setNum("backlog", ev.backlog);
  const b = ev.broker || {};
  $("oldest").textContent = b.oldest_wait_s === undefined ? "–" : fmt(b.oldest_wait_s, 1) + " s";
  $("retries").textContent = fmt(b.retries);
  $("dead").textContent = fmt(b.dead_letters);
  $("workers").textContent = fmt(b.workers);
  drawProcs(ev);
  drawFaults();
  drawActions(ev.actions || []);
  drawBench(ev.bench);
  drawCharts();
}

function setNum(id, v, digits = 0) {
  const el = $(id);
  el.textContent = fmt(v, digits);
  el.dataset.value = v === undefined ? "" : String(v);
}

function drawProcs(ev) {
  const now = Date.now();
  const body = $("procs").tBodies[0];
  body.replaceChildren();
  const seen = {};
  for (const p of ev.processes || []) {
    const prev = lastProcs[p.role];
    if (prev && (prev.up && !p.up || prev.pid !== p.pid)) downSince[p.role] = now;
    if (!p.up && !downSince[p.role]) downSince[p.role] = now;
    seen[p.role] = p;
    const held = downSince[p.role] && now - downSince[p.role] < HOLD_DOWN_MS;
    const down = !p.up || held;
    const tr = document.createElement("tr");
    tr.dataset.role = p.role;
    tr.dataset.pid = String(p.pid);
    tr.dataset.up = String(p.up);
    tr.className = down ? "down" : "up";
    const state = !p.up ? "down" : held ? "restarted" : "up";
    const restarts = p.restarts ? " (" + p.restarts + "× restarted)" : "";
    for (const [cls, text] of [["role", p.role], ["pid", String(p.pid)], ["state", state + restarts]]) {
      const td = document.createElement("td");
      td.className = cls;
      td.textContent = text;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  lastProcs = seen;
  // A held row turns green by itself once the hold is over.
  if (Object.values(downSince).some((t) => now - t < HOLD_DOWN_MS)) {
    setTimeout(() => drawProcs(events[events.length - 1]), HOLD_DOWN_MS);
  }
}

function drawFaults() {
  const ol = $("faults");
  ol.replaceChildren();
  for (const f of faults.slice().reverse()) {
    const li = document.createElement("li");
    li.textContent = new Date(f.time).toLocaleTimeString() + " " + f.what;
    ol.appendChild(li);
  }
}

function drawActions(actions) {
  const key = JSON.stringify(actions);
  if (key === actionsKey) return;
  actionsKey = key;
  const list = $("action-list");
  list.replaceChildren();
  for (const a of actions) {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.id = "action-" + a.name;
    btn.textContent = a.label;
    btn.addEventListener("click", () => runAction(a.name));
    const code = document.createElement("code");
    code.textContent = a.command.replace("seq N", "seq " + $("count").value);
    list.append(btn, code);
  }
}

async function runAction(name) {
  const n = $("count").value || "1";
  $("action-result").textContent = name + "…";
  try {
    const resp = await fetch("/actions/" + name + "?n=" + encodeURIComponent(n), {
      method: "POST", headers: { "X-Offload-Token": token },
    });
    const body = await resp.json();
    $("action-result").textContent = resp.ok ? body.result : "failed: " + body.error;
  } catch (e) {
    $("action-result").textContent = "failed: " + e;
  }
}

function drawBench(b) {
  if (!b) return;
  $("bench").hidden = false;
  $("summary").hidden = false;
  $("bench-run").textContent = b.finished ? "finished: " + b.completed + " runs" :
    "run " + b.index + " of " + b.total + ": " + b.strategy + " · " + b.scenario +
    (b.variant ? " (" + b.variant + ")" : "") + " · " + b.phase + " " + fmt(b.elapsed_s) + "/" + fmt(b.phase_s) + " s";
  const p = $("bench-progress");
  p.max = b.total || 1;
  p.value = b.completed;
  const rep = $("bench-report");
  if (b.report && !rep.firstChild) {
    const a = document.createElement("a");
    a.href = b.report;
    a.textContent = "open report.html";
    rep.appendChild(a);
  }
  const body = document.querySelector("#summary tbody");
  body.replaceChildren();
  for (const r of b.rows) {
    const tr = document.createElement("tr");
    const cells = r.na ? [r.index, r.strategy, r.scenario, "n/a: " + r.na] :
      [r.index, r.strategy + (r.variant ? " (" + r.variant + ")" : ""), r.scenario, r.accepted, r.delivered, r.lost,
        r.duplicates, fmt(r.http_p99_ms, 1), fmt(r.lag_max_ms, 1), r.recovery_s == null ? "" : fmt(r.recovery_s, 1)];
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = String(c);
      tr.appendChild(td);
    }
    if (r.na) tr.lastChild.colSpan = 7;
    if (r.invalid) {
      tr.className = "invalid";
      tr.title = "invalid: " + r.invalid;
    }
    body.appendChild(tr);
  }
}

// --- charts: plain SVG over the kept events ---

const H = 150, PAD = 4;

function drawCharts() {
  if (!events.length) return;
  const t1 = Date.parse(events[events.length - 1].time);
  // The window grows with the history, from one minute up to all it keeps.
  const t0 = Math.max(t1 - KEEP * 1000, Math.min(Date.parse(events[0].time), t1 - 60000));
  const strategy = getComputedStyle(document.documentElement).getPropertyValue("--strategy").trim();
  const marks = faults.map((f) => Date.parse(f.time)).filter((t) => t >= t0);
  const pts = (f) => events.map((e) => [Date.parse(e.time), f(e)]);
  chart($("rates-chart"), t0, t1, marks, [
    { pts: pts((e) => e.rates.offered), color: "#888888" },
    { pts: pts((e) => e.rates.accepted), color: strategy, opacity: 0.45, width: 4 },
    { pts: pts((e) => e.rates.delivered), color: strategy },
  ]);
  chart($("backlog-chart"), t0, t1, marks, [
    { pts: pts((e) => e.backlog), color: strategy },
    { pts: pts((e) => brokerBacklog(e.broker)), color: "#222222", dash: "4 3" },
  ]);
  const roles = [];
  for (const e of events) for (const r of Object.keys(e.lag_ms || {})) if (!roles.includes(r)) roles.push(r);
  roles.sort((a, b) => (a === "web" ? -1 : b === "web" ? 1 : a.localeCompare(b)));
  const series = roles.map((r, i) => ({
    pts: pts((e) => (e.lag_ms || {})[r]), color: r === "web" ? strategy : "#555555",
    dash: r === "web" ? "" : WORKER_DASHES[(i - 1) % WORKER_DASHES.length], label: r,
  }));
  const max = chart($("lag-chart"), t0, t1, marks, series);
  $("lag-chart").dataset.max = String(max);
  const last = events[events.length - 1].lag_ms || {};
  $("lag-key").textContent = roles.map((r) => r + " " + fmt(last[r], 1)).join(" · ");
}

function brokerBacklog(b) {
  if (!b) return undefined;
  const parts = ["queue_length", "in_flight", "stream_undelivered", "stream_pending"].filter((k) => k in b);
  return parts.length ? parts.reduce((s, k) => s + b[k], 0) : undefined;
}

// chart draws series of [ms, value] over [t0, t1] and returns the highest
// value drawn.
function chart(svg, t0, t1, marks, series) {
  const W = Math.max(100, Math.round(svg.clientWidth || 600));
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  let ymax = 0;
  for (const s of series) for (const [t, v] of s.pts) if (t >= t0 && v != null) ymax = Math.max(ymax, v);
  const top = niceCeil(ymax);
  const x = (t) => PAD + ((t - t0) / (t1 - t0)) * (W - 2 * PAD);
  const y = (v) => H - PAD - (v / top) * (H - 2 * PAD - 12);
  const ns = "http://www.w3.org/2000/svg";
  const el = (name, attrs) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  svg.replaceChildren();
  for (const m of marks) svg.appendChild(el("line", { x1: x(m), x2: x(m), y1: 0, y2: H, stroke: "#d55e00", "stroke-width": 1.5, "vector-effect": "non-scaling-stroke" }));
  for (const s of series) {
    let d = "";
    for (const [t, v] of s.pts) {
      if (t < t0 || v == null) continue;
      d += (d ? "L" : "M") + x(t).toFixed(1) + " " + y(v).toFixed(1);
    }
    if (!d) continue;
    svg.appendChild(el("path", { d, fill: "none", stroke: s.color, "stroke-width": s.width || 2, "stroke-opacity": s.opacity || 1,
      "stroke-dasharray": s.dash || "", "vector-effect": "non-scaling-stroke" }));
  }
  const step = t1 - t0 > 120000 ? 60000 : 15000;
  for (let t = t1 - step; t > t0; t -= step) {
    svg.appendChild(el("line", { x1: x(t), x2: x(t), y1: H - PAD, y2: H - PAD - 5, stroke: "#888888" }));
    const tick = el("text", { x: x(t), y: H - PAD - 7, "text-anchor": "middle" });
    tick.textContent = "−" + Math.round((t1 - t) / 1000) + " s";
    svg.appendChild(tick);
  }
  const label = el("text", { x: W - PAD, y: 11, "text-anchor": "end" });
  label.textContent = "top " + fmt(top);
  svg.appendChild(label);
  return ymax;
}

function niceCeil(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function setupBig() {
  const apply = (on) => document.body.classList.toggle("big", on);
  apply(localStorage.getItem("offload-big") === "1");
  $("big").addEventListener("click", () => {
    const on = !document.body.classList.contains("big");
    localStorage.setItem("offload-big", on ? "1" : "0");
    apply(on);
  });
}

setupBig();
$("count").addEventListener("input", () => { actionsKey = ""; drawActions(events.length ? events[events.length - 1].actions || [] : []); });
connect();
