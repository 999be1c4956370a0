// The monitor's page: one event stream from /api/stream, drawn into the list of runs and the chosen run.
// Every text from a save goes through textContent (never innerHTML): a resident's or a folder's name is
// data, not markup. Readers on the server describe a run as generic blocks (cards, table, bars, kv, note,
// histogram, series),
// so a new kind of run needs no change here.
"use strict";

const state = { run: null, data: null, source: null, lastUpdate: 0, firstLook: true };

function el(tag, cls, ...children) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// -- formatting -----------------------------------------------------------------------------------------------
const nf0 = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
function num(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  const d = digits !== undefined ? digits : a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return new Intl.NumberFormat("en", { maximumFractionDigits: d, minimumFractionDigits: 0 }).format(v);
}
function seconds(v) {
  if (v === null || v === undefined) return "–";
  if (v < 1) return `${nf0.format(v * 1000)} ms`;
  return `${num(v, v < 10 ? 2 : 1)} s`;
}
function duration(v) {
  if (v === null || v === undefined) return "–";
  v = Math.round(v);
  if (v < 60) return `${v} s`;
  const h = Math.floor(v / 3600), m = Math.floor((v % 3600) / 60), s = v % 60;
  if (h >= 24) return `${Math.floor(h / 24)} d ${h % 24} h`;
  return h ? `${h} h ${String(m).padStart(2, "0")} min` : `${m} min ${String(s).padStart(2, "0")} s`;
}
function pace(v) { return v === null || v === undefined ? "–" : `${num(v, v >= 10 ? 0 : 2)}`; }
function clockTime(ts) {
  if (!ts) return "–";
  const d = new Date(ts * 1000), now = new Date();
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return d.toDateString() === now.toDateString() ? hm : `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${hm}`;
}
function progressBar(frac, tone) {
  const bar = el("div", `bar ${tone || ""}`), fill = el("i");
  fill.style.width = `${Math.max(0, Math.min(1, frac || 0)) * 100}%`;
  bar.append(fill);
  return bar;
}
function pill(text, cls) { return el("span", `pill ${cls || text}`, text); }
const PILL_TEXT = { closed: "in rotation", open: "out (breaker open)" };

function cell(col, row) {
  const v = row[col.key];
  const td = el("td");
  switch (col.fmt) {
    case "int": td.className = "num"; td.textContent = v === null || v === undefined ? "–" : nf0.format(v); break;
    case "num": td.className = "num"; td.textContent = num(v); break;
    case "s": td.className = "num"; td.textContent = seconds(v); break;
    case "pace": td.className = "num"; td.textContent = pace(v); break;
    case "dur": td.className = "num"; td.textContent = duration(v); break;
    case "time": td.textContent = clockTime(v); break;
    case "frac": {
      const line = el("div", "barline", progressBar(v, row.state === "running" ? "running" : ""),
        el("span", "pct", v === null || v === undefined ? "–" : `${Math.floor(v * 100)}%`));
      td.append(line); break;
    }
    case "pill": if (v) td.append(pill(PILL_TEXT[v] || v, v)); break;
    case "load": {  // in flight against the endpoint's concurrency: a full bar is a saturated server
      td.className = "num";
      if (v === null || v === undefined) { td.textContent = "–"; break; }
      const max = row.max_concurrency;
      td.append(max ? `${v} / ${max}` : String(v));
      if (max) td.append(progressBar(v / max, v / max >= 0.8 ? "warn" : "running"));
      break;
    }
    case "link": {
      const a = el("a", "link", v === null || v === undefined ? "" : v);
      a.addEventListener("click", () => select(row.link));
      td.append(a); break;
    }
    default:
      td.textContent = v === null || v === undefined ? "–" : String(v);
      if (col.key === "url") td.className = "url";
  }
  const tag = row[`${col.key}_pill`];  // a tag beside a cell's value (the bottleneck)
  if (tag) td.append(" ", pill(tag, tag));
  const sub = row[`${col.key}_sub`];  // a second, quieter line under a cell (a server's model and URL)
  if (sub) { td.append(el("div", "cellsub", sub)); td.title = sub; }
  if (col.key === "errors" && v) { td.classList.add("bad"); if (row.errors_note) td.title = row.errors_note; }
  if (col.key === "url" && v) td.title = v;
  return td;
}

