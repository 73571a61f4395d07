//! The ledger committer driven directly against the test's PostgreSQL: batch
//! semantics (arrival order, per-operation answers, neighbours unaffected,
//! idempotency inside one batch), captures, voids and reversals of one transfer in
//! one batch, a batch whose connection is killed, a committer that panics, and a
//! request dropped while it waits for the queue.

use std::time::Duration;

use diesel::sql_types::{Integer, Text};
use diesel_async::RunQueryDsl as _;
use domain::cards::CardNumber;
use domain::ids::TransferId;
use domain::ledger::books::{FollowUp, LedgerOp, PointOfSale, PricedEarn, PricedRedemption, Step};
use domain::points::{Currency, Money, Points};
use futures_util::future::join_all;
use operations::idempotency::{Answer, IdempotencyError, IdempotencyKey, Scope};
use operations::ledger::committer::{Committer, CommitterSettings, Reply};
use test_support::app::unique_code;
use test_support::{CardChecks as _, TestApp, TestPartner};

fn committer(app: &TestApp, window: Duration) -> Committer {
    Committer::start(
        app.storage.clone(),
        app.config.program.clone(),
        CommitterSettings {
            committers: 1,
            batch_window: window,
            batch_max: 1000,
        },
    )
}

/// A signed-request stand-in: the partner, its idempotency key and a body that tells requests apart.
fn scope(partner: &TestPartner, key: &str, body: &str) -> Scope {
    Scope::of_request(
        partner.partner.id,
        IdempotencyKey::parse(key).unwrap(),
        "POST",
        "/v1/redemptions",
        None,
        body.as_bytes(),
    )
}

/// Where the test's operations are made: the hotel's `main` branch, the card's member.
async fn point_of_sale(app: &TestApp, partner: &TestPartner, card: &str, key: &str) -> PointOfSale {
    let card = CardNumber::parse(card).unwrap();
    let member_id = app.member_of(&card).await;
    let branch = operations::partners::profile(&app.club, partner.partner.id)
        .await
        .unwrap()
        .branches
        .remove(0);
    PointOfSale {
        partner_id: partner.partner.id,
        branch_id: branch.id,
        member_id,
        card,
        reference: key.to_owned(),
        idempotency_key: Some(key.to_owned()),
    }
}

fn irr(minor: i64) -> Money {
    Money::new(minor, Currency::parse("IRR").unwrap())
}

/// A priced submission: its scope and its operation (priced as the test rule prices them).
type Submission = (Scope, LedgerOp);

async fn redeem(
    app: &TestApp,
    partner: &TestPartner,
    card: &str,
    points: i64,
    key: &str,
) -> Submission {
    let op = LedgerOp::Redeem(PricedRedemption {
        at: point_of_sale(app, partner, card, key).await,
        points: Points(points),
        discount: irr(points * 1_000),
        hold: None,
    });
    (scope(partner, key, &format!("redeem {card} {points}")), op)
}

async fn earn(
    app: &TestApp,
    partner: &TestPartner,
    card: &str,
    amount_minor: i64,
    key: &str,
) -> Submission {
    let op = LedgerOp::Earn(PricedEarn {
        at: point_of_sale(app, partner, card, key).await,
        points: Points(amount_minor / 10_000),
        capped: Vec::new(),
        amount: irr(amount_minor),
        release_at: None,
        occurred_at: None,
        offers: Vec::new(),
        repeat_visits: Vec::new(),
        first_purchase: Vec::new(),
    });
    (
        scope(partner, key, &format!("earn {card} {amount_minor}")),
        op,
    )
}

/// A step on the partner's transfer `id`, checked against the transfer as stored.
async fn follow(
    app: &TestApp,
    partner: &TestPartner,
    id: uuid::Uuid,
    step: Step,
    key: &str,
) -> Submission {
    let mut conn = app.storage.db().await.unwrap();
    let original = storage::ledger::find_transfer(&mut conn, TransferId(id))
        .await
        .unwrap()
        .unwrap();
    let body = format!("{step:?} {id}");
    let op = FollowUp::new(partner.partner.id, Some(key.to_owned()), original, step).unwrap();
    (scope(partner, key, &body), LedgerOp::FollowUp(op))
}

