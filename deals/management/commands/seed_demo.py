"""Demo data: tiers' settings, 6 products in 3 product lines, 4 partners with 2–3 users each, 2
channel managers, 1 administrator, about 300 direct opportunities and 150 registrations in
every status, with a few deliberate conflicts for the manager queue.

    python manage.py seed_demo [--password PASSWORD]

Idempotent: people, partners, products and opportunities are looked up by natural key; the
registration timeline (and policy v2) is played only once, when the demo partners have no
registration yet. A fixed random seed makes every run produce the same data.

Everything is created through the services, so events, conflicts and the identity index exist
as in production. The timeline is played on a demo clock (the project clock,
prm.lib.time.clock_source, reads each step's moment) so submissions, decisions and protection windows spread over the last
six months, in chronological order, which first-come-first-served relies on.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from faker import Faker

from conflicts.models import Conflict
from conflicts.normalize import normalize_name
from deals.models import (
    ApprovalTeam,
    DealRegistration,
    DirectOpportunity,
    Product,
    ProductLine,
    RoutingRule,
    RulesOfEngagement,
    SecondStepRule,
)
from deals.opportunities.services import opportunity_upsert
from deals.policy import policy_current, policy_forget, policy_publish
from deals.registrations import services
from deals.registrations.collaboration import activity_create, comment_create
from deals.registrations.extensions import extension_request_create
from partners import services as partner_services
from partners.models import Partner, Tier, User
from prm.exceptions import DuplicateRegistration, StateConflict
from prm.lib.domains import registrable_domain
from prm.lib.time import clock_source, timezone_now

SEED = 20260214
DEMO_PASSWORD = "cosell-demo-2026"

TIERS = {
    # code: (protection_days, max_extensions, auto_approve_ceiling, discount_percent)
    "registered": (60, 0, None, Decimal("5.00")),
    "silver": (90, 1, None, Decimal("10.00")),
    "gold": (120, 2, None, Decimal("15.00")),
    "platinum": (180, 2, Decimal("20000.00"), Decimal("20.00")),
}

PRODUCT_LINES = {
    "crm": (
        "Customer Relationship Management",
        [("crm-pro", "CRM Pro"), ("crm-enterprise", "CRM Enterprise")],
    ),
    "erp": (
        "Enterprise Resource Planning",
        [("erp-core", "ERP Core"), ("erp-finance", "ERP Finance Suite")],
    ),
    "analytics": ("Analytics", [("insight-bi", "Insight BI"), ("data-cloud", "Data Cloud")]),
}

STAFF = [
    # email, name, role
    ("admin@dealbridge.example", "Ada Lindqvist", "administrator"),
    ("maria.chen@dealbridge.example", "Maria Chen", "channel manager"),
    ("tom.baker@dealbridge.example", "Tom Baker", "channel manager"),
]
DIRECT_REPS = [
    "sam.rivera@dealbridge.example",
    "nina.kowalski@dealbridge.example",
    "david.okafor@dealbridge.example",
    "julia.berger@dealbridge.example",
]


@dataclass(frozen=True)
class PartnerSpec:
    name: str
    legal_name: str
    country: str
    currency: str
    tier: str
    domain: str
    tld: str
    locale: str
    manager: str
    users: tuple[tuple[str, str, str], ...]  # (local part, name, role)


PARTNERS = [
    PartnerSpec(
        "Northbridge Solutions",
        "Northbridge Solutions LLC",
        "US",
        "USD",
        "gold",
        "northbridge-solutions.com",
        "com",
        "en_US",
        "maria.chen@dealbridge.example",
        (
            ("olivia.hart", "Olivia Hart", "admin"),
            ("james.cole", "James Cole", "member"),
            ("priya.nair", "Priya Nair", "member"),
        ),
    ),
    PartnerSpec(
        "Alpenwerk IT",
        "Alpenwerk IT GmbH",
        "DE",
        "EUR",
        "silver",
        "alpenwerk-it.de",
        "de",
        "de_DE",
        "tom.baker@dealbridge.example",
        (("lena.schmidt", "Lena Schmidt", "admin"), ("markus.weber", "Markus Weber", "member")),
    ),
    PartnerSpec(
        "Cobalt Systems Integration",
        "Cobalt Systems Integration Ltd",
        "GB",
        "GBP",
        "platinum",
        "cobalt-si.co.uk",
        "co.uk",
        "en_GB",
        "maria.chen@dealbridge.example",
        (
            ("hannah.price", "Hannah Price", "admin"),
            ("oliver.grant", "Oliver Grant", "member"),
            ("amira.shah", "Amira Shah", "member"),
        ),
    ),
    PartnerSpec(
        "Méridien Numérique",
        "Méridien Numérique SAS",
        "FR",
        "EUR",
        "registered",
        "meridien-numerique.fr",
        "fr",
        "fr_FR",
        "tom.baker@dealbridge.example",
        (("camille.laurent", "Camille Laurent", "admin"), ("hugo.martin", "Hugo Martin", "member")),
    ),
]

# Real-sounding customers (the fictional companies of many product demos) before Faker's.
CURATED_CUSTOMERS = [
    "Initech",
    "Umbrella Analytics",
    "Wide World Importers",
    "Adventure Works Cycles",
    "Woodgrove Bank",
    "Lucerne Publishing",
    "Alpine Ski House",
    "Blue Yonder Airlines",
    "Fourth Coffee",
    "Humongous Insurance",
    "Trey Research",
    "Southridge Video",
    "Consolidated Messenger",
    "Coho Winery",
    "Litware",
    "Proseware",
    "Wingtip Toys",
    "Margie's Travel",
    "Graphic Design Institute",
    "Stark Maritime",
    "Vandelay Industries",
    "Soylent Foods",
    "Hooli",
    "Pied Piper",
    "Dunder Mifflin Paper",
    "Massive Dynamic",
    "Cyberdyne Robotics",
    "Wonka Confectionery",
    "Gringotts Lending",
    "Oceanic Airlines",
    "Nakatomi Trading",
    "Sterling Cooper Advertising",
    "Bluth Property",
    "Los Pollos Hermanos",
    "Prestige Worldwide",
    "Monarch Biotech",
    "Tyrell Instruments",
    "Aperture Labs",
    "Black Mesa Research",
    "Virtucon",
]
STAGES = ("qualification", "proposal", "negotiation")
OPP_STAGES = ("Discovery", "Qualification", "Solution design", "Proposal", "Negotiation")
LOST_REASONS = (
    "Customer chose a competitor on price.",
    "Budget frozen for this fiscal year.",
    "Project postponed after a reorganisation.",
    "Incumbent vendor renewed.",
)
REJECT_REASONS = (
    ("insufficient_information", "No decision maker or budget identified yet."),
    ("not_qualified", "Existing customer under a direct enterprise agreement."),
    ("outside_territory", "Customer headquarters are outside your contracted territory."),
    ("below_minimum", "The deal size is below the programme minimum."),
    ("other", "Customer asked to work with the vendor directly for this phase."),
)
STATUS_PLAN = {
    "draft": 10,
    "submitted": 22,
    "info_requested": 12,
    "approved": 32,
    "rejected": 20,
    "withdrawn": 8,
    "won": 18,
    "lost": 10,
    "expired": 10,
}  # 142 + 8 scripted registrations (conflict scenarios) = 150
OPPORTUNITIES = 300


# --- The demo clock ---------------------------------------------------------------------------


class DemoClock:
    """A pinned "now" that advances by a microsecond at every read (strictly increasing)."""

    def __init__(self):
        self.at: dt.datetime | None = None
        self._tick = 0

    def now(self) -> dt.datetime:
        self._tick += 1
        return self.at + dt.timedelta(microseconds=self._tick)

    @contextmanager
    def pinned(self, at: dt.datetime):
        self.at, self._tick = at, 0
        with clock_source(self.now):
            yield


@dataclass(order=True)
class Step:
    at: dt.datetime
    order: int
    run: Callable[[], None] = field(compare=False)


# --- Command ----------------------------------------------------------------------------------


class Command(BaseCommand):
    help = "Create demo data (idempotent): partners, users, products, opportunities, registrations."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEMO_PASSWORD, help="Shared demo password.")

    def handle(self, *args, **options):
        self.password = options["password"]
        self.rng = random.Random(SEED)
        self.real_now = timezone_now()
        self.clock = DemoClock()
        self.steps: list[Step] = []
        self._tiers()
        self._catalog()
        self._staff()
        self._partners()
        self._routing()
        names = self._customer_names()
        opp_count = self._opportunities(names)
        seeded = DealRegistration.objects.filter(
            partner__name__in=[p.name for p in PARTNERS]
        ).exists()
        if seeded:
            self.stdout.write("Registrations already seeded: timeline skipped.")
        else:
            self._program_start()
            self._scripted_conflicts()
            self._registrations(names)
            self._policy_change()
        self._play()
        self._second_step()
        self._summary(opp_count)

    # --- reference data ---------------------------------------------------------------------

    def _tiers(self):
        for code, (days, extensions, ceiling, discount) in TIERS.items():
            Tier.objects.update_or_create(
                code=code,
                defaults={
                    "name": code.title(),
                    "rank": list(TIERS).index(code),
                    "protection_days": days,
                    "max_extensions": extensions,
                    "auto_approve_ceiling": ceiling,
                    "discount_percent": discount,
                },
            )

    def _catalog(self):
        self.products: dict[str, list[str]] = {}
        for line_code, (line_name, products) in PRODUCT_LINES.items():
            line, _ = ProductLine.objects.get_or_create(
                code=line_code, defaults={"name": line_name}
            )
            for code, name in products:
                Product.objects.get_or_create(
                    code=code, defaults={"name": name, "product_line": line, "active": True}
                )
            self.products[line_code] = [code for code, _ in products]

    def _staff(self):
        review = Permission.objects.get(codename="review_registration")
        self.managers = []
        for email, name, role in STAFF:
            user = User.objects.filter(email=email).first()
            if user is None:
                if role == "administrator":
                    user = User.objects.create_superuser(
                        email=email, password=self.password, name=name
                    )
                else:
                    user = User.objects.create_user(
                        email=email, password=self.password, name=name, is_staff=True
                    )
                    user.user_permissions.add(review)
            if role == "administrator":
                self.admin = user
            else:
                self.managers.append(user)
        self.manager_by_email = {m.email: m for m in self.managers}
        # Direct sales reps sign in to the rep workspace (TOTP enrolment at first sign-in).
        for email in DIRECT_REPS:
            if not User.objects.filter(email=email).exists():
                name = email.split("@")[0].replace(".", " ").title()
                User.objects.create_user(
                    email=email, password=self.password, name=name, is_sales_rep=True
                )

    def _routing(self):
        """Approval routing (issue 17 §4): each channel manager reviews their partners'
        registrations; a "Sales directors" team (the administrator) exists for the second
        step, which _second_step switches on once the history is played."""
        for order, manager in enumerate(self.managers, start=1):
            RoutingRule.objects.get_or_create(
                name=f"Partners of {manager.name}",
                defaults={
                    "order": order * 10,
                    "channel_manager": manager,
                    "assign_manager": manager,
                },
            )
        self.directors, created = ApprovalTeam.objects.get_or_create(name="Sales directors")
        if created:
            self.directors.members.add(self.admin)

    def _second_step(self):
        """Registrations from now on above 500,000 (USD; 450,000 EUR, 400,000 GBP) need a
        sales director's second approval; the played history stays one-step."""
        SecondStepRule.objects.get_or_create(
            name="Sales director above 500k",
            defaults={
                "thresholds": {"USD": "500000.00", "EUR": "450000.00", "GBP": "400000.00"},
                "approver_team": self.directors,
                "sla_business_days": 2,
            },
        )

    def _partners(self):
        self.partners: dict[str, Partner] = {}
        self.users: dict[str, list[User]] = {}
        for spec in PARTNERS:
            partner = Partner.objects.filter(name=spec.name).first()
            if partner is None:
                partner = partner_services.partner_create(
                    actor=self.admin,
                    name=spec.name,
                    legal_name=spec.legal_name,
                    country=spec.country,
                    tier=Tier.objects.get(code=spec.tier),
                    domains=[spec.domain],
                )
                partner = partner_services.partner_update(
                    actor=self.admin,
                    partner=partner,
                    channel_manager=self.manager_by_email[spec.manager],
                )
            users = []
            for local, name, role in spec.users:
                email = f"{local}@{spec.domain}"
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = partner_services.partner_user_create(
                        actor=self.admin,
                        partner=partner,
                        email=email,
                        name=name,
                        role=role,
                        password=self.password,
                    )
                users.append(user)
            self.partners[spec.name] = partner
            self.users[spec.name] = users

    def _customer_names(self) -> list[tuple[str, str]]:
        """Unique (name, locale) pairs whose normalised names share no first word."""
        fakers = {spec.locale: Faker(spec.locale) for spec in PARTNERS}
        for index, faker in enumerate(fakers.values()):
            faker.seed_instance(SEED + index)
        used_first: set[str] = set()
        for reserved in ("globex", "contoso", "fabrikam", "tailspin", "northwind", "zenith"):
            used_first.add(reserved)
        names: list[tuple[str, str]] = []

        def take(name: str, locale: str) -> None:
            norm = normalize_name(name)
            first = norm.split()[0] if norm else ""
            if len(first) < 3 or first in used_first:
                return
            used_first.add(first)
            names.append((name, locale))

        for name in CURATED_CUSTOMERS:
            take(name, "en_US")
        locales = list(fakers)
        attempts = 0
        while len(names) < OPPORTUNITIES + 200 and attempts < 20000:
            attempts += 1
            locale = locales[attempts % len(locales)]
            take(fakers[locale].company(), locale)
        return names

    # --- helpers ------------------------------------------------------------------------------

    def _at(self, days_ago: float) -> dt.datetime:
        return self.real_now - dt.timedelta(days=days_ago)

    def _step(self, at: dt.datetime, run: Callable[[], None]) -> None:
        self.steps.append(Step(at, len(self.steps), run))

    @staticmethod
    def _domain(name: str, tld: str) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", normalize_name(name)).strip("-")[:40].strip("-")
        return f"{slug or 'customer'}.{tld}"

    def _pick_products(self) -> list[str]:
        line = self.rng.choice(list(self.products))
        codes = self.products[line]
        picked = [self.rng.choice(codes)]
        if self.rng.random() < 0.25:
            other = self.rng.choice(
                [c for lc, cs in self.products.items() if lc != line for c in cs]
            )
            picked.append(other)
        return picked

    # --- direct opportunities -------------------------------------------------------------------

    def _opportunities(self, names) -> int:
        existing = set(
            DirectOpportunity.objects.filter(external_id__startswith="CRM-").values_list(
                "external_id", flat=True
            )
        )
        specs = {spec.locale: spec for spec in PARTNERS}
        scripted = [
            ("Contoso Ltd", "contoso.com", "US", ["erp-core", "erp-finance"], "open", 75),
            ("Tailspin Toys Inc.", "tailspintoys.com", "US", ["crm-pro"], "open", 70),
        ]
        plans = []
        for name, domain, country, products, status, days_ago in scripted:
            plans.append((name, domain, country, products, status, days_ago, "USD"))
        pool = names[200 : 200 + OPPORTUNITIES]
        for index in range(OPPORTUNITIES - len(scripted)):
            name, locale = pool[index % len(pool)]
            spec = specs[locale]
            roll = self.rng.random()
            status = "open" if roll < 0.72 else ("won" if roll < 0.9 else "lost")
            plans.append(
                (
                    name,
                    self._domain(name, spec.tld) if self.rng.random() < 0.85 else "",
                    spec.country,
                    self._pick_products(),
                    status,
                    self.rng.uniform(1, 175),
                    spec.currency,
                )
            )
        for index, (name, domain, country, products, status, days_ago, currency) in enumerate(
            plans
        ):
            external_id = f"CRM-{index + 1:06d}"
            amount = Decimal(self.rng.randrange(15, 600) * 1000)
            owner = self.rng.choice(DIRECT_REPS)
            stage = self.rng.choice(OPP_STAGES)
            created = self._at(days_ago)
            if external_id in existing:
                continue
            data = {
                "external_id": external_id,
                "account_name": name,
                "account_domain": domain,
                "country": country,
                "owner_email": owner,
                "products": products,
                "amount": str(amount),
                "currency": currency,
                "stage": "Closed" if status != "open" else stage,
                "close_date": (created + dt.timedelta(days=self.rng.randint(20, 150)))
                .date()
                .isoformat(),
                "status": status,
            }
            self._step(created, lambda data=data: opportunity_upsert(data=data))
        return len(plans)

    # --- registrations --------------------------------------------------------------------------

    def _registration(
        self,
        spec: PartnerSpec,
        *,
        created: dt.datetime,
        customer: str,
        domain: str,
        country: str | None = None,
        products: list[str] | None = None,
        value: Decimal | None = None,
        submit: bool = True,
        holder: dict | None = None,
    ) -> dict:
        """Queue the creation of one registration; returns a holder the later steps read."""
        holder = holder if holder is not None else {}
        user = self.rng.choice(self.users[spec.name])
        if value is None:
            low = 25 if spec.tier == "platinum" else 8
            value = Decimal(self.rng.randrange(low, 450) * 1000)
        first, last = self.rng.choice(
            [
                ("Pat", "Morgan"),
                ("Chris", "Lee"),
                ("Alex", "Novak"),
                ("Sam", "Dubois"),
                ("Robin", "Fischer"),
            ]
        )
        contact_domain = registrable_domain(domain) if domain else self._domain(customer, spec.tld)
        data = {
            "customer_name": customer,
            "customer_domain": domain,
            "customer_country": country or spec.country,
            "contact_name": f"{first} {last}",
            "contact_email": f"{first.lower()}.{last.lower()}@{contact_domain}",
            "products": products or self._pick_products(),
            "estimated_value": str(value),
            "currency": spec.currency,
            "expected_close_date": (created + dt.timedelta(days=self.rng.randint(45, 200)))
            .date()
            .isoformat(),
            "stage": self.rng.choice(STAGES),
            "description": self.rng.choice(
                [
                    "Replacing a legacy on-premise system; evaluation with three vendors.",
                    "Expansion into two new business units after a successful pilot.",
                    "Greenfield project led by the new CIO; budget approved for this year.",
                    "Consolidating regional tools onto one platform.",
                ]
            ),
            "competitors": self.rng.choice(
                ["", "Salesforce", "SAP", "Oracle", "HubSpot", "Microsoft"]
            ),
        }

        def run():
            try:
                holder["registration"] = services.registration_create(
                    actor=user, data=data, submit=submit
                )
            except DuplicateRegistration:
                holder["registration"] = None  # a near-identical customer already registered
            holder["user"] = user

        self._step(created, run)
        return holder

    def _then(
        self, at: dt.datetime, holder: dict, action: Callable[[DealRegistration, dict], None]
    ):
        def run():
            registration = holder.get("registration")
            if registration is None:
                return
            registration.refresh_from_db()
            action(registration, holder)

        self._step(at, run)

    def _manager(self):
        return self.rng.choice(self.managers)

    def _registrations(self, names):
        pool = [n for n in names[:200]]
        self.rng.shuffle(pool)
        statuses = [s for s, count in STATUS_PLAN.items() for _ in range(count)]
        self.rng.shuffle(statuses)
        specs_by_locale = {spec.locale: spec for spec in PARTNERS}
        for index, status in enumerate(statuses):
            customer, locale = pool[index]
            # Customers are mostly in the partner's own country.
            spec = specs_by_locale[locale] if self.rng.random() < 0.8 else self.rng.choice(PARTNERS)
            domain = (
                self._domain(customer, specs_by_locale[locale].tld)
                if self.rng.random() < 0.9
                else ""
            )
            self._plan(status, spec, customer, domain, specs_by_locale[locale].country)

    def _plan(self, status: str, spec: PartnerSpec, customer: str, domain: str, country: str):
        rng = self.rng
        manager = self._manager()
        if status == "draft":
            self._registration(
                spec,
                created=self._at(rng.uniform(1, 20)),
                customer=customer,
                domain=domain,
                country=country,
                submit=False,
            )
            return
        if status == "submitted":
            days = rng.uniform(0.1, 8)
            holder = self._registration(
                spec, created=self._at(days), customer=customer, domain=domain, country=country
            )
            if rng.random() < 0.25 and days > 3:
                self._then(self._at(days - 1), holder, self._comment_partner)
            return
        if status == "info_requested":
            days = rng.uniform(3, 25)
            holder = self._registration(
                spec, created=self._at(days), customer=customer, domain=domain, country=country
            )
            self._then(self._at(days - 1), holder, lambda r, h: self._request_info(r, manager))
            return
        if status == "approved":
            days = rng.uniform(4, 50)
            # Some small platinum deals fall under the tier's ceiling: approved at once.
            small = spec.tier == "platinum" and rng.random() < 0.4
            holder = self._registration(
                spec,
                created=self._at(days),
                customer=customer,
                domain=domain,
                country=country,
                value=Decimal(rng.randrange(8, 20) * 1000) if small else None,
            )
            approve_days = days - rng.uniform(0.5, 2)
            self._then(self._at(approve_days), holder, lambda r, h: self._approve(r, manager))
            if rng.random() < 0.5:
                self._then(self._at(approve_days - 1), holder, self._activity)
            if rng.random() < 0.3:
                self._then(
                    self._at(approve_days - 1.5),
                    holder,
                    lambda r, h: self._comment_manager(r, manager),
                )
            if spec.tier != "registered" and rng.random() < 0.2:
                self._then(self._at(max(approve_days - 3, 0.05)), holder, self._extension_request)
            return
        if status == "rejected":
            days = rng.uniform(5, 160)
            holder = self._registration(
                spec, created=self._at(days), customer=customer, domain=domain, country=country
            )
            reason, note = rng.choice(REJECT_REASONS)
            self._then(
                self._at(days - rng.uniform(0.5, 3)),
                holder,
                lambda r, h: self._reject(r, manager, reason, note),
            )
            return
        if status == "withdrawn":
            days = rng.uniform(10, 120)
            holder = self._registration(
                spec, created=self._at(days), customer=customer, domain=domain, country=country
            )
            self._then(self._at(days - rng.uniform(2, 9)), holder, self._withdraw)
            return
        if status in ("won", "lost"):
            days = rng.uniform(70, 175)
            holder = self._registration(
                spec, created=self._at(days), customer=customer, domain=domain, country=country
            )
            approved = days - rng.uniform(1, 3)
            self._then(self._at(approved), holder, lambda r, h: self._approve(r, manager))
            self._then(self._at(approved - 1), holder, self._activity)
            closed = approved - rng.uniform(15, 50)
            self._then(self._at(closed), holder, lambda r, h: self._close(r, h, status, closed))
            return
        if status == "expired":
            days = rng.uniform(80, 170)
            holder = self._registration(
                spec, created=self._at(days), customer=customer, domain=domain, country=country
            )
            approved = days - rng.uniform(1, 3)
            protection = rng.randint(30, 60)
            self._then(
                self._at(approved), holder, lambda r, h: self._approve(r, manager, protection)
            )
            expiry = approved - protection - 0.01
            self._then(
                self._at(expiry), holder, lambda r, h: services.registration_expire(registration=r)
            )
            return
        raise ValueError(status)

    # --- actions (each through the services) ---------------------------------------------------

    def _approve(self, registration, manager, protection_days=None):
        if registration.status in ("submitted", "info_requested"):
            kwargs = {
                "registration": registration,
                "actor": manager,
                "note": "Welcome aboard: good qualification and a clear buying process.",
                "protection_days": protection_days,
            }
            try:
                services.registration_approve(**kwargs)
            except StateConflict as exc:  # an unresolved conflict: the demo overrides it
                if exc.code != "unresolved_conflict":
                    raise
                services.registration_approve(
                    **kwargs, override_reason="Agreed on a call with both sides."
                )

    def _reject(self, registration, manager, reason, note):
        if registration.status in ("submitted", "info_requested"):
            services.registration_reject(
                registration=registration, actor=manager, reason=reason, note=note
            )

    def _request_info(self, registration, manager):
        if registration.status == "submitted":
            services.registration_request_info(
                registration=registration,
                actor=manager,
                message="Which business unit is buying, and who signs the contract?",
            )

    def _withdraw(self, registration, holder):
        if registration.status in ("draft", "submitted", "info_requested", "approved"):
            services.registration_withdraw(registration=registration, actor=holder["user"])

    def _close(self, registration, holder, outcome, days_ago):
        if registration.status != "approved":
            return
        services.registration_close(
            registration=registration,
            actor=holder["user"],
            outcome=outcome,
            close_date=self._at(days_ago).date().isoformat(),
            actual_value=str(
                (registration.estimated_value * Decimal("0.9")).quantize(Decimal("0.01"))
            )
            if outcome == "won"
            else None,
            lost_reason=self.rng.choice(LOST_REASONS) if outcome == "lost" else "",
        )

    def _activity(self, registration, holder):
        if registration.status in ("submitted", "info_requested", "approved"):
            activity_create(
                registration=registration,
                actor=holder["user"],
                kind=self.rng.choice(["meeting", "demo", "proposal", "call"]),
                occurred_on=timezone_now().date().isoformat(),
                summary=self.rng.choice(
                    [
                        "Discovery workshop with the operations team.",
                        "Product demo for the CFO and two department heads.",
                        "Sent the commercial proposal and the implementation plan.",
                        "Call with procurement about contract terms.",
                    ]
                ),
            )

    def _comment_partner(self, registration, holder):
        comment_create(
            registration=registration,
            actor=holder["user"],
            body="The customer confirmed budget this week; happy to share the meeting notes.",
        )

    def _comment_manager(self, registration, manager):
        comment_create(
            registration=registration,
            actor=manager,
            body="Looks solid. Loop in our solution engineer for the technical validation.",
        )

    def _extension_request(self, registration, holder):
        if registration.status == "approved":
            extension_request_create(
                registration=registration,
                actor=holder["user"],
                reason="Procurement moved the signature to next quarter.",
            )

    # --- scripted conflict scenarios (8 registrations) ------------------------------------------

    def _scripted_conflicts(self):
        north, alpen, cobalt, meridien = PARTNERS
        m1, m2 = self.managers[0], self.managers[-1]
        # 1. Same customer, two partners, different spellings: the later one is in the queue
        #    as a conflict with the earlier, approved registration.
        first = self._registration(
            north,
            created=self._at(14),
            customer="Globex Corporation",
            domain="globex.com",
            products=["crm-pro"],
            value=Decimal("180000"),
        )
        self._then(self._at(13), first, lambda r, h: self._approve(r, m1))
        self._registration(
            cobalt,
            created=self._at(2),
            customer="GLOBEX Corp.",
            domain="https://www.globex.com/",
            country="US",
            products=["crm-enterprise"],
            value=Decimal("220000"),
        )
        # 2. A registration colliding with an open direct opportunity (Contoso, CRM-000001).
        self._registration(
            alpen,
            created=self._at(1.5),
            customer="Contoso Limited",
            domain="contoso.com",
            country="US",
            products=["erp-core"],
            value=Decimal("95000"),
        )
        # 3. A near match by name only (no shared domain): a potential conflict to review.
        fabrikam = self._registration(
            north,
            created=self._at(20),
            customer="Fabrikam, Inc.",
            domain="fabrikam.com",
            products=["insight-bi"],
            value=Decimal("60000"),
        )
        self._then(self._at(19), fabrikam, lambda r, h: self._approve(r, m2))
        self._registration(
            meridien,
            created=self._at(3),
            customer="Fabrikam Industries",
            domain="",
            country="US",
            products=["insight-bi"],
            value=Decimal("45000"),
        )
        # 4. Co-sell: a partner registration on a direct opportunity, resolved co_sell, approved.
        tailspin = self._registration(
            cobalt,
            created=self._at(30),
            customer="Tailspin Toys",
            domain="tailspintoys.com",
            country="US",
            products=["crm-pro"],
            value=Decimal("140000"),
        )
        self._then(
            self._at(28), tailspin, lambda r, h: self._resolve(r, m1, "co_sell", approve=True)
        )
        # 5. Two partners, the later one loses: first_registration_wins rejects it.
        northwind = self._registration(
            alpen,
            created=self._at(40),
            customer="Northwind Traders GmbH",
            domain="northwind-traders.de",
            country="DE",
            products=["erp-finance"],
            value=Decimal("75000"),
        )
        self._then(self._at(39), northwind, lambda r, h: self._approve(r, m2))
        late = self._registration(
            north,
            created=self._at(35),
            customer="Northwind Traders",
            domain="northwind-traders.de",
            country="DE",
            products=["erp-finance"],
            value=Decimal("82000"),
        )
        self._then(self._at(34), late, lambda r, h: self._resolve(r, m2, "first_registration_wins"))

    def _resolve(self, registration, manager, resolution, approve=False):
        conflict = (
            Conflict.objects.filter(registration_id=registration.pk, status=Conflict.Status.OPEN)
            .order_by("-score")
            .first()
        )
        if conflict is None:
            return
        note = {
            "co_sell": "Co-sell: the partner keeps protection, the direct rep keeps quota credit.",
            "first_registration_wins": "The other partner registered this customer first.",
        }[resolution]
        services.conflict_resolve(
            conflict=conflict, actor=manager, resolution=resolution, note=note
        )
        registration.refresh_from_db()
        if approve:
            self._approve(registration, manager)

    # --- policy ---------------------------------------------------------------------------------

    def _program_start(self):
        """The default policy (created by migration 0003 when the database was migrated, a
        moment ago) is the program's first version: date it where the demo's timeline starts,
        so the admin lists versions in date order (v1 a year ago, the change 90 days ago)."""
        RulesOfEngagement.objects.filter(version=1, created_by__isnull=True).update(
            created_at=self._at(365)
        )
        policy_forget()

    def _policy_change(self):
        def run():
            if policy_current().version == 1:
                policy_publish(
                    actor=self.admin,
                    change_note="Raise the GBP minimum to 5,000 and look back 120 days on won direct deals.",
                    min_deal_values={"USD": "5000.00", "EUR": "5000.00", "GBP": "5000.00"},
                    direct_won_lookback_days=120,
                )

        self._step(self._at(90), run)

    # --- play and report --------------------------------------------------------------------------

    def _play(self):
        for step in sorted(self.steps):
            with self.clock.pinned(step.at):
                step.run()

    def _summary(self, opp_count: int):
        demo = DealRegistration.objects.filter(partner__name__in=[p.name for p in PARTNERS])
        counts = {s: demo.filter(status=s).count() for s in STATUS_PLAN}
        conflicts = Conflict.objects.filter(status=Conflict.Status.OPEN).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {Partner.objects.count()} partners, "
                f"{DirectOpportunity.objects.count()} direct opportunities, "
                f"{demo.count()} registrations ({', '.join(f'{k} {v}' for k, v in counts.items())}), "
                f"{conflicts} open conflicts, policy v{policy_current().version}."
            )
        )
        self.stdout.write("")
        self.stdout.write(f"Logins (password for everyone: {self.password})")
        for email, _, role in STAFF:
            self.stdout.write(f"  {role:<16} {email}")
        for spec in PARTNERS:
            for local, _, role in spec.users:
                label = "partner admin" if role == "admin" else "partner user"
                self.stdout.write(
                    f"  {label:<16} {local}@{spec.domain}  ({spec.name}, {spec.tier})"
                )
        self.stdout.write("Direct sales reps (rep workspace at /rep/): " + ", ".join(DIRECT_REPS))
        self.stdout.write("Sign in at /accounts/login/; the admin is at /admin/.")
