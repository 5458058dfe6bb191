"""Callbacks: the signed POST of a job's JSON to the URL its maker gave, once the job ends.

A callback is a way out of the server, so its URL is held to the rules ffmpeg's inputs are: http or
https only, no user name or password, and every address its host resolves to must be public (no
loopback, private, shared, link-local/metadata, multicast or reserved address) unless the host is
listed in CALLBACK_ALLOWED_HOSTS. The check runs at upload and again at each delivery, which connects
to the address it checked (a name that changes its answer in between reaches nothing new). Redirects
are not followed and each attempt has CALLBACK_TIMEOUT_S.

The update that ends a job makes its callback due (due_on_end). The worker delivers right after the
render and the housekeeping sweep delivers what is due later (retries); each attempt is claimed with one
conditional UPDATE on the job row, so two hosts never send the same attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Case, DateTimeField, Value, When
from django.utils import timezone

from .models import Job

log = logging.getLogger(__name__)

SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2000  # Job.callback_url's column
# Waits after each failed attempt: four attempts in all, the last about six minutes after the job ended.
RETRY_AFTER_S = (10, 60, 300)
MAX_ATTEMPTS = len(RETRY_AFTER_S) + 1
# What one sweep pass spends on callbacks at most, so slow receivers cannot hold up its other work: attempts
# are started while the pass has spent less than PASS_BUDGET_S on them (a started one may take 2 timeouts).
PER_PASS = 5
PASS_BUDGET_S = 15.0
ADDRESSES_TRIED = 2  # of a host's checked addresses (an IPv6 one first may have no route)
SIGNATURE_HEADER = "X-Cutline-Signature"
TIMESTAMP_HEADER = "X-Cutline-Timestamp"
# 64:ff9b::/96 carries an IPv4 address to a NAT64 gateway: the IPv4 address inside is the one checked.
NAT64 = ipaddress.ip_network("64:ff9b::/96")

Describe = Callable[[Job], dict[str, Any]]


class CallbackRefused(ValueError):
    """A callback_url the server will not call; the message says why, in words for the API client."""


@dataclass(frozen=True)
class Target:
    """A checked callback: where to connect (addresses) and what to send as Host and path."""

    scheme: str
    host: str  # the name (or literal address) for TLS and certificate checks
    netloc: str  # the Host header
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]


# ---------------------------------------------------------------- checking


def enabled() -> bool:
    return bool(settings.CALLBACK_SECRET)


def check_url(url: str) -> Target:
    """The callback target for `url`, its host resolved and every address checked. Raises CallbackRefused."""
    if not enabled():
        raise CallbackRefused(
            "This server sends no callbacks (its operator has not set CALLBACK_SECRET): poll the job's status_url."
        )
    if len(url) > MAX_URL_LENGTH:
        raise CallbackRefused(f"callback_url is too long: at most {MAX_URL_LENGTH} characters.")
    if not url.isascii() or any(char.isspace() or not char.isprintable() for char in url):
        raise CallbackRefused(
            "callback_url must be plain ASCII with no spaces: percent-encode the path and write the host as xn--."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CallbackRefused(f"callback_url is not a valid URL ({exc}).") from None
    if parts.scheme.lower() not in SCHEMES:
        raise CallbackRefused("callback_url must be an http:// or https:// URL.")
    if not parts.hostname:
        raise CallbackRefused("callback_url has no host name.")
    if parts.username is not None or parts.password is not None:
        raise CallbackRefused(
            "callback_url must not carry a user name or password: check the X-Cutline-Signature header instead."
        )
    scheme = parts.scheme.lower()
    port = port or (443 if scheme == "https" else 80)
    host = parts.hostname
    addresses = resolve(host, port)
    if not allowed_host(host):
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                raise CallbackRefused(
                    f"callback_url's host {host} is at {address}, {reason}: callbacks go only to public addresses."
                )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=scheme, host=host, netloc=parts.netloc, port=port, path=path, addresses=addresses)


def resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address `host` resolves to (a literal address resolves to itself), in the resolver's order."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackRefused(f"callback_url's host {host} could not be resolved ({exc}).") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise CallbackRefused(f"callback_url's host {host} has no address.")
    return addresses


def allowed_host(host: str) -> bool:
    """Listed in CALLBACK_ALLOWED_HOSTS: the operator's own receivers, which may sit on a private network."""
    name = host.lower().rstrip(".")
    return any(name == listed.lower().strip("[]").rstrip(".") for listed in settings.CALLBACK_ALLOWED_HOSTS)


def address_refusal(address: str) -> str | None:
    """Why a callback may not go to this address (None when it is public)."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


# ---------------------------------------------------------------- signing and sending


def sign(body: bytes, timestamp: int, secret: str) -> str:
    """The X-Cutline-Signature value: `sha256=` and the hex HMAC-SHA256, under the secret, of
    `<timestamp>.` followed by the body (the timestamp is signed too, so an old call cannot be replayed)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class DeliveryFailed(Exception):
    """The receiver could not be reached or did not answer 2xx; the message goes on the job row."""


