"""GET /api/v1/tiers/: partners' tiers with the protection values in force (the tier's own, else
the policy's). Here rather than in partners/api because it reads deals' policy."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from deals.policy import policy_current
from partners.models import Tier
from prm.api import ApiView, responses


class TierSerializer(serializers.Serializer):
    """A tier with its *effective* protection_days and max_extensions (the tier's value, or
    the policy's when the tier leaves it blank)."""

    code = serializers.CharField()
    name = serializers.CharField()
    protection_days = serializers.SerializerMethodField()
    max_extensions = serializers.SerializerMethodField()
    auto_approve_ceiling = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True
    )
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2)

    def get_protection_days(self, tier: Tier) -> int:
        policy = self.context["policy"]
        return tier.protection_days or policy.protection_days

    def get_max_extensions(self, tier: Tier) -> int:
        policy = self.context["policy"]
        return policy.max_extensions if tier.max_extensions is None else tier.max_extensions


class TierListView(ApiView):
    @extend_schema(
        operation_id="tiers_list",
        tags=["partners"],
        responses=responses({200: TierSerializer(many=True)}, 404),
        description="Tiers with their effective protection_days and max_extensions "
        "(the tier's value, else the policy's).",
    )
    def get(self, request):
        policy = policy_current()
        return self.as_list(
            Tier.objects.order_by("rank", "code"),
            lambda rows: TierSerializer(rows, many=True, context={"policy": policy}).data,
        )
