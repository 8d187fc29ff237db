// kubetune's dashboard: plain JS over the REST facade, no build step. The token lives in sessionStorage
// (gone with the tab) and every call sends it as a Bearer header, like any other client.
"use strict";

const TOKEN_KEY = "kubetune.token";
let streamAbort = null; // the open training stream, closed when the view changes

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))));
}

function fmt(x, digits = 4) {
  return typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toFixed(digits)) : (x ?? "");
}

class HttpError extends Error {}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` }, options.headers);
  const resp = await fetch(path, Object.assign({}, options, { headers }));
  if (resp.status === 401) { logout(); throw new HttpError("session expired: log in again"); }
  const body = resp.headers.get("content-type")?.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) throw new HttpError(`${resp.status}: ${typeof body === "string" ? body : JSON.stringify(body)}`);
  return body;
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  render();
}

async function login(event) {
  event.preventDefault();
  const form = new URLSearchParams({ username: byId("username").value, password: byId("password").value });
  const resp = await fetch("/api/v1/auth/token", { method: "POST", body: form });
  if (!resp.ok) { byId("login-error").textContent = `Login failed (${resp.status})`; return; }
  sessionStorage.setItem(TOKEN_KEY, (await resp.json()).access_token);
  byId("login-error").textContent = "";
  if (!location.hash || location.hash === "#/") location.hash = "#/trainings"; else render();
}

const byId = (id) => document.getElementById(id);

// ---- pages -------------------------------------------------------------------------------------------

async function projectsPage(view) {
  const { projects } = await api("/api/v1/projects?limit=100");
  view.append(el("h1", {}, "Projects"), table(["Name", "Key", "Namespace", "Status", "Created"],
    projects.map((p) => [p.name, p.key, p.namespace, p.status, p.created_at])));
}

async function trainingsPage(view) {
  const { data } = await api("/api/v1/trainings?size=100");
  view.append(el("h1", {}, "Trainings"), table(["Name", "Phase", "Progress", "Method", "Base model", "Created"],
    data.map((t) => [el("a", { href: `#/training/${t.id}`, class: "training-link" }, t.name), t.phase,
      `${fmt(t.progress)}%`, t.method, t.base_model, t.created_at])));
}

function drawCurve(canvas, points) {
  // points: [{step, loss}] sorted by step; axes scaled to the data, one polyline.
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 40;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = "#888"; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(pad, pad / 2); ctx.lineTo(pad, h - pad); ctx.lineTo(w - pad / 2, h - pad); ctx.stroke();
  canvas.dataset.points = String(points.length);
  if (!points.length) return;
  const steps = points.map((p) => p.step), losses = points.map((p) => p.loss);
  const x0 = Math.min(...steps), x1 = Math.max(...steps, x0 + 1);
  let y0 = Math.min(...losses), y1 = Math.max(...losses);
  if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
  const X = (s) => pad + (s - x0) / (x1 - x0) * (w - 1.5 * pad);
  const Y = (l) => h - pad - (l - y0) / (y1 - y0) * (h - 1.5 * pad);
  ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
  ctx.fillText(fmt(y1, 3), 2, pad / 2 + 4); ctx.fillText(fmt(y0, 3), 2, h - pad);
  ctx.fillText(`step ${x0}`, pad, h - pad + 14); ctx.fillText(`step ${x1}`, w - pad * 1.5, h - pad + 14);
  ctx.strokeStyle = "#1565c0"; ctx.lineWidth = 2; ctx.beginPath();
  points.forEach((p, i) => (i ? ctx.lineTo(X(p.step), Y(p.loss)) : ctx.moveTo(X(p.step), Y(p.loss))));
  ctx.stroke();
  ctx.fillStyle = "#1565c0";
  for (const p of points) { ctx.beginPath(); ctx.arc(X(p.step), Y(p.loss), 2.5, 0, 2 * Math.PI); ctx.fill(); }
}

