"""Synthetic EdReflect deliveries for the demo: a week of daily change exports plus the legacy-id join tables."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pandas as pd

DAY = 86_400


def _day_files(n: int, day: dt.date) -> dict[str, pd.DataFrame]:
    """Day n: a few observations, goals and users change (synthetic ids only)."""
    obs = [f"OG{n * 3 + k:05d}" for k in range(3)] + ([f"OG{(n - 1) * 3:05d}"] if n else [])
    users = [f"E{n % 4 + k:04d}" for k in range(2)]
    year = "2026"
    return {
        "Observation_Modified": pd.DataFrame({"observation_group_id": obs, "observation_modified_date": str(day)}),
        "Observations": pd.DataFrame({"observation_group_id": obs, "observation_status": "open" if n % 2 else "closed",
                                      "school_year": year, "school_year_id": "17", "observation_is_deleted": "false"}),
        "Ratings": pd.DataFrame({"observation_group_id": obs, "indicator_id": "IND1", "rating": str(n % 4 + 1)}),
        "Goals_Modified": pd.DataFrame({"goal_id": [f"G{n:03d}"], "goal_modified_date": str(day)}),
        "Goals": pd.DataFrame({"goal_id": [f"G{n:03d}"], "goal_status": "active", "school_year": year,
                               "school_year_id": "17"}),
        "Goals_Deleted": pd.DataFrame({"goal_id": [f"G{n - 2:03d}"] if n >= 2 else []}),
        "User_Modified": pd.DataFrame({"employee_id": users, "user_modified_date": str(day)}),
        "User_Roles": pd.DataFrame({"employee_id": users, "role": "teacher"}),
        "User_Affiliations": pd.DataFrame({"learner_employee_id": users, "observer_employee_id": "E9000",
                                           "affiliation_type": "coach", "date_deleted": ""}),
    }


def write_week(folder: Path, days: int = 7, now: float | None = None) -> list[Path]:
    """`days` daily deliveries in dated subfolders (mtime on each day), plus export/all join tables."""
    now = now or time.time()
    written: list[Path] = []
    for n in range(days):
        mtime = now - (days - 1 - n) * DAY - 60
        day = dt.date.fromtimestamp(mtime)
        sub = folder / day.isoformat()
        sub.mkdir(parents=True, exist_ok=True)
        for stem, frame in _day_files(n, day).items():
            path = sub / f"{stem}.csv"
            frame.to_csv(path, index=False)
            os.utime(path, (mtime, mtime))
            written.append(path)
    legacy = folder / "export" / "all"
    legacy.mkdir(parents=True, exist_ok=True)
    for model, rows in {"artifact": [("1001", "A1")], "artifact_content": [("5001", "A1")],
                        "user": [("77", "E0001")]}.items():
        path = legacy / f"{model}_ids.csv"
        pd.DataFrame(rows, columns=["legacy_id", "new_id"]).to_csv(path, index=False)
        os.utime(path, (now - (days - 1) * DAY - 60,) * 2)
        written.append(path)
    return written