// -- blocks ---------------------------------------------------------------------------------------------------
function cardsBlock(b) {
  const wrap = el("div", "cards");
  for (const it of b.items) {
    const card = el("div", `card ${it.tone || ""}`);
    card.dataset.key = it.key || "";
    if (it.title) card.title = it.title;
    let value;
    switch (it.fmt) {
      case "frac": value = it.value === null || it.value === undefined ? "–" : `${Math.floor(it.value * 100)}%`; break;
      case "pace": value = pace(it.value); break;
      case "dur": value = duration(it.value); break;
      case "int": value = it.value === null || it.value === undefined ? "–" : nf0.format(it.value); break;
      case "num": value = num(it.value); break;
      default: value = it.value === null || it.value === undefined ? "–" : String(it.value);
    }
    const v = el("div", `value ${it.fmt === "text" ? "text" : ""}`, value);
    card.append(el("div", "label", it.label), v);
    if (it.fmt === "frac") card.append(progressBar(it.value, state.detailRunning ? "running" : ""));
    if (it.sub) card.append(el("div", "sub", it.sub));
    wrap.append(card);
  }
  return wrap;
}

function framed(b, body) {
  const box = el("div", "block");
  if (b.key) box.dataset.key = b.key;
  if (b.title) box.append(el("h2", null, b.title));
  box.append(body);
  if (b.note) box.append(el("div", "note", b.note));
  return box;
}

function tableBlock(b) {
  const table = el("table"), head = el("tr");
  for (const c of b.columns) {
    const th = el("th", ["int", "num", "s", "pace", "dur", "load"].includes(c.fmt) ? "num" : null, c.label);
    head.append(th);
  }
  table.append(el("thead", null, head));
  const body = el("tbody");
  for (const row of b.rows) {
    const tr = el("tr", row.role === "bottleneck" ? "hot" : null);
    for (const c of b.columns) tr.append(cell(c, row));
    body.append(tr);
  }
  if (!b.rows.length) body.append(el("tr", null, el("td", "muted", "nothing yet")));
  table.append(body);
  const scroller = el("div"); scroller.style.overflowX = "auto"; scroller.append(table);
  return framed(b, scroller);
}

function barsBlock(b) {
  const grid = el("div", "bars");
  const max = b.of || Math.max(1, ...b.items.map((i) => i.value));
  for (const it of b.items) {
    grid.append(el("div", "label", it.label), progressBar(it.value / max, "running"),
      el("div", "val", `${num(it.value)}${b.unit ? " " + b.unit : ""}`));
  }
  if (!b.items.length && !b.note) grid.append(el("div", "label muted", "none"));
  return framed(b, grid);
}

function kvBlock(b) {
  const grid = el("div", "kv");
  for (const [k, v] of b.items) grid.append(el("div", "k", k), el("div", "v", v === null || v === undefined ? "–" : String(v)));
  return framed(b, grid);
}

// -- charts: inline SVG (no library, no inline style: colours come from monitor.css) ------------------------------
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// counts in equal bins from 0 (bin k holds [k*width, (k+1)*width)); marks (mean, target) as vertical lines
function histogramBlock(b) {
  const W = 820, H = 190, L = 40, R = 10, T = 12, B = 24, n = b.counts.length || 1;
  const max = Math.max(1, ...b.counts), span = n * b.width, bw = (W - L - R) / n;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart histogram", role: "img",
    "aria-label": `${b.title}: ${b.counts.reduce((a, c) => a + c, 0)} answers` });
  for (const f of [0, 0.5, 1]) {
    const y = T + (H - T - B) * (1 - f);
    chart.append(svg("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid" }),
      svg("text", { x: L - 6, y: y + 4, class: "axis", "text-anchor": "end" }, nf0.format(max * f)));
  }
  b.counts.forEach((c, k) => {
    if (!c) return;
    const h = (H - T - B) * c / max;
    const rect = svg("rect", { x: L + k * bw + 0.5, y: H - B - h, width: Math.max(1, bw - 1), height: h, class: "col" });
    rect.append(svg("title", {}, `${num(k * b.width)}–${num((k + 1) * b.width)}: ${nf0.format(c)}`));
    chart.append(rect);
  });
  for (let t = 0; t <= 10; t++) {  // ticks at bins' starts: 0, 10, ... 100 for 101 bins of 1
    const v = Math.round((span - b.width) * t / 10), x = L + (W - L - R) * v / span;
    chart.append(svg("text", { x, y: H - 6, class: "axis", "text-anchor": "middle" }, num(v, 0)));
  }
  const legend = el("div", "legend");
  for (const [name, v] of Object.entries(b.marks || {})) {
    const x = L + (W - L - R) * Math.max(0, Math.min(1, v / span));
    chart.append(svg("line", { x1: x, x2: x, y1: T - 4, y2: H - B, class: `mark ${name}` }));
    legend.append(el("span", `key ${name}`, `${name} ${num(v)}`));
  }
  const body = el("div", "chartbox", chart, legend);
  return framed(b, body);
}

