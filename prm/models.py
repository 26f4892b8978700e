"""Platform tables that belong to no business app."""

from __future__ import annotations

from django.db import models


class RateCounter(models.Model):
    """One fixed-window counter of prm.ratelimit when the cache is not Redis or in-process
    (the database cache, the file cache...). Written only by prm/counters.py, in one atomic
    INSERT ... ON CONFLICT DO UPDATE ... RETURNING statement per hit."""

    key = models.CharField(max_length=100, primary_key=True)  # "rl:" + sha256 hex of the key
    count = models.BigIntegerField(default=0)
    expires_at = models.FloatField(db_index=True)  # Unix seconds; the window ends here

    class Meta:
        db_table = "prm_rate_counter"

    def __str__(self) -> str:
        return f"{self.key[:12]}… = {self.count}"
