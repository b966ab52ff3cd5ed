"""One engine: development finds the embedded PostgreSQL, and nothing but PostgreSQL is accepted."""

from __future__ import annotations

import pytest

import app.config as config_module
from app.config import load_config


def test_development_without_database_url_uses_the_embedded_postgresql(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(config_module, "INSTANCE_DIR", tmp_path)
    url = load_config("development").SQLALCHEMY_DATABASE_URI
    assert url == f"postgresql+psycopg://postgres@/igny8?host={tmp_path / 'postgres'}"


def test_development_follows_the_socket_folder_the_running_server_chose(monkeypatch, tmp_path):
    # A long instance path makes the server put its socket elsewhere; postmaster.pid says where.
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(config_module, "INSTANCE_DIR", tmp_path)
    (tmp_path / "postgres").mkdir()
    (tmp_path / "postgres" / "postmaster.pid").write_text(
        f"4242\n{tmp_path / 'postgres'}\n1764460000\n5432\n/tmp/runtime-0/sockets\n\n  0 0\nready\n")
    url = load_config("development").SQLALCHEMY_DATABASE_URI
    assert url == "postgresql+psycopg://postgres@/igny8?host=/tmp/runtime-0/sockets"


def test_database_url_still_overrides_the_embedded_server(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://igny8:secret@db.internal:5432/igny8")
    assert load_config("development").SQLALCHEMY_DATABASE_URI.endswith("@db.internal:5432/igny8")


@pytest.mark.parametrize("url", ["sqlite:///instance/igny8.db", "mysql://db/igny8"])
def test_a_database_other_than_postgresql_is_refused_with_a_clear_message(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(RuntimeError, match="PostgreSQL only") as excinfo:
        load_config("development")
    assert "scripts/run" in str(excinfo.value)
