"""A real S3-protocol server on loopback for the object-storage tests: moto's standalone server (moto[server], from
the test extras) as a subprocess on a free port, and a fresh bucket per test with the hub's archive in it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import need
from tests.loopback import free_port

SECRET = f"hub-test-secret-{uuid.uuid4().hex}"  # the tests check it is never echoed


@dataclass(frozen=True)
class S3Archive:
    endpoint: str
    bucket: str
    url: str  # HUB_ARCHIVE_URL: s3://<bucket>/hub-archive

    def fs(self):  # noqa: ANN201  (an s3fs.S3FileSystem; imported lazily: a laptop without it skips)
        import s3fs
        return s3fs.S3FileSystem(endpoint_url=self.endpoint, key="hub-test", secret=SECRET, use_listings_cache=False,
                                 skip_instance_cache=True)

    def keys(self) -> list[str]:
        """Every object in the bucket, as s3:// URLs."""
        return sorted(f"s3://{k}" for k in self.fs().find(self.bucket))


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server, listening on 127.0.0.1 only, for the whole session."""
    try:
        import moto.server  # noqa: F401
        import s3fs  # noqa: F401
    except ImportError as exc:
        need(f"moto[server] and s3fs are not installed ({exc}): pip install -e '.[test]'")
    port = free_port()
    log = tmp_path_factory.mktemp("s3") / "moto.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {proc.returncode}: {Path(log).read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not listen on port {port} within 30 s") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def s3_archive(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Archive:
    """A fresh bucket; the hub's archive in it (HUB_ARCHIVE_URL), endpoint and keys in the standard AWS variables."""
    import s3fs
    for name, value in {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "hub-test",
                        "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    s3fs.S3FileSystem.clear_instance_cache()  # an instance made for another endpoint must not be reused
    bucket = f"hub-{uuid.uuid4().hex[:12]}"
    archive = S3Archive(s3_endpoint, bucket, f"s3://{bucket}/hub-archive")
    archive.fs().mkdir(bucket)
    monkeypatch.setenv("HUB_ARCHIVE_URL", archive.url)
    return archive
