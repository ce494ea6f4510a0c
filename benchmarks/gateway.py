"""Rate-limiting gateways on 127.0.0.1 for the rate-limit benchmark and tests:
the sandbox in a process of its own, and a real nginx in front of it
(``limit_req ... nodelay; limit_req_status 429``), each started and stopped by
its PID."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    limit_req_zone $binary_remote_addr zone=api:1m rate={rate}r/s;
    upstream api {{ server 127.0.0.1:{upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            limit_req zone=api burst={burst} nodelay;
            limit_req_status 429;
            proxy_pass http://api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    """The nginx executable, or ``None`` when nginx is not installed."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what} is not listening on {port} after 20 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()  # by its PID: SIGTERM
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextlib.contextmanager
def sandbox(rate_limit: tuple[float, int] | None = None) -> Iterator[str]:
    """``flolive sandbox`` in its own process (``--rate-limit R --burst B``)."""
    port = free_port()
    cmd = [sys.executable, "-m", "flolive", "sandbox", "--port", str(port)]
    if rate_limit is not None:
        cmd += ["--rate-limit", str(rate_limit[0]), "--burst", str(rate_limit[1])]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, proc, "flolive sandbox")
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


@contextlib.contextmanager
def nginx(upstream: str, rate: float, burst: int) -> Iterator[str]:
    """A real nginx on 127.0.0.1 limiting requests to ``upstream`` (a URL on
    127.0.0.1) at ``rate`` requests/s with ``burst``, 429 without Retry-After."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed")
    up_port = int(upstream.rsplit(":", 1)[1])
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="flolive-nginx-") as d:
        conf = Path(d) / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(dir=d, rate=_rate(rate), burst=burst, upstream=up_port, port=port)
        )
        proc = subprocess.Popen(
            [binary, "-p", d, "-c", str(conf), "-e", f"{d}/error.log"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_listening(port, proc, "nginx")
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(proc)


def _rate(rate: float) -> str:
    if float(rate).is_integer():
        return str(int(rate))
    raise ValueError(f"nginx takes a whole number of requests/s here, got {rate}")
