//! The OpenAPI document is complete and true: requests generated from its own schemas,
//! valid and hostile, signed with real keys, get only the statuses the document lists for
//! their operation, every error is a problem document with a `code`, no answer is a 5xx, and
//! every success validates against the documented response schema.
//!
//! The generator is seeded and bounded: the shape of every request follows from the seed, while
//! the ids, cards and times it fills in come from this run's network (and from answers, whose
//! order four requests in flight may vary), so the panic lists each offending request (method,
//! path and query, body) once, to be replayed by hand.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::time::Instant;

use chrono::{Duration, Utc};
use domain::keys::OperatorRole;
use domain::points::Currency;
use domain::settlement::terms::{self, NewTerms, PeriodKind};
use futures_util::{StreamExt as _, stream};
use partners::jwk::PrivateKey;
use partners::protocol;
use proptest::strategy::{Strategy as _, ValueTree as _};
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, TestRng, TestRunner};
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use test_support::TestApp;
use test_support::app::unique_code;
use test_support::requests::{Draft, TestResponse};

/// The seed, fixed so a failure reproduces; `OPENAPI_FUZZ_SEED=<u64>` explores another.
const SEED: u64 = 0x636c_7562_6761_7465;
/// Requests per signed operation; half of them hostile.
const REQUESTS_PER_OPERATION: usize = 32;
/// Requests sent at once.
const IN_FLIGHT: usize = 4;

/// Real values the generator prefers for fields of these names, so that valid requests
/// reach the handlers' business paths instead of stopping at "unknown".
#[derive(Default)]
struct Dictionary {
    values: HashMap<&'static str, Vec<Value>>,
}

impl Dictionary {
    fn add(&mut self, name: &'static str, value: Value) {
        let values = self.values.entry(name).or_default();
        if !values.contains(&value) {
            values.push(value);
        }
    }

    fn pick(&self, name: &str, rng: &mut StdRng) -> Option<Value> {
        self.values.get(name)?.choose(rng).cloned()
    }
}

/// What the test knows of one operation of the document.
struct Operation {
    method: String,
    path: String,
    id: String,
    parameters: Vec<Value>,
    json_body: Option<Value>,
    csv_body: bool,
    responses: serde_json::Map<String, Value>,
}

/// The keys that sign: the partner's, and the operator's of each role.
struct Keys {
    partner: PrivateKey,
    finance: PrivateKey,
    admin: PrivateKey,
}

impl Keys {
    /// The key the route wants: operator routes name their role (docs/settlement.md §Access).
    fn for_path(&self, path: &str) -> Option<&PrivateKey> {
        if !path.starts_with("/v1/") {
            None
        } else if path.starts_with("/v1/operator/settlement/")
            || path.starts_with("/v1/operator/partners/")
        {
            Some(&self.admin)
        } else if path.starts_with("/v1/operator/") {
            Some(&self.finance)
        } else {
            Some(&self.partner)
        }
    }
}

