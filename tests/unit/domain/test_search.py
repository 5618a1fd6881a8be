"""Reading web search syntax: the phrases every result must contain, which Postgres looks up in its word-pair
index of subjects and addresses."""

import pytest

from domain.search import required_phrases


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        ('"quarterly report" budget', ["quarterly report"]),
        ('"a b" "c-d e"', ["a b", "c-d e"]),
        ('"unclosed phrase', ["unclosed phrase"]),
        ('"single"', []),
        ('"release_notes"', ["release_notes"]),
        ('-"not this" word', []),
        ('"a b" OR c', []),
        ('x"a b"', []),
        ("plain words only", []),
        ('"", "!!"', []),
    ],
)
def test_required_phrases(text: str, phrases: list[str]) -> None:
    assert required_phrases(text) == phrases
