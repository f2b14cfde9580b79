"""Isolated decoding: untrusted media is decoded in a warm pool of sandboxed worker processes.

Public surface::

    DecoderPool(size, sandbox, *, test_hooks)   # .hash(), .decode(), .hash_ordered() (scans),
                                                # .submit_hash(), .close()
    SandboxLimits(memory_bytes, cpu_seconds, timeout_s, startup_timeout_s, max_jobs, max_rss_bytes)
    get_pool(min_size) -> DecoderPool           # process-wide warm pool
    prestart(min_size)                          # start its workers early (light import)
    shutdown_default_pool()
    WorkerCrashed (code "decoder_crashed"), WorkerTimeout (code "decode_timeout")

See docs/security.md for the threat model and every limit.
"""

from .protocol import WorkerCrashed, WorkerTimeout
from .pool import DecoderPool, SandboxLimits, get_pool, prestart, shutdown_default_pool

__all__ = ["DecoderPool", "SandboxLimits", "WorkerCrashed", "WorkerTimeout", "get_pool", "prestart",
           "shutdown_default_pool"]
