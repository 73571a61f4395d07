//! RFC 9421 HTTP Message Signatures with the `ed25519` algorithm.
//!
//! This module is the protocol's mechanics only: building the signature base,
//! parsing and serialising `Signature-Input` / `Signature`, signing and
//! verifying. Policy (which components must be covered, time windows, nonces,
//! which keys are trusted) belongs to the caller: the gateway for requests, the
//! partner client for receipts.
//!
//! Supported components: `@method`, `@target-uri`, `@authority`, `@scheme`,
//! `@request-target`, `@path`, `@query`, `@status` and header fields, all
//! without component parameters (`sf`, `key`, `bs`, `req`, `tr` and
//! `@query-param` are refused as unsupported rather than misinterpreted).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sfv::{BareItem, Dictionary, InnerList, Item, Key, ListEntry, Parameters, Parser};

/// Why a message signature could not be built, parsed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("malformed signature headers: {0}")]
    Malformed(String),
    #[error("component {0} is not supported")]
    UnsupportedComponent(String),
    #[error("component {0} is covered twice")]
    DuplicateComponent(String),
    #[error("covered component {0} is not in the message")]
    ComponentAbsent(String),
    #[error("signature parameter {0} has the wrong type")]
    InvalidParameter(&'static str),
    #[error("the signature does not verify")]
    Invalid,
}

/// A covered component, by its RFC 9421 identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Component {
    Method,
    TargetUri,
    Authority,
    Scheme,
    RequestTarget,
    Path,
    Query,
    Status,
    /// A header field, by its lowercase name.
    Header(String),
}

impl Component {
    /// Parses a component identifier name (`"@path"`, `"content-digest"`).
    pub fn parse(name: &str) -> Result<Self, SignatureError> {
        Ok(match name {
            "@method" => Self::Method,
            "@target-uri" => Self::TargetUri,
            "@authority" => Self::Authority,
            "@scheme" => Self::Scheme,
            "@request-target" => Self::RequestTarget,
            "@path" => Self::Path,
            "@query" => Self::Query,
            "@status" => Self::Status,
            _ if name.starts_with('@') => {
                return Err(SignatureError::UnsupportedComponent(name.to_owned()));
            }
            _ if !name.is_empty() && name == name.to_ascii_lowercase() => {
                Self::Header(name.to_owned())
            }
            _ => return Err(SignatureError::UnsupportedComponent(name.to_owned())),
        })
    }

    /// The identifier name as it appears in `Signature-Input`.
    pub fn name(&self) -> &str {
        match self {
            Self::Method => "@method",
            Self::TargetUri => "@target-uri",
            Self::Authority => "@authority",
            Self::Scheme => "@scheme",
            Self::RequestTarget => "@request-target",
            Self::Path => "@path",
            Self::Query => "@query",
            Self::Status => "@status",
            Self::Header(name) => name,
        }
    }

    /// A header component, lowercasing the field name.
    pub fn header(name: &str) -> Self {
        Self::Header(name.to_ascii_lowercase())
    }
}

/// The signature parameters this profile understands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureParams {
    pub created: Option<i64>,
    pub expires: Option<i64>,
    pub nonce: Option<String>,
    pub alg: Option<String>,
    pub keyid: Option<String>,
    pub tag: Option<String>,
}

/// The parts of an HTTP message a signature can cover, independent of any HTTP library.
#[derive(Debug, Clone, Default)]
pub struct MessageParts {
    pub method: Option<String>,
    pub scheme: Option<String>,
    pub authority: Option<String>,
    pub path: Option<String>,
    pub query: Option<String>,
    pub status: Option<u16>,
    headers: Vec<(String, String)>,
}

impl MessageParts {
    /// A request: method, scheme, authority (`host[:port]`), path and raw query (without `?`).
    pub fn request(
        method: &str,
        scheme: &str,
        authority: &str,
        path: &str,
        query: Option<&str>,
    ) -> Self {
        Self {
            method: Some(method.to_owned()),
            scheme: Some(scheme.to_ascii_lowercase()),
            authority: Some(normalize_authority(scheme, authority)),
            path: Some(if path.is_empty() {
                "/".into()
            } else {
                path.to_owned()
            }),
            query: query.map(str::to_owned),
            ..Self::default()
        }
    }

