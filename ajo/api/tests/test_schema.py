"""The OpenAPI schema is valid and typed, Swagger UI works offline, CORS follows settings."""

import re

import pytest
from django.core.management import call_command

from ajo.api.fields import ADDRESS_PATTERN, TOTAL_PATTERN, UINT256_PATTERN


def test_schema_validates_without_warnings(tmp_path):
    # Raises (and fails the test) on any warning or an invalid OpenAPI document.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert (tmp_path / "s.yml").read_text().startswith("openapi: 3.0")


@pytest.fixture
def schema(client, db):  # every API answer reads the index version (X-Indexed-Block)
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_amounts_and_addresses_are_typed_strings(schema):
    components = schema["components"]["schemas"]
    group = components["GroupDetail"]["properties"]
    for name in ("contribution_amount", "pot"):
        assert group[name]["type"] == "string"
        assert (group[name]["pattern"], group[name]["maxLength"]) == (UINT256_PATTERN, 78)
    # totals add up every round and group: wider than one amount (below 2**320, 97 digits)
    totals = [group["total_contributed"], group["total_paid_out"]]
    totals += [
        components["User"]["properties"][name] for name in ("total_contributed", "total_received")
    ]
    totals.append(components["Membership"]["properties"]["total_contributed"])
    for total in totals:
        assert (total["type"], total["pattern"], total["maxLength"]) == (
            "string",
            TOTAL_PATTERN,
            97,
        )
        assert re.fullmatch(total["pattern"].strip("^$"), str(2**320 - 1))
    assert group["creator"]["pattern"] == ADDRESS_PATTERN
    assert components["Token"]["properties"]["address"]["pattern"] == ADDRESS_PATTERN
    assert components["Contribution"]["properties"]["amount"]["pattern"] == UINT256_PATTERN
    assert components["Membership"]["properties"]["payout_amount"]["nullable"] is True


def test_every_field_has_a_type(schema):
    untyped = []

    def walk(node, path):
        if isinstance(node, dict):
            if "properties" in node:
                for name, prop in node["properties"].items():
                    if not ({"type", "$ref", "allOf", "oneOf", "anyOf"} & set(prop)):
                        untyped.append(f"{path}.{name}")
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(schema, "")
    assert untyped == []


def test_every_operation_documents_the_error_envelope(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            error = operation["responses"]["400"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}, (method, path)


def test_swagger_ui_is_served_without_internet(client, settings, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    external = [u for u in re.findall(r'(?:src|href)="([^"]+)"', html) if "://" in u]
    assert external == []
    init_script = re.search(r'<script src="([^"]*api/docs/\?script=[^"]*)"', html)
    assert init_script, "Swagger UI's init script must be a file (strict CSP: no inline script)"


@pytest.mark.django_db
def test_cors_allows_only_the_configured_origins(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]
    allowed = client.get("/api/groups/", headers={"Origin": "https://app.example"})
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example"
    other = client.get("/api/groups/", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other


def test_browsable_api_is_off_without_debug(client, db):
    response = client.get("/api/groups/", headers={"Accept": "text/html"})
    assert response["Content-Type"] == "application/json"
