"""The SQL of message lists and search: filters, full text (Postgres tsvector or SQLite FTS5), keyset pages.

Every value reaches the database as a bound parameter; the full-text string is read by websearch_to_tsquery on
Postgres (which accepts any string) and turned into a quoted FTS5 expression on SQLite."""

from adapters.persistence.message_search.dispatch import search
from adapters.persistence.message_search.tuning import SearchTuning
from adapters.persistence.message_search.word_pairs import index_word_pairs

__all__ = ["SearchTuning", "index_word_pairs", "search"]