async function* sseFrames(path, signal) {
  // EventSource cannot send an Authorization header, so the stream is read with fetch.
  const resp = await fetch(path, { headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}`,
    Accept: "text/event-stream" }, signal });
  if (!resp.ok) throw new HttpError(`stream: ${resp.status}`);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      let event = "message"; const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

async function trainingPage(view, id) {
  const t = await api(`/api/v1/trainings/${encodeURIComponent(id)}`);
  const bar = el("div", { id: "bar-fill" });
  const stats = el("p", { id: "stats" }, `${t.phase}`);
  const canvas = el("canvas", { id: "curve", width: 640, height: 280, dataset: { points: "0" } });
  const events = el("tbody", { id: "events" });
  const phase = el("span", { id: "phase" }, t.phase);
  const logBox = el("pre", { id: "log" });
  view.append(el("h1", {}, `Training ${t.name}`),
    el("p", {}, "Phase: ", phase, ` · ${t.method} on ${t.base_model} · trainer ${t.trainer_name ?? t.trainer_id ?? ""}`),
    t.tracking_url ? el("p", {}, el("a", { id: "tracking-link", href: t.tracking_url, target: "_blank",
      rel: "noopener" }, "Run in MLflow")) : "",
    el("div", { class: "bar" }, bar), stats,
    el("div", { class: "grid" },
      el("div", {}, el("h2", {}, "Loss"), canvas),
      el("div", {}, el("h2", {}, "Hyperparameters"), table(["Name", "Value"],
        Object.entries(t.params || {}).map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : fmt(v, 6)])))),
    el("h2", {}, "Events"), el("table", {}, el("thead", {}, el("tr", {},
      ["Time", "Type", "Reason", "Message"].map((h) => el("th", {}, h)))), events),
    el("h2", {}, "Log"), el("button", { id: "load-log", type: "button", onclick: () => loadLog(id, logBox) }, "Load the last 200 lines"),
    logBox);

  const points = new Map(); // step -> loss, so a replayed frame never doubles a point
  const redraw = () => drawCurve(canvas, [...points].sort((a, b) => a[0] - b[0]).map(([step, loss]) => ({ step, loss })));
  if (t.task_id) {
    try {
      const curve = await api(`/api/v1/metrics/loss?experiment_id=${encodeURIComponent(t.task_id)}`);
      for (const p of curve.data) if (typeof p.loss === "number") points.set(p.step, p.loss);
    } catch (e) { /* no curve yet: the stream fills it */ }
  }
  redraw();
  const addEvent = (e) => events.prepend(el("tr", {}, [e.created_at, e.type, e.reason, e.message].map((c) => el("td", {}, c ?? ""))));
  const history = await api(`/api/v1/trainings/${encodeURIComponent(id)}/events?size=50`);
  history.data.slice().reverse().forEach(addEvent);

  streamAbort = new AbortController();
  try {
    for await (const frame of sseFrames(`/api/v1/trainings/${encodeURIComponent(id)}/events/stream`, streamAbort.signal)) {
      const d = frame.data;
      if (frame.event === "progress") {
        if (typeof d.loss === "number") { points.set(d.step, d.loss); redraw(); }
        bar.style.width = `${d.percent || 0}%`;
        stats.textContent = `step ${d.step}/${d.total_steps} · loss ${fmt(d.loss)} · lr ${fmt(d.learning_rate, 6)}` +
          (d.tokens_per_second ? ` · ${fmt(d.tokens_per_second, 0)} tokens/s` : "") +
          (d.eta_seconds != null ? ` · ETA ${fmt(d.eta_seconds, 0)} s` : "");
        phase.textContent = d.phase;
      } else if (frame.event === "status" || frame.event === "event") {
        addEvent(d);
        if (frame.event === "status" && d.reason) phase.textContent = d.reason;
      } else if (frame.event === "end") {
        phase.textContent = d.phase || phase.textContent;
        if (d.phase === "Succeeded") bar.style.width = "100%";
        view.dataset.ended = "true";
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") stats.textContent = `stream closed: ${e.message}`;
  }
}

async function loadLog(id, box) {
  // The trainer pod's log through the facade (pods/log as the caller); its error, when there is one, is shown as is.
  box.textContent = "…";
  try {
    const text = await api(`/api/v1/trainings/${encodeURIComponent(id)}/logs?tail=200`);
    box.textContent = typeof text === "string" && text ? text : "(empty log)";
  } catch (e) { box.textContent = e.message; }
  box.dataset.loaded = "true";
}

async function datasetsPage(view) {
  const { projects } = await api("/api/v1/projects?limit=100");
  view.append(el("h1", {}, "Datasets"));
  for (const p of projects) {
    const { datasets } = await api(`/api/v1/datasets?project_id=${p.id}&limit=100`);
    view.append(el("h2", {}, p.name), table(["Name", "Validation", "Rows", "Format", "Size", "Details"],
      datasets.map((d) => [d.name, d.status, fmt(d.row_count), d.format, fmt(d.size), d.description ?? ""])));
  }
}

async function inferencePage(view) {
  const { models } = await api("/api/v1/inference/models");
  const ready = models.filter((m) => m.status === "ready");
  const select = el("select", { id: "model" }, ready.map((m) => el("option", { value: m.id }, m.id)));
  const prompt = el("textarea", { id: "prompt" }, "Hello");
  const maxTokens = el("input", { id: "max-tokens", type: "number", value: "16", min: "1", max: "512" });
  const answer = el("div", { id: "answer" });
  const meta = el("p", { id: "answer-meta" });
  const send = async () => {
    answer.textContent = "…"; delete answer.dataset.done;
    try {
      const r = await api("/api/v1/inference/generate", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ model_id: select.value, prompt: prompt.value, max_tokens: Number(maxTokens.value) }) });
      answer.textContent = r.output;
      meta.textContent = `${r.usage?.completion_tokens ?? "?"} tokens in ${fmt(r.latency_ms, 0)} ms`;
    } catch (e) { answer.textContent = ""; meta.textContent = e.message; meta.className = "error"; }
    answer.dataset.done = "true";
  };
  view.append(el("h1", {}, "Inference services"), table(["Model", "Name", "Provider", "Status"],
    models.map((m) => [m.id, m.name, m.provider, m.status])),
    el("h2", {}, "Playground"), el("label", {}, "Model", select), el("label", {}, "Max tokens", maxTokens),
    chatPanel(select, maxTokens),
    el("h3", {}, "Single completion"), el("label", {}, "Prompt", prompt),
    el("button", { id: "generate", type: "button", onclick: send }, "Generate"), answer, meta);
}

// A multi-turn chat: the page keeps the conversation and sends all of it with each turn to the gateway's
// /v1/chat/completions (the model id `project/service` is one the gateway resolves), reading the SSE stream.
function chatPanel(select, maxTokens) {
  let history = [];
  const transcript = el("div", { id: "chat", dataset: { turns: "0" } });
  const input = el("textarea", { id: "chat-input", placeholder: "Ask something; Ctrl+Enter sends" });
  const status = el("p", { id: "chat-status" });
  const bubble = (role, text) => {
    const node = el("div", { class: `msg ${role}`, dataset: { role } }, el("b", {}, role === "user" ? "You" : "Model"),
      el("span", {}, text));
    transcript.append(node);
    return node.lastChild;
  };
  const reset = () => { history = []; transcript.replaceChildren(); transcript.dataset.turns = "0"; status.textContent = ""; };
  const sendTurn = async () => {
    const text = input.value.trim();
    if (!text || transcript.dataset.busy) return;
    transcript.dataset.busy = "true"; status.className = ""; status.textContent = "…";
    history.push({ role: "user", content: text });
    bubble("user", text);
    input.value = "";
    const out = bubble("assistant", "");
    try {
      const resp = await fetch("/v1/chat/completions", { method: "POST", headers: {
        Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}`, "Content-Type": "application/json" },
        body: JSON.stringify({ model: select.value, messages: history, max_tokens: Number(maxTokens.value),
          stream: true, stream_options: { include_usage: true } }) });
      if (resp.status === 401) { logout(); return; }
      if (!resp.ok) throw new HttpError(`${resp.status}: ${await resp.text()}`);
      const usage = await readChatStream(resp, (delta) => { out.textContent += delta; });
      history.push({ role: "assistant", content: out.textContent });
      transcript.dataset.turns = String(history.filter((m) => m.role === "assistant").length);
      status.textContent = `${usage?.completion_tokens ?? "?"} tokens; ${history.length} messages in the conversation`;
    } catch (e) {
      history.pop(); out.parentElement.remove(); // the turn failed: it is not part of the conversation
      status.className = "error"; status.textContent = e.message;
    } finally { delete transcript.dataset.busy; }
  };
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" && e.ctrlKey) sendTurn(); });
  return el("div", { class: "chat-panel" }, el("h3", {}, "Chat"), transcript, input,
    el("div", {}, el("button", { id: "chat-send", type: "button", onclick: sendTurn }, "Send"), " ",
      el("button", { id: "chat-reset", type: "button", onclick: reset }, "New conversation")), status);
}

