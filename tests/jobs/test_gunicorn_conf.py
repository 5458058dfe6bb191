"""The web server as deployed (gunicorn.conf.py): clients trickling their requests do not starve the others,
and a body larger than the limits allow is answered and cut off, not read to its end. Against a real
gunicorn on a free port, with raw sockets."""

import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
MAX_UPLOAD_MB = 2  # the server's per-file limit here: (5 + 1) x 2 MB + 2 MB of fields = 14 MB at most in all
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str, timeout: float = 10.0) -> bytes:
    """The status line of GET `path`, or b"" when no answer came within `timeout`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
            return conn.recv(200).split(b"\r\n")[0]
    except OSError:
        return b""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not GUNICORN.exists():
        pytest.skip("gunicorn is not installed in this environment")
    var = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DEBUG": "1", "VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}", "PROMETHEUS_MULTIPROC_DIR": str(var / "metrics"),
        "BIND": "127.0.0.1", "PORT": str(port), "MAX_UPLOAD_MB": str(MAX_UPLOAD_MB),
    }
    (var / "metrics").mkdir()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    log = open(var / "gunicorn.log", "wb")
    process = subprocess.Popen([str(GUNICORN), "editor_site.wsgi"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while not get(port, "/health", timeout=2).startswith(b"HTTP/1.1 "):
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"gunicorn did not start: {(var / 'gunicorn.log').read_text()[-2000:]}")
            time.sleep(0.3)
        for _ in range(6):  # each worker's first request loads the project
            get(port, "/health", timeout=30)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def trickle(port: int, data: bytes, stop: threading.Event) -> None:
    """Send `data` three bytes a second until stopped."""
    try:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            for start in range(0, len(data), 3):
                if stop.wait(1.0):
                    return
                conn.sendall(data[start:start + 3])
    except OSError:
        pass


def test_twenty_clients_trickling_requests_leave_health_and_the_pages_answering(server):
    slow_head = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 4000
    slow_body = (
        b"POST /api/upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
        b"Content-Length: 100000\r\n\r\n--xx\r\nContent-Disposition: form-data; name=\"style\"\r\n\r\n" + b"C" * 90000
    )
    stop = threading.Event()
    clients = [threading.Thread(target=trickle, args=(server, slow_head if i % 2 else slow_body, stop), daemon=True)
               for i in range(20)]
    for client in clients:
        client.start()
    try:
        time.sleep(3)  # every trickling client has sent something and holds a connection
        for path in ("/health", "/", "/api/styles", "/health"):
            assert get(server, path) == b"HTTP/1.1 200 OK", path
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=5)


def send_until_answered(port: int, head: bytes, body_size: int) -> tuple[bytes, int]:
    """Send `head`, then the body in 64 KB steps while watching for an answer. Returns (status line, body
    bytes sent when the answer came or the server closed)."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    sent, answer = 0, b""
    try:
        conn.sendall(head)
        chunk = b"\0" * (64 * 1024)
        while sent < body_size:
            if select.select([conn], [], [], 0)[0]:
                break
            try:
                conn.sendall(chunk[: body_size - sent])
            except OSError:  # reset or closed by the server
                break
            sent += len(chunk[: body_size - sent])
            time.sleep(0.005)
        try:
            answer = conn.recv(200).split(b"\r\n")[0]
        except OSError:
            pass
    finally:
        conn.close()
    return answer, sent


def upload_head(content_length: int, file_part: bool) -> bytes:
    part = (b"--xx\r\nContent-Disposition: form-data; name=\"videos\"; filename=\"big.mp4\"\r\n"
            b"Content-Type: video/mp4\r\n\r\n") if file_part else b""
    return (b"POST /api/upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
            + f"Content-Length: {content_length}\r\n\r\n".encode() + part)


def test_a_body_claiming_more_than_the_limits_allow_is_refused_before_it_is_read(server):
    answer, sent = send_until_answered(server, upload_head(500 * MB, file_part=True), body_size=64 * MB)
    assert answer == b"HTTP/1.1 413 Content Too Large"
    assert sent < 8 * MB  # answered at once, not after 500 MB


def test_a_file_that_crosses_the_limit_while_streaming_is_cut_off_there(server):
    # Within the limits by its Content-Length (12 MB of 14), but its one file passes 2 MB.
    answer, sent = send_until_answered(server, upload_head(12 * MB, file_part=True), body_size=12 * MB - 200)
    assert answer == b"HTTP/1.1 400 Bad Request"
    assert sent < 8 * MB  # not read to its end
