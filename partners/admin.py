"""Admin for partner companies, tiers, users and API tokens.

Writes that carry business rules go through partners.services: creating/updating a partner
(suspension signs its users out and revokes their tokens), deactivating a user (sessions and
tokens revoked), revoking a token.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import Count

from partners import services
from partners.models import (
    ApiToken,
    IdentityProvider,
    IntegrationAccount,
    Invitation,
    Membership,
    Partner,
    PartnerApplication,
    PartnerEmailException,
    ProgramTerms,
    TermsAcceptance,
    Tier,
    User,
    UserSession,
)
from prm.exceptions import DomainError
from prm.lib.forms import LineListField

# --- Users ------------------------------------------------------------------------------------


class UserCreationForm(AdminUserCreationForm):
    """E-mail + password (no username)."""

    class Meta:
        model = User
        fields = ("email", "name", "is_sales_rep")
        field_classes: dict = {}

    def clean_email(self):
        email = (self.cleaned_data.get("email") or "").strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("A user with this e-mail address already exists.")
        return email


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes: dict = {}

    def clean_email(self):
        email = (self.cleaned_data.get("email") or "").strip().lower()
        membership = (
            Membership.objects.filter(user_id=self.instance.pk).select_related("partner").first()
            if self.instance.pk
            else None
        )
        if membership is not None and email:
            errors = services.partner_user_email_errors(membership.partner, email)
            if errors:
                raise forms.ValidationError(errors)
        return email


class MembershipForm(forms.ModelForm):
    """A membership only for an address the partner may have (partners.services): the admin
    follows the same rule as the portal and the API."""

    class Meta:
        model = Membership
        fields = ("user", "partner", "role")

    def clean(self):
        cleaned = super().clean()
        partner = cleaned.get("partner")
        if partner is None and self.instance.partner_id:
            partner = Partner.objects.filter(pk=self.instance.partner_id).first()
        user = cleaned.get("user")
        if user is None and self.instance.user_id:
            user = User.objects.filter(pk=self.instance.user_id).first()
        if partner is not None and user is not None:
            errors = services.partner_user_email_errors(partner, user.email)
            if errors:
                raise forms.ValidationError(errors)
        return cleaned


class MembershipOfUserInline(admin.StackedInline):
    model = Membership
    form = MembershipForm
    fk_name = "user"
    extra = 0
    max_num = 1
    fields = ("partner", "role", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("partner",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("name",)}),
        (
            "Permissions",
            {
                "fields": (
                    "is_active",
                    "is_sales_rep",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                ),
                "description": "Channel managers are staff with the "
                "“Can review deal registrations” permission; administrators are superusers; "
                "sales reps are neither (no admin access) and never partner users.",
            },
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "name",
                    "is_sales_rep",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    list_display = (
        "email",
        "name",
        "partner",
        "role",
        "is_staff",
        "is_superuser",
        "is_active",
        "last_login",
    )
    list_filter = (
        "is_sales_rep",
        "is_staff",
        "is_superuser",
        "is_active",
        "membership__partner",
        "membership__role",
    )
    search_fields = ("email", "name", "membership__partner__name")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")
    list_select_related = ("membership__partner",)
    inlines = [MembershipOfUserInline]
    actions = ["deactivate_selected"]

    @admin.display(description="Partner", ordering="membership__partner__name")
    def partner(self, obj):
        membership = getattr(obj, "membership", None) if hasattr(obj, "membership") else None
        return membership.partner if membership else "—"

    @admin.display(description="Role")
    def role(self, obj):
        if obj.is_superuser:
            return "administrator"
        membership = getattr(obj, "membership", None) if hasattr(obj, "membership") else None
        if membership:
            return membership.get_role_display()
        if obj.is_staff:
            return "staff"
        return "sales rep" if obj.is_sales_rep else "—"

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # Same revocation as every other path that ends access.
            services.user_revoke_access(user=obj)

    @admin.action(description="Deactivate selected users (sign out, revoke tokens)")
    def deactivate_selected(self, request, queryset):
        done = 0
        for user in queryset:
            if user.pk == request.user.pk:
                self.message_user(request, "You cannot deactivate yourself.", messages.WARNING)
                continue
            User.objects.filter(pk=user.pk).update(is_active=False)
            services.user_revoke_access(user=user)
            done += 1
        if done:
            self.message_user(request, f"{done} user(s) deactivated.", messages.SUCCESS)


# --- Tiers and partners -------------------------------------------------------------------------


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "code",
        "rank",
        "protection_days",
        "max_extensions",
        "auto_approve_ceiling",
        "discount_percent",
        "partner_count",
    )
    search_fields = ("name", "code")
    ordering = ("rank",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_partners=Count("partners"))

    @admin.display(description="Partners", ordering="_partners")
    def partner_count(self, obj):
        return obj._partners

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)
    show_change_link = True


class InvitationInline(admin.TabularInline):
    model = Invitation
    fk_name = "partner"
    extra = 0
    fields = ("user", "invited_by", "created_at", "accepted_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PartnerEmailExceptionForm(forms.ModelForm):
    class Meta:
        model = PartnerEmailException
        fields = ("partner", "value", "note")

    def clean_value(self):
        from django.core.validators import validate_email

        value = (self.cleaned_data.get("value") or "").strip().lower()
        if "@" in value:
            try:
                validate_email(value)
            except forms.ValidationError:
                raise forms.ValidationError("Enter an e-mail address or a domain.") from None
        elif "." not in value or any(c.isspace() or c in "/:" for c in value):
            raise forms.ValidationError("Enter an e-mail address or a domain such as example.org.")
        if services.is_vendor_staff_email(value if "@" in value else f"x@{value}"):
            raise forms.ValidationError("Vendor staff addresses can never be partner users.")
        return value


class PartnerEmailExceptionInline(admin.TabularInline):
    model = PartnerEmailException
    form = PartnerEmailExceptionForm
    extra = 0
    fields = ("value", "note", "created_by", "created_at")
    readonly_fields = ("created_by", "created_at")


class PartnerForm(forms.ModelForm):
    domains = LineListField(
        required=False,
        help_text="The partner's website domains, one per line (e.g. northbridge-solutions.com).",
    )

    class Meta:
        model = Partner
        fields = ("name", "legal_name", "domains", "country", "tier", "status", "channel_manager")

    def clean_country(self):
        from prm.lib.validation import Errors, check_country

        errors = Errors()
        value = check_country(errors, "country", self.cleaned_data.get("country"))
        if errors:
            raise forms.ValidationError(errors["country"])
        return value

    def clean_domains(self):
        try:
            return services._clean_domains(self.cleaned_data.get("domains"))
        except DomainError as exc:
            raise forms.ValidationError(list((exc.fields or {}).get("domains", [str(exc)])))


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    form = PartnerForm
    list_display = (
        "name",
        "country",
        "tier",
        "status",
        "channel_manager",
        "user_count",
        "created_at",
    )
    list_filter = ("status", "tier", "country")
    search_fields = ("name", "legal_name", "domains")
    date_hierarchy = "created_at"
    list_select_related = ("tier", "channel_manager")
    autocomplete_fields = ("channel_manager",)
    inlines = [MembershipInline, PartnerEmailExceptionInline, InvitationInline]
    actions = ["suspend_selected", "reactivate_selected"]

    def save_formset(self, request, form, formset, change):
        if formset.model is PartnerEmailException:
            for instance in formset.save(commit=False):
                instance.created_by_id = instance.created_by_id or request.user.pk
                instance.save()
            for instance in formset.deleted_objects:
                instance.delete()
            return
        super().save_formset(request, form, formset, change)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_users=Count("memberships"))

    @admin.display(description="Users", ordering="_users")
    def user_count(self, obj):
        return obj._users

    def has_delete_permission(self, request, obj=None):
        # Partners own registrations (PROTECT); suspend them instead.
        return False

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in form.cleaned_data}
        if change:
            changes = {name: data[name] for name in form.changed_data if name in data}
            original = Partner.objects.get(pk=obj.pk)
            partner = services.partner_update(actor=request.user, partner=original, **changes)
        else:
            partner = services.partner_create(
                actor=request.user,
                name=data["name"],
                country=data["country"],
                tier=data["tier"],
                domains=data.get("domains") or [],
                legal_name=data.get("legal_name", ""),
            )
            extra = {k: data[k] for k in ("status", "channel_manager") if data.get(k) is not None}
            if extra:
                partner = services.partner_update(actor=request.user, partner=partner, **extra)
        obj.pk = partner.pk
        obj.created_at = partner.created_at
        obj.updated_at = partner.updated_at

    def _set_status(self, request, queryset, status):
        done = 0
        for partner in queryset:
            try:
                services.partner_update(actor=request.user, partner=partner, status=status)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{partner}: {exc}", messages.ERROR)
        return done

    @admin.action(description="Suspend selected partners (sign their users out)")
    def suspend_selected(self, request, queryset):
        done = self._set_status(request, queryset, Partner.Status.SUSPENDED)
        self.message_user(request, f"{done} partner(s) suspended.", messages.SUCCESS)

    @admin.action(description="Reactivate selected partners")
    def reactivate_selected(self, request, queryset):
        done = self._set_status(request, queryset, Partner.Status.ACTIVE)
        self.message_user(request, f"{done} partner(s) reactivated.", messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipForm
    list_display = ("user", "partner", "role", "created_at")
    list_filter = ("role", "partner")
    search_fields = ("user__email", "user__name", "partner__name")
    list_select_related = ("user", "partner")
    autocomplete_fields = ("user", "partner")


@admin.register(PartnerEmailException)
class PartnerEmailExceptionAdmin(admin.ModelAdmin):
    """Addresses or domains outside a partner's domains that its users may have."""

    form = PartnerEmailExceptionForm
    list_display = ("value", "partner", "note", "created_by", "created_at")
    list_filter = ("partner",)
    search_fields = ("value", "partner__name")
    list_select_related = ("partner", "created_by")
    autocomplete_fields = ("partner",)
    readonly_fields = ("created_by", "created_at")

    def save_model(self, request, obj, form, change):
        obj.created_by_id = obj.created_by_id or request.user.pk
        super().save_model(request, obj, form, change)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("user", "partner", "invited_by", "created_at", "accepted_at")
    list_filter = ("partner",)
    search_fields = ("user__email", "partner__name")
    date_hierarchy = "created_at"
    list_select_related = ("user", "partner", "invited_by")
    readonly_fields = ("user", "partner", "invited_by", "created_at", "accepted_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- API tokens ---------------------------------------------------------------------------------


@admin.register(IntegrationAccount)
class IntegrationAccountAdmin(admin.ModelAdmin):
    """Integration accounts are created through the API (the token is shown once there);
    here they are listed and revoked."""

    list_display = ("name", "scopes", "user", "created_by", "created_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__email")
    list_select_related = ("user", "created_by")
    fields = ("name", "scopes", "user", "created_by", "created_at", "revoked_at")
    readonly_fields = fields
    actions = ["revoke_selected"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected integration accounts")
    def revoke_selected(self, request, queryset):
        count = 0
        for account in queryset.filter(revoked_at__isnull=True).select_related("user"):
            try:
                services.integration_revoke(actor=request.user, account=account)
                count += 1
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return
        self.message_user(request, f"Revoked {count} integration account(s).", messages.SUCCESS)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are listed by prefix; the key is never stored, so it is never shown."""

    list_display = (
        "prefix",
        "user",
        "name",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "live",
    )
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("prefix", "name", "user__email")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    fields = ("prefix", "user", "name", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ["revoke_selected"]

    @admin.display(boolean=True, description="Live")
    def live(self, obj):
        return obj.is_live

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke_selected(self, request, queryset):
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            services.token_revoke(token=token)
            count += 1
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    """Signed-in browser sessions per user (the session key itself is never shown)."""

    list_display = ("user", "created_at")
    search_fields = ("user__email",)
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    fields = ("user", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Single sign-on ---------------------------------------------------------------------------


class IdentityProviderForm(forms.ModelForm):
    server_url = forms.URLField(
        label="Issuer URL",
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text="OpenID Connect issuer (its /.well-known/openid-configuration is read).",
    )
    client_secret = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: leave empty to keep the stored secret.",
    )

    class Meta:
        model = IdentityProvider
        fields = (
            "name",
            "slug",
            "protocol",
            "partner",
            "server_url",
            "client_id",
            "client_secret",
            "provider_settings",
            "required",
            "create_users",
            "active",
        )

    def clean_client_secret(self):
        value = self.cleaned_data.get("client_secret") or ""
        return value or (self.instance.client_secret if self.instance.pk else "")

    def clean(self):
        cleaned = super().clean()
        protocol = cleaned.get("protocol")
        if protocol == IdentityProvider.Protocol.OIDC:
            for field in ("server_url", "client_id"):
                if not cleaned.get(field):
                    self.add_error(field, "Required for OpenID Connect.")
        if cleaned.get("create_users") and not cleaned.get("partner"):
            self.add_error("create_users", "Only a partner's identity provider can create users.")
        return cleaned


@admin.register(IdentityProvider)
class IdentityProviderAdmin(admin.ModelAdmin):
    form = IdentityProviderForm
    list_display = ("name", "slug", "protocol", "partner", "required", "active", "callback_url")
    list_filter = ("protocol", "required", "active")
    search_fields = ("name", "slug", "partner__name")
    autocomplete_fields = ("partner",)
    prepopulated_fields = {"slug": ("name",)}

    @admin.display(description="Redirect (callback) URL to register at the provider")
    def callback_url(self, obj):
        from django.conf import settings

        prefix = "oidc" if obj.protocol == IdentityProvider.Protocol.OIDC else "saml"
        base = settings.SITE_URL.rstrip("/")
        suffix = "login/callback/" if prefix == "oidc" else "acs/"
        return f"{base}/accounts/{prefix}/{obj.slug}/{suffix}"


# allauth's own app table would be a second place to configure providers: IdentityProvider
# rows are the one place (partners.sso builds allauth's apps from them). Linked identities
# (SocialAccount) stay visible under "System".
for _model_name in ("SocialApp", "SocialToken"):
    from django.apps import apps as _apps

    _model = _apps.get_model("socialaccount", _model_name)
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


# --- Becoming a partner ---------------------------------------------------------------------------


@admin.register(PartnerApplication)
class PartnerApplicationAdmin(admin.ModelAdmin):
    """Applications are decided in the manager workspace (approve creates the partner and the
    first admin's invitation, decline e-mails the applicant): read-only here."""

    list_display = (
        "company_name",
        "domain",
        "country",
        "contact_email",
        "status",
        "submitted_at",
        "decided_by",
        "partner",
    )
    list_filter = ("status", "country")
    search_fields = ("company_name", "legal_name", "domain", "contact_email", "contact_name")
    date_hierarchy = "submitted_at"
    list_select_related = ("decided_by", "partner")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in PartnerApplication._meta.fields]

    def has_add_permission(self, request):
        return False


class ProgramTermsForm(forms.ModelForm):
    class Meta:
        model = ProgramTerms
        fields = ("version", "title", "text", "published_at")


@admin.register(ProgramTerms)
class ProgramTermsAdmin(admin.ModelAdmin):
    """Versioned terms: a new version starts as a draft (no publication date); once published
    it is read-only (change the terms by adding the next version). The latest published
    version is in force: partner users accept it before registering deals."""

    form = ProgramTermsForm
    list_display = ("version", "title", "published_at", "acceptance_count")
    ordering = ("-version",)
    actions = ("publish_now",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_acceptances=Count("acceptances"))

    @admin.display(description="Acceptances", ordering="_acceptances")
    def acceptance_count(self, obj):
        return obj._acceptances

    def get_changeform_initial_data(self, request):
        from django.db.models import Max

        latest = ProgramTerms.objects.aggregate(v=Max("version"))["v"] or 0
        return {"version": latest + 1}

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.published_at is not None:
            return ("version", "title", "text", "published_at", "created_at")
        return ("created_at",)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.published_at is not None:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description="Publish the selected drafts now")
    def publish_now(self, request, queryset):
        from prm.lib.time import timezone_now

        drafts = list(queryset.filter(published_at__isnull=True))
        for terms in drafts:
            terms.published_at = timezone_now()
            terms.save(update_fields=["published_at"])
        messages.success(request, f"{len(drafts)} version(s) published.")


@admin.register(TermsAcceptance)
class TermsAcceptanceAdmin(admin.ModelAdmin):
    """The record of who accepted which version, when: read-only."""

    list_display = ("user", "partner", "terms", "accepted_at")
    list_filter = ("terms", "partner")
    search_fields = ("user__email", "partner__name")
    date_hierarchy = "accepted_at"
    list_select_related = ("user", "partner", "terms")

    def get_readonly_fields(self, request, obj=None):
        return ("user", "partner", "terms", "accepted_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
