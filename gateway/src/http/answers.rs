//! Turning recorded answers (the stored result of an idempotent write) into responses.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use partners::protocol;
use serde::Serialize;

use super::error::PROBLEM_JSON;
use crate::domain::idempotency::{Answer, RecordedAnswer};

/// A JSON success answer, serialised once so a replay is byte-identical.
pub fn json_answer<T: Serialize>(status: u16, body: &T) -> RecordedAnswer {
    RecordedAnswer {
        status,
        // Response bodies are plain structs of strings, numbers and ids.
        body: serde_json::to_vec(body).unwrap_or_default(),
    }
}

/// The HTTP response for a fresh or replayed answer.
pub fn answer_response(answer: Answer) -> HttpResponse {
    let (recorded, is_replay) = match answer {
        Answer::Fresh(recorded) => (recorded, false),
        Answer::Replayed(recorded) => (recorded, true),
    };
    let status = StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response.content_type(if status.is_success() {
        "application/json"
    } else {
        PROBLEM_JSON
    });
    if is_replay {
        response.insert_header((protocol::IDEMPOTENT_REPLAYED, "true"));
    }
    response.body(recorded.body)
}