/// Submits all at once, in this order (each reaches the committer's queue when first polled).
async fn submit_all(committer: &Committer, submissions: Vec<Submission>) -> Vec<Reply> {
    join_all(
        submissions
            .into_iter()
            .map(|(scope, op)| committer.submit(scope, Ok(op))),
    )
    .await
}

/// Submits one operation on its own.
async fn submit_one(committer: &Committer, (scope, op): Submission) -> Reply {
    committer.submit(scope, Ok(op)).await
}

/// (fresh?, available balance or the refusal's code) of an answered reply.
fn outcome(reply: &Reply) -> (bool, String) {
    let answered = reply
        .as_ref()
        .unwrap_or_else(|err| panic!("no answer: {err}"));
    let detail = match &answered.answer {
        Answer::Done(movement) => movement.balance.available.to_string(),
        Answer::Refused(refused) => refused.code().to_owned(),
        Answer::Recorded { .. } => panic!("an outcome was recorded as an HTTP answer"),
    };
    (!answered.is_replay, detail)
}

/// A transaction holding the account of `card`'s member, so a committer's batch touching it waits
/// in PostgreSQL until the caller rolls it back.
async fn hold_account(app: &TestApp, card: &str) -> storage::DbConnection {
    let mut blocker = app.storage.db().await.unwrap();
    diesel::sql_query("BEGIN")
        .execute(&mut blocker)
        .await
        .unwrap();
    diesel::sql_query(
        "SELECT a.id FROM accounts a JOIN cards c ON c.member_id = a.member_id \
          WHERE c.number = $1 FOR UPDATE",
    )
    .bind::<Text, _>(card)
    .execute(&mut blocker)
    .await
    .unwrap();
    blocker
}

/// A gateway, a hotel with a rule, and two members (alice, bob) with these points.
async fn two_members(alice_points: i64, bob_points: i64) -> (TestApp, TestPartner, String, String) {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let alice = hotel.member().with_points(alice_points).await.card;
    let bob = hotel.member().with_points(bob_points).await.card;
    (app, hotel, alice, bob)
}

#[tokio::test]
async fn a_batch_answers_each_operation_in_arrival_order_and_refusals_touch_no_neighbour() {
    let (app, hotel, alice, bob) = two_members(30, 5).await;
    // A long window: everything submitted together lands in one batch.
    let committer = committer(&app, Duration::from_millis(300));
    let keys: Vec<String> = (0..8).map(|_| unique_code("batch")).collect();
    let submissions = vec![
        redeem(&app, &hotel, &alice, 20, &keys[0]).await,
        redeem(&app, &hotel, &alice, 20, &keys[1]).await, // 10 left: refused
        redeem(&app, &hotel, &bob, 5, &keys[2]).await,    // a neighbour
        earn(&app, &hotel, &alice, 150_000, &keys[3]).await, // +15 (1 point per 10,000)
        redeem(&app, &hotel, &alice, 20, &keys[4]).await, // 25 now: accepted
        redeem(&app, &hotel, &alice, 20, &keys[0]).await, // a retry of the first
        redeem(&app, &hotel, &alice, 3, &keys[1]).await,  // the refused key, another payload
        redeem(&app, &hotel, &bob, 1, &keys[5]).await,    // bob has nothing left
    ];
    let replies = submit_all(&committer, submissions).await;
    let seen: Vec<(bool, String)> = replies.iter().take(5).map(outcome).collect();
    assert_eq!(
        seen,
        [
            (true, "10".into()),
            (true, "insufficient_points".into()),
            (true, "0".into()),
            (true, "25".into()),
            (true, "5".into()),
        ]
    );
    // Sent while the first with its key was still in flight: told so, not made to wait.
    assert!(matches!(replies[5], Err(IdempotencyError::InFlight)));
    assert!(matches!(replies[6], Err(IdempotencyError::PayloadMismatch)));
    assert_eq!(outcome(&replies[7]), (true, "insufficient_points".into()));

    // One batch: one commit time for every transfer it wrote, in arrival order of their ids.
    let written = app.transfers_under_keys(&keys).await;
    let written_keys: Vec<&str> = written.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(written_keys.len(), 4);
    for expected in [&keys[0], &keys[2], &keys[3], &keys[4]] {
        assert!(
            written_keys.contains(&expected.as_str()),
            "{expected} missing"
        );
    }
    assert!(
        written
            .iter()
            .all(|(_, created_at)| *created_at == written[0].1)
    );

    // A later batch replays what the first recorded, refusals included.
    let again = submit_one(&committer, redeem(&app, &hotel, &alice, 20, &keys[1]).await).await;
    assert_eq!(outcome(&again), (false, "insufficient_points".into()));
    // And the retry of the first, now that it has its answer, gets that answer.
    let retry = submit_one(&committer, redeem(&app, &hotel, &alice, 20, &keys[0]).await).await;
    assert_eq!(outcome(&retry), (false, "10".into()));
}

