"""Synthetic SIRAS demographics files (realistic shape, invented people), written in chunks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

FIRST = np.array(["Sofia", "Mateo", "Olivia", "Liam", "Camila", "Noah", "Isabella", "Ethan", "Mia", "Diego", "Ava",
                  "Lucas", "Emma", "Daniel", "Zoe", "Jayden", "Aaliyah", "Minh", "Priya", "José"])
LAST = np.array(["Garcia", "Nguyen", "Smith", "Hernandez", "Lopez", "Kim", "Martinez", "Johnson", "Patel", "Brown",
                 "Rodriguez", "Tran", "O'Brien", "Williams", "Chen", "Davis", "Ramirez", "Lee", "Flores", "Núñez"])
GRADES = np.array(["KN", "TK", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"])
HEADER = ["SSID", "LOCAL_ID", "LAST_NAME", "FIRST_NAME", "BIRTHDATE", "MIDDLE_NAME", "SCH_CODE", "DIST_RESI", "GRADE",
          "GENDER", "ETHNICITY", "RACE1", "EL_TYPE", "NATIV_LANG", "MIGRANT", "Designation"]


def students(n: int, district_code: str, seed: int = 0, start: int = 0, of: int = 0) -> pd.DataFrame:
    """`n` synthetic students of one district (SSIDs derived from the row number, so deterministic). With `of` (the
    file's rows), SSIDs are scattered over the file as in an export sorted by name, not in SSID order."""
    rng = np.random.default_rng(seed + start)
    idx = np.arange(start, start + n)
    if of:
        idx = idx * _stride(of) % of
    births = pd.Timestamp("2008-09-01") + pd.to_timedelta(rng.integers(0, 4700, n), unit="D")
    schools = np.array(["6000001", "6000002", "6000003"])
    return pd.DataFrame({
        "SSID": pd.Series(idx + 1_000_000_000 + int(district_code) % 7919 * 10_000).astype(str).str.zfill(10),
        "LOCAL_ID": pd.Series(idx + 100000).astype(str).str.zfill(7),
        "LAST_NAME": LAST[rng.integers(0, len(LAST), n)],
        "FIRST_NAME": FIRST[rng.integers(0, len(FIRST), n)],
        "BIRTHDATE": births.strftime("%Y%m%d"),
        "MIDDLE_NAME": np.where(rng.random(n) < 0.5, FIRST[rng.integers(0, len(FIRST), n)], ""),
        "SCH_CODE": schools[rng.integers(0, 3, n)],
        "DIST_RESI": district_code,
        "GRADE": GRADES[rng.integers(0, len(GRADES), n)],
        "GENDER": np.array(["M", "F", "X"])[rng.choice(3, n, p=[0.49, 0.49, 0.02])],
        "ETHNICITY": np.array(["Y", "N"])[rng.integers(0, 2, n)],
        "RACE1": np.array(["100", "201", "600", "700"])[rng.integers(0, 4, n)],  # CALPADS race codes
        "EL_TYPE": np.array(["EO", "EL", "IFEP", "RFEP", "TBD"])[rng.integers(0, 5, n)],
        "NATIV_LANG": np.array(["00", "01", "02", "07"])[rng.integers(0, 4, n)],
        "MIGRANT": np.array(["N", "Y"])[rng.choice(2, n, p=[0.95, 0.05])],
        "Designation": np.array(["SPED", "504", "SST", ""])[rng.choice(4, n, p=[0.6, 0.2, 0.05, 0.15])],
    }, columns=HEADER)


def write_csv(path: Path, rows: int, district_code: str, seed: int = 0, chunk: int = 200_000,
              encoding: str = "utf-8", regrade_every: int = 0, scattered: bool = False) -> Path:
    """Write a demographics CSV of `rows` students in chunks (memory stays flat). `regrade_every` > 0 moves every
    n-th student up a grade: the same file as a later delivery with that share of records changed. `scattered`:
    SSIDs out of order (students(of=rows))."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as fh:
        for start in range(0, rows, chunk):
            frame = students(min(chunk, rows - start), district_code, seed, start, rows if scattered else 0)
            if regrade_every:
                moved = (frame.index + start) % regrade_every == 0
                frame.loc[moved, "GRADE"] = frame.loc[moved, "GRADE"].map(_NEXT_GRADE)
            frame.to_csv(fh, index=False, header=start == 0)
    return path


def _stride(n: int) -> int:
    """A multiplier coprime with `n` near n / golden ratio: consecutive rows' SSIDs lie far apart, each used once."""
    k = max(1, int(n * 0.6180339887))
    while math.gcd(k, n) != 1:
        k += 1
    return k


_NEXT_GRADE = dict(zip(GRADES, [*GRADES[1:], GRADES[0]]))
