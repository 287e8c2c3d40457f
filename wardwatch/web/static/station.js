// The ward grid, the alarm list, live ECG sweeps and the audible cue of the central station.
"use strict";
const ECG_SECONDS = 6;          // width of a sweep
const ECG_MAX_LAG_S = 2.5;      // older pending signal is dropped: the sweep stays near live
const RANK = { high: 0, medium: 1, low: 2 };
const state = { me: null, beds: new Map(), alarms: [], ecg: new Map(), tiles: new Map(),
                sent: new Map() };  // "alert id|action" -> "sent" / "failed", kept across re-renders

// ------------------------------------------------------------------ beds
function tileFor(b) {
  let t = state.tiles.get(b.patient_id);
  if (t) return t;
  t = { root: el("article", "bed"), nums: {} };
  t.root.dataset.patient = b.patient_id;
  const title = el("div", "title");
  t.label = el("span", "label");
  const link = el("a", "pid");
  link.href = "/patient/" + encodeURIComponent(b.patient_id);
  link.textContent = b.patient_id;
  link.title = "trends";
  title.append(t.label, link);
  const nums = el("div", "nums");
  for (const [key, name] of [["hr", "HR"], ["spo2", "SpO2 %"], ["rr", "RR"], ["bp", "NIBP"],
                             ["temp", "Temp \u00b0C"], ["news2", "NEWS2"], ["risk", "Risk %"], ["ecghr", "ECG HR"]]) {
    const n = el("div", "num " + key);
    n.append(el("div", "k", name));
    const v = el("div", "v", "-");
    n.append(v);
    nums.append(n);
    t.nums[key] = v;
  }
  t.root.append(title, nums);
  state.tiles.set(b.patient_id, t);
  placeTiles();
  return t;
}

function placeTiles() {
  const grid = document.getElementById("beds");
  const order = [...state.beds.values()].sort((a, b) => (a.bed + a.patient_id).localeCompare(b.bed + b.patient_id));
  for (const b of order) { const t = state.tiles.get(b.patient_id); if (t) grid.append(t.root); }
}

function renderBed(b) {
  const known = state.beds.has(b.patient_id);
  state.beds.set(b.patient_id, b);
  const t = tileFor(b);
  if (!known) placeTiles();
  t.label.textContent = b.bed;
  const v = b.vitals || {};
  t.nums.hr.textContent = fmt(v.hr_bpm);
  t.nums.spo2.textContent = fmt(v.spo2_pct);
  t.nums.rr.textContent = fmt(v.rr_bpm);
  t.nums.bp.textContent = (v.sbp_mmhg == null) ? "-" : fmt(v.sbp_mmhg) + "/" + fmt(v.dbp_mmhg);
  t.nums.temp.textContent = fmt(v.temp_c, 1);
  t.nums.news2.textContent = b.news2 ? String(b.news2.score) : "-";
  t.nums.news2.className = "v" + (b.news2 && b.news2.risk ? " n2-" + b.news2.risk : "");
  t.nums.risk.textContent = b.risk && b.risk.probability != null ? fmt(100 * b.risk.probability) : "-";
  t.nums.ecghr.textContent = fmt(b.ecg_hr_bpm);
  if (b.has_ecg && !t.canvas) {
    t.canvas = el("canvas", "ecg");
    t.canvas.dataset.patient = b.patient_id;
    t.root.append(t.canvas);
  }
}

function removeBed(pid) {
  const t = state.tiles.get(pid);
  if (t) t.root.remove();
  state.tiles.delete(pid);
  state.beds.delete(pid);
  state.ecg.delete(pid);
}

function markBedAlarms() {
  const worst = new Map();
  for (const a of state.alarms) {
    const cur = worst.get(a.patient_id);
    if (cur === undefined || RANK[a.priority] < RANK[cur]) worst.set(a.patient_id, a.priority);
  }
  for (const [pid, t] of state.tiles) {
    t.root.classList.remove("alarm-high", "alarm-medium", "alarm-low");
    if (worst.has(pid)) t.root.classList.add("alarm-" + worst.get(pid));
  }
}

// ------------------------------------------------------------------ alarms
function silenced(a) { return a.silenced_until && Date.parse(a.silenced_until) > Date.now(); }

