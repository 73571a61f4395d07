//! clubgate: the hub of a partner-network loyalty programme.
//!
//! Map of the crate (dependencies point one way: `http → domain → storage`):
//! - [`config`]: the typed, validated configuration.
//! - [`telemetry`]: tracing setup.
//! - [`app`]: shared state and the HTTP server; [`tls`]: rustls certificates;
//!   [`metrics`]: the Prometheus recorder.
//! - [`http`]: actix routes, the signature extractor, receipts, the error mapping.
//! - [`domain`]: partners, keys, request authentication, idempotency.
//! - [`storage`]: PostgreSQL (diesel-async), Redis, migrations.
//! - [`cli`]: the `clubgate` command (serve, migrate, operator commands); [`demo`]: the demo network.

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub(crate) mod http;
pub mod metrics;
pub mod state;
pub mod telemetry;
pub mod tls;

/// Serves the gateway with `config` until it is stopped.
pub async fn run(config: &config::Config) -> anyhow::Result<()> {
    let application = app::Application::build(config).await?;
    tracing::info!(
        "clubgate listening on {}://{}",
        application.scheme(),
        config.server.listen
    );
    application.run_until_stopped().await?;
    tracing::info!("clubgate stopped");
    Ok(())
}
