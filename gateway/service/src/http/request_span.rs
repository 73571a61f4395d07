//! The root span of every request: tracing-actix-web's fields (method, route,
//! status, `request_id`) plus the partner and key, recorded once authenticated.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// Builds the request span with room for the caller's identity.
pub(crate) struct GatewayRootSpan;

impl RootSpanBuilder for GatewayRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        // The macro computes its fields (the route by matching the path again, the connection's
        // addresses) before it asks whether an `info` span is wanted at all: below `info`, as in a
        // benchmark at `warn`, that was wasted on every request and the span was disabled anyway.
        if !tracing::enabled!(tracing::Level::INFO) {
            return Span::none();
        }
        tracing_actix_web::root_span!(
            request,
            partner.id = tracing::field::Empty,
            key.id = tracing::field::Empty
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
