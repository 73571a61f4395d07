//! Reversals of earns and redemptions through the signed API: never more than the
//! original, never points already spent.
//! Every test ends with the ledger check (in `TestApp`'s drop).

use partners::protocol::{CaptureRequest, ReverseRequest};
use test_support::TestApp;
use test_support::app::unique_code;
use test_support::protocol::{code, irr, key, problem};

#[tokio::test]
async fn reversals_never_exceed_the_original() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let earned = hotel.earn_points(&card, 100).await;
    let reverse = |points: Option<i64>| ReverseRequest {
        transaction_id: earned.transaction.id,
        points,
        reference: Some(unique_code("return")),
    };

    let partial = hotel
        .client
        .reverse(&reverse(Some(30)), &key())
        .await
        .unwrap()
        .body;
    assert_eq!(partial.transaction.kind, "earn_reversal");
    assert_eq!(partial.transaction.reverses_id, Some(earned.transaction.id));
    assert_eq!(partial.balance.available, 70);
    let err = hotel
        .client
        .reverse(&reverse(Some(71)), &key())
        .await
        .unwrap_err();
    let problem = problem(err);
    assert_eq!(problem.code, "reversal_exceeds_original");
    assert!(problem.detail.contains("70"), "{}", problem.detail);
    let rest = hotel
        .client
        .reverse(&reverse(None), &key())
        .await
        .unwrap()
        .body;
    assert_eq!((rest.transaction.points, rest.balance.available), (70, 0));
    assert_eq!(
        code(
            hotel
                .client
                .reverse(&reverse(None), &key())
                .await
                .unwrap_err()
        ),
        "reversal_exceeds_original"
    );

    let reversal_of_reversal = ReverseRequest {
        transaction_id: rest.transaction.id,
        points: None,
        reference: None,
    };
    assert_eq!(
        code(
            hotel
                .client
                .reverse(&reversal_of_reversal, &key())
                .await
                .unwrap_err()
        ),
        "transaction_not_reversible"
    );
}

#[tokio::test]
async fn reversing_an_earn_whose_points_were_spent_takes_only_what_is_left() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let restaurant = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let earned = hotel.earn_points(&card, 100).await;
    restaurant.redeem_points(&card, 60).await;

    let whole = ReverseRequest {
        transaction_id: earned.transaction.id,
        points: None,
        reference: None,
    };
    let err = hotel.client.reverse(&whole, &key()).await.unwrap_err();
    let problem = problem(err);
    assert_eq!(problem.code, "insufficient_points");
    assert!(
        problem.detail.contains("40 points available"),
        "{}",
        problem.detail
    );
    let available = ReverseRequest {
        points: Some(40),
        ..whole
    };
    let reversed = hotel.client.reverse(&available, &key()).await.unwrap().body;
    assert_eq!(reversed.balance.available, 0);
}

#[tokio::test]
async fn reversing_a_redemption_gives_the_points_back() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(100).await.card;
    let hold = hotel.hold_points(&card, 50).await;
    let pending = ReverseRequest {
        transaction_id: hold.transaction.id,
        points: None,
        reference: None,
    };
    assert_eq!(
        code(hotel.client.reverse(&pending, &key()).await.unwrap_err()),
        "transaction_not_reversible"
    );
    let capture = hotel
        .client
        .capture(
            hold.transaction.id,
            &CaptureRequest { points: Some(30) },
            &key(),
        )
        .await
        .unwrap()
        .body;
    let first = ReverseRequest {
        points: Some(10),
        ..pending.clone()
    };
    let reversed = hotel.client.reverse(&first, &key()).await.unwrap().body;
    assert_eq!(
        (
            reversed.transaction.kind.as_str(),
            reversed.transaction.points
        ),
        ("redeem_reversal", 10)
    );
    assert_eq!(reversed.transaction.money, Some(irr(10_000)));
    assert_eq!(reversed.transaction.reverses_id, Some(hold.transaction.id));
    // The capture's id stands for its hold: the reversals of both count together.
    let by_capture = ReverseRequest {
        transaction_id: capture.transaction.id,
        points: None,
        reference: None,
    };
    let reversed = hotel
        .client
        .reverse(&by_capture, &key())
        .await
        .unwrap()
        .body;
    assert_eq!(reversed.transaction.points, 20);
    assert_eq!(reversed.transaction.reverses_id, Some(hold.transaction.id));
    assert_eq!(reversed.balance.available, 100);
    assert_eq!(
        code(hotel.client.reverse(&by_capture, &key()).await.unwrap_err()),
        "reversal_exceeds_original"
    );
    let other_hold = hotel.hold_points(&card, 5).await;
    let void = hotel
        .client
        .void_hold(other_hold.transaction.id, &key())
        .await
        .unwrap()
        .body;
    let by_void = ReverseRequest {
        transaction_id: void.transaction.id,
        points: None,
        reference: None,
    };
    assert_eq!(
        code(hotel.client.reverse(&by_void, &key()).await.unwrap_err()),
        "transaction_not_reversible"
    );
}
