//! Configuration: one typed tree, read once at start-up.
//!
//! [`RawConfig`] comes from a TOML file overlaid with `GATEWAY__SECTION__KEY`
//! environment variables and unknown keys are refused. Secrets (the database and
//! Redis URLs) come from `DATABASE_URL` / `REDIS_URL`, or from files named by
//! `DATABASE_URL_FILE` / `REDIS_URL_FILE`, never both and never from the TOML
//! file. [`Config::from_raw`] validates everything and loads the key files; the
//! rest of the code only ever sees [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format as _, Toml};
use partners::jwk::{Jwk, JwkSet, PrivateKey};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use domain::cards::validate_prefix;
use domain::member_data::MemberDataKeys;
use domain::points::Points;
use domain::program::{Limits, ProgramSettings};
use operations::ledger::committer::CommitterSettings;
use operations::settlement::close::CloseSettings;

/// A configuration problem, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Parse(Box<figment::Error>),
    #[error("configuration key {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// How the gateway serves HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// A development CA and certificate generated under `tls_dir` on first run.
    Development,
    /// A certificate chain and key from `tls_certificate_file` / `tls_private_key_file`.
    Files,
    /// Plain HTTP (behind a TLS-terminating proxy, or for local experiments).
    Off,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: String,
    tls: TlsMode,
    #[serde(default)]
    tls_dir: Option<PathBuf>,
    #[serde(default)]
    tls_certificate_file: Option<PathBuf>,
    #[serde(default)]
    tls_private_key_file: Option<PathBuf>,
    #[serde(default)]
    workers: Option<usize>,
    #[serde(default = "defaults::shutdown_timeout_secs")]
    shutdown_timeout_secs: u64,
    #[serde(default = "defaults::request_head_timeout_ms")]
    request_head_timeout_ms: u64,
    #[serde(default = "defaults::max_body_bytes")]
    max_body_bytes: usize,
    #[serde(default = "defaults::max_upload_bytes")]
    max_upload_bytes: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    #[serde(default)]
    url: Option<SecretString>,
    #[serde(default = "defaults::pool_size")]
    pool_size: usize,
    #[serde(default = "defaults::connect_timeout_secs")]
    connect_timeout_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRedis {
    #[serde(default)]
    url: Option<SecretString>,
    #[serde(default = "defaults::key_prefix")]
    key_prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigning {
    key_file: PathBuf,
    #[serde(default)]
    published_key_files: Vec<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProgram {
    card_prefix: String,
    points_validity_days: u32,
    #[serde(default = "defaults::hold_timeout_secs")]
    hold_timeout_secs: u64,
    #[serde(default = "defaults::max_hold_timeout_secs")]
    max_hold_timeout_secs: u64,
    #[serde(default = "defaults::max_release_days")]
    max_release_days: u32,
    #[serde(default = "defaults::maintenance_interval_secs")]
    maintenance_interval_secs: u64,
    #[serde(default = "defaults::late_report_days")]
    late_report_days: u32,
    #[serde(default = "defaults::time_zone")]
    time_zone: String,
    /// Whose months the monthly caps count: `persian` (Solar Hijri) or `gregorian`.
    #[serde(default)]
    month_calendar: domain::program::months::MonthCalendar,
    #[serde(default = "defaults::rules_refresh_ms")]
    rules_refresh_ms: u64,
    #[serde(default = "defaults::max_purchase_minor")]
    max_purchase_minor: i64,
    #[serde(default = "defaults::max_points_per_operation")]
    max_points_per_operation: i64,
}

/// `[messages]`: who sends text messages, and how often the outbox is looked at.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessages {
    provider: Option<String>,
    dispatch_interval_ms: Option<u64>,
}

/// How text messages are sent.
#[derive(Debug, Clone)]
pub struct MessagesConfig {
    /// Who sends them; `None` leaves them in the outbox (the gateway warns at start).
    pub provider: Option<operations::messages::SmsProvider>,
    /// How often the outbox is looked at.
    pub dispatch_interval: Duration,
}

/// `[pages]`: staff sessions and sign-in throttling (defaults: `pages::PagesSettings`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPages {
    session_idle_mins: Option<u64>,
    sign_in_failures_per_login: Option<u64>,
    sign_in_failures_per_address: Option<u64>,
    sign_in_window_mins: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettlement {
    #[serde(default = "defaults::close_interval_secs")]
    close_interval_secs: u64,
    #[serde(default = "defaults::close_grace_secs")]
    close_grace_secs: u64,
    #[serde(default = "defaults::late_window_days")]
    late_window_days: u32,
}

impl Default for RawSettlement {
    fn default() -> Self {
        Self {
            close_interval_secs: defaults::close_interval_secs(),
            close_grace_secs: defaults::close_grace_secs(),
            late_window_days: defaults::late_window_days(),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProtocol {
    #[serde(default)]
    signature_window_secs: Option<u64>,
    #[serde(default)]
    clock_skew_secs: Option<u64>,
    #[serde(default)]
    key_cache_ttl_secs: Option<u64>,
    #[serde(default)]
    idempotency_lease_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLedger {
    #[serde(default = "defaults::committers")]
    committers: usize,
    #[serde(default = "defaults::batch_window_us")]
    batch_window_us: u64,
    #[serde(default = "defaults::batch_max")]
    batch_max: usize,
}

impl Default for RawLedger {
    fn default() -> Self {
        Self {
            committers: defaults::committers(),
            batch_window_us: defaults::batch_window_us(),
            batch_max: defaults::batch_max(),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    #[serde(default)]
    format: LogFormat,
    #[serde(default)]
    filter: Option<String>,
}

/// The configuration as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    server: RawServer,
    database: RawDatabase,
    redis: RawRedis,
    signing: RawSigning,
    program: RawProgram,
    #[serde(default)]
    protocol: RawProtocol,
    #[serde(default)]
    ledger: RawLedger,
    #[serde(default)]
    settlement: RawSettlement,
    #[serde(default)]
    pages: RawPages,
    #[serde(default)]
    messages: RawMessages,
    /// Never read from the file: `MEMBER_DATA_KEY` / `MEMBER_DATA_KEY_FILE`.
    #[serde(skip)]
    member_data_key: Option<SecretString>,
    #[serde(default)]
    log: RawLog,
}

mod defaults {
    pub(super) fn shutdown_timeout_secs() -> u64 {
        30
    }
    /// actix-http's own default.
    pub(super) fn request_head_timeout_ms() -> u64 {
        5000
    }
    pub(super) fn max_body_bytes() -> usize {
        1024 * 1024
    }
    /// Streamed uploads (reconciliation files): about 30 million rows.
    pub(super) fn max_upload_bytes() -> usize {
        2 * 1024 * 1024 * 1024
    }
    pub(super) fn pool_size() -> usize {
        16
    }
    pub(super) fn connect_timeout_secs() -> u64 {
        5
    }
    pub(super) fn key_prefix() -> String {
        "clubgate".into()
    }
    pub(super) fn hold_timeout_secs() -> u64 {
        15 * 60
    }
    pub(super) fn max_hold_timeout_secs() -> u64 {
        7 * 24 * 3600
    }
    pub(super) fn late_report_days() -> u32 {
        7
    }

    pub(super) fn time_zone() -> String {
        "Asia/Tehran".to_owned()
    }

    /// Five seconds: a rule change reaches every instance that soon (docs/program.md).
    pub(super) fn rules_refresh_ms() -> u64 {
        5_000
    }

    pub(super) fn max_release_days() -> u32 {
        365
    }
    /// 10^15 minor units: ten trillion rials, far above any one bill, far below overflow.
    pub(super) fn max_purchase_minor() -> i64 {
        1_000_000_000_000_000
    }
    pub(super) fn max_points_per_operation() -> i64 {
        1_000_000_000
    }
    pub(super) fn maintenance_interval_secs() -> u64 {
        30
    }
    /// One: on a machine whose cores the gateway and PostgreSQL share, one committer's larger
    /// batches cost PostgreSQL a third less CPU per operation than two committers' halves, and
    /// every HTTP load measured ran faster (docs/BENCHMARKS.md, issue 13).
    pub(super) fn committers() -> usize {
        1
    }
    pub(super) fn batch_window_us() -> u64 {
        0
    }
    pub(super) fn batch_max() -> usize {
        1000
    }
    pub(super) fn close_interval_secs() -> u64 {
        60
    }
    pub(super) fn close_grace_secs() -> u64 {
        600
    }
    pub(super) fn late_window_days() -> u32 {
        7
    }
}

/// Where and how to serve HTTP.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub tls: TlsConfig,
    pub workers: usize,
    pub shutdown_timeout: Duration,
    /// How long a client may take to send a request's head (`408 request_head_timeout`).
    pub request_head_timeout: Duration,
    pub max_body_bytes: usize,
    pub max_upload_bytes: usize,
}

/// TLS settings, validated.
#[derive(Debug, Clone)]
pub enum TlsConfig {
    Development {
        dir: PathBuf,
    },
    Files {
        certificate: PathBuf,
        private_key: PathBuf,
    },
    Off,
}

/// The gateway's signing key and the public keys it publishes.
#[derive(Debug, Clone)]
pub struct GatewayKeys {
    /// Signs receipts (and, later, statements).
    pub current: PrivateKey,
    /// Published at `/.well-known/jwks.json`: the current key plus retired ones still honoured.
    pub published: JwkSet,
}

impl GatewayKeys {
    /// The published keys, which no partner or operator may register.
    pub fn reserved(&self) -> domain::keys::ReservedKeys {
        domain::keys::ReservedKeys::new(
            self.published
                .keys
                .iter()
                .filter_map(|jwk| jwk.public_key().ok())
                .map(|public| (public.kid, public.key)),
        )
    }
}

/// Protocol time limits.
#[derive(Debug, Clone)]
pub struct ProtocolConfig {
    pub signature_window: Duration,
    pub clock_skew: Duration,
    pub key_cache_ttl: Duration,
    pub idempotency_lease: Duration,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        Self {
            signature_window: Duration::from_secs(300),
            clock_skew: Duration::from_secs(10),
            key_cache_ttl: Duration::from_secs(5),
            idempotency_lease: Duration::from_secs(30),
        }
    }
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub filter: String,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub database_url: SecretString,
    pub database_pool_size: usize,
    pub connect_timeout: Duration,
    pub redis_url: SecretString,
    pub redis_key_prefix: String,
    pub keys: GatewayKeys,
    pub protocol: ProtocolConfig,
    pub program: ProgramSettings,
    /// How often holds, pending earns and lots are checked for their time.
    pub maintenance_interval: Duration,
    /// How the ledger committer forms batches.
    pub ledger: CommitterSettings,
    /// When settlement periods close.
    pub settlement: CloseSettings,
    /// How often the gateway looks for periods to close; `None` leaves it to `clubgate settle`.
    pub settlement_close_interval: Option<Duration>,
    pub member_data_keys: MemberDataKeys,
    /// Staff sessions and sign-in throttling (`secure_cookies` is set from the TLS settings).
    pub pages: pages::PagesSettings,
    /// Text messages.
    pub messages: MessagesConfig,
    pub log: LogConfig,
}

/// Reads a secret from `NAME` or from the file named by `NAME_FILE`; both set is an error.
fn secret_from_env(
    name: &'static str,
    key: &'static str,
) -> Result<Option<SecretString>, ConfigError> {
    let file_var = format!("{name}_FILE");
    match (std::env::var(name).ok(), std::env::var(&file_var).ok()) {
        (Some(_), Some(_)) => Err(invalid(key, format!("set {name} or {file_var}, not both"))),
        (Some(value), None) => Ok(Some(SecretString::from(value))),
        (None, Some(path)) => {
            let value = std::fs::read_to_string(&path)
                .map_err(|e| invalid(key, format!("cannot read {file_var} {path}: {e}")))?;
            Ok(Some(SecretString::from(value.trim().to_owned())))
        }
        (None, None) => Ok(None),
    }
}

impl RawConfig {
    /// Parses TOML text alone, without the environment overlay (embedding and tests).
    pub fn parse(toml: &str) -> Result<Self, ConfigError> {
        Figment::new()
            .merge(Toml::string(toml))
            .extract()
            .map_err(|e| ConfigError::Parse(Box::new(e)))
    }

    /// Sets the secrets normally read from the environment.
    pub fn set_secrets(
        &mut self,
        database_url: SecretString,
        redis_url: SecretString,
        member_data_key: SecretString,
    ) {
        self.database.url = Some(database_url);
        self.redis.url = Some(redis_url);
        self.member_data_key = Some(member_data_key);
    }

    /// Reads the TOML file and the `GATEWAY__…` environment overlay.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        if !path.exists() {
            return Err(invalid(
                "--config",
                format!("{} does not exist", path.display()),
            ));
        }
        let mut raw: Self = Figment::new()
            .merge(Toml::file(path))
            .merge(Env::prefixed("GATEWAY__").split("__"))
            .extract()
            .map_err(|e| ConfigError::Parse(Box::new(e)))?;
        if raw.database.url.is_some() || raw.redis.url.is_some() {
            return Err(invalid(
                "database.url / redis.url",
                "secrets are never read from the configuration file; use DATABASE_URL / REDIS_URL",
            ));
        }
        raw.database.url = secret_from_env("DATABASE_URL", "database.url")?;
        raw.redis.url = secret_from_env("REDIS_URL", "redis.url")?;
        raw.member_data_key = secret_from_env("MEMBER_DATA_KEY", "member_data_key")?;
        Ok(raw)
    }
}

fn load_private_key(path: &Path) -> Result<PrivateKey, ConfigError> {
    Jwk::read(path)
        .and_then(|jwk| jwk.private_key())
        .map_err(|e| invalid("signing.key_file", format!("{}: {e}", path.display())))
}

fn secs(key: &'static str, value: Option<u64>, default: Duration) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(0) => Err(invalid(key, "must be above zero")),
        Some(secs) => Ok(Duration::from_secs(secs)),
    }
}

fn check_url(key: &'static str, url: &SecretString, schemes: &[&str]) -> Result<(), ConfigError> {
    // The parse error would echo the URL, password included: report only the shape.
    let parsed =
        url::Url::parse(url.expose_secret()).map_err(|_| invalid(key, "is not a valid URL"))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(invalid(key, format!("scheme must be one of {schemes:?}")));
    }
    Ok(())
}

