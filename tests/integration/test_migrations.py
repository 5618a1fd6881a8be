"""The migrations build exactly the tables the models describe (on Postgres, where types compare exactly)."""

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import adapters.persistence.audit
import adapters.persistence.change_models
import adapters.persistence.draft_models
import adapters.persistence.mail_models  # noqa: F401  (both register their tables on the metadata)
from adapters.persistence.models import TenantModel
from tests.integration.conftest import migrated_engine

# Full-text search lives only in migrations 0005, 0009, 0012 and 0013 (generated tsvector columns, GIN, trigram and
# word-pair indexes, the word-pair tables), as SQL the models cannot describe; everything else must match.
SEARCH_ONLY = {
    ("remove_table", "message_word_pairs"),
    ("remove_table", "message_word_pairs_pending"),
    ("remove_index", "ix_message_word_pairs"),
    ("remove_index", "ix_message_word_pairs_pending_tenant"),
    ("remove_index", "ix_messages_from_trgm"),
    ("remove_index", "ix_messages_headline"),
    ("remove_index", "ix_messages_headline_pairs"),
    ("remove_index", "ix_messages_search"),
    ("remove_index", "ix_messages_subject_trgm"),
    ("remove_index", "ix_messages_to_trgm"),
    ("remove_column", "search_vector"),
    ("remove_column", "headline_vector"),
}


def _named(difference: Any) -> tuple[str, str]:
    kind = difference[0]
    return (kind, difference[3].name) if kind == "remove_column" else (kind, getattr(difference[1], "name", "?"))


async def test_migrated_postgres_matches_the_models(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    async with migrated_engine("postgres", request, tmp_path) as engine, engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), TenantModel.metadata)
        )
    assert [d for d in differences if not isinstance(d, tuple) or _named(d) not in SEARCH_ONLY] == []
