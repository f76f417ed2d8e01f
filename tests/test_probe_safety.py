"""Safe by construction: the budget is a hard ceiling, only read-only methods and listed origins are ever sent,
redirects are not followed, concurrency is bounded, timeouts hold, secrets are masked. Checked from the server's
side: a real HTTP server on loopback counts what actually arrived."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time

import pytest

from probe_servers import LOOPBACK, failing, free_port, messages, run_targets, target_summary
from prodready.probe import ids
from prodready.probe.runtime import NotAllowed, Session
from prodready.probe.targets import parse_targets


class Recorder(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, behaviour: dict) -> None:
        super().__init__((LOOPBACK, 0), Handler)
        self.behaviour = behaviour
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def handle_error(self, request, client_address) -> None:  # a client that timed out and left: expected
        pass


class Handler(http.server.BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, *args) -> None:
        pass

    def _any(self) -> None:
        srv = self.server
        b = srv.behaviour
        with srv.lock:
            srv.seen.append((self.command, self.path))
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:  # "in flight" is the handling time, which lies wholly inside the client's request
            time.sleep(b.get("delay", 0.005))
            if b.get("hang") and self.path != "/":
                time.sleep(b["hang"])
        finally:
            with srv.lock:
                srv.in_flight -= 1
        if self.path == "/" and b.get("redirect"):
            self.send_response(302)
            self.send_header("Location", b["redirect"])
            self.end_headers()
            return
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if b.get("server"):
            self.send_header("Server", b["server"])
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_OPTIONS = do_POST = do_PUT = do_DELETE = do_PATCH = _any


@contextlib.contextmanager
def recorder(**behaviour):
    srv = Recorder(behaviour)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def test_budget_is_a_hard_ceiling_seen_from_the_server(tmp_path):
    with recorder() as srv:
        run = run_targets(tmp_path, f"""
targets:
  - name: small
    url: http://{LOOPBACK}:{srv.server_address[1]}/
    budget: 15
""")
        arrived = len(srv.seen)
    s = target_summary(run, "small")
    assert arrived == s["requests_sent"] <= 15
    assert s["requests_sent"] == 15  # the checks wanted more than that
    assert any("budget" in sk for sk in s["skipped"])


def test_only_read_only_methods_reach_the_server_and_concurrency_is_bounded(tmp_path):
    with recorder(delay=0.01) as srv:
        run_targets(tmp_path, f"""
concurrency: 2
targets:
  - name: api
    url: http://{LOOPBACK}:{srv.server_address[1]}/
    burst: {{requests: 20}}
""")
        methods = {m for m, _ in srv.seen}
        assert methods <= {"GET", "HEAD", "OPTIONS"} and "GET" in methods
        assert 1 <= srv.max_in_flight <= 2


def test_requests_outside_the_file_or_not_read_only_are_never_sent():
    with recorder() as srv:
        t = parse_targets(f"targets:\n  - name: a\n    url: http://{LOOPBACK}:{srv.server_address[1]}/\n").targets[0]
        s = Session(t, threading.BoundedSemaphore(1))
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            with pytest.raises(NotAllowed):
                s.request(method, "/")
        with pytest.raises(NotAllowed):
            s.request("GET", "http://127.0.0.2:80/")
        with pytest.raises(NotAllowed):
            s.request("GET", f"https://{LOOPBACK}:{srv.server_address[1]}/")  # another scheme: another origin
        s.close()
        assert srv.seen == [] and s.sent == 0


def test_redirects_are_not_followed_outside_the_file(tmp_path):
    with recorder() as elsewhere, recorder(redirect=f"http://{LOOPBACK}:0/") as srv:
        srv.behaviour["redirect"] = f"http://{LOOPBACK}:{elsewhere.server_address[1]}/login"
        run_targets(tmp_path, f"""
targets:
  - name: api
    url: http://{LOOPBACK}:{srv.server_address[1]}/
    burst: false
""")
        assert srv.seen and elsewhere.seen == []


def test_timeouts_hold(tmp_path):
    with recorder(hang=1) as srv:
        run = run_targets(tmp_path, f"""
targets:
  - name: slow
    url: http://{LOOPBACK}:{srv.server_address[1]}/
    timeout: 0.3
    health: /healthz
    burst: false
    latency: {{samples: 0}}
""")
    assert "timed out after 0.3 s" in messages(run, "slow", ids.HEALTH)[0]


def test_secrets_seen_on_the_wire_are_masked(tmp_path):
    with recorder(server="gateway/2.4 token=abcd1234supersecret") as srv:
        run = run_targets(tmp_path, f"""
targets:
  - name: edge
    url: http://{LOOPBACK}:{srv.server_address[1]}/
    burst: false
""")
    leak = messages(run, "edge", ids.VERSION_DISCLOSURE)
    assert leak and "gateway/2.4" in leak[0]
    assert "abcd1234supersecret" not in leak[0]


def test_latency_over_target_fails(tmp_path):
    with recorder(delay=0.05) as srv:  # every answer takes at least 50 ms; the target asks p95 ≤ 10 ms
        run = run_targets(tmp_path, f"""
targets:
  - name: slow
    url: http://{LOOPBACK}:{srv.server_address[1]}/
    exposure: internal
    burst: false
    latency: {{samples: 5, p95_ms: 10}}
""")
    msg = messages(run, "slow", ids.LATENCY)[0]
    assert "5 sequential GET /" in msg and "p95" in msg and "target p95 ≤ 10 ms" in msg


def test_a_target_that_does_not_answer_is_not_deployed(tmp_path):
    run = run_targets(tmp_path, f"""
targets:
  - name: api
    url: http://{LOOPBACK}:{free_port()}/
  - name: cache
    url: redis://{LOOPBACK}:{free_port()}/0
""")
    assert failing(run, "api") == {ids.DEPLOYED, ids.HEALTH}
    assert failing(run, "cache") == {ids.DEPLOYED}
    assert "connection refused" in messages(run, "cache", ids.DEPLOYED)[0]
    assert target_summary(run, "api")["requests_sent"] == 1 and target_summary(run, "cache")["requests_sent"] == 1
