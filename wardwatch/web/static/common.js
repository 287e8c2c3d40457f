// Shared by the station pages: fetch JSON from the app, going to the login page on a 401.
"use strict";
async function api(path, options) {
  const r = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  if (r.status === 401) { window.location.href = "/login"; throw new Error("not logged in"); }
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) { throw new Error((body && body.detail) ? JSON.stringify(body.detail) : r.statusText); }
  return body;
}
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}
function fmt(x, nd) { return (x === null || x === undefined) ? "-" : Number(x).toFixed(nd || 0); }
async function showUser() {
  const me = await api("/api/me");
  document.getElementById("user").textContent = me.name + " (" + me.role + ")";
  return me;
}
