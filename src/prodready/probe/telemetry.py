"""Is telemetry actually flowing? Prometheus (``GET /api/v1/targets``: are the scrape targets up) and Loki
(``GET /loki/api/v1/query_range`` per listed stream selector: entries in the last hour). Read-only API calls."""

from __future__ import annotations

import json
from urllib.parse import quote

from ..controls.base import failed, passed
from . import ids
from .consoles import answered
from .runtime import Session

DEFAULT_STREAM = '{job=~".+"}'


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def probe_prometheus(s: Session) -> None:
    r = s.request("GET", "/api/v1/targets?state=active")
    if not answered(s, r, "Prometheus"):
        return
    data = _json(r.text) if r.status == 200 else None
    active = ((data or {}).get("data") or {}).get("activeTargets") if isinstance(data, dict) else None
    if not isinstance(active, list):
        s.add(ids.TELEMETRY, failed(f"not a Prometheus targets answer: {r.brief()}", url=r.url))
        return
    down = [t for t in active if isinstance(t, dict) and t.get("health") != "up"]
    if not active:
        s.add(ids.TELEMETRY, failed(f"Prometheus scrapes nothing: {r.brief()}, 0 active targets", url=r.url))
    for t in down[:10]:
        labels = t.get("labels") or {}
        s.add(ids.TELEMETRY, failed(f"scrape target {labels.get('job', '?')}/{labels.get('instance', '?')} is "
                                    f"{t.get('health')}: {str(t.get('lastError') or '')[:120]}", url=r.url))
    if active and not down:
        jobs = sorted({str((t.get("labels") or {}).get("job")) for t in active if isinstance(t, dict)})
        s.add(ids.TELEMETRY, passed(f"all {len(active)} scrape targets up ({', '.join(jobs[:8])}): {r.brief()}",
                                    url=r.url))


def probe_loki(s: Session) -> None:
    ready = s.request("GET", "/ready")
    if not answered(s, ready, "Loki"):
        return
    for selector in s.target.streams or [DEFAULT_STREAM]:
        r = s.request("GET", f"/loki/api/v1/query_range?query={quote(selector)}&limit=1&since=1h&direction=backward",
                      note=f"recent entries of {selector}")
        data = _json(r.text) if r.status == 200 else None
        result = ((data or {}).get("data") or {}).get("result") if isinstance(data, dict) else None
        if not isinstance(result, list):
            s.add(ids.TELEMETRY, failed(f"Loki query for {selector} failed: {r.brief()}", url=r.url))
        elif result:
            s.add(ids.TELEMETRY, passed(f"{selector}: {len(result)} stream(s) with entries in the last hour",
                                        url=r.url))
        else:
            s.add(ids.TELEMETRY, failed(f"{selector}: no log entries in the last hour ({r.brief()})", url=r.url))
