"""Callbacks: a job that ends POSTs its JSON, signed, once, to the URL its upload gave; retried after a failure;
never to a loopback, private, link-local/metadata or other non-public address (checked after DNS and again
when sent, and connected to as checked) unless the host is allowed; no redirect followed."""

import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.utils import timezone

from jobs import callbacks, services, tasks, worker
from jobs.api import job_to_dict
from jobs.callbacks import CallbackRefused, check_url
from jobs.models import Job
from jobs.ownership import new_token
from media_pipeline.errors import RenderFailed
from tests.jobs.uploading import post_job

S = Job.Status
SECRET = "test-callback-secret"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def callback_settings(settings):
    settings.CALLBACK_SECRET = SECRET
    settings.PUBLIC_URL = "https://cutline.example.com"
    settings.CALLBACK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.CALLBACK_TIMEOUT_S = 1
    return settings


@pytest.fixture
def receiver():
    yield from serve()


def serve(tls: ssl.SSLContext | None = None):
    """A tiny HTTP server on 127.0.0.1 that records each POST and answers the statuses queued in `answers`
    (200 once they run out; "slow" answers after the timeout; 3xx redirect to /elsewhere)."""
    calls: list[SimpleNamespace] = []
    answers: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            calls.append(SimpleNamespace(path=self.path, body=body, headers=headers))
            answer = answers.pop(0) if answers else 200
            if answer == "slow":
                time.sleep(2)
                answer = 200
            self.send_response(answer)
            if 300 <= answer < 400:
                self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_port
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}/hooks/cutline?key=1", port=port, calls=calls, answers=answers)
    server.shutdown()
    server.server_close()


