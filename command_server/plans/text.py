"""Chinese text for the plan library: jieba tokens, chemical synonyms, the search-token column, similarity.

Pure functions, no database. The same tokeniser builds a plan's ``search_tokens`` column and reads a search
query or an incident's text, so "氨气泄漏" and "液氨储罐泄漏" meet on purpose, not by luck:

- jieba (search mode for documents, precise mode for queries) splits the text into words;
- every word that names a chemical is normalised through ``dispersion.get_chemical`` (name, alias or CAS →
  the canonical Chinese name and the CAS number), and a small synonym map adds the short forms the
  chemical table does not carry (氨气/液氨/氨水 → 氨, 氯气/液氯 → 氯, 柴油/原油/溢油 → 油, 危废 → 危险废物…).

A document's token set therefore holds 液氨, 氨, 7664-41-7, 储罐, 泄漏; the query 氨气泄漏 becomes the groups
{氨气, 氨, 7664-41-7} and {泄漏}; each group matches when any of its forms is in the document.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Iterable

import jieba

import dispersion

jieba.setLogLevel(logging.WARNING)
_init_lock = threading.Lock()
_ready = False

# Surface form → canonical forms (beyond what dispersion's chemical table resolves).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "氨气": ("氨",), "液氨": ("氨",), "氨水": ("氨",), "无水氨": ("氨",), "nh3": ("氨",), "氨": ("氨",),
    "氯气": ("氯",), "液氯": ("氯",), "cl2": ("氯",), "氯": ("氯",),
    "溢油": ("油", "石油类"), "漏油": ("油", "石油类"), "石油": ("油", "石油类"), "原油": ("油", "石油类"),
    "柴油": ("油", "石油类"), "汽油": ("油", "石油类"), "燃料油": ("油", "石油类"), "油品": ("油", "石油类"),
    "油类": ("油", "石油类"), "石油类": ("油", "石油类"), "油污": ("油", "石油类"), "成品油": ("油", "石油类"),
    "危废": ("危险废物",), "危险废物": ("危险废物",),
    "放射源": ("放射源", "辐射"), "辐射源": ("放射源", "辐射"), "核辐射": ("辐射",),
    "重污染天气": ("大气污染",), "雾霾": ("大气污染",), "空气污染": ("大气污染",),
    "饮用水源": ("水源地",), "水源地": ("水源地",), "取水口": ("水源地",),
    "尾矿": ("尾矿库",), "溃坝": ("溃坝",),
    "六价铬": ("铬", "重金属"), "铬": ("铬", "重金属"), "镉": ("镉", "重金属"), "铅": ("铅", "重金属"),
    "汞": ("汞", "重金属"), "砷": ("砷", "重金属"), "重金属": ("重金属",),
}

# Chemical classes a plan may name instead of single chemicals: class → canonical member names.
CLASSES: dict[str, frozenset[str]] = {
    "石油类": frozenset({"油", "石油类"}),
    "重金属": frozenset({"铬", "镉", "铅", "汞", "砷", "重金属"}),
    "有毒气体": frozenset({"氨", "氯气", "氯", "硫化氢", "光气", "氰化氢", "一氧化碳", "二氧化硫", "氯化氢",
                           "磷化氢", "砷化氢", "氟化氢", "异氰酸甲酯"}),
    "易燃液体": frozenset({"苯", "甲苯", "二甲苯", "甲醇", "丙酮", "乙酸乙酯", "苯乙烯", "油", "石油类"}),
    "氯代溶剂": frozenset({"三氯甲烷", "二氯甲烷", "三氯乙烯", "四氯乙烯", "四氯化碳"}),
}

# Keys that name a class rather than one substance: never an exact pollutant match on their own.
CLASS_TOKENS = frozenset(CLASSES) | {"油"}

STOPWORDS = frozenset(
    "的 了 和 与 及 或 在 是 对 等 于 由 为 将 并 其 该 各 个 有 无 向 从 按 把 被 时 后 前 中 内 上 下 "
    "一 二 三 四 第 之 以 及时 进行 相关 有关 做好 开展 立即 根据 要求 情况 工作".split()
)
# Words nearly every plan contains: kept in the search column, ignored for text similarity.
GENERIC = frozenset("应急 预案 事件 事故 突发 处置 环境 响应 突发事件 专项 综合 滨江 市 发生 工作".split())

_CAS_RE = re.compile(r"\b\d{2,7}-\d{2}-\d\b")
_WORD_RE = re.compile(r"[\w\-]+", re.UNICODE)


def warm_up() -> None:
    """Load jieba's dictionary once (about a second): call from a worker thread at start."""
    global _ready
    with _init_lock:
        if not _ready:
            jieba.initialize()
            _ready = True