// lines over rounds (mean and target per round); a null y is a gap
function seriesBlock(b) {
  const W = 820, H = 170, L = 40, R = 10, T = 12, B = 24;
  const xs = b.lines.flatMap((l) => l.points.map((p) => p[0]));
  const ys = b.lines.flatMap((l) => l.points.map((p) => p[1])).filter((y) => y !== null && y !== undefined);
  const xMax = Math.max(2, b.x_max || 0, ...xs), yMax = Math.max(1, ...ys) * 1.1;
  const X = (x) => L + (W - L - R) * (x - 1) / Math.max(1, xMax - 1), Y = (y) => T + (H - T - B) * (1 - y / yMax);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart series", role: "img", "aria-label": b.title });
  for (const f of [0, 0.5, 1]) {
    chart.append(svg("line", { x1: L, x2: W - R, y1: Y(yMax * f), y2: Y(yMax * f), class: "grid" }),
      svg("text", { x: L - 6, y: Y(yMax * f) + 4, class: "axis", "text-anchor": "end" }, num(yMax * f, 0)));
  }
  const step = Math.max(1, Math.ceil(xMax / 10));
  for (let x = 1; x <= xMax; x += step) chart.append(svg("text", { x: X(x), y: H - 6, class: "axis", "text-anchor": "middle" }, x));
  const legend = el("div", "legend");
  for (const line of b.lines) {
    let d = "", pen = "M";
    for (const [x, y] of line.points) {
      if (y === null || y === undefined) { pen = "M"; continue; }
      d += `${pen}${X(x).toFixed(1)},${Y(y).toFixed(1)} `; pen = "L";
      const dot = svg("circle", { cx: X(x), cy: Y(y), r: line.points.length > 60 ? 1.5 : 3, class: `dot ${line.name}` });
      dot.append(svg("title", {}, `round ${x}: ${line.name} ${num(y)}`));
      chart.append(dot);
    }
    if (d) chart.append(svg("path", { d, class: `line ${line.name}` }));
    const last = line.points.filter((p) => p[1] !== null && p[1] !== undefined).pop();
    legend.append(el("span", `key ${line.name}`, `${line.name}${last ? ` ${num(last[1])} (round ${last[0]})` : ""}`));
  }
  return framed(b, el("div", "chartbox", chart, legend));
}

function block(b) {
  switch (b.type) {
    case "histogram": return histogramBlock(b);
    case "series": return seriesBlock(b);
    case "cards": return cardsBlock(b);
    case "table": return tableBlock(b);
    case "bars": return barsBlock(b);
    case "kv": return kvBlock(b);
    case "note": return el("div", `notice ${b.tone || ""}`, b.text);
    default: return el("div", "notice", `(a block of type ${b.type} this page does not draw)`);
  }
}

// -- the list and the detail ----------------------------------------------------------------------------------
function runItem(r) {
  const item = el("div", `run ${r.id === state.run ? "selected" : ""}`);
  item.dataset.run = r.id;
  item.addEventListener("click", () => select(r.id));
  const statePill = pill(r.state, r.state);
  if (r.state === "running") statePill.classList.add("pulse");
  item.append(el("div", "top", statePill, el("span", "name", r.name)));
  item.title = r.name;
  const meta = el("div", "meta");
  meta.append(el("span", "kindtext", r.kind_label || r.kind));
  if (r.game_time) meta.append(el("span", null, r.game_time));
  if (r.pace !== null && r.pace !== undefined) meta.append(el("span", null, `${pace(r.pace)} game-min/s`));
  if (r.eta_s !== null && r.eta_s !== undefined) meta.append(el("span", null, `${duration(r.eta_s)} left`));
  if (r.calls_per_s) meta.append(el("span", null, `${num(r.calls_per_s)} calls/s`));
  if (r.state !== "running" && r.started) meta.append(el("span", null, `started ${clockTime(r.started)}`));
  item.append(meta);
  if (r.progress !== null && r.progress !== undefined) {
    item.append(el("div", "progress barline", progressBar(r.progress, r.state === "running" ? "running" : r.health && r.health.level === "bad" ? "bad" : ""),
      el("span", "pct", `${Math.floor(r.progress * 100)}%`)));
  }
  const level = r.health ? r.health.level : "idle";
  if (r.health && r.health.text && (level === "bad" || level === "warn" || r.state === "corrupt")) {
    item.append(el("div", `why ${level}`, r.health.text));
  } else if (r.bottleneck) {
    item.append(el("div", "why", `slowest server: ${r.bottleneck}`));
  }
  return item;
}

