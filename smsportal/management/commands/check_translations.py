"""Fails when a Simplified Chinese catalogue has untranslated or fuzzy entries.

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

ENTRY = re.compile(
    r'(?:^#, (?P<flags>.*)\n)?(?:^#.*\n)*^msgid (?P<msgid>(?:".*"\n)+)'
    r'(?:^msgid_plural .*\n(?:".*"\n)*)?(?P<strs>(?:^msgstr.*\n(?:".*"\n)*)+)',
    re.M,
)


def problems_in(po_text: str) -> list[str]:
    found = []
    for match in ENTRY.finditer(po_text + "\n"):
        msgid = "".join(re.findall(r'"(.*)"', match["msgid"]))
        if not msgid:
            continue
        if match["flags"] and "fuzzy" in match["flags"]:
            found.append(f"fuzzy: {msgid[:70]}")
            continue
        values = re.findall(r'^msgstr(?:\[\d+\])? ((?:".*"\n)+)', match["strs"], re.M)
        if any(not "".join(re.findall(r'"(.*)"', v)) for v in values):
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
