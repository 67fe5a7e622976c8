"""Web Push: the server's VAPID key pair and sending one encrypted message to one subscription.

pywebpush does the aes128gcm encryption (RFC 8291); the VAPID JWT (RFC 8292) is signed once per push
service and reused until shortly before it expires, and HTTP connections are kept alive per worker
thread, so a fan-out spends its time on encryption, not on signing and TLS handshakes.
"""
from __future__ import annotations

import base64
import ipaddress
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException
from sqlalchemy.orm import Session

from core.notifications.models import VapidKey

URGENCIES = ("very-low", "low", "normal", "high")
JWT_LIFETIME = 12 * 3600
JWT_RENEW_BEFORE = 3600
SEND_TIMEOUT = 10


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _new_key_pair() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return pem, _b64url(public)


def vapid_key(session: Session) -> VapidKey:
    """The VAPID key pair, created on first use. Two processes starting at once both try; the primary key
    lets one win and the other reads the winner's key, so the key is never replaced."""
    row = session.get(VapidKey, 1)
    if row is not None:
        return row
    pem, public = _new_key_pair()
    try:
        with session.begin_nested():
            session.add(VapidKey(id=1, private_key=pem, public_key=public))
    except sa.exc.IntegrityError:
        pass
    session.commit()
    return session.get(VapidKey, 1)


@dataclass
class PushResult:
    status: int  # HTTP status of the push service, 0 when it could not be reached
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        """The push service says the subscription no longer exists: delete it."""
        return self.status in (404, 410)

    @property
    def transient(self) -> bool:
        """Worth trying again later (service down, rate limited)."""
        return self.status == 0 or self.status == 429 or self.status >= 500


class PushSender:
    """Sends Web Push messages with one VAPID key. Thread-safe; one per app (kept in its extensions)."""

    def __init__(self, private_pem: str, subject: str) -> None:
        self.vapid = Vapid.from_pem(private_pem.encode())
        self.subject = subject
        self._headers: dict[str, tuple[float, dict]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def _vapid_headers(self, endpoint: str) -> dict:
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self._headers.get(audience)
        if cached is None or cached[0] - now < JWT_RENEW_BEFORE:
            expires = int(now) + JWT_LIFETIME
            with self._lock:
                headers = self.vapid.sign({"aud": audience, "exp": expires, "sub": self.subject})
            cached = (expires, dict(headers))
            self._headers[audience] = cached
        return cached[1]

    def _http(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send(self, subscription: dict, payload: bytes, ttl: int = 24 * 3600, urgency: str = "normal",
             topic: str | None = None) -> PushResult:
        headers = dict(self._vapid_headers(subscription["endpoint"]))
        headers["Urgency"] = urgency if urgency in URGENCIES else "normal"
        if topic:
            headers["Topic"] = topic
        try:
            response = WebPusher(subscription, requests_session=self._http()).send(
                payload, headers, ttl=max(int(ttl), 0), content_encoding="aes128gcm", timeout=SEND_TIMEOUT)
        except WebPushException as exc:  # malformed subscription keys
            return PushResult(400, str(exc)[:255])
        except requests.RequestException as exc:
            return PushResult(0, f"{type(exc).__name__}: {exc}"[:255])
        if 200 <= response.status_code < 300:
            return PushResult(response.status_code)
        return PushResult(response.status_code, f"{response.status_code} {response.reason}"[:255])


def sender(app, session: Session) -> PushSender:
    """The app's push sender for the stored key pair (built once; one primary-key read per call)."""
    extra = app.extensions["federa"].extra
    key = vapid_key(session)
    found = extra.get("push_sender")
    if found is None or found[0] != key.public_key:
        subject = app.config.get("VAPID_SUBJECT") or "mailto:" + _mail_address(app.config.get("MAIL_FROM"))
        found = extra["push_sender"] = (key.public_key, PushSender(key.private_key, subject))
    return found[1]


def _mail_address(mail_from: str | None) -> str:
    from email.utils import parseaddr

    return parseaddr(mail_from or "")[1] or "no-reply@federa.local"


# --- checking what browsers send ------------------------------------------------------------------

def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_subscription(data: dict, allow_loopback_http: bool = False) -> dict[str, str]:
    """Field errors of a browser's PushSubscription JSON (empty when it is usable).

    The endpoint must be https (plain http only for loopback hosts in development/demo mode);
    p256dh must be an uncompressed P-256 point and auth a 16-byte secret, both base64url."""
    errors: dict[str, str] = {}
    endpoint = data.get("endpoint") or ""
    parts = urlsplit(endpoint)
    if len(endpoint) > 2048:
        errors["endpoint"] = "too long"
    elif parts.scheme == "https" and parts.hostname:
        pass
    elif parts.scheme == "http" and allow_loopback_http and is_loopback(parts.hostname):
        pass
    elif parts.scheme == "http" and parts.hostname:
        errors["endpoint"] = "must be an https URL"
    else:
        errors["endpoint"] = "not a push service URL"
    if parts.username or parts.password:
        errors["endpoint"] = "must not contain credentials"
    keys = data.get("keys") or {}
    try:
        point = b64url_decode(keys.get("p256dh") or "")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        if len(point) != 65:
            raise ValueError
    except (ValueError, TypeError):
        errors["keys.p256dh"] = "not a P-256 public key (base64url, uncompressed)"
    try:
        if len(b64url_decode(keys.get("auth") or "")) != 16:
            raise ValueError
    except (ValueError, TypeError):
        errors["keys.auth"] = "not a 16-byte authentication secret (base64url)"
    return errors