/// A request as generated, kept to reproduce a failure.
struct Request {
    method: String,
    path: String,
    query: Option<String>,
    body: Vec<u8>,
    content_type: Option<&'static str>,
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if let Some(q) = &self.query {
            write!(f, "?{q}")?;
        }
        if !self.body.is_empty() {
            let body = String::from_utf8_lossy(&self.body);
            let shown: String = body.chars().take(300).collect();
            write!(f, " body={shown:?}")?;
            if body.chars().count() > 300 {
                write!(f, "… ({} bytes)", self.body.len())?;
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn requests_generated_from_the_openapi_document_get_only_documented_answers() {
    let started = Instant::now();
    let app = TestApp::spawn().await;
    let doc: Value = app
        .send_raw("GET", "/openapi.json", &[], Vec::new())
        .await
        .json();
    check_references_and_operation_ids(&doc);

    let (keys, mut dictionary) = seed_network(&app).await;
    let operations = operations(&doc);
    let gateway_keys = app.gateway_keys();
    let mut validators = Validators::new(&doc);
    let seed = std::env::var("OPENAPI_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut regexes = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed.to_le_bytes().repeat(4)),
    );
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    let mut seen: BTreeMap<String, BTreeMap<u16, usize>> = BTreeMap::new();
    let mut sequence = 0usize;
    let mut receipts_without_nonce = 0usize;

    for operation in &operations {
        let count = if operation.path.starts_with("/v1/") {
            REQUESTS_PER_OPERATION
        } else {
            2
        };
        // Generated in order from the seed, then sent a few at a time.
        let mut generator = Generator {
            rng: &mut rng,
            regexes: &mut regexes,
            dictionary: &dictionary,
            doc: &doc,
        };
        let requests: Vec<(usize, Request)> = (0..count)
            .map(|n| {
                sequence += 1;
                (sequence, generator.request(operation, n % 2 == 1))
            })
            .collect();
        let responses: Vec<TestResponse> = stream::iter(requests.iter())
            .map(|(n, request)| send(&app, &keys, request, *n))
            .buffered(IN_FLIGHT)
            .collect()
            .await;
        for ((_, request), response) in requests.iter().zip(responses) {
            *seen
                .entry(operation.id.clone())
                .or_default()
                .entry(response.status)
                .or_default() += 1;
            if let Err(problem) = check(operation, &response, &mut validators) {
                let code = problem_code(&response).unwrap_or_default();
                failures
                    .entry(format!(
                        "{} {} {code}: {problem}",
                        operation.id, response.status
                    ))
                    .or_insert_with(|| request.to_string());
            } else if response.verify_receipt(&gateway_keys).is_err() {
                // A path or query the extractors refuse is answered before the signature is
                // checked, so that receipt cannot echo the request's nonce; it must still verify.
                match response
                    .clone()
                    .without_request_nonce()
                    .verify_receipt(&gateway_keys)
                {
                    Ok(_) => receipts_without_nonce += 1,
                    Err(e) => {
                        failures
                            .entry(format!("{} receipt: {e}", operation.id))
                            .or_insert_with(|| request.to_string());
                    }
                }
            }
            if (200..300).contains(&response.status) {
                harvest(&response, &mut dictionary);
            }
        }
    }

    let mut summary = String::new();
    for (operation, statuses) in &seen {
        let total: usize = statuses.values().sum();
        let statuses: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
        let _ = write!(summary, "{operation} {total} [{}]; ", statuses.join(" "));
    }
    println!(
        "openapi fuzz: {sequence} requests in {:.1} s, seed {seed}, \
         {receipts_without_nonce} receipts without Request-Nonce: {summary}",
        started.elapsed().as_secs_f64()
    );
    // The run reached the ledger, not only the doors: a test whose every request was refused
    // (signing broken, no seeded data) proves nothing about the answers behind them.
    let succeeded = |operation: &str| {
        seen.get(operation)
            .is_some_and(|statuses| statuses.keys().any(|s| (200..300).contains(s)))
    };
    for operation in [
        "recordEarn",
        "redeemPoints",
        "reverseTransaction",
        "enrollMember",
        "checkCard",
    ] {
        assert!(
            succeeded(operation),
            "no request of {operation} succeeded: {summary}"
        );
    }
    if !failures.is_empty() {
        let list: Vec<String> = failures
            .iter()
            .map(|(what, request)| format!("  {what}\n      {request}"))
            .collect();
        panic!(
            "{} kinds of answer contradict the OpenAPI document:\n{}",
            failures.len(),
            list.join("\n")
        );
    }
}

/// Every `$ref` resolves, and operationIds are unique.
fn check_references_and_operation_ids(doc: &Value) {
    fn walk<'a>(value: &'a Value, refs: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    match (key.as_str(), child) {
                        ("$ref", Value::String(target)) => refs.push(target),
                        _ => walk(child, refs),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
            _ => {}
        }
    }
    let mut refs = Vec::new();
    walk(doc, &mut refs);
    let dangling: BTreeSet<&str> = refs
        .into_iter()
        .filter(|target| {
            let pointer = target.strip_prefix('#').unwrap_or(target);
            doc.pointer(pointer).is_none()
        })
        .collect();
    assert!(dangling.is_empty(), "dangling $ref: {dangling:?}");
    let mut ids = BTreeMap::<String, usize>::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap_or("(none)");
            *ids.entry(id.to_owned()).or_default() += 1;
        }
    }
    let repeated: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "operationIds repeat: {repeated:?}");
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let content = &operation["requestBody"]["content"];
            operations.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                id: operation["operationId"].as_str().unwrap_or(path).to_owned(),
                parameters: operation["parameters"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
                json_body: content.get("application/json").map(|c| c["schema"].clone()),
                csv_body: content.get("text/csv").is_some(),
                responses: operation["responses"].as_object().unwrap().clone(),
            });
        }
    }
    operations
}

