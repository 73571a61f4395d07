//! The ledger committer driven directly against the test's PostgreSQL: batch
//! semantics (arrival order, per-operation answers, neighbours unaffected,
//! idempotency inside one batch) and a batch whose connection is killed.

use std::time::Duration;

use diesel::sql_types::{BigInt, Integer, Text, Timestamptz};
use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
use futures_util::future::join_all;
use gateway::domain::cards::CardNumber;
use gateway::domain::idempotency::{
    Answer, ExecuteError, IdempotencyError, IdempotencyKey, IdempotentRequest,
};
use gateway::domain::ledger::batch::LedgerOp;
use gateway::domain::ledger::committer::{Committer, CommitterSettings, Reply};
use gateway::domain::ledger::prepare::{self, Lookups};
use gateway::domain::ledger::{EarnRequest, LedgerError, RedeemRequest, Teller};
use test_support::app::unique_code;
use test_support::{TestApp, TestPartner};

fn committer(app: &TestApp, window: Duration) -> Committer {
    Committer::start(
        app.storage.clone(),
        app.config.program.clone(),
        CommitterSettings {
            committers: 1,
            batch_window: window,
            batch_max: 1000,
        },
        gateway::http::ledger_answers::render_created,
    )
}

/// A signed-request stand-in: the partner, its idempotency key and a body that tells requests apart.
fn request(partner: &TestPartner, key: &str, body: &str) -> IdempotentRequest {
    IdempotentRequest::new(
        partner.partner.id,
        IdempotencyKey::parse(key).unwrap(),
        "POST",
        "/v1/redemptions",
        None,
        body.as_bytes(),
    )
}

fn teller(partner: &TestPartner, key: &str) -> Teller {
    Teller {
        partner_id: partner.partner.id,
        idempotency_key: Some(key.to_owned()),
    }
}

/// A prepared submission: the request and its operation (or the refusal met preparing it).
type Submission = (IdempotentRequest, Result<LedgerOp, LedgerError>);

async fn redeem(
    app: &TestApp,
    partner: &TestPartner,
    card: &str,
    points: i64,
    key: &str,
) -> Submission {
    let op = prepare::redeem_op(
        &mut Lookups::Cached(&app.storage),
        &app.config.program,
        &teller(partner, key),
        RedeemRequest {
            branch: "main".into(),
            card: CardNumber::parse(card).unwrap(),
            points,
            reference: key.to_owned(),
            hold: None,
        },
    )
    .await;
    (
        request(partner, key, &format!("redeem {card} {points}")),
        op,
    )
}

async fn earn(
    app: &TestApp,
    partner: &TestPartner,
    card: &str,
    amount_minor: i64,
    key: &str,
) -> Submission {
    let op = prepare::earn_op(
        &mut Lookups::Cached(&app.storage),
        &app.config.program,
        &teller(partner, key),
        EarnRequest {
            branch: "main".into(),
            card: CardNumber::parse(card).unwrap(),
            amount_minor,
            currency: "IRR".into(),
            reference: key.to_owned(),
            release_at: None,
        },
        chrono::Utc::now(),
    )
    .await;
    (
        request(partner, key, &format!("earn {card} {amount_minor}")),
        op,
    )
}

/// Submits all at once, in this order (each reaches the committer's queue when first polled).
async fn submit_all(committer: &Committer, submissions: Vec<Submission>) -> Vec<Reply> {
    join_all(
        submissions
            .into_iter()
            .map(|(request, op)| committer.submit(request, op)),
    )
    .await
}

/// (fresh?, status, available balance or problem code) of a reply.
fn outcome(reply: &Reply) -> (bool, u16, String) {
    let (is_fresh, answer) = match reply {
        Ok(Answer::Fresh(answer)) => (true, answer),
        Ok(Answer::Replayed(answer)) => (false, answer),
        Err(err) => panic!("no answer: {err}"),
    };
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let detail = match answer.status {
        201 => body["balance"]["available"].to_string(),
        _ => body["code"].as_str().unwrap_or_default().to_owned(),
    };
    (is_fresh, answer.status, detail)
}

