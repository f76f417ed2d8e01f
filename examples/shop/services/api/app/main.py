import json
import logging
import os
import time
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
import redis
import requests
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from prometheus_fastapi_instrumentator import Instrumentator
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db import engine, get_session
from app.logging_config import configure_logging
from app.models import Order

configure_logging()
log = logging.getLogger("shop.api")

APP_VERSION = os.getenv("APP_VERSION", "dev")
PAYMENTS_BASE_URL = os.getenv("PAYMENTS_BASE_URL", "http://payments.internal:8080")
INVENTORY_BASE_URL = os.getenv("INVENTORY_BASE_URL", "http://inventory.internal:8080")
REDIS_URL = os.getenv("REDIS_URL", "redis://localhost:6379/0")
ORDER_QUEUE = os.getenv("ORDER_QUEUE", "orders:created")

CORS_ORIGINS = [
    "https://www.shop.acme.example",
    "https://admin.shop.acme.example",
]
UNLOGGED_PATHS = {"/healthz", "/readyz", "/metrics"}

queue = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
payments = httpx.Client(base_url=PAYMENTS_BASE_URL, timeout=httpx.Timeout(5.0, connect=2.0))


@asynccontextmanager
async def lifespan(app: FastAPI):
    log.info("starting shop-api", extra={"version": APP_VERSION})
    yield
    payments.close()
    queue.close()
    engine.dispose()
    log.info("stopped shop-api")


app = FastAPI(title="shop-api", version=APP_VERSION, lifespan=lifespan)

app.add_middleware(
    CORSMiddleware,
    allow_origins=CORS_ORIGINS,
    allow_methods=["GET", "POST"],
    allow_headers=["Authorization", "Content-Type"],
)

Instrumentator(excluded_handlers=list(UNLOGGED_PATHS)).instrument(app).expose(
    app, endpoint="/metrics", include_in_schema=False
)


@app.middleware("http")
async def access_log(request: Request, call_next):
    started = time.perf_counter()
    response = await call_next(request)
    if request.url.path not in UNLOGGED_PATHS:
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
    return response


class OrderCreate(BaseModel):
    customer_id: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=100)


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: str
    sku: str
    quantity: int
    amount_cents: int
    currency: str
    status: str
    created_at: datetime


@app.get("/healthz", include_in_schema=False)
def healthz():
    return {"status": "ok"}


@app.get("/readyz", include_in_schema=False)
def readyz(response: Response):
    checks = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("readiness check failed", extra={"dependency": "database", "error": str(exc)})
        checks["database"] = "error"
    try:
        queue.ping()
        checks["redis"] = "ok"
    except redis.RedisError as exc:
        log.warning("readiness check failed", extra={"dependency": "redis", "error": str(exc)})
        checks["redis"] = "error"

    if any(result != "ok" for result in checks.values()):
        response.status_code = 503
    return checks


@app.get("/api/v1/orders", response_model=list[OrderOut])
def list_orders(
    customer_id: str | None = None,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
    session: Session = Depends(get_session),
):
    stmt = select(Order).order_by(Order.created_at.desc(), Order.id.desc()).limit(limit).offset(offset)
    if customer_id:
        stmt = stmt.where(Order.customer_id == customer_id)
    return session.scalars(stmt).all()


@app.get("/api/v1/orders/{order_id}", response_model=OrderOut)
def get_order(order_id: int, session: Session = Depends(get_session)):
    order = session.get(Order, order_id)
    if order is None:
        raise HTTPException(status_code=404, detail="order not found")
    return order


def check_stock(sku: str, quantity: int) -> int:
    resp = requests.get(f"{INVENTORY_BASE_URL}/v1/stock/{sku}")
    resp.raise_for_status()
    stock = resp.json()
    if stock["available"] < quantity:
        raise HTTPException(status_code=409, detail="insufficient stock")
    return stock["unit_price_cents"]


@app.post("/api/v1/orders", response_model=OrderOut, status_code=201)
def create_order(payload: OrderCreate, session: Session = Depends(get_session)):
    unit_price_cents = check_stock(payload.sku, payload.quantity)

    order = Order(
        customer_id=payload.customer_id,
        sku=payload.sku,
        quantity=payload.quantity,
        amount_cents=unit_price_cents * payload.quantity,
        currency="EUR",
        status="pending",
    )
    session.add(order)
    session.flush()

    try:
        resp = payments.post(
            "/v1/authorizations",
            json={
                "reference": f"order-{order.id}",
                "customer_id": order.customer_id,
                "amount_cents": order.amount_cents,
                "currency": order.currency,
            },
            headers={"Idempotency-Key": f"order-{order.id}"},
        )
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        session.rollback()
        log.warning("payment authorization failed", extra={"error": str(exc)})
        raise HTTPException(status_code=502, detail="payment provider unavailable") from exc

    order.payment_id = resp.json()["id"]
    order.status = "authorized"
    session.commit()
    session.refresh(order)

    try:
        queue.lpush(ORDER_QUEUE, json.dumps({"order_id": order.id, "customer_id": order.customer_id}))
    except redis.RedisError:
        log.exception("failed to enqueue order event", extra={"order_id": order.id})

    log.info("order created", extra={"order_id": order.id, "amount_cents": order.amount_cents})
    return order
