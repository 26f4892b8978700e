"""Identity, tokens, partners, partner users and tiers. Views parse, scope, call a service,
serialize; every object is fetched through partners.api.access (404 for foreign ids)."""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from partners import services
from partners.api import access
from partners.api.auth import token_obtain
from partners.api.serializers import (
    MeSerializer,
    PartnerCreateInputSerializer,
    PartnerSerializer,
    PartnerUpdateInputSerializer,
    PartnerUserInputSerializer,
    PartnerUserSerializer,
    TokenInputSerializer,
    TokenOutputSerializer,
)
from partners.roles import is_manager, is_partner_admin
from prm.api import ApiView, Pagination, apply_ordering, ordering_parameter, responses
from prm.exceptions import PermissionDeniedError

PARTNER_ORDERING = {"name": "name", "created_at": "created_at", "country": "country"}


class TokenView(ApiView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_token_create",
        tags=["auth"],
        auth=[],
        request=TokenInputSerializer,
        responses=responses(
            {200: TokenOutputSerializer},
            400,
            403,
            429,
            public=True,
        ),
        description=(
            "Exchange e-mail + password for an API token (`Authorization: Token <key>`). Wrong "
            "credentials → 400 `invalid_credentials`. Rate-limited per e-mail (5 failures per "
            "5 minutes, then 429 even with the right password until the window ends) and per "
            "IP. Accounts with two-factor authentication get **403 `mfa_required`**: sign in "
            "to the portal with your second factor and create a token there."
        ),
    )
    def post(self, request):
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = token_obtain(
            email=data.validated_data["email"],
            password=data.validated_data["password"],
            request=request,
        )
        return Response(
            TokenOutputSerializer({"token": raw, "expires_at": token.expires_at}).data,
            status=status.HTTP_200_OK,
        )


class MeView(ApiView):
    @extend_schema(
        operation_id="me_retrieve", tags=["identity"], responses=responses({200: MeSerializer})
    )
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class ManagerCheckedApiView(ApiView):
    """ApiView with the channel-manager check partners' write endpoints need."""

    def require_manager(self) -> None:
        if not is_manager(self.request.user):
            raise PermissionDeniedError("Only channel managers can do this.")


class PartnerListView(ManagerCheckedApiView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="partners_list",
        tags=["partners"],
        parameters=[
            OpenApiParameter("status", str, enum=["active", "suspended"], required=False),
            OpenApiParameter("tier", str, required=False, description="Tier code."),
            OpenApiParameter("search", str, required=False, description="Name contains."),
            ordering_parameter(PARTNER_ORDERING),
        ],
        responses=responses({200: PartnerSerializer(many=True)}, 400, 403, 404),
        description="Managers: every partner. Partner admins: a list holding their own partner.",
    )
    def get(self, request):
        if not is_partner_admin(request.user):
            self.require_manager()
        queryset = access.partners_visible_to(request.user)
        params = request.query_params
        if params.get("status"):
            queryset = queryset.filter(status=params["status"])
        if params.get("tier"):
            queryset = queryset.filter(tier__code=params["tier"])
        search = (params.get("search") or "").strip()
        if search:
            queryset = queryset.filter(Q(name__icontains=search) | Q(legal_name__icontains=search))
        queryset = apply_ordering(queryset, request, PARTNER_ORDERING, ["name"])
        return self.paginate(queryset, lambda rows: PartnerSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="partners_create",
        tags=["partners"],
        request=PartnerCreateInputSerializer,
        responses=responses({201: PartnerSerializer}, 400),
        description="Managers only.",
    )
    def post(self, request):
        self.require_manager()
        data = PartnerCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        partner = services.partner_create(actor=request.user, **data.validated_data)
        return Response(PartnerSerializer(partner).data, status=status.HTTP_201_CREATED)


def _require_manager_or_own_admin(user) -> None:
    """Called after scoping (the partner is visible, so it is the user's own or they manage)."""
    if not (is_manager(user) or is_partner_admin(user)):
        raise PermissionDeniedError("Only partner admins and channel managers can do this.")


class PartnerDetailView(ManagerCheckedApiView):
    @extend_schema(
        operation_id="partners_retrieve",
        tags=["partners"],
        responses=responses({200: PartnerSerializer}, 404),
        description="Managers; partner admins for their own partner.",
    )
    def get(self, request, pk):
        partner = access.access_partner_for_user(request.user, pk)
        _require_manager_or_own_admin(request.user)
        return Response(PartnerSerializer(partner).data)

    @extend_schema(
        operation_id="partners_partial_update",
        tags=["partners"],
        request=PartnerUpdateInputSerializer,
        responses=responses({200: PartnerSerializer}, 400, 404),
        description="Managers only. Suspending a partner signs its users out and revokes "
        "their tokens.",
    )
    def patch(self, request, pk):
        partner = access.access_partner_for_user(request.user, pk)
        self.require_manager()
        data = PartnerUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        partner = services.partner_update(
            actor=request.user, partner=partner, **data.validated_data
        )
        return Response(PartnerSerializer(partner).data)


class PartnerUserListView(ApiView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="partners_users_list",
        tags=["partners"],
        responses=responses({200: PartnerUserSerializer(many=True)}, 400, 404),
        description="Managers; partner admins for their own partner.",
    )
    def get(self, request, pk):
        partner = access.access_partner_for_user(request.user, pk)
        _require_manager_or_own_admin(request.user)
        queryset = access.partner_users(partner).order_by("email", "id")
        return self.paginate(queryset, lambda rows: PartnerUserSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="partners_users_create",
        tags=["partners"],
        request=PartnerUserInputSerializer,
        responses=responses({201: PartnerUserSerializer}, 400, 404),
        description="Add a user. Without `password`, an invitation e-mail is sent with a "
        "link to set one.",
    )
    def post(self, request, pk):
        partner = access.access_partner_for_user(request.user, pk)
        _require_manager_or_own_admin(request.user)
        data = PartnerUserInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.partner_user_create(
            actor=request.user, partner=partner, **data.validated_data
        )
        if getattr(user, "invitation_withheld", False):
            # The address has an account elsewhere: answered like a fresh invitation, so the
            # API does not confirm that it exists (partners.services.partner_user_create).
            body = {**PartnerUserSerializer(user).data, "role": user.invited_role}
            return Response(body, status=status.HTTP_201_CREATED)
        user = access.access_partner_user(partner, user.pk)
        return Response(PartnerUserSerializer(user).data, status=status.HTTP_201_CREATED)


class PartnerUserDetailView(ApiView):
    @extend_schema(
        operation_id="partners_users_destroy",
        tags=["partners"],
        responses=responses(
            {204: OpenApiResponse(description="Deactivated; sessions and tokens revoked.")},
            404,
            409,
        ),
    )
    def delete(self, request, pk, user_id):
        partner = access.access_partner_for_user(request.user, pk)
        user = access.access_partner_user(partner, user_id)
        _require_manager_or_own_admin(request.user)
        services.partner_user_deactivate(actor=request.user, partner=partner, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)
