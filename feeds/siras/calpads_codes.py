"""CALPADS code sets of the SIRAS demographics columns the spec marks "CALPADS code value", with their sources.

- ETHNICITY: the CALPADS Hispanic or Latino ethnicity indicator (data element 2.23 HispanicOrLatinoEthnicity), Y or
  N. Source: CDE/ETS, 2020-21 Summative ELPAC Student Data File Layout (June 2021), fields 45-53, which carry the
  CALPADS values as Yes/No.
- RACE1-RACE3: the CALPADS race codes 100 American Indian or Alaska Native; 201 Chinese, 202 Japanese, 203 Korean,
  204 Vietnamese, 205 Asian Indian, 206 Laotian, 207 Cambodian, 208 Hmong, 299 Other Asian; 301 Hawaiian,
  302 Guamanian, 303 Samoan, 304 Tahitian, 399 Other Pacific Islander; 400 Filipino; 600 Black or African American;
  700 White. Sources: the CDE column of the California Postsecondary Education Commission's ethnicity crosswalk
  (cpec.ca.gov, Data Element Cross-Walk, Ethnicity) and an Aeries CALPADS code table; the reporting groups
  100-700 as in the CAASPP/ELPAC layouts' Reporting Ethnicity.
- NATIV_LANG: CALPADS primary language codes. Until 2022-23 two characters: the "CALPADS Primary Language Codes"
  reference table of the 2020-21 ELPAC Student Data File Layout (00 English ... 82 Dinka, 99 Other non-English, UU
  Unknown) and the 2022 CAASPP layout's additions (83-98, A1-A9). From 2023-24 CALPADS uses three-letter codes
  based on ISO 639-2 plus specific ISO 639-3 codes (CDE CALPADS Update FLASH #256, July 2023; the list itself is
  on CDE's LEA Box site): accepted here are the ISO 639-2/639-3 language codes and ISO 639-5 collective codes of
  pycountry's ISO 639 data (a superset of the CALPADS list; e.g. MIS uncoded, SGN sign languages, YUE Cantonese).
- RESID_STAT and SCH_TYPE: no complete published table was found (searched December 2026), so their values are
  only checked to be codes (1-4 letters or digits, after upper-casing and the integration's value_maps) and a label
  such as "Foster Home" is a row error, not stored. SCH_TYPE is CASEMIS Table A field A-7 "School Type" (retired as
  a reportable field in June 2019); RESID_STAT is the residence code, CALPADS SPED field 14.26 "Primary Residence
  Code" (CALPADS File Specifications v11). The CASEMIS Technical Assistance Guides and CALPADS File Specifications
  hold the tables, but the copies available held only their opening pages; SIRAS's own knowledge base (articles
  378 "School Type" and 593 "Out of Home Care Estimates") quotes parts only: school types 00, 10, 11, 15, 19, 20,
  70, 71, 72 and residences 210, 220, 230. A partial list would refuse valid codes, so none is enforced.
A district's own spellings (Aeries "D" or "999" for declined, Excel's "1" for "01") are mapped with the registry's
`value_maps` (applied before validation).
"""

from __future__ import annotations

import pycountry

ETHNICITY = ("Y", "N")
RACES = ("100", *(f"{c}" for c in range(201, 209)), "299", "301", "302", "303", "304", "399", "400", "600", "700")
_TWO = [f"{c:02d}" for c in range(0, 99) if c not in (14, 31, 55, 58, 59)]
LANGUAGES_2 = (*_TWO, "99", "UU", *(f"A{d}" for d in range(1, 10)))
LANGUAGES_3 = tuple(sorted({c.upper() for lang in pycountry.languages for c in (lang.alpha_3, getattr(
    lang, "bibliographic", None)) if c} | {f.alpha_3.upper() for f in pycountry.language_families}))
LANGUAGES = (*LANGUAGES_2, *LANGUAGES_3)
CODE_SHAPE = r"[0-9A-Z]{1,4}"
