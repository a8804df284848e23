"""OneRoster users.csv vocabularies (IMS/1EdTech OneRoster 1.1 CSV tables and 1.2 CSV binding): roles, statuses,
and the 1.2 layout, whose roles live in roles.csv.

Roles, 1.1: administrator, aide, guardian, parent, proctor, relative, student, teacher. 1.2 (RoleEnum): aide,
counselor, districtAdministrator, guardian, parent, principal, proctor, relative, siteAdministrator, student,
systemAdministrator, teacher, and extensions written `ext:<name>`. Status, 1.1: active, tobedeleted, inactive; 1.2:
active, tobedeleted; blank in bulk files. Only `student` users are the hub's students; every other role is read,
counted and left out of the student chain.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.read.headers import normalize_header

ROLES = ("ADMINISTRATOR", "AIDE", "COUNSELOR", "DISTRICTADMINISTRATOR", "GUARDIAN", "PARENT", "PRINCIPAL", "PROCTOR",
         "RELATIVE", "SITEADMINISTRATOR", "STUDENT", "SYSTEMADMINISTRATOR", "TEACHER")  # compared upper-cased
ROLE_PATTERN = "|".join(ROLES) + r"|EXT:[\w.:-]+"
STATUS_PATTERN = "(?i)active|tobedeleted|inactive"
V12_ONLY = {"usermasteridentifier", "primaryorgsourcedid", "preferredgivenname", "preferredfamilyname", "pronouns"}


def users_layout(headers: Sequence[str]) -> str | None:
    """A OneRoster 1.2 users.csv has no role column (roles are in roles.csv): say so instead of 'role missing'."""
    present = {normalize_header(h) for h in headers}
    if "role" not in present and present & V12_ONLY:
        return ("a OneRoster 1.2 users.csv: its roles are in roles.csv, which this feed does not read; export "
                "users.csv in the OneRoster 1.1 layout (with the role column)")
    return None
