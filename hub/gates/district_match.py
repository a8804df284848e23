"""Fuzzy district-name matching for the district gate (spec: Belleville identity mapping, "District").

Names are normalised, blocked by state and scored with rapidfuzz.  A wrong district accepted is the costly error,
so anything doubtful goes to review."""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Literal, Mapping

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from hub.gates.district_records import DistrictRecord

# Abbreviations seen in NCES names and vendor feeds, expanded before generic words are dropped.
_ABBREVIATIONS: dict[str, str] = {
    "sch": "school", "schl": "school", "schs": "schools", "dist": "district", "dst": "district", "distr": "district",
    "pblc": "public", "pub": "public", "elem": "elementary", "comm": "community", "com": "community",
    "cmty": "community", "twp": "township", "twsp": "township", "boro": "borough", "co": "county", "cnty": "county",
    "cons": "consolidated", "consol": "consolidated", "reg": "regional", "ctr": "center", "cntr": "center",
    "voc": "vocational", "tech": "technical", "educ": "education", "ed": "education", "sp": "special",
    "spec": "special", "specl": "special", "mt": "mount", "ft": "fort", "st": "saint", "hbr": "harbor",
    "jt": "joint", "coop": "cooperative", "corp": "corporation", "hts": "heights", "ind": "independent",
    "cnt": "central", "cntrl": "central", "unif": "unified", "mun": "municipal", "lk": "lake", "spgs": "springs",
    # district codes ('csd' stays: central, city, common or community school district)
    "hs": "high school", "sd": "school district", "pd": "public district", "ps": "public schools",
    "isd": "independent school district", "cisd": "consolidated independent school district",
    "usd": "unified school district", "cusd": "community unit school district",
    "ccsd": "community consolidated school district", "chsd": "community high school district",
    "hsd": "high school district", "uhsd": "union high school district", "esd": "elementary school district",
    "ufsd": "union free school district",
}
# Dropped.  On the NCES 2021-22 directory, normalisation adds 5 same-state name clashes to its 51 (NJ 'Monroe
# Township [Public] School District', 'Township of Ocean' vs 'Ocean Township'); those go to review.  Kept: unified,
# union, elementary, high, county, city, township, central, community, local, ..., 'csd', numbers.
GENERIC_WORDS = frozenset({"school", "schools", "district", "public", "the", "of", "in", "no", "number",
                           "corporation", "system"})
_TYPO_PRONE = ("school", "schools", "district", "public")  # no NCES name has another word 1 edit from these
# Kept, but often left out ('Belleville Twp SD' for 'Belleville Public School District', 'Abbott' for 'Abbott ISD')
# although they sometimes tell districts apart ('Genesee ISD' vs 'Genesee School District' in MI, 'X County' vs
# 'X City' in VA): the matcher ignores them only for an exact match that is unique in the state.
QUALIFIER_WORDS = frozenset({"township", "borough", "town", "city", "village", "county", "parish", "area",
                             "independent"})
_ROMAN = {r: str(n) for n, r in enumerate("i ii iii iv v vi vii viii ix x xi xii xiii xiv xv".split(), start=1)}


def normalize_name(name: str) -> str:
    """Casefold, fold accents, drop punctuation, '&'->'and', expand _ABBREVIATIONS, drop GENERIC_WORDS.

    'Belleville Public Schools', 'BELLEVILLE SCHOOL DISTRICT', 'Belleville PD', 'Belleville S.D.' -> 'belleville';
    'Belleville Twp SD' -> 'belleville township'; '#2', 'No. 2' -> '2'; 'R-II' -> 'r 2'; 'A E R O' -> 'aero';
    'Township of Ocean' -> 'ocean township'."""
    text = "".join(c for c in unicodedata.normalize("NFKD", name.casefold()) if not unicodedata.combining(c))
    text = re.sub(r"['\u2019.]", "", text.replace("&", " and "))  # S.D. -> sd, Governor's -> governors
    text = re.sub(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)", " ", re.sub(r"[^a-z0-9]+", " ", text))
    tokens = text.split()
    text = " ".join(_ROMAN[t] if t in _ROMAN and (len(t) > 1 or (i and tokens[i - 1] in ("r", "re"))) else t
                    for i, t in enumerate(tokens))
    text = re.sub(r"\b(?:[a-z] )+[a-z]\b", lambda m: m.group().replace(" ", ""), text)  # initials
    words = _qualifier_last(" ".join(_ABBREVIATIONS.get(t, t) for t in text.split()).split())
    return " ".join(w for w in words if not _is_generic(w))


def _qualifier_last(words: list[str]) -> list[str]:
    """'township of ocean school district' -> 'ocean township school district' (NJ, PA, MI use both orders)."""
    for i in range(len(words) - 2):
        if words[i] in QUALIFIER_WORDS and words[i + 1] == "of":
            start = i + 2 + (words[i + 2] == "the")
            end = next((j for j in range(start, len(words)) if _is_generic(words[j])), len(words))
            if end > start:
                return [*words[:i], *words[start:end], words[i], *words[end:]]
    return words


def _is_generic(word: str) -> bool:
    """A generic word, or a typo of a common one ('schol', 'distric')."""
    return word in GENERIC_WORDS or (len(word) >= 5 and any(Levenshtein.distance(word, g) <= 1 for g in _TYPO_PRONE))


def _split_qualifiers(normalized: str) -> tuple[str, frozenset[str]]:
    words = normalized.split()
    return " ".join(w for w in words if w not in QUALIFIER_WORDS), frozenset(QUALIFIER_WORDS.intersection(words))


