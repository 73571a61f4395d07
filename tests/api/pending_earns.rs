//! Pending earns through the signed API: posted, voided, or released by maintenance.
//! Every test ends with the ledger check (in `TestApp`'s drop).

use test_support::protocol::{code, earn_request, key, redeem_request};
use test_support::{CardChecks as _, TestApp};

#[tokio::test]
async fn a_pending_earn_is_released_posted_or_voided() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let release_at = chrono::Utc::now() + chrono::Duration::days(3);
    let mut stay = earn_request(&card, 1_000_000);
    stay.release_at = Some(release_at);
    let pending = hotel.client.earn(&stay, &key()).await.unwrap().body;
    assert_eq!(pending.transaction.state, "pending");
    assert_eq!(
        (pending.balance.available, pending.balance.pending_earned),
        (0, 100)
    );
    assert_eq!(
        code(
            hotel
                .client
                .redeem(&redeem_request(&card, 1, false), &key())
                .await
                .unwrap_err()
        ),
        "insufficient_points"
    );

    let posted = hotel
        .client
        .post_earn(pending.transaction.id, &key())
        .await
        .unwrap()
        .body;
    assert_eq!(
        (posted.balance.available, posted.balance.pending_earned),
        (100, 0)
    );
    assert_eq!(
        code(
            hotel
                .client
                .post_earn(pending.transaction.id, &key())
                .await
                .unwrap_err()
        ),
        "earn_already_posted"
    );
    assert_eq!(
        code(
            hotel
                .client
                .void_earn(pending.transaction.id, &key())
                .await
                .unwrap_err()
        ),
        "earn_already_posted"
    );

    let mut cancelled = earn_request(&card, 500_000);
    cancelled.release_at = Some(release_at);
    let cancelled = hotel.client.earn(&cancelled, &key()).await.unwrap().body;
    let voided = hotel
        .client
        .void_earn(cancelled.transaction.id, &key())
        .await
        .unwrap()
        .body;
    assert_eq!(
        (voided.balance.available, voided.balance.pending_earned),
        (100, 0)
    );
    assert_eq!(
        code(
            hotel
                .client
                .post_earn(cancelled.transaction.id, &key())
                .await
                .unwrap_err()
        ),
        "earn_already_voided"
    );

    let mut automatic = earn_request(&card, 300_000);
    automatic.release_at = Some(release_at);
    hotel.client.earn(&automatic, &key()).await.unwrap();
    let report =
        operations::ledger::maintenance::run(&app.storage, &app.config.program, release_at)
            .await
            .unwrap();
    assert_eq!(report.earns_released, 1);
    assert_eq!(hotel.client.available_points(&card).await, 130);

    let mut past = earn_request(&card, 100_000);
    past.release_at = Some(chrono::Utc::now() - chrono::Duration::hours(1));
    assert_eq!(
        code(hotel.client.earn(&past, &key()).await.unwrap_err()),
        "release_at_invalid"
    );
    let earned = hotel.earn_points(&card, 1).await;
    assert_eq!(
        code(
            hotel
                .client
                .post_earn(earned.transaction.id, &key())
                .await
                .unwrap_err()
        ),
        "not_a_pending_earn"
    );
}
