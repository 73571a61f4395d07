//! Rendering the answer of an idempotent write: the operation's result as the route's JSON,
//! its refusal as a problem document, or an answer recorded before outcomes were, as it was.
//! Rendering is deterministic, so a replay is byte-identical to the first answer.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use operations::idempotency::{Answer, Answered};
use partners::protocol;
use serde::Serialize;

use super::error::{ApiError, PROBLEM_JSON};

/// The response for an answered write: `status` and `render(result)` when done.
pub(crate) fn respond<T, E, B>(
    answered: Answered<T, E>,
    status: StatusCode,
    render: impl FnOnce(T) -> B,
) -> HttpResponse
where
    ApiError: From<E>,
    B: Serialize,
{
    let mut response = match answered.answer {
        Answer::Done(done) => HttpResponse::build(status).json(render(done)),
        Answer::Refused(refused) => {
            actix_web::ResponseError::error_response(&ApiError::from(refused))
        }
        Answer::Recorded { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            HttpResponse::build(status)
                .content_type(if status.is_success() {
                    "application/json"
                } else {
                    PROBLEM_JSON
                })
                .body(body)
        }
    };
    if answered.is_replay {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(protocol::IDEMPOTENT_REPLAYED),
            actix_web::http::header::HeaderValue::from_static("true"),
        );
    }
    response
}
