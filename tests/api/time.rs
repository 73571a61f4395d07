//! What time decides, seen by every read and every spend: a hold stops counting the moment it
//! expires (before maintenance writes its void), and every time the ledger answers is the time it
//! keeps (microseconds). The clock is moved by making the hold in the past, never by sleeping.

use chrono::{Duration, Utc};
use domain::ledger::Redemption;
use domain::points::Points;
use partners::protocol::CaptureRequest;
use test_support::app::unique_code;
use test_support::protocol::{code, redeem_request};
use test_support::{TestApp, TestPartner};

/// A member of `partner` with `points`, and a 10-point hold of theirs whose one-second timeout
/// passed four seconds ago (made through the ledger's operations at that time).
async fn member_with_an_expired_hold(
    app: &TestApp,
    partner: &TestPartner,
    points: i64,
) -> (String, uuid::Uuid) {
    let member = partner.member().with_points(points).await;
    let hold = Redemption::new(
        "main".into(),
        member.card_number(),
        Points(10),
        unique_code("bill"),
        Some(Some(std::time::Duration::from_secs(1))),
    )
    .unwrap();
    let held = operations::ledger::at::redeem(
        &app.club,
        partner.partner.id,
        hold,
        Utc::now() - Duration::seconds(5),
    )
    .await
    .unwrap();
    (member.card, held.transfer.id.0)
}

#[tokio::test]
async fn an_expired_hold_counts_for_no_read_and_no_spend_before_maintenance_runs() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;

    // Read first: the card check shows nothing held, and the capture is refused as expired.
    let (card, hold) = member_with_an_expired_hold(&app, &hotel, 100).await;
    let balance = hotel
        .client
        .check_card(&card, None)
        .await
        .unwrap()
        .body
        .balance;
    assert_eq!((balance.held, balance.available), (0, 100));
    let err = hotel
        .client
        .capture(hold, &CaptureRequest::default(), &unique_code("capture"))
        .await
        .unwrap_err();
    assert_eq!(code(err), "hold_expired");

    // Spend first: the whole balance is redeemable at once, in one batch with the hold's void.
    let (card, hold) = member_with_an_expired_hold(&app, &hotel, 100).await;
    let spent = hotel.redeem_points(&card, 100).await;
    assert_eq!((spent.balance.available, spent.balance.held), (0, 0));
    let err = hotel
        .client
        .capture(hold, &CaptureRequest::default(), &unique_code("capture"))
        .await
        .unwrap_err();
    assert_eq!(code(err), "hold_expired");

    // The transaction list shows the expired hold voided, whether or not its void is written.
    let (_, hold) = member_with_an_expired_hold(&app, &hotel, 20).await;
    let page = hotel.client.transactions("type=redeem").await.unwrap().body;
    let listed = page
        .transactions
        .iter()
        .find(|t| t.id == hold)
        .expect("the hold is listed");
    assert_eq!(listed.state, "voided");
}

#[tokio::test]
async fn receipts_carry_the_times_the_ledger_keeps() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let earned = hotel.earn_points(&card, 50).await.transaction;
    let mut hold = redeem_request(&card, 10, true);
    hold.hold_timeout_secs = Some(600);
    let held = hotel
        .client
        .redeem(&hold, &unique_code("hold"))
        .await
        .unwrap()
        .body
        .transaction;
    let listed = hotel
        .client
        .transactions("")
        .await
        .unwrap()
        .body
        .transactions;
    for answered in [&earned, &held] {
        assert_eq!(answered.created_at.timestamp_subsec_nanos() % 1_000, 0);
        let stored = listed.iter().find(|t| t.id == answered.id).unwrap();
        assert_eq!(stored.created_at, answered.created_at);
        assert_eq!(stored.timeout_at, answered.timeout_at);
    }
    assert_eq!(
        held.timeout_at.unwrap().timestamp_subsec_nanos() % 1_000,
        0,
        "a hold's timeout is at the ledger's precision"
    );
}
