// diffai console. Everything that comes from traffic is attacker-controlled: it is only ever
// put on the page with textContent (never innerHTML), so it shows as text and never runs.
"use strict";

const $ = (id) => document.getElementById(id);
const GLOW_MS = 10000;
const BEEP_EVERY_MS = 1500;

const state = {
  lastSeq: null,      // null until the first hello: alerts raised before the page opened are history, not news
  alerts: 0,
  lastAlertAt: null,
  glowUntil: 0,
  beepTimer: null,
  socket: null,
  backoff: 500,
  soundBlocked: false,
  logsPages: [],      // `before` offsets of the pages shown, for Newer
  logsNext: null,
  currentJob: null,
};

// ---------- helpers

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options));
  if (response.status === 401) { showLogin(); throw new Error("sign in first"); }
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error((body && body.error) || response.statusText);
  return body;
}

function postJSON(path, value) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(value || {}) });
}

function severityOf(alert) {
  return (alert.diffai && alert.diffai.severity) || "medium";
}

function requestLine(alert) {
  const http = alert.http || {};
  return `${http.http_method || ""} ${http.hostname ? "http://" + http.hostname : ""}${http.url || ""}`.trim();
}

function endpoint(ip, port) {
  if (ip === undefined) return "";
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function shortTime(timestamp) {
  return (timestamp || "").replace("T", " ").replace(/\.\d+\+0000$/, "");
}

// ---------- pages

function showPage() {
  const page = (location.hash.replace(/^#\//, "") || "home").split("?")[0];
  const known = ["home", "train", "logs", "rules"];
  const name = known.includes(page) ? page : "home";
  for (const other of known) $("page-" + other).hidden = other !== name;
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("current", link.dataset.page === name);
  if (name === "logs") loadLogs(null, true);
  if (name === "rules") loadRules();
  if (name === "train") loadTrain();
  document.body.dataset.page = name;
}

function showLogin() {
  $("login").hidden = false;
  for (const page of document.querySelectorAll("section[id^=page-]")) page.hidden = true;
}

// ---------- live stream

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const since = state.lastSeq === null ? "" : `?since=${state.lastSeq}`;
  const socket = new WebSocket(`${scheme}//${location.host}/ws${since}`);
  state.socket = socket;
  socket.onopen = () => {
    state.backoff = 500;
    $("connection").textContent = "live";
    $("connection").className = "connection online";
  };
  socket.onmessage = (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    handleMessage(message);
  };
  socket.onclose = () => {
    $("connection").textContent = "reconnecting…";
    $("connection").className = "connection offline";
    setTimeout(connect, state.backoff);
    state.backoff = Math.min(state.backoff * 2, 10000);
  };
}

function handleMessage(message) {
  switch (message.type) {
    case "hello":
      $("c-mode").textContent = message.mode;
      if (state.lastSeq === null) state.lastSeq = message.seq;
      else if (message.seq < state.lastSeq) state.lastSeq = 0;   // the sensor restarted, and its numbering with it
      if (!message.complete) refetchRecent();
      break;
    case "alert":
      if (message.seq <= state.lastSeq) return;
      state.lastSeq = message.seq;
      onAlert(message.alert, true);
      break;
    case "stats":
      showStats(message.stats);
      break;
    case "training":
      onTraining(message.job);
      break;
    case "rules":
      if (!$("page-rules").hidden) loadRules();
      break;
  }
}

async function refetchRecent() {
  // Alerts were missed while disconnected and are no longer held by the sensor: read them
  // from the history instead.
  try {
    const page = await api("/api/alerts?limit=20");
    $("recent").replaceChildren();
    for (const item of page.alerts.slice().reverse()) addRecent(item.alert);
  } catch { /* the next message will do */ }
}

function showStats(stats) {
  if (!stats) return;
  $("c-requests").textContent = stats.requests;
  // Everything not inspected, by reason: the total shows, the reasons are its tooltip.
  const lost = typeof stats.not_inspected === "number" ? stats.not_inspected : stats.drops;
  $("c-drops").textContent = lost;
  const reasons = Object.entries(stats.losses || {}).filter(([, count]) => count > 0)
    .map(([reason, count]) => `${reason.replaceAll("_", " ")}: ${count}`);
  if (stats.alerts_not_written) reasons.push(`alerts not written: ${stats.alerts_not_written}`);
  $("c-drops").parentElement.title = reasons.length ? reasons.join("\n") : "nothing was left uninspected";
  if (typeof stats.alerts === "number" && stats.alerts > state.alerts) {
    state.alerts = stats.alerts;
    $("c-alerts").textContent = state.alerts;
  }
}

function onAlert(alert, live) {
  state.alerts += 1;
  $("c-alerts").textContent = state.alerts;
  const signature = (alert.alert && alert.alert.signature) || "alert";
  $("latest-title").textContent = signature;
  const detail = `${endpoint(alert.src_ip, alert.src_port)} → ${endpoint(alert.dest_ip, alert.dest_port)}  ${requestLine(alert)}`;
  $("latest-detail").textContent = detail;
  $("latest-title").className = "sev-" + severityOf(alert);
  addRecent(alert);
  if (live) {
    state.lastAlertAt = Date.now();
    raiseAlarm();
  }
  tick();
}

// One entry per incident; its evidence (every rule, the model) unfolds under it.
function addRecent(alert) {
  const item = el("li", null, "sev-" + severityOf(alert));
  const details = el("details");
  const summary = el("summary");
  summary.append(el("span", shortTime(alert.timestamp), "time"));
  summary.append(el("span", severityOf(alert), "badge"));
  summary.append(el("span", (alert.alert && alert.alert.signature) || "", "signature"));
  const more = matchesOf(alert).length - 1;
  summary.append(el("span", more > 0 ? `+${more}` : "", "more"));
  summary.append(el("span", requestLine(alert), "url"));
  details.append(summary, matchList(alert));
  item.append(details);
  $("recent").prepend(item);
  while ($("recent").children.length > 20) $("recent").lastChild.remove();
}

function matchesOf(alert) {
  return (alert.diffai && alert.diffai.matches) || [];
}

// The incident's evidence, one line each: what matched, where, how many points.
function matchList(alert) {
  const list = el("ul", null, "matches");
  for (const match of matchesOf(alert)) {
    const who = match.source === "ml" ? "ML model" : `rule ${match.signature_id}`;
    const points = match.points !== undefined ? ` +${match.points}` : "";
    const text = `${who}${points}: ${match.signature || ""}${match.target ? " in " + match.target : ""}${match.snippet ? " — " + match.snippet : ""}`;
    list.append(el("li", text));
  }
  return list;
}

// The circle glows and the beep repeats for 10 s, or until the next alert starts it again,
// or until the analyst clicks the circle.
function raiseAlarm() {
  state.glowUntil = Date.now() + GLOW_MS;
  $("alarm").classList.add("active");
  document.body.classList.add("alarming");
  if (state.beepTimer) clearInterval(state.beepTimer);
  beep();
  state.beepTimer = setInterval(() => {
    if (Date.now() >= state.glowUntil) { quiet(); return; }
    beep();
  }, BEEP_EVERY_MS);
}

function quiet() {
  state.glowUntil = 0;
  $("alarm").classList.remove("active");
  document.body.classList.remove("alarming");
  if (state.beepTimer) clearInterval(state.beepTimer);
  state.beepTimer = null;
  const audio = $("beep");
  audio.pause();
}

function beep() {
  const audio = $("beep");
  try { audio.currentTime = 0; } catch { /* not loaded yet */ }
  const played = audio.play();
  if (played && played.catch) {
    played.then(() => { state.soundBlocked = false; $("sound-hint").hidden = true; })
      .catch(() => { state.soundBlocked = true; $("sound-hint").hidden = false; });
  }
}

function tick() {
  if (state.lastAlertAt === null) { $("elapsed").textContent = "—"; return; }
  let seconds = Math.floor((Date.now() - state.lastAlertAt) / 1000);
  const h = Math.floor(seconds / 3600); seconds -= h * 3600;
  const m = Math.floor(seconds / 60); const s = seconds - m * 60;
  $("elapsed").textContent = `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

async function loadStats() {
  try {
    const stats = await api("/api/stats");
    $("c-mode").textContent = stats.mode;
    showStats(stats.stats);
  } catch { /* shown when the socket connects */ }
}

// ---------- View Logs

function logsQuery(before) {
  const params = new URLSearchParams();
  const text = $("logs-text").value.trim();
  if (text) params.set("q", text);
  if ($("logs-severity").value) params.set("severity", $("logs-severity").value);
  if ($("logs-source").value) params.set("source", $("logs-source").value);
  if (before !== null && before !== undefined) params.set("before", before);
  return params;
}

async function loadLogs(before, reset) {
  if (reset) state.logsPages = [];
  const params = logsQuery(before);
  params.set("limit", "25");
  const exportParams = logsQuery(null);
  $("logs-export").href = "/api/alerts/export" + (exportParams.toString() ? "?" + exportParams : "");
  let page;
  try { page = await api("/api/alerts?" + params); } catch (error) { $("logs-file").textContent = error.message; return; }
  let note = page.file ? `from ${page.file}` : "no alert file yet";
  if (page.skipped_lines) note += ` · ${page.skipped_lines} unreadable line(s) skipped`;
  if (page.partial) note += " · search stopped for time: Older goes on from here";
  $("logs-file").textContent = note;
  const rows = $("logs-rows");
  rows.replaceChildren();
  for (const item of page.alerts) rows.append(logRow(item.alert));
  $("logs-empty").hidden = page.alerts.length > 0;
  state.logsNext = page.next_before;
  $("logs-older").disabled = page.next_before === null;
  $("logs-newest").disabled = before === null || before === undefined;
}

function logRow(alert) {
  const row = el("tr", null, "sev-" + severityOf(alert));
  const http = alert.http || {};
  const source = alert.diffai ? alert.diffai.source : "";
  row.append(el("td", shortTime(alert.timestamp)));
  row.append(el("td", severityOf(alert)));
  const more = matchesOf(alert).length - 1;
  const lead = source === "ml" ? `ML ${alert.diffai.ml_score ?? ""}` : `rule ${alert.alert ? alert.alert.signature_id : ""}`;
  row.append(el("td", more > 0 ? `${lead} +${more}` : lead));
  row.append(el("td", alert.alert ? alert.alert.signature : ""));
  row.append(el("td", endpoint(alert.src_ip, alert.src_port)));
  row.append(el("td", requestLine(alert), "url"));
  row.append(el("td", http.status ?? ""));
  row.tabIndex = 0;
  row.addEventListener("click", () => showDetail(alert));
  row.addEventListener("keydown", (event) => { if (event.key === "Enter") showDetail(alert); });
  return row;
}

function showDetail(alert) {
  const list = $("logs-detail-list");
  list.replaceChildren();
  const http = alert.http || {};
  const diffai = alert.diffai || {};
  const a = alert.alert || {};
  const fields = [
    ["Time", alert.timestamp], ["Alert", a.signature], ["Rule", diffai.source === "ml" ? "ML model" : a.signature_id],
    ["Severity", diffai.severity], ["Category", a.category], ["Action", a.action],
    ["Client", endpoint(alert.src_ip, alert.src_port)], ["Server", endpoint(alert.dest_ip, alert.dest_port)],
    ["Method", http.http_method], ["Host", http.hostname], ["URL", http.url], ["Status", http.status],
    ["User-Agent", http.http_user_agent], ["Matched in", diffai.target], ["Snippet", diffai.snippet],
    ["Anomaly score", diffai.score], ["ML score", diffai.ml_score], ["Anomalies", (diffai.anomalies || []).join(", ")],
    ["Incident", diffai.incident_id], ["Flow", alert.flow_id],
  ];
  for (const [name, value] of fields) {
    if (value === undefined || value === null || value === "") continue;
    list.append(el("dt", name));
    list.append(el("dd", value));
  }
  if (matchesOf(alert).length) {
    list.append(el("dt", "Evidence"));
    const item = el("dd");
    item.append(matchList(alert));
    list.append(item);
  }
  $("logs-detail").hidden = false;
}

// ---------- Rules

async function loadRules() {
  let rules;
  try { rules = await api("/api/rules"); } catch (error) { $("rules-result").textContent = error.message; return; }
  $("rules-file").textContent = `${rules.rules.length} rules from ${rules.file}`;
  const rows = $("rules-rows");
  rows.replaceChildren();
  for (const rule of rules.rules) {
    const row = el("tr", null, rule.enabled ? "" : "disabled");
    row.append(el("td", rule.id), el("td", rule.message), el("td", rule.severity), el("td", rule.action), el("td", rule.enabled ? "yes" : "no"));
    rows.append(row);
  }
}

async function reloadRules() {
  const result = $("rules-result");
  result.className = "note";
  result.textContent = "reloading…";
  try {
    const answer = await postJSON("/api/rules/reload");
    result.className = "success";
    result.textContent = answer.message;
    loadRules();
  } catch (error) {
    result.className = "error";
    result.textContent = "Reload failed, the previous rules stay in force: " + error.message;
  }
}

// ---------- Train

async function loadTrain() {
  try {
    const { datasets } = await api("/api/datasets");
    $("train-no-data").hidden = datasets.length > 0;
    $("train-start").disabled = datasets.length === 0;
    for (const [select, guess] of [[$("train-benign"), /good|benign/i], [$("train-malicious"), /bad|malicious|attack/i]]) {
      const previous = select.value;
      select.replaceChildren();
      for (const dataset of datasets) {
        const option = el("option", `${dataset.id} (${Math.max(1, Math.round(dataset.bytes / 1024))} KB)`);
        option.value = dataset.id;
        select.append(option);
      }
      const preferred = datasets.find((d) => d.id === previous) || datasets.find((d) => guess.test(d.name));
      if (preferred) select.value = preferred.id;
    }
    const { jobs } = await api("/api/training");
    const list = $("train-jobs");
    list.replaceChildren();
    for (const job of jobs) list.append(jobItem(job));
    const running = jobs.find((job) => job.state === "running");
    if (running) onTraining(running);
  } catch (error) {
    $("train-stage").textContent = error.message;
  }
}

function jobItem(job) {
  const text = `#${job.id} ${job.state}${job.active ? " (in use)" : ""}: ${job.benign} + ${job.malicious}` +
    (job.metrics ? ` — accuracy ${(job.metrics.accuracy * 100).toFixed(2)} %` : "") + (job.error ? ` — ${job.error}` : "");
  return el("li", text, "job-" + job.state);
}

async function startTraining(event) {
  event.preventDefault();
  $("train-start").disabled = true;
  try {
    const job = await postJSON("/api/training", { benign: $("train-benign").value, malicious: $("train-malicious").value });
    onTraining(job);
  } catch (error) {
    $("train-job").hidden = false;
    $("train-error").hidden = false;
    $("train-error").textContent = error.message;
    $("train-start").disabled = false;
  }
}

function onTraining(job) {
  if (state.currentJob && job.id < state.currentJob) return;
  state.currentJob = job.id;
  $("train-job").hidden = false;
  $("train-job-title").textContent = `Training job #${job.id}: ${job.benign} + ${job.malicious}`;
  $("train-progress").value = job.progress;
  $("train-stage").textContent = job.state === "running" ? `${Math.round(job.progress * 100)} % — ${job.stage}` : "";
  $("train-error").hidden = job.state !== "failed";
  $("train-error").textContent = job.error ? `Training failed: ${job.error}` : "";
  $("train-done").hidden = job.state !== "succeeded";
  $("train-start").disabled = job.state === "running";
  const table = $("train-metrics");
  if (job.state === "succeeded" && job.metrics) {
    $("train-done").textContent = `Training finished: model saved to ${job.model}.`;
    const body = table.tBodies[0];
    body.replaceChildren();
    const m = job.metrics;
    const percent = (v) => `${(v * 100).toFixed(2)} %`;
    for (const [name, value] of [["Accuracy", percent(m.accuracy)], ["Precision", percent(m.precision)], ["Recall", percent(m.recall)],
      ["F1", percent(m.f1)], ["False-positive rate", percent(m.false_positive_rate)],
      ["False positives on generated benign traffic", percent(m.generated_benign_fpr)],
      ["Lines (benign / malicious)", `${m.benign_lines} / ${m.malicious_lines}`],
      ["Left out: nothing to judge (bare paths, words) / benign lines the rules flag", `${m.inert_dropped} / ${m.mislabelled_dropped}`],
      ["Time", `${m.seconds} s`]]) {
      const row = el("tr");
      row.append(el("th", name), el("td", value));
      body.append(row);
    }
    table.hidden = false;
    $("train-activate").hidden = job.active;
    $("train-activation").textContent = job.active ? (job.activation || "in use") : "";
  } else {
    table.hidden = true;
    $("train-activate").hidden = true;
  }
  if (job.state !== "running" && !$("page-train").hidden) refreshJobList();
}

async function refreshJobList() {
  try {
    const { jobs } = await api("/api/training");
    const list = $("train-jobs");
    list.replaceChildren();
    for (const job of jobs) list.append(jobItem(job));
  } catch { /* keep the old list */ }
}

async function activateModel() {
  if (!state.currentJob) return;
  $("train-activate").disabled = true;
  try {
    const answer = await postJSON(`/api/training/${state.currentJob}/activate`);
    $("train-activation").className = "success";
    $("train-activation").textContent = answer.message;
    $("train-activate").hidden = true;
  } catch (error) {
    $("train-activation").className = "error";
    $("train-activation").textContent = error.message;
  } finally {
    $("train-activate").disabled = false;
  }
}

async function upload(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return;
  $("upload-status").textContent = "uploading…";
  try {
    const entry = await api("/api/datasets?name=" + encodeURIComponent(file.name), { method: "POST", body: file });
    $("upload-status").textContent = `stored as ${entry.id}`;
    loadTrain();
  } catch (error) {
    $("upload-status").textContent = error.message;
  }
}

// ---------- start

async function login(event) {
  event.preventDefault();
  try {
    await postJSON("/api/login", { token: $("login-token").value });
    location.reload();
  } catch (error) {
    $("login-error").textContent = error.message;
  }
}

function enableSound() {
  const audio = $("beep");
  audio.muted = false;
  const played = audio.play();
  if (played && played.then) played.then(() => { audio.pause(); $("sound-hint").hidden = true; state.soundBlocked = false; }).catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  window.addEventListener("hashchange", showPage);
  $("alarm").addEventListener("click", quiet);
  $("enable-sound").addEventListener("click", enableSound);
  document.addEventListener("click", () => { if (state.soundBlocked) enableSound(); }, { once: false });
  $("logs-filter").addEventListener("submit", (event) => { event.preventDefault(); loadLogs(null, true); });
  $("logs-older").addEventListener("click", () => { if (state.logsNext !== null) { state.logsPages.push(state.logsNext); loadLogs(state.logsNext, false); } });
  $("logs-newest").addEventListener("click", () => loadLogs(null, true));
  $("rules-reload").addEventListener("click", reloadRules);
  $("train-form").addEventListener("submit", startTraining);
  $("upload-form").addEventListener("submit", upload);
  $("train-activate").addEventListener("click", activateModel);
  $("login-form").addEventListener("submit", login);
  // Browsers that block autoplay say so before the first alert: show the hint at once.
  try {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (Context && new Context().state === "suspended") { state.soundBlocked = true; $("sound-hint").hidden = false; }
  } catch { /* no Web Audio: the first beep will tell */ }
  showPage();
  loadStats();
  refetchRecentOnStart();
  connect();
  setInterval(tick, 1000);
});

async function refetchRecentOnStart() {
  try {
    const page = await api("/api/alerts?limit=10");
    for (const item of page.alerts.slice().reverse()) addRecent(item.alert);
  } catch { /* nothing yet */ }
}
