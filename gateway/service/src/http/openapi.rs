//! The OpenAPI document's frame; paths are added by the route table as routes are mounted.

use partners::protocol;
use utoipa::OpenApi;

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
