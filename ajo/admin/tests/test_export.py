"""CSV export from the admin: every row arrives, even past gunicorn's timeout, and no cell runs
as a spreadsheet formula."""

import csv
import http.client
import io
import json
import urllib.request

import pytest
from django.urls import reverse

from ajo.tests.test_production import gunicorn_server, manage, migrated_env_for
from contributions.tests.factories import ContributionFactory
from groups.tests.factories import GroupFactory, StaffFactory, TokenFactory

FORMULA = '=HYPERLINK("http://x","y")'


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def export(client, name: str, **params) -> list[dict]:
    response = client.get(reverse(f"admin:{name}_export"), params)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.django_db
def test_chain_chosen_text_cannot_run_as_a_formula(admin_client):
    token = TokenFactory(symbol="+SUM(1,2)", name="@cmd|' /C calc'!A0", decimals=6)
    group = GroupFactory(name=FORMULA, token=token, contribution_amount=1_250_500_000)
    ContributionFactory(group=group, amount=1_250_500_000, round=1)
    GroupFactory(name="-2+3", token=token)
    GroupFactory(name="\tTabbed", token=token)
    GroupFactory(name="Lagos = home", token=token)  # "=" inside the text is no formula

    groups = {int(row["id"]): row for row in export(admin_client, "groups_group")}
    assert groups[group.id]["name"] == "'" + FORMULA
    assert sorted(row["name"] for row in groups.values()) == sorted(
        ["'" + FORMULA, "'-2+3", "'\tTabbed", "Lagos = home"]
    )
    assert groups[group.id]["token__symbol"] == "'+SUM(1,2)"
    # what ajo itself writes stays as it is: amounts are digits, addresses 0x…
    assert groups[group.id]["contribution_amount"] == "1250500000"
    assert groups[group.id]["token__address"].startswith("0x")

    (token_row,) = export(admin_client, "groups_token")
    assert token_row["symbol"] == "'+SUM(1,2)"
    assert token_row["name"] == "'@cmd|' /C calc'!A0"

    (contribution,) = export(admin_client, "contributions_contribution")
    assert contribution["group__token__symbol"] == "'+SUM(1,2)"
    assert contribution["amount"] == "1250500000"
    assert contribution["round"] == "1"


# --- through gunicorn ---------------------------------------------------------------------------

ROWS = 250_000  # about 47 MB of CSV: several seconds of streaming, far past a 1 s timeout

SETUP = """
import json
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.utils import timezone
from contributions.models import Contribution
from groups.tests.factories import GroupFactory, StaffFactory, UserFactory

group, member = GroupFactory(id=1, name="Export circle"), UserFactory()
amount = Contribution._meta.get_field("amount").get_db_prep_value(50_000_000, connection)
if connection.vendor == "postgresql":
    numbers = "SELECT n FROM generate_series(1, %s) AS n"
    tx = "'0x' || lpad(to_hex(n), 64, '0')"
else:
    numbers = (
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %s) "
        "SELECT n FROM s"
    )
    tx = "'0x' || printf('%%064x', n)"
with connection.cursor() as cursor:
    cursor.execute(
        "INSERT INTO contributions_contribution (group_id, member_id, round, amount, tx_hash,"
        " log_index, block_number, block_time, is_late)"
        f" SELECT %s, %s, n, %s, {tx}, 0, n, %s, false FROM ({numbers}) AS numbers",
        [group.id, member.id, amount, timezone.now(), ROWS],
    )
staff = StaffFactory(is_superuser=True)
session = SessionStore()
session["_auth_user_id"] = str(staff.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = staff.get_session_auth_hash()
session.create()
print(json.dumps({"session": session.session_key}))
"""


def test_a_big_export_streams_every_row_past_the_worker_timeout():
    """A sync worker is killed after `timeout` seconds without a heartbeat; an export that
    keeps streaming keeps it alive, and the file ends with the last row."""
    env = migrated_env_for("export", GUNICORN_TIMEOUT="1", WEB_CONCURRENCY="1", LOG_FORMAT="json")
    result = manage("shell", "-c", f"ROWS = {ROWS}\n{SETUP}", env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    session = json.loads(result.stdout.strip().splitlines()[-1])["session"]

    with gunicorn_server(env=env, ready_path="/healthz") as server:
        request = urllib.request.Request(
            server.url + "/admin/contributions/contribution/export.csv",
            headers={"Cookie": f"sessionid={session}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/csv")
            reader = csv.reader(io.TextIOWrapper(response, encoding="utf-8", newline=""))
            column = next(reader).index("round")
            rounds = []
            try:
                for row in reader:
                    rounds.append(int(row[column]))
            except (http.client.HTTPException, ValueError, ConnectionError) as exc:
                pytest.fail(f"the export was cut after {len(rounds):,} rows ({exc!r})")
        log = [line.get("message", "") for line in server.log_lines()]

    assert not [line for line in log if "WORKER TIMEOUT" in line]
    # newest first: every row, in order, the last one included
    assert rounds == list(range(ROWS, 0, -1))
