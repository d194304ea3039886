"""`pyinstall runs serve`: the runs kept, browsed read-only in a browser. Starlette (routing, requests,
responses) under uvicorn (the HTTP server, TLS); pages rendered on the server from templates/web with
Jinja2, every string escaped and its control characters made visible; no script, font or style from
anywhere else (air-gapped), and none run at all: steps fold with <details>.

    records (read-only engine) ─▶ view models here ─▶ templates/web/*.html.j2 ─▶ HTML

    /                 the runs, filtered (command, status, host, since, rollout) and paged
    /runs/ID          a run: its hosts with status and time, each host's steps folded, findings, drift
    /hosts/NAME       a host's history
    /rollouts/ID      a rollout's shards merged
    /diff?a=A&b=B     what changed between two runs

On loopback (the default) anyone on this machine may read; on any other address the server refuses to
start without a token and TLS, and every request then needs the token (a session cookie after /login, or
`Authorization: Bearer TOKEN`).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import ipaddress
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jinja2
import markupsafe

from installer import localfiles, records, rundiff
from installer.errors import UsageError
from installer.platforms import TEMPLATES_DIR
from installer.vocabulary import KEPT_COMMANDS, RUN_STATUS_WORDS

PAGE = 50  # runs on a page
COOKIE = "pyinstall_session"
SECURITY_HEADERS = {
    # Nothing but this server's own stylesheet and forms; no script at all, no framing.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
TOKEN_MIN = 16  # characters: a token shorter than this is guessable


@dataclass(frozen=True)
class Access:
    """Who may read: anyone who reaches the address (loopback), or the holders of the token."""

    token: str | None = None
    secure: bool = False  # TLS: the session cookie is sent over HTTPS only

    def session(self) -> str:
        """The cookie /login sets: derived from the token (the token itself never travels in a cookie)."""
        assert self.token is not None
        return hmac.new(self.token.encode(), b"pyinstall runs serve session", hashlib.sha256).hexdigest()

    def allows(self, headers: Any, cookies: dict[str, str]) -> bool:
        if self.token is None:
            return True
        bearer = headers.get("authorization", "")
        if bearer.startswith("Bearer ") and hmac.compare_digest(bearer[7:].strip().encode(), self.token.encode()):
            return True
        return hmac.compare_digest(cookies.get(COOKIE, "").encode(), self.session().encode())


def loopback(bind: str) -> bool:
    if bind == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind).is_loopback
    except ValueError:
        return False


def access(bind: str, token_file: str | None, tls_cert: str | None, tls_key: str | None) -> Access:
    """The rule: on loopback, a token is optional; on any other address, a token and TLS, or no start."""
    if bool(tls_cert) != bool(tls_key):
        raise UsageError("--tls-cert and --tls-key go together", "give both, the certificate and its key")
    if not loopback(bind) and not (token_file and tls_cert):
        missing = " and ".join(w for w, given in (("--token-file", token_file), ("--tls-cert/--tls-key", tls_cert))
                               if not given)  # fmt: skip
        raise UsageError(
            f"runs serve --bind {bind}: not a loopback address, and no {missing}: the runs (host names, "
            "configuration, who ran what) would be open to the network",
            "give --token-file FILE and --tls-cert/--tls-key, or keep the default 127.0.0.1 behind a reverse proxy "
            "that does TLS and authentication (README: Run history in a browser)",
        )
    token = None
    if token_file:
        warning = localfiles.readable_by_others(token_file)
        if warning:
            raise UsageError(f"--token-file: {warning}", "the token is a password: keep it to its owner")
        try:
            token = Path(token_file).read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--token-file {token_file}: {getattr(exc, 'strerror', None) or exc}",
                             "give a file holding the token") from None  # fmt: skip
        if len(token) < TOKEN_MIN or not token.isascii() or any(c.isspace() for c in token):
            raise UsageError(
                f"--token-file {token_file}: the token must be at least {TOKEN_MIN} printable characters, no spaces",
                "e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > FILE",
            )
    if tls_cert:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(tls_cert, tls_key)
        except (OSError, ssl.SSLError) as exc:
            why = getattr(exc, "strerror", None) or exc
            raise UsageError(
                f"--tls-cert {tls_cert} / --tls-key {tls_key}: {why}",
                "give a PEM certificate and the unencrypted PEM key that goes with it",
            ) from None
    return Access(token, secure=bool(tls_cert))


# ---------------------------------------------------------------- view models: records in, plain values out


def _when(seconds: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) if seconds else ""


def _took(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def _host_seconds(record: dict[str, Any]) -> float | None:
    """A host's time in the run: its own (check, exec), else the sum of its steps' or tests'."""
    if isinstance(record.get("seconds"), (int, float)):
        return float(record["seconds"])
    parts = [t.get("seconds") for t in record.get("tasks") or []] + [
        t.get("duration") for t in record.get("tests") or []
    ]
    known = [p for p in parts if isinstance(p, (int, float))]
    return sum(known) if known else None