function renderAlarms() {
  const list = document.getElementById("alarm-list");
  list.replaceChildren();
  for (const a of state.alarms) {
    const li = el("li", "alarm " + a.priority + (a.acknowledged ? " acked" : " unack"));
    li.dataset.alertId = a.alert_id;
    li.dataset.priority = a.priority;
    const head = el("div", "head");
    head.append(el("span", "prio", a.priority), el("span", "where", a.bed), el("span", "src", a.source));
    const msg = el("div", "msg", a.message);
    msg.title = a.message;
    li.append(head, msg);
    const bits = [new Date(a.onset_ts).toLocaleTimeString()];
    if (a.latched && a.active === false) bits.push("latched: condition ended, acknowledge to clear");
    if (a.acknowledged) bits.push("acknowledged by " + (a.by_name || a.by || "?"));
    if (silenced(a)) bits.push("silenced until " + new Date(a.silenced_until).toLocaleTimeString() +
                               (a.by ? " by " + (a.by_name || a.by) : ""));
    const ev = a.evidence || {};
    const shown = Object.entries(ev).slice(0, 4).map(([k, v]) => k + " " + (Math.round(v * 100) / 100));
    if (shown.length) bits.push(shown.join(", "));
    li.append(el("div", "state", bits.join(" \u00b7 ")));
    const acts = el("div", "acts");
    if (!a.acknowledged) acts.append(actionButton(a, "acknowledge", "Acknowledge"));
    acts.append(actionButton(a, "silence", "Silence 2 min"));
    if (a.has_strip) {
      const s = el("button", "strip", "ECG strip");
      s.addEventListener("click", () => showStrip(a));
      acts.append(s);
    }
    li.append(acts);
    list.append(li);
  }
  const open = new Set(state.alarms.map((a) => a.alert_id));
  for (const key of state.sent.keys()) if (!open.has(key.split("|")[0])) state.sent.delete(key);
  document.getElementById("alarm-count").textContent = String(state.alarms.length);
  document.getElementById("no-alarms").hidden = state.alarms.length > 0;
  markBedAlarms();
}