def send(target: Target, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` to the target's checked addresses (the first that takes a connection); the status code.

    No redirect is followed and no retry made here: a 3xx is an answer like any other.
    """
    # Imported here: urllib3 and the TLS library it loads are ~8 MB a render worker would otherwise carry
    # beside every render, for the few jobs that ask for a callback (benchmarks/README.md, "Phone footage").
    import urllib3

    timeout = urllib3.Timeout(total=settings.CALLBACK_TIMEOUT_S)
    headers = {**headers, "Host": target.netloc}
    failure: Exception | None = None
    for address in target.addresses[:ADDRESSES_TRIED]:
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address, target.port, timeout=timeout, retries=False, maxsize=1,
                server_hostname=target.host, assert_hostname=target.host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1)
        try:
            response = pool.urlopen(
                "POST", target.path, body=body, headers=headers, redirect=False, retries=False,
                assert_same_host=False, preload_content=False,
            )
            response.read(1024, decode_content=False)  # the answer's body is not ours to keep
            response.release_conn()
            return response.status
        except urllib3.exceptions.ConnectTimeoutError as exc:  # refused or unreachable too: try the next address
            failure = exc
        except urllib3.exceptions.HTTPError as exc:
            raise DeliveryFailed(_plain(exc)) from exc
        finally:
            pool.close()
    raise DeliveryFailed(_plain(failure))


def _plain(exc: Exception | None) -> str:
    """The failure in a few words for the job row (urllib3's own name a pool and an address first)."""
    import urllib3

    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # a subclass of its timeouts
        return f"could not connect ({str(exc).split(': ', 1)[-1]})"
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return f"no answer within {settings.CALLBACK_TIMEOUT_S} s"
    return f"failed ({exc})"


def request_for(job: Job, payload: dict[str, Any], attempt: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt."""
    body = json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()
    timestamp = int(time.time())
    return body, {
        "Content-Type": "application/json",
        "User-Agent": "Cutline-Callback/1",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(body, timestamp, settings.CALLBACK_SECRET),
        "X-Cutline-Job": str(job.id),
        "X-Cutline-Attempt": str(attempt),
    }


# ---------------------------------------------------------------- delivering


def due_on_end(now: datetime) -> dict[str, Any]:
    """Fields for the UPDATE that ends a job: its callback, if it has one, is due now with a fresh set of attempts
    (a job an operator retried calls again when it ends again)."""
    return dict(
        callback_due_at=Case(When(callback_url="", then=Value(None)), default=Value(now), output_field=DateTimeField()),
        callback_attempts=0, callback_delivered_at=None, callback_error="",
    )


def deliver_due(describe: Describe, *, job_id=None, limit: int = PER_PASS, budget_s: float = PASS_BUDGET_S) -> int:
    """Make the attempts that are due (only this job's with `job_id`), oldest first: at most `limit`, and after
    the first none once `budget_s` is spent. Returns how many were delivered.

    `describe` gives the job's JSON (the API's, which the web layer owns).
    """
    started = time.monotonic()
    now = timezone.now()
    due = Job.objects.filter(
        status__in=Job.ENDED, callback_due_at__lte=now, callback_delivered_at=None
    ).exclude(callback_url="")
    if job_id is not None:
        due = due.filter(id=job_id)
    # A host that died during the last attempt left it claimed: that was the last try.
    due.filter(callback_attempts__gte=MAX_ATTEMPTS).update(
        callback_due_at=None, callback_error=f"Gave up after {MAX_ATTEMPTS} attempts: the last one was interrupted."
    )
    rows = due.filter(callback_attempts__lt=MAX_ATTEMPTS).order_by("callback_due_at")[:limit]
    delivered = 0
    for index, (row_id, attempts) in enumerate(list(rows.values_list("id", "callback_attempts"))):
        if index and time.monotonic() - started > budget_s:
            break  # the rest stay due for the next pass
        delivered += _attempt(row_id, attempts, describe)
    return delivered


def _attempt(job_id, attempts: int, describe: Describe) -> bool:
    """Claim attempt `attempts + 1` and make it. True when the receiver took it."""
    attempt = attempts + 1
    now = timezone.now()
    # Until it ends, the attempt holds the row: due again only once it would have been over (a host that died).
    held_until = now + timedelta(seconds=ADDRESSES_TRIED * settings.CALLBACK_TIMEOUT_S + 30)
    claimed = Job.objects.filter(
        id=job_id, status__in=Job.ENDED, callback_attempts=attempts, callback_due_at__lte=now,
        callback_delivered_at=None,
    ).update(callback_attempts=attempt, callback_due_at=held_until)
    if not claimed:
        return False
    job = Job.objects.get(id=job_id)
    try:
        body, headers = request_for(job, describe(job), attempt)
        status = send(check_url(job.callback_url), body, headers)
        if 300 <= status < 400:
            raise DeliveryFailed(f"answered {status}: redirects are not followed")
        if not 200 <= status < 300:
            raise DeliveryFailed(f"answered {status}")
    except (CallbackRefused, DeliveryFailed) as exc:
        _failed(job_id, attempt, str(exc))
        return False
    except Exception as exc:
        # Whatever else went wrong is this attempt's failure: the row must not stay claimed, nor stop the pass.
        log.exception("job %s: callback attempt %s crashed", job_id, attempt)
        _failed(job_id, attempt, f"failed on our side ({type(exc).__name__})")
        return False
    Job.objects.filter(id=job_id, callback_attempts=attempt).update(
        callback_delivered_at=timezone.now(), callback_due_at=None, callback_error=""
    )
    log.info("job %s: callback delivered (attempt %s)", job_id, attempt)
    return True


def _failed(job_id, attempt: int, reason: str) -> None:
    if attempt < MAX_ATTEMPTS:
        due = timezone.now() + timedelta(seconds=RETRY_AFTER_S[attempt - 1])
        error = f"Attempt {attempt} of {MAX_ATTEMPTS} failed: {reason}"
    else:
        due = None
        error = f"Gave up after {MAX_ATTEMPTS} attempts: {reason}"
    Job.objects.filter(id=job_id, callback_attempts=attempt).update(callback_due_at=due, callback_error=error[:300])
    log.warning("job %s: callback attempt %s failed: %s", job_id, attempt, reason)
