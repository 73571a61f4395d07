use test_support::TestApp;

#[tokio::test]
async fn health_and_ready_answer_over_https() {
    let app = TestApp::spawn().await;
    let health = app.send_raw("GET", "/health", &[], Vec::new()).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json::<serde_json::Value>()["status"], "alive");
    let ready = app.send_raw("GET", "/ready", &[], Vec::new()).await;
    assert_eq!(ready.status, 200);
    let body: serde_json::Value = ready.json();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["redis"], "ok");
}

#[tokio::test]
async fn plain_http_is_served_only_when_configured() {
    let app = TestApp::spawn_with(test_support::TestConfig {
        plain_http: true,
        ..Default::default()
    })
    .await;
    assert!(app.address.starts_with("http://"));
    let partner = app.partner().await;
    let receipt = partner.client.whoami().await.unwrap();
    assert_eq!(receipt.body.id, partner.partner.id.0);
}

#[tokio::test]
async fn https_is_the_default_and_refuses_plain_http() {
    let app = TestApp::spawn().await;
    assert!(app.address.starts_with("https://"));
    let plain = reqwest::get(format!("http://127.0.0.1:{}/health", app.port)).await;
    assert!(plain.is_err() || plain.is_ok_and(|r| !r.status().is_success()));
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_report_pool_and_cache_use() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    partner.client.whoami().await.unwrap();
    partner.client.whoami().await.unwrap();
    let res = app.send_raw("GET", "/metrics", &[], Vec::new()).await;
    assert_eq!(res.status, 200);
    let text = String::from_utf8(res.body).unwrap();
    for expected in [
        r#"http_requests_total{route="/v1/partner",method="GET",status="200"}"#,
        r#"http_request_duration_seconds_bucket{route="/v1/partner",method="GET",status="200",le="0.005"}"#,
        r#"cache_requests_total{cache="partner_keys",outcome="hit"}"#,
        r#"cache_requests_total{cache="partner_keys",outcome="miss"}"#,
        r#"db_pool_connections{state="in_use"}"#,
    ] {
        assert!(
            text.contains(expected),
            "{expected} missing from /metrics:\n{text}"
        );
    }
    assert!(
        !text.contains("/v1/cards/6037"),
        "routes are labelled by pattern, never by raw path"
    );
}
