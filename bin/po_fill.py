#!/usr/bin/env python
"""Fill a .po catalogue from a JSON {msgid: msgstr} (or {msgid: [singular, plural]}) file.

Usage: .venv/bin/python bin/po_fill.py <app>/locale/zh_Hans/LC_MESSAGES/django.po translations.json
Prints the msgids still untranslated afterwards.
"""

import json
import sys

import polib


def main(po_path: str, json_path: str) -> int:
    po = polib.pofile(po_path)
    with open(json_path, encoding="utf-8") as handle:
        translations = json.load(handle)
    for entry in po:
        value = translations.get(entry.msgid)
        if value is None:
            continue
        if entry.msgid_plural:
            forms = value if isinstance(value, list) else [value]
            entry.msgstr_plural = {0: forms[-1]}
        else:
            entry.msgstr = value
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
    po.save(po_path)
    missing = [e.msgid for e in po if not (e.msgstr or any(e.msgstr_plural.values())) and not e.obsolete]
    for msgid in missing:
        print("MISSING:", json.dumps(msgid, ensure_ascii=False))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
