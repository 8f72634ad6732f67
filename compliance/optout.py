"""Does an inbound reply (MO) ask to stop marketing?

The rules, decided here and tested in tests/test_optout.py:

* The text is NFKC-normalised (full-width ＴＤ → TD, full-width punctuation → ASCII) and
  case-folded, so any case and any width match.
* Latin keywords (TD, STOP, UNSUBSCRIBE) match as whole words: a run of letters/digits
  bounded by anything else (spaces, punctuation, Chinese characters, start or end).
  "stop!", " td。", "TD退订" match; "Trade", "stopped", "R2", "TD1" do not.
* The single letters R, T and N match only when they are the whole reply (ignoring spaces
  and punctuation): "T", " n ", "R。" match; "T 恤多少钱" or "N95 口罩" do not, because a lone
  letter inside a sentence is far more often something else.
* Chinese keywords (退订, 拒收, and traditional 退訂) have no spaces around them in real
  replies ("我要退订", "退订了谢谢"), so they match anywhere in the text — unless directly
  negated: "不退订?", "别拒收", "不要退订", "无需退订" do not match. "怎么退订" and
  "为什么不能退订" do match: the sender plainly wants out, and when in doubt we stop
  marketing rather than keep sending to someone who asked not to be messaged.
"""

from __future__ import annotations

import re
import unicodedata

WORD_KEYWORDS = frozenset({"td", "stop", "unsubscribe"})
WHOLE_REPLY_KEYWORDS = frozenset({"r", "t", "n", "td", "stop", "unsubscribe"})
CHINESE_KEYWORDS = ("退订", "退訂", "拒收")

_NEGATION_ONE = frozenset("不别勿没未莫")
_NEGATION_TWO = frozenset({"无需", "无须", "不用", "不要", "不想", "不必", "不会", "不是"})
_LATIN_WORD = re.compile(r"[a-z0-9]+")
_NOT_WORD = re.compile(r"[\W_]+")


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").casefold()


def _chinese_keyword_present(text: str) -> bool:
    compact = re.sub(r"\s+", "", text)
    for keyword in CHINESE_KEYWORDS:
        start = compact.find(keyword)
        while start != -1:
            before = compact[max(0, start - 2) : start]
            negated = (before[-1:] in _NEGATION_ONE) or (before in _NEGATION_TWO)
            if not negated:
                return True
            start = compact.find(keyword, start + 1)
    return False


def is_opt_out(text: str) -> bool:
    """True when the reply asks to stop (see the module docstring for the exact rules)."""
    normalised = _normalise(text)
    if not normalised.strip():
        return False
    if _NOT_WORD.sub("", normalised) in WHOLE_REPLY_KEYWORDS:
        return True
    if any(word in WORD_KEYWORDS for word in _LATIN_WORD.findall(normalised)):
        return True
    return _chinese_keyword_present(normalised)