impl Config {
    /// Validates a raw configuration and loads the key files it names.
    pub fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        let listen = raw
            .server
            .listen
            .parse::<SocketAddr>()
            .map_err(|e| invalid("server.listen", format!("{:?}: {e}", raw.server.listen)))?;
        let tls = match raw.server.tls {
            TlsMode::Development => TlsConfig::Development {
                dir: raw.server.tls_dir.ok_or_else(|| {
                    invalid("server.tls_dir", "required when tls = \"development\"")
                })?,
            },
            TlsMode::Files => TlsConfig::Files {
                certificate: raw.server.tls_certificate_file.ok_or_else(|| {
                    invalid(
                        "server.tls_certificate_file",
                        "required when tls = \"files\"",
                    )
                })?,
                private_key: raw.server.tls_private_key_file.ok_or_else(|| {
                    invalid(
                        "server.tls_private_key_file",
                        "required when tls = \"files\"",
                    )
                })?,
            },
            TlsMode::Off => TlsConfig::Off,
        };
        let workers = match raw.server.workers {
            Some(0) => return Err(invalid("server.workers", "must be above zero")),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(2, usize::from),
        };
        if raw.server.request_head_timeout_ms == 0 {
            return Err(invalid(
                "server.request_head_timeout_ms",
                "must be above zero",
            ));
        }
        if raw.server.max_body_bytes == 0 {
            return Err(invalid("server.max_body_bytes", "must be above zero"));
        }
        if raw.server.max_upload_bytes == 0 {
            return Err(invalid("server.max_upload_bytes", "must be above zero"));
        }
        if raw.database.pool_size == 0 {
            return Err(invalid("database.pool_size", "must be above zero"));
        }
        let database_url = raw
            .database
            .url
            .ok_or_else(|| invalid("database.url", "missing: set DATABASE_URL"))?;
        check_url("database.url", &database_url, &["postgres", "postgresql"])?;
        let redis_url = raw
            .redis
            .url
            .ok_or_else(|| invalid("redis.url", "missing: set REDIS_URL"))?;
        check_url("redis.url", &redis_url, &["redis", "rediss"])?;
        if raw.redis.key_prefix.is_empty() || raw.redis.key_prefix.contains(char::is_whitespace) {
            return Err(invalid("redis.key_prefix", "must be a non-empty word"));
        }

