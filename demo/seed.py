"""Seed the demo drop folders with realistic deliveries: `python -m demo.seed [registry.yaml]`."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from demo import star_files
from demo.edreflect_files import write_week
from demo.peer_files import seed_florida
from demo.siras_files import students
from hub.registry.loading import load_registry
from hub.registry.registry import FolderTransportConfig, Registry

DEFAULT_REGISTRY = Path(__file__).with_name("registry.yaml")
DAY = 86_400


def _folder(registry_file: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else (registry_file.parent / p).resolve()


def dmy(frame: pd.DataFrame) -> pd.DataFrame:
    """Birthdates as DD/MM/YYYY (the spec's other format): the demo's dates are never a bare 8-digit number, which
    a count or a size could equal (tests/protected.py)."""
    return frame.assign(BIRTHDATE=pd.to_datetime(frame["BIRTHDATE"], format="%Y%m%d").dt.strftime("%d/%m/%Y"))


def _touch(path: Path, mtime: float) -> None:
    os.utime(path, (mtime, mtime))


def seed(registry_file: Path = DEFAULT_REGISTRY) -> list[Path]:
    """Write yesterday's and today's deliveries for each enabled SIRAS drop-folder integration, and the Star
    districts' ClassLink, PowerSchool and Renaissance files."""
    registry = load_registry(registry_file)
    now = one_night(registry, time.time())
    written: list[Path] = []
    for n, integration in enumerate(i for i in registry.enabled("siras") if isinstance(i.transport, FolderTransportConfig)):
        code = registry.district(integration.district).state_district_id or "0000000"
        folder = _folder(registry_file, integration.transport.path)
        folder.mkdir(parents=True, exist_ok=True)
        base = dmy(students(300 + 50 * n, code, seed=n))
        today = base.copy()
        today.loc[today.index[:12], "GRADE"] = "12"  # a few students change grade
        today.loc[today.index[12:15], "EL_TYPE"] = "RFEP"
        today = today._append(dmy(students(5, code, seed=n + 100, start=10_000)), ignore_index=True)  # new students
        if integration.options.get("designated_file"):
            yesterday_path, today_path = folder / f"{code}_demographics_prev.xlsx", folder / f"{code}_demographics.xlsx"
            base.to_excel(yesterday_path, index=False)
            today.to_excel(today_path, index=False)
        else:
            encoding = "cp1252" if "santa_ana" in integration.id else "utf-8"
            yesterday_path, today_path = folder / f"{code}_demographics_prev.csv", folder / f"{code}_demographics.csv"
            base.to_csv(yesterday_path, index=False, encoding=encoding)
            today.to_csv(today_path, index=False, encoding=encoding)
            if encoding == "cp1252":
                sec504 = dmy(students(40, code, seed=n + 200, start=20_000)).assign(Designation="")
                sec504.to_csv(folder / f"{code}_demographics_504.csv", index=False, encoding=encoding)
                _touch(folder / f"{code}_demographics_504.csv", now - 60)
                written.append(folder / f"{code}_demographics_504.csv")
        _touch(yesterday_path, now - DAY)
        _touch(today_path, now - 60)
        written += [yesterday_path, today_path]
    for integration in registry.enabled("edreflect"):  # a week of daily change exports per org
        if isinstance(integration.transport, FolderTransportConfig):
            written += write_week(_folder(registry_file, integration.transport.path), now=now)
    return written + seed_florida(registry_file, registry, now) + seed_star(registry, registry_file, now)


NIGHT_SPAN = 600  # the seed's files of one night are modified up to 10 minutes apart (the roster before PEER)


def one_night(registry: Registry, now: float) -> float:
    """The seed's time: `now`, or, in the minutes after a demo district's midnight, just before it, so that the files
    of one night (a roster and the PEER files that need it, ClassLink and PowerSchool and the Star zip) fall on one
    day in the district's timezone. Across midnight a dependent file waits, by design, for its own night's files,
    up to `dependency_wait_minutes`: a `make dev` (and the suite) started from 05:00 UTC in winter waited 10 minutes."""
    zones = {registry.timezone_of(i) for i in registry.enabled()}
    for _ in zones:
        straddled = [midnight for tz in zones if (midnight := _midnight(tz, now)) > now - NIGHT_SPAN]
        if not straddled:
            break
        now = min(straddled) - 1
    return now


def _midnight(tz: str, now: float) -> float:
    local = dt.datetime.fromtimestamp(now, ZoneInfo(tz))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def seed_star(registry: Registry, registry_file: Path, now: float) -> list[Path]:
    """ClassLink users, PowerSchool students and a Renaissance Star zip for each Star district (a few rows unlinked)."""
    written: list[Path] = []
    for star in (i for i in registry.enabled("renaissance_star") if isinstance(i.transport, FolderTransportConfig)):
        r = star_files.roster(200, first=star_files.DEMO_NUMBERS)
        by_feed = {i.feed: i for i in registry.integrations if i.district == star.district and i.enabled}
        files = {"classlink": ("users.csv", star_files.classlink_users(r.iloc[:-3])),  # 3 not in ClassLink: review
                 "powerschool": ("students.csv", star_files.ps_students(r))}
        for feed, (name, frame) in files.items():
            if feed in by_feed and isinstance(by_feed[feed].transport, FolderTransportConfig):
                folder = _folder(registry_file, by_feed[feed].transport.path)
                folder.mkdir(parents=True, exist_ok=True)
                frame.to_csv(folder / name, index=False)
                _touch(folder / name, now - 120)
                written.append(folder / name)
        folder = _folder(registry_file, star.transport.path)
        folder.mkdir(parents=True, exist_ok=True)
        tests = {f"{s}.csv": star_files.star_rows(r, "Belleville Public Schools", subject=s, seed=n,
                                                  old_timestamps=s == "SR") for n, s in enumerate(("SM", "SR", "SEL"))}
        path = folder / "Belleville Public Schools.zip"
        path.write_bytes(star_files.star_zip(tests))
        _touch(path, now - 60)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in seed(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_REGISTRY):
        print(f"seeded {path}")
