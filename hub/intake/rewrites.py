"""Files listed again under a name, size and modification time the ledger has received: skipped, unless their bytes
changed (a re-upload that kept the timestamp is a new delivery)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from hub.intake.receive import remote_id
from hub.registry.declarations import Feed
from hub.registry.registry import Integration
from resources.archive import CHUNK, name_problem
from resources.transport import RemoteFile, Transport, TransportError


def stale_anyway(feed: Feed, integration: Integration, remote: RemoteFile, file_type: str, now: float) -> bool:
    """Modified longer ago than the integration takes files: not worth hashing again."""
    return file_type not in feed.reference_types() and now - remote.mtime > integration.max_file_age_days * 86400


def rewritten(integration: Integration, transport: Transport, hashes: dict[str, str | None],
               remote: RemoteFile) -> RemoteFile:
    """A file received before under the same name, size and mtime (`hashes`: the ledger's content hash of each
    received id) is hashed again (every file of a drop folder; on SFTP those up to `rehash_max_bytes`): other bytes
    (a re-upload that kept the timestamp, as WinSCP does) mark it as rewritten, a new delivery."""
    if not (transport.local or remote.size <= integration.rehash_max_bytes) or name_problem(remote.path):
        return remote
    before = hashes.get(remote_id(integration, remote))
    if before is None:
        return remote
    digest = hashlib.sha256()
    try:
        with transport.open(remote) as src:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
    except TransportError:  # gone or broken off: as it was, this tick
        return remote
    sha256 = digest.hexdigest()
    return remote if sha256 == before else replace(remote, rewritten=sha256)
