//! `TestApp`: the real gateway on `127.0.0.1:0` over HTTPS, with its own database,
//! Redis key prefix, development CA and gateway signing key.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use ::partners::client::{Client, ClientOptions};
use ::partners::jwk::{JwkSet, PrivateKey};
use gateway::app::Application;
use gateway::config::Config;
use gateway::state::{AppState, club_settings, storage_settings};
use operations::{Club, keys};
use storage::{Storage, StorageSettings};

use crate::config::TestConfig;
use crate::db::TestDb;
use crate::fixtures::{PointRule, TestPartner};

/// The Redis server the tests use: `TEST_REDIS_URL`, else `REDIS_URL`.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .or_else(|_| std::env::var("REDIS_URL"))
        .unwrap_or_else(|_| {
            panic!("set TEST_REDIS_URL (or REDIS_URL) to a Redis server; `make test` does this")
        })
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A unique lowercase code for fixtures.
pub fn unique_code(prefix: &str) -> String {
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}-{}-{n}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// A fresh Iranian mobile number for an enrolment.
pub fn unique_phone() -> String {
    format!(
        "+98912{:07}",
        SEQUENCE.fetch_add(1, Ordering::Relaxed) % 10_000_000
    )
}

/// A running gateway for one test.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// The gateway instances of this test, each on a runtime of its own.
    gateways: std::sync::Mutex<Vec<GatewayThread>>,
    pub db: TestDb,
    pub storage: Storage,
    /// The club's operations over this test's storage, to call them without HTTP.
    pub club: Club,
    pub config: Config,
    pub ca_pem: Vec<u8>,
    pub dir: PathBuf,
    /// A plain HTTPS client trusting the test CA (for unsigned and hand-made requests).
    pub http: reqwest::Client,
}

impl TestApp {
    /// Starts the gateway with the test configuration's defaults.
    pub async fn spawn() -> Self {
        Self::spawn_with(TestConfig::default()).await
    }

