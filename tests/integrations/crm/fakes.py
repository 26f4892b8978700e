"""Local stand-ins for the documented subset of the Salesforce REST API and HubSpot's CRM v3
API, served over TLS on 127.0.0.1 (simple-salesforce only speaks https) by pytest-httpserver.

Response bodies follow the vendors' documentation:
- Salesforce: OAuth 2.0 token endpoint (refresh_token, authorization_code, JWT bearer grants;
  `{"access_token","instance_url","id","token_type","issued_at","signature"}` or
  `{"error","error_description"}`), SOQL `query` + `queryMore` (`totalSize`, `done`,
  `nextRecordsUrl`, `records` with `attributes`), sObject `deleted` (`deletedRecords`,
  `earliestDateAvailable`, `latestDateCovered`), sObject create (201 `{"id","success","errors"}`)
  and update (204), errors as `[{"message","errorCode","fields"}]`, 401 INVALID_SESSION_ID.
- HubSpot: `POST /crm/v3/objects/deals/search` (`total`, `results`, `paging.next.after`; 400
  past 10,000 results), `GET /crm/v3/objects/deals?archived=true`, `POST .../batch/read`
  (`status`, `results`, `startedAt`, `completedAt`), create/update, `POST /oauth/v1/token`,
  errors as `{"status":"error","message","correlationId","category"}`.

Faults are injected per path prefix: `fail(path, status, times, headers)`; every request is
counted per path (`hits`). Used by the tests, the benchmark and `manage.py crm_fake_servers`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import json
import re
import ssl
import tempfile
import threading
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

API = "59.0"
UTC = dt.UTC


def make_tls(directory: Path | None = None) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (also its own CA): (cert path, key path)."""
    directory = Path(directory or tempfile.mkdtemp(prefix="crm-tls-"))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def rsa_keypair() -> tuple[str, str]:
    """(private PEM, public PEM) for the JWT bearer flow."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _json(body, status=200, headers=None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def _consent(request: Request) -> Response:
    """The vendor's consent page, consenting at once: back to redirect_uri with a code."""
    from urllib.parse import urlencode

    target = request.args["redirect_uri"]
    query = urlencode({"code": "code-1", "state": request.args.get("state", "")})
    return Response(status=302, headers={"Location": f"{target}?{query}"})


class FakeBase:
    def __init__(self, cert: str, key: str):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context, threaded=True)
        self.lock = threading.RLock()
        self.hits: Counter[str] = Counter()
        self.faults: dict[str, list[tuple[int, dict, int]]] = defaultdict(list)
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = {"refresh-1"}
        self.clients = {"client-1": "secret-1"}
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._dispatch)

    def start(self) -> FakeBase:
        self.server.start()
        return self

    def stop(self) -> None:
        if self.server.is_running():
            self.server.clear()
            self.server.stop()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"

    def fail(self, path: str, status: int, times: int = 1, headers: dict | None = None) -> None:
        """The next `times` requests whose path starts with `path` answer `status`."""
        with self.lock:
            self.faults[path].append((status, headers or {}, times))

    def _fault(self, path: str) -> tuple[int, dict] | None:
        with self.lock:
            for prefix, queue in self.faults.items():
                if path.startswith(prefix) and queue:
                    status, headers, times = queue[0]
                    if times <= 1:
                        queue.pop(0)
                    else:
                        queue[0] = (status, headers, times - 1)
                    return status, headers
        return None

    def _dispatch(self, request: Request) -> Response:
        with self.lock:
            self.hits[request.path] += 1
        fault = self._fault(request.path)
        if fault is not None:
            return self.fault_response(*fault)
        return self.handle(request)

    def fault_response(self, status: int, headers: dict) -> Response:
        raise NotImplementedError

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def bearer(self, request: Request) -> bool:
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.access_tokens

    def expire_tokens(self) -> None:
        with self.lock:
            self.access_tokens.clear()


# --- Salesforce ---------------------------------------------------------------------------------


