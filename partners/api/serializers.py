"""Input and output serializers for identity, partners, their users and tiers. Inputs only
parse and type-check; the rules live in partners.services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from partners.models import Membership, Partner, Tier, User
from partners.roles import membership_of, role_of
from prm.api import CodeRelatedField, PartnerRefSerializer, StrictInputSerializer

# --- Auth and identity --------------------------------------------------------------------------


class TokenInputSerializer(StrictInputSerializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField(allow_blank=True)
    role = serializers.SerializerMethodField()
    partner = serializers.SerializerMethodField()

    @extend_schema_field(
        serializers.ChoiceField(
            choices=["partner", "partner_admin", "manager", "sales_rep", "integration"],
            allow_null=True,
        )
    )
    def get_role(self, user) -> str | None:
        return role_of(user)

    @extend_schema_field(PartnerRefSerializer(allow_null=True))
    def get_partner(self, user) -> dict | None:
        membership = membership_of(user)
        if membership is None:
            return None
        return {"id": membership.partner_id, "name": membership.partner.name}


# --- Partners -----------------------------------------------------------------------------------


class PartnerSerializer(serializers.ModelSerializer):
    tier = serializers.SlugRelatedField(slug_field="code", read_only=True)
    domains = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Partner
        fields = [
            "id",
            "name",
            "legal_name",
            "domains",
            "country",
            "tier",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PartnerCreateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    legal_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    domains = serializers.ListField(
        child=serializers.CharField(max_length=253), required=False, max_length=50
    )
    country = serializers.CharField(max_length=2, min_length=2)
    tier = CodeRelatedField(slug_field="code", queryset=Tier.objects.all())


class PartnerUpdateInputSerializer(PartnerCreateInputSerializer):
    name = serializers.CharField(max_length=200, required=False)
    country = serializers.CharField(max_length=2, min_length=2, required=False)
    tier = CodeRelatedField(slug_field="code", queryset=Tier.objects.all(), required=False)
    status = serializers.ChoiceField(choices=Partner.Status.choices, required=False)


class PartnerUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField(allow_blank=True)
    role = serializers.SerializerMethodField()
    is_active = serializers.BooleanField()
    date_joined = serializers.DateTimeField()

    @extend_schema_field(serializers.ChoiceField(choices=Membership.Role.choices))
    def get_role(self, user: User) -> str:
        membership = membership_of(user)
        return membership.role if membership else Membership.Role.MEMBER


class PartnerUserInputSerializer(StrictInputSerializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=Membership.Role.choices, default="member")
    password = serializers.CharField(
        max_length=128,
        required=False,
        trim_whitespace=False,
        write_only=True,
        help_text="Optional. Without it an invitation e-mail is sent to set one.",
    )
