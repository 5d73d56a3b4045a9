"""Alembic migrations, shipped inside the package so an installed Meterline can migrate its database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from meterline.core.db import normalize_database_url

HERE = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", normalize_database_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """Bring the database to the newest schema (creating it when empty). Safe to run any number of times."""
    command.upgrade(alembic_config(database_url), "head")