    /// Starts the gateway with these settings.
    pub async fn spawn_with(settings: TestConfig) -> Self {
        let db = TestDb::new().await;
        let dir =
            std::env::temp_dir().join(format!("clubgate-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("temp dir: {e}"));
        let config = settings.gateway_config(&dir, db.url());
        gateway::telemetry::init(&config.log);

        let (gateway, storage) = GatewayThread::start(&config);
        let (port, scheme) = (gateway.port, gateway.scheme);

        let mut http = reqwest::Client::builder().use_rustls_tls();
        let ca_pem = if settings.plain_http {
            Vec::new()
        } else {
            let pem = std::fs::read(dir.join("tls").join(gateway::tls::DEV_CA_FILE))
                .unwrap_or_else(|e| panic!("{e}"));
            http = http.add_root_certificate(
                reqwest::Certificate::from_pem(&pem).unwrap_or_else(|e| panic!("{e}")),
            );
            pem
        };
        let http = http.build().unwrap_or_else(|e| panic!("{e}"));
        let club = Club::start(storage.clone(), club_settings(&config));
        Self {
            address: format!("{scheme}://127.0.0.1:{port}"),
            port,
            gateways: std::sync::Mutex::new(vec![gateway]),
            db,
            storage,
            club,
            config,
            ca_pem,
            dir,
            http,
        }
    }

    /// Starts a second gateway instance on the same database and Redis prefix (its own
    /// in-process caches, its own port) and returns its base URL.
    pub async fn spawn_instance(&self) -> String {
        self.start_instance(&self.config)
    }

    /// Starts a second gateway instance like [`Self::spawn_instance`], but on the Redis at
    /// `redis_url` (stop that one, and the instance is cut off from Redis while others are not).
    pub async fn spawn_instance_on_redis(&self, redis_url: &str) -> String {
        let mut config = self.config.clone();
        config.redis_url = secrecy::SecretString::from(redis_url.to_owned());
        self.start_instance(&config)
    }

    fn start_instance(&self, config: &Config) -> String {
        let (gateway, _) = GatewayThread::start(config);
        let address = format!("{}://127.0.0.1:{}", gateway.scheme, gateway.port);
        if let Ok(mut gateways) = self.gateways.lock() {
            gateways.push(gateway);
        }
        address
    }

    /// A client for `key` talking to the instance at `address`.
    pub async fn client_at(&self, address: &str, key: &PrivateKey) -> Client {
        Client::connect(ClientOptions {
            gateway_url: address.parse().unwrap_or_else(|e| panic!("{e}")),
            key: key.clone(),
            ca_certificate_pem: (!self.ca_pem.is_empty()).then(|| self.ca_pem.clone()),
            gateway_keys: None,
        })
        .await
        .unwrap_or_else(|e| panic!("client: {e}"))
    }

    /// The gateway's published keys (what partners verify receipts with).
    pub fn gateway_keys(&self) -> JwkSet {
        self.config.keys.published.clone()
    }

    /// A client for `key`, fetching the gateway's JWKS like a real partner would.
    pub async fn client(&self, key: &PrivateKey) -> Client {
        self.client_at(&self.address, key).await
    }

    /// Adds programme rule `kind`/`code`, in force now (the tests' gateways read the rules at
    /// every use).
    pub async fn program_rule(
        &self,
        kind: domain::program::rules::RuleKind,
        code: &str,
        definition: serde_json::Value,
    ) {
        let definition = domain::program::rules::RuleDefinition::parse(kind, definition)
            .unwrap_or_else(|e| panic!("{kind} {code}: {e}"));
        let author = operations::program::Author {
            name: "test",
            request: None,
        };
        let change = domain::program::rules::Change::Create(definition);
        operations::program::change(
            &self.storage,
            kind,
            code,
            change,
            None,
            author,
            chrono::Utc::now(),
        )
        .await
        .unwrap_or_else(|e| panic!("{kind} {code}: {e}"));
    }

    /// Generates and registers an operator key (staff member `name`) holding `role`.
    pub async fn operator_key(&self, name: &str, role: domain::keys::OperatorRole) -> PrivateKey {
        let key = PrivateKey::generate(&unique_code("operator")).unwrap_or_else(|e| panic!("{e}"));
        keys::register_operator(
            &self.storage,
            &self.club.reserved_keys,
            name,
            role,
            &key.public_key(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        key
    }

    /// Generates and registers another key for the partner with `code`.
    pub async fn add_key(&self, code: &str) -> PrivateKey {
        let key = PrivateKey::generate(&unique_code("key")).unwrap_or_else(|e| panic!("{e}"));
        keys::register(
            &self.storage,
            &self.club.reserved_keys,
            code,
            &key.public_key(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        key
    }

    /// Sets the partner's point rule at every branch.
    pub async fn set_rule(&self, partner: &TestPartner, rule: PointRule) {
        let rule = domain::pricing::PointRule::new(
            "IRR",
            rule.earn_points,
            rule.per_amount_minor,
            rule.point_value_minor,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        operations::pricing::set_rule(&self.storage, partner.partner.id, None, &rule)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Closes every settlement period due at `now` (the job's clock, moved at will);
    /// returns how many statements were issued.
    pub async fn settle(&self, now: chrono::DateTime<chrono::Utc>) -> usize {
        operations::settlement::close::settle(
            &self.storage,
            &self.config.keys.current,
            operations::settlement::close::CloseSettings::default(),
            now,
        )
        .await
        .unwrap_or_else(|e| panic!("settle: {e}"))
        .closed
        .len()
    }

    /// Runs every ledger invariant against this test's database.
    pub async fn ledger_report(&self) -> operations::ledger::LedgerReport {
        operations::ledger::check(&self.storage, self.config.program.time_zone)
            .await
            .unwrap_or_else(|e| panic!("ledger check: {e}"))
    }

    /// Storage settings pointing at this test's database and Redis prefix.
    pub fn storage_settings(&self) -> StorageSettings {
        storage_settings(&self.config)
    }
}

/// A gateway (storage, committers, maintenance, server) on a thread and Tokio runtime of its own,
/// as in its own process: the test's tasks (many clients signing and handshaking at once) can then
/// never starve the gateway's Redis and PostgreSQL connections, and its timeouts mean what they do
/// in production.
struct GatewayThread {
    port: u16,
    scheme: &'static str,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GatewayThread {
    /// Starts the gateway; returns it and a handle to its storage (for the test to seed and inspect).
    fn start(config: &Config) -> (Self, Storage) {
        let config = config.clone();
        let (started, on_start) = std::sync::mpsc::channel();
        let (stop, on_stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("gateway runtime: {e}"));
            runtime.block_on(async move {
                let storage = Storage::connect(&storage_settings(&config))
                    .await
                    .unwrap_or_else(|e| panic!("storage: {e:#}"));
                let listener =
                    std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
                let application = Application::build_with(
                    &config,
                    listener,
                    AppState::new(&config, storage.clone()),
                )
                .unwrap_or_else(|e| panic!("app: {e:#}"));
                let _ = started.send((application.port(), application.scheme(), storage));
                tokio::spawn(application.run_until_stopped());
                let _ = on_stop.await;
            });
        });
        let (port, scheme, storage) = on_start
            .recv()
            .unwrap_or_else(|_| panic!("the gateway did not start"));
        (
            Self {
                port,
                scheme,
                stop: Some(stop),
                thread: Some(thread),
            },
            storage,
        )
    }
}

impl Drop for GatewayThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Every test ends by proving the ledger exact (unless it is already failing).
        if !std::thread::panicking() {
            let settings = self.storage_settings();
            let zone = self.config.program.time_zone;
            let report = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let storage = Storage::connect(&settings).await.ok()?;
                    operations::ledger::check(&storage, zone).await.ok()
                })
            })
            .join()
            .ok()
            .flatten();
            match report {
                Some(report) => assert!(
                    report.is_exact(),
                    "the ledger is not exact after this test:\n{}",
                    report.violations.join("\n")
                ),
                None => panic!("the ledger check could not run after this test"),
            }
        }
        // Redis keys of this test go with it; the database goes with `TestDb`.
        let prefix = format!("{}*", self.config.redis_key_prefix);
        let url = redis_url();
        let cleaned = std::thread::spawn(move || {
            let client = redis::Client::open(url.as_str()).ok()?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(&prefix)
                    .query_async(&mut conn)
                    .await
                    .ok()?;
                if !keys.is_empty() {
                    let _deleted: Option<i64> = redis::cmd("DEL")
                        .arg(keys)
                        .query_async(&mut conn)
                        .await
                        .ok();
                }
                Some(())
            })
        })
        .join();
        drop(cleaned);
        let _removed = std::fs::remove_dir_all(&self.dir);
    }
}
