"""The thresholds by which the Postgres search chooses how to find a tier's newest matches."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SearchTuning:
    """Where each way of finding matches gives way to the next (see `NewestMatches` and `PostgresTiers`).

    `few_candidates`: at most this many candidates (by the planner's estimate) are all read and sorted.
    `recent_window`: the newest messages checked first for matches; `widest_window`: the most checked before the
    window gives up. `try_windows`: None to try the windows when the candidates' density says the widest may
    fill the page, True or False to try them always or never.
    `recent_span`: the tenant's newest messages whose candidates are read before all of them.
    `most_pending`: messages awaiting their word pairs, beyond which a phrase search does without them.
    `phrase_pairs`: whether a phrase names its candidates by its word pairs (migrations 0009 and 0012) rather
    than by its words."""

    few_candidates: int = 5_000
    recent_window: int = 1000
    widest_window: int = 2_000
    try_windows: bool | None = None
    recent_span: int = 16_000
    most_pending: int = 5_000
    phrase_pairs: bool = True
