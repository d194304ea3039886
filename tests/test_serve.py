"""`pyinstall runs serve`: the run history in a browser, read-only. Through an HTTP client (pages, filters,
links, hostile host text escaped, the token rule, the database never written), a real server (uvicorn, TLS
off loopback) and a real browser (headless Chromium through WebDriver: the filter form submitted, links
followed, screenshots kept in test-artifacts/serve)."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from installer import records, web
from installer.errors import UsageError
from tests.test_runs_history import DEBUG, GPG, _info, _keep, _record

httpx = pytest.importorskip("httpx", reason="the test extra's HTTP client: pip install -e '.[test]'")
starlette_testclient = pytest.importorskip("starlette.testclient", reason="the web extra: pip install -e '.[web]'")

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "serve"
# A host name and a finding as a hostile host or inventory could make them: markup, a script, an escape.
HOSTILE = 'evil<script>alert("x")</script>\x1b[2J'
HOSTILE_MESSAGE = '<img src=x onerror="alert(1)"> disk full & "quoted"'


def _fleet(url: str) -> dict[str, int]:
    """Runs as a team's history has them: a check, a dry run, a provision, then an info after a hand edit,
    a rollout of two shards, and a host with hostile text."""
    now = time.time()
    tasks = [
        {"name": "install docker-ce 20.10.24", "status": "changed", "msg": "not installed", "seconds": 14.2},
        {"name": "start docker", "status": "changed", "msg": "not running", "seconds": 1.3},
    ]
    changed = {**_record("changed"), "tasks": tasks, "docker_info": _info("ok", "20.10.24", [])["docker_info"]}
    checked = {"web1": {**_record("ok"), "findings": [GPG], "seconds": 0.4}, "web2": _record("ok")}
    dry = {"web1": _record("would change", [("install docker-ce", "would change")])}
    hostile = {
        **_info("failed", "1.13.1", []),
        "findings": [{"code": "DISK", "level": "error", "message": HOSTILE_MESSAGE}],
    }
    infos = {"web1": _info("failed", "20.10.24", [DEBUG]), "web2": _info("ok", "20.10.24", []), HOSTILE: hostile}
    ids = {
        "check": _keep(url, "check", checked, started=now - 3 * 86400),
        "dry": _keep(
            url, "provision", dry, argv="provision hosts.ini --check", check_mode=True, started=now - 2 * 86400
        ),
        "provision": _keep(url, "provision", {"web1": changed, "web2": changed}, started=now - 86400),
        "info": _keep(url, "info", infos, exit_status=2),
    }
    for shard in ("1/2", "2/2"):
        start = records.Start(
            now, "provision", "provision hosts.ini", "1.0", "hosts.ini", "", rollout="ci-42", shard=shard
        )
        run_id = records.start(url, start)
        host = f"db{shard[0]}"
        end = records.End(
            now + 1, 0, "", json.dumps({"hosts": {host: changed}}), [(host, "changed", json.dumps(changed))]
        )
        records.finish(url, run_id, end)
    return ids


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, int], Path]]:
    path = tmp_path / "runs.sqlite"
    url = f"sqlite:///{path}"
    ids = _fleet(url)
    records.open_read_only(url)
    yield url, ids, path
    records._read_only.pop(url).dispose()


def _client(url: str, guard: web.Access | None = None) -> starlette_testclient.TestClient:
    return starlette_testclient.TestClient(web.app(url, guard or web.Access()), base_url="http://127.0.0.1")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        href = dict(attrs).get("href")
        if href and tag == "a":
            self.links.append(href)


def _parsed(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def test_pages_load_and_every_link_leads_to_a_page(served) -> None:
    url, ids, path = served
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    client = _client(url)
    seen: dict[str, int] = {}
    queue = ["/"]
    while queue:  # every page reachable from the list, each link followed once
        link = queue.pop()
        if link in seen or link.startswith("http"):
            continue
        response = client.get(link)
        seen[link] = response.status_code
        if response.headers["content-type"].startswith("text/html"):
            queue += _parsed(response.text).links
    assert all(code == 200 for code in seen.values()), {k: v for k, v in seen.items() if v != 200}
    expected = {"/", f"/runs/{ids['info']}", f"/runs/{ids['dry']}", "/hosts/web1", "/rollouts/ci-42", "/diff"}
    assert expected <= set(seen), sorted(seen)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, "served read-only: the file is as it was"


def test_the_list_filters_and_marks_dry_runs(served) -> None:
    url, ids, _ = served
    client = _client(url)

    def rows(query: str) -> list[str]:
        html = client.get("/" + query).text
        return re.findall(r'<td><a href="/runs/(\d+)">', html)

    assert rows("") == [str(i) for i in range(6, 0, -1)]
    assert rows("?command=provision") == ["6", "5", str(ids["provision"]), str(ids["dry"])]
    assert rows("?status=failed") == [str(ids["info"])]
    assert rows("?host=web2") == [str(ids["info"]), str(ids["provision"]), str(ids["check"])]
    assert rows("?since=36h") == ["6", "5", str(ids["info"]), str(ids["provision"])]
    assert rows("?rollout=ci-42") == ["6", "5"]
    dry = client.get("/?command=provision").text
    assert "--check</span>" in dry and "1 would change" in dry
    said = client.get("/?status=nonsense&since=yesterday").text
    assert "no status &#39;nonsense&#39;" in said and "since: &#39;yesterday&#39; is neither" in said


def test_the_run_page_has_hosts_times_steps_findings_and_drift(served) -> None:
    url, ids, _ = served
    client = _client(url)
    page = client.get(f"/runs/{ids['provision']}").text
    assert "15.5 s" in page, "a host's time: its steps' sum"
    assert "install docker-ce 20.10.24" in page and "14.2 s" in page and "<details" in page
    info = client.get(f"/runs/{ids['info']}").text
    assert "/etc/docker/daemon.json: debug" in info and "(not asked)" in info
    dry = client.get(f"/runs/{ids['dry']}").text
    assert "--check: nothing was changed" in dry and "would change" in dry
    diff = client.get(f"/diff?a={ids['provision']}&b={ids['info']}").text
    assert "drift appeared: /etc/docker/daemon.json: debug" in diff
    assert client.get("/runs/999").status_code == 404 and client.get("/hosts/nosuch").status_code == 404
    assert client.get("/diff?a=1&b=999").status_code == 404 and client.get("/nowhere").status_code == 404
    rollout = client.get("/rollouts/ci-42").text
    assert "db1" in rollout and "db2" in rollout and "shards merged" in rollout


def test_hostile_host_text_is_escaped_everywhere(served) -> None:
    url, ids, _ = served
    client = _client(url)
    from urllib.parse import quote

    for link in (
        "/",
        f"/runs/{ids['info']}",
        f"/diff?a={ids['provision']}&b={ids['info']}",
        "/hosts/" + quote(HOSTILE),
    ):
        response = client.get(link)
        page = response.text
        tags = _parsed(page).tags
        assert "script" not in tags and "img" not in tags, link
        assert "\x1b" not in page, link
    page = client.get(f"/runs/{ids['info']}").text
    assert "evil&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;\\x1b[2J" in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; disk full &amp; &#34;quoted&#34;" in page
    headers = client.get("/").headers
    assert (
        "default-src 'none'" in headers["content-security-policy"]
        and "script-src" not in (headers["content-security-policy"])
    )
    assert headers["x-content-type-options"] == "nosniff"


def test_the_database_is_opened_read_only_and_never_migrated(served, tmp_path: Path) -> None:
    url, _, _ = served
    with pytest.raises(records.DatabaseError, match=r"readonly|read-only"):
        records.start(url, records.Start(1.0, "check", "check x", "1.0", "x", ""))
    old = tmp_path / "old.sqlite"
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{old}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        connection.exec_driver_sql("INSERT INTO alembic_version VALUES ('0004')")
    engine.dispose()
    with pytest.raises(records.DatabaseError, match="is at schema 0004, this pyinstall reads 0005"):
        records.open_read_only(f"sqlite:///{old}")
    with pytest.raises(records.DatabaseError, match="no such database file"):
        records.open_read_only(f"sqlite:///{tmp_path / 'none.sqlite'}")


def _token_file(tmp_path: Path, token: str = "s3cret-token-0123456789abcdef", mode: int = 0o600) -> Path:
    path = tmp_path / "token"
    path.write_text(token + "\n")
    path.chmod(mode)
    return path


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cryptography: paramiko's own dependency)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    key_path.chmod(0o600)
    return cert_path, key_path


def test_off_loopback_a_token_and_tls_are_required(tmp_path: Path) -> None:
    token = _token_file(tmp_path)
    cert, key = _certificate(tmp_path)
    for bind, given, missing in (("0.0.0.0", (None, None, None), "no --token-file and --tls-cert/--tls-key"),
                                 ("10.1.2.3", (str(token), None, None), "no --tls-cert/--tls-key"),
                                 ("::", (None, str(cert), str(key)), "no --token-file")):  # fmt: skip
        with pytest.raises(UsageError, match=re.escape(missing)):
            web.access(bind, *given)
    guard = web.access("0.0.0.0", str(token), str(cert), str(key))
    assert guard.token == "s3cret-token-0123456789abcdef" and guard.secure
    assert web.access("127.0.0.1", None, None, None).token is None and web.access("::1", None, None, None)
    with pytest.raises(UsageError, match="readable by others"):
        web.access("127.0.0.1", str(_token_file(tmp_path, mode=0o644)), None, None)
    with pytest.raises(UsageError, match="at least 16"):
        web.access("127.0.0.1", str(_token_file(tmp_path, "short")), None, None)
    with pytest.raises(UsageError, match="go together"):
        web.access("127.0.0.1", None, str(cert), None)
    (tmp_path / "bad.pem").write_text("not a certificate")
    with pytest.raises(UsageError, match="--tls-cert"):
        web.access("0.0.0.0", str(_token_file(tmp_path)), str(tmp_path / "bad.pem"), str(key))


def test_with_a_token_every_request_needs_it(served) -> None:
    url, ids, _ = served
    guard = web.Access("s3cret-token-0123456789abcdef")
    client = _client(url, guard)
    assert client.get("/", headers={"accept": "application/json"}).status_code == 401
    browser = client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert (browser.status_code, browser.headers["location"]) == (303, "/login")
    assert client.get(f"/runs/{ids['info']}", headers={"authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/", headers={"authorization": "Bearer s3cret-token-0123456789abcdef"}).status_code == 200
    assert client.get("/pyinstall.css").status_code == 200, "the sign-in page has its style"
    form = {"content-type": "application/x-www-form-urlencoded"}
    refused = client.post("/login", content="token=wrong", headers=form)
    assert refused.status_code == 401 and "That is not the token" in refused.text
    signed = client.post("/login", content="token=s3cret-token-0123456789abcdef", headers=form, follow_redirects=False)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "s3cret" not in cookie
    assert client.get(f"/runs/{ids['info']}").status_code == 200, "the session cookie"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path: Path, url: str, *more: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "installer.cli", "runs", "serve", "--database", url,
                             "--port", str(port), *more], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "HOME": str(tmp_path)})  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read())
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("runs serve did not listen within 30 s")


def test_a_real_server_off_loopback_serves_https_to_token_holders(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    ids = _fleet(url)
    refused = subprocess.run([sys.executable, "-m", "installer.cli", "runs", "serve", "--database", url, "--bind",
                              "0.0.0.0"], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert refused.returncode == 5 and "not a loopback address" in refused.stderr, refused.stderr
    token = _token_file(tmp_path)
    cert, key = _certificate(tmp_path)
    proc, port = _serve(tmp_path, url, "--bind", "0.0.0.0", "--token-file", str(token), "--tls-cert", str(cert),
                        "--tls-key", str(key))  # fmt: skip
    try:
        base = f"https://127.0.0.1:{port}"
        with httpx.Client(verify=ssl.create_default_context(cafile=str(cert))) as client:
            assert client.get(f"{base}/").status_code == 401
            page = client.get(f"{base}/runs/{ids['info']}",
                              headers={"authorization": "Bearer s3cret-token-0123456789abcdef"})  # fmt: skip
            assert page.status_code == 200 and "drift" in page.text
            assert "server" not in page.headers, "no server banner"
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=10)  # plain HTTP on the TLS port
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "(read-only) at https://0.0.0.0:" in err and "(token needed)" in err
    assert "s3cret" not in out + err and "Traceback" not in err


CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    not (CHROMEDRIVER and CHROMIUM) and os.environ.get("CI") != "true",
    reason="Debian's chromium and chromium-driver are not installed (bash setup.sh deps installs them)",
)
def test_a_real_browser_filters_and_follows_links(tmp_path: Path) -> None:
    assert CHROMEDRIVER and CHROMIUM, "CI installs chromium and chromium-driver (setup.sh)"
    webdriver = pytest.importorskip("selenium.webdriver", reason="the test extra's selenium")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    def arrived(check: Callable[[str], bool]) -> str:
        """The page a click led to: a click returns before a form's submission has navigated."""
        WebDriverWait(driver, 20).until(lambda d: check(d.current_url) and d.execute_script(
            "return document.readyState") == "complete")  # fmt: skip
        return driver.current_url

    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    ids = _fleet(url)
    proc, port = _serve(tmp_path, url)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1280,900",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(flag)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        base = f"http://127.0.0.1:{port}"
        driver.get(base + "/")
        assert driver.title == "Runs · pyinstall runs"
        assert len(driver.find_elements(By.CSS_SELECTOR, "table.runs tbody tr")) == 6
        driver.save_screenshot(str(ARTIFACTS / "runs.png"))
        Select(driver.find_element(By.NAME, "command")).select_by_visible_text("provision")
        driver.find_element(By.NAME, "host").send_keys("web1")
        driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
        assert "host=web1" in arrived(lambda url: "command=provision" in url)
        shown = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "table.runs tbody td:first-child a")]
        assert shown == [str(ids["provision"]), str(ids["dry"])]
        driver.find_element(By.LINK_TEXT, str(ids["provision"])).click()
        arrived(lambda url: url == f"{base}/runs/{ids['provision']}")
        assert driver.title == f"Run {ids['provision']} · pyinstall runs"
        steps = driver.find_element(By.CSS_SELECTOR, "section.host details")
        assert not steps.find_element(By.CSS_SELECTOR, "table.steps").is_displayed(), "steps folded"
        steps.find_element(By.TAG_NAME, "summary").click()
        assert steps.find_element(By.CSS_SELECTOR, "table.steps").is_displayed()
        driver.save_screenshot(str(ARTIFACTS / "run.png"))
        driver.find_element(By.NAME, "a").send_keys(str(ids["check"]))
        driver.find_element(By.CSS_SELECTOR, "form.compare button").click()
        arrived(lambda url: url.startswith(f"{base}/diff?"))
        assert "Runs" in driver.title
        driver.get(f"{base}/runs/{ids['info']}")
        driver.find_element(By.LINK_TEXT, "web1").click()
        arrived(lambda url: url == f"{base}/hosts/web1")
        history = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "table.history td:first-child a")]
        assert history == [str(ids["info"]), str(ids["provision"]), str(ids["dry"]), str(ids["check"])]
        driver.save_screenshot(str(ARTIFACTS / "host.png"))
        driver.get(f"{base}/runs/{ids['info']}")
        assert not driver.find_elements(By.TAG_NAME, "script") and HOSTILE[:4] in driver.page_source
        console = driver.get_log("browser") if hasattr(driver, "get_log") else []
        assert not [e for e in console if e.get("level") == "SEVERE"], console
    finally:
        driver.quit()
        proc.terminate()
        proc.communicate(timeout=30)
    assert all((ARTIFACTS / f"{name}.png").stat().st_size > 10_000 for name in ("runs", "run", "host"))


def test_postgresql_is_served_read_only_too(postgresql: str) -> None:
    from tests import postgres

    url = postgres.database(postgresql, "served")
    ids = _fleet(url)
    records.open_read_only(url)
    try:
        client = _client(url)
        page = client.get(f"/runs/{ids['info']}").text
        assert "/etc/docker/daemon.json: debug" in page and "evil&lt;script&gt;" in page
        assert re.findall(r'<td><a href="/runs/(\d+)">', client.get("/?command=info").text) == [str(ids["info"])]
        with pytest.raises(records.DatabaseError, match="read-only transaction"):
            records.start(url, records.Start(1.0, "check", "check x", "1.0", "x", ""))
    finally:
        records._read_only.pop(url).dispose()
