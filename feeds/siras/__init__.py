"""SIRAS: student demographics uploaded by a California SIS for the special-education system."""

import datetime as dt

from feeds.siras.columns import COLUMNS
from feeds.siras.rules import SirasOptions, apply, unchanged_state
from hub.registry.declarations import Feed, FileType, KeyedColumn
from hub.registry.windows import Blackout, Window

_NAME = r"^(?P<code>\d{7})_"
KEYS = (KeyedColumn("ssid_key", "ssid"),)  # the student's hub key, keyed(district:SSID)

FEED = Feed(
    name="siras",
    title="SIRAS student demographics",
    description=(
        "Nightly student demographics from the district SIS (CSV, XLS or XLSX). Updates existing special-education "
        "records matched by SSID; creates records only for students designated SPED, 504 or SST."
    ),
    files=(
        FileType("demographics_504", ("*_demographics_504*.csv", "*_demographics_504*.xls", "*_demographics_504*.xlsx"),
                 COLUMNS, unique_key=("ssid",), district_code_in_name=_NAME, keyed=KEYS,
                 description="504 Plan students ({CDE district code}_demographics_504.csv, also with a suffix such as "
                             "_demographics_504_20240901.csv): every row is designated 504."),
        FileType("demographics", ("*demographics*.csv", "*demographics*.xls", "*demographics*.xlsx"),
                 COLUMNS, unique_key=("ssid",), district_code_in_name=_NAME, keyed=KEYS,
                 description="Student demographics ({7-digit CDE district code}_demographics.csv)."),
    ),
    apply=apply,
    target_tables=("core.students",),
    options_model=SirasOptions,
    date_formats=("YYYYMMDD", "DD/MM/YYYY"),
    apply_asset="student_updates",
    main_file="demographics",  # the 504 file is matched first (its name also matches the main pattern)
    apply_description="Applies the day's staged SIRAS files to student profiles (core.students) with a field-level audit.",
    kinds=frozenset({"csv", "excel"}),
    # The spec: imports run nightly between 2 and 7 AM and pause over the summer each year while SIS systems roll
    # over (a district may get other dates: its integration's `pause:`).
    default_window=Window(start=dt.time(2), end=dt.time(7)),
    default_pause=Blackout(start="06-20", end="08-10", reason="SIRAS summer pause"),
    default_cadence="nightly",
    unchanged_state=unchanged_state,  # stage_changes_only: a night stages the students whose row changed
)