        let current = load_private_key(&raw.signing.key_file)?;
        let mut published = vec![current.public_key().to_jwk()];
        for path in &raw.signing.published_key_files {
            let public = Jwk::read(path)
                .and_then(|jwk| jwk.public_key())
                .map_err(|e| {
                    invalid(
                        "signing.published_key_files",
                        format!("{}: {e}", path.display()),
                    )
                })?;
            if published
                .iter()
                .any(|k| k.kid.as_deref() == Some(&public.kid))
            {
                return Err(invalid(
                    "signing.published_key_files",
                    format!("key id {} is published twice", public.kid),
                ));
            }
            published.push(public.to_jwk());
        }

        let member_data_keys = raw
            .member_data_key
            .ok_or_else(|| {
                invalid(
                    "member_data_key",
                    "missing: set MEMBER_DATA_KEY or MEMBER_DATA_KEY_FILE",
                )
            })
            .and_then(|secret| {
                MemberDataKeys::parse(secret.expose_secret())
                    .map_err(|e| invalid("member_data_key", e.to_string()))
            })?;
        let program = raw.program;
        validate_prefix(&program.card_prefix).map_err(|e| invalid("program.card_prefix", e))?;
        if program.points_validity_days == 0 {
            return Err(invalid(
                "program.points_validity_days",
                "must be above zero",
            ));
        }
        if program.hold_timeout_secs == 0
            || program.hold_timeout_secs > program.max_hold_timeout_secs
        {
            return Err(invalid(
                "program.hold_timeout_secs",
                "must be above zero and at most max_hold_timeout_secs",
            ));
        }
        let time_zone = domain::settlement::terms::parse_zone(&program.time_zone)
            .map_err(|e| invalid("program.time_zone", e.to_string()))?;
        if program.late_report_days > 365 {
            return Err(invalid("program.late_report_days", "must be at most 365"));
        }
        if program.rules_refresh_ms > 600_000 {
            return Err(invalid(
                "program.rules_refresh_ms",
                "must be at most 600000 (10 minutes)",
            ));
        }
        if program.max_purchase_minor <= 0 {
            return Err(invalid("program.max_purchase_minor", "must be above zero"));
        }
        if program.max_points_per_operation <= 0 {
            return Err(invalid(
                "program.max_points_per_operation",
                "must be above zero",
            ));
        }
        let maintenance_interval = secs(
            "program.maintenance_interval_secs",
            Some(program.maintenance_interval_secs),
            Duration::from_secs(30),
        )?;
        let program = ProgramSettings {
            card_prefix: program.card_prefix,
            points_validity: chrono::Duration::days(i64::from(program.points_validity_days)),
            default_hold: Duration::from_secs(program.hold_timeout_secs),
            max_hold: Duration::from_secs(program.max_hold_timeout_secs),
            max_release: chrono::Duration::days(i64::from(program.max_release_days)),
            late_window: chrono::Duration::days(i64::from(program.late_report_days)),
            time_zone,
            month_calendar: program.month_calendar,
            rules_refresh: Duration::from_millis(program.rules_refresh_ms),
            limits: Limits {
                max_purchase_minor: program.max_purchase_minor,
                max_points: Points(program.max_points_per_operation),
            },
        };