def _steps(record: dict[str, Any]) -> list[dict[str, Any]]:
    """What the host went through, in order: tasks (provision, remove), tests (verify)."""
    steps = [{"name": t.get("name", ""), "status": t.get("status", ""), "message": t.get("msg", ""),
              "took": _took(t.get("seconds")), "hint": t.get("hint") or ""}
             for t in record.get("tasks") or []]  # fmt: skip
    steps += [{"name": t.get("name", ""), "status": t.get("outcome", ""), "message": t.get("message", ""),
               "took": _took(t.get("duration")), "hint": ""} for t in record.get("tests") or []]  # fmt: skip
    return steps


def _why(record: dict[str, Any]) -> str:
    from installer.report import record_why

    try:
        return record_why(record)
    except (KeyError, ValueError):  # a record of a status this pyinstall does not know
        return str(record.get("error") or "")


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    hosts = []
    for name, record in sorted(run["report_json"].get("hosts", {}).items()):
        info = record.get("docker_info") if isinstance(record.get("docker_info"), dict) else {}
        hosts.append({
            "name": name, "status": str(record.get("status", "")), "why": _why(record),
            "took": _took(_host_seconds(record)), "steps": _steps(record),
            "findings": [f for f in record.get("findings") or [] if isinstance(f, dict)],
            "drift": [{"text": f"{d.get('where')}: {d.get('key')}" if d.get("key") else str(d.get("where")),
                       "asked": d.get("asked"), "found": d.get("found")} for d in record.get("drift") or []],
            "version": info.get("server_version"), "driver": info.get("storage_driver"),
            "stdout": record.get("stdout") or "", "stderr": record.get("stderr") or "",
        })  # fmt: skip
    status = run.get("status") or records.run_status(run["ended"], run["exit_status"])
    return {**run, "status": status, "check_mode": bool(run.get("check_mode")),
            "started_at": _when(run["started"]), "ended_at": _when(run["ended"]),
            "took": _took(run["ended"] - run["started"]) if run["ended"] else "", "hosts": hosts}  # fmt: skip


def _list_view(kept: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "started_at": _when(r["started"]), "counts": sorted(r["hosts"].items())} for r in kept]


# ---------------------------------------------------------------- the application


def templates() -> jinja2.Environment:
    from installer.report import html_environment

    env = html_environment(TEMPLATES_DIR / "web")
    env.globals.update(standalone=False, database="", guarded=False)
    return env


def run_page(run: dict[str, Any]) -> str:
    """A kept run as one self-contained page (`runs show ID --html FILE`): the run page of `runs serve`,
    its stylesheet inline and its links within the page; opens offline, runs no script."""
    css = markupsafe.Markup((TEMPLATES_DIR / "web" / "pyinstall.css").read_text())  # pyinstall's own file
    return templates().get_template("run.html.j2").render(standalone=True, stylesheet=css, title=f"Run {run['id']}",
                                                          run=run_view(run))  # fmt: skip


