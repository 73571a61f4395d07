//! `GET /metrics` and the middleware that counts and times every request.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, HttpResponse, get};

use crate::state::AppState;

/// Middleware: `http_requests_total` and `http_request_duration_seconds` by route, method and status.
pub(crate) async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let response = next.call(req).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    Ok(response)
}

/// Prometheus metrics: request rate and latency by route and outcome, ledger transfers,
/// cache hit rates, idempotent replays, database pool usage.
#[utoipa::path(tag = "operations", operation_id = "getMetrics", responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain")))]
#[get("/metrics")]
pub(crate) async fn show(state: Data<AppState>) -> HttpResponse {
    let pool = state.club.storage.pool_status();
    metrics::gauge!("db_pool_connections", "state" => "in_use")
        .set((pool.size - pool.available) as f64);
    metrics::gauge!("db_pool_connections", "state" => "idle").set(pool.available as f64);
    metrics::gauge!("db_pool_connections_max").set(pool.max_size as f64);
    let handle = crate::metrics::install();
    handle.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}
