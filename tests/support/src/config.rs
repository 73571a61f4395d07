//! The test configuration: the settings every test gateway shares, and the few a test may
//! change, as typed fields set on the validated [`Config`].

use std::path::Path;
use std::time::Duration;

use domain::member_data::MemberDataKeys;
use gateway::config::{Config, ProtocolConfig, RawConfig, TlsConfig};
use partners::jwk::PrivateKey;
use secrecy::SecretString;

/// The settings every test gateway shares: one worker, small body limits, the demo card
/// prefix, maintenance and settlement left to the test (it runs them with its own clock).
const SHARED: &str = r#"
[server]
listen = "127.0.0.1:0"
tls = "off"
workers = 1
shutdown_timeout_secs = 1
max_body_bytes = 65536
max_upload_bytes = 1048576
[database]
pool_size = 4
[redis]
[settlement]
close_interval_secs = 0
[messages]
provider = "development"
dispatch_interval_ms = 50
[program]
card_prefix = "6037"
points_validity_days = 730
maintenance_interval_secs = 86400
# Every read sees the rules as stored: tests change them and use them at once.
rules_refresh_ms = 0
[log]
filter = "error"
"#;

/// What a test may change for its gateway, e.g.
/// `TestApp::spawn_with(TestConfig { plain_http: true, ..TestConfig::default() })`.
#[derive(Debug, Clone)]
pub struct TestConfig {
    /// How old a signature's `created` may be.
    pub signature_window: Duration,
    /// How far in the future `created` may be.
    pub clock_skew: Duration,
    /// How long a looked-up partner key is cached (1 s in tests, so revocations show quickly).
    pub key_cache_ttl: Duration,
    /// How long an idempotency claim holds before a retry may take it over.
    pub idempotency_lease: Duration,
    /// How long a client may take to send a request's head.
    pub request_head_timeout: Duration,
    /// Serve plain HTTP instead of HTTPS with a development CA.
    pub plain_http: bool,
    /// A Redis of the test's own (to stop and start it); the shared test Redis otherwise.
    pub redis_url: Option<String>,
}

impl Default for TestConfig {
    fn default() -> Self {
        let protocol = ProtocolConfig::default();
        Self {
            signature_window: protocol.signature_window,
            clock_skew: protocol.clock_skew,
            key_cache_ttl: Duration::from_secs(1),
            idempotency_lease: protocol.idempotency_lease,
            request_head_timeout: Duration::from_secs(5),
            plain_http: false,
            redis_url: None,
        }
    }
}

impl TestConfig {
    /// The gateway configuration of one test: the shared settings, a fresh gateway key and
    /// Redis prefix, this test's database, and these settings on top. Files go under `dir`.
    pub(crate) fn gateway_config(&self, dir: &Path, database_url: &str) -> Config {
        let key = PrivateKey::generate(&crate::app::unique_code("gateway"))
            .unwrap_or_else(|e| panic!("{e}"));
        let key_file = dir.join("gateway.jwk");
        std::fs::write(
            &key_file,
            serde_json::to_vec(&key.to_jwk()).unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // The key file is the one setting only the file can give (`Config` loads it).
        let toml = format!("{SHARED}[signing]\nkey_file = '{}'\n", key_file.display());
        let mut raw = RawConfig::parse(&toml).unwrap_or_else(|e| panic!("{e}"));
        raw.set_secrets(
            SecretString::from(database_url.to_owned()),
            SecretString::from(self.redis_url.clone().unwrap_or_else(crate::app::redis_url)),
            SecretString::from(MemberDataKeys::generate_master()),
        );
        let mut config = Config::from_raw(raw).unwrap_or_else(|e| panic!("{e}"));
        config.redis_key_prefix = format!("test:{}", uuid::Uuid::new_v4().simple());
        config.server.tls = if self.plain_http {
            TlsConfig::Off
        } else {
            TlsConfig::Development {
                dir: dir.join("tls"),
            }
        };
        config.server.request_head_timeout = self.request_head_timeout;
        config.protocol = ProtocolConfig {
            signature_window: self.signature_window,
            clock_skew: self.clock_skew,
            key_cache_ttl: self.key_cache_ttl,
            idempotency_lease: self.idempotency_lease,
        };
        config
    }
}
