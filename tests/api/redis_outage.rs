//! Redis down and back, or restarted empty: the gateway keeps serving from PostgreSQL, never
//! accepts a replay (nonces are mirrored to PostgreSQL), never shows a balance from before an
//! acknowledged write, and uses Redis again once it returns.

use std::time::{Duration, Instant};

use test_support::app::unique_code;
use test_support::services::{PrivateRedis, free_port};
use test_support::{CardChecks as _, TestApp, TestConfig};

async fn readiness(app: &TestApp) -> String {
    let res = app.send_raw("GET", "/ready", &[], Vec::new()).await;
    assert_eq!(
        res.status, 200,
        "PostgreSQL is up, so the gateway stays ready"
    );
    res.json::<serde_json::Value>()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A gateway whose Redis the test may stop and start (the app is dropped first: its drop checks
/// the ledger, which needs that Redis).
async fn on_private_redis() -> (PrivateRedis, TestApp) {
    let redis = PrivateRedis::start(free_port());
    let app = TestApp::spawn_with(TestConfig {
        redis_url: Some(redis.url()),
        ..TestConfig::default()
    })
    .await;
    (redis, app)
}

fn replayed(res: &test_support::TestResponse) -> (u16, String) {
    (res.status, res.error_code())
}

#[tokio::test]
async fn the_gateway_serves_through_a_redis_outage_without_accepting_replays() {
    let (mut redis, app) = on_private_redis().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(100).await.card;
    let check =
        |app: &TestApp| app.draft(&hotel.key, "GET", &format!("/v1/cards/{card}"), None, None);
    let before = check(&app);
    assert_eq!(app.send(&before, &hotel.key).await.status, 200);
    // Signed before the outage, sent during it.
    let early = check(&app);

    redis.stop();
    assert_eq!(readiness(&app).await, "degraded");
    let res = app.send(&early, &hotel.key).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json::<serde_json::Value>()["balance"]["available"], 100);
    let expected = (401, "signature_replayed".to_owned());
    assert_eq!(replayed(&app.send(&before, &hotel.key).await), expected);
    assert_eq!(replayed(&app.send(&early, &hotel.key).await), expected);

    let earn_body = serde_json::json!({
        "branch": "main", "card_number": card, "reference": unique_code("order"),
        "amount": { "amount_minor": 500_000, "currency": "IRR" }
    });
    let earn = app.draft(
        &hotel.key,
        "POST",
        "/v1/earns",
        Some(earn_body),
        Some("earn-during-outage"),
    );
    assert_eq!(app.send(&earn, &hotel.key).await.status, 201);
    assert_eq!(replayed(&app.send(&earn, &hotel.key).await), expected);
    let res = app.send(&check(&app), &hotel.key).await;
    assert_eq!(res.json::<serde_json::Value>()["balance"]["available"], 150);

    // Redis returns (empty: it kept nothing); the gateway uses it again.
    redis.start_again();
    let deadline = Instant::now() + Duration::from_secs(20);
    while readiness(&app).await != "ready" {
        assert!(
            Instant::now() < deadline,
            "the gateway did not reconnect to Redis"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for signed in [&before, &early, &earn] {
        assert_eq!(replayed(&app.send(signed, &hotel.key).await), expected);
    }
    assert_eq!(hotel.client.available_points(&card).await, 150);
    hotel.earn_points(&card, 10).await;
    assert_eq!(hotel.client.available_points(&card).await, 160);
    // The app goes first: its drop checks the ledger, which needs this Redis.
    drop(app);
    drop(redis);
}

/// A Redis that restarts between two requests, unnoticed: nonces it held are still refused on
/// every instance, no instance shows a balance from before an acknowledged write, and the first
/// request after it is served (its command is sent again on a fresh connection).
#[tokio::test]
async fn a_redis_that_restarts_empty_forgets_no_nonce_and_no_balance() {
    let (mut redis, app) = on_private_redis().await;
    let second = app.spawn_instance().await;
    let hotel = app.partner().with_default_rule().await;
    let at_second = app.client_at(&second, &hotel.key).await;
    let card = hotel.member().with_points(100).await.card;
    let check = app.draft(&hotel.key, "GET", &format!("/v1/cards/{card}"), None, None);
    assert_eq!(app.send(&check, &hotel.key).await.status, 200);
    let earn = app.draft(
        &hotel.key,
        "POST",
        "/v1/earns",
        Some(serde_json::json!({
            "branch": "main", "card_number": card, "reference": unique_code("order"),
            "amount": { "amount_minor": 100_000, "currency": "IRR" }
        })),
        Some("earn-before-the-restart"),
    );
    assert_eq!(app.send(&earn, &hotel.key).await.status, 201);
    assert_eq!(hotel.client.available_points(&card).await, 110);
    // Members with the same history, each held in both instances' memory.
    let mut members = Vec::new();
    for _ in 0..6 {
        let member = hotel.member().with_points(100).await.card;
        assert_eq!(hotel.client.available_points(&member).await, 100);
        assert_eq!(at_second.available_points(&member).await, 100);
        members.push(member);
    }

    redis.stop();
    redis.start_again();

    let expected = (401, "signature_replayed".to_owned());
    for signed in [&check, &earn] {
        assert_eq!(
            replayed(&app.send_to(&second, signed, &hotel.key).await),
            expected
        );
        assert_eq!(replayed(&app.send(signed, &hotel.key).await), expected);
    }
    // Counters starting again at zero would, after as many writes as before the restart, meet
    // the number a view was stored under; so each member gets a different number of writes.
    for (writes, member) in (1..).zip(&members) {
        for _ in 0..writes {
            hotel.earn_points(member, 10).await;
        }
    }
    for (writes, member) in (1..).zip(&members) {
        let points = 100 + 10 * writes;
        assert_eq!(
            at_second.available_points(member).await,
            points,
            "after {writes} writes"
        );
        assert_eq!(hotel.client.available_points(member).await, points);
    }
    drop(app);
    drop(redis);
}

#[tokio::test]
async fn the_first_command_after_redis_restarts_is_sent_again_on_a_fresh_connection() {
    let (mut redis, app) = on_private_redis().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(100).await.card;
    assert_eq!(hotel.client.available_points(&card).await, 100);
    redis.stop();
    redis.start_again();
    // Readiness pings Redis: its command is the first after the restart.
    assert_eq!(readiness(&app).await, "ready");
    assert_eq!(hotel.client.available_points(&card).await, 100);
    drop(app);
    drop(redis);
}

/// One instance cut off from Redis while another still reaches it: what either accepted is
/// refused by the other (the cut-off one accepts in PostgreSQL only, and while it does, the other
/// checks PostgreSQL too).
#[tokio::test]
async fn an_instance_cut_off_from_redis_and_one_that_is_not_accept_no_signature_twice() {
    let app = TestApp::spawn().await;
    let mut cut_redis = PrivateRedis::start(free_port());
    let cut_off = app.spawn_instance_on_redis(&cut_redis.url()).await;
    cut_redis.stop();
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(100).await.card;
    let check = || app.draft(&hotel.key, "GET", &format!("/v1/cards/{card}"), None, None);
    let expected = (401, "signature_replayed".to_owned());

    let at_connected = check();
    assert_eq!(app.send(&at_connected, &hotel.key).await.status, 200);
    let res = app.send_to(&cut_off, &at_connected, &hotel.key).await;
    assert_eq!(
        replayed(&res),
        expected,
        "accepted in Redis, replayed where it is unreachable"
    );

    // Signed when the loss the cut-off instance announced is past the clock skew: only because
    // it still accepts in PostgreSQL alone must the connected one ask PostgreSQL.
    let mut at_cut_off = check();
    at_cut_off.params.created = Some(announced_loss(&app).await);
    while at_cut_off.params.created > Some(chrono::Utc::now().timestamp() + 10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let res = app.send_to(&cut_off, &at_cut_off, &hotel.key).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let res = app.send(&at_cut_off, &hotel.key).await;
    assert_eq!(
        replayed(&res),
        expected,
        "accepted in PostgreSQL, replayed where Redis answers"
    );
    drop(app);
    drop(cut_redis);
}

/// The `check_before` the instance that cannot reach Redis published when it found so.
async fn announced_loss(app: &TestApp) -> i64 {
    use diesel_async::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Announced {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        check_before: i64,
    }
    let announced: Announced =
        diesel::sql_query("SELECT check_before FROM nonce_mirrors WHERE redis_unreachable")
            .get_result(&mut app.storage.db().await.unwrap())
            .await
            .unwrap();
    announced.check_before
}

/// The two stores of accepted nonces: digests mirrored from Redis, read back whole for the checked
/// path, and nonces recorded while Redis could not tell, which the mirror counts as replays if
/// Redis accepted them too (the gateway's digests and PostgreSQL's agree, in any script).
#[tokio::test]
async fn nonces_mirrored_from_redis_and_recorded_in_postgresql_see_each_other() {
    let app = TestApp::spawn().await;
    let ttl = Duration::from_secs(60);
    let digests = |pairs: &[(&str, &str)]| -> Vec<i64> {
        pairs
            .iter()
            .map(|(key_id, nonce)| storage::nonces::digest(key_id, nonce))
            .collect()
    };
    let mut conn = app.storage.db().await.unwrap();
    let accepted_in_redis: &[(&str, &str)] = &[("k", "a"), ("k", "b"), ("کلید", "نانس")];
    assert_eq!(
        storage::nonces::mirror(&mut conn, &digests(accepted_in_redis), ttl)
            .await
            .unwrap(),
        0
    );
    let recorded = storage::nonces::record(&mut conn, &[("k", "c"), ("کلید", "دیگر")], ttl)
        .await
        .unwrap();
    assert_eq!(recorded.len(), 2);
    let accepted_twice: &[(&str, &str)] = &[("k", "c"), ("کلید", "دیگر"), ("other", "a")];
    assert_eq!(
        storage::nonces::mirror(&mut conn, &digests(accepted_twice), ttl)
            .await
            .unwrap(),
        2
    );
    let mirrored = storage::nonces::mirrored(&mut conn).await.unwrap();
    for digest in digests(accepted_in_redis)
        .into_iter()
        .chain(digests(accepted_twice))
    {
        assert!(mirrored.contains(&digest));
    }
    assert!(!mirrored.contains(&storage::nonces::digest("k", "never")));
}

/// A mirrored row lives as long as its nonces: past their lifetime it is no longer read, and
/// maintenance deletes it.
#[tokio::test]
async fn mirrored_nonces_expire_with_their_lifetime() {
    use diesel_async::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Rows {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        rows: i64,
    }
    let app = TestApp::spawn().await;
    let mut conn = app.storage.db().await.unwrap();
    let expired = storage::nonces::digest("k", &unique_code("expired"));
    let kept = storage::nonces::digest("k", &unique_code("kept"));
    diesel::sql_query(
        "INSERT INTO mirrored_nonces (expires_at, digests) VALUES (now() - interval '1 second', ARRAY[$1])",
    )
    .bind::<diesel::sql_types::BigInt, _>(expired)
    .execute(&mut conn)
    .await
    .unwrap();
    storage::nonces::mirror(&mut conn, &[kept], Duration::from_secs(60))
        .await
        .unwrap();
    let mirrored = storage::nonces::mirrored(&mut conn).await.unwrap();
    assert!(mirrored.contains(&kept) && !mirrored.contains(&expired));
    storage::nonces::forget_expired(&app.storage).await.unwrap();
    let left: Rows = diesel::sql_query(
        "SELECT count(*) AS rows FROM mirrored_nonces WHERE $1 = ANY(digests) OR $2 = ANY(digests)",
    )
    .bind::<diesel::sql_types::BigInt, _>(expired)
    .bind::<diesel::sql_types::BigInt, _>(kept)
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(left.rows, 1);
}
