"""The HTTP API under the hostile corpus: every file posted to ``/v1/lookup`` gets its
expected answer (a 4xx JSON error naming the defect, or 200 for a malformed-but-decodable
file), and the server stays healthy (``/status`` 200, a good sticker still matches)."""

from __future__ import annotations

import pytest

from hostile_expected import EXPECTED

pytest.importorskip("fastapi")

from stickerguard.auth import create_token  # noqa: E402
from stickerguard.store import open_db  # noqa: E402
from web_fixtures import SMILE, SMILE_PDQ, auth, make_client  # noqa: E402

#: HTTP status per error code (stickerguard.web.errors.status_for).
STATUS = {"limit_exceeded": 413, "unsupported_media": 415, "decode_error": 422, "decoder_crashed": 422,
          "decode_timeout": 422}


def test_lookup_every_hostile_file(corpus, tmp_path) -> None:
    root, files = corpus
    db = open_db(f"sqlite:///{tmp_path / 'hostile.sqlite3'}")
    _, secret = create_token(db, "t", "admin")
    try:
        with make_client(db) as c:
            wrong = []
            for path in files:
                data = path.read_bytes()
                r = c.post("/v1/lookup", files={"file": (path.name, data)}, headers=auth(secret))
                # one upload is one file: a zip (pack) is refused as no media file
                want = "unsupported_media" if data[:4] in (b"PK\x03\x04", b"PK\x05\x06") else EXPECTED[path.name]
                body = r.json()
                if want == "ok":
                    good = r.status_code == 200 or (r.status_code == 413 and body.get("field", "").startswith("upload_bytes"))
                else:
                    code = want.split(":")[0]
                    good = (r.status_code == STATUS[code] and body["error"] == code and path.name in body["message"]) or (
                        r.status_code == 413 and body.get("field", "").startswith("upload_bytes"))
                if not good:
                    wrong.append((path.name, want, r.status_code, body))
            assert not wrong, wrong[:10]
            assert c.get("/status").status_code == 200
            ok = c.post("/v1/lookup", files={"file": ("smile.webp", SMILE.read_bytes())}, headers=auth(secret))
            assert ok.status_code == 200 and ok.json()["signals"]["pdq"] == SMILE_PDQ
    finally:
        db.close()