/// A partner with a rule, a member with points, holds and earns, settled statements, and
/// operator keys of both roles; their ids, codes and numbers fill the dictionary.
async fn seed_network(app: &TestApp) -> (Keys, Dictionary) {
    let partner = app.partner().with_default_rule().await;
    let code = partner.partner.code.as_str().to_owned();
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Tehran)
        .date_naive();
    operations::settlement::terms::set(
        &app.storage,
        &code,
        NewTerms {
            currency: Currency::parse("IRR").unwrap(),
            price_per_point: terms::parse_rate("price", "12.5").unwrap(),
            reimbursement_per_point: terms::parse_rate("reimbursement", "10").unwrap(),
            period: PeriodKind::Daily,
            time_zone: chrono_tz::Asia::Tehran,
            starts_on: Some(today - chrono::Days::new(2)),
        },
        Utc::now(),
    )
    .await
    .unwrap();
    let mut dictionary = Dictionary::default();
    let card = partner.member().with_points(5_000).await.card;
    let earn = partner.earn_points(&card, 300).await.transaction.id;
    let redemption = partner.redeem_points(&card, 40).await.transaction.id;
    for _ in 0..3 {
        let hold = partner.hold_points(&card, 20).await.transaction.id;
        dictionary.add("id", json!(hold));
        dictionary.add("transaction_id", json!(hold));
    }
    let second_card = partner.member().with_points(100).await.card;
    let profile: protocol::PartnerProfile = partner.client.whoami().await.unwrap().body;
    let next_boundary = PeriodKind::Daily.next_boundary(Utc::now(), chrono_tz::Asia::Tehran);
    app.settle(next_boundary + Duration::minutes(11)).await;
    let statements = partner.client.statements().await.unwrap().body;
    for statement in &statements.statements {
        dictionary.add("id", json!(statement.id));
        dictionary.add("statement_sha256", json!(statement.sha256));
    }

    for id in [earn, redemption] {
        dictionary.add("id", json!(id));
        dictionary.add("transaction_id", json!(id));
        dictionary.add("lines", json!([id]));
        dictionary.add("accepted_lines", json!([id]));
    }
    for branch in &profile.branches {
        dictionary.add("branch", json!(branch.code));
        dictionary.add("branch", json!(branch.id));
    }
    for number in [&card, &second_card] {
        dictionary.add("card_number", json!(number));
        dictionary.add("number", json!(number));
    }
    dictionary.add("partner", json!(code));
    dictionary.add("code", json!(code));
    dictionary.add("currency", json!("IRR"));
    dictionary.add("amount_minor", json!(2_500_000));
    dictionary.add("points", json!(5));
    for _ in 0..8 {
        dictionary.add("jwk", protocol_jwk());
    }
    dictionary.add("from", json!((Utc::now() - Duration::days(3)).to_rfc3339()));
    dictionary.add("to", json!((Utc::now() + Duration::days(1)).to_rfc3339()));
    dictionary.add("time_zone", json!("Asia/Tehran"));

    let operator = |role| app.operator_key("Fuzz staff", role);
    let keys = Keys {
        partner: partner.key,
        finance: operator(OperatorRole::Finance).await,
        admin: operator(OperatorRole::Admin).await,
    };
    (keys, dictionary)
}

