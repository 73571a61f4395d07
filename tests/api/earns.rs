//! Quotes and earns through the signed API: pricing without posting, an earn's checks,
//! and an earn retried with its key.
//! Every test ends with the ledger check (in `TestApp`'s drop).

use partners::protocol::Money;
use test_support::protocol::{code, earn_request, irr, key};
use test_support::{CardChecks as _, DEFAULT_RULE, TestApp};

#[tokio::test]
async fn quote_prices_purchases_and_points_without_posting() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().await;
    let err = hotel
        .client
        .quote("main", Some(&irr(50_000)), None)
        .await
        .unwrap_err();
    assert_eq!(code(err), "point_rule_missing");
    app.set_rule(&hotel, DEFAULT_RULE).await;
    let quote = hotel
        .client
        .quote("main", Some(&irr(259_999)), Some(40))
        .await
        .unwrap()
        .body;
    assert_eq!(quote.earn_points, Some(25), "points round down");
    assert_eq!(quote.discount, Some(irr(40_000)));
    let usd = Money {
        amount_minor: 100,
        currency: "USD".into(),
    };
    assert_eq!(
        code(
            hotel
                .client
                .quote("main", Some(&usd), None)
                .await
                .unwrap_err()
        ),
        "currency_mismatch"
    );
    assert_eq!(
        code(hotel.client.quote("main", None, None).await.unwrap_err()),
        "invalid_request"
    );
    assert_eq!(
        code(
            hotel
                .client
                .quote("nowhere", None, Some(1))
                .await
                .unwrap_err()
        ),
        "branch_unknown"
    );
    let page = hotel.client.transactions("").await.unwrap().body;
    assert!(page.transactions.is_empty(), "a quote posts nothing");
}

#[tokio::test]
async fn earning_validates_the_purchase_and_the_branch() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let other = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;

    let movement = hotel
        .client
        .earn(&earn_request(&card, 259_999), &key())
        .await
        .unwrap()
        .body;
    assert_eq!(movement.transaction.points, 25);
    assert_eq!(movement.transaction.kind, "earn");
    assert_eq!(movement.transaction.state, "posted");
    assert_eq!(
        movement.transaction.card_last4.as_deref(),
        Some(&card[12..])
    );
    assert_eq!(movement.balance.available, 25);

    assert_eq!(
        code(
            hotel
                .client
                .earn(&earn_request(&card, 9_999), &key())
                .await
                .unwrap_err()
        ),
        "purchase_too_small"
    );
    let mut usd = earn_request(&card, 100_000);
    usd.amount.currency = "USD".into();
    assert_eq!(
        code(hotel.client.earn(&usd, &key()).await.unwrap_err()),
        "currency_mismatch"
    );
    let mut reused = earn_request(&card, 100_000);
    reused.reference = movement.transaction.reference.clone().unwrap();
    assert_eq!(
        code(hotel.client.earn(&reused, &key()).await.unwrap_err()),
        "reference_already_used"
    );
    let mut zero = earn_request(&card, 0);
    zero.amount.amount_minor = 0;
    assert_eq!(
        code(hotel.client.earn(&zero, &key()).await.unwrap_err()),
        "invalid_request"
    );
    let mut elsewhere = earn_request(&card, 100_000);
    elsewhere.branch = "nowhere".into();
    assert_eq!(
        code(hotel.client.earn(&elsewhere, &key()).await.unwrap_err()),
        "branch_unknown"
    );
    let others_branch = other.client.whoami().await.unwrap().body.branches[0].id;
    let mut foreign = earn_request(&card, 100_000);
    foreign.branch = others_branch.to_string();
    assert_eq!(
        code(hotel.client.earn(&foreign, &key()).await.unwrap_err()),
        "branch_of_another_partner"
    );
}

#[tokio::test]
async fn an_earn_retried_with_its_key_is_answered_once() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let request = earn_request(&card, 500_000);
    let first = hotel.client.earn(&request, "earn-once").await.unwrap();
    let retry = hotel.client.earn(&request, "earn-once").await.unwrap();
    assert!(retry.is_replay);
    assert_eq!(retry.raw_body, first.raw_body);
    assert_eq!(hotel.client.available_points(&card).await, 50);
}
