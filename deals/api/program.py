"""GET /api/v1/program/: the rules of engagement that apply to the caller's partner, in the
figures the services enforce (deals.policy.program_rules). Partner users get their own
partner's; managers and integrations name one with `?partner=<id>`."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from deals.models import ConflictScope
from deals.policy import program_rules
from partners.api.access import access_partner_for_user
from partners.roles import is_manager, partner_of
from prm.api import ApiView, responses
from prm.exceptions import PermissionDeniedError, ValidationFailed
from prm.lib.ids import query_id


class ProgramTierSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class ProgramSerializer(serializers.Serializer):
    policy_version = serializers.IntegerField()
    tier = ProgramTierSerializer()
    protection_days = serializers.IntegerField()
    extension_days = serializers.IntegerField()
    max_extensions = serializers.IntegerField()
    review_sla_business_days = serializers.IntegerField()
    min_deal_values = serializers.DictField(
        child=serializers.DecimalField(max_digits=14, decimal_places=2),
        help_text="Minimum estimated value per currency (ISO 4217 code → decimal string).",
    )
    required_fields = serializers.ListField(child=serializers.CharField())
    conflict_scope = serializers.ChoiceField(choices=ConflictScope.choices)

    def to_representation(self, rules):
        return super().to_representation(
            {
                "policy_version": rules.policy_version,
                "tier": {"code": rules.tier_code, "name": rules.tier_name},
                "protection_days": rules.protection_days,
                "extension_days": rules.extension_days,
                "max_extensions": rules.max_extensions,
                "review_sla_business_days": rules.review_sla_business_days,
                "min_deal_values": rules.min_deal_values,
                "required_fields": rules.required_fields,
                "conflict_scope": rules.conflict_scope,
            }
        )


class ProgramView(ApiView):
    @extend_schema(
        operation_id="program_retrieve",
        tags=["partners"],
        parameters=[
            OpenApiParameter(
                "partner",
                OpenApiTypes.INT,
                required=False,
                description="Managers and integrations: the partner whose rules to read "
                "(required for them). Partner users: their own partner's id or nothing.",
            )
        ],
        responses=responses({200: ProgramSerializer}, 400, 403, 404),
        description="The rules of engagement that apply to a partner: protection and "
        "extension terms for its tier, the review SLA, minimum deal values, required fields "
        "and the conflict scope, from the policy in force.",
    )
    def get(self, request):
        user = request.user
        wanted = query_id(request.query_params, "partner")
        if is_manager(user):
            if wanted is None:
                raise ValidationFailed(
                    "Name a partner.", fields={"partner": ["Required for channel managers."]}
                )
            partner = access_partner_for_user(user, wanted)
        else:
            own = partner_of(user)
            if own is None:
                raise PermissionDeniedError("Program rules are for partner users and managers.")
            partner = own if wanted is None else access_partner_for_user(user, wanted)
        return Response(ProgramSerializer(program_rules(partner)).data)
