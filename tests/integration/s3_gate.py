"""An S3-facing gate that accepts only vended, unexpired storage credentials.

SeaweedFS's ``weed mini`` knows one static key pair and no session tokens, so
it cannot stand for the short-lived, table-scoped credentials Polaris vends.
The gate does: it listens on 127.0.0.1, and for every S3 request it

* finds the vended access key in the SigV4 ``Authorization`` header (an
  unknown one is ``403 InvalidAccessKeyId``), requires the session token it
  was vended with (``x-amz-security-token``; else ``403 InvalidToken``),
* refuses it once its lifetime is over: ``403 ExpiredToken``, "The provided
  token has expired.", as S3 answers an expired session credential,
* verifies the request's SigV4 signature with the vended secret (``403
  SignatureDoesNotMatch`` otherwise) — so only a client that really signs
  with the vended secret gets through, and
* re-signs the request with SeaweedFS's real keys and forwards it (an
  ``aws-chunked`` body, whose chunk signatures chain from the client's
  signature, is decoded and sent plain).

:meth:`S3Gate.vend` issues credentials living a given time; a test controls
the lifetime, never the machine's speed. Every answer is counted by its
error code in :attr:`S3Gate.refusals` and every accepted request in
:attr:`S3Gate.accepted`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ALGORITHM = "AWS4-HMAC-SHA256"
_UPSTREAM_TIMEOUT_S = 60.0
#: Headers the gate sets itself toward SeaweedFS (the client's are dropped).
_DROPPED = {
    "authorization",
    "x-amz-security-token",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-amz-sdk-checksum-algorithm",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "expect",
    "keep-alive",
}


@dataclass(frozen=True)
class VendedCredentials:
    """One set of short-lived storage credentials.

    Attributes:
        access_key_id: The vended access key (``s3.access-key-id``).
        secret_access_key: Its secret (``s3.secret-access-key``).
        session_token: The session token (``s3.session-token``).
        expires_at_ms: When the gate stops accepting them, epoch milliseconds.
    """

    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at_ms: int


def _sign(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The SigV4 signing key of ``secret`` for one day, region and service."""
    key = _sign(f"AWS4{secret}".encode(), date)
    key = _sign(key, region)
    key = _sign(key, service)
    return _sign(key, "aws4_request")


def canonical_query(query: str) -> str:
    """SigV4's canonical query string: pairs sorted, each part encoded once (RFC 3986)."""
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    encoded = sorted(
        (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~")) for k, v in pairs
    )
    return "&".join(f"{k}={v}" for k, v in encoded)


def signature(
    *,
    secret: str,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    signed: list[str],
    payload_hash: str,
    amz_date: str,
    scope: str,
) -> str:
    """The hex SigV4 signature of a request (S3: the path is not encoded again)."""
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed)
    request = "\n".join(
        [
            method,
            path or "/",
            canonical_query(query),
            canonical_headers,
            ";".join(signed),
            payload_hash,
        ]
    )
    to_sign = "\n".join([_ALGORITHM, amz_date, scope, hashlib.sha256(request.encode()).hexdigest()])
    date, region, service, _ = scope.split("/")
    return hmac.new(
        signing_key(secret, date, region, service), to_sign.encode(), hashlib.sha256
    ).hexdigest()


def _parse_authorization(value: str) -> dict[str, str] | None:
    if not value.startswith(_ALGORITHM + " "):
        return None
    fields: dict[str, str] = {}
    for part in value[len(_ALGORITHM) + 1 :].split(","):
        key, _, item = part.strip().partition("=")
        fields[key] = item
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    return fields


def _decode_aws_chunked(body: bytes) -> bytes:
    """The payload of an ``aws-chunked`` body (chunks ``<hex size>;chunk-signature=..``)."""
    out = bytearray()
    at = 0
    while at < len(body):
        end = body.index(b"\r\n", at)
        size = int(body[at:end].split(b";", 1)[0], 16)
        start = end + 2
        out += body[start : start + size]
        at = start + size + 2
        if size == 0:
            break
    return bytes(out)


