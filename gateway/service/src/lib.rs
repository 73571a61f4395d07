//! clubgate's service: the doors onto the club's operations, and their wiring.
//!
//! Doors parse, authenticate, call one operation (`operations`) and render its
//! outcome; none owns a transaction or writes SQL (see `docs/architecture.md`).
//! - [`config`]: the typed, validated configuration; [`telemetry`]: tracing setup.
//! - [`state`]: what every request handler reaches (the `Club`, the authenticator, keys, limits).
//! - [`app`]: the HTTP server with rustls and the background jobs; [`tls`]: certificates;
//!   [`metrics`]: the Prometheus recorder.
//! - `http`: the partner and operator API (routes, signature extractors, receipts, rendering,
//!   the mapping from errors to HTTP).
//! - [`cli`]: the `clubgate` command, one file per command group; [`demo`]: the demo network.

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
