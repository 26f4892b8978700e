"""Add people and OAuth clients to the test identity provider: `python -m tests.sso.idp.setup
'<json>'` with {"people": [{"username", "password"}], "clients": [{"client_id",
"client_secret", "redirect_uris": [...]}]} (run with the provider's settings)."""

import json
import sys

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from oauth2_provider.models import Application  # noqa: E402


def main(spec: dict) -> None:
    for person in spec.get("people", []):
        user, _ = User.objects.get_or_create(username=person["username"])
        user.set_password(person["password"])
        user.save()
    for client in spec.get("clients", []):
        Application.objects.filter(client_id=client["client_id"]).delete()
        Application.objects.create(
            name=client["client_id"],
            client_id=client["client_id"],
            client_secret=client["client_secret"],
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(client["redirect_uris"]),
            algorithm=Application.RS256_ALGORITHM,
            skip_authorization=True,
        )


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
