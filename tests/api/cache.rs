//! The card-check cache (moka per instance, Redis shared, versioned per member):
//! after any acknowledged write, the next card check on any instance sees it.

use partners::client::ClientError;
use partners::protocol::CaptureRequest;
use test_support::app::unique_code;
use test_support::protocol::redeem_request;
use test_support::{CardChecks as _, TestApp};

#[tokio::test]
async fn every_write_is_visible_to_the_next_card_check() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let available = || async {
        hotel
            .client
            .check_card(&card, Some("main"))
            .await
            .unwrap()
            .body
            .balance
            .available
    };
    assert_eq!(available().await, 0);
    assert_eq!(available().await, 0, "served from the cache");
    hotel.earn_points(&card, 100).await;
    assert_eq!(available().await, 100);
    let hold = hotel.hold_points(&card, 30).await;
    assert_eq!(available().await, 70);
    hotel
        .client
        .capture(
            hold.transaction.id,
            &CaptureRequest { points: Some(10) },
            &unique_code("k"),
        )
        .await
        .unwrap();
    assert_eq!(available().await, 90);

    let number = domain::cards::CardNumber::parse(&card).unwrap();
    operations::members::block_card(&app.storage, &number, None)
        .await
        .unwrap();
    let err = hotel.client.check_card(&card, None).await.unwrap_err();
    assert!(err.to_string().contains("card_blocked"), "{err}");

    let res = app.send_raw("GET", "/metrics", &[], Vec::new()).await;
    let metrics = String::from_utf8(res.body).unwrap();
    assert!(
        metrics.contains(r#"cache_requests_total{cache="card_view",outcome="local"}"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_write_on_one_instance_is_visible_on_another() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    let other = app.spawn_instance().await;
    let other_client = app.client_at(&other, &hotel.key).await;
    assert_eq!(other_client.available_points(&card).await, 0);
    assert_eq!(
        other_client.available_points(&card).await,
        0,
        "cached on the other instance"
    );
    hotel.earn_points(&card, 50).await;
    assert_eq!(other_client.available_points(&card).await, 50);
    other_client
        .redeem(&redeem_request(&card, 20, false), &unique_code("k"))
        .await
        .unwrap();
    let here = hotel.client.available_points(&card).await;
    assert_eq!(here, 30);
}

#[tokio::test]
async fn concurrent_redemptions_on_two_instances_are_exact() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(300).await.card;
    let other = app.spawn_instance().await;
    let clients = [
        hotel.client.clone(),
        app.client_at(&other, &hotel.key).await,
    ];
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = clients[i % 2].clone();
        let request = redeem_request(&card, 10, false);
        tasks.push(tokio::spawn(async move {
            client.redeem(&request, &unique_code("race")).await.is_ok()
        }));
    }
    let mut succeeded = 0;
    for task in tasks {
        if task.await.unwrap() {
            succeeded += 1;
        }
    }
    assert_eq!(succeeded, 30);
    for client in &clients {
        assert_eq!(client.available_points(&card).await, 0);
    }
}

#[tokio::test]
async fn the_same_request_sent_to_two_instances_at_once_is_applied_once() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(100).await.card;
    let other = app.spawn_instance().await;
    let clients = [
        hotel.client.clone(),
        app.client_at(&other, &hotel.key).await,
    ];
    for _ in 0..5 {
        let (request, key) = (redeem_request(&card, 10, false), unique_code("twice"));
        let (first, second) = tokio::join!(
            clients[0].redeem(&request, &key),
            clients[1].redeem(&request, &key)
        );
        // Each is answered, or told the other is still in flight (then its retry is answered).
        let mut answers = Vec::new();
        for (client, sent) in clients.iter().zip([first, second]) {
            let answer = match sent {
                Err(ClientError::Problem { problem })
                    if problem.code == "idempotency_request_in_flight" =>
                {
                    client.redeem(&request, &key).await
                }
                other => other,
            };
            answers.push(answer.unwrap().body.transaction.id);
        }
        assert_eq!(answers[0], answers[1]);
    }
    let balance = clients[0]
        .check_card(&card, None)
        .await
        .unwrap()
        .body
        .balance;
    assert_eq!(balance.available, 50, "five redemptions, each once");
}

#[tokio::test]
async fn a_cached_view_is_not_used_past_a_lot_expiry() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(40).await.card;
    let number = domain::cards::CardNumber::parse(&card).unwrap();
    let check = |days: i64| {
        let now = chrono::Utc::now() + chrono::Duration::days(days);
        let (club, number) = (&app.club, number.clone());
        async move {
            operations::members::check_card(club, hotel.partner.id, None, &number, now)
                .await
                .unwrap()
                .balance
                .available
                .get()
        }
    };
    assert_eq!(check(0).await, 40);
    assert_eq!(check(0).await, 40);
    assert_eq!(
        check(731).await,
        0,
        "the cached view ends at the lot's expiry"
    );
    operations::ledger::maintenance::run(
        &app.storage,
        &app.config.program,
        chrono::Utc::now() + chrono::Duration::days(731),
    )
    .await
    .unwrap();
}
