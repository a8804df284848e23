"""hub.load.quarantine.KeyHashes: when the exact (SQL) duplicate search must run."""

from __future__ import annotations

import pandas as pd

from hub.load.quarantine import KeyHashes
from hub.read.parsing import TEXT


def frame(**cols: list[str]) -> pd.DataFrame:
    return pd.DataFrame({k: pd.array(v, dtype=TEXT) for k, v in cols.items()})


def test_repeat_across_chunks_is_seen_and_blank_keys_are_not_compared() -> None:
    keys = KeyHashes(["ssid"])
    keys.add(frame(ssid=["1", "2", "", ""]))
    assert not keys.may_repeat()
    keys = KeyHashes(["ssid"])
    keys.add(frame(ssid=["1", "2"]))
    keys.add(frame(ssid=["3", "2"]))
    assert keys.may_repeat()


def test_multi_column_key_compares_whole_key() -> None:
    keys = KeyHashes(["id", "kind"])
    keys.add(frame(id=["1", "1", "12"], kind=["a2", "a", "a"]))  # '1'+'a2' and '12'+'a' must not collide
    assert not keys.may_repeat()
    keys.add(frame(id=["1"], kind=["a"]))
    assert keys.may_repeat()


def test_beyond_the_memory_limit_the_warehouse_decides() -> None:
    keys = KeyHashes(["ssid"], limit=3)
    keys.add(frame(ssid=["1", "2"]))
    keys.add(frame(ssid=["3", "4"]))
    assert keys.may_repeat()  # not known: the SQL search runs
    assert not KeyHashes([]).may_repeat()
