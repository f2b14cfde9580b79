"""One pure-ASGI middleware for every request: body size cap, time limit, metrics."""

from __future__ import annotations

import asyncio
import json
import os
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from . import fastpath


class Metrics:
    """Prometheus metrics of one app (own registry, so several apps can live in one process).

    With ``$PROMETHEUS_MULTIPROC_DIR`` set (several uvicorn workers), ``/metrics``
    aggregates every worker through prometheus_client's multiprocess collector.
    """

    def __init__(self, index) -> None:
        self.registry = CollectorRegistry()
        self.index = index
        self.requests = Counter("stickerguard_http_requests", "HTTP requests", ["route", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("stickerguard_http_request_seconds", "HTTP request latency in seconds",
                                 ["route"], registry=self.registry,
                                 buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.signals = Gauge("stickerguard_index_signals", "Bank signals in the match index", registry=self.registry,
                             multiprocess_mode="max")
        self.position = Gauge("stickerguard_index_position", "Change-log id the index reflects",
                              registry=self.registry, multiprocess_mode="min")
        self.age = Gauge("stickerguard_index_age_seconds", "Seconds since the last change-log check",
                         registry=self.registry, multiprocess_mode="max")

    def render(self) -> Response:
        """The metrics in Prometheus text format."""
        s = self.index.status()
        self.signals.set(s["signals"])
        self.position.set(s["position"])
        self.age.set(s["age_s"] if s["age_s"] is not None else -1)
        registry = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _json(status: int, payload: dict) -> tuple[dict, dict]:
    body = json.dumps(payload).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
    return start, {"type": "http.response.body", "body": body}


class Guard:
    """Refuse bodies over ``max_body_bytes`` (413 ``body_too_large``), stop requests after
    ``timeout_s`` seconds (503 ``timeout``) and record metrics by route template."""

    def __init__(self, app, *, max_body_bytes: int, timeout_s: float, metrics: Metrics, state=None) -> None:
        self.app, self.max_body_bytes, self.timeout_s, self.metrics = app, max_body_bytes, timeout_s, metrics
        self.state = state  # AppState: enables the lookup fast path

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        if self.state is not None and scope["path"] == fastpath.PATH and scope["method"] == "GET":
            code = await fastpath.handle(self.state, scope, send)
            self.metrics.requests.labels(fastpath.PATH, "GET", str(code)).inc()
            self.metrics.latency.labels(fastpath.PATH).observe(time.perf_counter() - t0)
            return
        status = {"code": 500, "started": False}
        limit = self.max_body_bytes
        too_big = {"hit": False}
        for k, v in scope.get("headers", ()):
            if k == b"content-length" and v.isdigit() and int(v) > limit:
                return await self._reply(send, status, 413, "body_too_large",
                                         f"request body is {int(v)} bytes, over the limit of {limit} bytes "
                                         "(max_body_bytes)", scope, t0)
        seen = 0

        async def counted():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    too_big["hit"] = True
                    return {"type": "http.disconnect"}
            return msg

        async def guarded_send(msg):
            if too_big["hit"]:
                if msg["type"] == "http.response.start" and not status["started"]:
                    start, body = _json(413, {"error": "body_too_large", "message":
                                              f"request body is over the limit of {limit} bytes (max_body_bytes)"})
                    status.update(code=413, started=True)
                    await send(start)
                    await send(body)
                return
            if msg["type"] == "http.response.start":
                status.update(code=msg["status"], started=True)
            await send(msg)

        try:
            async with asyncio.timeout(self.timeout_s):  # no extra task per request (wait_for makes one)
                await self.app(scope, counted, guarded_send)
        except TimeoutError:
            if not status["started"]:
                return await self._reply(send, status, 503, "timeout",
                                         f"request took over {self.timeout_s:g} s (request_timeout_s)", scope, t0)
        finally:
            self._observe(scope, status["code"], t0)

    async def _reply(self, send, status, code, error, message, scope, t0):
        start, body = _json(code, {"error": error, "message": message})
        status.update(code=code, started=True)
        await send(start)
        await send(body)
        self._observe(scope, code, t0)

    def _observe(self, scope, code, t0) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        self.metrics.requests.labels(path, scope.get("method", ""), str(code)).inc()
        self.metrics.latency.labels(path).observe(time.perf_counter() - t0)
