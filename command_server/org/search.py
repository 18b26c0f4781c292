"""Pinyin search keys for people and the SQL that matches a query against them.

Everything a query may match is folded into one lower-case ``search_text`` column built by ``person_keys``
(the only builder: create, update, import and the demo generator all call it), so a search is a handful of
LIKEs that run the same on SQLite and PostgreSQL. Each token in ``search_text`` starts with a marker that
says what it is, and tokens are separated by spaces:

    " =张三丰 ^zsf ~zhangsanfeng @应急监测站 #站长 "

``=`` name, ``^`` pinyin initials, ``~`` full pinyin, ``@`` unit name, ``#`` position. Markers and spaces are
removed from queries, so a query can neither match a marker nor run across two tokens, and "initials
prefix" is simply ``LIKE '% ^zs%'``. Heteronyms give extra ``^``/``~`` tokens (单 is dan/shan/chan), so
surnames are found under either reading. Phone numbers never appear here: a full mobile is matched through
its blind index and 3–4 digit fragments against the masked form (``138****5678``) only.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from pypinyin import Style, lazy_pinyin, pinyin
from sqlalchemy import ColumnElement, and_, case, false, func, or_

from ..core.crypto import blind_index, normalize_phone
from ..core.like import escape_like, like
from .models import Person

MARKERS = "=^~@#"
_STRIP_FROM_QUERY = re.compile(r"[\s" + re.escape(MARKERS) + r"'’·]+")
_HANZI = re.compile(r"[\u3400-\u9fff]")
MAX_HETERONYM_CHARS = 3  # readings beyond the surname and given name add noise, not recall
MAX_VARIANTS = 16

# Surnames whose reading differs from the character's common reading; the surname reading is the primary one.
SURNAME_READINGS: dict[str, str] = {
    "单": "shan", "曾": "zeng", "区": "ou", "仇": "qiu", "解": "xie", "查": "zha", "朴": "piao", "盖": "ge",
    "乐": "yue", "缪": "miao", "翟": "zhai", "覃": "qin", "召": "shao", "尉": "yu", "秘": "bi", "繁": "po",
    "长": "chang", "种": "chong", "冼": "xian", "员": "yun", "华": "hua", "任": "ren", "纪": "ji", "沈": "shen",
    "重": "chong", "过": "guo", "万": "wan", "柏": "bai", "蕃": "pi", "句": "gou", "隗": "wei", "燕": "yan",
}


@dataclass(frozen=True)
class PersonKeys:
    pinyin: str
    initials: str
    search_text: str


def _fold(text: str | None) -> str:
    """Lower-case, without spaces or marker characters: the form both tokens and queries are reduced to."""
    return _STRIP_FROM_QUERY.sub("", (text or "").lower())


def _readings(name: str) -> list[list[str]]:
    """Per-character readings, primary first; non-Chinese runs become one lower-case segment."""
    primary = lazy_pinyin(name, style=Style.NORMAL, errors=lambda s: [_fold(s)])
    alternatives = pinyin(name, style=Style.NORMAL, heteronym=True, errors=lambda s: [_fold(s)])
    out: list[list[str]] = []
    for i, (first, alts) in enumerate(zip(primary, alternatives, strict=False)):
        options = [first, *[a for a in alts if a != first]]
        if i == 0 and name[:1] in SURNAME_READINGS:
            surname = SURNAME_READINGS[name[0]]
            options = [surname, *[o for o in options if o != surname]]
        if i >= MAX_HETERONYM_CHARS:
            options = options[:1]
        out.append([_fold(o) for o in options if _fold(o)])
    return [o for o in out if o]


def _variants(readings: list[list[str]], pick: Any) -> list[str]:
    seen: dict[str, None] = {}
    for combo in itertools.islice(itertools.product(*readings), 256):
        seen.setdefault("".join(pick(r) for r in combo), None)
        if len(seen) >= MAX_VARIANTS:
            break
    return list(seen)


def person_keys(name: str, *, unit_name: str | None, position: str | None) -> PersonKeys:
    """Pinyin, initials and the search text of a person. The one builder of ``search_text``."""
    readings = _readings(name)
    full = _variants(readings, lambda r: r)
    initials = _variants(readings, lambda r: r[0])
    primary_full = full[0] if full else _fold(name)
    primary_initials = initials[0] if initials else _fold(name)[:1]
    tokens = [f"={_fold(name)}", *(f"^{i}" for i in initials), *(f"~{p}" for p in full)]
    if unit_name:
        tokens.append(f"@{_fold(unit_name)}")
    if position:
        tokens.append(f"#{_fold(position)}")
    return PersonKeys(pinyin=primary_full[:255], initials=primary_initials[:64],
                      search_text=" " + " ".join(tokens) + " ")


def is_chinese(text: str) -> bool:
    return bool(_HANZI.search(text))


# --- matching -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchPlan:
    where: ColumnElement[bool]
    rank: ColumnElement[int]


def _terms(q: str) -> list[str]:
    # A latin query is one pinyin run ("zhang san" = "zhangsan"); other queries are AND-ed words.
    if re.fullmatch(r"[A-Za-z\s'’]+", q):
        return [t for t in [_fold(q)] if t]
    return [t for t in (_fold(w) for w in q.split()) if t]


def _phone_match(q: str) -> ColumnElement[bool] | None:
    if not re.fullmatch(r"\+?[\d\s\-()]+", q):
        return None
    digits = normalize_phone(q)
    if len(digits) == 11:
        return Person.mobile_index == blind_index(digits)
    if 3 <= len(digits) <= 4:
        # Only what the masked form shows in clear: the first three and the last four digits.
        conds = [like(Person.mobile_masked, f"%{digits}")]
        if len(digits) == 3:
            conds.append(like(Person.mobile_masked, f"{digits}%"))
        return or_(*conds)
    return None


def plan(q: str) -> SearchPlan | None:
    """The WHERE clause and the rank expression for a query, or None for a blank query."""
    q = q.strip()
    if not q:
        return None
    terms = _terms(q)
    text_match = and_(*(like(Person.search_text, f"%{escape_like(t)}%") for t in terms)) if terms else false()
    phone = _phone_match(q)
    where = or_(text_match, phone) if phone is not None else text_match
    lowered = q.lower()
    head = escape_like(terms[0]) if terms else ""
    whens: list[tuple[ColumnElement[bool], int]] = [
        (func.lower(Person.name) == lowered, 0),
        (like(func.lower(Person.name), f"{escape_like(lowered)}%"), 1),
    ]
    if head:
        # The usual reading first: 董 may also be read zhong, but "zh" should list 张 before 董.
        whens += [(like(Person.initials, f"{head}%"), 2), (like(Person.pinyin, f"{head}%"), 3),
                  (like(Person.search_text, f"% ^{head}%"), 4), (like(Person.search_text, f"% ~{head}%"), 5)]
    rank = case(*whens, else_=6)
    return SearchPlan(where=where, rank=rank)
