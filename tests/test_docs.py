"""The documentation the mock serves: the bundled OpenAPI document and Swagger UI, no token, no CDN.

scripts/check_docs_page.py renders the page in a real browser; these tests hold what the page needs.
"""

from __future__ import annotations

import json
import re

import pytest
from flask.testing import FlaskClient
from listing import RESOURCE

import schemas
from mockserver.api import docs

DOCUMENT = "/api/v1/openapi.json"
CONTRACT_DOCUMENT = "/api/v1/contract.openapi.json"
PAGE = "/api/v1/docs"
CONTENT_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}


def loaded_urls(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}],
                         ids=["no-token", "bad-token"])
def test_the_bundled_document_is_served_without_a_token(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.get(DOCUMENT, headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == schemas.bundled_openapi()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}],
                         ids=["no-token", "bad-token"])
def test_the_contract_document_is_served_beside_it_without_a_token(client: FlaskClient,
                                                                   headers: dict[str, str]) -> None:
    response = client.get(CONTRACT_DOCUMENT, headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == schemas.bundled_contract_openapi()
    assert response.get_json() != client.get(DOCUMENT).get_json()


def test_the_served_document_points_try_it_out_at_this_server(client: FlaskClient) -> None:
    document = client.get(DOCUMENT).get_json()
    assert document["servers"][0]["url"] == "/api/v1"
    assert all(ref.startswith("#/") for ref in re.findall(r'"\$ref":\s*"([^"]+)"', json.dumps(document)))


@pytest.mark.parametrize("path", [PAGE, PAGE + "/"])
def test_the_page_is_swagger_ui_on_our_document(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<div id="swagger-ui"></div>' in page
    assert f'"url": "{DOCUMENT}"' in page
    assert '"validatorUrl": null' in page  # no online validator badge
    assert "<title>Inventory Device Diags</title>" in page


def test_the_page_loads_nothing_from_another_host(client: FlaskClient) -> None:
    page = client.get(PAGE).get_data(as_text=True)
    urls = loaded_urls(page)
    assert {url.rsplit("/", 1)[-1] for url in urls} == set(docs.ASSETS)
    assert all(url.startswith(PAGE + "/") for url in urls)
    assert "//" not in "".join(urls) and "http" not in page.lower().replace("text/html", "")


@pytest.mark.parametrize("name", docs.ASSETS)
def test_each_asset_is_the_packaged_file_served_without_a_token(client: FlaskClient, name: str) -> None:
    response = client.get(f"{PAGE}/{name}")
    assert response.status_code == 200
    assert response.mimetype == CONTENT_TYPES["." + name.rsplit(".", 1)[-1]]
    assert response.get_data() == (docs.assets_dir() / name).read_bytes()
    response.close()


def test_the_packaged_swagger_ui_renders_openapi_3_1() -> None:
    # Swagger UI reads OpenAPI 3.1 from version 5 on; older bundles refuse the document.
    version = (docs.assets_dir() / "VERSION").read_text(encoding="utf-8").strip().lstrip("v")
    assert int(version.split(".")[0]) >= 5


def test_only_the_listed_assets_are_public(client: FlaskClient, auth: dict[str, str]) -> None:
    assert client.get(f"{PAGE}/index.css").status_code == 401
    assert client.get(f"{PAGE}/../inventory_device_diags/").status_code == 401
    unknown = client.get(f"{PAGE}/index.css", headers=auth)
    assert unknown.status_code == 404
    assert unknown.get_json()["detail"]


def test_the_api_itself_still_needs_the_token(client: FlaskClient, auth: dict[str, str]) -> None:
    assert client.get(RESOURCE).status_code == 401
    assert client.get(RESOURCE, headers=auth).status_code == 200


def test_the_public_paths_are_added_once_to_the_configured_ones(client: FlaskClient) -> None:
    public = client.application.config["DIAGS_PUBLIC_PATHS"]
    assert set(docs.public_paths()) <= set(public)
    assert len(public) == len(set(public))
    assert RESOURCE not in public