function actionButton(a, action, label) {
  const key = a.alert_id + "|" + action;
  const b = el("button", action, state.sent.has(key) ? label + ": " + state.sent.get(key) : label);
  b.dataset.action = action;
  if (state.me && !state.me.may_act) { b.disabled = true; b.title = "your role may not " + action; }
  if (state.sent.get(key) === "sent") b.disabled = true;
  b.addEventListener("click", async () => {
    b.disabled = true;
    const body = action === "silence" ? { action, duration_s: 120 } : { action };
    try {
      await api("/api/alarms/" + encodeURIComponent(a.alert_id) + "/action", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      state.sent.set(key, "sent");
      // a silence can be sent again once it has run out
      if (action === "silence") setTimeout(() => { state.sent.delete(key); renderAlarms(); }, 120000);
    } catch (e) {
      state.sent.set(key, "failed");
      b.title = String(e);
      b.disabled = false;
    }
    renderAlarms();
  });
  return b;
}

function showStrip(a) {
  document.getElementById("strip-title").textContent = a.bed + " \u00b7 " + a.source + " \u00b7 " + a.message;
  document.getElementById("strip-img").src = "/api/alarms/" + encodeURIComponent(a.alert_id) + "/strip.png";
  document.getElementById("strip-dialog").showModal();
}

// ------------------------------------------------------------------ ECG sweeps
function ecgTrace(pid, fs) {
  let e = state.ecg.get(pid);
  if (!e || e.fs !== fs) {
    e = { fs, buf: new Float32Array(Math.round(fs * ECG_SECONDS)).fill(NaN), cursor: 0, pending: [], carry: 0 };
    state.ecg.set(pid, e);
  }
  return e;
}

function ecgPush(u) {
  const e = ecgTrace(u.patient_id, u.fs);
  for (const x of u.samples) e.pending.push(x);
  const max = Math.round(ECG_MAX_LAG_S * e.fs);
  if (e.pending.length > max) e.pending.splice(0, e.pending.length - max);
}

function ecgFill(pid, trace) {
  if (!trace || !trace.fs) return;
  const e = ecgTrace(pid, trace.fs);
  for (const x of trace.samples) { e.buf[e.cursor] = x; e.cursor = (e.cursor + 1) % e.buf.length; }
}

let lastFrame = performance.now();
function drawEcg(now) {
  const dt = Math.min(0.25, (now - lastFrame) / 1000);
  lastFrame = now;
  for (const [pid, e] of state.ecg) {
    const t = state.tiles.get(pid);
    if (!t || !t.canvas) continue;
    e.carry += e.fs * dt;
    let n = Math.floor(e.carry);
    e.carry -= n;
    while (n-- > 0 && e.pending.length) {
      e.buf[e.cursor] = e.pending.shift();
      e.cursor = (e.cursor + 1) % e.buf.length;
    }
    paintEcg(t.canvas, e);
  }
  requestAnimationFrame(drawEcg);
}

function paintEcg(c, e) {
  const w = c.clientWidth, h = c.clientHeight;
  if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
  const g = c.getContext("2d");
  g.clearRect(0, 0, w, h);
  let sum = 0, cnt = 0;
  for (const x of e.buf) if (!Number.isNaN(x)) { sum += x; cnt++; }
  const base = cnt ? sum / cnt : 0;
  const scale = h / 3000;               // 3 mV over the strip's height
  const gap = Math.round(e.fs * 0.15);  // blank ahead of the sweep cursor
  g.strokeStyle = "#3fe06a";
  g.lineWidth = 1.4;
  g.beginPath();
  let pen = false;
  for (let i = 0; i < e.buf.length; i++) {
    const ahead = (i - e.cursor + e.buf.length) % e.buf.length;
    const x = e.buf[i];
    if (Number.isNaN(x) || ahead < gap) { pen = false; continue; }
    const px = i * w / e.buf.length, py = Math.max(1, Math.min(h - 1, h * 0.55 - (x - base) * scale));
    if (pen) g.lineTo(px, py); else { g.moveTo(px, py); pen = true; }
  }
  g.stroke();
}

// ------------------------------------------------------------------ audible cue (off by default)
let audio = null, tick = 0;
function beep(freq, times) {
  if (!audio) return;
  for (let i = 0; i < times; i++) {
    const o = audio.createOscillator(), v = audio.createGain();
    const t0 = audio.currentTime + i * 0.22;
    o.frequency.value = freq;
    v.gain.setValueAtTime(0.0001, t0);
    v.gain.exponentialRampToValueAtTime(0.2, t0 + 0.02);
    v.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.16);
    o.connect(v).connect(audio.destination);
    o.start(t0);
    o.stop(t0 + 0.18);
  }
}
function soundTick() {
  tick++;
  if (!audio) return;
  const loud = state.alarms.filter((a) => !a.acknowledged && !silenced(a));
  // IEC 60601-1-8 style: high priority a fast burst often, medium a slower one less often
  if (loud.some((a) => a.priority === "high")) { if (tick % 3 === 0) beep(880, 3); }
  else if (loud.some((a) => a.priority === "medium")) { if (tick % 8 === 0) beep(660, 2); }
}
document.getElementById("sound").addEventListener("change", (ev) => {
  if (ev.target.checked) { audio = audio || new AudioContext(); audio.resume(); }
  else if (audio) { audio.suspend(); audio = null; }
});

// ------------------------------------------------------------------ live feed
function setFeed(ok) {
  const f = document.getElementById("feed");
  f.textContent = ok ? "live" : "no data feed";
  f.className = "feed " + (ok ? "on" : "off");
}

function connect() {
  const es = new EventSource("/api/events");
  es.addEventListener("snapshot", (m) => {
    const s = JSON.parse(m.data);
    const shown = new Set(s.beds.map((b) => b.patient_id));
    for (const pid of [...state.beds.keys()]) if (!shown.has(pid)) removeBed(pid);  // forgotten while away
    for (const b of s.beds) renderBed(b);
    state.alarms = s.alarms;
    renderAlarms();
    for (const [pid, tr] of Object.entries(s.ecg || {})) ecgFill(pid, tr);
    setFeed(s.feed_ok);
  });
  es.addEventListener("bed", (m) => renderBed(JSON.parse(m.data).bed));
  es.addEventListener("bed_removed", (m) => removeBed(JSON.parse(m.data).patient_id));
  es.addEventListener("alarms", (m) => { state.alarms = JSON.parse(m.data).alarms; renderAlarms(); });
  es.addEventListener("ecg", (m) => ecgPush(JSON.parse(m.data)));
  es.addEventListener("feed", (m) => setFeed(JSON.parse(m.data).ok));
  es.addEventListener("logout", () => { window.location.href = "/login"; });
  es.onerror = () => {
    setFeed(false);
    if (es.readyState === EventSource.CLOSED) {
      setTimeout(() => api("/api/me").then(connect).catch(() => {}), 2000);
    }
  };
}

showUser().then((me) => { state.me = me; renderAlarms(); connect(); });
setInterval(soundTick, 1000);
requestAnimationFrame(drawEcg);