function renderList(data) {
  const aside = document.getElementById("runs");
  const items = data.runs.map(runItem);
  if (!items.length) items.push(el("p", "muted pad", data.note || `No runs in ${data.saves} yet. Start one: smallville run --headless`));
  aside.replaceChildren(...items);
  const counts = {};
  for (const r of data.runs) counts[r.state] = (counts[r.state] || 0) + 1;
  const summary = document.getElementById("summary");
  summary.replaceChildren(...["running", "crashed", "corrupt", "stopped", "finished"].filter((s) => counts[s])
    .map((s) => pill(`${counts[s]} ${s}`, s)));
  document.getElementById("saves").textContent = data.saves;
  document.getElementById("saves").title = `saves folder: ${data.saves}`;
}

function renderDetail(d) {
  const section = document.getElementById("detail");
  if (!d) { section.replaceChildren(el("p", "muted pad", state.run ? `No run ${state.run} here (any more).` : "Choose a run on the left.")); return; }
  state.detailRunning = d.state === "running";
  const title = el("div", "title", el("h1", null, d.name), pill(d.state, d.state), pill(d.kind_label || d.kind, "kind"),
    el("span", "path", d.path));
  const h = d.health || { level: "idle", text: "" };
  const health = el("div", `health ${h.level}`, el("span", "icon"), el("span", null, h.text || d.why || d.state));
  health.id = "health";
  const parts = [title, health];
  const small = [];
  for (const b of d.blocks || []) {
    const node = block(b);
    // bars and short lists side by side; tables and cards full width
    if (b.type === "bars" || b.type === "kv") small.push(node); else { flush(); parts.push(node); }
  }
  flush();
  function flush() { if (small.length) { parts.push(el("div", "grid2", ...small.splice(0))); } }
  section.replaceChildren(...parts);
}

function render(data) {
  state.data = data;
  state.lastUpdate = Date.now();
  window.monitorUpdates = (window.monitorUpdates || 0) + 1;  // how many looks drawn (the browser test counts)
  if (!state.run && data.runs.length && state.firstLook) {
    state.firstLook = false;
    const running = data.runs.find((r) => r.state === "running");
    select((running || data.runs[0]).id);
    return;
  }
  renderList(data);
  renderDetail(data.detail);
}

// -- the stream -----------------------------------------------------------------------------------------------
function connect() {
  if (state.source) state.source.close();
  const url = "/api/stream" + (state.run ? `?run=${encodeURIComponent(state.run)}` : "");
  const source = new EventSource(url);
  state.source = source;
  source.addEventListener("update", (ev) => {
    setConn("live");
    render(JSON.parse(ev.data));
  });
  source.onerror = () => setConn("lost");
}

function setConn(kind) {
  const c = document.getElementById("conn");
  c.className = `conn ${kind}`;
  if (kind === "lost") document.getElementById("conn-text").textContent = "reconnecting…";
}

function select(id) {
  state.run = id;
  state.firstLook = false;
  history.replaceState(null, "", `${location.pathname}#run=${encodeURIComponent(id)}`);
  if (state.data) {  // the highlight at once; the stream brings the detail
    for (const node of document.querySelectorAll(".run")) node.classList.toggle("selected", node.dataset.run === id);
  }
  connect();
}

setInterval(() => {  // the age of what is shown: a page that stopped hearing says so
  if (!state.lastUpdate) return;
  const ago = (Date.now() - state.lastUpdate) / 1000;
  const text = document.getElementById("conn-text");
  if (ago > 5) { setConn("lost"); text.textContent = `no update for ${Math.round(ago)} s`; }
  else if (document.getElementById("conn").classList.contains("live")) text.textContent = `live · ${ago < 1 ? "now" : Math.floor(ago) + " s ago"}`;
}, 250);

// ?once: one look, no stream (a page that finishes loading: for `chromium --headless --screenshot`, printing)
async function once() {
  const get = async (url) => { const r = await fetch(url, { credentials: "same-origin" }); return r.ok ? r.json() : null; };
  const data = await get("/api/runs");
  if (!data) return;
  if (!state.run && data.runs.length) {
    state.run = (data.runs.find((r) => r.state === "running") || data.runs[0]).id;
  }
  data.detail = state.run ? await get(`/api/runs/${state.run.split("/").map(encodeURIComponent).join("/")}`) : null;
  state.firstLook = false;
  setConn("live");
  render(data);
  document.getElementById("conn-text").textContent = `as of ${new Date().toLocaleTimeString([], { hourCycle: "h23" })}`;
  state.lastUpdate = 0;
}

(function start() {
  const params = new URLSearchParams(location.search);
  if (params.has("token")) history.replaceState(null, "", location.pathname + (params.has("once") ? "?once" : "") + location.hash);  // the cookie holds it now
  const m = /run=([^&]+)/.exec(location.hash);
  if (m) { state.run = decodeURIComponent(m[1]); state.firstLook = false; }
  if (params.has("once")) once(); else connect();
})();
