"""The benchmark dataset is one a sync could have written: the database checks of
verify_chain find nothing in it, and find what is changed by hand."""

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from bench.dataset import build_dataset, verify_dataset


@pytest.fixture
def bench_url():
    """A database of its own on the PostgreSQL server the tests use, dropped afterwards."""
    configured = os.environ.get("DATABASE_URL", "")
    base = (
        configured if configured.startswith("postgres") else "postgres://postgres@127.0.0.1:5432/x"
    )
    parts = urlsplit(base)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = f"ajo_bench_check_{os.getpid()}"
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"the dataset is built with PostgreSQL's COPY; no server: {exc}")
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_the_dataset_passes_the_database_checks_and_they_catch_a_hand_edit(bench_url):
    summary = build_dataset(
        database_url=bench_url, groups=12, members_per_group=4, contributions=100
    )

    assert summary.contributions == 100
    assert set(summary.groups_by_status) == {"forming", "active", "completed"}
    assert all(summary.groups_by_status.values())
    assert verify_dataset(bench_url) == []

    with psycopg.connect(bench_url, autocommit=True) as conn:
        group_id = conn.execute(
            "UPDATE groups_group SET paid_this_round = paid_this_round + 1 "
            "WHERE id = (SELECT min(id) FROM groups_group WHERE status = 'active') RETURNING id"
        ).fetchone()[0]
        member_group = conn.execute(
            "UPDATE groups_membership SET contribution_count = contribution_count + 1 "
            "WHERE id = (SELECT min(id) FROM groups_membership WHERE contribution_count > 0) "
            "RETURNING group_id"
        ).fetchone()[0]
    differences = verify_dataset(bench_url)

    assert len(differences) == 2, differences
    assert any(
        line.startswith(f"group {member_group}: member ") and "from its rows" in line
        for line in differences
    )
    assert any(
        line.startswith(f"group {group_id}: (status, current round, next deadline, paid")
        for line in differences
    )