        let ledger = raw.ledger;
        if !(1..=64).contains(&ledger.committers) {
            return Err(invalid("ledger.committers", "must be 1 to 64"));
        }
        if !(1..=10_000).contains(&ledger.batch_max) {
            return Err(invalid("ledger.batch_max", "must be 1 to 10000"));
        }
        if ledger.batch_window_us > 100_000 {
            return Err(invalid(
                "ledger.batch_window_us",
                "must be at most 100000 (0.1 s)",
            ));
        }
        let ledger = CommitterSettings {
            committers: ledger.committers,
            batch_window: Duration::from_micros(ledger.batch_window_us),
            batch_max: ledger.batch_max,
        };

        let settlement = raw.settlement;
        if !(1..=90).contains(&settlement.late_window_days) {
            return Err(invalid("settlement.late_window_days", "must be 1 to 90"));
        }
        let settlement_close_interval = (settlement.close_interval_secs > 0)
            .then(|| Duration::from_secs(settlement.close_interval_secs));
        let settlement = CloseSettings {
            grace: chrono::Duration::seconds(
                i64::try_from(settlement.close_grace_secs)
                    .map_err(|_| invalid("settlement.close_grace_secs", "too large"))?,
            ),
            late_window: chrono::Duration::days(i64::from(settlement.late_window_days)),
        };

