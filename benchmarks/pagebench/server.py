"""The real server: gunicorn with four sync worker processes, DEBUG off, loopback only.

Four sync workers, one thread each, is the setting we would run on a 2-core machine: two
processes per core, so that while one waits for the database (a PostgreSQL round trip, a
SQLite page read) the other has the core. The pages are CPU-bound Python: threads share
one interpreter lock and would not add throughput, and more processes only add memory
and context switches (gunicorn's "2 x cores + 1" rule would give five). The load
generator runs on the same two cores; the report gives its CPU share.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from common import log, tree_peak_mb

from .databases import PROJECT, command_env

GUNICORN = PROJECT / ".venv" / "bin" / "gunicorn"
HOST = "127.0.0.1"
READY_SECONDS = 60


@dataclass
class Server:
    pid: int
    port: int
    workers: int
    log_path: Path

    def peak_mb(self) -> float:
        """Sum of VmHWM of the master and its workers; read while they still run."""
        return round(tree_peak_mb(self.pid), 1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def server_command(port: int, workers: int, log_path: Path) -> list[str]:
    return [
        str(GUNICORN),
        "gonghui.wsgi",
        "-w",
        str(workers),
        "--threads",
        "1",
        "-b",
        f"{HOST}:{port}",
        "--timeout",
        "120",
        "--log-level",
        "warning",
        "--error-logfile",
        str(log_path),
    ]


def server_env(url: str, data_dir: Path) -> dict[str, str]:
    env = command_env(url, data_dir)
    env.update(
        {
            "DEBUG": "false",
            "ALLOWED_HOSTS": HOST,
            "SECRET_KEY": "benchmark-only-secret-key-not-for-production-0123456789abcdef",
        }
    )
    return env


def answers(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request("GET", "/login/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def wait_ready(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}); see {log_path}")
        if answers(port):
            return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {READY_SECONDS}s; see {log_path}")


@contextmanager
def gunicorn(url: str, data_dir: Path, log_path: Path, workers: int = 4) -> Iterator[Server]:
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log(f"starting gunicorn on {HOST}:{port} with {workers} workers (log: {log_path})")
    with log_path.open("ab") as output:
        process = subprocess.Popen(
            server_command(port, workers, log_path),
            env=server_env(url, data_dir),
            cwd=PROJECT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(process, port, log_path)
        yield Server(process.pid, port, workers, log_path)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM is gunicorn's graceful shutdown; SIGKILL if it does not come."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