    /// A response with its status code.
    pub fn response(status: u16) -> Self {
        Self {
            status: Some(status),
            ..Self::default()
        }
    }

    /// Adds one header field line; repeated names are combined as RFC 9421 says.
    pub fn add_header(&mut self, name: &str, value: &str) {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
    }

    /// Builder form of [`MessageParts::add_header`].
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.add_header(name, value);
        self
    }

    /// The combined value of a header field, or `None` if the message lacks it.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.trim());
        let mut combined = values.next()?.to_owned();
        for value in values {
            combined.push_str(", ");
            combined.push_str(value);
        }
        Some(combined)
    }

    fn component_value(&self, component: &Component) -> Result<String, SignatureError> {
        let absent = || SignatureError::ComponentAbsent(component.name().to_owned());
        let query_suffix = || {
            self.query
                .as_deref()
                .map(|q| format!("?{q}"))
                .unwrap_or_default()
        };
        match component {
            Component::Method => self.method.clone().ok_or_else(absent),
            Component::Scheme => self.scheme.clone().ok_or_else(absent),
            Component::Authority => self.authority.clone().ok_or_else(absent),
            Component::Path => self.path.clone().ok_or_else(absent),
            Component::Query => {
                self.path.as_ref().ok_or_else(absent)?;
                Ok(format!("?{}", self.query.as_deref().unwrap_or("")))
            }
            Component::RequestTarget => {
                let path = self.path.as_ref().ok_or_else(absent)?;
                Ok(format!("{path}{}", query_suffix()))
            }
            Component::TargetUri => {
                let (Some(scheme), Some(authority), Some(path)) =
                    (&self.scheme, &self.authority, &self.path)
                else {
                    return Err(absent());
                };
                Ok(format!("{scheme}://{authority}{path}{}", query_suffix()))
            }
            Component::Status => self.status.map(|s| format!("{s:03}")).ok_or_else(absent),
            Component::Header(name) => self.header(name).ok_or_else(absent),
        }
    }
}

/// Lowercases the host and drops the scheme's default port, as `@authority` requires.
fn normalize_authority(scheme: &str, authority: &str) -> String {
    let authority = authority.to_ascii_lowercase();
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return authority,
    };
    authority
        .strip_suffix(default_port)
        .map(str::to_owned)
        .unwrap_or(authority)
}

/// A signature found in a message's `Signature-Input` and `Signature` headers.
#[derive(Debug, Clone)]
pub struct ParsedSignature {
    pub label: String,
    pub components: Vec<Component>,
    pub params: SignatureParams,
    /// The serialised inner list: the value of `"@signature-params"`.
    params_value: String,
    signature: Vec<u8>,
}

/// Header values ready to attach to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    pub signature_input: String,
    pub signature: String,
}

fn serialize_inner_list(list: InnerList) -> String {
    // An inner list on its own serialises exactly like a one-member list.
    sfv::FieldType::serialize(&vec![ListEntry::InnerList(list)]).unwrap_or_else(|| "()".to_owned())
}

fn key(name: &str) -> Key {
    // The parameter names used here are fixed lowercase ASCII words.
    Key::from_string(name.to_owned()).unwrap_or_else(|_| unreachable!("valid sf key {name}"))
}

fn sf_string(value: &str) -> Result<sfv::String, SignatureError> {
    sfv::String::from_string(value.to_owned())
        .map_err(|_| SignatureError::Malformed(format!("{value:?} is not printable ASCII")))
}

fn build_inner_list(
    components: &[Component],
    params: &SignatureParams,
) -> Result<InnerList, SignatureError> {
    let items = components
        .iter()
        .map(|c| Ok(Item::new(sf_string(c.name())?)))
        .collect::<Result<Vec<_>, SignatureError>>()?;
    let mut sf_params = Parameters::new();
    if let Some(created) = params.created {
        sf_params.insert(key("created"), integer(created)?);
    }
    if let Some(expires) = params.expires {
        sf_params.insert(key("expires"), integer(expires)?);
    }
    for (name, value) in [
        ("nonce", &params.nonce),
        ("alg", &params.alg),
        ("keyid", &params.keyid),
        ("tag", &params.tag),
    ] {
        if let Some(value) = value {
            sf_params.insert(key(name), BareItem::String(sf_string(value)?));
        }
    }
    Ok(InnerList::with_params(items, sf_params))
}

