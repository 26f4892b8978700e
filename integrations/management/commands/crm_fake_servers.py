"""Development only: run the tests' fake Salesforce and HubSpot servers (TLS, 127.0.0.1) for a
demo of the CRM connectors (docs/crm.md "Trying it locally"). Needs the dev extra
(pytest-httpserver)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand

HELP = """commands:
  list                      the Opportunities / deals the servers hold
  won ID [AMOUNT]           close an Opportunity (Salesforce id) or deal (HubSpot id) won
  lost ID                   close it lost
  delete ID                 delete it (getDeleted / archived)
  quit"""


class Command(BaseCommand):
    help = "Run the fake Salesforce and HubSpot servers of the tests (development only)."

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=20)

    def handle(self, *args, **options):
        from tests.integrations.crm.fakes import FakeHubSpot, FakeSalesforce, make_tls

        folder = Path(tempfile.mkdtemp(prefix="crm-fakes-"))
        cert, key = make_tls(folder)
        sf = FakeSalesforce(cert, key).start()
        hs = FakeHubSpot(cert, key).start()
        for n in range(options["records"]):
            sf.put(
                {
                    "Name": f"Demo deal {n}",
                    "Account.Name": f"Demo Account {n} GmbH",
                    "Account.Website": f"https://www.demo{n}-account.com",
                    "Account.BillingCountryCode": "DE",
                    "Owner.Email": "rep@dealbridge.example",
                    "Amount": 10_000 + n,
                    "CurrencyIsoCode": "EUR",
                    "StageName": "Prospecting",
                    "CloseDate": "2026-12-31",
                }
            )
            hs.put(
                {
                    "dealname": f"Demo Company {n} Inc",
                    "domain": f"demo{n}-company.com",
                    "country": "US",
                    "owner_email": "rep@dealbridge.example",
                    "amount": str(20_000 + n),
                    "deal_currency_code": "USD",
                    "dealstage": "appointmentscheduled",
                    "closedate": "2026-12-31T00:00:00.000Z",
                }
            )
        self.stdout.write(
            f"Salesforce: {sf.url}  (auth URL; client id client-1, client secret secret-1, "
            "refresh token refresh-1)\n"
            f"HubSpot:    {hs.url}  (auth URL; private-app token "
            f"{next(iter(hs.private_tokens))}; OAuth client-1 / secret-1)\n"
            f"CA bundle:  {cert}  (start the app with CRM_CA_BUNDLE={cert})\n\n{HELP}"
        )
        try:
            for line in sys.stdin:
                self._command(line.split(), sf, hs)
            while True:  # stdin closed (run in the background): serve until stopped
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            sf.stop()
            hs.stop()

    def _command(self, words, sf, hs):
        if not words:
            return
        verb, rest = words[0], words[1:]
        if verb == "quit":
            raise KeyboardInterrupt
        if verb == "list":
            for record in sf.objects["Opportunity"].values():
                self.stdout.write(
                    f"SF {record['Id']}  {record.get('Name')}  {record.get('StageName')}"
                )
            for deal_id, props in hs.deals.items():
                self.stdout.write(
                    f"HS {deal_id}  {props.get('dealname')}  {props.get('dealstage')}"
                )
            return
        if verb in ("won", "lost", "delete") and rest:
            record_id = rest[0]
            if record_id in sf.objects["Opportunity"]:
                if verb == "delete":
                    sf.delete(record_id)
                else:
                    fields = {
                        "Id": record_id,
                        "StageName": "Closed Won" if verb == "won" else "Closed Lost",
                    }
                    if len(rest) > 1:
                        fields["Amount"] = float(rest[1])
                    sf.put(fields)
            elif record_id in hs.deals:
                if verb == "delete":
                    hs.archive(record_id)
                else:
                    props = {"dealstage": "closedwon" if verb == "won" else "closedlost"}
                    if len(rest) > 1:
                        props["amount"] = rest[1]
                    hs.put(props, deal_id=record_id)
            else:
                self.stdout.write("unknown id")
                return
            self.stdout.write("done")
            return
        self.stdout.write(HELP)
