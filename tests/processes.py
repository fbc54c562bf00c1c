"""Real `fedgate` processes for tests: a local deployment on loopback, served until the block ends."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from fedgate.keys import generate_log_key, generate_tag_key
from fedgate.model import AGENCIES
from fedgate.pki import PKILayout

FEDGATE = [sys.executable, "-m", "fedgate.cli"]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160", "FEDGATE_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [*FEDGATE, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def local_deployment(base: Path, pki: PKILayout, data_dir: Path, *, audit_url: str | None = None) -> Path:
    """A deployment directory (PKI link, data copy, keys) and its config on free ports; returns the config."""
    ports = free_ports(7)
    base.mkdir(parents=True)
    (base / "pki").symlink_to(pki.root)
    shutil.copytree(data_dir, base / "data")
    generate_log_key(base / "keys", "fedgate.border.nz/audit/v1")
    generate_tag_key(base / "keys" / "tag.key")
    made = run(
        "config", "local", str(base), "--gateway-port", str(ports[0]), "--first-adapter-port", str(ports[1])
    )
    assert made.returncode == 0, made.stderr
    config = base / "fedgate.toml"
    text = config.read_text()
    # `config local` numbers adapter ports consecutively; use the free ones found instead.
    for i in range(len(AGENCIES)):
        text = text.replace(f'address = "127.0.0.1:{ports[1] + i}"', f'address = "127.0.0.1:{ports[1 + i]}"')
    if audit_url is not None:
        text = re.sub(r'(?m)^path = ".*"$', f'url = "{audit_url}"', text)
    config.write_text(text)
    return config


def another_gateway(config: Path, name: str) -> Path:
    """The same deployment with the gateway listening on another free port (a second replica)."""
    (port,) = free_ports(1)
    text = re.sub(
        r'(?m)^listen = "127\.0\.0\.1:\d+"$', f'listen = "127.0.0.1:{port}"', config.read_text(), count=1
    )
    other = config.with_name(name)
    other.write_text(text)
    return other


def gateway_address(config: Path) -> str:
    match = re.search(r'(?m)^listen = "(127\.0\.0\.1:\d+)"$', config.read_text())
    assert match is not None
    return match.group(1)


@contextlib.contextmanager
def serving(adapters_config: Path, gateway_configs: Sequence[Path], pki_root: Path) -> Iterator[list[str]]:
    """Six adapters and one gateway per config as separate processes; yields the gateway addresses."""
    env = {**os.environ, "FEDGATE_LOG_FORMAT": "json"}

    def spawn(*args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*FEDGATE, "serve", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    procs = [spawn("adapter", a, "--config", str(adapters_config)) for a in AGENCIES]
    procs += [spawn("gateway", "--config", str(c)) for c in gateway_configs]
    addresses = [gateway_address(c) for c in gateway_configs]
    try:
        deadline = time.monotonic() + 60
        for address in addresses:
            while run(
                "health", address, "--pki", str(pki_root), "--as-role", "gateway", timeout=30
            ).returncode:
                assert time.monotonic() < deadline, f"{address} never became healthy"
                assert all(p.poll() is None for p in procs), "a server process exited early"
                time.sleep(0.5)
        yield addresses
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# -- single processes, for tests that kill and restart one (additive to `serving`) ---------------


def spawn_server(*args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """`fedgate serve ARGS` as a process (JSON logs to ``log`` if given, else discarded)."""
    env = {**os.environ, "FEDGATE_LOG_FORMAT": "json"}
    if log is None:
        return subprocess.Popen(
            [*FEDGATE, "serve", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    with log.open("ab") as out:  # the child keeps its own descriptor; ours closes here
        return subprocess.Popen([*FEDGATE, "serve", *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], *, grace_s: float = 20) -> None:
    """SIGTERM every process still running, wait up to ``grace_s`` each, SIGKILL what remains."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def adapter_addresses(config: Path) -> list[str]:
    """The adapters' listen addresses in ``config``, in `AGENCIES` order."""
    text = config.read_text()
    addresses = []
    for agency in AGENCIES:
        match = re.search(rf'(?ms)^\[adapters\.{agency}\]$.*?^address = "(127\.0\.0\.1:\d+)"$', text)
        assert match is not None, agency
        addresses.append(match.group(1))
    return addresses