def _s3_error(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{secrets.token_hex(8)}</RequestId></Error>"
    ).encode()


class S3Gate:
    """The gate in front of SeaweedFS's S3 endpoint ``upstream``.

    Args:
        upstream: SeaweedFS's S3 endpoint (``http://127.0.0.1:<port>``).
        access_key: SeaweedFS's real access key (the gate signs with it).
        secret_key: Its secret.
        region: The signing region.
    """

    def __init__(self, upstream: str, *, access_key: str, secret_key: str, region: str) -> None:
        parts = urllib.parse.urlsplit(upstream)
        self._upstream_host = parts.hostname or "127.0.0.1"
        self._upstream_port = int(parts.port or 80)
        self._access_key = access_key
        self._secret_key = secret_key
        self.region = region
        self._vended: dict[str, VendedCredentials] = {}
        self._expire_countdown: int | None = None
        self._lock = threading.Lock()
        #: Refused requests by S3 error code.
        self.refusals: dict[str, int] = {}
        #: Requests let through, by vended access key.
        self.accepted: dict[str, int] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``: what ``s3.endpoint`` is for vended credentials."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def vend(self, lifetime_s: float) -> VendedCredentials:
        """New credentials the gate accepts for ``lifetime_s`` seconds from now."""
        credentials = VendedCredentials(
            access_key_id="VND" + secrets.token_hex(8).upper(),
            secret_access_key=secrets.token_urlsafe(30),
            session_token="vst-" + secrets.token_urlsafe(48),
            expires_at_ms=int((time.time() + lifetime_s) * 1000),
        )
        with self._lock:
            self._vended[credentials.access_key_id] = credentials
        return credentials

    def expire_all(self) -> None:
        """End the lifetime of every credential vended so far (they get ``ExpiredToken``)."""
        now_ms = int(time.time() * 1000)
        with self._lock:
            for key, old in self._vended.items():
                self._vended[key] = VendedCredentials(
                    old.access_key_id, old.secret_access_key, old.session_token, now_ms
                )

    def expire_after(self, requests: int) -> None:
        """End every credential vended by then once ``requests`` more requests got through."""
        with self._lock:
            self._expire_countdown = requests

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        if self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._thread = None

    # -- checking and forwarding ------------------------------------------------------

    def _refuse(self, code: str) -> None:
        with self._lock:
            self.refusals[code] = self.refusals.get(code, 0) + 1

    def check(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, str] | None:
        """``(status, code, message)`` refusing the request, or None when it may pass."""
        fields = _parse_authorization(headers.get("authorization", ""))
        if fields is None:
            return 403, "AccessDenied", "Access Denied (a signed request with vended keys only)"
        access_key, _, scope = fields["Credential"].partition("/")
        with self._lock:
            vended = self._vended.get(access_key)
        if vended is None:
            return 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist."
        token = headers.get("x-amz-security-token", "")
        if not hmac.compare_digest(token.encode(), vended.session_token.encode()):
            return 403, "InvalidToken", "The provided token is malformed or otherwise invalid."
        if time.time() * 1000 >= vended.expires_at_ms:
            return 403, "ExpiredToken", "The provided token has expired."
        signed = fields["SignedHeaders"].split(";")
        if any(name not in headers for name in signed) or "host" not in signed:
            return 403, "AccessDenied", "Signed headers are missing"
        path, _, query = target.partition("?")
        payload_hash = headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        streaming = payload_hash.startswith("STREAMING-")
        if (
            payload_hash != "UNSIGNED-PAYLOAD"
            and not streaming
            and not hmac.compare_digest(payload_hash, hashlib.sha256(body).hexdigest())
        ):
            return 400, "XAmzContentSHA256Mismatch", "The payload hash does not match"
        expected = signature(
            secret=vended.secret_access_key,
            method=method,
            path=path,
            query=query,
            headers=headers,
            signed=signed,
            payload_hash=payload_hash,
            amz_date=headers.get("x-amz-date", ""),
            scope=scope,
        )
        if not hmac.compare_digest(expected, fields["Signature"]):
            return (
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match",
            )
        with self._lock:
            self.accepted[access_key] = self.accepted.get(access_key, 0) + 1
            if self._expire_countdown is not None:
                self._expire_countdown -= 1
                expire = self._expire_countdown <= 0
                if expire:
                    self._expire_countdown = None
            else:
                expire = False
        if expire:
            self.expire_all()
        return None

    def forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> http.client.HTTPResponse:
        """Send the request to SeaweedFS signed with the real keys; the open answer."""
        if headers.get("x-amz-content-sha256", "").startswith("STREAMING-"):
            body = _decode_aws_chunked(body)  # its trailer (a checksum) is dropped too
        out = {k: v for k, v in headers.items() if k not in _DROPPED}
        encoding = [e for e in out.get("content-encoding", "").split(",") if e.strip()]
        encoding = [e for e in encoding if e.strip() != "aws-chunked"]
        if encoding:
            out["content-encoding"] = ",".join(encoding)
        else:
            out.pop("content-encoding", None)
        now = time.gmtime()
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", now)
        scope = f"{time.strftime('%Y%m%d', now)}/{self.region}/s3/aws4_request"
        host = f"{self._upstream_host}:{self._upstream_port}"
        payload_hash = hashlib.sha256(body).hexdigest()
        signed_headers = {
            "host": host,
            "x-amz-content-sha256": payload_hash,
            "x-amz-date": amz_date,
        }
        # S3 wants every x-amz-* header (and Content-MD5) signed.
        signed_headers |= {
            k: v for k, v in out.items() if k.startswith("x-amz-") or k == "content-md5"
        }
        path, _, query = target.partition("?")
        sig = signature(
            secret=self._secret_key,
            method=method,
            path=path,
            query=query,
            headers=signed_headers,
            signed=sorted(signed_headers),
            payload_hash=payload_hash,
            amz_date=amz_date,
            scope=scope,
        )
        out.update(signed_headers)
        out["authorization"] = (
            f"{_ALGORITHM} Credential={self._access_key}/{scope}, "
            f"SignedHeaders={';'.join(sorted(signed_headers))}, Signature={sig}"
        )
        out["content-length"] = str(len(body))
        connection = http.client.HTTPConnection(
            self._upstream_host, self._upstream_port, timeout=_UPSTREAM_TIMEOUT_S
        )
        connection.request(method, target, body=body, headers=out)
        return connection.getresponse()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";", 1)[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return bytes(data)
                        data += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _serve(self) -> None:
                body = self._body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                refused = gate.check(self.command, self.path, headers, body)
                if refused is not None:
                    status, code, message = refused
                    gate._refuse(code)
                    data = _s3_error(code, message)
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                    return
                try:
                    upstream = gate.forward(self.command, self.path, headers, body)
                except OSError as exc:
                    data = _s3_error("ServiceUnavailable", type(exc).__name__)
                    self.send_response(503)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                with contextlib.closing(upstream):
                    content = upstream.read()
                    self.send_response(upstream.status)
                    for key, value in upstream.getheaders():
                        if key.lower() not in {"connection", "transfer-encoding", "keep-alive"}:
                            self.send_header(key, value)
                    if upstream.getheader("Content-Length") is None:
                        self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(content)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        return Handler


@contextlib.contextmanager
def running_gate(upstream: str, **options: Any) -> Iterator[S3Gate]:
    """A started :class:`S3Gate`, stopped on exit."""
    gate = S3Gate(upstream, **options)
    gate.start()
    try:
        yield gate
    finally:
        gate.stop()
