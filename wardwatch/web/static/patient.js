// A patient's trends (windowed means from InfluxDB) as line charts.
"use strict";
const pid = decodeURIComponent(window.location.pathname.split("/").pop());
const CHARTS = [
  { title: "Heart rate (bpm)", series: [["hr_bpm", "#3fe06a", "monitor"], ["ecg_hr_bpm", "#a0ffa0", "ECG"]] },
  { title: "SpO2 (%)", series: [["spo2_pct", "#5ec8ff", "SpO2"]] },
  { title: "Respiration rate (/min)", series: [["rr_bpm", "#f0e060", "RR"]] },
  { title: "NIBP (mmHg)", series: [["sbp_mmhg", "#ff7b72", "systolic"], ["dbp_mmhg", "#ffb3ad", "diastolic"]] },
  { title: "Temperature (\u00b0C)", series: [["temp_c", "#d2a8ff", "temp"]] },
  { title: "NEWS2", series: [["news2", "#ffffff", "score"]] },
  { title: "Deterioration risk (probability)", series: [["risk", "#ffa657", "risk"]] },
];

function drawChart(canvas, series, t0, t1) {
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w; canvas.height = h;
  const g = canvas.getContext("2d");
  const vals = series.flatMap((s) => s.points.map((p) => p[1]));
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (lo === hi) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.1; lo -= pad; hi += pad;
  const L = 44, R = 8, T = 8, B = 18;
  const X = (t) => L + (t - t0) / (t1 - t0) * (w - L - R);
  const Y = (v) => T + (hi - v) / (hi - lo) * (h - T - B);
  g.strokeStyle = "#2a3440"; g.fillStyle = "#8b98a5"; g.font = "11px system-ui";
  for (let i = 0; i <= 4; i++) {
    const v = lo + (hi - lo) * i / 4, y = Y(v);
    g.beginPath(); g.moveTo(L, y); g.lineTo(w - R, y); g.stroke();
    g.fillText(v.toFixed(hi - lo < 5 ? 2 : 0), 2, y + 4);
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (t1 - t0) * i / 4;
    g.fillText(new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }), X(t) - 14, h - 4);
  }
  for (const s of series) {
    g.strokeStyle = s.colour; g.lineWidth = 1.6; g.beginPath();
    s.points.forEach((p, i) => (i ? g.lineTo(X(p[0]), Y(p[1])) : g.moveTo(X(p[0]), Y(p[1]))));
    g.stroke();
  }
}

async function load() {
  const hours = Number(document.getElementById("hours").value);
  const status = document.getElementById("status");
  let data;
  try {
    data = await api("/api/patients/" + encodeURIComponent(pid) + "/trends?hours=" + hours);
  } catch (e) {
    status.textContent = "trends unavailable: " + e.message;
    return;
  }
  document.getElementById("title").textContent = (data.bed ? data.bed + " \u00b7 " : "") + pid;
  const t1 = Date.now() / 1000, t0 = t1 - hours * 3600;
  const charts = document.getElementById("charts");
  charts.replaceChildren();
  let shown = 0;
  for (const c of CHARTS) {
    const series = c.series.filter(([k]) => (data.series[k] || []).length)
      .map(([k, colour, label]) => ({ key: k, colour, label, points: data.series[k] }));
    if (!series.length) continue;
    const box = el("section", "chart");
    box.dataset.chart = series.map((s) => s.key).join(",");
    const last = series.map((s) => s.label + " " + s.points[s.points.length - 1][1]).join(" \u00b7 ");
    box.append(el("h3", null, c.title + " \u2014 latest " + last));
    const canvas = el("canvas");
    box.append(canvas);
    charts.append(box);
    drawChart(canvas, series, t0, t1);
    shown++;
  }
  status.textContent = shown ? "means over " + data.window_s + " s windows, last " + hours + " h"
                             : "no data for this patient in the last " + hours + " h";
}

showUser();
document.getElementById("hours").addEventListener("change", load);
load();
setInterval(load, 60000);
