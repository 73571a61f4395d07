//! Redis down and back: the gateway keeps serving from PostgreSQL (nonces included),
//! never accepts a replay across the switch, and uses Redis again once it returns.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use test_support::app::unique_code;
use test_support::{CardChecks as _, TestApp, TestConfig};

struct PrivateRedis {
    port: u16,
    child: Child,
}

impl PrivateRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (make test installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { port, child }
    }

    fn stop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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

#[tokio::test]
async fn the_gateway_serves_through_a_redis_outage_without_accepting_replays() {
    let port = free_port();
    let mut redis = PrivateRedis::start(port);
    let skew = 10;
    let app = TestApp::spawn_with(TestConfig {
        redis_url: Some(format!("redis://127.0.0.1:{port}/0")),
        clock_skew: Duration::from_secs(skew),
        ..TestConfig::default()
    })
    .await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().with_points(100).await.card;
    assert_eq!(hotel.client.available_points(&card).await, 100);

    redis.stop();
    assert_eq!(readiness(&app).await, "degraded");
    // Signatures made before the outage was noticed may have nonces only Redis knew: refused.
    let early = app.draft(&hotel.key, "GET", &format!("/v1/cards/{card}"), None, None);
    let res = app.send(&early, &hotel.key).await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (503, "service_unavailable")
    );

    // Signatures made after it are served from PostgreSQL, nonces included.
    let fresh = |method: &str, path: &str, body: Option<serde_json::Value>, key: Option<&str>| {
        let mut draft = app.draft(&hotel.key, method, path, body, key);
        draft.params.created = Some(chrono::Utc::now().timestamp() + i64::try_from(skew).unwrap());
        draft
    };
    let check = fresh("GET", &format!("/v1/cards/{card}"), None, None);
    let res = app.send(&check, &hotel.key).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json::<serde_json::Value>()["balance"]["available"], 100);
    let earn_body = serde_json::json!({
        "branch": "main", "card_number": card, "reference": unique_code("order"),
        "amount": { "amount_minor": 500_000, "currency": "IRR" }
    });
    let earn = fresh(
        "POST",
        "/v1/earns",
        Some(earn_body),
        Some("earn-during-outage"),
    );
    assert_eq!(app.send(&earn, &hotel.key).await.status, 201);
    let replay = app.send(&earn, &hotel.key).await;
    assert_eq!(
        (replay.status, replay.error_code().as_str()),
        (401, "signature_replayed")
    );
    let res = app
        .send(
            &fresh("GET", &format!("/v1/cards/{card}"), None, None),
            &hotel.key,
        )
        .await;
    assert_eq!(res.json::<serde_json::Value>()["balance"]["available"], 150);

    // Redis returns (empty: it kept nothing); the gateway uses it again.
    redis = PrivateRedis::start(redis.port);
    let deadline = Instant::now() + Duration::from_secs(20);
    while readiness(&app).await != "ready" {
        assert!(
            Instant::now() < deadline,
            "the gateway did not reconnect to Redis"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A nonce recorded in PostgreSQL during the outage is still refused now that Redis is back.
    let replay = app.send(&earn, &hotel.key).await;
    assert_eq!(
        (replay.status, replay.error_code().as_str()),
        (401, "signature_replayed")
    );
    assert_eq!(hotel.client.available_points(&card).await, 150);
    hotel.earn_points(&card, 10).await;
    assert_eq!(hotel.client.available_points(&card).await, 160);
    // The app goes first: its drop checks the ledger, which needs this Redis.
    drop(app);
    drop(redis);
}