fn integer(value: i64) -> Result<BareItem, SignatureError> {
    sfv::Integer::try_from(value)
        .map(BareItem::Integer)
        .map_err(|_| SignatureError::InvalidParameter("created/expires"))
}

fn signature_base(
    message: &MessageParts,
    components: &[Component],
    params_value: &str,
) -> Result<String, SignatureError> {
    let mut base = String::new();
    for (i, component) in components.iter().enumerate() {
        if components[..i].contains(component) {
            return Err(SignatureError::DuplicateComponent(
                component.name().to_owned(),
            ));
        }
        let value = message.component_value(component)?;
        if value.contains(['\n', '\r']) {
            return Err(SignatureError::Malformed(format!(
                "{} contains a line break",
                component.name()
            )));
        }
        base.push_str(&format!("\"{}\": {value}\n", component.name()));
    }
    base.push_str(&format!("\"@signature-params\": {params_value}"));
    Ok(base)
}

/// The signature base for the given components and parameters (exposed for docs and tests).
pub fn base_for(
    message: &MessageParts,
    components: &[Component],
    params: &SignatureParams,
) -> Result<String, SignatureError> {
    let params_value = serialize_inner_list(build_inner_list(components, params)?);
    signature_base(message, components, &params_value)
}

/// Signs a message under `label` and returns the two header values.
pub fn sign(
    message: &MessageParts,
    label: &str,
    components: &[Component],
    params: &SignatureParams,
    key: &SigningKey,
) -> Result<SignatureHeaders, SignatureError> {
    let params_value = serialize_inner_list(build_inner_list(components, params)?);
    let base = signature_base(message, components, &params_value)?;
    let signature = key.sign(base.as_bytes());
    Ok(SignatureHeaders {
        signature_input: format!("{label}={params_value}"),
        signature: format!("{label}=:{}:", STANDARD.encode(signature.to_bytes())),
    })
}

fn string_param(params: &Parameters, name: &'static str) -> Result<Option<String>, SignatureError> {
    match params.get(name) {
        None => Ok(None),
        Some(BareItem::String(s)) => Ok(Some(s.as_str().to_owned())),
        Some(_) => Err(SignatureError::InvalidParameter(name)),
    }
}

fn integer_param(params: &Parameters, name: &'static str) -> Result<Option<i64>, SignatureError> {
    match params.get(name) {
        None => Ok(None),
        Some(BareItem::Integer(i)) => Ok(Some(i64::from(*i))),
        Some(_) => Err(SignatureError::InvalidParameter(name)),
    }
}

