//! The ledger through its domain operations, with the clock in the test's hands:
//! expiry and lot order, the invariant check catching tampering, and property
//! tests over random sequences of operations.

use chrono::{Duration, Utc};
use diesel_async::RunQueryDsl as _;
use domain::ledger::{AccountKind, LedgerError};
use domain::points::Points;
use operations::error::OperationError;
use operations::ledger::maintenance;
use proptest::prelude::*;
use test_support::till::DirectTill;
use test_support::{CardChecks as _, TestApp};

#[tokio::test]
async fn points_expire_after_their_validity_and_the_oldest_lots_are_spent_first() {
    let app = TestApp::spawn().await;
    let (_partner, till) = DirectTill::open(&app).await;
    let card = till.enroll("+989120000001").await;
    let t0 = Utc::now();
    till.earn(&card, 100, t0).await.unwrap();
    till.earn(&card, 50, t0 + Duration::days(100))
        .await
        .unwrap();
    // 80 points come out of the older lot (100), leaving 20 there and 50 in the newer.
    till.redeem(&card, 80, false, t0 + Duration::days(200))
        .await
        .unwrap();

    let report = maintenance::run(&app.storage, &app.config.program, t0 + Duration::days(731))
        .await
        .unwrap();
    assert_eq!(
        report.points_expired,
        Points(20),
        "only the older lot's remainder expires"
    );
    assert_eq!(app.available_in_ledger(&card).await, 50);

    // An operation after the newer lot's expiry expires it first, even before maintenance runs.
    let err = till
        .redeem(&card, 1, false, t0 + Duration::days(831))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OperationError::Refused(LedgerError::InsufficientPoints {
                available: Points(0),
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(app.available_in_ledger(&card).await, 0);

    let breakage = app.operator_account(AccountKind::Breakage).await;
    assert_eq!(breakage.credits_posted, 70);
}

#[tokio::test]
async fn a_card_check_does_not_count_expired_points() {
    let app = TestApp::spawn().await;
    let (partner, till) = DirectTill::open(&app).await;
    let card = till.enroll("+989120000002").await;
    till.earn(&card, 100, Utc::now() - Duration::days(731))
        .await
        .unwrap();
    assert_eq!(partner.client.available_points(card.as_str()).await, 0);
    maintenance::run(&app.storage, &app.config.program, Utc::now())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_check_detects_a_tampered_projection_lot_or_transfer_table() {
    let app = TestApp::spawn().await;
    let (_partner, till) = DirectTill::open(&app).await;
    let card = till.enroll("+989120000004").await;
    till.earn(&card, 100, Utc::now()).await.unwrap();
    assert!(app.ledger_report().await.is_exact());
    let mut conn = app.db.connect().await;

    diesel::sql_query(
        "UPDATE accounts SET credits_posted = credits_posted + 1 WHERE kind = 'member'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let report = app.ledger_report().await;
    assert!(
        report.violations.iter().any(|v| v.contains("projects")),
        "{:?}",
        report.violations
    );
    assert!(
        report.violations.iter().any(|v| v.contains("sum to zero")),
        "{:?}",
        report.violations
    );
    diesel::sql_query(
        "UPDATE accounts SET credits_posted = credits_posted - 1 WHERE kind = 'member'",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    diesel::sql_query("UPDATE earn_lots SET remaining = remaining - 1")
        .execute(&mut conn)
        .await
        .unwrap();
    let report = app.ledger_report().await;
    assert!(
        report.violations.iter().any(|v| v.contains("lots hold")),
        "{:?}",
        report.violations
    );
    diesel::sql_query("UPDATE earn_lots SET remaining = remaining + 1")
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(app.ledger_report().await.is_exact());

    till.redeem(&card, 10, true, Utc::now()).await.unwrap();
    let other = till.enroll("+989120000014").await;
    diesel::sql_query(
        "UPDATE pending_transfers SET member_id = \
         (SELECT member_id FROM cards WHERE number = $1)",
    )
    .bind::<diesel::sql_types::Text, _>(other.as_str())
    .execute(&mut conn)
    .await
    .unwrap();
    let report = app.ledger_report().await;
    assert!(
        report.violations.iter().any(|v| v.contains("filed under")),
        "{:?}",
        report.violations
    );
    diesel::sql_query(
        "UPDATE pending_transfers o SET member_id = t.member_id \
           FROM transfers t WHERE t.id = o.transfer_id",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    assert!(app.ledger_report().await.is_exact());

    let err = diesel::sql_query("UPDATE transfers SET amount = amount + 1")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = diesel::sql_query("DELETE FROM transfers")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

#[tokio::test]
async fn the_database_refuses_a_negative_member_balance_even_if_the_code_did_not() {
    let app = TestApp::spawn().await;
    let (_partner, till) = DirectTill::open(&app).await;
    let card = till.enroll("+989120000005").await;
    till.earn(&card, 10, Utc::now()).await.unwrap();
    let mut conn = app.db.connect().await;
    let err = diesel::sql_query(
        "UPDATE accounts SET debits_posted = debits_posted + 11 WHERE kind = 'member'",
    )
    .execute(&mut conn)
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("member_balance_never_negative"),
        "{err}"
    );
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Op {
    Earn {
        member: usize,
        points: i64,
        days: i64,
    },
    PendingEarn {
        member: usize,
        points: i64,
    },
    Redeem {
        member: usize,
        points: i64,
    },
    Hold {
        member: usize,
        points: i64,
    },
    Capture {
        hold: usize,
        points: i64,
    },
    Void {
        hold: usize,
    },
    Reverse {
        transfer: usize,
        points: Option<i64>,
    },
    /// Reverses the latest transfer made (often a capture or a release: their ids stand for the original).
    ReverseLatest {
        points: Option<i64>,
    },
    Release {
        pending: usize,
    },
    Maintain {
        days: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 1..200i64, 0..800i64).prop_map(|(member, points, days)| Op::Earn { member, points, days }),
        1 => (0..3usize, 1..100i64).prop_map(|(member, points)| Op::PendingEarn { member, points }),
        3 => (0..3usize, 1..150i64).prop_map(|(member, points)| Op::Redeem { member, points }),
        2 => (0..3usize, 1..150i64).prop_map(|(member, points)| Op::Hold { member, points }),
        2 => (0..8usize, 1..150i64).prop_map(|(hold, points)| Op::Capture { hold, points }),
        1 => (0..8usize).prop_map(|hold| Op::Void { hold }),
        2 => (0..12usize, proptest::option::of(1..120i64)).prop_map(|(transfer, points)| Op::Reverse { transfer, points }),
        2 => proptest::option::of(1..60i64).prop_map(|points| Op::ReverseLatest { points }),
        1 => (0..4usize).prop_map(|pending| Op::Release { pending }),
        1 => (0..900i64).prop_map(|days| Op::Maintain { days }),
    ]
}

/// The item at `index`, wrapping around, so a generated index always names something that exists.
fn pick<T>(items: &[T], index: usize) -> Option<&T> {
    (!items.is_empty()).then(|| &items[index % items.len()])
}

async fn run_history(ops: Vec<Op>) {
    let app = TestApp::spawn().await;
    let (_partner, till) = DirectTill::open(&app).await;
    let base = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut cards = Vec::new();
    for i in 0..3 {
        cards.push(till.enroll(&format!("+98935{base:04}{i:03}")).await);
    }
    let now = Utc::now();
    let (mut holds, mut transfers, mut pendings) = (Vec::new(), Vec::new(), Vec::new());
    for op in ops {
        let program = &app.config.program;
        let result = match op {
            Op::Earn {
                member,
                points,
                days,
            } => {
                till.earn(&cards[member], points, now - Duration::days(days))
                    .await
            }
            Op::PendingEarn { member, points } => {
                let release_at = Some(now + Duration::days(2));
                let result = till
                    .earn_pending(&cards[member], points, release_at, now)
                    .await;
                if let Ok(m) = &result {
                    pendings.push(m.transfer.id);
                }
                result
            }
            Op::Redeem { member, points } => till.redeem(&cards[member], points, false, now).await,
            Op::Hold { member, points } => {
                let result = till.redeem(&cards[member], points, true, now).await;
                if let Ok(m) = &result {
                    holds.push(m.transfer.id);
                }
                result
            }
            Op::Capture { hold, points } => match pick(&holds, hold) {
                Some(id) => till.capture(*id, Some(points), now).await,
                None => continue,
            },
            Op::Void { hold } => match pick(&holds, hold) {
                Some(id) => till.void(*id, now).await,
                None => continue,
            },
            Op::Reverse { transfer, points } => match pick(&transfers, transfer) {
                Some(id) => till.reverse(*id, points, now).await,
                None => continue,
            },
            Op::ReverseLatest { points } => match transfers.last() {
                Some(id) => till.reverse(*id, points, now).await,
                None => continue,
            },
            Op::Release { pending } => match pick(&pendings, pending) {
                Some(id) => till.release(*id, now).await,
                None => continue,
            },
            Op::Maintain { days } => {
                maintenance::run(&app.storage, program, now + Duration::days(days))
                    .await
                    .unwrap();
                continue;
            }
        };
        match result {
            Ok(movement) => {
                transfers.push(movement.transfer.id);
                assert!(movement.balance.available >= Points::ZERO);
            }
            // Business refusals are expected in random histories; anything else is a bug.
            Err(OperationError::Storage(e)) => panic!("storage error: {e}"),
            Err(OperationError::Refused(_)) => {}
        }
        let report = app.ledger_report().await;
        assert!(
            report.is_exact(),
            "after {op_count} ops: {:?}",
            report.violations,
            op_count = transfers.len()
        );
    }
}

static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 50, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_keep_every_invariant(ops in proptest::collection::vec(op(), 1..25)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(run_history(ops));
    }
}
