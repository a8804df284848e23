"""Synthetic ClassLink, PowerSchool and Renaissance Star files for one district (invented students)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd

USERS_HEADER = ["sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username",
                "userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
                "agentSourcedIds", "grades", "password"]
# A v2-like subset used by the demo; tests use the real header lines of every layout.
STAR_HEADER = ["RenaissanceClientID", "SchoolYear", "SchoolYearStartDate", "StudentRenaissanceID", "StudentSourcedID",
               "StudentIdentifier", "StudentFirstName", "StudentLastName", "CurrentGrade", "DistrictName", "SchoolName",
               "AssessmentID", "LaunchDate", "CompletedDate", "ScaledScore", "GradeEquivalent", "PercentileRank",
               "ScreeningPeriodWindowName", "RenaissanceBenchmarkCategoryName", "RenaissanceBenchmarkCategoryLevel"]
BENCHMARKS = [("At/Above Benchmark", "1"), ("On Watch", "2"), ("Intervention", "3"), ("Urgent Intervention", "4")]


# The demo's student numbers: 10 digits from 8100000000, a number no count, size or Unix time of this century is
# (tests/protected.py); test fixtures keep the 6-digit numbers of the real samples (605000, ...).
DEMO_NUMBERS = 8_100_000_000


def roster(n: int, seed: int = 0, first: int = 605000) -> pd.DataFrame:
    """`n` students: ClassLink sourcedId, PowerSchool student number (from `first`), email."""
    idx = np.arange(n)
    return pd.DataFrame({"sourced_id": [f"cl-{seed}-{i:05d}" for i in idx],
                         "number": [str(first + 1000 * seed + i) for i in idx],
                         "email": [f"student{seed}.{i}@belleville.example.org" for i in idx]})


def classlink_users(r: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame("", index=r.index, columns=USERS_HEADER)
    frame["sourcedId"], frame["status"], frame["role"], frame["email"] = r["sourced_id"], "active", "student", r["email"]
    frame["enabledUser"], frame["identifier"], frame["givenName"], frame["familyName"] = "true", r["number"], "Ana", "Doe"
    return frame


def ps_students(r: pd.DataFrame) -> pd.DataFrame:
    """PowerSchool writes the email in its own case, sometimes with stray spaces."""
    return pd.DataFrame({"STUDENT_NUMBER": r["number"], "LASTFIRST": "Doe, Ana",
                         "U_StudentsUserFields.StudentEmail": " " + r["email"].str.upper() + " ",
                         "SCHOOLID": "101", "GRADE_LEVEL": (r.index % 12 + 1).astype(str), "ENROLL_STATUS": "0"})


def star_rows(r: pd.DataFrame, district_name: str, header: list[str] = STAR_HEADER, subject: str = "SM",
              old_timestamps: bool = False, seed: int = 0) -> pd.DataFrame:
    """One test per student in `header`'s column order; columns the hub does not use get filler."""
    rng = np.random.default_rng(seed)
    n = len(r)
    pr = rng.integers(1, 100, n)
    level = np.select([pr >= 40, pr >= 25, pr >= 10], [0, 1, 2], 3)
    stamp = "2022-09-{d:02d} 10:15:00.000" if old_timestamps else "2023-09-{d:02d}T17:16:48.415Z"
    values = {
        "SchoolYear": "2023-2024", "StudentIdentifier": r["number"].to_numpy(), "DistrictName": district_name,
        "AssessmentID": [f"00000000-0000-{seed:04d}-{ord(subject[-1]):04d}-{i:012d}" for i in range(n)],
        "CompletedDate": [stamp.format(d=1 + i % 28) for i in range(n)],
        "ScaledScore": rng.integers(300, 1200, n).astype(str),
        "GradeEquivalent": np.where(pr < 5, "< 1", np.where(pr > 95, "> 12.9", (pr / 10).round(1).astype(str))),
        "PercentileRank": pr.astype(str), "ScreeningPeriodWindowName": "Fall",
        "RenaissanceBenchmarkCategoryName": [BENCHMARKS[k][0] for k in level],
        "RenaissanceBenchmarkCategoryLevel": [BENCHMARKS[k][1] for k in level],
        "StudentFirstName": "Ana", "StudentLastName": "Doe",
    }
    return pd.DataFrame({h: values.get(h, "x") for h in header}, index=range(n))


def star_zip(files: dict[str, pd.DataFrame]) -> bytes:
    """One zip per client, as Renaissance Data Sharing delivers it (fully double-quoted CSVs)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, frame in files.items():
            zf.writestr(name, frame.to_csv(index=False, quoting=1))
    return buf.getvalue()
