"""atheris (libFuzzer) harness over ``stickerguard.media.decode``, the decoder entry point.

The contract under test: for ANY bytes, ``decode`` returns a DecodedMedia or raises a
typed ``StickerguardError``; anything else (another exception, a hang, a native crash)
is a finding. It runs in-process, without the sandbox, so that crashes are seen.

Usage::

    python fuzz/fuzz_decode.py --make-seeds CORPUS         # real test data + generated formats
    python fuzz/fuzz_decode.py -max_total_time=30 -timeout=10 CORPUS   # libFuzzer flags

Like a pool worker, the process runs under ``RLIMIT_AS`` (``FUZZ_MEMORY_MB``, default
1536; 0 = none): FFmpeg allocates frame buffers from a bitstream's declared size before
any of our checks can see it (one fuzzed WebM took 3.8 GB and 4.8 s unbounded, 25 ms and
a DecodeError under the limit), and in production that is the sandbox's job.

Only stickerguard's own Python is coverage-instrumented (the C decoders in the Pillow,
PyAV and rlottie wheels are not), so guidance comes from our parsing and limit code and
the byte-level mutations reach the C decoders unguided. See docs/security.md.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Seeds no larger than this are copied (libFuzzer mutates small inputs far faster).
MAX_SEED_BYTES = 64 * 1024


def make_seeds(out: Path) -> int:
    """Copy small real files from tests/data and write generated WebM/MP4/GIF/APNG/BMP/
    .tgs seeds into ``out``; return the number of seed files."""
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted((ROOT / "tests/data").rglob("*")):
        if path.is_file() and path.suffix in {".webp", ".png", ".jpg", ".tgs"} and path.stat().st_size <= MAX_SEED_BYTES:
            shutil.copyfile(path, out / f"real_{count:03d}{path.suffix}")
            count += 1
    sys.path.insert(0, str(ROOT / "tests"))
    from media_fixtures import apng_disposal, gif_two_frames, lottie_half_red, mp4_h264, tgs_bytes, webm_half_alpha

    generated = {
        "gen.webm": webm_half_alpha(3, 32), "gen.mp4": mp4_h264(3, 16), "gen.gif": gif_two_frames(2),
        "gen.apng": apng_disposal(), "gen.tgs": tgs_bytes(lottie_half_red(4, 30, 16)),
        "gen.bmp": b"BM" + bytes(12) + (40).to_bytes(4, "little") + bytes(36),
    }
    for name, data in generated.items():
        (out / name).write_bytes(data)
    return count + len(generated)


def main() -> None:
    """Run the fuzzer (libFuzzer arguments in ``sys.argv``)."""
    import os
    import resource

    import atheris

    memory_mb = int(os.environ.get("FUZZ_MEMORY_MB", "1536"))
    if memory_mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))

    with atheris.instrument_imports(include=["stickerguard"]):
        from stickerguard.errors import StickerguardError
        from stickerguard.media import Limits, Spread, decode

    # Tighter than the defaults so that each run is fast; the code paths are the same.
    limits = Limits(max_file_bytes=1 << 20, max_pixels=1 << 20, max_total_pixels=1 << 23, max_frames=64,
                    max_duration_ms=20_000, max_tgs_json_bytes=1 << 20)

    import warnings

    warnings.simplefilter("ignore")  # Pillow's DecompressionBombWarning etc.: noise in the log

    spread = Spread()

    def test_one_input(data: bytes) -> None:
        # both samplers: the interval one, and the spread one the hasher uses (its own
        # timeline pass: ANMF chunks, a second Pillow pass, demuxed video packets)
        for kwargs in ({"sample_interval_ms": 250}, {"spread": spread}):
            try:
                decode(data, name="fuzz", limits=limits, **kwargs)
            except StickerguardError:
                pass

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--make-seeds":
        print(f"{make_seeds(Path(sys.argv[2]))} seeds")
    else:
        main()
