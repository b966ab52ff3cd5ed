"""The credit ledger: exact under concurrency, idempotent, never negative, always adding up."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app import tenancy
from app.errors import InsufficientCredits, ValidationError
from app.extensions import db
from app.models import Account, CreditReservation, CreditTransaction, CreditUsageLog, Job, Notification, OutboxMessage
from app.services.billing import credits
from app.services.billing.subscriptions import add_months, period_index, replenish_all
from tests.conftest import make_account


def _balance_and_sum(app, account_id):
    with app.app_context():
        return credits.balance(account_id), credits.ledger_sum(account_id)


def _set_balance(app, account_id, target):
    """Bring a fresh account to an exact balance through the ledger."""
    with app.app_context(), tenancy.account_scope(account_id):
        current = credits.balance(account_id)
        if target != current:
            credits.adjust(account_id=account_id, amount=target - current, reason="test setup",
                           actor_user_id=None, key=f"setup:{account_id}:{target}")


def test_signup_grants_first_month_through_the_ledger(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    assert _balance_and_sum(app, account) == (100, 100)
    with app.app_context(), tenancy.account_scope(account):
        entry = db.session.scalars(select(CreditTransaction)).one()
        assert entry.type == "subscription" and entry.balance_after == 100


def test_fifty_concurrent_reservations_with_credits_for_twenty(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    _set_balance(app, account, 20)
    results: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(50)

    def attempt(i: int) -> None:
        with app.app_context(), tenancy.account_scope(account):
            start.wait()
            try:
                credits.reserve(account_id=account, amount=1, operation="clustering", key=f"race:{i}")
                outcome = "ok"
            except InsufficientCredits:
                db.session.rollback()
                outcome = "short"
            finally:
                db.session.remove()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results.count("ok") == 20 and results.count("short") == 30
    assert _balance_and_sum(app, account) == (0, 0)
    with app.app_context(), tenancy.account_scope(account):
        rows = db.session.scalars(select(CreditTransaction).order_by(CreditTransaction.id)).all()
        # Every balance_after follows from the previous one: no lost or doubled update.
        running = 0
        for row in rows:
            running += row.amount
            assert row.balance_after == running >= 0


def test_concurrent_reservations_in_separate_processes(app):
    import multiprocessing
    import os

    account, _ = make_account(app, email="olive@acme.example.com")
    _set_balance(app, account, 20)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        outcomes = pool.starmap(_reserve_in_process, [(account, i, os.environ["TEST_DATABASE_URL"]) for i in range(50)])
    assert outcomes.count(True) == 20
    assert _balance_and_sum(app, account) == (0, 0)


def _reserve_in_process(account: int, i: int, database_url: str) -> bool:
    import os

    os.environ["IGNY8_ENV"] = "testing"
    os.environ["TEST_DATABASE_URL"] = database_url
    from app import create_app
    from app import tenancy as tn
    from app.errors import InsufficientCredits as Short
    from app.extensions import db as database
    from app.services.billing import credits as ledger

    global _PROCESS_APP
    try:
        application = _PROCESS_APP
    except NameError:
        application = _PROCESS_APP = create_app("testing")
    with application.app_context(), tn.account_scope(account):
        try:
            ledger.reserve(account_id=account, amount=1, operation="clustering", key=f"proc:{i}")
            return True
        except Short:
            database.session.rollback()
            return False
        finally:
            database.session.remove()


def test_settle_charges_actual_refunds_rest_and_logs_usage_once(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    with app.app_context(), tenancy.account_scope(account):
        reservation = credits.reserve(account_id=account, amount=10, operation="content_generation", key="r1")
        assert credits.balance(account) == 90
        credits.settle(reservation_id=reservation.id, actual=7, model="gpt-test", provider="openai",
                       tokens_in=1200, tokens_out=800, cost_usd=0.0123)
        credits.settle(reservation_id=reservation.id, actual=7)
        credits.refund(reservation_id=reservation.id)
        assert credits.balance(account) == 93 == credits.ledger_sum(account)
        usage = db.session.scalars(select(CreditUsageLog)).one()
        assert (usage.credits, usage.model, usage.tokens_in, usage.tokens_out) == (7, "gpt-test", 1200, 800)
        assert db.session.get(CreditReservation, reservation.id).status == "settled"


def test_refund_twice_changes_nothing_the_second_time(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    with app.app_context(), tenancy.account_scope(account):
        reservation = credits.reserve(account_id=account, amount=30, operation="clustering", key="r2")
        credits.refund(reservation_id=reservation.id, reason="failed")
        credits.refund(reservation_id=reservation.id, reason="failed again")
        credits.settle(reservation_id=reservation.id, actual=30)
        assert credits.balance(account) == 100 == credits.ledger_sum(account)
        assert db.session.scalar(select(func.count()).select_from(CreditUsageLog)) == 0


def test_settle_beyond_estimate_charges_only_what_the_balance_allows(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    _set_balance(app, account, 12)
    with app.app_context(), tenancy.account_scope(account):
        reservation = credits.reserve(account_id=account, amount=10, operation="clustering", key="r3")
        credits.settle(reservation_id=reservation.id, actual=15)
        assert credits.balance(account) == 0 == credits.ledger_sum(account)
        assert db.session.get(CreditReservation, reservation.id).charged == 12


def test_same_key_reserves_once(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    with app.app_context(), tenancy.account_scope(account):
        first = credits.reserve(account_id=account, amount=5, operation="clustering", key="same")
        second = credits.reserve(account_id=account, amount=5, operation="clustering", key="same")
        assert first.id == second.id and credits.balance(account) == 95


@pytest.mark.parametrize("amount", [0, -5, 10_000_001, 2.5, "7", True])
def test_bad_amounts_are_refused_and_change_nothing(app, amount):
    account, _ = make_account(app, email="olive@acme.example.com")
    with app.app_context(), tenancy.account_scope(account):
        with pytest.raises(ValidationError):
            credits.reserve(account_id=account, amount=amount, operation="clustering", key="bad")
        with pytest.raises(ValidationError):
            credits.grant(account_id=account, amount=amount, key="bad-grant", description="x")
        db.session.rollback()
    assert _balance_and_sum(app, account) == (100, 100)


def test_reservation_beyond_balance_is_refused_with_buy_link(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    with app.app_context(), tenancy.account_scope(account):
        with pytest.raises(InsufficientCredits) as excinfo:
            credits.reserve(account_id=account, amount=101, operation="clustering", key="big")
        assert "needs about 101 and you have 100" in excinfo.value.message
        assert excinfo.value.link == "/billing/buy"
        db.session.rollback()
        assert db.session.scalars(select(CreditReservation)).all() == []
    assert _balance_and_sum(app, account) == (100, 100)


def test_other_accounts_credits_cannot_be_touched(app):
    mine, _ = make_account(app, email="olive@acme.example.com")
    theirs, _ = make_account(app, email="bob@globex.example.com")
    with app.app_context(), tenancy.account_scope(mine):
        with pytest.raises(tenancy.CrossTenantWrite):
            credits.grant(account_id=theirs, amount=5, key="steal", description="x")
        with pytest.raises(tenancy.CrossTenantWrite):
            credits.reserve(account_id=theirs, amount=5, operation="clustering", key="steal2")
        db.session.rollback()
    assert _balance_and_sum(app, theirs) == (100, 100)


def test_low_balance_notifies_once_per_crossing(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    with app.app_context(), tenancy.account_scope(account):
        for i in range(3):  # 100 → 40 → 30 → 20: one crossing
            credits.reserve(account_id=account, amount=60 if i == 0 else 10, operation="clustering", key=f"lb{i}")
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 1
        credits.grant(account_id=account, amount=100, key="refill", description="refill")  # back above
        credits.reserve(account_id=account, amount=80, operation="clustering", key="lb-again")  # crosses again
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 2
        mails = db.session.scalars(select(OutboxMessage.subject)).all()
        assert len(mails) == 2 and "Low credit balance" in mails[0]


def test_failed_job_refunds_its_reservation(app):
    account, owner = make_account(app, email="olive@acme.example.com")
    from app.services.jobs import enqueue_job, execute_job

    with app.app_context(), tenancy.account_scope(account):
        job = enqueue_job(kind="site.check", payload={"site_id": 999999}, created_by_id=owner,
                          reserve_credits=25, operation="clustering")
        assert credits.balance(account) == 75
        job_id = job.id
    with app.app_context():
        execute_job(job_id)  # the site does not exist: the job fails
    with app.app_context(), tenancy.account_scope(account):
        job = db.session.get(Job, job_id)
        assert job.status == "failed" and job.credits_reserved == 25 and job.credits_charged == 0
        assert credits.balance(account) == 100 == credits.ledger_sum(account)


def test_enqueue_with_insufficient_credits_starts_nothing(app):
    account, owner = make_account(app, email="olive@acme.example.com")
    from app.services.jobs import enqueue_job

    with app.app_context(), tenancy.account_scope(account):
        with pytest.raises(InsufficientCredits):
            enqueue_job(kind="site.check", payload={}, created_by_id=owner, reserve_credits=500)
        assert db.session.scalars(select(Job)).all() == []
        assert app.extensions["rq_queues"]["default"].count == 0
    assert _balance_and_sum(app, account) == (100, 100)


def test_crashed_job_reservation_is_refunded_by_the_reaper(app):
    account, owner = make_account(app, email="olive@acme.example.com")
    from app.services.jobs import enqueue_job, reap_stale_jobs

    with app.app_context(), tenancy.account_scope(account):
        job = enqueue_job(kind="site.check", payload={}, created_by_id=owner, reserve_credits=40,
                          operation="clustering")
        # A worker picked it up and then vanished: running, with an old heartbeat.
        stale = datetime.now(timezone.utc) - timedelta(minutes=30)
        db.session.execute(Job.__table__.update().where(Job.__table__.c.id == job.id)
                           .values(status="running", started_at=stale, heartbeat_at=stale))
        db.session.commit()
    with app.app_context():
        assert reap_stale_jobs() == 1
        assert reap_stale_jobs() == 0
    assert _balance_and_sum(app, account) == (100, 100)
    with app.app_context(), tenancy.account_scope(account):
        refunds = db.session.scalars(select(CreditTransaction).where(CreditTransaction.type == "refund")).all()
        assert len(refunds) == 1 and refunds[0].amount == 40


def test_replenishment_grants_once_per_period_and_catches_up(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    with app.app_context():
        with tenancy.all_accounts():
            started = db.session.scalars(select(Account)).one().subscription.started_at
        replenish_all(now=started + timedelta(days=3))
        replenish_all(now=started + timedelta(days=3))  # same period: nothing more
        assert credits.balance(account) == 100
        later = add_months(started, 3) + timedelta(hours=1)  # three periods missed while down
        assert replenish_all(now=later) == 300
        assert replenish_all(now=later) == 0
        assert credits.balance(account) == 400 == credits.ledger_sum(account)


def test_replenishment_running_twice_at_once_grants_once(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    with app.app_context(), tenancy.all_accounts():
        started = db.session.scalars(select(Account)).one().subscription.started_at
    when = add_months(started, 1) + timedelta(minutes=5)
    barrier = threading.Barrier(2)

    def run():
        with app.app_context():
            barrier.wait()
            replenish_all(now=when)
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert _balance_and_sum(app, account) == (200, 200)


def test_period_maths():
    start = datetime(2026, 1, 31, 10, 0, tzinfo=timezone.utc)
    assert add_months(start, 1) == datetime(2026, 2, 28, 10, 0, tzinfo=timezone.utc)
    assert period_index(start, datetime(2026, 2, 28, 9, 59, tzinfo=timezone.utc)) == 0
    assert period_index(start, datetime(2026, 2, 28, 10, 0, tzinfo=timezone.utc)) == 1
    assert period_index(start, datetime(2027, 1, 31, 10, 0, tzinfo=timezone.utc)) == 12
    assert period_index(start, datetime(2025, 1, 1, tzinfo=timezone.utc)) == -1
