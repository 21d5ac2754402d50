"""The real app on the bundled corpus/ (hashing embedder, so it is fast): the documentation pages
work offline, and `GET /v1/procedures/{code}` resolves a code that only a handbook declares."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.auth import hash_key
from assistant.settings import Settings
from assistant.store import Store
from ingest.pipeline import ingest
from tests.conftest import CORPUS, PORTAL, write

OFFICIAL_KEY = "official-secret-key-123"
OFFICIAL = {"Authorization": f"Bearer {OFFICIAL_KEY}"}
INTERNAL_ID = "doc:huong-dan-noi-bo-tiep-nhan-ho-so"
MEMO = """---
title: Ghi chú nội bộ về thủ tục thử nghiệm
procedure_codes: ["9.900001"]
audience: official
---
# Ghi chú nội bộ
## Tiếp nhận
Chỉ cán bộ xem được ghi chú này.
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    """corpus/, an official-only memo declaring a code nobody else does, and the portal record of
    1.001193 (which the birth handbook, its PDF and the internal note declare too)."""
    tmp = tmp_path_factory.mktemp("api-corpus")
    memo = write(tmp / "memo" / "ghi-chu.md", MEMO)
    record = tmp / "khai-sinh.jsonl"
    with PORTAL.open(encoding="utf-8") as fh:
        record.write_text(next(line for line in fh if '"ma_thu_tuc": "1.001193"' in line), encoding="utf-8")
    settings = Settings(data_dir=tmp / "var", embedder="hash", api_keys=f"official:{hash_key(OFFICIAL_KEY)}")
    store = Store(settings)
    try:
        assert ingest(store, [CORPUS, memo, record], progress=False).failed == []
    finally:
        store.close()
    with TestClient(create_app(settings)) as c:
        yield c


def urls(html: str) -> list[str]:
    """Every URL the page loads: src, href and ReDoc's spec-url attributes, and Swagger UI's `url:`."""
    return re.findall(r'(?:src|href|spec-url)="([^"]*)"', html) + re.findall(r"url: '([^']*)'", html)


@pytest.mark.parametrize("page, script, marker", [
    ("/docs", "swagger-ui-bundle.js", "SwaggerUIBundle"),
    ("/redoc", "redoc.standalone.js", "Redoc"),
])
def test_documentation_pages_load_only_same_origin_assets(client: TestClient, page: str, script: str,
                                                          marker: str) -> None:
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    loaded = urls(r.text)
    assert "/openapi.json" in loaded
    assert "://" not in r.text  # no CDN, no web fonts
    for url in loaded:
        assert url.startswith("/") and not url.startswith("//"), url
        assert client.get(url).status_code == 200, url
    js = next(u for u in loaded if u.endswith(script))
    asset = client.get(js)
    assert "javascript" in asset.headers["content-type"]
    assert marker in asset.text and len(asset.content) > 100_000  # the real bundle, not a stub


def test_the_openapi_spec_stays_at_its_url(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/procedures/{code}" in spec["paths"]
    assert "/docs" not in spec["paths"] and "/docs-assets" not in spec["paths"]


def test_a_code_only_a_handbook_declares_lists_its_documents(client: TestClient) -> None:
    r = client.get("/v1/procedures/1.014064")  # the second code of the card renewal handbook
    assert r.status_code == 200
    body = r.json()
    assert body["procedure_code"] == "1.014064"
    [doc] = body["documents"]
    assert doc["source_id"] == "doc:cap-doi-cap-lai-the-can-cuoc"
    assert doc["title"] == "Cẩm nang: Cấp đổi, cấp lại thẻ căn cước"
    assert doc["url"].startswith("https://dichvucong.gov.vn/")
    sections = [s["section"] for s in doc["sections"]]
    assert "Hồ sơ cần chuẩn bị" in sections
    assert any("DC02" in s["text"] for s in doc["sections"])


def test_a_code_with_a_portal_record_returns_the_record(client: TestClient) -> None:
    r = client.get("/v1/procedures/1.001193")
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == "1.001193" and "khai sinh" in body["name"].lower()
    assert body["data_date"] and body["documents"][0]["name"]  # its required documents, parsed


def test_official_only_documents_stay_hidden_from_citizens(client: TestClient) -> None:
    assert client.get("/v1/procedures/9.900001").status_code == 404
    memo = client.get("/v1/procedures/9.900001", headers=OFFICIAL)
    assert memo.status_code == 200
    assert [d["source_id"] for d in memo.json()["documents"]] == ["doc:ghi-chu"]
    # 1.000894: the marriage handbook for everyone, the internal note for officials only
    citizen = [d["source_id"] for d in client.get("/v1/procedures/1.000894").json()["documents"]]
    official = [d["source_id"] for d in client.get("/v1/procedures/1.000894", headers=OFFICIAL).json()["documents"]]
    assert citizen == ["doc:dang-ky-ket-hon"]
    assert sorted(official) == sorted(["doc:dang-ky-ket-hon", INTERNAL_ID])


def test_a_code_nothing_covers_is_404(client: TestClient) -> None:
    r = client.get("/v1/procedures/9.999999")
    assert r.status_code == 404 and "9.999999" in r.json()["detail"]
    assert client.get("/v1/procedures/9.999999", headers=OFFICIAL).status_code == 404


def test_a_document_id_resolves_like_a_code(client: TestClient) -> None:
    body = client.get("/v1/procedures/doc:dang-ky-khai-tu").json()
    assert [d["source_id"] for d in body["documents"]] == ["doc:dang-ky-khai-tu"]
    assert client.get(f"/v1/procedures/{INTERNAL_ID}").status_code == 404
