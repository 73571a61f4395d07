//! Liveness and readiness probes.

use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// The answer of the probes.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HealthResponse {
    /// `alive`, `ready`, `degraded` (Redis unreachable) or `not_ready` (PostgreSQL unreachable).
    pub status: &'static str,
    /// Per dependency: `ok` or `unreachable` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<&'static str>,
}

/// The process is up and serving HTTP.
#[utoipa::path(tag = "operations", operation_id = "getHealth", responses((status = 200, description = "The gateway is alive", body = HealthResponse)))]
#[get("/health")]
pub(crate) async fn health() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse {
        status: "alive",
        database: None,
        redis: None,
    })
}

/// PostgreSQL answers: the gateway can take traffic (without Redis it runs degraded, from PostgreSQL).
#[utoipa::path(tag = "operations", operation_id = "getReadiness", responses(
    (status = 200, description = "Ready for traffic (`degraded` when Redis is unreachable)", body = HealthResponse),
    (status = 503, description = "PostgreSQL is unreachable", body = HealthResponse),
))]
#[get("/ready")]
pub(crate) async fn ready(state: Data<AppState>) -> HttpResponse {
    let (database, redis) = tokio::join!(
        state.club.storage.ping_database(),
        state.club.storage.ping_redis()
    );
    let verdict = |r: &Result<(), _>| if r.is_ok() { "ok" } else { "unreachable" };
    let body = HealthResponse {
        status: match (&database, &redis) {
            (Ok(()), Ok(())) => "ready",
            (Ok(()), Err(_)) => "degraded",
            (Err(_), _) => "not_ready",
        },
        database: Some(verdict(&database)),
        redis: Some(verdict(&redis)),
    };
    for (name, result) in [("database", &database), ("redis", &redis)] {
        if let Err(err) = result {
            tracing::warn!(dependency = name, error = %err, "readiness check failed: {name} unreachable");
        }
    }
    if database.is_ok() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
