"""Synthetic Focus roster and FLDOE PEER files for one Florida district (invented people, realistic shape)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd

from hub.registry.registry import FolderTransportConfig, Registry

SCHOOLS = np.array(["0011", "0021", "0031", "3518", "9997"])  # the last two are excluded by the PEER rules
LAST = np.array(["Alvarez", "Baptiste", "Charles", "Diaz", "Etienne", "Fernandez", "Gomez", "Joseph", "Pierre", "Reyes"])
FIRST = np.array(["Ana", "Jean", "Luis", "Marie", "Kevin", "Daniela", "Samuel", "Naomi", "Andre", "Valeria"])
ACCOMMODATIONS = np.array(["EXT_TIME", "SMALL_GROUP", "READ_ALOUD", "PREF_SEAT", "BREAKS", "CALCULATOR"])


def fleid(n: np.ndarray) -> pd.Series:
    return "FL" + pd.Series(n + 100_000_000_000).astype(str).str.zfill(12)


def roster(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Focus students.csv and student_enrollment.csv: every 10th student has withdrawn (no current enrollment)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    local = pd.Series(idx + 600_000).astype(str).str.zfill(10)
    students = pd.DataFrame({
        "STDT_ID": local, "FLEID": fleid(idx),
        "LAST_NAME": LAST[rng.integers(0, len(LAST), n)], "FIRST_NAME": FIRST[rng.integers(0, len(FIRST), n)],
        "DT_BIRTH": (pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 4000, n), unit="D")).strftime("%Y%m%d"),
        "GENDER": np.array(["M", "F"])[rng.integers(0, 2, n)]})
    school = np.where(idx % 9 == 4, "3518", SCHOOLS[idx % 3])
    today = dt.date.today()
    start, end = (today - dt.timedelta(days=100)).isoformat(), (today - dt.timedelta(days=30)).isoformat()
    enrollment = pd.DataFrame({
        "SYEAR": "2026", "SCHOOL_ID": school, "STUDENT_ID": local, "GRADE_ID": "05",
        "START_DATE": start, "ENROLLMENT_CODE": "E01",
        "END_DATE": np.where(idx % 10 == 7, end, ""), "DROP_CODE": np.where(idx % 10 == 7, "W02", "")})
    return students, enrollment


def peer(n: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    """PEER ESE, accommodations and 504 files for the first `n` roster students (every 7th has a blank time)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    ese = pd.DataFrame({
        "FLEID": fleid(idx), "PRIMARY_EXCEPTIONALITY": np.array(["K", "F", "P", "V", "G"])[idx % 5],
        "OTHER_EXCEPTIONALITIES": np.where(idx % 4 == 0, "GZZZZZZZZ", "ZZZZZZZZZ"), "IDEA_ENVIRONMENT": "Z",
        "TIME_TOTAL_WEEK": "1800", "TIME_NON_DISABLED": np.where(idx % 7 == 3, "", (1800 - 60 * (idx % 10)).astype(str)),
        "PLAN_DATE": "09152026", "EXPIRATION_DATE": "09142027", "DISMISSAL_DATE": "", "PLACEMENT_STATUS": "P"})
    acc = pd.DataFrame({
        "FLEID": np.repeat(fleid(idx), 2).to_numpy(), "PROGRAM": np.tile(["ESE", "504"], n),
        "SETTING": np.array(["ASSESSMENT", "CLASSROOM"])[np.arange(2 * n) // 2 % 2],
        "ACCOMMODATION": ACCOMMODATIONS[rng.integers(0, len(ACCOMMODATIONS), 2 * n)]})
    sec504 = pd.DataFrame({"FLEID": fleid(idx[idx % 3 == 0]), "PLAN_DATE": "08202026", "SECTION_504_ELIGIBLE": "Y"})
    return {"ese": ese, "accommodations": acc, "sec504": sec504}


def seed_florida(registry_file: Path, registry: Registry, now: float, students: int = 400) -> list[Path]:
    """Write today's Focus roster and PEER files into each enabled roster / PEER drop folder (roster first), modified
    10 and 1 minutes before `now`."""
    written: list[Path] = []
    focus_students, enrollment = roster(students)
    iso = pd.to_datetime(focus_students["DT_BIRTH"], format="%Y%m%d").dt.strftime("%Y-%m-%d")  # not a bare number
    frames = {"focus_roster": {"students": focus_students.assign(DT_BIRTH=iso), "student_enrollment": enrollment},
              "peer": {f"PEER_{k.upper()}": v for k, v in peer(students * 3 // 4).items()}}
    frames["peer"] = {k.replace("ACCOMMODATIONS", "ACCOM").replace("SEC504", "504"): v for k, v in frames["peer"].items()}
    for age, feed in ((600, "focus_roster"), (60, "peer")):
        for integration in registry.enabled(feed):
            if not isinstance(integration.transport, FolderTransportConfig):
                continue
            folder = Path(integration.transport.path)
            folder = folder if folder.is_absolute() else (registry_file.parent / folder).resolve()
            folder.mkdir(parents=True, exist_ok=True)
            code = registry.district(integration.district).state_district_id or "00"
            for name, frame in frames[feed].items():
                path = folder / f"{code}_{name}.csv"
                frame.to_csv(path, index=False)
                os.utime(path, (now - age, now - age))
                written.append(path)
    return written