        let pages = {
            let defaults = pages::PagesSettings::default();
            let minutes = |key: &'static str, value: Option<u64>, default: Duration| match value {
                Some(0) => Err(invalid(key, "must be above zero")),
                Some(m) => Ok(Duration::from_secs(m.saturating_mul(60))),
                None => Ok(default),
            };
            let count = |key: &'static str, value: Option<u64>, default: u64| match value {
                Some(0) => Err(invalid(key, "must be above zero")),
                Some(n) => Ok(n),
                None => Ok(default),
            };
            let p = raw.pages;
            pages::PagesSettings {
                secure_cookies: defaults.secure_cookies,
                session_idle: minutes(
                    "pages.session_idle_mins",
                    p.session_idle_mins,
                    defaults.session_idle,
                )?,
                sign_in: operations::staff::SignInLimits {
                    per_login: count(
                        "pages.sign_in_failures_per_login",
                        p.sign_in_failures_per_login,
                        defaults.sign_in.per_login,
                    )?,
                    per_address: count(
                        "pages.sign_in_failures_per_address",
                        p.sign_in_failures_per_address,
                        defaults.sign_in.per_address,
                    )?,
                    window: minutes(
                        "pages.sign_in_window_mins",
                        p.sign_in_window_mins,
                        defaults.sign_in.window,
                    )?,
                },
                codes: defaults.codes,
            }
        };

        let messages = MessagesConfig {
            provider: match raw.messages.provider.as_deref() {
                None => None,
                Some("development") => Some(operations::messages::SmsProvider::Development),
                Some(other) => {
                    return Err(invalid(
                        "messages.provider",
                        format!("{other:?} is not a provider; one of: development"),
                    ));
                }
            },
            dispatch_interval: match raw.messages.dispatch_interval_ms {
                Some(0) => {
                    return Err(invalid(
                        "messages.dispatch_interval_ms",
                        "must be above zero",
                    ));
                }
                Some(ms) => Duration::from_millis(ms),
                None => Duration::from_secs(1),
            },
        };

        let defaults = ProtocolConfig::default();
        let p = raw.protocol;
        let protocol = ProtocolConfig {
            signature_window: secs(
                "protocol.signature_window_secs",
                p.signature_window_secs,
                defaults.signature_window,
            )?,
            clock_skew: match p.clock_skew_secs {
                Some(s) => Duration::from_secs(s),
                None => defaults.clock_skew,
            },
            key_cache_ttl: secs(
                "protocol.key_cache_ttl_secs",
                p.key_cache_ttl_secs,
                defaults.key_cache_ttl,
            )?,
            idempotency_lease: secs(
                "protocol.idempotency_lease_secs",
                p.idempotency_lease_secs,
                defaults.idempotency_lease,
            )?,
        };

        Ok(Self {
            server: ServerConfig {
                listen,
                tls,
                workers,
                shutdown_timeout: Duration::from_secs(raw.server.shutdown_timeout_secs),
                request_head_timeout: Duration::from_millis(raw.server.request_head_timeout_ms),
                max_body_bytes: raw.server.max_body_bytes,
                max_upload_bytes: raw.server.max_upload_bytes,
            },
            database_url,
            database_pool_size: raw.database.pool_size,
            connect_timeout: secs(
                "database.connect_timeout_secs",
                Some(raw.database.connect_timeout_secs),
                Duration::from_secs(5),
            )?,
            redis_url,
            redis_key_prefix: raw.redis.key_prefix,
            keys: GatewayKeys {
                current,
                published: JwkSet { keys: published },
            },
            protocol,
            program,
            maintenance_interval,
            ledger,
            settlement,
            settlement_close_interval,
            member_data_keys,
            pages,
            messages,
            log: LogConfig {
                format: raw.log.format,
                filter: raw.log.filter.unwrap_or_else(|| "info".into()),
            },
        })
    }

    /// Reads and validates the configuration file at `path` with its environment overlay.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::from_raw(RawConfig::load(path)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(toml: &str) -> Result<RawConfig, ConfigError> {
        RawConfig::parse(toml)
    }

    const MINIMAL: &str = r#"
        [server]
        listen = "127.0.0.1:0"
        tls = "off"
        [database]
        [redis]
        [signing]
        key_file = "../../keys/dev/gateway.jwk"
        [program]
        card_prefix = "6037"
        points_validity_days = 730
    "#;

    fn with_urls(mut raw: RawConfig) -> RawConfig {
        raw.database.url = Some(SecretString::from("postgres://u:hunter2@localhost/db"));
        raw.redis.url = Some(SecretString::from("redis://localhost"));
        raw.member_data_key = Some(SecretString::from(MemberDataKeys::generate_master()));
        raw
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err =
            raw(&MINIMAL.replace("tls = \"off\"", "tls = \"off\"\nlisten_port = 1")).unwrap_err();
        assert!(err.to_string().contains("listen_port"), "{err}");
    }

    #[test]
    fn minimal_config_validates_with_defaults() {
        let config = Config::from_raw(with_urls(raw(MINIMAL).unwrap())).unwrap();
        assert_eq!(config.protocol.signature_window, Duration::from_secs(300));
        assert_eq!(config.keys.published.keys.len(), 1);
        assert!(matches!(config.server.tls, TlsConfig::Off));
    }

    #[test]
    fn missing_secret_names_its_key() {
        let err = Config::from_raw(raw(MINIMAL).unwrap()).unwrap_err();
        assert!(err.to_string().contains("database.url"), "{err}");
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let config = Config::from_raw(with_urls(raw(MINIMAL).unwrap())).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains(&config.keys.current.to_jwk().d.unwrap()));
    }

    #[test]
    fn zero_pool_and_bad_tls_settings_are_refused() {
        let zero_pool = MINIMAL.replace("[database]", "[database]\npool_size = 0");
        let err = Config::from_raw(with_urls(raw(&zero_pool).unwrap())).unwrap_err();
        assert!(err.to_string().contains("database.pool_size"), "{err}");
        let files = MINIMAL.replace("tls = \"off\"", "tls = \"files\"");
        let err = Config::from_raw(with_urls(raw(&files).unwrap())).unwrap_err();
        assert!(
            err.to_string().contains("server.tls_certificate_file"),
            "{err}"
        );
    }

    #[test]
    fn wrong_url_scheme_is_refused_without_echoing_the_url() {
        let mut bad = with_urls(raw(MINIMAL).unwrap());
        bad.database.url = Some(SecretString::from("mysql://u:hunter2@h/db"));
        let err = Config::from_raw(bad).unwrap_err().to_string();
        assert!(
            err.contains("database.url") && !err.contains("hunter2"),
            "{err}"
        );
    }
}
