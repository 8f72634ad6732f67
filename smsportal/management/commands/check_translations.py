"""Fails when a Simplified Chinese catalogue has untranslated, fuzzy or unreviewed entries.

Runs `makemessages` into a scratch copy first so strings added in code but missing from
the catalogues are caught too.
"""

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def _entries(po_text: str):
    """(comment lines, msgid, msgstr values) per entry; entries are separated by blank lines."""
    for block in re.split(r"\n\s*\n", po_text):
        lines = block.strip("\n").split("\n")
        comments = [line for line in lines if line.startswith("#")]
        body = "\n".join(line for line in lines if not line.startswith("#")) + "\n"
        msgid = re.search(r'^msgid ((?:".*"\n)+)', body, re.M)
        if msgid is None:
            continue
        values = re.findall(r'^msgstr(?:\[\d+\])? ((?:".*"\n)+)', body, re.M)
        yield comments, "".join(re.findall(r'"(.*)"', msgid.group(1))), values


def problems_in(po_text: str) -> list[str]:
    """Untranslated and fuzzy entries, and entries still carrying a fuzzy match's previous
    msgid (`#| msgid`): their translation was suggested for another text and never reviewed
    (how "Sensitive words" came to read "敏感词已保存。")."""
    found = []
    for comments, msgid, values in _entries(po_text):
        if not msgid:
            continue
        if any(line.startswith("#,") and "fuzzy" in line for line in comments):
            found.append(f"fuzzy: {msgid[:70]}")
        elif any(line.startswith("#|") for line in comments):
            found.append(f"unreviewed fuzzy match: {msgid[:70]}")
        elif any(not "".join(re.findall(r'"(.*)"', v)) for v in values):
            found.append(f"untranslated: {msgid[:70]}")
    return found


class Command(BaseCommand):
    help = "Checks that every user-facing string has a Simplified Chinese translation."

    def add_arguments(self, parser):
        parser.add_argument("--no-refresh", action="store_true", help="check the catalogues as they are")

    def handle(self, *args, **options):
        base = Path(settings.BASE_DIR)
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch) / "src"
            shutil.copytree(
                base,
                work,
                ignore=shutil.ignore_patterns(".venv", "var", "staticfiles", ".git", "node_modules", "__pycache__"),
            )
            if not options["no_refresh"]:
                subprocess.run(
                    [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete", "-v", "0"],
                    cwd=work,
                    check=True,
                )
            problems = []
            for po in sorted(work.glob("*/locale/zh_Hans/LC_MESSAGES/django.po")):
                problems += [f"{po.relative_to(work)}: {p}" for p in problems_in(po.read_text(encoding="utf-8"))]
        if problems:
            raise CommandError("Missing Chinese translations:\n" + "\n".join(problems))
        self.stdout.write("All strings translated.")
