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