// Calls onDelta with each content delta of an OpenAI chat SSE stream; returns the usage of its last frame.
async function readChatStream(resp, onDelta) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "", usage = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return usage;
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split("\n");
    buffer = lines.pop();
    for (const line of lines) {
      if (!line.startsWith("data: ")) continue;
      const payload = line.slice(6).trim();
      if (payload === "[DONE]") return usage;
      const frame = JSON.parse(payload);
      if (frame.error) throw new HttpError(frame.error.message || JSON.stringify(frame.error));
      usage = frame.usage || usage;
      for (const choice of frame.choices || []) if (choice.delta?.content) onDelta(choice.delta.content);
    }
  }
}

async function gpuPage(view) {
  const g = await api("/api/v1/gpu");
  view.append(el("h1", {}, "GPUs"),
    el("p", { id: "gpu-summary" }, `${g.allocated_gpus} of ${g.total_gpus} GPUs allocated · memory ${fmt(g.used_memory_mb, 0)}` +
      ` / ${fmt(g.total_memory_mb, 0)} MB · average utilization ${fmt(g.avg_utilization, 1)}%`),
    table(["Node", "Details"], (g.nodes || []).map((n) => [n.name ?? n.node ?? "", JSON.stringify(n)])));
}

const PAGES = { projects: projectsPage, trainings: trainingsPage, training: trainingPage, datasets: datasetsPage,
  inference: inferencePage, gpu: gpuPage };

async function render() {
  if (streamAbort) { streamAbort.abort(); streamAbort = null; }
  const loggedIn = Boolean(sessionStorage.getItem(TOKEN_KEY));
  byId("login").hidden = loggedIn; byId("nav").hidden = !loggedIn; byId("view").hidden = !loggedIn;
  const old = byId("view");
  const view = el("section", { id: "view" });
  view.hidden = !loggedIn;
  old.replaceWith(view);
  if (!loggedIn) return;
  const [name, arg] = location.hash.replace(/^#\/?/, "").split("/");
  const page = PAGES[name] || trainingsPage;
  view.dataset.page = PAGES[name] ? name : "trainings";
  try { await page(view, arg && decodeURIComponent(arg)); }
  catch (e) { view.append(el("p", { class: "error", id: "page-error" }, e.message)); }
}

byId("login").addEventListener("submit", login);
byId("logout").addEventListener("click", logout);
window.addEventListener("hashchange", render);
render();
