"""The simulation plan and the env-file writer: pure functions, no chain needed."""

from collections import Counter

from devtools.deploy import Deployment, write_env
from devtools.simulate import plan_simulation

DEPLOYMENT = Deployment(
    chain_id=31337,
    ajo="0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    token="0x5FbDB2315678afecb367f032d93F642f64180aa3",
    block=2,
)


def test_plan_is_reproducible_and_covers_every_stage():
    first = plan_simulation(groups=40, members=5, rounds=5, seed=9, late_ratio=0.2)
    again = plan_simulation(groups=40, members=5, rounds=5, seed=9, late_ratio=0.2)
    assert [(p.name, p.amount, p.members, p.stage) for p in first.plans] == [
        (p.name, p.amount, p.members, p.stage) for p in again.plans
    ]
    assert Counter(p.stage for p in first.plans) == {"run": 34, "active": 4, "forming": 2}
    assert any(p.amount > 2**64 for p in first.plans if p.stage == "run")
    assert all(len(set(p.members)) == 5 for p in first.plans)


def test_each_round_is_paid_after_the_previous_one():
    sim = plan_simulation(groups=30, members=4, rounds=4, seed=5, late_ratio=0.5)
    days: dict[tuple[int, str, int], list[int]] = {}
    for day, actions in sim.schedule.items():
        for action in actions:
            days.setdefault((action.plan.index, action.kind, action.round), []).append(day)
    for plan in sim.plans:
        create = days[(plan.index, "create", 0)][0]
        joins = days.get((plan.index, "join", 0), [])
        assert all(day > create for day in joins)
        previous = max(joins, default=create)
        for number in range(1, plan.full_rounds + 1):
            paid = days[(plan.index, "contribute", number)]
            assert len(paid) == 4
            assert min(paid) > previous  # strictly after the last payment of the round before
            previous = max(paid)
        if plan.partial:
            partial = days[(plan.index, "contribute", plan.full_rounds + 1)]
            assert len(partial) == len(plan.partial) < 4
            assert min(partial) > previous


def test_two_groups_have_one_active_and_one_that_runs():
    sim = plan_simulation(groups=2, members=3, rounds=3, seed=0, late_ratio=0.1)
    assert sorted(p.stage for p in sim.plans) == ["active", "run"]


def test_write_env_replaces_keys_in_place_and_keeps_the_rest(tmp_path):
    env = tmp_path / ".env"
    env.write_text(
        "# chain\nexport AJO_CONTRACT_ADDRESS=0xold\nDEBUG=1\nAJO_START_BLOCK=5\n"
        "AJO_START_BLOCK=6\n"
    )
    write_env(env, DEPLOYMENT)
    assert env.read_text() == (
        "# chain\n"
        "AJO_CONTRACT_ADDRESS=0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512\n"
        "DEBUG=1\n"
        "AJO_START_BLOCK=2\n"
        "AJO_TOKEN_ADDRESS=0x5FbDB2315678afecb367f032d93F642f64180aa3\n"
    )


def test_write_env_creates_a_missing_file(tmp_path):
    env = tmp_path / "new.env"
    write_env(env, DEPLOYMENT)
    assert env.read_text().splitlines() == [
        "AJO_CONTRACT_ADDRESS=0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
        "AJO_TOKEN_ADDRESS=0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "AJO_START_BLOCK=2",
    ]
