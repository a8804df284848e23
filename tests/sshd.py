"""Pytest plugin: a real OpenSSH sshd on 127.0.0.1 with key-only auth and the internal SFTP server."""
from __future__ import annotations

import contextlib
import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need
from tests.loopback import free_port

SSHD = Path("/usr/sbin/sshd")
KEY_ENV = "HUB_TEST_SFTP_KEY"
CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {dir}/host_ed25519
AuthorizedKeysFile {dir}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
PidFile {dir}/sshd.pid
"""


def keygen(path: Path, key_type: str = "ed25519") -> Path:
    """Generate an unencrypted key pair at `path` (+ .pub); return the private key path."""
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", key_type, "-C", "", "-f", str(path)], check=True)
    return path


def public_line(private_key: Path) -> str:
    """'<type> <base64>' of a key's .pub file, without the comment."""
    return " ".join(Path(f"{private_key}.pub").read_text().split()[:2])


class Sshd:
    """One sshd process that can be stopped and restarted on the same port with the same keys."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.host, self.port, self.username = "127.0.0.1", free_port(), getpass.getuser()
        self.root = workdir / "remote"
        self.root.mkdir()
        self.host_key_line = public_line(keygen(workdir / "host_ed25519"))
        self.user_key_path = keygen(workdir / "user_ed25519")
        self.authorized_keys = workdir / "authorized_keys"
        self.authorized_keys.write_text(public_line(self.user_key_path) + "\n")
        self.config = workdir / "sshd_config"
        self.config.write_text(CONFIG.format(port=self.port, dir=workdir))
        self.log_path = workdir / "sshd.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start sshd and wait (max 10 s) until it accepts connections."""
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege-separation directory
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(self.config)],
                                          stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self._proc.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not listen on port {self.port} within 10 s")

    def stop(self) -> None:
        """Stop the listening sshd (idempotent)."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def drop_connections(self) -> None:
        """Kill every per-connection sshd process (open connections break); the listener keeps running."""
        if self._proc is None:
            return
        parents: dict[int, int] = {}
        for stat_file in Path("/proc").glob("[0-9]*/stat"):
            try:
                parents[int(stat_file.parent.name)] = int(stat_file.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
        doomed: set[int] = set()
        frontier = {self._proc.pid}
        while frontier:
            frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - doomed
            doomed |= frontier
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def accepted_logins(self) -> int:
        """How many logins sshd has accepted so far (read from its log)."""
        return self.log_path.read_text(errors="replace").count("Accepted publickey")


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """A running OpenSSH sshd; skipped when sshd is absent, except under CI where that fails."""
    if not SSHD.exists() or shutil.which("ssh-keygen") is None:
        need(f"OpenSSH server not installed ({SSHD}); apt-get install openssh-server")
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sftp_dir(sshd: Sshd, request: pytest.FixtureRequest) -> Path:
    """A fresh, empty directory inside the server's root for one test."""
    safe = re.sub(r"[^\w.-]", "_", request.node.name)
    path = sshd.root / f"{safe}-{os.urandom(4).hex()}"
    path.mkdir()
    return path


@pytest.fixture
def sftp_env(sshd: Sshd, monkeypatch: pytest.MonkeyPatch) -> str:
    """Name of an env var holding the path of a private key the server accepts."""
    monkeypatch.setenv(KEY_ENV, str(sshd.user_key_path))
    return KEY_ENV
