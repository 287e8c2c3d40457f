"""The web central station: a FastAPI app with login, the live ward, alarm actions and trends.

Pages (``/``, ``/patient/{id}``) and every ``/api`` route need a logged-in user. Logging in checks
the users file (:func:`wardwatch.identity.authenticate`) and sets an HttpOnly, SameSite=Strict
session cookie holding a token from :func:`wardwatch.identity.issue_token`: the cookie is signed
(HMAC-SHA256) and expires with the token. An acknowledge / silence click sends the alarm-action
contract message to ``alerts.ack`` with that token: the alert consumer takes the acting user from
the verified token only (the station never writes ``by``). That token is issued for the action
and lives :data:`ACTION_TOKEN_TTL_S`; the session's own token never leaves the browser and the app.

Bad requests get a 4xx JSON answer (``{"detail": ...}``), a page without a session a redirect to
the login page, and an unexpected error a 500 JSON answer: never a traceback. No access log: URLs
carry patient ids, and log lines must not (:mod:`wardwatch.logs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import StreamingResponse

from wardwatch import topics
from wardwatch.identity import AuthError, User, allowed, authenticate, issue_token, load_users, verify_token
from wardwatch.logs import log_event, pid_ref
from wardwatch.settings import Settings
from wardwatch.web.live import LiveWard, sse
from wardwatch.web.trends import MAX_HOURS, trends_flux, trends_series, window_s

log = logging.getLogger("wardwatch.web")

STATIC = Path(__file__).parent / "static"
COOKIE = "wardwatch_session"
HEARTBEAT_S = 15.0
#: Lifetime of the token an alarm action carries on ``alerts.ack``. Not the session's own token:
#: anyone who can read the topic would otherwise hold a bearer session for the rest of the shift.
#: Long enough for the alert consumer to verify it after a worker restart or rebalance.
ACTION_TOKEN_TTL_S = 600.0
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class ActionIn(BaseModel):
    """An acknowledge / silence request from the station (the alarm is named in the URL)."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["acknowledge", "silence"]
    duration_s: float | None = Field(None, gt=0, le=600, description="silence only; default 120 s")
    reason: str | None = Field(None, max_length=500)


def ack_message(
    patient_id: str, alert_id: str, action: str, token: str, duration_s: float | None, reason: str | None
) -> dict[str, Any]:
    """The ``alerts.ack`` contract message (key = patient id); the user is only in ``token``.

    >>> sorted(ack_message("P1", "al-1", "silence", "v1.x.y", 60, None))
    ['action', 'alert_id', 'duration_s', 'patient_id', 'token']
    """
    msg: dict[str, Any] = {"patient_id": patient_id, "alert_id": alert_id, "action": action, "token": token}
    if action == "silence":
        msg["duration_s"] = float(duration_s or 120.0)
    if reason:
        msg["reason"] = reason
    return msg


class LoginRequired(Exception):
    """A page was asked for without a valid session: answered with a redirect to /login."""


@dataclass(frozen=True)
class Station:
    """What every route needs: the settings, the token secret and the live ward."""

    settings: Settings
    secret: bytes
    live: LiveWard


def station_of(request: Request) -> Station:
    station: Station = request.app.state.station
    return station


