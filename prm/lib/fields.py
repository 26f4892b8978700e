"""Model fields on the project clock (prm.lib.time.timezone_now).

Django's `auto_now` / `auto_now_add` read `django.utils.timezone.now` directly, so a block run on
another clock (`prm.lib.time.clock_source`, the demo seed's timeline) would still stamp today.
`created_at` fields use `default=timezone_now, editable=False`; `updated_at` fields use
`UpdatedAtField`, which sets the time at every save() like `auto_now` (and, like it, not on a
queryset `.update()`, where the caller sets it)."""

from __future__ import annotations

from typing import Any

from django.db import models

from prm.lib.time import timezone_now


class UpdatedAtField(models.DateTimeField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", timezone_now)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = timezone_now()
        setattr(model_instance, self.attname, value)
        return value
