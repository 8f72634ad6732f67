"""Runs the benchmarks in a separate database, so demo data is untouched, then drops it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from smsportal import bench

# Overridable so that two people benchmarking on one server do not drop each other's database.
BENCH_DB = os.environ.get("SMSPORTAL_BENCH_DB", "smsportal_bench")


def _server_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from smsportal import devdb

    return devdb.database_url()


def _with_database(url: str, name: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path="/" + name))


class Command(BaseCommand):
    help = "Benchmarks every scenario against this machine's ceilings (BENCH_SCALE: tiny, small, medium, full)."

    def add_arguments(self, parser):
        parser.add_argument("--scale", default=os.environ.get("BENCH_SCALE", "small"), choices=sorted(bench.SCALES))
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "docs"))
        parser.add_argument("--only", nargs="*", help="run only these scenarios (by name)")
        parser.add_argument("--in-place", action="store_true", help="use the current database (internal)")

    def handle(self, *args, scale, out, only, in_place, **options):
        if in_place:
            call_command("migrate", verbosity=0)
            bench.run_all(scale, Path(out), progress=lambda text: self.stdout.write(f"  … {text}"), only=only)
            self.stdout.write(self.style.SUCCESS(f"Wrote {out}/benchmarks.md and benchmarks.json"))
            return
        server = _server_url()
        admin_url = _with_database(server, "postgres")
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {BENCH_DB}")
        # Production mode: DEBUG keeps every query's text (a receipt batch's is megabytes), which
        # measured the harness, not the product. TLS is the proxy's job, so no HTTPS redirect.
        env = {
            **os.environ,
            "DATABASE_URL": _with_database(server, BENCH_DB),
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        env.setdefault("SECRET_KEY", settings.SECRET_KEY)
        command = [sys.executable, "manage.py", "bench", "--in-place", "--scale", scale, "--out", out]
        if only:
            command += ["--only", *only]
        try:
            self.stdout.write(f"Benchmarking at scale '{scale}' in database {BENCH_DB} …")
            result = subprocess.run(command, env=env, cwd=settings.BASE_DIR, check=False)
        finally:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        if result.returncode:
            raise CommandError(f"benchmark run failed with exit code {result.returncode}")
