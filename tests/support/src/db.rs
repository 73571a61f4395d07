//! One fresh PostgreSQL database per test, cloned from a migrated template.
//!
//! The template `gw_template_<hash of migrations/>` is built once under an
//! advisory lock (under a temporary name, renamed when complete, so a crash
//! never leaves a half-migrated template). Each test then runs
//! `CREATE DATABASE gw_test_<time>_<id> TEMPLATE …`, which takes milliseconds,
//! and drops it with `WITH (FORCE)` when the `TestDb` is dropped. Databases left
//! by crashed runs are removed after an hour.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use sha2::{Digest as _, Sha256};
use tokio::sync::OnceCell;

/// The server the tests use: `TEST_DATABASE_URL`, else `DATABASE_URL`.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| {
            panic!("set TEST_DATABASE_URL (or DATABASE_URL) to a PostgreSQL server; `make test` does this")
        })
}

fn with_database(url: &str, name: &str) -> String {
    let mut url = url::Url::parse(url).unwrap_or_else(|e| panic!("bad database URL: {e}"));
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn migrations_hash() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    let mut hash = Sha256::new();
    for file in files {
        hash.update(file.to_string_lossy().as_bytes());
        hash.update(std::fs::read(&file).unwrap_or_default());
    }
    hash.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    datname: String,
}

async fn connect(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL server: {e}"))
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let admin = admin_url();
            let name = format!("gw_template_{}", migrations_hash());
            let mut conn = connect(&admin).await;
            exec(&mut conn, "SELECT pg_advisory_lock(74210021)").await;
            let existing: Vec<Name> =
                diesel::sql_query("SELECT datname FROM pg_database WHERE datname = $1")
                    .bind::<Text, _>(&name)
                    .load(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("listing databases: {e}"));
            if existing.is_empty() {
                let building = format!("{name}_building");
                exec(
                    &mut conn,
                    &format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"),
                )
                .await;
                exec(&mut conn, &format!("CREATE DATABASE \"{building}\"")).await;
                storage::migrations::run_pending(&with_database(&admin, &building))
                    .await
                    .unwrap_or_else(|e| panic!("migrating the template: {e:#}"));
                exec(
                    &mut conn,
                    &format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""),
                )
                .await;
            }
            remove_stale(&mut conn).await;
            exec(&mut conn, "SELECT pg_advisory_unlock(74210021)").await;
            name
        })
        .await
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn remove_stale(conn: &mut AsyncPgConnection) {
    let names: Vec<Name> =
        diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'gw\\_test\\_%'")
            .load(conn)
            .await
            .unwrap_or_default();
    let cutoff = unix_now().saturating_sub(3600);
    for Name { datname } in names {
        let created = datname
            .strip_prefix("gw_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|t| t.parse::<u64>().ok());
        if created.is_some_and(|t| t < cutoff) {
            exec(
                conn,
                &format!("DROP DATABASE IF EXISTS \"{datname}\" WITH (FORCE)"),
            )
            .await;
        }
    }
}

/// A database of its own for one test, dropped with it.
pub struct TestDb {
    name: String,
    url: String,
}

impl TestDb {
    /// Clones the migrated template into a new database.
    pub async fn new() -> Self {
        let template = template().await;
        let name = format!("gw_test_{}_{}", unix_now(), uuid::Uuid::new_v4().simple());
        let admin = admin_url();
        let mut conn = connect(&admin).await;
        exec(
            &mut conn,
            &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
        )
        .await;
        Self {
            url: with_database(&admin, &name),
            name,
        }
    }

    /// An empty database with no migrations applied (for migration tests).
    pub async fn empty() -> Self {
        let name = format!("gw_test_{}_{}", unix_now(), uuid::Uuid::new_v4().simple());
        let admin = admin_url();
        let mut conn = connect(&admin).await;
        exec(&mut conn, &format!("CREATE DATABASE \"{name}\"")).await;
        Self {
            url: with_database(&admin, &name),
            name,
        }
    }

    /// The connection URL of this test's database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A direct connection, for assertions on stored rows.
    pub async fn connect(&self) -> AsyncPgConnection {
        connect(&self.url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop cannot await, and the test's runtime may be shutting down: use a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut conn) = AsyncPgConnection::establish(&admin_url()).await {
                        let _dropped = diesel::sql_query(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .execute(&mut conn)
                        .await;
                    }
                });
            }
        })
        .join();
        // A failed drop leaves a database the next run removes after an hour.
        drop(dropped);
    }
}
