"""Start the gallery in a child process on a free loopback port, and wait until it answers."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout_s: float = 180) -> float:
    """Seconds until `url` first answered HTTP 200; raises if the process died or timed out."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if proc.poll() is not None:
            tail = Path(getattr(proc, "log_path", "/dev/null")).read_text()[-2000:]
            raise RuntimeError(f"the app exited with code {proc.returncode}:\n{tail}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


@contextlib.contextmanager
def running_app(paper: str | None = None, env: dict | None = None):
    """Yields (base_url, proc, seconds_to_first_200)."""
    port = free_port()
    cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port)]
    if paper:
        cmd += ["--paper", paper]
    start = time.perf_counter()
    # The server's log goes to a file: an unread pipe fills up and blocks the server.
    log = tempfile.NamedTemporaryFile(prefix="gallery-server-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = log.name
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until_up(url, proc)
        yield url, proc, time.perf_counter() - start
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()
        log.close()
        Path(log.name).unlink(missing_ok=True)
