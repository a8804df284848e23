"""Transports against a real OpenSSH sshd and a local drop folder."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import paramiko
import pytest

from resources import sftp as sftp_module
from resources.sftp import SftpTransport
from resources.transport import FolderTransport, RemoteFile, Transport, TransportError
from tests.sshd import Sshd, keygen, public_line

MTIME = 1_700_000_000.0
TREE = {
    "a.csv": b"id,name\n1,Ann\n",
    "B.CSV": b"id\n2\n",
    "sub/c.Csv": b"c\n" * 1000,
    "sub/deeper/d.txt": b"d",
    "notes.md": b"notes",
}


def build_tree(root: Path) -> None:
    """Files from TREE plus a symlink and a directory whose names match *.csv (both must be skipped)."""
    for rel, data in TREE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (MTIME, MTIME))
    (root / "link.csv").symlink_to(root / "a.csv")
    (root / "folder.csv").mkdir()


def make_sftp(server: Sshd, remote_dir: Path | str, key_env: str | None = "HUB_TEST_SFTP_KEY",
              host_key: str | None = None, integration_id: str = "siras-test") -> SftpTransport:
    return SftpTransport(integration_id, server.host, server.port, server.username, str(remote_dir),
                         host_key=host_key or server.host_key_line, private_key_env=key_env, timeout=5)


def connect_error(transport: Transport) -> str:
    """Enter the transport expecting a TransportError; return its message."""
    with pytest.raises(TransportError) as err, transport:
        pass
    return str(err.value)


def wait_for_logins(server: Sshd, expected: int) -> int:
    """sshd's monitor logs a login just after answering the client: poll briefly for it."""
    deadline = time.monotonic() + 5
    while server.accepted_logins() < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    return server.accepted_logins()


@pytest.fixture(params=["folder", "sftp"])
def tree_transport(request: pytest.FixtureRequest, tmp_path: Path) -> Transport:
    if request.param == "folder":
        build_tree(tmp_path)
        return FolderTransport("edreflect-drop", tmp_path)
    request.getfixturevalue("sftp_env")
    remote_dir = request.getfixturevalue("sftp_dir")
    build_tree(remote_dir)
    return make_sftp(request.getfixturevalue("sshd"), remote_dir)


@pytest.fixture
def authorize(sshd: Sshd):
    """Add public keys to the server's authorized_keys for one test."""
    original = sshd.authorized_keys.read_text()

    def add(private_key: Path) -> None:
        with open(sshd.authorized_keys, "a") as fh:
            fh.write(public_line(private_key) + "\n")

    yield add
    sshd.authorized_keys.write_text(original)


def test_lists_recursively_filtered_case_insensitively(tree_transport: Transport) -> None:
    with tree_transport as t:
        files = t.list_files(["*.csv"])
        assert [f.path for f in files] == ["B.CSV", "a.csv", "sub/c.Csv"]
        assert [f.size for f in files] == [len(TREE[f.path]) for f in files]
        assert all(f.mtime == MTIME for f in files)
        assert files[2].name == "c.Csv"
        assert [f.path for f in t.list_files(["*.TXT", "NOTES.*"])] == ["notes.md", "sub/deeper/d.txt"]
        assert t.list_files([]) == []


def test_open_streams_the_bytes(tree_transport: Transport) -> None:
    with tree_transport as t:
        for remote in t.list_files(["*"]):
            with t.open(remote) as fh:
                assert fh.read() == TREE[remote.path]


def test_open_refuses_paths_outside_the_root(tree_transport: Transport) -> None:
    with tree_transport as t:
        for bad in ("../secret.csv", "/etc/passwd", "sub/../../x"):
            with pytest.raises(TransportError, match="Refusing path"), t.open(RemoteFile(bad, 1, 0.0)):
                pass