@dataclass(frozen=True)
class MatchResult:
    query: str
    state: str | None
    best: DistrictRecord | None
    score: float
    runner_up: DistrictRecord | None
    runner_up_score: float
    decision: Literal["accepted", "review", "rejected"]
    reason: str = "fuzzy"  # confirmed | exact | exact-core | fuzzy


class _Block:
    """Normalised names and aliases of the districts of one state (or of all), ready for rapidfuzz."""

    def __init__(self, records: list[DistrictRecord]) -> None:
        self.keys: list[str] = []
        self.sorted_keys: list[str] = []  # tokens pre-sorted: fuzz.ratio on these is token_sort_ratio, 4x faster
        self.owners: list[DistrictRecord] = []
        self.exact: dict[str, set[str]] = defaultdict(set)
        self.core: dict[str, dict[str, frozenset[str]]] = defaultdict(dict)  # core -> {leaid: qualifiers}
        for rec in records:
            for key in dict.fromkeys(normalize_name(n) for n in (rec.name, *rec.aliases)):
                self.keys.append(key)
                self.sorted_keys.append(" ".join(sorted(key.split())))
                self.owners.append(rec)
                self.exact[key].add(rec.leaid)
                core, qualifiers = _split_qualifiers(key)
                self.core[core][rec.leaid] = qualifiers
        self.limit = 2 + max((len(r.aliases) for r in records), default=0)  # always reaches 2 districts

    def rank(self, key: str) -> list[tuple[DistrictRecord, float, str]]:
        """Best two districts with score and the key that scored: the better of fuzz.ratio (a typo in a first
        letter must not reorder tokens: 'arren county' vs 'county warren') and token_sort_ratio (word order)."""
        ranked: dict[str, tuple[DistrictRecord, float, str]] = {}
        for query, keys in ((key, self.keys), (" ".join(sorted(key.split())), self.sorted_keys)):
            for _, score, idx in process.extract(query, keys, scorer=fuzz.ratio, processor=None, limit=self.limit):
                owner = self.owners[idx]
                if owner.leaid not in ranked or score > ranked[owner.leaid][1]:
                    ranked[owner.leaid] = (owner, float(score), self.keys[idx])
        return sorted(ranked.values(), key=lambda hit: -hit[1])[:2]

    def unique(self, key: str) -> tuple[str, str] | None:
        """(leaid, 'exact') if one district only has the key; (leaid, 'exact-core') if so once one-sided
        qualifiers are ignored ('belleville township' ~ 'belleville', never 'x city' ~ 'x county'); else None."""
        if key in self.exact:
            return (next(iter(self.exact[key])), "exact") if len(self.exact[key]) == 1 else None
        core, qualifiers = _split_qualifiers(key)
        if len(self.core.get(core, {})) != 1:
            return None
        leaid, theirs = next(iter(self.core[core].items()))
        return (leaid, "exact-core") if theirs <= qualifiers or qualifiers <= theirs else None


class DistrictMatcher:
    """State-blocked fuzzy matcher; see match() for the decision rules."""

    def __init__(self, records: Iterable[DistrictRecord], accept: float = 92.0, margin: float = 6.0,
                 review: float = 75.0, confirmed: Mapping[tuple[str, str], str] | None = None) -> None:
        self.records = list(records)
        self.accept, self.margin, self.review = accept, margin, review
        self.by_leaid = {r.leaid: r for r in self.records}
        self.confirmed = {(st.strip().upper(), key): leaid for (st, name), leaid in (confirmed or {}).items()
                          for key in (name, normalize_name(name))}  # normalised as given, or a raw name
        if unknown := set(self.confirmed.values()) - set(self.by_leaid):
            raise ValueError(f"confirmed LEAIDs not among the districts: {sorted(unknown)}")
        states = {r.state for r in self.records}
        self.blocks = {st: _Block([r for r in self.records if r.state == st]) for st in states}
        self.everywhere = _Block(self.records)

    def match(self, name: str, state: str | None = None) -> MatchResult:
        """Confirmed (state, name) -> accepted.  Else, among the state's districts (all if state is None): accepted
        if the normalised name is one district's only (_Block.unique), or if score >= accept, score - runner_up >=
        margin and the numbers agree ('plainfield 22' vs '202'); review if score >= review; else rejected."""
        st = state.strip().upper() if state and state.strip() else None
        key = normalize_name(name)
        if confirmed := self.confirmed.get((st, key)):
            return MatchResult(name, st, self.by_leaid[confirmed], 100.0, None, 0.0, "accepted", "confirmed")
        block = self.blocks.get(st) if st else self.everywhere
        if block is None or not key:
            return MatchResult(name, st, None, 0.0, None, 0.0, "rejected")
        ranked = block.rank(key)
        if unique := block.unique(key):
            best = self.by_leaid[unique[0]]
            runner, runner_score, _ = next((hit for hit in ranked if hit[0].leaid != best.leaid), (None, 0.0, ""))
            return MatchResult(name, st, best, 100.0, runner, runner_score, "accepted", unique[1])
        (best, score, best_key), (runner, runner_score, _) = (ranked + [(None, 0.0, "")] * 2)[:2]
        accepted = score >= self.accept and score - runner_score >= self.margin and _numbers(key) == _numbers(best_key)
        decision = "accepted" if accepted else "review" if score >= self.review else "rejected"
        return MatchResult(name, st, best, score, runner, runner_score, decision)


def _numbers(normalized: str) -> list[str]:
    return sorted(w.lstrip("0") or "0" for w in normalized.split() if w.isdigit())
