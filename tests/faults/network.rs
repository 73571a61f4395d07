//! A small network on servers of its own: a private PostgreSQL cluster and Redis, one partner
//! set up through the operator's CLI, and gateway processes (the real `clubgate serve`, so one
//! can be killed with SIGKILL).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use partners::client::{Client, ClientOptions};
use partners::jwk::Jwk;
use test_support::services::{PrivatePostgres, PrivateRedis, free_port, run};

/// The workspace, where the development configuration and keys are.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The `clubgate` binary `make test` built beside this test.
pub fn clubgate_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/faults-… → target/<profile>/clubgate
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("clubgate"))
        .unwrap_or_default();
    assert!(
        binary.exists(),
        "{} is missing: build the workspace first (`make test` does)",
        binary.display()
    );
    binary
}

/// The partner the loops act for.
pub const PARTNER: &str = "fault-hotel";
/// Its branch.
pub const BRANCH: &str = "main";

/// The servers, the partner, and the gateways.
pub struct Network {
    pub postgres: PrivatePostgres,
    pub redis: PrivateRedis,
    pub database_url: String,
    dir: PathBuf,
    pub gateways: Vec<Gateway>,
}

impl Network {
    /// Starts the servers, migrates, sets up the partner and starts `instances` gateways.
    pub async fn start(instances: usize) -> Self {
        let postgres = PrivatePostgres::start("");
        let redis = PrivateRedis::start(free_port());
        let database_url = postgres.url("clubgate");
        let mut admin = AsyncPgConnection::establish(&postgres.url("postgres"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        diesel::sql_query("CREATE DATABASE clubgate")
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let dir = postgres.dir.join("gateway");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let mut network = Self {
            postgres,
            redis,
            database_url,
            dir,
            gateways: Vec::new(),
        };
        network.cli(&["migrate"]);
        network.cli(&[
            "partners",
            "add",
            "--code",
            PARTNER,
            "--name",
            "Fault Hotel",
            "--kind",
            "hotel",
        ]);
        network.cli(&[
            "branches",
            "add",
            "--partner",
            PARTNER,
            "--code",
            BRANCH,
            "--name",
            "Main",
        ]);
        network.cli(&[
            "keys",
            "register",
            "--partner",
            PARTNER,
            "keys/dev/hotel.pub.jwk",
        ]);
        network.cli(&[
            "rules",
            "set",
            "--partner",
            PARTNER,
            "--earn-points",
            "1",
            "--per-amount",
            "10000",
            "--point-value",
            "1000",
        ]);
        for _ in 0..instances {
            let gateway = Gateway::start(&network);
            network.gateways.push(gateway);
        }
        network
    }

    /// `scripts/backup.sh` for this network's database, keeping its backups in `backups/`.
    pub fn backup_script(&self, args: &[&str]) -> String {
        run(Command::new(workspace().join("scripts/backup.sh"))
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("REDIS_URL", self.redis.url())
            .env("BACKUP_DIR", self.backups())
            .env("PG_BINDIR", self.postgres.program(""))
            .env("CLUBGATE", clubgate_binary())
            .env(
                "CLUBGATE_CONFIG",
                workspace().join("gateway/config/development.toml"),
            )
            .env(
                "MEMBER_DATA_KEY_FILE",
                workspace().join("keys/dev/member-data.jwk"),
            )
            .env("GATEWAY__LOG__FILTER", "warn"))
    }

    /// Where [`Self::backup_script`] keeps the backups.
    pub fn backups(&self) -> PathBuf {
        self.postgres.dir.join("backups")
    }

    fn command(&self) -> Command {
        let mut command = Command::new(clubgate_binary());
        command
            .current_dir(workspace())
            .env("CLUBGATE_CONFIG", "gateway/config/development.toml")
            .env("DATABASE_URL", &self.database_url)
            .env("REDIS_URL", self.redis.url())
            .env("MEMBER_DATA_KEY_FILE", "keys/dev/member-data.jwk")
            .env("GATEWAY__REDIS__KEY_PREFIX", "faults")
            .env("GATEWAY__SERVER__TLS_DIR", self.dir.join("tls"))
            .env("GATEWAY__LOG__FILTER", "warn")
            .env_remove("DATABASE_URL_FILE")
            .env_remove("REDIS_URL_FILE")
            .env_remove("MEMBER_DATA_KEY");
        command
    }

    /// Runs an operator's command; panics if it fails.
    pub fn cli(&self, args: &[&str]) -> String {
        run(self.command().args(args))
    }

    /// A signing client for the partner at gateway `i`.
    pub async fn client(&self, i: usize) -> Client {
        let key = Jwk::read(&workspace().join("keys/dev/hotel.jwk"))
            .and_then(|jwk| jwk.private_key())
            .unwrap_or_else(|e| panic!("keys/dev/hotel.jwk: {e}"));
        Client::connect(ClientOptions {
            gateway_url: self.gateways[i]
                .url()
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
            key,
            ca_certificate_pem: Some(self.ca()),
            gateway_keys: None,
        })
        .await
        .unwrap_or_else(|e| panic!("connecting to gateway {i}: {e}"))
    }

    fn ca(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("tls").join(gateway::tls::DEV_CA_FILE))
            .unwrap_or_else(|e| panic!("the gateways' CA: {e}"))
    }

    /// Kills gateway `i` with SIGKILL: no shutdown, no flush, nothing answered.
    pub fn kill(&mut self, i: usize) {
        self.gateways[i].kill();
    }

    /// Starts gateway `i` again on its port and waits until it is ready.
    pub fn restart(&mut self, i: usize) {
        let port = self.gateways[i].port;
        self.gateways[i] = Gateway::try_start(self, port)
            .unwrap_or_else(|| panic!("gateway {i} did not start again on its port {port}"));
    }
}

/// One `clubgate serve` process.
pub struct Gateway {
    pub port: u16,
    child: Option<Child>,
}

impl Gateway {
    /// Starts `clubgate serve` on `port` and waits until it listens; `None` if it exited first
    /// (the port was taken meanwhile by some other process).
    fn try_start(network: &Network, port: u16) -> Option<Self> {
        let log_path = network.dir.join(format!("gateway-{port}.log"));
        let log = std::fs::File::create(&log_path).unwrap_or_else(|e| panic!("{e}"));
        let child = network
            .command()
            .arg("serve")
            .env("GATEWAY__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("clubgate serve: {e}"));
        let mut gateway = Self {
            port,
            child: Some(child),
        };
        let ca = network.dir.join("tls").join(gateway::tls::DEV_CA_FILE);
        let deadline = Instant::now() + Duration::from_secs(60);
        // Its own CA written and its port open: another process's port would not do.
        while !(ca.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()) {
            if let Some(child) = gateway.child.as_mut()
                && child.try_wait().ok().flatten().is_some()
            {
                eprintln!(
                    "the gateway on {port} exited: {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
                gateway.child = None;
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway on {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(gateway)
    }

    /// Starts one on a free port.
    fn start(network: &Network) -> Self {
        (0..3)
            .find_map(|_| Self::try_start(network, free_port()))
            .unwrap_or_else(|| panic!("no gateway started on three free ports"))
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _killed = child.kill();
            let _reaped = child.wait();
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // A WAL stream outlives the script that started it: stop it with the network.
        let _stopped = Command::new("pkill")
            .arg("-f")
            .arg(format!("pg_receivewal -D {}/wal", self.backups().display()))
            .status();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}
