//! The integration-test harness: real PostgreSQL, real Redis, the real app over HTTPS.
//!
//! - [`db::TestDb`]: a fresh database per test, cloned from a migrated template.
//! - [`app::TestApp`]: the gateway on `127.0.0.1:0` with its own database, Redis
//!   prefix, CA and signing key, started with a typed [`config::TestConfig`].
//! - [`fixtures`]: typed builders: `app.partner().with_default_rule().await`,
//!   `partner.member().with_points(500).await`, and card checks read in one call.
//! - [`facts`]: what a test reads straight from its database, each behind a name.
//! - [`protocol`]: request bodies with fresh references, and the codes of refusals.
//! - [`requests::Draft`]: signed requests a test can break one rule at a time.
//! - [`till::DirectTill`]: the ledger's operations at times the test picks.
//! - [`services`]: private PostgreSQL and Redis servers a test may stop, restart or destroy.
//! - [`eventually`]: waits for an effect a cache's lifetime delays, polling instead of sleeping.
//!
//! If a service is missing the tests fail; they never skip.

pub mod app;
pub mod browser;
pub mod config;
pub mod db;
pub mod facts;
pub mod fixtures;
pub mod protocol;
pub mod requests;
pub mod services;
pub mod till;

pub use app::TestApp;
pub use config::TestConfig;
pub use db::TestDb;
pub use fixtures::{CardChecks, DEFAULT_RULE, PointRule, TestMember, TestPartner, TestStaff};
pub use requests::{Draft, TestResponse, key_registration_body};

/// Polls `check` every 50 ms until it gives a value, and fails the test if 5 s pass first: for an
/// effect a cache's lifetime delays (1 s in tests), so the test waits only as long as it does.
pub async fn eventually<T, F>(what: &str, mut check: impl FnMut() -> F) -> T
where
    F: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not happen within 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
