"""A real `bocage` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_key(data: Path, role: str = "admin", scope: str = "/") -> str:
    """An API key made by `bocage keys create` on the database in ``data``, as a user would."""
    env = {**os.environ, "BOCAGE_DATABASE_URL": f"sqlite:///{data}/bocage.db"}
    done = subprocess.run(
        [sys.executable, "-m", "bocage.cli", "keys", "create", "--role", role,
         "--scope", scope, "--name", "e2e"], env=env, capture_output=True, text=True,
        check=True)
    return done.stdout.strip()


@dataclass
class Bocage:
    proc: subprocess.Popen[bytes]
    base: str
    log_path: Path


def start_bocage(command: str, data: Path, *, cwd: Path | None = None,
                 env: Mapping[str, str] | None = None, port: int | None = None,
                 log_name: str | None = None, args: tuple[str, ...] = (),
                 ready_within: float = 30.0) -> Bocage:
    """Start `bocage <command>` on a free port (or ``port``); return once ready (a demo
    backfilling history answers once the backfill is done: give it ``ready_within``)."""
    port = port or free_port()
    full_env = {**os.environ, "BOCAGE_DATABASE_URL": f"sqlite:///{data}/bocage.db",
                **(env or {})}
    log_path = data / (log_name or f"{command}.log")
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bocage.cli", command, "--host", "127.0.0.1",
             "--port", str(port), *args],
            env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return Bocage(proc, base, log_path)
        except httpx.TransportError:
            time.sleep(0.1)
        if proc.poll() is not None:
            raise RuntimeError(f"bocage {command} died:\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            stop_bocage(proc)
            raise RuntimeError(f"bocage {command} not ready in {ready_within:g} s")


def stop_bocage(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def running_bocage(command: str, data: Path, *, cwd: Path | None = None,
                   env: Mapping[str, str] | None = None,
                   args: tuple[str, ...] = ()) -> Iterator[str]:
    """Start `bocage <command> [args]` on a free port; yield its base URL once ready."""
    server = start_bocage(command, data, cwd=cwd, env=env, args=args)
    try:
        yield server.base
    finally:
        stop_bocage(server.proc)
