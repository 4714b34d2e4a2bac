"""Redis or PostgreSQL down: the console keeps serving without Redis (slower, nothing shared
through it), and answers a clear 503 page without its database, never a traceback."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.cluster.conftest import Cluster, free_port
from tests.cluster.test_shared_state import CREATE_ROUTE, carried, create_form

pytestmark = pytest.mark.cluster

VOLUME_REDIS_DOWN = "10000000-0000-4000-8000-000000000008"


def test_without_redis_the_console_serves_and_claims_tokens_in_the_database(
    cluster: Cluster,
) -> None:
    # A closed port: every Redis call is refused.
    lonely = cluster.start_instance(
        "console-no-redis", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"
    )
    http = lonely.sign_in()
    page = http.get(f"{lonely.url}/", timeout=30)
    assert page.status_code == 200
    assert "Backups" in page.text
    data = create_form(http, lonely.url, VOLUME_REDIS_DOWN)
    # A double submit to the same instance: the claim falls back to the database cache, so
    # exactly one of the two POSTs creates.
    cluster.emulator.faults(latency_ms=1000, methods=["POST"], path_prefix="/v1/backups")
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda client: client.post(
                    f"{lonely.url}/backups/new", data=data, timeout=60, allow_redirects=False
                ),
                [http, carried(http)],
            )
        )
    assert all(answer.status_code < 500 for answer in answers)
    assert cluster.stats(CREATE_ROUTE) == 1
    assert len(cluster.backups_named(data["name"])) == 1
    assert "Redis cache unavailable" in lonely.log()
    assert "Traceback" not in lonely.log()


@pytest.mark.parametrize("with_redis", [False, True], ids=["database-cache", "redis"])
def test_without_its_database_the_console_answers_a_503_page(
    cluster: Cluster, with_redis: bool
) -> None:
    closed = f"postgres://postgres@127.0.0.1:{free_port()}/nowhere"
    overrides = {"DATABASE_URL": closed}
    if not with_redis:
        overrides["REDIS_URL"] = ""
    broken = cluster.start_instance(f"console-no-db-{with_redis}", **overrides)
    http = broken.session()
    # Signed out, signing in, then pages: whatever needs the database says so.
    form = http.get(f"{broken.url}/signin", timeout=30)
    answers = [form]
    if form.status_code == 200:
        from tests.cluster.conftest import csrf_token

        answers.append(
            http.post(
                f"{broken.url}/signin",
                data={
                    "method": "token",
                    "access_token": "demo-token",
                    "region": "local",
                    "csrfmiddlewaretoken": csrf_token(form.text),
                },
                timeout=30,
                allow_redirects=False,
            )
        )
        if answers[-1].status_code == 302:
            # With Redis the session needs no database; the Activity page (audit) does.
            for path in ("/", "/activity"):
                answers.append(http.get(f"{broken.url}{path}", timeout=30, allow_redirects=False))
    unavailable = [answer for answer in answers if answer.status_code == 503]
    assert unavailable, [answer.status_code for answer in answers]
    assert all(answer.status_code in (200, 302, 503) for answer in answers)
    page = unavailable[0]
    assert "The console&#x27;s database is unavailable" in page.text or (
        "The console's database is unavailable" in page.text
    )
    assert page.headers["Retry-After"] == "10"
    assert "Traceback" not in page.text and "OperationalError" not in page.text