fn protocol_jwk() -> Value {
    let key = PrivateKey::generate(&unique_code("fuzz-key")).unwrap();
    json!(key.public_key().to_jwk())
}

/// Ids and numbers from successful answers, so later requests can act on what earlier ones made.
fn harvest(response: &TestResponse, dictionary: &mut Dictionary) {
    let Ok(body) = serde_json::from_slice::<Value>(&response.body) else {
        return;
    };
    if let Some(id) = body["transaction"]["id"].as_str() {
        dictionary.add("id", json!(id));
        dictionary.add("transaction_id", json!(id));
    }
    if let Some(card) = body["card_number"].as_str() {
        dictionary.add("card_number", json!(card));
        dictionary.add("number", json!(card));
    }
}

struct Generator<'a> {
    rng: &'a mut StdRng,
    regexes: &'a mut TestRunner,
    dictionary: &'a Dictionary,
    doc: &'a Value,
}

/// Text no field should break on.
const HOSTILE_TEXT: [&str; 10] = [
    "",
    " ",
    "\u{0}",
    "a\u{0}b",
    "\u{7}\u{1b}[31m",
    "\u{202e}evil",
    "'; DROP TABLE transfers; --",
    "../../etc/passwd",
    "💳🏨",
    "\u{feff}x",
];

