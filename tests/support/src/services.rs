//! Private PostgreSQL and Redis servers a test may stop, restart or destroy without touching the
//! ones every other test shares: real servers from the packages `make test` installs, each on a
//! free port, with its data in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A Redis server that keeps nothing on disk: stopped, it forgets everything.
pub struct PrivateRedis {
    /// Its port.
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one on `port`.
    pub fn start(port: u16) -> Self {
        let mut redis = Self { port, child: None };
        redis.start_again();
        redis
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts it again, empty, on the same port.
    pub fn start_again(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (make test installs it)");
        self.child = Some(child);
        wait_for_port(self.port, "redis-server");
    }

    /// Kills it: whatever it held is lost.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _killed = child.kill();
            let _reaped = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The directory of PostgreSQL's server programs: `PG_BINDIR`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian's layout, which `make test` installs).
pub fn postgres_bindir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("PostgreSQL's server programs (initdb, pg_ctl) must be installed; `make test` installs them")
}

/// Runs a PostgreSQL program as the owner of the data (PostgreSQL refuses to run as root).
pub fn postgres_command(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn is_root() -> bool {
    static IS_ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IS_ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
    })
}

/// Runs `command`, panicking with its output if it fails.
pub fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A PostgreSQL cluster of its own, in a temporary directory, on a free port.
pub struct PrivatePostgres {
    /// Its port.
    pub port: u16,
    /// The directory holding the cluster (`data/`), its log and anything a test puts beside it.
    pub dir: PathBuf,
    bin: PathBuf,
}

impl PrivatePostgres {
    /// Creates a cluster with `settings` appended to its `postgresql.conf`, and starts it.
    pub fn start(settings: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("clubgate-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        if is_root() {
            run(Command::new("chown").args(["postgres:postgres"]).arg(&dir));
        }
        let cluster = Self {
            port: free_port(),
            dir,
            bin: postgres_bindir(),
        };
        run(postgres_command(&cluster.bin.join("initdb"))
            .arg("-D")
            .arg(cluster.data())
            .args([
                "-U",
                "clubgate",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]));
        cluster.configure(settings);
        cluster.start_again();
        cluster
    }

    /// Writes the cluster's settings (the port, the sockets' directory, then `settings`).
    pub fn configure(&self, settings: &str) {
        let conf = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nmax_connections = 200\n{settings}\n",
            self.port,
            self.dir.display()
        );
        let path = self.data().join("postgresql.auto.conf");
        let mut existing = std::fs::read_to_string(&path).unwrap_or_default();
        existing.push_str(&conf);
        std::fs::write(&path, existing).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A program of this PostgreSQL version.
    pub fn program(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// The URL of `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://clubgate@127.0.0.1:{}/{database}", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) -> String {
        run(postgres_command(&self.program("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60"])
            .args(args))
    }

    /// Starts the cluster (after [`Self::stop`]).
    pub fn start_again(&self) {
        self.pg_ctl(&["start"]);
    }

    /// Stops it as an operator would (`pg_ctl stop -m fast`: sessions are cut, nothing is lost).
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast"]);
    }

    /// `pg_ctl restart -m fast`.
    pub fn restart(&self) {
        self.pg_ctl(&["restart", "-m", "fast"]);
    }

    /// Stops it at once, without a checkpoint (as a crash would).
    pub fn crash(&self) {
        self.pg_ctl(&["stop", "-m", "immediate"]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _stopped = postgres_command(&self.program("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["stop", "-m", "immediate"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _removed = std::fs::remove_dir_all(&self.dir);
    }
}