@pytest.fixture
def dns(monkeypatch):
    """Names answered by a fake resolver: each lookup takes the next answer in the name's list, the last repeats."""
    answers: dict[str, list[list[str]]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        queue = answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def signature_valid(call, secret: str = SECRET) -> bool:
    """What a receiver does (the README's example)."""
    timestamp = call.headers["x-cutline-timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + call.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, call.headers["x-cutline-signature"])


def renders(monkeypatch, outcome="ok"):
    def engine(job, report):
        if outcome == "fail":
            raise RenderFailed("The song could not be decoded.")
        return f"jobs/{job.id}/out.mp4", {}

    monkeypatch.setattr("jobs.worker.make_video", engine)


def make_due(job):
    """Skip the back-off: a job's next attempt, if it has one, is due now."""
    Job.objects.filter(id=job.id, callback_due_at__isnull=False).update(callback_due_at=timezone.now())


# ---------------------------------------------------------------- delivery


def test_a_job_that_ends_posts_its_json_once_to_its_callback_with_a_valid_signature(
    client, make_job, monkeypatch, receiver, enqueued
):
    job = make_job(callback_url=receiver.url)
    renders(monkeypatch)
    assert tasks.render_next() == S.COMPLETED
    tasks.deliver_callbacks()  # a sweep pass afterwards finds nothing more to send
    assert len(receiver.calls) == 1
    call = receiver.calls[0]
    assert call.path == "/hooks/cutline?key=1"
    assert call.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert call.headers["content-type"] == "application/json"
    assert call.headers["x-cutline-signature"].startswith("sha256=")
    assert signature_valid(call)
    assert not signature_valid(call, secret="another-secret")
    sent = json.loads(call.body)
    # The same JSON as GET /api/jobs/<id>, its video URL on the site's public address.
    polled = client.get(f"/api/jobs/{job.id}").json()
    assert sent["output_video_url"] == f"https://cutline.example.com/api/download/{job.id}"
    assert {**sent, "output_video_url": None} == {**polled, "output_video_url": None}
    assert sent["status"] == S.COMPLETED
    job.refresh_from_db()
    assert job.callback_delivered_at is not None
    assert (job.callback_attempts, job.callback_due_at, job.callback_error) == (1, None, "")


def test_the_readmes_receiver_check_accepts_a_real_call_and_nothing_altered(make_job, receiver):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(import hashlib.*?def cutline_call_valid.*?)```", readme, re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)
    valid = namespace["cutline_call_valid"]
    make_job(status=S.COMPLETED, callback_url=receiver.url, callback_due_at=timezone.now())
    assert tasks.deliver_callbacks() == 1
    call = receiver.calls[0]
    headers = {name: call.headers[name.lower()] for name in ("X-Cutline-Timestamp", "X-Cutline-Signature")}
    assert valid(call.body, headers, SECRET)
    assert not valid(call.body.replace(b"COMPLETED", b"FAILED"), headers, SECRET)
    assert not valid(call.body, headers, "another-secret")
    stale = {**headers, "X-Cutline-Timestamp": str(int(headers["X-Cutline-Timestamp"]) - 3600)}
    assert not valid(call.body, stale, SECRET)


def test_a_failed_job_calls_back_too_saying_why(make_job, monkeypatch, receiver, enqueued):
    job = make_job(callback_url=receiver.url)
    renders(monkeypatch, "fail")
    assert tasks.render_next() == S.FAILED
    assert len(receiver.calls) == 1
    sent = json.loads(receiver.calls[0].body)
    assert (sent["id"], sent["status"]) == (str(job.id), S.FAILED)
    assert "could not be decoded" in sent["error_message"]


def test_a_job_given_up_after_its_worker_kept_dying_calls_back_from_the_sweep(make_job, receiver, settings):
    job = make_job(status=S.PROCESSING, heartbeat_age=settings.RENDER_LEASE_S + 30, attempts=2, attempt_limit=2,
                   callback_url=receiver.url)
    assert worker.claim_next() is None
    assert tasks.deliver_callbacks() == 1
    sent = json.loads(receiver.calls[0].body)
    assert (sent["id"], sent["status"]) == (str(job.id), S.FAILED)


def test_a_job_without_a_callback_url_has_nothing_due(make_job, monkeypatch, enqueued):
    job = make_job()
    renders(monkeypatch)
    tasks.render_next()
    job.refresh_from_db()
    assert (job.callback_due_at, job.callback_attempts) == (None, 0)


def test_a_job_retried_after_its_call_calls_again_when_it_ends_again(make_job, monkeypatch, receiver, enqueued):
    job = make_job(callback_url=receiver.url)
    renders(monkeypatch, "fail")
    tasks.render_next()
    assert services.job_retry(job.id, enqueue=False)[0]
    tasks.deliver_callbacks()  # a queued job has nothing to say
    renders(monkeypatch)
    tasks.render_next()
    assert [json.loads(call.body)["status"] for call in receiver.calls] == [S.FAILED, S.COMPLETED]
    assert [call.headers["x-cutline-attempt"] for call in receiver.calls] == ["1", "1"]


def test_a_callback_answered_500_is_retried_later_and_then_delivered(make_job, monkeypatch, receiver, enqueued):
    job = make_job(callback_url=receiver.url)
    receiver.answers.append(500)
    renders(monkeypatch)
    tasks.render_next()
    job.refresh_from_db()
    assert len(receiver.calls) == 1
    assert job.callback_delivered_at is None
    assert job.callback_error == "Attempt 1 of 4 failed: answered 500"
    assert job.callback_due_at > timezone.now()
    assert tasks.deliver_callbacks() == 0  # not due yet: it waits its back-off
    assert len(receiver.calls) == 1
    make_due(job)
    assert tasks.deliver_callbacks() == 1
    assert [call.headers["x-cutline-attempt"] for call in receiver.calls] == ["1", "2"]
    assert all(signature_valid(call) for call in receiver.calls)
    job.refresh_from_db()
    assert job.callback_delivered_at is not None and job.callback_error == ""


def test_a_callback_is_given_up_after_four_failed_attempts(make_job, receiver):
    job = make_job(status=S.COMPLETED, callback_url=receiver.url, callback_due_at=timezone.now())
    receiver.answers.extend([503] * 5)
    for _ in range(5):
        tasks.deliver_callbacks()
        make_due(job)
    job.refresh_from_db()
    assert len(receiver.calls) == callbacks.MAX_ATTEMPTS == 4
    assert job.callback_error == "Gave up after 4 attempts: answered 503"
    assert job.callback_due_at is None and job.callback_delivered_at is None


def test_an_attempt_is_claimed_once_so_two_hosts_never_send_it_twice(make_job, receiver):
    job = make_job(status=S.COMPLETED, callback_url=receiver.url, callback_due_at=timezone.now())
    other_host = []

    def describe(claimed):
        # Another host's pass runs while this one holds the attempt.
        other_host.append(callbacks.deliver_due(job_to_dict))
        return job_to_dict(claimed)

    assert callbacks.deliver_due(describe, job_id=job.id) == 1
    assert other_host == [0]
    assert len(receiver.calls) == 1


def test_a_pass_starts_no_attempt_once_its_budget_is_spent_and_leaves_the_rest_due(make_job, receiver):
    jobs = [make_job(status=S.COMPLETED, callback_url=receiver.url, callback_due_at=timezone.now()) for _ in range(3)]
    assert callbacks.deliver_due(job_to_dict, budget_s=0) == 1
    assert tasks.deliver_callbacks() == 2
    assert sorted(call.headers["x-cutline-job"] for call in receiver.calls) == sorted(str(job.id) for job in jobs)


def test_an_attempt_that_crashes_is_a_failed_attempt_and_the_pass_goes_on(make_job, receiver):
    broken = make_job(status=S.COMPLETED, callback_url=receiver.url, callback_due_at=timezone.now())
    fine = make_job(status=S.COMPLETED, callback_url=receiver.url, callback_due_at=timezone.now())

    def describe(job):
        if job.id == broken.id:
            raise KeyError("style")
        return job_to_dict(job)

    assert callbacks.deliver_due(describe) == 1
    assert [call.headers["x-cutline-job"] for call in receiver.calls] == [str(fine.id)]
    broken.refresh_from_db()
    assert broken.callback_error == "Attempt 1 of 4 failed: failed on our side (KeyError)"
    assert broken.callback_due_at is not None, "tried again later, not left claimed"


def test_a_redirect_is_not_followed(make_job, receiver):
    job = make_job(status=S.COMPLETED, callback_url=receiver.url, callback_due_at=timezone.now())
    receiver.answers.append(302)
    assert tasks.deliver_callbacks() == 0
    assert [call.path for call in receiver.calls] == ["/hooks/cutline?key=1"]
    job.refresh_from_db()
    assert job.callback_error == "Attempt 1 of 4 failed: answered 302: redirects are not followed"
    assert job.callback_delivered_at is None


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(make_job, receiver):
    job = make_job(status=S.COMPLETED, callback_url=receiver.url, callback_due_at=timezone.now())
    receiver.answers.append("slow")
    assert tasks.deliver_callbacks() == 0
    job.refresh_from_db()
    assert job.callback_error == "Attempt 1 of 4 failed: no answer within 1 s"


def test_a_receiver_that_is_not_listening_is_a_failed_attempt(make_job):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    job = make_job(status=S.COMPLETED, callback_url=f"http://127.0.0.1:{port}/hook", callback_due_at=timezone.now())
    assert tasks.deliver_callbacks() == 0
    job.refresh_from_db()
    assert job.callback_error.startswith("Attempt 1 of 4 failed: could not connect (")
    assert "refused" in job.callback_error


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    """The receiver over HTTPS with a certificate for receiver.test, which this test's trust store holds."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
         "-subj", "/CN=receiver.test", "-addext", "subjectAltName=DNS:receiver.test"],
        check=True, capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # read by each new client context (OpenSSL's default paths)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    yield from serve(context)


def test_an_https_callback_goes_to_the_checked_address_and_checks_the_certificate_for_its_name(
    make_job, tls_receiver, dns, settings
):
    settings.CALLBACK_ALLOWED_HOSTS = ["receiver.test", "impostor.test"]
    dns["receiver.test"] = dns["impostor.test"] = [["127.0.0.1"]]
    good = make_job(status=S.COMPLETED, callback_url=f"https://receiver.test:{tls_receiver.port}/hook",
                    callback_due_at=timezone.now())
    bad = make_job(status=S.COMPLETED, callback_url=f"https://impostor.test:{tls_receiver.port}/hook",
                   callback_due_at=timezone.now())
    assert tasks.deliver_callbacks() == 1
    assert [call.headers["x-cutline-job"] for call in tls_receiver.calls] == [str(good.id)]
    assert signature_valid(tls_receiver.calls[0])
    bad.refresh_from_db()
    assert "doesn't match 'receiver.test'" in bad.callback_error


def test_a_callback_is_checked_again_when_sent_and_refused_if_its_name_now_points_inside(make_job, receiver, dns):
    dns["hooks.example.net"] = [["93.184.215.14"], ["127.0.0.1"]]
    url = f"http://hooks.example.net:{receiver.port}/hook"
    check_url(url)  # at upload: a public address
    job = make_job(status=S.COMPLETED, callback_url=url, callback_due_at=timezone.now())
    assert tasks.deliver_callbacks() == 0
    assert receiver.calls == []
    job.refresh_from_db()
    assert "127.0.0.1, a loopback address" in job.callback_error


def test_the_delivery_connects_to_the_address_it_checked_not_to_a_new_answer(make_job, receiver, dns, settings):
    settings.CALLBACK_ALLOWED_HOSTS = ["receiver.test"]
    # The check resolves it to the receiver; any later lookup would get an address where nothing listens.
    dns["receiver.test"] = [["127.0.0.1"], ["192.0.2.1"]]
    url = f"http://receiver.test:{receiver.port}/hook"
    job = make_job(status=S.COMPLETED, callback_url=url, callback_due_at=timezone.now())
    assert tasks.deliver_callbacks() == 1
    assert receiver.calls[0].headers["host"] == f"receiver.test:{receiver.port}"
    job.refresh_from_db()
    assert job.callback_delivered_at is not None


# ---------------------------------------------------------------- which URLs


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://127.8.9.10/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.1.20/hook", "private"),
        ("http://172.16.0.1/hook", "private"),
        ("http://172.31.255.254/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "private"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://[::ffff:10.0.0.1]/hook", "private"),
        ("http://[64:ff9b::7f00:1]/hook", "loopback"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://100.100.100.200/hook", "reserved"),
    ],
)
def test_a_callback_to_a_non_public_address_is_refused(url, reason, settings):
    settings.CALLBACK_ALLOWED_HOSTS = []
    with pytest.raises(CallbackRefused, match=reason):
        check_url(url)


def test_a_listed_host_may_be_called_at_a_private_address(settings):
    settings.CALLBACK_ALLOWED_HOSTS = ["10.1.2.3", "[::1]"]
    assert check_url("http://10.1.2.3:8080/hook").addresses == ("10.1.2.3",)
    assert check_url("http://[::1]/hook").netloc == "[::1]"


@pytest.mark.parametrize(
    "addresses", [["10.20.30.40"], ["93.184.215.14", "127.0.0.1"], ["169.254.169.254"], ["fd12:3456::1"]]
)
def test_a_name_that_resolves_to_a_non_public_address_is_refused_unless_listed(addresses, dns, settings):
    dns["hooks.example.org"] = [addresses]
    with pytest.raises(CallbackRefused, match="callbacks go only to public addresses"):
        check_url("https://hooks.example.org/cutline")
    settings.CALLBACK_ALLOWED_HOSTS = ["HOOKS.example.org"]
    assert check_url("https://hooks.example.org/cutline").addresses == tuple(addresses)


def test_a_name_that_resolves_to_public_addresses_is_accepted(dns):
    dns["hooks.example.org"] = [["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]]
    target = check_url("https://hooks.example.org:8443/cutline?token=1")
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.org", 8443)
    assert target.path == "/cutline?token=1"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.example.org/cutline", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://hooks.example.org/", "http:// or https://"),
        ("hooks.example.org/cutline", "http:// or https://"),
        ("http:///cutline", "no host"),
        ("https://user:password@hooks.example.org/", "user name or password"),
        ("http://hooks.example.org:99999/", "not a valid URL"),
        ("https://hooks.example.org/" + "a" * 2000, "too long"),
        ("https://hooks.example.org/a\r\nX-Injected: 1", "no spaces"),
        ("https://bücher.example/hook", "ASCII"),
    ],
)
def test_other_schemes_and_malformed_urls_are_refused(url, reason):
    with pytest.raises(CallbackRefused, match=reason):
        check_url(url)


def test_a_name_that_does_not_resolve_is_refused():
    with pytest.raises(CallbackRefused, match="could not be resolved"):
        check_url("https://no-such-host.invalid/hook")


# ---------------------------------------------------------------- at upload


def test_an_upload_with_a_callback_url_keeps_it_on_the_job(client, db, clip_and_song, receiver):
    response = post_job(client, clip_and_song, fields={"callback_url": receiver.url})
    assert response.status_code == 200
    assert Job.objects.get(id=response.json()["job_id"]).callback_url == receiver.url


def test_an_upload_with_a_refused_callback_url_answers_400_naming_it_and_stores_nothing(
    client, db, clip_and_song, media_root, settings
):
    settings.CALLBACK_ALLOWED_HOSTS = []
    response = post_job(client, clip_and_song, fields={"callback_url": "http://169.254.169.254/latest/meta-data/"})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "callback_url"
    assert "169.254.169.254, a link-local address" in body["detail"]
    assert not Job.objects.exists()
    assert not (media_root / "jobs").exists() or not any((media_root / "jobs").iterdir())


def test_an_upload_asking_for_a_callback_is_refused_when_the_server_sends_none(client, db, clip_and_song, settings, receiver):
    settings.CALLBACK_SECRET = ""
    response = post_job(client, clip_and_song, fields={"callback_url": receiver.url})
    assert response.status_code == 400
    assert response.json()["field"] == "callback_url"
    assert "CALLBACK_SECRET" in response.json()["detail"]
    assert not Job.objects.exists()


def test_the_server_refuses_to_start_with_a_callback_secret_but_no_public_url():
    environment = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_URL", "SECRET_KEY", "DEBUG")}
    environment.update(CALLBACK_SECRET="x", DEBUG="1")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "PUBLIC_URL (e.g. https://cutline.example.com) must be set with CALLBACK_SECRET" in result.stderr



# ---------------------------------------------------------------- at remix


@pytest.fixture
def finished(make_job, store_inputs):
    """A finished job whose files are stored, and the API token of its maker."""
    token, token_hash = new_token()
    job = make_job(status=S.COMPLETED, token_hash=token_hash)
    store_inputs(job)
    return job, token


def remix(client, finished, **fields):
    job, token = finished
    return client.post(f"/api/jobs/{job.id}/remix", {"style": "NEON_NIGHT", **fields}, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_remix_with_a_callback_url_keeps_it_on_the_new_job(client, finished, receiver, enqueued):
    response = remix(client, finished, callback_url=receiver.url)
    assert response.status_code == 200
    assert Job.objects.get(id=response.json()["job_id"]).callback_url == receiver.url


def test_a_remix_with_a_refused_callback_url_answers_400_naming_it_and_makes_no_job(client, finished, settings):
    settings.CALLBACK_ALLOWED_HOSTS = []
    response = remix(client, finished, callback_url="http://10.0.0.8/hook")
    assert response.status_code == 400
    assert response.json()["field"] == "callback_url"
    assert "10.0.0.8, a private address" in response.json()["detail"]
    assert Job.objects.count() == 1
