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
    let listing = tokio::spawn({
        let client = hotel.client.clone();
        async move { client.transactions("limit=1").await }
    });
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
    drop(holder);

    let problem = problem(listing.await.unwrap().unwrap_err());
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (503, "service_unavailable"),
        "{problem:?}"
    );
    let page = hotel.client.transactions("limit=1").await.unwrap();
    assert_eq!(page.body.transactions.len(), 1, "the retry is served");
}