def sf_time(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _sf_parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


SOQL = re.compile(
    r"^SELECT (?P<fields>.+?) FROM (?P<object>\w+)"
    r"(?: WHERE (?P<where>.+?))?(?: ORDER BY (?P<order>.+?))?(?: LIMIT (?P<limit>\d+))?$",
    re.IGNORECASE,
)


class FakeSalesforce(FakeBase):
    """Opportunities (flat dicts with dotted relationship fields), Leads, deletions."""

    BATCH = 2000

    def __init__(self, cert: str, key: str, *, batch: int = 2000):
        super().__init__(cert, key)
        self.BATCH = batch
        self.objects: dict[str, dict[str, dict]] = {"Opportunity": {}, "Lead": {}}
        self.deleted: list[tuple[str, dt.datetime]] = []
        self.cursors: dict[str, tuple[list[dict], list[str], str]] = {}
        self.jwt_public_key: str | None = None
        self.jwt_subject = "integration@example.com"
        self.ids = itertools.count(1)
        self.clock = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def tick(self) -> dt.datetime:
        self.clock += dt.timedelta(milliseconds=1)
        return self.clock

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.ids):015d}"

    def put(
        self, fields: dict, *, object_type: str = "Opportunity", at: dt.datetime | None = None
    ) -> str:
        """Create or change a record (SystemModstamp moves)."""
        with self.lock:
            record_id = fields.get("Id") or self.new_id(
                "006" if object_type == "Opportunity" else "00Q"
            )
            record = {**self.objects[object_type].get(record_id, {}), **fields, "Id": record_id}
            record["SystemModstamp"] = sf_time(at or self.tick())
            self.objects[object_type][record_id] = record
            return record_id

    def delete(self, record_id: str, at: dt.datetime | None = None) -> None:
        with self.lock:
            self.objects["Opportunity"].pop(record_id, None)
            self.deleted.append((record_id, at or self.tick()))

    def fault_response(self, status, headers):
        if status == 401:
            return _json(
                [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], 401
            )
        return _json(
            [{"message": "Service Unavailable", "errorCode": "SERVER_UNAVAILABLE"}], status, headers
        )

    def handle(self, request: Request) -> Response:
        path = request.path
        if path == "/services/oauth2/token":
            return self.token(request)
        if path == "/services/oauth2/authorize":
            return _consent(request)
        if not self.bearer(request):
            return _json(
                [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], 401
            )
        base = f"/services/data/v{API}/"
        if path == base + "query/":
            return self.query(request.args["q"])
        if path.startswith(base + "query/"):
            return self.query_more(path.rsplit("/", 1)[1])
        match = re.fullmatch(re.escape(base) + r"sobjects/(\w+)/(.*)", path)
        if match:
            object_type, rest = match.groups()
            if rest == "deleted/":
                return self.get_deleted(request)
            if request.method == "POST" and rest == "":
                return self.create(object_type, request.get_json())
            if request.method == "PATCH" and rest:
                return self.update(object_type, rest.strip("/"), request.get_json())
        return _json(
            [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}], 404
        )

    # OAuth 2.0 token endpoint
    def token(self, request: Request) -> Response:
        form = request.form
        grant = form.get("grant_type")
        bad = _json(
            {"error": "invalid_grant", "error_description": "expired access/refresh token"}, 400
        )
        refresh = None
        if grant == "refresh_token":
            if self.clients.get(form.get("client_id")) != form.get("client_secret"):
                return _json(
                    {"error": "invalid_client", "error_description": "invalid client credentials"},
                    400,
                )
            if form.get("refresh_token") not in self.refresh_tokens:
                return bad
        elif grant == "authorization_code":
            if form.get("code") != "code-1" or self.clients.get(form.get("client_id")) != form.get(
                "client_secret"
            ):
                return bad
            refresh = "refresh-1"
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                claims = jwt.decode(
                    form.get("assertion", ""),
                    self.jwt_public_key or "",
                    algorithms=["RS256"],
                    audience=self.url,
                )
            except jwt.PyJWTError:
                return _json(
                    {"error": "invalid_grant", "error_description": "invalid assertion"}, 400
                )
            if claims.get("iss") not in self.clients or claims.get("sub") != self.jwt_subject:
                return _json(
                    {
                        "error": "invalid_grant",
                        "error_description": "user hasn't approved this consumer",
                    },
                    400,
                )
        else:
            return _json(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
                400,
            )
        token = "00D" + uuid.uuid4().hex
        with self.lock:
            self.access_tokens.add(token)
        body = {
            "access_token": token,
            "instance_url": self.url,
            "id": f"{self.url}/id/00Dxx0000001gEREAY/005xx000001SwiUAAS",
            "token_type": "Bearer",
            "issued_at": str(int(dt.datetime.now(UTC).timestamp() * 1000)),
            "signature": "CMJ4l+CCaPQiKjoOEwEig9H4wqhpuLSk4J2urAe+fVg=",
            "scope": "api refresh_token",
        }
        if refresh:
            body["refresh_token"] = refresh
        return _json(body)

    # SOQL
    def _shape(self, object_type: str, record: dict, fields: list[str]) -> dict:
        out: dict = {
            "attributes": {
                "type": object_type,
                "url": f"/services/data/v{API}/sobjects/{object_type}/{record['Id']}",
            }
        }
        for name in fields:
            parts = name.split(".")
            node = out
            for part in parts[:-1]:
                if part not in node:
                    node[part] = {
                        "attributes": {
                            "type": part,
                            "url": f"/services/data/v{API}/sobjects/{part}/001",
                        }
                    }
                node = node[part]
            node[parts[-1]] = record.get(name)
        return out

    def query(self, soql: str) -> Response:
        match = SOQL.match(soql.strip())
        if not match:
            return _json(
                [{"message": f"unexpected token: {soql[:40]}", "errorCode": "MALFORMED_QUERY"}], 400
            )
        fields = [f.strip() for f in match["fields"].split(",")]
        object_type = match["object"]
        with self.lock:
            rows = list(self.objects.get(object_type, {}).values())
        where = match["where"] or ""
        since = re.fullmatch(r"SystemModstamp >= (\S+)", where)
        ids = re.fullmatch(r"Id IN \((.*)\)", where)
        if since:
            limit = _sf_parse(since.group(1))
            rows = [
                r
                for r in rows
                if _sf_parse(r["SystemModstamp"].replace("+0000", "+00:00")) >= limit
            ]
        elif ids:
            wanted = {x.strip().strip("'") for x in ids.group(1).split(",")}
            rows = [r for r in rows if r["Id"] in wanted]
        elif where:
            return _json(
                [{"message": f"unsupported WHERE {where}", "errorCode": "MALFORMED_QUERY"}], 400
            )
        if match["order"]:
            rows.sort(key=lambda r: (r["SystemModstamp"], r["Id"]))
        cursor = "01g" + uuid.uuid4().hex[:15]
        with self.lock:
            self.cursors[cursor] = (rows, fields, object_type)
        return self._page(cursor, 0)

    def _page(self, cursor: str, offset: int) -> Response:
        rows, fields, object_type = self.cursors[cursor]
        chunk = rows[offset : offset + self.BATCH]
        done = offset + self.BATCH >= len(rows)
        body = {
            "totalSize": len(rows),
            "done": done,
            "records": [self._shape(object_type, r, fields) for r in chunk],
        }
        if not done:
            body["nextRecordsUrl"] = f"/services/data/v{API}/query/{cursor}-{offset + self.BATCH}"
        return _json(body)

    def query_more(self, locator: str) -> Response:
        cursor, _, offset = locator.rpartition("-")
        if cursor not in self.cursors:
            return _json(
                [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}], 400
            )
        return self._page(cursor, int(offset))

    def get_deleted(self, request: Request) -> Response:
        start = _sf_parse(request.args["start"])
        end = _sf_parse(request.args["end"])
        with self.lock:
            rows = [(i, at) for i, at in self.deleted if start <= at <= end]
        return _json(
            {
                "deletedRecords": [{"id": i, "deletedDate": sf_time(at)} for i, at in rows],
                "earliestDateAvailable": sf_time(self.clock - dt.timedelta(days=15)),
                "latestDateCovered": sf_time(end),
            }
        )

    REQUIRED = {"Opportunity": ("Name", "StageName", "CloseDate"), "Lead": ("LastName", "Company")}

    def _missing(self, object_type: str, record: dict) -> Response | None:
        missing = [f for f in self.REQUIRED.get(object_type, ()) if not record.get(f)]
        if missing:
            return _json(
                [
                    {
                        "message": f"Required fields are missing: [{', '.join(missing)}]",
                        "errorCode": "REQUIRED_FIELD_MISSING",
                        "fields": missing,
                    }
                ],
                400,
            )
        return None

    def create(self, object_type: str, body: dict) -> Response:
        problem = self._missing(object_type, body)
        if problem:
            return problem
        record_id = self.put(
            {k: v for k, v in body.items() if v is not None}, object_type=object_type
        )
        return _json({"id": record_id, "success": True, "errors": []}, 201)

    def update(self, object_type: str, record_id: str, body: dict) -> Response:
        if record_id not in self.objects.get(object_type, {}):
            return _json(
                [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}],
                404,
            )
        self.put({**body, "Id": record_id}, object_type=object_type)
        return Response(status=204)


