"""The registration lifecycle as data (docs/product.md's diagram) plus one guard. No ORM here.

draft ──submit──▶ submitted ──approve──▶ approved ──close(won)──▶ won
                     │  ▲                    │  └──close(lost)──▶ lost
          request_info│  │resubmit           └──(expires_at passes)──▶ expired ──close(won)──▶ won
                     ▼  │                    └──revoke──▶ revoked      (late: flagged for review)
               info_requested
submitted/info_requested ──reject──▶ rejected    any open state ──withdraw──▶ withdrawn
"""

from __future__ import annotations

from prm.exceptions import InvalidTransition

DRAFT = "draft"
SUBMITTED = "submitted"
INFO_REQUESTED = "info_requested"
APPROVED = "approved"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
WON = "won"
LOST = "lost"
EXPIRED = "expired"
REVOKED = "revoked"

STATUSES = (
    DRAFT,
    SUBMITTED,
    INFO_REQUESTED,
    APPROVED,
    REJECTED,
    WITHDRAWN,
    WON,
    LOST,
    EXPIRED,
    REVOKED,
)
OPEN_STATUSES = frozenset({DRAFT, SUBMITTED, INFO_REQUESTED, APPROVED})
TERMINAL_STATUSES = frozenset({REJECTED, WITHDRAWN, WON, LOST, EXPIRED, REVOKED})
# Statuses in which a registration protects its customer (approved also needs expires_at > now).
PROTECTING_STATUSES = frozenset({SUBMITTED, INFO_REQUESTED, APPROVED})
EDITABLE_STATUSES = frozenset({DRAFT, INFO_REQUESTED})

# (action, from_status) -> to_status. Only these moves exist.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("submit", DRAFT): SUBMITTED,
    ("resubmit", INFO_REQUESTED): SUBMITTED,
    ("approve", SUBMITTED): APPROVED,
    ("reject", SUBMITTED): REJECTED,
    ("reject", INFO_REQUESTED): REJECTED,
    ("request_info", SUBMITTED): INFO_REQUESTED,
    ("withdraw", DRAFT): WITHDRAWN,
    ("withdraw", SUBMITTED): WITHDRAWN,
    ("withdraw", INFO_REQUESTED): WITHDRAWN,
    ("withdraw", APPROVED): WITHDRAWN,
    ("close_won", APPROVED): WON,
    ("close_lost", APPROVED): LOST,
    # A win reported after the protection lapsed is accepted for review, flagged as late
    # (issue 19), never refused: the partner did the work, the manager decides on the reward.
    ("close_won", EXPIRED): WON,
    ("expire", APPROVED): EXPIRED,
    # A manager ends an approved registration's protection at once (a conflict resolved
    # against it, or a decision taken back).
    ("revoke", APPROVED): REVOKED,
}

ACTIONS = tuple(sorted({action for action, _ in TRANSITIONS}))

ACTION_LABELS = {
    "submit": "submit",
    "resubmit": "resubmit",
    "approve": "approve",
    "reject": "reject",
    "request_info": "request information on",
    "withdraw": "withdraw",
    "close_won": "close as won",
    "close_lost": "close as lost",
    "expire": "expire",
    "revoke": "revoke",
}


def target_status(action: str, current: str) -> str:
    """The status `action` leads to from `current`, or InvalidTransition."""
    try:
        return TRANSITIONS[(action, current)]
    except KeyError:
        label = ACTION_LABELS.get(action, action)
        raise InvalidTransition(
            f"You cannot {label} a registration that is {current.replace('_', ' ')}."
        ) from None


def can(action: str, current: str) -> bool:
    return (action, current) in TRANSITIONS


def allowed_actions(current: str) -> list[str]:
    return sorted(action for (action, source) in TRANSITIONS if source == current)
