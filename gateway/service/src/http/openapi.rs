//! The OpenAPI document's frame; paths are added by the route table as routes are mounted,
//! then [`complete`] adds the answers every signed route can give whatever it does.

use partners::protocol;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{self as oas, ContentBuilder, Ref, RefOr, ResponseBuilder};

use super::error::PROBLEM_JSON;

/// Title, description and shared schemas of the partner API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "clubgate partner API",
        version = "1",
        description = "Every /v1 request is signed by the partner under RFC 9421 (ed25519) and every response \
                       is signed by the gateway; see docs/protocol.md. Errors are RFC 9457 problem documents \
                       with a stable `code` (docs/errors.md).",
    ),
    components(schemas(protocol::Problem, protocol::PartnerKind, protocol::Branch))
)]
pub(crate) struct ApiDoc;

/// What any signed (`/v1/`) route may answer before or besides its own work: the checks of
/// protocol.md §3 and the body limit run for every one of them, a body with a content coding is
/// refused on every one, and any may meet a storage failure. Listed here once so that a new route
/// cannot forget them.
const SIGNED: [(&str, &str); 7] = [
    (
        "400",
        "The signature, Content-Digest or Idempotency-Key headers are malformed, or the body cannot be read",
    ),
    (
        "401",
        "Signature missing, outside its time window, replayed or invalid, or its key unknown or revoked",
    ),
    (
        "403",
        "The partner is suspended, or a key of the wrong kind or role signed",
    ),
    ("413", "The body exceeds the size limit"),
    (
        "415",
        "The body has a Content-Encoding (bodies are taken as sent, never decoded)",
    ),
    (
        "500",
        "The gateway failed; nothing was applied (the cause is logged under Request-Id)",
    ),
    (
        "503",
        "PostgreSQL or Redis is unavailable; nothing was applied, retry",
    ),
];

/// What the HTTP/1 parser answers on any route, before a request exists (protocol.md §6).
const PARSER: [(&str, &str); 3] = [
    (
        "400",
        "The request head does not parse (a control character in a header value)",
    ),
    ("408", "The request head did not arrive in time"),
    (
        "431",
        "The request head is over 128 KiB or has more than 96 header fields",
    ),
];

/// A route that takes a JSON body refuses any other media type.
const JSON_BODY: (&str, &str) = (
    "415",
    "The body is not sent as Content-Type: application/json",
);

/// Adds the answers of [`PARSER`], [`SIGNED`] and [`JSON_BODY`] to every operation they apply to. A route
/// that already lists the status for its own reasons keeps its description, extended by these.
pub(crate) fn complete(api: &mut oas::OpenApi) {
    for (path, item) in api.paths.paths.iter_mut() {
        let signed = path.starts_with("/v1/");
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let mut answers = PARSER.to_vec();
            if signed {
                answers.extend(SIGNED);
                let takes_json = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|body| body.content.contains_key("application/json"));
                if takes_json {
                    answers.push(JSON_BODY);
                }
            }
            for (status, description) in answers {
                add_problem(operation, status, description);
            }
        }
    }
}

fn add_problem(operation: &mut Operation, status: &str, description: &str) {
    match operation.responses.responses.get_mut(status) {
        Some(RefOr::T(listed)) => {
            listed.description = format!("{}. Also: {description}", listed.description);
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            let problem = ResponseBuilder::new()
                .description(description)
                .content(
                    PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build();
            operation
                .responses
                .responses
                .insert(status.to_owned(), RefOr::T(problem));
        }
    }
}
