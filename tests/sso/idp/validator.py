import json

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator


def person(username: str) -> dict:
    with open(settings.IDP_USERS_FILE) as handle:
        return json.load(handle).get(username, {})


class Validator(OAuth2Validator):
    # Standard claims plus `amr` (RFC 8176), released with the openid scope.
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "amr": "openid"}

    def get_additional_claims(self, request):
        data = person(request.user.username)
        return {
            "email": data.get("email", request.user.username),
            "email_verified": data.get("email_verified", True),
            "name": data.get("name", ""),
            "amr": data.get("amr", ["pwd"]),
        }
