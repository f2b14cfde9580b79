"""schemathesis against /openapi.json with a valid admin token: no 5xx on any route.

Bounded: a fixed number of generated examples per operation (SQLite app in-process,
a seeded bank so that some paths exist); the whole module stays well under 60 s.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from stickerguard.auth import create_token
from stickerguard.banks import add_signals, create_bank
from stickerguard.service import Settings
from stickerguard.store import open_db
from stickerguard.web import create_app

from web_fixtures import SMILE_PDQ

EXAMPLES = int(os.environ.get("STICKERGUARD_FUZZ_EXAMPLES", "12"))  # more for a deeper run


@pytest.fixture(scope="module")
def api_app(tmp_path_factory):
    db = open_db(f"sqlite:///{tmp_path_factory.mktemp('st') / 'st.sqlite3'}")
    _, secret = create_token(db, "fuzz", "admin")
    create_bank(db, "b")
    add_signals(db, "b", [{"pdq": SMILE_PDQ}])
    app = create_app(Settings(request_timeout_s=20.0), db=db, follow=False)
    app.state.sg.index.load()  # schemathesis calls the ASGI app without its lifespan
    app.state.fuzz_token = secret
    yield app
    db.close()


def _operations(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [r.ok() for r in schema.get_all_operations()]


@pytest.mark.slow
def test_no_server_errors(api_app):
    headers = {"Authorization": f"Bearer {api_app.state.fuzz_token}"}
    ops = _operations(api_app)
    assert len(ops) == 25
    calls = []
    for op in ops:
        strategy = op.as_strategy()

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case):
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
            calls.append((op.label, response.status_code))

        run()
    statuses = {code for _, code in calls}
    assert len(calls) >= len(ops) and all(code < 500 for code in statuses), sorted(statuses)
    assert {200, 201} <= statuses  # the token works: valid cases reach the handlers
