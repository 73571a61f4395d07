//! PostgreSQL drops a connection in the middle of a request (a restart, a failover, an
//! administrator): the request is answered 503, so the partner retries, and the retry is served.
//! Never a 500.

use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
use test_support::TestApp;
use test_support::protocol::problem;

#[derive(diesel::QueryableByName)]
struct Terminated {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    terminated: bool,
}

/// Ends the backend that waits for a lock (as a restart or an administrator would), once there
/// is one.
async fn end_the_backend_waiting_for_a_lock(app: &TestApp) {
    let mut admin = app.db.connect().await;
    loop {
        let ended: Vec<Terminated> = diesel::sql_query(
            "SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .load(&mut admin)
        .await
        .unwrap();
        if ended.iter().any(|row| row.terminated) {
            break;
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_connection_dropped_mid_request_answers_503_and_the_retry_succeeds() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let card = hotel.member().await.card;
    hotel.earn_points(&card, 10).await;

    // Hold the transfers table, so the next listing waits inside PostgreSQL; then end the
    // backend that waits.
    let mut holder = app.db.connect().await;
    holder.begin_test_transaction().await.unwrap();
    diesel::sql_query("LOCK TABLE transfers IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let draft = app.draft(&hotel.key, "GET", "/v1/transactions?limit=1", None, None);
    let (listing, ()) = tokio::join!(app.send(&draft, &hotel.key), async {
        end_the_backend_waiting_for_a_lock(&app).await;
        drop(holder);
    });
    assert_eq!(
        (listing.status, listing.error_code().as_str()),
        (503, "service_unavailable"),
        "{}",
        String::from_utf8_lossy(&listing.body)
    );
    assert_eq!(
        listing.header("retry-after").as_deref(),
        Some("1"),
        "a 503 says when to retry"
    );
    let page = hotel.client.transactions("limit=1").await.unwrap();
    assert_eq!(page.body.transactions.len(), 1, "the retry is served");
}

#[tokio::test]
async fn a_write_whose_connection_was_dropped_frees_its_key_so_the_retry_runs_at_once() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().with_default_rule().await;
    let request = partners::protocol::EnrollRequest {
        branch: "main".into(),
        phone: test_support::app::unique_phone(),
        name: "Nima Tehrani".into(),
        email: None,
        birth_date: None,
        city: None,
        invite_code: None,
        consents_to_messages: false,
    };
    let key = test_support::app::unique_code("enrol");

    // Hold the members table, so the enrolment waits inside PostgreSQL after claiming its key;
    // then end the backend that waits: the claim's own connection is the one that died.
    let mut holder = app.db.connect().await;
    holder.begin_test_transaction().await.unwrap();
    diesel::sql_query("LOCK TABLE members IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let enrolment = tokio::spawn({
        let (client, request, key) = (hotel.client.clone(), request.clone(), key.clone());
        async move { client.enroll(&request, &key).await }
    });
    end_the_backend_waiting_for_a_lock(&app).await;
    drop(holder);
    let problem = problem(enrolment.await.unwrap().unwrap_err());
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (503, "service_unavailable"),
        "{problem:?}"
    );

    // The same request with the same key runs now, not after the claim's lease.
    let enrolled = hotel.client.enroll(&request, &key).await.unwrap();
    assert_eq!(enrolled.body.card_number.len(), 16);
}