impl Generator<'_> {
    fn request(&mut self, operation: &Operation, hostile: bool) -> Request {
        // Hostile requests break one part at a time, so each failure points at one cause.
        let part = if hostile {
            self.rng.gen_range(0..3)
        } else {
            99
        };
        let mut path = operation.path.clone();
        let mut query = Vec::new();
        for parameter in &operation.parameters {
            let name = parameter["name"].as_str().unwrap_or_default();
            let schema = self.resolve(&parameter["schema"]).clone();
            let required = parameter["required"].as_bool().unwrap_or(false);
            match parameter["in"].as_str() {
                Some("path") => {
                    let value = if part == 0 && self.rng.gen_bool(0.5) {
                        self.hostile(&schema, name)
                    } else {
                        self.valid(&schema, name)
                    };
                    let text = match &value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    path = path.replace(&format!("{{{name}}}"), &path_segment(&text));
                }
                Some("query") => {
                    if part == 1 && self.rng.gen_bool(0.5) {
                        match self.rng.gen_range(0..3) {
                            0 if required => {}
                            _ => query.push((name.to_owned(), self.hostile(&schema, name))),
                        }
                    } else if required || self.rng.gen_bool(0.5) {
                        query.push((name.to_owned(), self.valid(&schema, name)));
                    }
                }
                _ => {}
            }
        }
        if part == 1 && self.rng.gen_bool(0.2) {
            query.push(("unexpected".to_owned(), json!("1")));
        }
        let query = (!query.is_empty()).then(|| {
            let mut url = reqwest::Url::parse("https://x/").unwrap();
            {
                let mut pairs = url.query_pairs_mut();
                for (name, value) in &query {
                    let text = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    pairs.append_pair(name, &text);
                }
            }
            url.query().unwrap_or_default().to_owned()
        });
        let (body, content_type) = if let Some(schema) = &operation.json_body {
            let body = if part == 2 {
                self.hostile_body(schema)
            } else {
                serde_json::to_vec(&self.valid(schema, "")).unwrap()
            };
            (body, Some("application/json"))
        } else if operation.csv_body {
            (self.csv(part == 2), Some("text/csv"))
        } else {
            (Vec::new(), None)
        };
        Request {
            method: operation.method.clone(),
            path,
            query,
            body,
            content_type,
        }
    }

    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        match schema["$ref"].as_str() {
            Some(target) => self.resolve(
                self.doc
                    .pointer(target.trim_start_matches('#'))
                    .unwrap_or(&Value::Null),
            ),
            None => schema,
        }
    }

    /// The types a schema allows, `null` included when it does.
    fn types(schema: &Value) -> Vec<String> {
        match &schema["type"] {
            Value::String(t) => vec![t.clone()],
            Value::Array(ts) => ts
                .iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect(),
            _ if schema.get("properties").is_some() => vec!["object".into()],
            _ => Vec::new(),
        }
    }

    /// A value the schema accepts (preferring the dictionary's real values for `name`).
    fn valid(&mut self, schema: &Value, name: &str) -> Value {
        let schema = self.resolve(schema).clone();
        for key in ["oneOf", "anyOf"] {
            if let Some(choices) = schema[key].as_array() {
                let choice = choices.choose(self.rng).cloned().unwrap_or(Value::Null);
                return self.valid(&choice, name);
            }
        }
        if let Some(parts) = schema["allOf"].as_array() {
            return self.valid(&parts[0].clone(), name);
        }
        if let Some(choices) = schema["enum"].as_array() {
            return choices.choose(self.rng).cloned().unwrap_or(Value::Null);
        }
        let types = Self::types(&schema);
        if types.iter().any(|t| t == "null") && self.rng.gen_bool(0.15) {
            return Value::Null;
        }
        if self.rng.gen_bool(0.8)
            && let Some(value) = self.dictionary.pick(name, self.rng)
        {
            return value;
        }
        let kind = types
            .iter()
            .find(|t| *t != "null")
            .cloned()
            .unwrap_or_else(|| "string".into());
        match kind.as_str() {
            "object" => {
                let required: BTreeSet<&str> = schema["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut object = serde_json::Map::new();
                if let Some(properties) = schema["properties"].as_object() {
                    for (property, child) in properties {
                        if required.contains(property.as_str()) || self.rng.gen_bool(0.5) {
                            object.insert(property.clone(), self.valid(child, property));
                        }
                    }
                }
                Value::Object(object)
            }
            "array" => {
                let min = schema["minItems"].as_u64().unwrap_or(0);
                let len = self.rng.gen_range(min..=min + 2);
                let items = schema["items"].clone();
                Value::Array((0..len).map(|_| self.valid(&items, name)).collect())
            }
            "integer" => {
                let min = schema["minimum"].as_i64().unwrap_or(-1_000);
                let max = schema["maximum"].as_i64().unwrap_or(100_000);
                let unbounded = schema["maximum"].is_null();
                let value = match self.rng.gen_range(0..10) {
                    0 => min,
                    1 => max,
                    // Valid, and where sums overflow.
                    2 if unbounded => i64::MAX / self.rng.gen_range(1..4),
                    _ => self
                        .rng
                        .gen_range(min..=max.min(min.saturating_add(100_000))),
                };
                json!(value)
            }
            "number" => json!(self.rng.gen_range(0.0..1000.0)),
            "boolean" => json!(self.rng.gen_bool(0.5)),
            _ => json!(self.string(&schema)),
        }
    }

    fn string(&mut self, schema: &Value) -> String {
        match schema["format"].as_str() {
            Some("uuid") => return uuid::Uuid::from_u128(self.rng.r#gen()).to_string(),
            Some("date-time") => {
                let offset = Duration::seconds(self.rng.gen_range(-86_400 * 400..86_400 * 400));
                return (Utc::now() + offset).to_rfc3339();
            }
            Some("date") => {
                let offset = chrono::Days::new(self.rng.gen_range(400..40_000));
                return (Utc::now().date_naive() - offset).to_string();
            }
            _ => {}
        }
        // proptest generates whole matches and knows no anchors.
        if let Some(pattern) = schema["pattern"].as_str()
            && let Ok(strategy) = proptest::string::string_regex(
                pattern.trim_start_matches('^').trim_end_matches('$'),
            )
            && let Ok(tree) = strategy.new_tree(self.regexes)
        {
            let text = tree.current();
            let max = schema["maxLength"].as_u64().unwrap_or(u64::MAX) as usize;
            let min = schema["minLength"].as_u64().unwrap_or(0) as usize;
            let count = text.chars().count();
            if (min..=max).contains(&count) {
                return text;
            }
        }
        let min = schema["minLength"].as_u64().unwrap_or(0) as usize;
        let max = (schema["maxLength"].as_u64().unwrap_or(24) as usize).max(min);
        let len = self.rng.gen_range(min.max(1)..=max.min(min.max(1) + 24));
        const LETTERS: &[char] = &['a', 'z', 'K', '0', '9', '-', ' ', 'é', 'ی', '中'];
        (0..len)
            .map(|_| *LETTERS.choose(self.rng).unwrap())
            .collect()
    }

    /// A value the schema does not describe, or one at its very edge.
    fn hostile(&mut self, schema: &Value, name: &str) -> Value {
        let schema = self.resolve(schema).clone();
        let types = Self::types(&schema);
        let integer = types.iter().any(|t| t == "integer");
        match self.rng.gen_range(0..8) {
            0 | 1 if integer => {
                let edges = [
                    schema["minimum"].as_i64().map(|m| m - 1),
                    schema["maximum"].as_i64().map(|m| m + 1),
                    Some(0),
                    Some(-1),
                    Some(i64::MAX),
                    Some(i64::MIN),
                    Some(i64::MAX - 1),
                ];
                let edge = edges.iter().flatten().copied().collect::<Vec<_>>();
                json!(*edge.choose(self.rng).unwrap())
            }
            2 if integer => [json!(2586335.0), json!(1e300), json!(0.5), json!("12")]
                .choose(self.rng)
                .cloned()
                .unwrap(),
            0..=2 => json!(*HOSTILE_TEXT.choose(self.rng).unwrap()),
            3 => json!("x".repeat(self.rng.gen_range(200..5_000))),
            4 => json!(self.rng.gen_range(-5..5)),
            5 => [json!(null), json!(true), json!([]), json!({})]
                .choose(self.rng)
                .cloned()
                .unwrap(),
            6 => {
                let mut text = match self.valid(&schema, name) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let middle = text
                    .char_indices()
                    .nth(text.chars().count() / 2)
                    .map_or(text.len(), |(at, _)| at);
                text.insert(middle, '\u{0}');
                json!(text)
            }
            _ => {
                let text = match self.valid(&schema, name) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                json!(format!("{text}{}", HOSTILE_TEXT.choose(self.rng).unwrap()))
            }
        }
    }

    /// A body that breaks the schema: one field wrong, missing or extra, or not JSON at all.
    fn hostile_body(&mut self, schema: &Value) -> Vec<u8> {
        let valid = self.valid(schema, "");
        let resolved = self.resolve(schema).clone();
        let Value::Object(mut object) = valid else {
            return b"[]".to_vec();
        };
        match self.rng.gen_range(0..10) {
            0 => return b"{\"truncated\": ".to_vec(),
            1 => return b"null".to_vec(),
            2 => {
                object.insert("unexpected_field".into(), json!(1));
            }
            3 => {
                if let Some(key) = object.keys().cloned().collect::<Vec<_>>().choose(self.rng) {
                    object.remove(key);
                }
            }
            _ => {
                let properties = resolved["properties"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                if let Some((name, child)) = properties.iter().collect::<Vec<_>>().choose(self.rng)
                {
                    let value = self.hostile(child, name);
                    object.insert((*name).clone(), value);
                }
            }
        }
        serde_json::to_vec(&Value::Object(object)).unwrap()
    }

    /// A partner's reconciliation file: well-formed, or broken.
    fn csv(&mut self, hostile: bool) -> Vec<u8> {
        let mut file = String::from("reference,type,points,amount,time\n");
        for n in 0..self.rng.gen_range(0..4) {
            let _ = writeln!(
                file,
                "ref-{n},earn,{},1000,{}",
                n + 1,
                Utc::now().to_rfc3339()
            );
        }
        if hostile {
            match self.rng.gen_range(0..4) {
                0 => file = String::new(),
                1 => file = "no,header,here\n1,2,3\n".into(),
                2 => file.push_str("\u{0},earn,-1,9223372036854775807,never\n"),
                _ => file.push_str(&"x,".repeat(5_000)),
            }
        }
        file.into_bytes()
    }
}

/// Percent-encodes a path segment, so what is signed is what is sent.
fn path_segment(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    if encoded.is_empty() {
        encoded.push_str("%20");
    }
    encoded
}

async fn send(app: &TestApp, keys: &Keys, request: &Request, sequence: usize) -> TestResponse {
    let Some(key) = keys.for_path(&request.path) else {
        return app
            .send_raw(&request.method, &request.path, &[], Vec::new())
            .await;
    };
    let path_and_query = match &request.query {
        Some(q) => format!("{}?{q}", request.path),
        None => request.path.clone(),
    };
    let idempotency_key = (request.method == "POST").then(|| format!("fuzz-{sequence}"));
    let mut draft: Draft = app.draft(
        key,
        &request.method,
        &path_and_query,
        None,
        idempotency_key.as_deref(),
    );
    if !request.body.is_empty() {
        draft.body = request.body.clone();
        draft.set_header(
            "content-type",
            request.content_type.unwrap_or("application/json"),
        );
        draft.set_header(
            "content-digest",
            &partners::digest::content_digest(&request.body),
        );
        draft.components =
            protocol::required_request_components(&request.method, request.query.is_some(), true);
    }
    app.send(&draft, key).await
}

fn problem_code(response: &TestResponse) -> Option<String> {
    let body: Value = serde_json::from_slice(&response.body).ok()?;
    body["code"].as_str().map(String::from)
}

/// Compiled response schemas, by operation, status and media type.
struct Validators<'d> {
    doc: &'d Value,
    compiled: HashMap<String, jsonschema::Validator>,
}

impl<'d> Validators<'d> {
    fn new(doc: &'d Value) -> Self {
        Self {
            doc,
            compiled: HashMap::new(),
        }
    }

    fn validate(&mut self, key: String, schema: &Value, instance: &Value) -> Result<(), String> {
        if !self.compiled.contains_key(&key) {
            // Refs point into the document's components; carry them along.
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": self.doc["components"],
                "allOf": [schema],
            });
            let validator = jsonschema::options()
                .should_validate_formats(true)
                .build(&root)
                .map_err(|e| format!("the documented schema does not compile: {e}"))?;
            self.compiled.insert(key.clone(), validator);
        }
        let errors: Vec<String> = self.compiled[&key]
            .iter_errors(instance)
            .take(3)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "body does not match its schema: {}",
                errors.join("; ")
            ))
        }
    }
}