/// A gateway, a hotel with a rule, and two members (alice, bob) with these points.
async fn two_members(alice_points: i64, bob_points: i64) -> (TestApp, TestPartner, String, String) {
    let app = TestApp::spawn().await;
    let hotel = app.seed_partner().await;
    app.seed_rule(&hotel).await;
    let (alice, bob) = (
        app.enroll_member(&hotel).await,
        app.enroll_member(&hotel).await,
    );
    app.earn_points(&hotel, &alice, alice_points).await;
    app.earn_points(&hotel, &bob, bob_points).await;
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
    let seen: Vec<(bool, u16, String)> = replies.iter().take(6).map(outcome).collect();
    assert_eq!(
        seen,
        [
            (true, 201, "10".into()),
            (true, 409, "insufficient_points".into()),
            (true, 201, "0".into()),
            (true, 201, "25".into()),
            (true, 201, "5".into()),
            (false, 201, "10".into()),
        ]
    );
    assert!(matches!(
        replies[6],
        Err(ExecuteError::Idempotency(IdempotencyError::PayloadMismatch))
    ));
    assert_eq!(
        outcome(&replies[7]),
        (true, 409, "insufficient_points".into())
    );

    // One batch: one commit time for every transfer it wrote, in arrival order of their ids.
    #[derive(diesel::QueryableByName)]
    struct Written {
        #[diesel(sql_type = Text)]
        idempotency_key: String,
        #[diesel(sql_type = Timestamptz)]
        created_at: chrono::DateTime<chrono::Utc>,
    }
    let written: Vec<Written> = diesel::sql_query(
        "SELECT idempotency_key, created_at FROM transfers \
          WHERE idempotency_key = ANY($1) ORDER BY id",
    )
    .bind::<diesel::sql_types::Array<Text>, _>(&keys)
    .load(&mut app.storage.db().await.unwrap())
    .await
    .unwrap();
    let written_keys: Vec<&str> = written.iter().map(|w| w.idempotency_key.as_str()).collect();
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
            .all(|w| w.created_at == written[0].created_at)
    );

    // A later batch replays what the first recorded, refusals included.
    let again = submit_all(
        &committer,
        vec![redeem(&app, &hotel, &alice, 20, &keys[1]).await],
    )
    .await
    .remove(0);
    assert_eq!(outcome(&again), (false, 409, "insufficient_points".into()));
}

#[tokio::test]
async fn a_batch_whose_connection_is_killed_answers_nothing_as_committed() {
    let (app, hotel, alice, bob) = two_members(100, 100).await;
    let committer = committer(&app, Duration::from_millis(100));
    let keys: Vec<String> = (0..3).map(|_| unique_code("crash")).collect();

    // Hold alice's account so the committer's batch stops mid-way, waiting for the lock.
    let mut blocker = app.storage.db().await.unwrap();
    diesel::sql_query("BEGIN")
        .execute(&mut blocker)
        .await
        .unwrap();
    diesel::sql_query(
        "SELECT a.id FROM accounts a JOIN cards c ON c.member_id = a.member_id \
          WHERE c.number = $1 FOR UPDATE",
    )
    .bind::<Text, _>(&alice)
    .execute(&mut blocker)
    .await
    .unwrap();

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
            matches!(
                reply,
                Err(ExecuteError::Idempotency(IdempotencyError::Storage(_)))
            ),
            "a request of the killed batch was answered: {reply:?}"
        );
    }
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let count = |keys: Vec<String>| {
        let storage = app.storage.clone();
        async move {
            let mut conn = storage.db().await.unwrap();
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let transfers: Count = diesel::sql_query(
                    "SELECT count(*) AS count FROM transfers WHERE idempotency_key = ANY($1)",
                )
                .bind::<diesel::sql_types::Array<Text>, _>(&keys)
                .get_result(conn)
                .await?;
                let records: Count = diesel::sql_query(
                    "SELECT count(*) AS count FROM idempotency_records WHERE idempotency_key = ANY($1)",
                )
                .bind::<diesel::sql_types::Array<Text>, _>(&keys)
                .get_result(conn)
                .await?;
                Ok((transfers.count, records.count))
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(
        count(keys.clone()).await,
        (0, 0),
        "nothing of the killed batch committed"
    );

    // The partners retry with the same keys: each is applied once.
    let retried = submit_all(&committer, submissions().await).await;
    let statuses: Vec<(bool, u16)> = retried
        .iter()
        .map(|r| {
            let (fresh, status, _) = outcome(r);
            (fresh, status)
        })
        .collect();
    assert_eq!(statuses, [(true, 201), (true, 201), (true, 201)]);
    assert_eq!(count(keys.clone()).await, (3, 3));
    let replayed = submit_all(
        &committer,
        vec![redeem(&app, &hotel, &alice, 10, &keys[0]).await],
    )
    .await
    .remove(0);
    let (is_fresh, status, available) = outcome(&replayed);
    assert_eq!((is_fresh, status), (false, 201));
    assert_eq!(available, outcome(&retried[0]).2);
}