def cas_valid(cas: str) -> bool:
    """A CAS registry number with a correct check digit (e.g. 7664-41-7)."""
    m = re.fullmatch(r"(\d{2,7})-(\d{2})-(\d)", cas.strip())
    if not m:
        return False
    digits = (m.group(1) + m.group(2))[::-1]
    return sum((i + 1) * int(d) for i, d in enumerate(digits)) % 10 == int(m.group(3))


def _lookup(name_or_cas: str) -> dispersion.Chemical | None:
    try:
        return dispersion.get_chemical(name_or_cas)
    except dispersion.UnknownChemicalError:
        return None


def chemical_keys(name_or_cas: str) -> set[str]:
    """Canonical keys of a chemical or class name: itself, dispersion's Chinese name and CAS, synonyms."""
    raw = name_or_cas.strip()
    if not raw:
        return set()
    low = raw.casefold()
    keys = {low}
    keys.update(SYNONYMS.get(low, ()))
    chem = _lookup(raw) if (_CAS_RE.fullmatch(raw) or _chemical_lookup_ok(raw)) else None
    if chem is not None:
        keys.update({chem.name_zh, chem.cas})
        keys.update(SYNONYMS.get(chem.name_zh, ()))
    return keys


def chemical_classes(keys: Iterable[str]) -> set[str]:
    """The classes (石油类, 重金属, 有毒气体…) a set of chemical keys belongs to, or names directly."""
    ks = set(keys)
    return {cls for cls, members in CLASSES.items() if cls in ks or ks & members}


def _chemical_lookup_ok(token: str) -> bool:
    # Single characters (氢, 氟, 膦…) and two-letter ASCII (CO, NO, AN…) are too ambiguous in free text.
    if len(token) < 2:
        return False
    return not (token.isascii() and len(token) <= 2)


def normalise_chemical(name: str | None, cas: str | None) -> dict[str, str | None]:
    """A pollutant entry as stored: the given name, a CAS (from the table when absent), the canonical name."""
    chem = None
    for key in (cas, name):
        if key and key.strip():
            chem = _lookup(key.strip())
            if chem is not None:
                break
    return {"name": (name or (chem.name_zh if chem else "") or "").strip(),
            "cas": (cas or (chem.cas if chem else None)),
            "canonical": chem.name_zh if chem else None}


def _token_forms(word: str) -> set[str]:
    """A word and every canonical form it stands for."""
    w = word.strip().casefold()
    if not w:
        return set()
    forms = {w}
    forms.update(SYNONYMS.get(w, ()))
    forms |= chemical_keys(w)
    return forms


def _keep(word: str) -> bool:
    w = word.strip()
    if not w or w in STOPWORDS:
        return False
    if not _WORD_RE.fullmatch(w):
        return False  # punctuation, symbols
    return not w.isdigit()


def document_tokens(*texts: str | None) -> set[str]:
    """Every token of a document (search mode: overlapping words too) with their canonical forms."""
    warm_up()
    out: set[str] = set()
    for text in texts:
        if not text:
            continue
        for cas in _CAS_RE.findall(text):
            out |= _token_forms(cas)
        for word in jieba.cut_for_search(text):
            if _keep(word):
                out |= _token_forms(word)
    return out


def search_column(tokens: Iterable[str]) -> str:
    """The stored ``search_tokens`` text: sorted tokens between single spaces, space at both ends, so a
    token is found with ``LIKE '% token %'``."""
    return " " + " ".join(sorted({t.replace(" ", "") for t in tokens if t})) + " "


def query_groups(q: str) -> list[tuple[str, frozenset[str]]]:
    """A search query as (word, alternative forms) groups; precise mode so that one word is one group."""
    warm_up()
    groups: list[tuple[str, frozenset[str]]] = []
    seen: set[str] = set()
    text = q.strip()
    for cas in _CAS_RE.findall(text):
        if cas not in seen:
            seen.add(cas)
            groups.append((cas, frozenset(_token_forms(cas))))
        text = text.replace(cas, " ")
    for word in jieba.cut(text):
        w = word.strip().casefold()
        if not _keep(w) or w in seen:
            continue
        seen.add(w)
        groups.append((w, frozenset(_token_forms(w))))
    return groups


def required_matches(n_groups: int) -> int:
    """How many query groups a plan must match: all of one or two words, two thirds of longer queries."""
    if n_groups <= 2:
        return n_groups
    return math.ceil(n_groups * 2 / 3)


def group_weight(word: str) -> float:
    """Longer words are more specific; a chemical group counts like a long word."""
    return 1.0 + 0.25 * min(len(word), 4)


def similarity_tokens(*texts: str | None) -> set[str]:
    return {t for t in document_tokens(*texts) if t not in GENERIC}


def cosine(a: set[str], b: set[str]) -> float:
    """Cosine similarity of two token sets (binary vectors)."""
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))
