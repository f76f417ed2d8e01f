from fastapi.testclient import TestClient

from app.main import app

client = TestClient(app)


def test_healthz():
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


def test_metrics_exposed():
    client.get("/healthz")
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert "http_requests_total" in resp.text


def test_create_order_rejects_zero_quantity():
    resp = client.post("/api/v1/orders", json={"customer_id": "c-1", "sku": "SKU-1", "quantity": 0})
    assert resp.status_code == 422