def test_one_connection_per_with_block(sshd: Sshd, sftp_env: str, sftp_dir: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    build_tree(sftp_dir)
    created: list[paramiko.Transport] = []

    class CountingTransport(paramiko.Transport):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            created.append(self)

    monkeypatch.setattr(sftp_module.paramiko, "Transport", CountingTransport)
    before = wait_for_logins(sshd, 0)
    transport = make_sftp(sshd, sftp_dir)
    with transport:
        for _ in range(3):
            files = transport.list_files(["*"])
        for remote in files:
            with transport.open(remote) as fh:
                assert fh.read() == TREE[remote.path]
    assert len(created) == 1
    assert wait_for_logins(sshd, before + 1) == before + 1
    with transport:
        assert len(transport.list_files(["*.csv"])) == 3
    assert len(created) == 2
    assert wait_for_logins(sshd, before + 2) == before + 2


@pytest.mark.parametrize("key_type", ["ed25519", "rsa", "ecdsa"])
def test_unknown_host_key_is_refused_before_authentication(sshd: Sshd, sftp_env: str, sftp_dir: Path,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           key_type: str) -> None:
    attempts: list[str] = []
    for method in ("auth_publickey", "auth_password", "auth_none", "auth_interactive"):
        monkeypatch.setattr(paramiko.Transport, method, lambda *a, _m=method, **k: attempts.append(_m))
    other = keygen(tmp_path / "other", key_type)
    transport = make_sftp(sshd, sftp_dir, host_key=public_line(other), integration_id="siras-abc")
    message = connect_error(transport)
    assert "host key mismatch" in message and "siras-abc" in message
    assert f"{sshd.host}:{sshd.port}" in message
    assert _openssh_fingerprint(Path(f"{other}.pub")) in message
    if key_type == "ed25519":
        assert _openssh_fingerprint(sshd.dir / "host_ed25519.pub") in message
    assert attempts == []


def _openssh_fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[1]


def test_invalid_host_key_line(sshd: Sshd, sftp_env: str, sftp_dir: Path) -> None:
    message = connect_error(make_sftp(sshd, sftp_dir, host_key="ssh-ed25519 not-base64!"))
    assert "host_key for integration siras-test is not a public key line" in message


def test_missing_credentials_env_var(sshd: Sshd, sftp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_TEST_NO_SUCH_KEY", raising=False)
    message = connect_error(make_sftp(sshd, sftp_dir, key_env="HUB_TEST_NO_SUCH_KEY"))
    assert "credentials missing for integration siras-test: set env var HUB_TEST_NO_SUCH_KEY" in message
    message = connect_error(make_sftp(sshd, sftp_dir, key_env=None))
    assert "credentials missing for integration siras-test: set private_key_env or password_env" in message


def test_wrong_key_reports_auth_failed(sshd: Sshd, sftp_dir: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_WRONG_KEY", str(keygen(tmp_path / "stranger")))
    message = connect_error(make_sftp(sshd, sftp_dir, key_env="HUB_TEST_WRONG_KEY"))
    assert "auth failed for integration siras-test: check env var HUB_TEST_WRONG_KEY" in message


def test_unreadable_key_text_is_not_echoed(sshd: Sshd, sftp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_BAD_KEY", "-----BEGIN OPENSSH PRIVATE KEY-----\nTOPSECRET\n-----END OPENSSH "
                                           "PRIVATE KEY-----")
    message = connect_error(make_sftp(sshd, sftp_dir, key_env="HUB_TEST_BAD_KEY"))
    assert "HUB_TEST_BAD_KEY" in message and "siras-test" in message
    assert "TOPSECRET" not in message


@pytest.mark.parametrize("key_type,pem", [("ed25519", False), ("rsa", False), ("ecdsa", False),
                                          ("rsa", True), ("ecdsa", True)])
@pytest.mark.parametrize("as_text", [False, True])
def test_user_key_types_given_as_path_or_text(sshd: Sshd, sftp_dir: Path, tmp_path: Path, authorize,
                                              monkeypatch: pytest.MonkeyPatch, key_type: str, pem: bool,
                                              as_text: bool) -> None:
    key = tmp_path / "user"
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", key_type, *(["-m", "PEM"] if pem else []), "-f", str(key)],
                   check=True)
    authorize(key)
    monkeypatch.setenv("HUB_TEST_KEY_VARIANT", key.read_text() if as_text else str(key))
    (sftp_dir / "x.csv").write_bytes(b"1")
    with make_sftp(sshd, sftp_dir, key_env="HUB_TEST_KEY_VARIANT") as t:
        assert [f.path for f in t.list_files(["*.csv"])] == ["x.csv"]


def test_missing_remote_dir(sshd: Sshd, sftp_env: str, sftp_dir: Path) -> None:
    message = connect_error(make_sftp(sshd, sftp_dir / "nope"))
    assert f"remote_dir '{sftp_dir / 'nope'}' unusable for integration siras-test" in message
    (sftp_dir / "file").write_text("x")
    assert "not a directory" in connect_error(make_sftp(sshd, sftp_dir / "file"))


def test_server_down_is_reported_then_recovers(sshd: Sshd, sftp_env: str, sftp_dir: Path) -> None:
    sshd.stop()
    try:
        message = connect_error(make_sftp(sshd, sftp_dir))
        assert f"unreachable for integration siras-test ({sshd.host}:{sshd.port})" in message
    finally:
        sshd.start()
    with make_sftp(sshd, sftp_dir) as t:
        assert t.list_files(["*"]) == []


def test_sftp_outside_with_block_is_a_programming_error(sshd: Sshd, sftp_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        make_sftp(sshd, sftp_dir).list_files(["*"])


def test_missing_drop_folder(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="Drop folder for integration peer-drop not found"):
        with FolderTransport("peer-drop", tmp_path / "missing") as transport:
            transport.list_files(["*"])
    folder = tmp_path / "drop"
    folder.mkdir()
    transport = FolderTransport("peer-drop", folder)
    folder.rmdir()
    with pytest.raises(TransportError, match="peer-drop"):
        transport.list_files(["*"])


def test_connection_dropped_mid_transfer(sshd: Sshd, sftp_env: str, sftp_dir: Path) -> None:
    (sftp_dir / "big.csv").write_bytes(b"x" * (20 * 1024 * 1024))
    with make_sftp(sshd, sftp_dir) as transport:
        (remote,) = transport.list_files(["*.csv"])
        with pytest.raises(TransportError, match=r"big\.csv from SFTP for integration siras-test .* broke off"), \
                transport.open(remote) as fh:
            fh.read(1024 * 1024)
            sshd.drop_connections()
            while fh.read(1024 * 1024):
                pass
