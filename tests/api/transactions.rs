//! A partner's transactions through the signed API: paginated and filtered.
//! Every test ends with the ledger check (in `TestApp`'s drop).

use test_support::TestApp;
use test_support::protocol::code;

#[tokio::test]
async fn transactions_are_paginated_and_filtered() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let start = chrono::Utc::now() - chrono::Duration::seconds(1);
    for _ in 0..5 {
        hotel.earn_points(&card, 10).await;
    }
    hotel.redeem_points(&card, 5).await;
    let first = hotel.client.transactions("limit=4").await.unwrap().body;
    assert_eq!(first.transactions.len(), 4);
    assert_eq!(first.transactions[0].kind, "redeem", "newest first");
    let cursor = first.next_cursor.unwrap();
    let second = hotel
        .client
        .transactions(&format!("limit=4&cursor={cursor}"))
        .await
        .unwrap()
        .body;
    assert_eq!(second.transactions.len(), 2);
    assert_eq!(second.next_cursor, None);
    let earns = hotel.client.transactions("type=earn").await.unwrap().body;
    assert_eq!(earns.transactions.len(), 5);
    let from = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let window = hotel
        .client
        .transactions(&format!("from={from}&type=earn,redeem"))
        .await
        .unwrap()
        .body;
    assert_eq!(window.transactions.len(), 6);
    let to = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(
        hotel
            .client
            .transactions(&format!("to={to}"))
            .await
            .unwrap()
            .body
            .transactions
            .is_empty()
    );
    assert_eq!(
        code(hotel.client.transactions("limit=0").await.unwrap_err()),
        "invalid_request"
    );
    assert_eq!(
        code(hotel.client.transactions("type=gift").await.unwrap_err()),
        "invalid_request"
    );
}
