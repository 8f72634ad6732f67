"""How many billable SMS segments a text takes (pure Python, no Django).

The text passed in is the full text as the handset receives it, i.e. with the 【signature】
prefix: the signature is billed like any other character.

GSM-7: 160 septets in a single message, 153 per part when concatenated; the extension
characters (^ { } [ ] ~ \\ | € and form feed) take an escape plus the character, so they
count 2. Anything outside the GSM-7 alphabet switches the whole message to UCS-2: 70 UTF-16
code units single, 67 per part; characters outside the Basic Multilingual Plane (most emoji)
are a surrogate pair and count 2. A 2-unit character never straddles two parts (an escape
sequence or a surrogate pair cannot be split), so parts are packed greedily.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 default alphabet (the escape character 0x1B itself is not typeable).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

LIMITS = {
    GSM7: (160, 153),
    UCS2: (70, 67),
}


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "GSM-7" | "UCS-2"
    characters: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int  # billable parts; 0 for an empty text
    single_limit: int  # 160 or 70
    part_limit: int  # 153 or 67

    @property
    def remaining_in_segment(self) -> int:
        """Units still free before the text needs another segment."""
        if self.segments <= 1:
            return self.single_limit - self.characters
        return self.segments * self.part_limit - self.characters

    def as_dict(self) -> dict:
        return {
            "encoding": self.encoding,
            "characters": self.characters,
            "segments": self.segments,
            "single_limit": self.single_limit,
            "part_limit": self.part_limit,
        }


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _unit_widths(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count_segments(text: str) -> SegmentCount:
    encoding = GSM7 if is_gsm7(text) else UCS2
    single, part = LIMITS[encoding]
    widths = _unit_widths(text, encoding)
    characters = sum(widths)
    if characters == 0:
        segments = 0
    elif characters <= single:
        segments = 1
    else:
        segments, used = 1, 0
        for width in widths:
            if used + width > part:
                segments += 1
                used = 0
            used += width
    return SegmentCount(
        encoding=encoding, characters=characters, segments=segments, single_limit=single, part_limit=part
    )
