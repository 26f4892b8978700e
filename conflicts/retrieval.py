"""Which blocking keys a probe reads (pure: no Django), shared by the engine and the bench.

See docs/matching.md ("Candidate generation"). Keys are taken rarest first while their summed
frequency stays within CANDIDATE_BUDGET and each is at most RARE_KEY_DF (the rarest one is
always taken). When even the rarest key is on more than RAREST_KEY_DF entries, only entries that
carry 2 of the 3 rarest keys qualify (the AND fallback).
"""

from __future__ import annotations

RARE_KEY_DF = 1000
RAREST_KEY_DF = 8000
CANDIDATE_BUDGET = 400
CANDIDATE_CAP = 5000


def choose_keys(present: list[tuple[int, str]]) -> tuple[str, list[str]]:
    """("rare", keys) or ("and", the 3 rarest) or ("", []) from (df, key) of the keys present."""
    present = sorted(p for p in present if p[0] > 0)
    if not present:
        return "", []
    if present[0][0] > RAREST_KEY_DF:
        return "and", [k for _, k in present[:3]]
    chosen: list[str] = []
    total = 0
    for df, key in present:
        if chosen and (total + df > CANDIDATE_BUDGET or df > RARE_KEY_DF):
            break
        chosen.append(key)
        total += df
    return "rare", chosen