def app(url: str, guard: Access) -> Any:
    """The Starlette application over the database at ``url`` (opened read-only by the caller)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
    from starlette.routing import Route

    env = templates()
    stylesheet = (TEMPLATES_DIR / "web" / "pyinstall.css").read_text()
    icon = (TEMPLATES_DIR / "web" / "icon.svg").read_text()

    def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = env.get_template(template).render(database=records.shown(url), guarded=guard.token is not None,
                                                 **values)  # fmt: skip
        return HTMLResponse(html, status_code=status)

    def missing(request: Request, what: str) -> HTMLResponse:
        return page(request, "error.html.j2", 404, title="Not found", message=what)

    def number(request: Request, name: str) -> int | None:
        text = request.query_params.get(name, "").strip()
        return int(text) if text.isdigit() and len(text) < 12 else None

    def index(request: Request) -> Response:
        q = request.query_params
        problems = []
        command = q.get("command") or None
        status = q.get("status") or None
        if command and command not in KEPT_COMMANDS:
            problems.append(f"no command {command!r}")
            command = None
        if status and status not in RUN_STATUS_WORDS:
            problems.append(f"no status {status!r}")
            status = None
        since = None
        if q.get("since"):
            from installer.cli.parser import since as parse_since

            try:
                since = parse_since(q["since"])
            except argparse.ArgumentTypeError as exc:  # its words say why
                problems.append(f"since: {exc}")
        filters = records.Filters(command, status, q.get("host") or None, since, q.get("rollout") or None)
        offset = number(request, "offset") or 0
        kept, total = records.runs(url, PAGE, filters, offset)
        chosen = {k: q.get(k, "") for k in ("command", "status", "host", "since", "rollout")}
        later = {k: v for k, v in chosen.items() if v}
        return page(request, "runs.html.j2", title="Runs", runs=_list_view(kept), total=total, offset=offset,
                    more=max(0, total - offset - len(kept)), chosen=chosen, commands=KEPT_COMMANDS,
                    statuses=RUN_STATUS_WORDS, problems=problems,
                    next_page="?" + urlencode({**later, "offset": offset + PAGE}),
                    previous_page="?" + urlencode({**later, "offset": max(0, offset - PAGE)}))  # fmt: skip

    def run(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        found = records.run(url, run_id)
        if found is None:
            return missing(request, f"No run {run_id} is kept.")
        return page(request, "run.html.j2", title=f"Run {run_id}", run=run_view(found))

    def host(request: Request) -> Response:
        name = request.path_params["name"]
        history = records.host_history(url, name, PAGE)
        if not history:
            return missing(request, f"No run kept worked on a host named {name}.")
        for h in history:
            h["started_at"] = _when(h["started"])
        return page(request, "host.html.j2", title=f"Host {name}", name=name, history=history)

    def rollout(request: Request) -> Response:
        from installer.report import rollout_json

        rollout_id = request.path_params["rollout_id"]
        merged = rollout_json(rollout_id, records.rollout(url, rollout_id))
        if not merged["runs"]:
            return missing(request, f"No run of rollout {rollout_id} is kept.")
        for r in merged["runs"]:
            r["started_at"] = _when(r["started"])
        commands = {command: [{"name": n, "status": str(rec.get("status")), "why": _why(rec), "run": rec["run"],
                               "shard": rec["shard"]} for n, rec in sorted(hosts.items())]
                    for command, hosts in merged["hosts"].items()}  # fmt: skip
        return page(request, "rollout.html.j2", title=f"Rollout {rollout_id}", rollout=rollout_id,
                    runs=merged["runs"], commands=commands)  # fmt: skip

    def diff(request: Request) -> Response:
        a, b = number(request, "a"), number(request, "b")
        if a is None or b is None:
            return page(request, "diff.html.j2", title="Compare two runs", d=None, a=request.query_params.get("a", ""),
                        b=request.query_params.get("b", ""), describe=rundiff.describe)  # fmt: skip
        old, new = records.run(url, a), records.run(url, b)
        if old is None or new is None:
            return missing(request, f"No run {a if old is None else b} is kept.")
        d = rundiff.diff(old, new)
        return page(request, "diff.html.j2", title=f"Runs {a} and {b}", d=d, a=a, b=b, describe=rundiff.describe)

    def style(request: Request) -> Response:
        return Response(stylesheet, media_type="text/css")

    def favicon(request: Request) -> Response:
        return Response(icon, media_type="image/svg+xml")

    async def login(request: Request) -> Response:
        if guard.token is None:
            return RedirectResponse("/", status_code=303)
        if request.method == "GET":
            return page(request, "login.html.j2", title="Sign in", failed=False)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0].strip()
        if not hmac.compare_digest(given.encode(), guard.token.encode()):
            return page(request, "login.html.j2", 401, title="Sign in", failed=True)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, guard.session(), httponly=True, samesite="strict", secure=guard.secure, path="/")
        return response

    routes = [
        Route("/", index),
        Route("/runs/{run_id:int}", run),
        Route("/hosts/{name:path}", host),
        Route("/rollouts/{rollout_id:path}", rollout),
        Route("/diff", diff),
        Route("/pyinstall.css", style),
        Route("/icon.svg", favicon),
        Route("/login", login, methods=["GET", "POST"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return missing(request, "No such page.")

    application = Starlette(routes=routes, exception_handlers={404: not_found})

    async def guarded(scope: dict, receive: Any, send: Any) -> None:
        """Every request but the sign-in page and the stylesheet needs the token (when there is one); every
        response carries the security headers."""
        if scope["type"] != "http":
            await application(scope, receive, send)
            return
        request = Request(scope)

        async def headed(message: dict) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        if request.url.path not in ("/login", "/pyinstall.css", "/icon.svg") and not guard.allows(
            request.headers, request.cookies
        ):
            if "text/html" in request.headers.get("accept", ""):
                response: Response = RedirectResponse("/login", status_code=303)
            else:
                response = PlainTextResponse("a token is needed: Authorization: Bearer TOKEN\n", status_code=401,
                                             headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
            await response(scope, receive, headed)
            return
        await application(scope, receive, headed)

    return guarded


def serve(url: str, bind: str, port: int, guard: Access, tls: tuple[str, str] | None, say: Any) -> None:
    """Open the database read-only and serve it until Ctrl-C."""
    try:
        import uvicorn
    except ModuleNotFoundError:
        raise UsageError(
            "runs serve needs the web extra (Starlette, uvicorn)",
            "pip install 'pyinstall[web]' (pipx: pipx install 'pyinstall[web]')",
        ) from None
    records.open_read_only(url)
    application = app(url, guard)
    scheme = "https" if tls else "http"
    shown_host = f"[{bind}]" if ":" in bind else bind
    say(f"serving the runs in {records.shown(url)} (read-only) at {scheme}://{shown_host}:{port}/"
        f"{'  (token needed)' if guard.token else ''}; Ctrl-C to stop")  # fmt: skip
    config = uvicorn.Config(application, host=bind, port=port, log_level="warning", access_log=False,
                            ssl_certfile=tls[0] if tls else None, ssl_keyfile=tls[1] if tls else None,
                            server_header=False, lifespan="off")  # fmt: skip
    uvicorn.Server(config).run()