#[tokio::test]
async fn steps_on_one_transfer_in_one_batch_see_each_other() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let alice = hotel.member().with_points(100).await.card;
    let earned = hotel.earn_points(&alice, 50).await.transaction.id;
    let hold = hotel.hold_points(&alice, 40).await.transaction.id;
    let committer = committer(&app, Duration::from_millis(300));
    let keys: Vec<String> = (0..7).map(|_| unique_code("steps")).collect();
    let reverse = |points: Option<i64>| Step::Reverse {
        points: points.map(Points),
        reference: None,
    };
    let submissions = vec![
        follow(
            &app,
            &hotel,
            hold,
            Step::Capture(Some(Points(30))),
            &keys[0],
        )
        .await, // 10 back
        follow(&app, &hotel, hold, Step::Void, &keys[1]).await, // captured already
        follow(&app, &hotel, hold, reverse(Some(10)), &keys[2]).await, // 10 of the 30 back
        follow(&app, &hotel, earned, reverse(Some(30)), &keys[3]).await,
        follow(&app, &hotel, earned, reverse(None), &keys[4]).await, // the other 20
        follow(&app, &hotel, earned, reverse(None), &keys[5]).await, // nothing left
        follow(&app, &hotel, hold, reverse(None), &keys[6]).await,   // the capture's last 20
    ];
    let replies = submit_all(&committer, submissions).await;
    let seen: Vec<(bool, String)> = replies.iter().map(outcome).collect();
    assert_eq!(
        seen,
        [
            (true, "120".into()),
            (true, "hold_already_captured".into()),
            (true, "130".into()),
            (true, "100".into()),
            (true, "80".into()),
            (true, "reversal_exceeds_original".into()),
            (true, "100".into()),
        ]
    );
    // One batch, and what it wrote adds up (the ledger check runs when the app drops).
    let written = app.transfers_under_keys(&keys).await;
    assert_eq!(written.len(), 5);
    assert!(
        written
            .iter()
            .all(|(_, created_at)| *created_at == written[0].1)
    );
    assert_eq!(hotel.client.available_points(&alice).await, 100);
}

