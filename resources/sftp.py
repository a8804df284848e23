"""SFTP transport on paramiko: pinned host key, key or password auth, one connection per `with` block."""
import base64
import io
import posixpath
import socket
import stat
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

import paramiko
from dagster import EnvVar
from paramiko.sftp import CMD_CLOSE, CMD_HANDLE, CMD_NAME, CMD_OPENDIR, CMD_READ, CMD_READDIR, CMD_STATUS, int64

from resources.transport import RemoteFile, Transport, TransportError

_KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
_BLOCK, _DEPTH = 32 * 1024, 64  # read size and reads in flight: at most 2 MiB buffered per open file
_GONE = (paramiko.SSHException, EOFError, OSError)  # what a broken connection raises


class SftpTransport(Transport):
    """Files under `remote_dir` on an SFTP server whose host key is pinned in the registry."""

    def __init__(self, integration_id: str, host: str, port: int, username: str, remote_dir: str,
                 host_key: str, private_key_env: str | None = None, password_env: str | None = None,
                 timeout: float = 15.0) -> None:
        self.integration_id, self.host, self.port, self.username = integration_id, host, port, username
        self.remote_dir, self.host_key, self.timeout = remote_dir, host_key, timeout
        self.private_key_env, self.password_env = private_key_env, password_env
        self._transport: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._where = f"integration {integration_id} ({host}:{port})"

    def __enter__(self) -> "SftpTransport":
        if self._transport is not None:
            raise RuntimeError("SftpTransport is already open; nested `with` blocks are not supported")
        pinned = self._pinned_key()
        pkey, password = self._credentials()
        transport = self._handshake(pinned)  # refuses an unknown host key before any authentication
        try:
            self._authenticate(transport, pkey, password)
            sftp = paramiko.SFTPClient.from_transport(transport)
            sftp.get_channel().settimeout(self.timeout)
            self._check_remote_dir(sftp)
        except BaseException:
            transport.close()
            raise
        self._transport, self._sftp = transport, sftp
        return self

    def __exit__(self, *exc: object) -> None:
        if self._transport is not None:
            self._transport.close()  # closes the SFTP channel with it; never raises on a broken connection
        self._transport = self._sftp = None

    def list_files(self, patterns: Sequence[str]) -> list[RemoteFile]:
        return self._select(self._walk(self._client(), ""), patterns)

    @contextmanager
    def open(self, remote: RemoteFile) -> Iterator[BinaryIO]:
        sftp = self._client()
        try:
            handle = sftp.open(posixpath.join(self.remote_dir, self._relative(remote)), "rb")
        except OSError as exc:
            raise TransportError(
                f"Cannot open {remote.path} on SFTP for {self._where}: {exc.strerror or type(exc).__name__}. "
                "It may have been removed after listing; wait for the next delivery or ask the sender."
            ) from None
        reader = _PipelinedReader(sftp, handle, remote.size, f"{remote.path} from SFTP for {self._where}")
        try:
            yield io.BufferedReader(reader, _BLOCK * _DEPTH)
        finally:
            with suppress(*_GONE):
                handle.close()

    def _client(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            raise RuntimeError("SftpTransport used outside its `with` block")
        return self._sftp

    def _pinned_key(self) -> paramiko.PKey:
        parts = self.host_key.split()
        try:
            return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1], validate=True))
        except (IndexError, ValueError, paramiko.SSHException):  # binascii.Error is a ValueError
            raise TransportError(f"host_key for integration {self.integration_id} is not a public key line like "
                                 "'ssh-ed25519 AAAA...'; copy the server's .pub host key into the registry.") from None

    def _credentials(self) -> tuple[paramiko.PKey | None, str | None]:
        """The private key and/or password held by the configured env vars."""
        key_text, password = (self._env(name) if name else None for name in (self.private_key_env, self.password_env))
        if key_text is None and password is None:
            raise TransportError(f"SFTP credentials missing for integration {self.integration_id}: "
                                 "set private_key_env or password_env in the registry")
        return (self._load_key(key_text) if key_text else None), password

    def _env(self, name: str) -> str:
        if value := EnvVar(name).get_value():
            return value
        raise TransportError(f"SFTP credentials missing for integration {self.integration_id}: set env var {name}")

    def _load_key(self, value: str) -> paramiko.PKey:
        """A private key given as text, or as the path of a key file."""
        problem = f"SFTP private key in env var {self.private_key_env} for integration {self.integration_id}"
        if not value.lstrip().startswith("-----BEGIN"):
            path = Path(value).expanduser()
            if not path.is_file():
                raise TransportError(f"{problem} names a file that does not exist; fix the env var")
            value = path.read_text(errors="replace")
        for key_class in _KEY_CLASSES:
            try:
                return key_class.from_private_key(io.StringIO(value))
            except paramiko.PasswordRequiredException:
                raise TransportError(f"{problem} is passphrase-protected; supply an unencrypted key") from None
            except (paramiko.SSHException, ValueError):
                continue
        raise TransportError(f"{problem} is not a readable ed25519, ECDSA or RSA private key")

    def _handshake(self, pinned: paramiko.PKey) -> paramiko.Transport:
        """Connect, exchange keys (offering only the pinned key's algorithms) and verify the host key."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise TransportError(f"SFTP server unreachable for {self._where}: {exc.strerror or exc}. "
                                 "Check host and port in the registry and that the server is up.") from None
        transport = paramiko.Transport(sock)
        transport.banner_timeout = transport.handshake_timeout = transport.auth_timeout = self.timeout
        options, family = transport.get_security_options(), pinned.get_name()
        options.key_types = [a for a in options.key_types if a == family or ("rsa" in family and "rsa" in a)]
        try:
            transport.start_client(timeout=self.timeout)
            offered = transport.get_remote_server_key()
            seen = "" if offered.asbytes() == pinned.asbytes() else f"{offered.get_name()} {offered.fingerprint}"
        except _GONE as exc:
            transport.close()
            if "host key" not in str(exc):
                raise TransportError(f"SSH handshake failed for {self._where}: {type(exc).__name__}. "
                                     "Check that host and port point at an SSH server.") from None
            seen = f"no {family} host key"
        if seen:
            transport.close()
            raise TransportError(f"SFTP host key mismatch for {self._where}: server offered {seen}, registry pins "
                                 f"{pinned.fingerprint}. Refusing to connect; if the server's key really changed, "
                                 "update host_key in the registry.")
        return transport

    def _authenticate(self, transport: paramiko.Transport, pkey: paramiko.PKey | None,
                      password: str | None) -> None:
        """Try the key, then the password; whichever are configured."""
        try:
            for method, secret in ((transport.auth_publickey, pkey), (transport.auth_password, password)):
                if secret is not None:
                    with suppress(paramiko.AuthenticationException):
                        method(self.username, secret)
                        return
        except _GONE as exc:
            raise TransportError(f"SFTP connection lost during login for {self._where}: {type(exc).__name__}. "
                                 "Retry; if it persists ask the server's owner to check its logs.") from None
        names = " / ".join(n for n in (self.private_key_env, self.password_env) if n)
        raise TransportError(f"SFTP auth failed for integration {self.integration_id}: check env var {names} "
                             f"(user {self.username} was rejected by {self.host}:{self.port})")

    def _check_remote_dir(self, sftp: paramiko.SFTPClient) -> None:
        try:
            problem = "" if stat.S_ISDIR(sftp.stat(self.remote_dir).st_mode or 0) else "not a directory"
        except OSError as exc:
            problem = exc.strerror or type(exc).__name__
        if problem:
            raise TransportError(f"SFTP remote_dir {self.remote_dir!r} unusable for {self._where}: {problem}. "
                                 "Fix remote_dir in the registry.")

    def _walk(self, sftp: paramiko.SFTPClient, rel: str) -> Iterator[RemoteFile]:
        directory = posixpath.join(self.remote_dir, rel) if rel else self.remote_dir
        try:
            entries = _listdir(sftp, directory)
        except OSError as exc:
            raise TransportError(f"Cannot list {directory!r} on SFTP for {self._where}: "
                                 f"{exc.strerror or type(exc).__name__}. Ask the server's owner about it.") from None
        for entry in entries:
            child = posixpath.join(rel, entry.filename) if rel else entry.filename
            mode = entry.st_mode or 0
            if stat.S_ISDIR(mode):
                yield from self._walk(sftp, child)
            elif stat.S_ISREG(mode):  # symlinks and special files are skipped
                yield RemoteFile(child, entry.st_size or 0, float(entry.st_mtime or 0))


def _listdir(sftp: paramiko.SFTPClient, directory: str) -> list[paramiko.SFTPAttributes]:
    """SFTPClient.listdir_attr, but a name that is not UTF-8 is kept (surrogateescape, as os.fsdecode does) instead
    of failing the whole listing: the hub then rejects that one file by its name. Uses paramiko 5.1's request
    primitives."""
    kind, msg = sftp._request(CMD_OPENDIR, directory)
    if kind != CMD_HANDLE:
        raise paramiko.SFTPError("Expected handle")
    handle, entries = msg.get_binary(), []
    while True:
        try:
            kind, msg = sftp._request(CMD_READDIR, handle)
        except EOFError:  # the end of the directory
            break
        if kind != CMD_NAME:
            raise paramiko.SFTPError("Expected name response")
        for _ in range(msg.get_int()):
            name = msg.get_string().decode("utf-8", "surrogateescape")
            longname = msg.get_string().decode("utf-8", "replace")
            attr = paramiko.SFTPAttributes._from_msg(msg, name, longname)
            if name not in (".", ".."):
                entries.append(attr)
    sftp._request(CMD_CLOSE, handle)
    return entries


class _PipelinedReader(io.RawIOBase):
    """Reads a file front to back with _DEPTH requests in flight: fast on slow links, constant memory.

    Not SFTPFile.prefetch: when its reader overtakes its request thread it falls back to plain reads and keeps
    buffering every later response, up to the whole file. Uses paramiko 5.1's request primitives."""

    def __init__(self, sftp: paramiko.SFTPClient, handle: paramiko.SFTPFile, size: int, what: str) -> None:
        super().__init__()
        self._sftp, self._handle, self._size, self._what = sftp, handle, size, what
        self._pending: deque[tuple[int, int, int]] = deque()  # (request number, offset, length)
        self._early: dict[int, tuple[int, paramiko.Message]] = {}
        self._offset, self._block, self._eof = 0, b"", False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._block:
            try:
                self._block = self._next_block()
            except _GONE as exc:  # includes socket.timeout; a shrinking file is handled in _next_block
                raise TransportError(f"Transfer of {self._what} broke off: {type(exc).__name__}. "
                                     "The connection dropped or timed out; retry later.") from None
        n = min(len(buffer), len(self._block))
        buffer[:n] = self._block[:n]
        self._block = self._block[n:]
        return n

    def _async_response(self, kind: int, msg: paramiko.Message, num: int) -> None:  # paramiko: an early reply
        self._early[num] = (kind, msg)

    def _next_block(self) -> bytes:
        while not self._eof and len(self._pending) < _DEPTH and self._offset < self._size:
            length = min(_BLOCK, self._size - self._offset)
            num = self._sftp._async_request(self, CMD_READ, self._handle.handle, int64(self._offset), length)
            self._pending.append((num, self._offset, length))
            self._offset += length
        if self._eof:
            return b""
        if not self._pending:  # past the listed size: go on reading so that growth shows up in the byte count
            return self._read_at(self._offset, _BLOCK)
        num, offset, length = self._pending.popleft()
        try:
            kind, msg = self._early.pop(num) if num in self._early else self._sftp._read_response(num)
            if kind == CMD_STATUS:
                self._sftp._convert_status(msg)
        except EOFError:  # the file shrank after it was listed
            self._eof = True
            return b""
        data = msg.get_string()
        return data if len(data) == length else data + self._read_at(offset + len(data), length - len(data))

    def _read_at(self, offset: int, length: int) -> bytes:
        """A plain (unpipelined) read, for short server replies and for bytes past the listed size."""
        self._handle.seek(offset)
        data = self._handle.read(length)
        self._offset = max(self._offset, offset + len(data))
        return data