/// Whether the answer is one the document promises for this operation.
fn check(
    operation: &Operation,
    response: &TestResponse,
    validators: &mut Validators<'_>,
) -> Result<(), String> {
    let status = response.status;
    if status >= 500 {
        return Err("a server error".into());
    }
    let media_type = response
        .header("content-type")
        .map(|t| t.split(';').next().unwrap_or_default().trim().to_owned())
        .unwrap_or_default();
    if status >= 400 {
        if media_type != "application/problem+json" {
            return Err(format!(
                "an error answered as {media_type:?}, not problem+json"
            ));
        }
        if problem_code(response).is_none() {
            return Err("a problem document without a code".into());
        }
    }
    let Some(documented) = operation.responses.get(&status.to_string()) else {
        return Err("a status the document does not list".into());
    };
    let Some(contents) = documented["content"].as_object() else {
        return if response.body.is_empty() {
            Ok(())
        } else {
            Err("a body where the document lists none".into())
        };
    };
    let Some(content) = contents.get(&media_type) else {
        return Err(format!(
            "media type {media_type:?}; the document lists {:?}",
            contents.keys().collect::<Vec<_>>()
        ));
    };
    let Some(schema) = content.get("schema") else {
        return Ok(());
    };
    let instance = if media_type.ends_with("json") {
        serde_json::from_slice(&response.body).map_err(|e| format!("not JSON: {e}"))?
    } else {
        Value::String(
            String::from_utf8(response.body.clone()).map_err(|e| format!("not text: {e}"))?,
        )
    };
    validators.validate(
        format!("{} {status} {media_type}", operation.id),
        schema,
        &instance,
    )
}
