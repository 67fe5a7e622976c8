"""A local Web Push service for tests and benchmarks: it plays the browser vendor's push server.

It checks what a real one checks (the VAPID JWT signed with the key in the `k` parameter, audience,
expiry, TTL) and, holding the subscriber's private key like the browser would, decrypts the
aes128gcm payload. Paths choose the answer: `/push/<id>` accepts (201), `/gone/<id>` answers 410,
`/missing/<id>` 404.
"""
from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscriber:
    """What a browser holds for one push subscription: the ECDH key pair and the auth secret."""

    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(self.private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                                 serialization.PublicFormat.UncompressedPoint))

    def subscription(self, endpoint: str) -> dict:
        return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> dict:
        return json.loads(http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth,
                                           version="aes128gcm"))


def verify_vapid(authorization: str, audience: str) -> tuple[dict, str]:
    """Check a `vapid t=<jwt>, k=<key>` header; return (claims, public key). Raises AssertionError."""
    assert authorization.startswith("vapid "), authorization
    params = dict(part.strip().split("=", 1) for part in authorization[6:].split(","))
    token, key = params["t"], params["k"]
    header_b64, claims_b64, signature_b64 = token.split(".")
    header = json.loads(unb64url(header_b64))
    assert header["alg"] == "ES256", header
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    signature = unb64url(signature_b64)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("VAPID signature does not verify") from None
    claims = json.loads(unb64url(claims_b64))
    assert claims["aud"] == audience, (claims, audience)
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600, claims
    assert claims["sub"].startswith(("mailto:", "https:")), claims
    return claims, key


class PushService:
    """Runs on 127.0.0.1 in a thread. `received` holds (path, headers with lower-case names, body) of accepted messages."""

    def __init__(self, verify: bool = True) -> None:
        self.received: list[tuple[str, dict, bytes]] = []
        self.errors: list[str] = []
        self.verify = verify
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = 201
                if self.path.startswith("/gone/"):
                    status = 410
                elif self.path.startswith("/missing/"):
                    status = 404
                elif service.verify:
                    try:
                        verify_vapid(self.headers.get("Authorization", ""), service.url)
                        assert self.headers.get("Content-Encoding") == "aes128gcm"
                        assert int(self.headers.get("TTL")) > 0
                    except (AssertionError, KeyError, ValueError, TypeError) as exc:
                        service.errors.append(f"{type(exc).__name__}: {exc}")
                        status = 400
                if status == 201:
                    with service._lock:
                        service.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="push-service", daemon=True)

    def __enter__(self) -> "PushService":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