def wait_listening(
    addresses: Sequence[str], procs: Sequence[subprocess.Popen[bytes]], *, timeout_s: float = 60
) -> None:
    """Wait until each loopback address accepts TCP connections; fail if a process exits first."""
    deadline = time.monotonic() + timeout_s
    for address in addresses:
        host, port = address.rsplit(":", 1)
        while True:
            with socket.socket() as s:
                s.settimeout(1)
                if s.connect_ex((host, int(port))) == 0:
                    break
            assert time.monotonic() < deadline, f"{address} never listened"
            assert all(p.poll() is None for p in procs), "a server process exited early"
            time.sleep(0.1)


@contextlib.contextmanager
def serving_adapters(config: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The six adapters of ``config`` as processes, listening; stopped (SIGTERM) when the block ends."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for agency in AGENCIES:
            procs.append(spawn_server("adapter", agency, "--config", str(config)))
        wait_listening(adapter_addresses(config), procs)
        yield procs
    finally:
        stop_processes(procs)


class GatewayProcess:
    """One `fedgate serve gateway --config CONFIG` process that a test may SIGKILL and start again.

    ``start`` waits until `fedgate health` answers; ``kill`` is SIGKILL (no shutdown code runs);
    ``stop`` is SIGTERM with a grace period, then SIGKILL. Use as a context manager so the
    process never outlives the test.
    """

    def __init__(self, config: Path, pki_root: Path, *, log: Path | None = None) -> None:
        self.config = config
        self.address = gateway_address(config)
        self._pki_root = pki_root
        self._log = log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout_s: float = 60) -> None:
        assert self.popen is None or self.popen.poll() is not None, "gateway already running"
        self.popen = spawn_server("gateway", "--config", str(self.config), log=self._log)
        deadline = time.monotonic() + timeout_s
        while run(
            "health", self.address, "--pki", str(self._pki_root), "--as-role", "gateway", timeout=30
        ).returncode:
            assert time.monotonic() < deadline, f"{self.address} never became healthy"
            assert self.popen.poll() is None, "the gateway process exited early"
            time.sleep(0.2)

    def kill(self) -> int:
        """SIGKILL the process and reap it; returns its exit status (``-SIGKILL``)."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        return self.popen.wait(timeout=30)

    def stop(self, *, grace_s: float = 20) -> None:
        if self.popen is not None:
            stop_processes([self.popen], grace_s=grace_s)

    def __enter__(self) -> GatewayProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- gateway variants and process resources (additive) ---------------------------------------------


def gateway_variant(
    config: Path,
    name: str,
    *,
    audit_path: Path | None = None,
    audit_url: str | None = None,
    metrics: bool = False,
) -> Path:
    """The same deployment (same adapters) for one more gateway: its own free port, and optionally
    its own audit store (``audit_path``: a SQLite file; ``audit_url``: any store URL) and a
    Prometheus endpoint on another free port (``[metrics] listen``, read with `metrics_address`).
    Written next to ``config`` as ``name``.
    """
    assert audit_path is None or audit_url is None, "one audit store"
    text = another_gateway(config, name).read_text()
    store = f'path = "{audit_path}"' if audit_path is not None else f'url = "{audit_url}"'
    if audit_path is not None or audit_url is not None:
        # The first `path`/`url` line is the [audit] store's (a function: no escapes in the URL).
        text = re.sub(r'(?m)^(path|url) = ".*"$', lambda _: store, text, count=1)
    if metrics:
        (port,) = free_ports(1)
        # Appended last, so `gateway_address` (the first `listen`) still finds the gateway's.
        text += f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n'
    variant = config.with_name(name)
    variant.write_text(text)
    return variant


def metrics_address(config: Path) -> str:
    """The ``[metrics] listen`` address of ``config``."""
    match = re.search(r'(?ms)^\[metrics\]$.*?^listen = "(127\.0\.0\.1:\d+)"$', config.read_text())
    assert match is not None, "no [metrics] listen in the config"
    return match.group(1)


def open_fds(pid: int) -> int:
    """How many file descriptors process ``pid`` holds open (Linux: ``/proc/PID/fd``)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def thread_count(pid: int) -> int:
    """How many threads process ``pid`` runs (Linux: ``Threads:`` of ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"no Threads line for process {pid}")


def set_adapter_address(config: Path, agency: str, address: str) -> None:
    """Point ``agency``'s adapter in ``config`` at ``address`` (both the gateway and `serve adapter`
    read it: the adapter listens there unless the config gives it a ``listen``)."""
    text = config.read_text()
    pattern = rf'(?ms)(^\[adapters\.{agency}\]$.*?^address = ")127\.0\.0\.1:\d+(")'
    text, count = re.subn(pattern, lambda m: f"{m.group(1)}{address}{m.group(2)}", text, count=1)
    assert count == 1, agency
    config.write_text(text)
