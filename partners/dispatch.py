"""Signals partners sends so other apps can act on its changes; partners imports no other app.

`invitation_created(invitation=...)` is sent inside the transaction that creates the invitation;
deals connects its notification outbox to it (deals.apps), so the e-mail is written in the same
transaction and sent after commit with retries: an SMTP outage never turns an invite into a 500.

`user_deactivating(user=..., partner=..., actor=..., new_owner_id=...)` is sent inside the
transaction that deactivates a partner user (partners.services.partner_user_deactivate); deals
connects the handover of the user's open registrations to it (deals.registrations.ownership),
so a refused handover (a new owner who cannot take them) rolls the deactivation back.
"""

from django.dispatch import Signal

invitation_created = Signal()
# `invitation_withheld(user=..., partner=..., invited_by=...)`: a partner admin invited an
# address that already has an account elsewhere. Nothing was created (the partner admin's
# answer looks like a fresh invitation); deals tells the account holder by e-mail. Sent after
# the invitation's writes were rolled back, in its own transaction.
invitation_withheld = Signal()
user_deactivating = Signal()
