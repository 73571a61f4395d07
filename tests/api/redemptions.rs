//! One-step redemptions through the signed API: across partners, never more than
//! available, and exact under a hundred parallel requests.
//! Every test ends with the ledger check (in `TestApp`'s drop).

use test_support::app::unique_code;
use test_support::protocol::{code, irr, key, problem, redeem_request};
use test_support::{CardChecks as _, TestApp};

#[tokio::test]
async fn earn_at_the_hotel_and_redeem_at_the_restaurant() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let restaurant = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(300).await.card;

    let check = restaurant
        .client
        .check_card(&card, Some("main"))
        .await
        .unwrap()
        .body;
    assert_eq!(check.balance.available, 300);
    assert_eq!(check.redeemable_value, Some(irr(300_000)));
    let redeemed = restaurant.redeem_points(&card, 120).await;
    assert_eq!(redeemed.transaction.money, Some(irr(120_000)));
    assert_eq!(redeemed.balance.available, 180);

    let hotel_accounts = app.partner_accounts(hotel.partner.id).await;
    assert_eq!(hotel_accounts[0].kind, "partner_issuance");
    assert_eq!(
        (
            hotel_accounts[0].debits_posted,
            hotel_accounts[0].credits_posted
        ),
        (300, 0)
    );
    let restaurant_accounts = app.partner_accounts(restaurant.partner.id).await;
    let redemption = restaurant_accounts
        .iter()
        .find(|a| a.kind == "partner_redemption")
        .unwrap();
    assert_eq!(
        (redemption.debits_posted, redemption.credits_posted),
        (0, 120)
    );
    assert_eq!(
        hotel
            .client
            .transactions("")
            .await
            .unwrap()
            .body
            .transactions
            .len(),
        1
    );
    assert_eq!(
        restaurant
            .client
            .transactions("")
            .await
            .unwrap()
            .body
            .transactions
            .len(),
        1
    );
}

#[tokio::test]
async fn redeeming_more_than_available_is_refused() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(50).await.card;
    let err = hotel
        .client
        .redeem(&redeem_request(&card, 51, false), &key())
        .await
        .unwrap_err();
    let problem = problem(err);
    assert_eq!(problem.code, "insufficient_points");
    assert!(
        problem.detail.contains("50 points available"),
        "{}",
        problem.detail
    );
    assert_eq!(
        code(
            hotel
                .client
                .redeem(&redeem_request(&card, 0, false), &key())
                .await
                .unwrap_err()
        ),
        "invalid_request"
    );
    assert_eq!(hotel.redeem_points(&card, 50).await.balance.available, 0);
}

#[tokio::test]
async fn one_hundred_parallel_redemptions_spend_exactly_the_balance() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(500).await.card;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let client = hotel.client.clone();
        let request = redeem_request(&card, 10, false);
        tasks.push(tokio::spawn(async move {
            client.redeem(&request, &unique_code("race")).await
        }));
    }
    let mut succeeded = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => succeeded += 1,
            Err(err) => assert_eq!(code(err), "insufficient_points"),
        }
    }
    assert_eq!(succeeded, 50);
    assert_eq!(hotel.client.available_points(&card).await, 0);
    assert!(app.ledger_report().await.is_exact());
}