/// Parses every signature in the `Signature-Input` and `Signature` header values.
pub fn parse(
    signature_input: &str,
    signature: &str,
) -> Result<Vec<ParsedSignature>, SignatureError> {
    let malformed = |what: &str| SignatureError::Malformed(what.to_owned());
    let inputs: Dictionary = Parser::new(signature_input)
        .parse()
        .map_err(|e| SignatureError::Malformed(format!("Signature-Input: {e}")))?;
    let signatures: Dictionary = Parser::new(signature)
        .parse()
        .map_err(|e| SignatureError::Malformed(format!("Signature: {e}")))?;
    if inputs.is_empty() {
        return Err(malformed("Signature-Input has no signature"));
    }
    let mut parsed = Vec::with_capacity(inputs.len());
    for (label, entry) in inputs {
        let ListEntry::InnerList(list) = entry else {
            return Err(malformed(
                "each Signature-Input member must be an inner list",
            ));
        };
        let signature = match signatures.get(label.as_str()) {
            Some(ListEntry::Item(Item {
                bare_item: BareItem::ByteSequence(bytes),
                ..
            })) => bytes.clone(),
            Some(_) => return Err(malformed("each Signature member must be a byte sequence")),
            None => {
                return Err(SignatureError::Malformed(format!(
                    "Signature has no member {label}"
                )));
            }
        };
        let components = list
            .items
            .iter()
            .map(|item| match &item.bare_item {
                BareItem::String(name) if item.params.is_empty() => Component::parse(name.as_str()),
                BareItem::String(name) => Err(SignatureError::UnsupportedComponent(format!(
                    "{} with parameters",
                    name.as_str()
                ))),
                _ => Err(malformed("component identifiers must be strings")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let params = SignatureParams {
            created: integer_param(&list.params, "created")?,
            expires: integer_param(&list.params, "expires")?,
            nonce: string_param(&list.params, "nonce")?,
            alg: string_param(&list.params, "alg")?,
            keyid: string_param(&list.params, "keyid")?,
            tag: string_param(&list.params, "tag")?,
        };
        parsed.push(ParsedSignature {
            label: label.as_str().to_owned(),
            components,
            params,
            params_value: serialize_inner_list(list),
            signature,
        });
    }
    Ok(parsed)
}

impl ParsedSignature {
    /// Whether the signature covers this component.
    pub fn covers(&self, component: &Component) -> bool {
        self.components.contains(component)
    }

    /// The signature base this signature claims to sign.
    pub fn base(&self, message: &MessageParts) -> Result<String, SignatureError> {
        signature_base(message, &self.components, &self.params_value)
    }

    /// Verifies the signature over `message` with `key`.
    ///
    /// `verify_strict` rejects weak keys and malleable signatures.
    pub fn verify(&self, message: &MessageParts, key: &VerifyingKey) -> Result<(), SignatureError> {
        let base = self.base(message)?;
        let signature =
            Signature::from_slice(&self.signature).map_err(|_| SignatureError::Invalid)?;
        key.verify_strict(base.as_bytes(), &signature)
            .map_err(|_| SignatureError::Invalid)
    }
}

/// A fresh 128-bit random nonce, base64url without padding.
pub fn new_nonce() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rand::RngCore as _;
    let mut bytes = [0u8; 16];
    // The thread's CSPRNG (ChaCha, seeded and reseeded from the OS): a system call per nonce
    // was a measurable share of a signed request.
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwk::Jwk;

    /// RFC 9421 Appendix B.1.4 test key `test-key-ed25519` (RFC 8037 JWK).
    const B14_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"test-key-ed25519",
        "d":"n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU",
        "x":"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"}"#;

    fn b26_message() -> MessageParts {
        // RFC 9421 Appendix B.2: the test request.
        MessageParts::request("POST", "https", "example.com", "/foo", Some("param=Value&Pet=dog"))
            .with_header("Host", "example.com")
            .with_header("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
            .with_header("Content-Type", "application/json")
            .with_header(
                "Content-Digest",
                "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
            )
            .with_header("Content-Length", "18")
    }

    fn b26_components() -> Vec<Component> {
        [
            "date",
            "@method",
            "@path",
            "@authority",
            "content-type",
            "content-length",
        ]
        .into_iter()
        .map(|n| Component::parse(n).unwrap())
        .collect()
    }

    const B26_BASE: &str = "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\
\"@method\": POST\n\
\"@path\": /foo\n\
\"@authority\": example.com\n\
\"content-type\": application/json\n\
\"content-length\": 18\n\
\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"";

    const B26_SIGNATURE: &str = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:";

    fn b26_params() -> SignatureParams {
        SignatureParams {
            created: Some(1_618_884_473),
            keyid: Some("test-key-ed25519".into()),
            ..SignatureParams::default()
        }
    }

    #[test]
    fn rfc9421_b26_signature_base_and_signature_are_reproduced() {
        let key = Jwk::from_json(B14_JWK).unwrap().private_key().unwrap();
        let base = base_for(&b26_message(), &b26_components(), &b26_params()).unwrap();
        assert_eq!(base, B26_BASE);
        let headers = sign(
            &b26_message(),
            "sig-b26",
            &b26_components(),
            &b26_params(),
            &key.key,
        )
        .unwrap();
        assert_eq!(headers.signature, B26_SIGNATURE);
        assert_eq!(
            headers.signature_input,
            "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\""
        );
    }

    #[test]
    fn rfc9421_b26_signature_verifies_from_its_headers() {
        let public = Jwk::from_json(B14_JWK).unwrap().public_key().unwrap();
        let input = "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"";
        let parsed = parse(input, B26_SIGNATURE).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].base(&b26_message()).unwrap(), B26_BASE);
        assert_eq!(parsed[0].verify(&b26_message(), &public.key), Ok(()));
        let tampered = b26_message().with_header("Date", "later");
        assert_eq!(
            parsed[0].verify(&tampered, &public.key),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn derived_components_follow_rfc9421_section_2_2() {
        let message = MessageParts::request(
            "GET",
            "HTTPS",
            "WWW.Example.com:443",
            "/path",
            Some("param=value"),
        );
        let value = |name: &str| {
            message
                .component_value(&Component::parse(name).unwrap())
                .unwrap()
        };
        assert_eq!(value("@authority"), "www.example.com");
        assert_eq!(
            value("@target-uri"),
            "https://www.example.com/path?param=value"
        );
        assert_eq!(value("@request-target"), "/path?param=value");
        assert_eq!(value("@query"), "?param=value");
        assert_eq!(value("@scheme"), "https");
        let no_query = MessageParts::request("GET", "http", "h:8080", "", None);
        assert_eq!(no_query.component_value(&Component::Query).unwrap(), "?");
        assert_eq!(no_query.component_value(&Component::Path).unwrap(), "/");
        assert_eq!(
            no_query.component_value(&Component::Authority).unwrap(),
            "h:8080"
        );
    }

    #[test]
    fn repeated_header_fields_are_combined() {
        let message = MessageParts::response(200)
            .with_header("X-A", " one ")
            .with_header("x-a", "two");
        assert_eq!(message.header("x-a").as_deref(), Some("one, two"));
        assert_eq!(message.component_value(&Component::Status).unwrap(), "200");
    }

    #[test]
    fn unsupported_and_malformed_inputs_are_refused() {
        assert!(matches!(
            parse("s=(\"@query-param\";name=\"a\");created=1", "s=:AA==:"),
            Err(SignatureError::UnsupportedComponent(_))
        ));
        assert!(matches!(
            parse("s=(\"@method\")", "t=:AA==:"),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            parse("s=(\"@method\");created=\"x\"", "s=:AA==:"),
            Err(SignatureError::InvalidParameter("created"))
        ));
        assert!(matches!(
            parse("garbage((", "s=:AA==:"),
            Err(SignatureError::Malformed(_))
        ));
        let twice = parse("s=(\"@method\" \"@method\")", "s=:AA==:").unwrap();
        assert!(matches!(
            twice[0].base(&MessageParts::request("GET", "https", "a", "/", None)),
            Err(SignatureError::DuplicateComponent(_))
        ));
    }

    #[test]
    fn absent_covered_header_is_reported() {
        let parsed = parse("s=(\"idempotency-key\")", "s=:AA==:").unwrap();
        assert_eq!(
            parsed[0].base(&MessageParts::request("POST", "https", "a", "/", None)),
            Err(SignatureError::ComponentAbsent("idempotency-key".into()))
        );
    }
}

#[cfg(test)]
mod protocol_doc {
    use super::*;
    use crate::{digest, jwk::Jwk, protocol};

    const HOTEL_KEY: &str = include_str!("../../keys/dev/hotel.jwk");
    const DOC: &str = include_str!("../../docs/protocol.md");
    const BODY: &str = r#"{"jwk":{"kty":"OKP","crv":"Ed25519","x":"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs","kid":"hotel-2027"}}"#;

    fn example() -> (String, SignatureHeaders, String) {
        let key = Jwk::from_json(HOTEL_KEY).unwrap().private_key().unwrap();
        let content_digest = digest::content_digest(BODY.as_bytes());
        let message =
            MessageParts::request("POST", "https", "127.0.0.1:8443", "/v1/partner/keys", None)
                .with_header("content-type", "application/json")
                .with_header("content-digest", &content_digest)
                .with_header("idempotency-key", "rotate-hotel-2027");
        let components = protocol::required_request_components("POST", false, true);
        let params = SignatureParams {
            created: Some(1_795_340_000),
            nonce: Some("m4Qf2tXJ0kSq7YV9cB3hWg".into()),
            alg: Some("ed25519".into()),
            keyid: Some(key.kid.clone()),
            ..SignatureParams::default()
        };
        let base = base_for(&message, &components, &params).unwrap();
        let headers = sign(&message, "sig1", &components, &params, &key.key).unwrap();
        (base, headers, content_digest)
    }

    #[test]
    fn the_worked_example_in_docs_protocol_md_is_exact() {
        let (base, headers, content_digest) = example();
        for expected in [
            base.as_str(),
            &headers.signature_input,
            &headers.signature,
            &content_digest,
            BODY,
        ] {
            assert!(
                DOC.contains(expected),
                "docs/protocol.md is out of date; it must contain:\n{expected}"
            );
        }
    }
}
