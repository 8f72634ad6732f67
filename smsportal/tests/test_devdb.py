"""The embedded server's settings file: what `make demo` and `make test` start PostgreSQL with."""

from __future__ import annotations

import os

import pytest

from smsportal import devdb

MIB = 1024 * 1024


def _with_memory(monkeypatch, memory: int) -> None:
    page = 4096
    fake = {"SC_PAGE_SIZE": page, "SC_PHYS_PAGES": memory // page}
    real = os.sysconf
    monkeypatch.setattr(devdb.os, "sysconf", lambda name: fake.get(name) or real(name))


@pytest.mark.parametrize(
    ("memory", "shared_buffers"),
    [(512 * MIB, "128MB"), (4096 * MIB, "512MB"), (64 * 1024 * MIB, "2048MB")],
)
def test_the_buffer_pool_is_an_eighth_of_memory_within_bounds(monkeypatch, memory, shared_buffers):
    _with_memory(monkeypatch, memory)

    settings = devdb.server_settings()

    assert settings["shared_buffers"] == shared_buffers
    assert settings["max_wal_size"] == "8GB"


def test_settings_go_to_an_included_file_and_the_include_is_added_once(monkeypatch, tmp_path):
    (tmp_path / "postgresql.conf").write_text("max_connections = 100\n")
    monkeypatch.setattr(devdb, "PGDATA", tmp_path)

    devdb._write_settings(None)
    devdb._write_settings(None)

    main_conf = (tmp_path / "postgresql.conf").read_text()
    assert main_conf.startswith("max_connections = 100\n")
    assert main_conf.count("include_if_exists = 'smsportal.conf'") == 1
    written = (tmp_path / "smsportal.conf").read_text()
    for name, value in devdb.server_settings().items():
        assert f"{name} = '{value}'" in written