def create_app(settings: Settings, *, follow_kafka: bool = True) -> FastAPI:
    """The station app for ``settings``. Raises ValueError when no token secret is configured:
    the station signs every user's token and cannot run without one.

    ``follow_kafka=False`` leaves out the background Kafka reader (unit tests of the HTTP side).
    """
    station = Station(settings, settings.auth_secret_value(), LiveWard(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(station.live.run()) if follow_kafka else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await station.live.close()

    app = FastAPI(title="WardWatch central station", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.station = station
    app.state.live = station.live
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(Exception, _internal)
    app.middleware("http")(_headers)
    app.include_router(router)
    return app


# ------------------------------------------------------------------ errors and headers
async def _to_login(_request: Request, _exc: Exception) -> Response:
    return RedirectResponse("/login", status_code=303)


async def _internal(_request: Request, exc: Exception) -> Response:
    log_event(log, "web request failed", logging.ERROR, error=repr(exc)[:300])
    return JSONResponse({"detail": "internal error"}, status_code=500)


async def _headers(request: Request, call_next: Any) -> Response:
    response: Response = await call_next(request)
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response


# ------------------------------------------------------------------ sessions
def session_user(request: Request) -> User | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return verify_token(token, station_of(request).secret, time.time())
    except AuthError:
        return None


def api_user(request: Request) -> User:
    user = session_user(request)
    if user is None:
        raise HTTPException(401, "not logged in, or the session has expired")
    return user


def page_user(request: Request) -> User:
    user = session_user(request)
    if user is None:
        raise LoginRequired()
    return user


def same_origin(request: Request) -> None:
    """Refuse a state-changing request sent from another site's page (behind SameSite=Strict
    cookies, a second line of defence)."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise HTTPException(403, "cross-origin request refused")


def login_page(message: str = "", status: int = 200) -> HTMLResponse:
    html = (STATIC / "login.html").read_text()
    return HTMLResponse(html.replace("{{message}}", _escape(message)), status_code=status)


router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    if session_user(request) is not None:
        return RedirectResponse("/", status_code=303)
    return login_page()


@router.post("/login")
def login(
    request: Request,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=256),
    _origin: None = Depends(same_origin),
) -> Response:
    st = station_of(request)
    try:
        users = load_users(st.settings.users_path)
    except (OSError, ValueError) as e:
        log_event(log, "users file unreadable", logging.ERROR, error=repr(e)[:200])
        return login_page("The users file cannot be read; ask an administrator.", 503)
    user = authenticate(users, username.strip().lower(), password)
    if user is None:
        log_event(log, "login failed", logging.WARNING)
        return login_page("Unknown user or wrong password.", 401)
    ttl = st.settings.auth_token_ttl_s
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        issue_token(user, st.secret, time.time(), ttl),
        max_age=int(ttl),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    log_event(log, "login", user=user.username, role=user.role)
    return response


@router.post("/logout")
def logout(_origin: None = Depends(same_origin)) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


# ------------------------------------------------------------------ pages
@router.get("/", response_class=HTMLResponse)
def station_page(_user: User = Depends(page_user)) -> Response:
    return HTMLResponse((STATIC / "station.html").read_text())


@router.get("/patient/{patient_id}", response_class=HTMLResponse)
def patient_page(patient_id: str, _user: User = Depends(page_user)) -> Response:
    return HTMLResponse((STATIC / "patient.html").read_text())


# ------------------------------------------------------------------ API
# Routes that read the ward are ``async``: they run on the event loop, the one thread that also
# changes the ward (the Kafka reader), so they never see it half-updated.
@router.get("/api/me")
def me(user: User = Depends(api_user)) -> dict[str, Any]:
    return {
        "username": user.username,
        "name": user.name,
        "role": user.role,
        "may_act": allowed(user, "acknowledge"),
    }


@router.get("/api/snapshot")
async def snapshot(request: Request, _user: User = Depends(api_user)) -> dict[str, Any]:
    return station_of(request).live.view()


@router.get("/api/events")
async def events(request: Request, _user: User = Depends(api_user)) -> Response:
    st = station_of(request)
    q, first = st.live.subscribe()
    token = request.cookies.get(COOKIE, "")

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n" + first
            while True:
                try:
                    item = await asyncio.wait_for(q.get(), HEARTBEAT_S)
                except TimeoutError:
                    item = ": keep-alive\n\n"
                if item is None:
                    return
                try:  # a session that expires mid-stream ends the stream
                    verify_token(token, st.secret, time.time())
                except AuthError:
                    yield sse("logout", {})
                    return
                yield item
        finally:
            st.live.unsubscribe(q)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"},
    )


@router.post("/api/alarms/{alert_id}/action", status_code=202)
async def act(
    alert_id: str,
    body: ActionIn,
    request: Request,
    user: User = Depends(api_user),
    _origin: None = Depends(same_origin),
) -> dict[str, Any]:
    """Send an acknowledge / silence for an alarm the station shows, as the logged-in user."""
    live = station_of(request).live
    if not allowed(user, body.action):
        raise HTTPException(403, f"role {user.role!r} may not {body.action}")
    alarm = live.ward.alarms.get(alert_id)
    if alarm is None:
        raise HTTPException(404, "no active alarm with this id")
    if body.action == "acknowledge" and body.duration_s is not None:
        raise HTTPException(422, "duration_s belongs to silence only")
    token = issue_token(user, station_of(request).secret, time.time(), ACTION_TOKEN_TTL_S)
    pid = alarm["patient_id"]
    msg = ack_message(pid, alert_id, body.action, token, body.duration_s, body.reason)
    try:
        await asyncio.wait_for(live.send(topics.ALERTS_ACK, pid, msg), 15.0)
    except Exception as e:  # noqa: BLE001 - the broker's failure is the answer, not a crash
        log_event(log, "alarm action not sent", logging.ERROR, error=repr(e)[:200])
        raise HTTPException(503, "the alarm action could not be sent; try again") from None
    log_event(
        log,
        "alarm action sent",
        action=body.action,
        alert_id=alert_id,
        user=user.username,
        patient=pid_ref(pid),
    )
    return {"sent": {k: v for k, v in msg.items() if k != "token"}, "by": user.username}


@router.get("/api/alarms/{alert_id}/strip.png")
async def strip(alert_id: str, request: Request, _user: User = Depends(api_user)) -> Response:
    """The ECG strip PNG the stream worker rendered for an arrhythmia alarm (only from inside
    the artifacts folder)."""
    st = station_of(request)
    path = st.live.ward.strips.get(alert_id)
    if path is None:
        raise HTTPException(404, "no ECG strip for this alarm")
    p = Path(path).resolve()
    if not p.is_relative_to(st.settings.artifacts_path.resolve()) or p.suffix != ".png" or not p.is_file():
        raise HTTPException(404, "the ECG strip is not available")
    return FileResponse(p, media_type="image/png")


@router.get("/api/patients/{patient_id}/trends")
async def trends(
    patient_id: str,
    request: Request,
    hours: float = Query(4.0, gt=0, le=MAX_HOURS),
    _user: User = Depends(api_user),
) -> dict[str, Any]:
    """Windowed means of a patient's vitals, NEWS2, risk and ECG heart rate from InfluxDB."""
    from wardwatch.influx_read import flux_rows

    st = station_of(request)
    if len(patient_id) > 64:
        raise HTTPException(422, "a patient id is 1-64 characters")
    flux = trends_flux(st.settings.influx_bucket, patient_id, hours)
    try:
        rows = await asyncio.to_thread(flux_rows, flux, st.settings)
    except Exception as e:  # noqa: BLE001 - InfluxDB down or refusing: a 503, not a traceback
        log_event(log, "trends query failed", logging.ERROR, error=repr(e)[:200])
        raise HTTPException(503, "InfluxDB did not answer the trends query") from None
    bed = st.live.ward.beds.get(patient_id)
    return {
        "patient_id": patient_id,
        "bed": bed.bed if bed else "",
        "hours": hours,
        "window_s": window_s(hours),
        "series": trends_series(rows),
    }


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


__all__ = ["COOKIE", "ActionIn", "ack_message", "create_app"]
