//! Two-phase redemptions (holds) through the signed API: captured in part, voided,
//! expired, and only by the partner that holds them.
//! Every test ends with the ledger check (in `TestApp`'s drop).

use partners::protocol::CaptureRequest;
use test_support::protocol::{code, irr, key, redeem_request};
use test_support::{CardChecks as _, TestApp};

#[tokio::test]
async fn a_hold_is_captured_in_part_and_the_rest_released() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(100).await.card;

    let hold = hotel.hold_points(&card, 80).await;
    assert_eq!(hold.transaction.state, "pending");
    assert!(hold.transaction.timeout_at.is_some());
    assert_eq!(
        (
            hold.balance.available,
            hold.balance.held,
            hold.balance.posted
        ),
        (20, 80, 100)
    );
    let id = hold.transaction.id;

    let too_much = hotel
        .client
        .capture(id, &CaptureRequest { points: Some(81) }, &key())
        .await
        .unwrap_err();
    assert_eq!(code(too_much), "capture_exceeds_hold");
    let captured = hotel
        .client
        .capture(id, &CaptureRequest { points: Some(60) }, &key())
        .await
        .unwrap()
        .body;
    assert_eq!(captured.transaction.phase, "post");
    assert_eq!(captured.transaction.pending_id, Some(id));
    assert_eq!(captured.transaction.money, Some(irr(60_000)));
    assert_eq!(
        (
            captured.balance.available,
            captured.balance.held,
            captured.balance.posted
        ),
        (40, 0, 40)
    );

    assert_eq!(
        code(
            hotel
                .client
                .capture(id, &CaptureRequest::default(), &key())
                .await
                .unwrap_err()
        ),
        "hold_already_captured"
    );
    assert_eq!(
        code(hotel.client.void_hold(id, &key()).await.unwrap_err()),
        "hold_already_captured"
    );
    let state = hotel.client.transactions("type=redeem").await.unwrap().body;
    let original = state.transactions.iter().find(|t| t.id == id).unwrap();
    assert_eq!(original.state, "posted");
}

#[tokio::test]
async fn a_voided_hold_gives_every_point_back() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(100).await.card;
    let hold = hotel.hold_points(&card, 70).await;
    let voided = hotel
        .client
        .void_hold(hold.transaction.id, &key())
        .await
        .unwrap()
        .body;
    assert_eq!(voided.transaction.state, "voided");
    assert_eq!((voided.balance.available, voided.balance.held), (100, 0));
    let err = hotel
        .client
        .capture(hold.transaction.id, &CaptureRequest::default(), &key())
        .await
        .unwrap_err();
    assert_eq!(code(err), "hold_already_voided");
    assert_eq!(
        code(
            hotel
                .client
                .void_hold(hold.transaction.id, &key())
                .await
                .unwrap_err()
        ),
        "hold_already_voided"
    );
}

#[tokio::test]
async fn holds_expire_on_their_own() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let hold_of = async |card| {
        let mut request = redeem_request(card, 40, true);
        request.hold_timeout_secs = Some(60);
        hotel.client.redeem(&request, &key()).await.unwrap().body
    };
    let (first, second) = (
        hotel.member().with_points(100).await.card,
        hotel.member().with_points(100).await.card,
    );
    let (first_hold, second_hold) = (hold_of(&first).await, hold_of(&second).await);

    // A capture after the timeout is refused even before maintenance has run, and what time
    // decided is written with the refusal: the hold's void gives its points back.
    let later = chrono::Utc::now() + chrono::Duration::seconds(61);
    let err = operations::ledger::at::capture(
        &app.club,
        hotel.partner.id,
        domain::ids::TransferId(first_hold.transaction.id),
        None,
        later,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            operations::error::OperationError::Refused(domain::ledger::LedgerError::HoldExpired(_))
        ),
        "{err}"
    );
    assert_eq!(hotel.client.available_points(&first).await, 100);

    // The hold nobody touched is voided by maintenance.
    let report = operations::ledger::maintenance::run(&app.storage, &app.config.program, later)
        .await
        .unwrap();
    assert_eq!(report.holds_expired, 1);
    assert_eq!(hotel.client.available_points(&second).await, 100);
    for hold in [first_hold, second_hold] {
        let err = hotel
            .client
            .capture(hold.transaction.id, &CaptureRequest::default(), &key())
            .await
            .unwrap_err();
        assert_eq!(code(err), "hold_expired");
    }
    let mut too_long = redeem_request(&first, 1, true);
    too_long.hold_timeout_secs = Some(30 * 24 * 3600);
    assert_eq!(
        code(hotel.client.redeem(&too_long, &key()).await.unwrap_err()),
        "hold_timeout_invalid"
    );
}

#[tokio::test]
async fn a_capture_or_void_answers_a_balance_without_the_members_expired_holds() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(100).await.card;
    let hold = |points, timeout| {
        let mut request = redeem_request(&card, points, true);
        request.hold_timeout_secs = Some(timeout);
        request
    };
    let client = &hotel.client;
    client.redeem(&hold(40, 60), &key()).await.unwrap();
    let captured = client.redeem(&hold(30, 600), &key()).await.unwrap().body;
    let voided = client.redeem(&hold(10, 600), &key()).await.unwrap().body;

    // The first hold has expired and maintenance has not run: the answers count it as released.
    let later = chrono::Utc::now() + chrono::Duration::seconds(61);
    let capture = operations::ledger::at::capture(
        &app.club,
        hotel.partner.id,
        domain::ids::TransferId(captured.transaction.id),
        None,
        later,
    )
    .await
    .unwrap();
    assert_eq!(
        (capture.balance.available.0, capture.balance.held.0),
        (60, 10)
    );
    let void = operations::ledger::at::void(
        &app.club,
        hotel.partner.id,
        domain::ids::TransferId(voided.transaction.id),
        later,
    )
    .await
    .unwrap();
    assert_eq!((void.balance.available.0, void.balance.held.0), (70, 0));
    assert_eq!(client.available_points(&card).await, 70);
}

#[tokio::test]
async fn only_the_partners_own_holds_can_be_captured() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let restaurant = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let earned = hotel.earn_points(&card, 100).await;
    let hold = hotel.hold_points(&card, 10).await;
    let err = restaurant
        .client
        .capture(hold.transaction.id, &CaptureRequest::default(), &key())
        .await
        .unwrap_err();
    assert_eq!(code(err), "transaction_not_found");
    let err = hotel
        .client
        .capture(earned.transaction.id, &CaptureRequest::default(), &key())
        .await
        .unwrap_err();
    assert_eq!(code(err), "not_a_hold");
    let err = hotel
        .client
        .capture(uuid::Uuid::now_v7(), &CaptureRequest::default(), &key())
        .await
        .unwrap_err();
    assert_eq!(code(err), "transaction_not_found");
}