#[tokio::test]
async fn a_batch_whose_connection_is_killed_answers_nothing_as_committed() {
    let (app, hotel, alice, bob) = two_members(100, 100).await;
    let committer = committer(&app, Duration::from_millis(100));
    let keys: Vec<String> = (0..3).map(|_| unique_code("crash")).collect();

    // Hold alice's account so the committer's batch stops mid-way, waiting for the lock.
    let mut blocker = hold_account(&app, &alice).await;

    let submissions = || async {
        vec![
            redeem(&app, &hotel, &alice, 10, &keys[0]).await,
            redeem(&app, &hotel, &bob, 10, &keys[1]).await,
            earn(&app, &hotel, &bob, 100_000, &keys[2]).await,
        ]
    };
    let batch = submit_all(&committer, submissions().await);
    let killer = async {
        // Find the committer's backend waiting on the lock, and kill it.
        #[derive(diesel::QueryableByName)]
        struct Killed {
            #[diesel(sql_type = Integer)]
            killed: i32,
        }
        let mut conn = app.storage.db().await.unwrap();
        for _ in 0..500 {
            let killed: Killed = diesel::sql_query(
                "SELECT count(pg_terminate_backend(pid))::int AS killed FROM pg_stat_activity \
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .get_result(&mut conn)
            .await
            .unwrap();
            if killed.killed > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the batch never waited for the lock");
    };
    let (replies, ()) = tokio::join!(batch, killer);
    diesel::sql_query("ROLLBACK")
        .execute(&mut blocker)
        .await
        .unwrap();
    for reply in &replies {
        assert!(
            matches!(reply, Err(IdempotencyError::Storage(_))),
            "a request of the killed batch was answered: {reply:?}"
        );
    }
    assert_eq!(
        app.recorded_under_keys(&keys).await,
        (0, 0),
        "nothing of the killed batch committed"
    );

    // The partners retry with the same keys: each is applied once.
    let retried = submit_all(&committer, submissions().await).await;
    let fresh: Vec<bool> = retried.iter().map(|r| outcome(r).0).collect();
    assert_eq!(fresh, [true, true, true]);
    assert!(
        retried
            .iter()
            .all(|r| matches!(r, Ok(a) if matches!(a.answer, Answer::Done(_))))
    );
    assert_eq!(app.recorded_under_keys(&keys).await, (3, 3));
    let replayed = submit_one(&committer, redeem(&app, &hotel, &alice, 10, &keys[0]).await).await;
    let (is_fresh, available) = outcome(&replayed);
    assert!(!is_fresh);
    assert_eq!(available, outcome(&retried[0]).1);
}

#[tokio::test]
async fn a_committer_that_panics_answers_its_batch_as_not_committed_and_serves_again() {
    let (app, hotel, alice, bob) = two_members(100, 100).await;
    let committer = committer(&app, Duration::ZERO);
    let keys: Vec<String> = (0..2).map(|_| unique_code("panic")).collect();
    assert_eq!(hotel.client.available_points(&alice).await, 100);

    // The committer panics after its transaction commits, before it bumps the member's cached
    // views and answers.
    committer.crash_next_batch();
    let crashed = submit_one(&committer, redeem(&app, &hotel, &alice, 10, &keys[0]).await).await;
    assert!(
        matches!(crashed, Err(IdempotencyError::Storage(_))),
        "a request of the crashed batch was answered as done: {crashed:?}"
    );

    // Started again: the retry gets the committed answer, once, and new work commits.
    let retried = submit_one(&committer, redeem(&app, &hotel, &alice, 10, &keys[0]).await).await;
    assert_eq!(outcome(&retried), (false, "90".to_owned()));
    assert_eq!(
        hotel.client.available_points(&alice).await,
        90,
        "the retry's answer says 90: no card check may show what was there before"
    );
    let next = submit_one(
        &committer,
        earn(&app, &hotel, &bob, 100_000, &keys[1]).await,
    )
    .await;
    assert_eq!(outcome(&next), (true, "110".to_owned()));
    assert_eq!(app.recorded_under_keys(&keys).await, (2, 2));
    assert!(app.ledger_report().await.is_exact());
}

#[tokio::test]
async fn a_key_in_flight_on_another_instance_is_answered_in_flight_and_then_once() {
    let (app, hotel, alice, _) = two_members(50, 1).await;
    let committer = committer(&app, Duration::ZERO);
    let key = unique_code("elsewhere");
    // Another instance's batch holds the key's lock for its transaction: here, this session.
    let mut elsewhere = app.storage.db().await.unwrap();
    diesel::sql_query("SELECT pg_advisory_lock(hashtext($1::text), hashtext($2))")
        .bind::<diesel::sql_types::Uuid, _>(hotel.partner.id.0)
        .bind::<Text, _>(&key)
        .execute(&mut elsewhere)
        .await
        .unwrap();
    let busy = submit_all(
        &committer,
        vec![redeem(&app, &hotel, &alice, 20, &key).await],
    )
    .await;
    assert!(
        matches!(busy[0], Err(IdempotencyError::InFlight)),
        "{busy:?}"
    );
    diesel::sql_query("SELECT pg_advisory_unlock(hashtext($1::text), hashtext($2))")
        .bind::<diesel::sql_types::Uuid, _>(hotel.partner.id.0)
        .bind::<Text, _>(&key)
        .execute(&mut elsewhere)
        .await
        .unwrap();
    let done = submit_all(
        &committer,
        vec![redeem(&app, &hotel, &alice, 20, &key).await],
    )
    .await;
    assert_eq!(outcome(&done[0]), (true, "30".into()));
}

#[tokio::test]
async fn a_request_dropped_while_it_waits_for_the_queue_leaves_its_key_free() {
    let (app, hotel, alice, _) = two_members(100, 1).await;
    // One operation a batch, so the queue fills after a few.
    let committer = Committer::start(
        app.storage.clone(),
        app.config.program.clone(),
        CommitterSettings {
            committers: 1,
            batch_window: Duration::ZERO,
            batch_max: 1,
        },
    );
    // Hold alice's account: the committer's first batch waits in PostgreSQL, and what comes
    // after it fills the queue.
    let mut blocker = hold_account(&app, &alice).await;
    let mut queued = Vec::new();
    for _ in 0..16 {
        let (scope, op) = redeem(&app, &hotel, &alice, 1, &unique_code("queued")).await;
        let mut submitted = Box::pin(committer.submit(scope, Ok(op)));
        assert!(futures_util::poll!(&mut submitted).is_pending());
        queued.push(submitted);
    }

    // A request whose client goes away while it waits for a place in the queue.
    let key = unique_code("gone");
    let (scope, op) = redeem(&app, &hotel, &alice, 5, &key).await;
    let mut gone = Box::pin(committer.submit(scope, Ok(op)));
    assert!(futures_util::poll!(&mut gone).is_pending());
    drop(gone);

    diesel::sql_query("ROLLBACK")
        .execute(&mut blocker)
        .await
        .unwrap();
    for reply in join_all(queued).await {
        assert!(outcome(&reply).0);
    }
    // Its retry is the first request under that key, not one "still in flight".
    let (scope, op) = redeem(&app, &hotel, &alice, 5, &key).await;
    let retried = committer.submit(scope, Ok(op)).await;
    assert_eq!(outcome(&retried), (true, "79".into()));
}

#[tokio::test]
async fn an_operation_that_would_take_an_account_total_past_64_bits_is_refused_alone() {
    let (app, hotel, alice, _) = two_members(30, 0).await;
    let full = app.partner().with_default_rule().await;
    let bob = full.member().with_points(10).await.card;
    // The full partner has issued nearly 2^63 points in all: 1,000 more do not fit its account.
    let issuance = domain::ledger::partner_account(
        full.partner.id,
        domain::ledger::AccountKind::PartnerIssuance,
    );
    let add_issued = async |points: i64| {
        diesel::sql_query("UPDATE accounts SET debits_posted = debits_posted + $1 WHERE id = $2")
            .bind::<diesel::sql_types::BigInt, _>(points)
            .bind::<diesel::sql_types::Uuid, _>(issuance.0)
            .execute(&mut app.storage.db().await.unwrap())
            .await
            .unwrap();
    };
    let stand_in = i64::MAX - 110;
    add_issued(stand_in).await;

    let committer = committer(&app, Duration::from_millis(300));
    let keys: Vec<String> = (0..3).map(|_| unique_code("overflow")).collect();
    let submissions = vec![
        earn(&app, &hotel, &alice, 150_000, &keys[0]).await, // +15
        earn(&app, &full, &bob, 10_000_000, &keys[1]).await, // +1,000: overflows
        redeem(&app, &hotel, &alice, 5, &keys[2]).await,
    ];
    let replies = submit_all(&committer, submissions).await;
    let seen: Vec<(bool, String)> = replies.iter().map(outcome).collect();
    assert_eq!(
        seen,
        [
            (true, "45".into()),
            (true, "amount_too_large".into()),
            (true, "40".into()),
        ],
        "the neighbours commit; the overflowing earn alone is refused"
    );
    // The refusal was recorded: a retry gets it again, and nothing moved.
    let retry = submit_all(
        &committer,
        vec![earn(&app, &full, &bob, 10_000_000, &keys[1]).await],
    );
    assert_eq!(outcome(&retry.await[0]), (false, "amount_too_large".into()));
    assert_eq!(full.client.available_points(&bob).await, 10);
    // The account's projection back to what its transfers give, for the ledger check at the end.
    add_issued(-stand_in).await;
}
