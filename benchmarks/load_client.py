"""Load generators for the load benchmark: ``wrk`` (C, preferred) or a Python asyncio
httpx client (fallback when ``wrk`` is not installed, e.g. in CI). Loopback only.

Both return ``{"requests", "seconds", "rps", "p50_ms", "p90_ms", "p99_ms", "errors",
"non_2xx", "tool"}``.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

_LUA_GET = """
paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
counter = 0
wrk.headers["Authorization"] = "Bearer %(token)s"
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""

_LUA_POST = """
local f = io.open("%(body)s", "rb")
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Content-Type"] = "%(ctype)s"
request = function() return wrk.format("POST", "%(path)s") end
"""


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]


def parse_wrk(out: str, tool: str = "wrk") -> dict:
    """Parse ``wrk --latency`` output into the result dict (ValueError when malformed)."""
    pct = {int(p): _ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M)}
    reqs, secs = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out).group(1, 2)
    unit = re.search(r"\d+ requests in [\d.]+(ms|s|m)", out).group(1)
    seconds = float(secs) * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": int(reqs), "seconds": seconds, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": pct[50], "p90_ms": pct[90], "p99_ms": pct[99], "errors": errors,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0, "tool": tool}


def run_wrk(base: str, token: str, *, paths: list[str] | None = None, body: bytes | None = None,
            content_type: str = "", path: str = "", connections: int, seconds: float, threads: int = 1) -> dict:
    """Drive ``wrk`` against ``base``: GETs cycling through ``paths``, or one POST ``body``."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "s.lua"
        if paths is not None:
            (Path(tmp) / "paths.txt").write_text("\n".join(paths) + "\n")
            script.write_text(_LUA_GET % {"paths": Path(tmp) / "paths.txt", "token": token})
        else:
            (Path(tmp) / "body.bin").write_bytes(body)
            script.write_text(_LUA_POST % {"body": Path(tmp) / "body.bin", "token": token, "ctype": content_type,
                                           "path": path})
        cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
               "--timeout", "10s", "-s", str(script), base]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    res = parse_wrk(out)
    res["command"] = " ".join(cmd[:-3] + ["-s", "<script>", base])
    return res


async def _python_load(base, token, paths, body, content_type, path, connections, seconds) -> dict:
    import httpx

    lat: list[float] = []
    errors = non2xx = 0
    stop = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = content_type
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=10.0) as client:
        async def worker(k: int) -> None:
            nonlocal errors, non2xx
            i = k
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    if paths is not None:
                        r = await client.get(paths[i % len(paths)])
                    else:
                        r = await client.post(path, content=body)
                except httpx.HTTPError:
                    errors += 1
                    continue
                lat.append(time.perf_counter() - t0)
                non2xx += not (200 <= r.status_code < 400)
                i += connections

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(connections)))
        elapsed = time.perf_counter() - t0
    lat.sort()

    def q(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    return {"requests": len(lat), "seconds": elapsed, "rps": len(lat) / elapsed, "p50_ms": q(0.5),
            "p90_ms": q(0.9), "p99_ms": q(0.99), "errors": errors, "non_2xx": non2xx, "tool": "python-httpx",
            "command": f"asyncio httpx client, {connections} connections, {seconds:g} s"}


def run_load(base: str, token: str, *, tool: str = "auto", **kwargs) -> dict:
    """Run one load scenario with ``wrk`` when available (``tool="auto"``), else Python."""
    if tool == "wrk" or (tool == "auto" and shutil.which("wrk")):
        return run_wrk(base, token, **kwargs)
    kwargs.pop("threads", None)
    return asyncio.run(_python_load(base, token, kwargs.get("paths"), kwargs.get("body"),
                                    kwargs.get("content_type", ""), kwargs.get("path", ""),
                                    kwargs["connections"], kwargs["seconds"]))