# --- HubSpot ------------------------------------------------------------------------------------


def hs_time(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FakeHubSpot(FakeBase):
    SEARCH_LIMIT = 10_000

    def __init__(self, cert: str, key: str):
        super().__init__(cert, key)
        self.private_tokens = {"pat-na1-11111111-2222-3333-4444-555555555555"}
        self.deals: dict[str, dict] = {}
        self.archived: dict[str, tuple[dict, dt.datetime]] = {}
        self.ids = itertools.count(1000)
        self.clock = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self.created_at: dict[str, dt.datetime] = {}

    def tick(self) -> dt.datetime:
        self.clock += dt.timedelta(milliseconds=1)
        return self.clock

    def put(
        self, properties: dict, *, deal_id: str | None = None, at: dt.datetime | None = None
    ) -> str:
        with self.lock:
            deal_id = deal_id or str(next(self.ids))
            when = at or self.tick()
            self.created_at.setdefault(deal_id, when)
            props = {**self.deals.get(deal_id, {}), **{k: str(v) for k, v in properties.items()}}
            props["hs_object_id"] = deal_id
            props["hs_lastmodifieddate"] = hs_time(when)
            props.setdefault("createdate", hs_time(self.created_at[deal_id]))
            self.deals[deal_id] = props
            return deal_id

    def archive(self, deal_id: str, at: dt.datetime | None = None) -> None:
        with self.lock:
            props = self.deals.pop(deal_id)
            self.archived[deal_id] = (props, at or self.tick())

    def bearer(self, request: Request) -> bool:
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and (
            auth[7:] in self.access_tokens or auth[7:] in self.private_tokens
        )

    def expire_tokens(self) -> None:
        with self.lock:
            self.access_tokens.clear()
            self.private_tokens.clear()

    def _error(self, status: int, message: str, category: str, headers=None) -> Response:
        body = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
        }
        if status == 429:
            body.update({"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"})
        return _json(body, status, headers)

    def fault_response(self, status, headers):
        if status == 429:
            return self._error(
                429, "You have reached your ten_secondly_rolling limit.", "RATE_LIMITS", headers
            )
        if status == 401:
            return self._error(
                401, "Authentication credentials not found.", "INVALID_AUTHENTICATION"
            )
        return self._error(status, "Service unavailable", "SERVICE_UNAVAILABLE", headers)

    def _object(
        self, deal_id: str, props: dict, wanted: list[str] | None, archived_at=None
    ) -> dict:
        base = {"hs_object_id", "hs_lastmodifieddate", "createdate"}
        keep = base | set(wanted or [])
        body = {
            "id": deal_id,
            "properties": {k: v for k, v in props.items() if k in keep},
            "createdAt": props.get("createdate"),
            "updatedAt": props.get("hs_lastmodifieddate"),
            "archived": archived_at is not None,
        }
        if archived_at is not None:
            body["archivedAt"] = hs_time(archived_at)
        return body

    def handle(self, request: Request) -> Response:
        path = request.path
        if path == "/oauth/v1/token":
            return self.token(request)
        if path == "/oauth/authorize":
            return _consent(request)
        if not self.bearer(request):
            return self._error(
                401, "Authentication credentials not found.", "INVALID_AUTHENTICATION"
            )
        if path == "/crm/v3/objects/deals/search" and request.method == "POST":
            return self.search(request.get_json())
        if path == "/crm/v3/objects/deals/batch/read" and request.method == "POST":
            return self.batch_read(request.get_json())
        if path == "/crm/v3/objects/deals" and request.method == "GET":
            return self.list_page(request)
        if path == "/crm/v3/objects/deals" and request.method == "POST":
            body = request.get_json()
            deal_id = self.put(body.get("properties") or {})
            return _json(
                self._object(deal_id, self.deals[deal_id], list(body.get("properties") or {})), 201
            )
        match = re.fullmatch(r"/crm/v3/objects/deals/(\d+)", path)
        if match and request.method == "PATCH":
            deal_id = match.group(1)
            if deal_id not in self.deals:
                return self._error(404, "resource not found", "OBJECT_NOT_FOUND")
            props = (request.get_json() or {}).get("properties") or {}
            self.put(props, deal_id=deal_id)
            return _json(self._object(deal_id, self.deals[deal_id], list(props)))
        return self._error(404, "resource not found", "OBJECT_NOT_FOUND")

    def token(self, request: Request) -> Response:
        form = request.form
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") not in self.refresh_tokens
        ):
            return _json(
                {
                    "status": "BAD_REFRESH_TOKEN",
                    "message": "missing or unknown refresh token",
                    "correlationId": str(uuid.uuid4()),
                },
                400,
            )
        if self.clients.get(form.get("client_id")) != form.get("client_secret"):
            return _json(
                {
                    "status": "BAD_CLIENT_ID",
                    "message": "missing or unknown client id",
                    "correlationId": str(uuid.uuid4()),
                },
                400,
            )
        token = "CJ" + uuid.uuid4().hex
        with self.lock:
            self.access_tokens.add(token)
        return _json(
            {
                "token_type": "bearer",
                "refresh_token": form["refresh_token"],
                "access_token": token,
                "expires_in": 1800,
            }
        )

    def search(self, body: dict) -> Response:
        limit = min(int(body.get("limit") or 10), 200)
        after = int(body.get("after") or 0)
        if after + limit > self.SEARCH_LIMIT:
            return self._error(
                400, "Paging beyond 10000 results is not supported.", "VALIDATION_ERROR"
            )
        with self.lock:
            rows = list(self.deals.items())
        for group in body.get("filterGroups") or []:
            for flt in group.get("filters") or []:
                if (
                    flt.get("propertyName") == "hs_lastmodifieddate"
                    and flt.get("operator") == "GTE"
                ):
                    since = dt.datetime.fromtimestamp(int(flt["value"]) / 1000, tz=UTC)
                    rows = [
                        (i, p)
                        for i, p in rows
                        if dt.datetime.fromisoformat(
                            p["hs_lastmodifieddate"].replace("Z", "+00:00")
                        )
                        >= since
                    ]
        rows.sort(key=lambda item: (item[1]["hs_lastmodifieddate"], int(item[0])))
        chunk = rows[after : after + limit]
        out = {
            "total": len(rows),
            "results": [self._object(i, p, body.get("properties")) for i, p in chunk],
        }
        if after + limit < len(rows):
            out["paging"] = {
                "next": {"after": str(after + limit), "link": f"?after={after + limit}"}
            }
        return _json(out)

    def list_page(self, request: Request) -> Response:
        archived = request.args.get("archived", "").lower() == "true"
        limit = min(int(request.args.get("limit") or 10), 100)
        after = int(request.args.get("after") or 0)
        with self.lock:
            rows = (
                [(i, p, at) for i, (p, at) in self.archived.items()]
                if archived
                else [(i, p, None) for i, p in self.deals.items()]
            )
        rows.sort(key=lambda r: int(r[0]))
        chunk = rows[after : after + limit]
        out = {"results": [self._object(i, p, None, at) for i, p, at in chunk]}
        if after + limit < len(rows):
            out["paging"] = {
                "next": {"after": str(after + limit), "link": f"?after={after + limit}"}
            }
        return _json(out)

    def batch_read(self, body: dict) -> Response:
        started = hs_time(dt.datetime.now(UTC))
        wanted = body.get("properties") or []
        results = [
            self._object(x["id"], self.deals[x["id"]], wanted)
            for x in body.get("inputs") or []
            if x.get("id") in self.deals
        ]
        return _json(
            {
                "status": "COMPLETE",
                "results": results,
                "startedAt": started,
                "completedAt": hs_time(dt.datetime.now(UTC)),
            }
        )
