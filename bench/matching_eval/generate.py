"""Deterministic generator of a labelled set of customer-identity pairs for the matcher.

Labels:

- ``match``: the same customer written differently (suffix change, abbreviation, typo, word
  order, accents, case/punctuation, website forms, e-mail vs website). Name-only positives are
  only generated when the name alone is enough to tell (no "drop the only distinctive word").
- ``nonmatch``: different customers, including hard negatives (shared generic words, same first
  word with a different business word, same free-mail domain, confusable real-world pairs).
- ``review_only``: the same normalised name registered in a different country. By design
  (docs/matching.md: a different country caps the score, multinationals register per country) these
  must land in the review band: at least ``review`` but below ``certain``. They are reported
  separately and not counted in precision/recall.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field

from faker import Faker

from conflicts.normalize import blocking_keys, normalize_name

SEED = 20240611

# name | website | country. Real-world-style names, many multinationals, several languages.
HAND_LIST = """
Apple Inc.|apple.com|US
Microsoft Corporation|microsoft.com|US
Alphabet Inc.|abc.xyz|US
Amazon.com, Inc.|amazon.com|US
International Business Machines Corporation|ibm.com|US
Oracle Corporation|oracle.com|US
Cisco Systems, Inc.|cisco.com|US
Intel Corporation|intel.com|US
Salesforce, Inc.|salesforce.com|US
Adobe Inc.|adobe.com|US
The Boeing Company|boeing.com|US
Lockheed Martin Corporation|lockheedmartin.com|US
General Electric Company|ge.com|US
General Motors Company|gm.com|US
General Mills, Inc.|generalmills.com|US
Ford Motor Company|ford.com|US
Procter & Gamble Company|pg.com|US
Johnson & Johnson|jnj.com|US
Johnson Controls International plc|johnsoncontrols.com|IE
Pfizer Inc.|pfizer.com|US
Merck & Co., Inc.|merck.com|US
Abbott Laboratories|abbott.com|US
The Coca-Cola Company|coca-colacompany.com|US
PepsiCo, Inc.|pepsico.com|US
Walmart Inc.|walmart.com|US
The Home Depot, Inc.|homedepot.com|US
Caterpillar Inc.|caterpillar.com|US
Deere & Company|deere.com|US
3M Company|3m.com|US
Honeywell International Inc.|honeywell.com|US
Texas Instruments Incorporated|ti.com|US
Hewlett Packard Enterprise Company|hpe.com|US
Dell Technologies Inc.|delltechnologies.com|US
Qualcomm Incorporated|qualcomm.com|US
Nvidia Corporation|nvidia.com|US
Advanced Micro Devices, Inc.|amd.com|US
American Airlines Group Inc.|aa.com|US
American Express Company|americanexpress.com|US
Delta Air Lines, Inc.|delta.com|US
United Parcel Service, Inc.|ups.com|US
FedEx Corporation|fedex.com|US
Goldman Sachs Group, Inc.|goldmansachs.com|US
JPMorgan Chase & Co.|jpmorganchase.com|US
Morgan Stanley|morganstanley.com|US
Bank of America Corporation|bankofamerica.com|US
Wells Fargo & Company|wellsfargo.com|US
Citigroup Inc.|citigroup.com|US
BlackRock, Inc.|blackrock.com|US
Berkshire Hathaway Inc.|berkshirehathaway.com|US
Exxon Mobil Corporation|exxonmobil.com|US
Chevron Corporation|chevron.com|US
ConocoPhillips|conocophillips.com|US
Schlumberger Limited|slb.com|US
Halliburton Company|halliburton.com|US
Kimberly-Clark Corporation|kimberly-clark.com|US
Colgate-Palmolive Company|colgatepalmolive.com|US
McDonald's Corporation|mcdonalds.com|US
Starbucks Corporation|starbucks.com|US
Nike, Inc.|nike.com|US
The Walt Disney Company|thewaltdisneycompany.com|US
Comcast Corporation|comcast.com|US
Verizon Communications Inc.|verizon.com|US
AT&T Inc.|att.com|US
Netflix, Inc.|netflix.com|US
Uber Technologies, Inc.|uber.com|US
Airbnb, Inc.|airbnb.com|US
ServiceNow, Inc.|servicenow.com|US
Workday, Inc.|workday.com|US
Snowflake Inc.|snowflake.com|US
Palo Alto Networks, Inc.|paloaltonetworks.com|US
Fortinet, Inc.|fortinet.com|US
Juniper Networks, Inc.|juniper.net|US
Micron Technology, Inc.|micron.com|US
Applied Materials, Inc.|appliedmaterials.com|US
Thermo Fisher Scientific Inc.|thermofisher.com|US
Danaher Corporation|danaher.com|US
Medtronic plc|medtronic.com|IE
Accenture plc|accenture.com|IE
Eaton Corporation plc|eaton.com|IE
Siemens Aktiengesellschaft|siemens.com|DE
SAP SE|sap.com|DE
BASF SE|basf.com|DE
Bayer AG|bayer.com|DE
Volkswagen AG|volkswagenag.com|DE
Bayerische Motoren Werke Aktiengesellschaft|bmwgroup.com|DE
Mercedes-Benz Group AG|group.mercedes-benz.com|DE
Robert Bosch GmbH|bosch.com|DE
Deutsche Telekom AG|telekom.com|DE
Deutsche Bank Aktiengesellschaft|db.com|DE
Deutsche Post AG|dpdhl.com|DE
Allianz SE|allianz.com|DE
Munich Re|munichre.com|DE
Continental Aktiengesellschaft|continental.com|DE
ZF Friedrichshafen AG|zf.com|DE
Henkel AG & Co. KGaA|henkel.com|DE
Merck KGaA|merckgroup.com|DE
Adidas AG|adidas.com|DE
Puma SE|puma.com|DE
Lufthansa Technik AG|lufthansa-technik.com|DE
Müller Maschinenbau GmbH & Co. KG|mueller-maschinenbau.de|DE
Würth Elektronik GmbH & Co. KG|we-online.com|DE
Carl Zeiss AG|zeiss.com|DE
TotalEnergies SE|totalenergies.com|FR
L'Oréal S.A.|loreal.com|FR
LVMH Moët Hennessy Louis Vuitton SE|lvmh.com|FR
Société Générale S.A.|societegenerale.com|FR
BNP Paribas SA|bnpparibas.com|FR
Crédit Agricole S.A.|credit-agricole.com|FR
Danone S.A.|danone.com|FR
Schneider Electric SE|se.com|FR
Compagnie de Saint-Gobain S.A.|saint-gobain.com|FR
Capgemini SE|capgemini.com|FR
Dassault Systèmes SE|3ds.com|FR
Électricité de France SA|edf.fr|FR
Renault S.A.S.|renaultgroup.com|FR
Thales S.A.|thalesgroup.com|FR
Airbus SE|airbus.com|NL
Koninklijke Philips N.V.|philips.com|NL
ASML Holding N.V.|asml.com|NL
Heineken N.V.|theheinekencompany.com|NL
ING Groep N.V.|ing.com|NL
Unilever PLC|unilever.com|GB
Royal Dutch Shell plc|shell.com|GB
BP p.l.c.|bp.com|GB
HSBC Holdings plc|hsbc.com|GB
Barclays PLC|barclays.com|GB
Lloyds Banking Group plc|lloydsbankinggroup.com|GB
Vodafone Group Plc|vodafone.com|GB
GlaxoSmithKline plc|gsk.com|GB
AstraZeneca PLC|astrazeneca.com|GB
Rolls-Royce Holdings plc|rolls-royce.com|GB
BAE Systems plc|baesystems.com|GB
Tesco PLC|tescoplc.com|GB
J Sainsbury plc|about.sainsburys.co.uk|GB
Marks and Spencer Group plc|marksandspencer.com|GB
British American Tobacco p.l.c.|bat.com|GB
Reckitt Benckiser Group plc|reckitt.com|GB
Diageo plc|diageo.com|GB
Nestlé S.A.|nestle.com|CH
Novartis AG|novartis.com|CH
Roche Holding AG|roche.com|CH
UBS Group AG|ubs.com|CH
ABB Ltd|abb.com|CH
Zurich Insurance Group AG|zurich.com|CH
Logitech International S.A.|logitech.com|CH
Nokia Oyj|nokia.com|FI
Kone Oyj|kone.com|FI
Telefonaktiebolaget LM Ericsson|ericsson.com|SE
AB Volvo|volvogroup.com|SE
Atlas Copco AB|atlascopco.com|SE
Sandvik AB|home.sandvik|SE
Hennes & Mauritz AB|hmgroup.com|SE
Spotify Technology S.A.|spotify.com|LU
Novo Nordisk A/S|novonordisk.com|DK
A.P. Møller - Mærsk A/S|maersk.com|DK
Carlsberg A/S|carlsberggroup.com|DK
Vestas Wind Systems A/S|vestas.com|DK
Equinor ASA|equinor.com|NO
Telenor ASA|telenor.com|NO
Enel S.p.A.|enel.com|IT
Eni S.p.A.|eni.com|IT
Ferrari N.V.|ferrari.com|IT
Intesa Sanpaolo S.p.A.|intesasanpaolo.com|IT
UniCredit S.p.A.|unicreditgroup.eu|IT
Pirelli & C. S.p.A.|pirelli.com|IT
Banco Santander, S.A.|santander.com|ES
Banco Bilbao Vizcaya Argentaria, S.A.|bbva.com|ES
Telefónica, S.A.|telefonica.com|ES
Iberdrola, S.A.|iberdrola.com|ES
Industria de Diseño Textil, S.A.|inditex.com|ES
Repsol S.A.|repsol.com|ES
Grupo Bimbo, S.A.B. de C.V.|grupobimbo.com|MX
Cemex, S.A.B. de C.V.|cemex.com|MX
América Movil S.A.B. de C.V.|americamovil.com|MX
Petróleo Brasileiro S.A.|petrobras.com.br|BR
Vale S.A.|vale.com|BR
Itaú Unibanco Holding S.A.|itau.com.br|BR
Toyota Motor Corporation|global.toyota|JP
Sony Group Corporation|sony.com|JP
Panasonic Holdings Corporation|holdings.panasonic|JP
Hitachi, Ltd.|hitachi.com|JP
Mitsubishi Corporation|mitsubishicorp.com|JP
Mitsubishi UFJ Financial Group, Inc.|mufg.jp|JP
Nintendo Co., Ltd.|nintendo.co.jp|JP
Canon Inc.|global.canon|JP
Fujitsu Limited|fujitsu.com|JP
Kabushiki Kaisha Toshiba|toshiba.co.jp|JP
Honda Motor Co., Ltd.|honda.com|JP
Samsung Electronics Co., Ltd.|samsung.com|KR
LG Electronics Inc.|lg.com|KR
Hyundai Motor Company|hyundai.com|KR
SK Hynix Inc.|skhynix.com|KR
Taiwan Semiconductor Manufacturing Company Limited|tsmc.com|TW
Hon Hai Precision Industry Co., Ltd.|foxconn.com|TW
Alibaba Group Holding Limited|alibabagroup.com|CN
Tencent Holdings Limited|tencent.com|CN
Huawei Technologies Co., Ltd.|huawei.com|CN
Lenovo Group Limited|lenovo.com|HK
Infosys Limited|infosys.com|IN
Tata Consultancy Services Limited|tcs.com|IN
Wipro Limited|wipro.com|IN
Reliance Industries Limited|ril.com|IN
BHP Group Limited|bhp.com|AU
Commonwealth Bank of Australia|commbank.com.au|AU
Atlassian Corporation|atlassian.com|AU
Woolworths Group Limited|woolworthsgroup.com.au|AU
Shopify Inc.|shopify.com|CA
Royal Bank of Canada|rbc.com|CA
Bank of Montreal|bmo.com|CA
Magna International Inc.|magna.com|CA
Bombardier Inc.|bombardier.com|CA
Naspers Limited|naspers.com|ZA
Sasol Limited|sasol.com|ZA
DBS Group Holdings Ltd|dbs.com|SG
Singapore Telecommunications Limited|singtel.com|SG
Petronas Dagangan Berhad|mymesra.com.my|MY
PT Astra International Tbk|astra.co.id|ID
OOO Yandex Technologies|yandex.com|RU
"""

# Confusable real-world pairs that are different companies (hard negatives).
CONFUSABLE_PAIRS = [
    ("American Airlines, Inc.", "American Express Company"),
    ("General Motors Company", "General Mills, Inc."),
    ("General Electric Company", "General Dynamics Corporation"),
    ("Microsoft Corporation", "Microsemi Corporation"),
    ("Delta Air Lines, Inc.", "Delta Dental Plans Association"),
    ("United Airlines Holdings", "United Technologies Corporation"),
    ("Johnson Controls International plc", "Johnson Matthey Plc"),
    ("Bank of America Corporation", "Bank of Montreal"),
    ("Royal Bank of Canada", "Royal Bank of Scotland plc"),
    ("Ford Motor Company", "Ford Foundation"),
    ("Dow Chemical Company", "Dow Jones & Company"),
    ("National Grid plc", "National Instruments Corporation"),
    ("Intel Corporation", "Intuit Inc."),
    ("Airbus SE", "Airbnb, Inc."),
    ("Unilever PLC", "Unisys Corporation"),
    ("Allianz SE", "Alliant Energy Corporation"),
    ("Deutsche Bank AG", "Deutsche Post AG"),
    ("Deutsche Telekom AG", "Deutsche Bahn AG"),
    ("China Mobile Limited", "China Unicom Limited"),
    ("Continental AG", "Continental Airlines, Inc."),
    ("Hilton Worldwide Holdings Inc.", "Hilton Food Group plc"),
    ("Adobe Inc.", "Adidas AG"),
    ("Sony Group Corporation", "Sonos, Inc."),
    ("Samsung Electronics Co., Ltd.", "Samsonite International S.A."),
    ("Siemens Healthineers AG", "Siemens Gamesa Renewable Energy"),
    ("Mitsubishi Electric Corporation", "Mitsubishi Motors Corporation"),
    ("Honda Motor Co., Ltd.", "Hyundai Motor Company"),
    ("Texas Instruments Incorporated", "Texas Roadhouse, Inc."),
    ("Southwest Airlines Co.", "Southwest Gas Holdings"),
    ("Pacific Gas and Electric Company", "Pacific Life Insurance Company"),
    ("Western Digital Corporation", "Western Union Company"),
    ("Northrop Grumman Corporation", "Northern Trust Corporation"),
    ("Capital One Financial", "Capital Group Companies"),
    ("First Solar, Inc.", "First Republic Bank"),
    ("Applied Materials, Inc.", "Applied Digital Corporation"),
    ("Advanced Micro Devices, Inc.", "Advanced Drainage Systems"),
    ("Electronic Arts Inc.", "Electronic Data Systems"),
    ("Universal Music Group", "Universal Health Services"),
    ("Standard Chartered PLC", "Standard Life Aberdeen"),
    ("Royal Caribbean Group", "Royal Mail plc"),
    ("Air France-KLM SA", "Air Canada"),
    ("Banco Santander, S.A.", "Banco Sabadell, S.A."),
    ("Credit Suisse Group AG", "Credit Agricole S.A."),
    ("Commerzbank AG", "Commonwealth Bank of Australia"),
    ("Nissan Motor Co., Ltd.", "Nisshin Seifun Group"),
    ("Oracle Corporation", "Orange S.A."),
    ("Cisco Systems, Inc.", "Sysco Corporation"),
    ("Marriott International", "Marathon Petroleum"),
    ("Mastercard Incorporated", "MasterBrand, Inc."),
    ("Pioneer Natural Resources", "Pioneer Electronic Corporation"),
]

LEGAL_SUFFIXES = {
    "US": [
        "Inc.",
        "Inc",
        "Incorporated",
        "Corp.",
        "Corporation",
        "LLC",
        "L.L.C.",
        "Co.",
        "Company",
    ],
    "GB": ["Ltd", "Ltd.", "Limited", "PLC", "plc", "LLP"],
    "DE": ["GmbH", "AG", "GmbH & Co. KG", "Aktiengesellschaft", "mbH", "KG", "SE"],
    "FR": ["S.A.", "SA", "SAS", "S.A.S.", "SARL", "Société Anonyme"],
    "IT": ["S.p.A.", "SpA", "S.r.l.", "Srl"],
    "ES": ["S.A.", "S.L.", "SL", "Sociedad Anónima"],
    "NL": ["B.V.", "BV", "N.V.", "NV"],
    "SE": ["AB", "Aktiebolag"],
    "DK": ["A/S", "ApS"],
    "FI": ["Oy", "Oyj"],
    "PL": ["Sp. z o.o.", "S.A."],
    "JP": ["K.K.", "Kabushiki Kaisha", "Co., Ltd."],
    "AU": ["Pty Ltd", "Pty. Ltd.", "Limited"],
    "SG": ["Pte Ltd", "Pte. Ltd."],
    "MY": ["Sdn Bhd", "Sdn. Bhd."],
}

FAKER_LOCALES = {
    "en_US": "US",
    "en_GB": "GB",
    "de_DE": "DE",
    "fr_FR": "FR",
    "it_IT": "IT",
    "es_ES": "ES",
    "nl_NL": "NL",
    "sv_SE": "SE",
    "da_DK": "DK",
    "fi_FI": "FI",
    "pl_PL": "PL",
    "en_AU": "AU",
}

# Distinct business words (pairs of these differ clearly).
BUSINESS_WORDS = [
    "Construction",
    "Media",
    "Logistics",
    "Pharmaceuticals",
    "Foods",
    "Robotics",
    "Aerospace",
    "Textiles",
    "Energy",
    "Insurance",
    "Furniture",
    "Brewing",
    "Analytics",
    "Plastics",
    "Shipping",
    "Dental",
    "Motors",
    "Realty",
    "Publishing",
    "Semiconductors",
    "Cosmetics",
    "Security",
    "Catering",
    "Aviation",
    "Chemicals",
    "Fashion",
    "Printing",
    "Optics",
    "Hospitality",
    "Telecom",
]
GENERIC_TAILS = [
    "Global Solutions",
    "International Services",
    "Technologies Group",
    "Consulting Partners",
    "Systems International",
    "Holdings",
    "Solutions",
    "Services",
    "Industries",
    "Capital Partners",
    "Digital Solutions",
    "Management Services",
]
ABBREVIATIONS = [
    ("International", "Intl"),
    ("International", "Int'l"),
    ("Technologies", "Tech"),
    ("Technology", "Tech"),
    ("Services", "Svcs"),
    ("Manufacturing", "Mfg"),
    ("Group", "Grp"),
    ("Holdings", "Hldgs"),
    ("Systems", "Sys"),
    ("Laboratories", "Labs"),
    ("Management", "Mgmt"),
    ("Associates", "Assoc"),
    ("Brothers", "Bros"),
    ("Centre", "Center"),
    ("National", "Natl"),
    (" and ", " & "),
    (" & ", " and "),
]
ABBREV_BASE_WORDS = [
    "International",
    "Technologies",
    "Services",
    "Manufacturing",
    "Systems",
    "Laboratories",
    "Management",
    "Associates",
    "Brothers",
]
FREE_MAIL = ["gmail.com", "outlook.com", "hotmail.co.uk", "yahoo.fr", "web.de", "icloud.com"]
ACCENT_MAP = {"a": "áàâä", "e": "éèêë", "i": "íï", "o": "óôö", "u": "úüù", "c": "ç", "n": "ñ"}


@dataclass(frozen=True)
class Entity:
    name: str  # raw name with its legal form
    base: str  # raw name without a legal form
    domain: str
    country: str


@dataclass
class Pair:
    kind: str
    label: str  # "match" | "nonmatch" | "review_only"
    a: dict = field(default_factory=dict)
    b: dict = field(default_factory=dict)


def _slug(text: str) -> str:
    norm = normalize_name(text)
    return re.sub(r"[^a-z0-9]", "", norm.replace(" ", "-"))[:30] or "co"


def _tld(country: str) -> str:
    return {
        "US": "com",
        "GB": "co.uk",
        "DE": "de",
        "FR": "fr",
        "IT": "it",
        "ES": "es",
        "NL": "nl",
        "SE": "se",
        "DK": "dk",
        "FI": "fi",
        "PL": "pl",
        "AU": "com.au",
        "JP": "co.jp",
    }.get(country, "com")


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


class Generator:
    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.fakers = {}
        for i, loc in enumerate(FAKER_LOCALES):
            f = Faker(loc)
            f.seed_instance(seed + i)
            self.fakers[loc] = f
        self.entities: list[Entity] = []
        self._norms: set[str] = set()

    # -- entity pool --------------------------------------------------------------------------

    def _add(self, name: str, base: str, domain: str, country: str) -> bool:
        norm = normalize_name(name)
        if not norm or norm in self._norms:
            return False
        self._norms.add(norm)
        self.entities.append(Entity(name, base, domain, country))
        return True

    def build_pool(self, n_faker: int = 2600) -> None:
        for line in HAND_LIST.strip().splitlines():
            name, domain, country = line.split("|")
            self._add(name, name, domain, country)
        locales = list(FAKER_LOCALES)
        rng = self.rng
        attempts = 0
        while len(self.entities) < n_faker + 200 and attempts < n_faker * 5:
            attempts += 1
            loc = locales[attempts % len(locales)]
            fk = self.fakers[loc]
            country = FAKER_LOCALES[loc]
            style = rng.random()
            if style < 0.35:
                base = fk.last_name()
                if rng.random() < 0.5:
                    base = f"{base} {rng.choice(BUSINESS_WORDS)}"
            elif style < 0.55:
                base = f"{fk.last_name()} {rng.choice(ABBREV_BASE_WORDS)}"
                if rng.random() < 0.4:
                    base += " " + rng.choice(["International", "Group", "Technologies"])
            elif style < 0.75:
                base = f"{fk.last_name()} & {fk.last_name()}"
            else:
                raw = fk.company()
                base = raw
            if len(_slug(base)) < 3:
                continue
            suffixes = LEGAL_SUFFIXES.get(country, LEGAL_SUFFIXES["US"])
            name = base if style >= 0.75 else f"{base} {rng.choice(suffixes)}"
            domain = f"{_slug(base)}.{_tld(country)}"
            self._add(name, base, domain, country)

    # -- perturbations ------------------------------------------------------------------------

    def _suffix_variant(self, e: Entity) -> str:
        suffixes = LEGAL_SUFFIXES.get(e.country, LEGAL_SUFFIXES["US"])
        sep = ", " if self.rng.random() < 0.5 else " "
        return f"{e.base}{sep}{self.rng.choice(suffixes)}"

    def _case_punct(self, name: str) -> str:
        r = self.rng.random()
        if r < 0.3:
            name = name.upper()
        elif r < 0.5:
            name = name.lower()
        elif r < 0.65:
            name = name.title()
        if self.rng.random() < 0.5:
            name = name.replace("-", " ") if "-" in name else name.replace(",", "")
        if self.rng.random() < 0.4:
            name = name.replace(".", "")
        if self.rng.random() < 0.3:
            name = "  " + name + " ."
        return name

    def _accents(self, name: str) -> str:
        stripped = _strip_accents(name)
        if stripped != name:
            return stripped
        chars = list(name)
        idx = [i for i, c in enumerate(chars) if c.lower() in ACCENT_MAP]
        self.rng.shuffle(idx)
        for i in idx[: self.rng.randint(1, 2)]:
            c = chars[i]
            rep = self.rng.choice(ACCENT_MAP[c.lower()])
            chars[i] = rep.upper() if c.isupper() else rep
        return "".join(chars)

    def _typo(self, name: str) -> str | None:
        words = name.split()
        cands = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
        if not cands:
            return None
        i = self.rng.choice(cands)
        w = words[i]
        op = self.rng.choice(["sub", "ins", "del", "swap"])
        p = self.rng.randrange(0, len(w) - 1)
        letters = "abcdefghijklmnopqrstuvwxyz"
        if op == "sub":
            w = w[:p] + self.rng.choice([c for c in letters if c != w[p].lower()]) + w[p + 1 :]
        elif op == "ins":
            w = w[:p] + self.rng.choice(letters) + w[p:]
        elif op == "del":
            w = w[:p] + w[p + 1 :]
        else:
            w = w[:p] + w[p + 1] + w[p] + w[p + 2 :]
        words[i] = w
        return " ".join(words)

    def _word_order(self, e: Entity) -> str | None:
        if " & " in e.base:
            x, y = e.base.split(" & ", 1)
            return f"{y} & {x}"
        words = e.base.split()
        if len(words) < 2:
            return None
        return " ".join(words[1:] + words[:1])

    def _abbreviate(self, name: str) -> str | None:
        options = [(x, y) for x, y in ABBREVIATIONS if x in name]
        if not options:
            return None
        out = name
        self.rng.shuffle(options)
        for x, y in options[: self.rng.randint(1, len(options))]:
            out = out.replace(x, y)
        return out if out != name else None

    def _site_form(self, domain: str) -> str:
        r = self.rng.random()
        if r < 0.25:
            return f"https://www.{domain}/"
        if r < 0.45:
            return f"http://{domain}/about-us?ref=partner#team"
        if r < 0.6:
            return f"WWW.{domain.upper()}"
        if r < 0.75:
            return f"https://shop.{domain}:443/en"
        return domain

    def _country_pair(self, e: Entity) -> tuple[str, str]:
        r = self.rng.random()
        if r < 0.6:
            return e.country, e.country
        if r < 0.8:
            return e.country, ""
        return "", ""

    # -- pairs --------------------------------------------------------------------------------

    def positives(self, n: int) -> list[Pair]:
        rng = self.rng
        out: list[Pair] = []
        kinds = [
            "suffix",
            "case_punct",
            "accents",
            "abbrev",
            "typo",
            "word_order",
            "domain_forms",
            "email_vs_site",
            "combo",
        ]
        guard = 0
        while len(out) < n and guard < n * 20:
            guard += 1
            kind = kinds[len(out) % len(kinds)]
            e = rng.choice(self.entities)
            ca, cb = self._country_pair(e)
            a = {"name": e.name, "country": ca}
            b: dict = {"country": cb}
            if kind == "suffix":
                b["name"] = self._suffix_variant(e)
            elif kind == "case_punct":
                b["name"] = self._case_punct(e.name)
            elif kind == "accents":
                b["name"] = self._accents(e.name)
            elif kind == "abbrev":
                v = self._abbreviate(e.name)
                if v is None:
                    continue
                b["name"] = v
            elif kind == "typo":
                v = self._typo(e.base)
                if v is None:
                    continue
                b["name"] = v
            elif kind == "word_order":
                v = self._word_order(e)
                if v is None:
                    continue
                b["name"] = v
            elif kind == "domain_forms":
                # Names may differ a lot (brand vs legal name); the website decides.
                b["name"] = rng.choice(
                    [self._case_punct(e.base), e.base.split()[0], self._suffix_variant(e)]
                )
                a["domain"] = self._site_form(e.domain)
                b["domain"] = self._site_form(e.domain)
            elif kind == "email_vs_site":
                b["name"] = rng.choice([e.base.split()[0], self._case_punct(e.name)])
                a["domain"] = self._site_form(e.domain)
                local = rng.choice(["jane.doe", "j.smith", "sales", "m.rossi"])
                sub = rng.choice(["", "mail.", "sales.", "eu."])
                b["email"] = f"{local}@{sub}{e.domain}"
            else:  # combo: suffix + case/punct + maybe accents or abbreviation
                v = self._suffix_variant(e)
                if rng.random() < 0.5:
                    v = self._abbreviate(v) or v
                if rng.random() < 0.5:
                    v = self._accents(v)
                b["name"] = self._case_punct(v)
            # Name-only positives must keep the distinctive words: if the variant normalises
            # to a strict subset of the original tokens, it is not a name-only positive.
            if "domain" not in b and "email" not in b:
                ta, tb = (
                    set(normalize_name(a["name"]).split()),
                    set(normalize_name(b["name"]).split()),
                )
                if tb < ta or ta < tb or not tb:
                    continue
                # Some name-only positives carry a website on one side (it cannot match).
                if rng.random() < 0.3:
                    a["domain"] = self._site_form(e.domain)
            if rng.random() < 0.5:
                a, b = b, a
            out.append(Pair(kind, "match", a, b))
        return out

    def negatives(self, n: int) -> list[Pair]:
        rng = self.rng
        out: list[Pair] = []
        ents = self.entities
        fk = self.fakers["en_US"]
        kinds = ["generic_words", "same_first_word", "free_mail", "random", "shares_key"]
        # Inverted index of the pool's blocking keys: "shares_key" negatives are the candidates
        # the engine would actually retrieve for a name (the realistic hard case).
        postings: dict[str, list[int]] = {}
        for idx, ent in enumerate(ents):
            for key in blocking_keys(normalize_name(ent.name)):
                postings.setdefault(key, []).append(idx)
        guard = 0
        conf_i = 0
        while len(out) < n and guard < n * 20:
            guard += 1
            # Each confusable real-world pair appears twice (as written, and re-cased).
            kind = (
                "confusable" if conf_i < 2 * len(CONFUSABLE_PAIRS) else kinds[len(out) % len(kinds)]
            )
            if kind == "generic_words":
                x, y = fk.last_name(), fk.last_name()
                tail = rng.choice(GENERIC_TAILS)
                suf = rng.choice(LEGAL_SUFFIXES["US"] + LEGAL_SUFFIXES["GB"])
                a = {"name": f"{x} {tail} {suf}", "country": "US"}
                b = {"name": f"{y} {tail}", "country": rng.choice(["US", ""])}
            elif kind == "same_first_word":
                x = fk.last_name()
                w1, w2 = rng.sample(BUSINESS_WORDS, 2)
                a = {"name": f"{x} {w1} Inc.", "domain": f"{_slug(x + w1)}.com", "country": "US"}
                b = {"name": f"{x} {w2} LLC", "country": rng.choice(["US", ""])}
            elif kind == "free_mail":
                e1, e2 = rng.sample(ents, 2)
                fm = rng.choice(FREE_MAIL)
                a = {"name": e1.name, "email": f"contact@{fm}", "country": e1.country}
                b = {"name": e2.name, "email": f"info.desk@{fm}", "country": e2.country}
                if rng.random() < 0.5:
                    b["domain"] = f"https://www.{fm}/"
            elif kind == "confusable":
                x, y = CONFUSABLE_PAIRS[conf_i % len(CONFUSABLE_PAIRS)]
                conf_i += 1
                if conf_i > len(CONFUSABLE_PAIRS):
                    x, y = self._case_punct(x), y
                a = {"name": x, "country": rng.choice(["US", ""])}
                b = {"name": y, "country": ""}
            elif kind == "shares_key":
                i1 = rng.randrange(len(ents))
                keys = sorted(blocking_keys(normalize_name(ents[i1].name)))
                cands = sorted({j for k in keys for j in postings.get(k, ()) if j != i1})
                if not cands:
                    continue
                e1, e2 = ents[i1], ents[rng.choice(cands)]
                a = {"name": e1.name, "country": rng.choice([e1.country, ""])}
                b = {"name": self._case_punct(e2.name), "country": rng.choice([e2.country, ""])}
            else:
                e1, e2 = rng.sample(ents, 2)
                a = {"name": e1.name, "domain": e1.domain, "country": e1.country}
                b = {"name": self._case_punct(e2.name), "country": e2.country}
                if rng.random() < 0.5:
                    b["domain"] = self._site_form(e2.domain)
            na, nb = normalize_name(a["name"]), normalize_name(b["name"])
            # Names that normalise identically cannot be told apart by name: not a negative.
            if na == nb or _slug(na) == _slug(nb):
                continue
            dom_a = a.get("domain", "")
            dom_b = b.get("domain", "")
            if dom_a and dom_b and _host_key(dom_a) == _host_key(dom_b) and kind != "free_mail":
                continue
            out.append(Pair(kind, "nonmatch", a, b))
        return out

    def country_pairs(self, n: int) -> list[Pair]:
        rng = self.rng
        out: list[Pair] = []
        countries = ["US", "GB", "DE", "FR", "JP", "BR", "IN", "AU"]
        while len(out) < n:
            e = rng.choice(self.entities)
            other = rng.choice([c for c in countries if c != e.country])
            a = {"name": e.name, "country": e.country}
            b = {"name": self._suffix_variant(e), "country": other}
            if rng.random() < 0.3:
                a["domain"] = e.domain
                b["domain"] = e.domain
            out.append(Pair("same_name_other_country", "review_only", a, b))
        return out


def _host_key(value: str) -> str:
    v = re.sub(r"^[a-z]+://", "", value.lower())
    v = v.split("/")[0].split(":")[0]
    if v.startswith("www."):
        v = v[4:]
    return v


def generate(
    seed: int = SEED, n_pos: int = 2700, n_neg: int = 3000, n_country: int = 200
) -> list[Pair]:
    gen = Generator(seed)
    gen.build_pool()
    pairs = gen.positives(n_pos) + gen.negatives(n_neg) + gen.country_pairs(n_country)
    return pairs
