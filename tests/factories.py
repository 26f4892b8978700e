"""Factories. States are reached through the real services (an approved registration has an
APPROVED event, as in production)."""

from __future__ import annotations

import datetime as dt
import itertools

import factory
from django.utils import timezone

from deals.models import DirectOpportunity, Product, ProductLine
from deals.opportunities.services import opportunity_upsert
from deals.registrations import services
from partners.models import Membership, Partner, Tier, User

_seq = itertools.count(1)
# Unique registrable domains per test run (example.com would make every customer the same).
_RUN = "t"
PASSWORD = "correct-horse-battery-42"


class ProductLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductLine
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"line-{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("-", " ").title())


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"product-{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("-", " ").title())
    product_line = factory.SubFactory(ProductLineFactory)


def default_tier(code: str = "gold") -> Tier:
    """Tiers come from a data migration; transactional tests flush them, so recreate."""
    ranks = {"registered": 0, "silver": 1, "gold": 2, "platinum": 3}
    tier, _ = Tier.objects.get_or_create(
        code=code, defaults={"name": code.title(), "rank": ranks.get(code, 0)}
    )
    return tier


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n} Resellers")
    country = "US"
    tier = factory.LazyFunction(lambda: default_tier("gold"))
    domains = factory.LazyAttribute(lambda o: [f"{o.name.split()[1]}-reseller.example"])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])


def partner_user(partner: Partner, *, role: str = "member", email: str | None = None) -> User:
    user = UserFactory(email=email or f"user{next(_seq)}@{partner.pk}-partner.example")
    Membership.objects.update_or_create(user=user, defaults={"partner": partner, "role": role})
    return user


def manager_user(*, email: str | None = None, superuser: bool = False, mfa: bool = True) -> User:
    from django.contrib.auth.models import Permission

    user = UserFactory(email=email or f"manager{next(_seq)}@vendor.example", is_staff=True)
    if superuser:
        user.is_superuser = True
        user.save()
    user.user_permissions.add(Permission.objects.get(codename="review_registration"))
    if mfa:
        enrol_totp(user)
    return User.objects.get(pk=user.pk)


def sales_rep_user(*, email: str | None = None, name: str = "", mfa: bool = True) -> User:
    """A direct sales rep (partners.services.sales_rep_create's account), TOTP enrolled."""
    email = email or f"rep{next(_seq)}@vendor.example"
    user = UserFactory(email=email, name=name or email.split("@")[0], is_sales_rep=True)
    if mfa:
        enrol_totp(user)
    return User.objects.get(pk=user.pk)


def enrol_totp(user: User) -> str:
    """Give the user a TOTP authenticator; returns the secret (to compute codes in tests)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    assert Authenticator.objects.filter(user=user, type="totp").exists()
    return secret


def totp_code(secret: str, offset: int = 0) -> str:
    """The TOTP code of the current 30 s window (+ `offset` windows) by the process clock.

    allauth accepts only the current window (MFA_TOTP_TOLERANCE 0), so a test that computes a
    code and then submits it must not cross a window boundary in between: run it under a pinned
    clock (time_machine; see the `totp_clock` fixture in tests/security/conftest.py), never with
    the real clock and a sleep."""
    import time

    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + offset))


def pinned_totp_clock():
    """time_machine traveller frozen one second into the next 30 s TOTP window: the code a test
    computes and the server's check fall in the same window by construction."""
    import time

    import time_machine

    return time_machine.travel((int(time.time()) // 30 + 1) * 30 + 1, tick=False)


def registration_data(**overrides) -> dict:
    n = next(_seq)
    data = {
        "customer_name": f"Customer {n} Holdings",
        "customer_domain": f"customer{n}-{_RUN}.com",
        "customer_country": "US",
        "contact_name": "Pat Buyer",
        "contact_email": f"pat@customer{n}-{_RUN}.com",
        "products": [ProductFactory(code="crm-pro", product_line__code="crm").code],
        "estimated_value": "125000.00",
        "currency": "USD",
        "expected_close_date": (timezone.now().date() + dt.timedelta(days=60)).isoformat(),
        "stage": "proposal",
    }
    data.update(overrides)
    return data


#: The statuses make_registration can reach through the services (anything else raises).
BUILDABLE_STATUSES = frozenset(
    {"draft", "submitted", "approved", "rejected", "info_requested", "withdrawn", "won", "lost"}
)


def make_registration(actor: User, *, status: str = "submitted", manager=None, **overrides):
    """A registration in `status`, reached through the services. A status it does not build
    (``expired``, a typo) raises instead of quietly returning a submitted registration."""
    if status not in BUILDABLE_STATUSES:
        raise ValueError(
            f"make_registration cannot build status {status!r}; "
            f"it builds {sorted(BUILDABLE_STATUSES)}"
        )
    registration = services.registration_create(
        actor=actor, data=registration_data(**overrides), submit=status != "draft"
    )
    manager = manager or (
        manager_user()
        if status in {"approved", "rejected", "info_requested", "won", "lost"}
        else None
    )
    if status in {"approved", "won", "lost"}:
        registration = services.registration_approve(registration=registration, actor=manager)
    if status == "rejected":
        registration = services.registration_reject(
            registration=registration, actor=manager, reason="not_qualified"
        )
    if status == "info_requested":
        registration = services.registration_request_info(
            registration=registration, actor=manager, message="Which department?"
        )
    if status == "withdrawn":
        registration = services.registration_withdraw(registration=registration, actor=actor)
    if status in {"won", "lost"}:
        registration = services.registration_close(
            registration=registration,
            actor=actor,
            outcome=status,
            close_date=timezone.now().date().isoformat(),
        )
    return registration


def make_opportunity(**overrides) -> DirectOpportunity:
    n = next(_seq)
    data = {
        "external_id": f"CRM-{n:06d}",
        "account_name": f"Direct Account {n}",
        "account_domain": f"direct{n}-{_RUN}.org",
        "country": "US",
        "owner_email": "rep@vendor.example",
        "products": [ProductFactory(code="crm-pro", product_line__code="crm").code],
        "amount": "50000.00",
        "currency": "USD",
        "stage": "discovery",
        "status": "open",
    }
    data.update(overrides)
    opportunity, _ = opportunity_upsert(data=data)
    return opportunity


# A tiny file of each accepted kind, recognised by its content (issue 17 §2).
PDF_BYTES = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def make_attachment(actor: User, registration, *, name: str = "proposal.pdf", content=PDF_BYTES):
    """An attachment uploaded through the service, as a partner user would."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from deals.registrations.attachments import attachment_upload

    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    return attachment_upload(registration=registration, actor=actor, upload=upload)


PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 32
OOXML_MAIN = {
    "docx": ("word/document.xml", "wordprocessingml.document.main+xml"),
    "xlsx": ("xl/workbook.xml", "spreadsheetml.sheet.main+xml"),
    "pptx": ("ppt/presentation.xml", "presentationml.presentation.main+xml"),
}


def ooxml_bytes(kind: str, *, macro: bool = False) -> bytes:
    """A minimal Office Open XML package of `kind` (docx, xlsx, pptx): the content types
    entry declaring the main part, and the part itself; `macro` adds a VBA project."""
    import io
    import zipfile

    part, main = OOXML_MAIN[kind]
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Override PartName="/{part}" '
        f'ContentType="application/vnd.openxmlformats-officedocument.{main}"/></Types>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr(part, "<document/>")
        if macro:
            archive.writestr(part.split("/")[0] + "/vbaProject.bin", b"\x00VBA")
    return out.getvalue()
