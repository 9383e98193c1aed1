//! The control plane's database: SQLite (one file, the default) or PostgreSQL (`postgres://…`),
//! behind one tiny interface so every query is written once. SQL uses `$1…$n` placeholders
//! (rewritten to SQLite's `?1…?n`); only the DDL differs per dialect (see `schema`).
//!
//! PostgreSQL goes through a pool (deadpool-postgres): a connection that broke is replaced on
//! the next checkout, so a database restart costs the requests made during the outage (they
//! fail fast as [`DbError::Unavailable`], answered 503 with `Retry-After`) and nothing more.
//! Every statement runs under a server-side `statement_timeout`.
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("cannot open '{path}': {cause}")]
    Open { path: String, cause: String },
    #[error("database worker stopped: {0}")]
    Worker(String),
    /// No connection could be had in time (the database is down or restarting).
    #[error("PostgreSQL unavailable: {0}")]
    Unavailable(String),
}

impl DbError {
    /// The database (not the request) is the problem: worth retrying shortly.
    pub fn is_outage(&self) -> bool {
        match self {
            DbError::Unavailable(_) => true,
            DbError::Postgres(e) => e.is_closed() || e.code().is_none(),
            _ => false,
        }
    }
}

/// How long a request waits for a pooled connection, and for a new one to connect.
const CHECKOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// Server-side cap on one statement.
const STATEMENT_TIMEOUT_MS: u64 = 10_000;
/// Connections per replica.
const POOL_SIZE: usize = 16;

/// A bound parameter or a read column. Typed nulls, because PostgreSQL checks types even for
/// NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    I(Option<i64>),
    T(Option<String>),
}

impl Val {
    pub fn int(&self) -> Option<i64> {
        match self {
            Val::I(v) => *v,
            Val::T(Some(s)) => s.parse().ok(),
            Val::T(None) => None,
        }
    }
    pub fn text(&self) -> Option<String> {
        match self {
            Val::T(v) => v.clone(),
            Val::I(v) => v.map(|i| i.to_string()),
        }
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::I(Some(v))
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        Val::I(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::T(Some(v.to_string()))
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::T(Some(v))
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        Val::T(v)
    }
}

pub type Row = Vec<Val>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
enum Inner {
    Sqlite(Arc<Mutex<rusqlite::Connection>>),
    Postgres(deadpool_postgres::Pool),
}

#[derive(Clone)]
pub struct Db {
    inner: Inner,
    /// Where it is, for messages (a PostgreSQL URL without its password).
    pub label: String,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Db({})", self.label)
    }
}

/// `postgres://user:secret@host/db` → `postgres://user@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}

impl Db {
    /// `postgres://…` or `postgresql://…` connects to PostgreSQL; anything else is a SQLite path.
    pub async fn open(target: &str) -> Result<Self, DbError> {
        if target.starts_with("postgres://") || target.starts_with("postgresql://") {
            let pool = pg_pool(target)?;
            // Connect once now: a wrong URL or password fails the start, not the first request.
            drop(pool.get().await.map_err(pool_error)?);
            return Ok(Self {
                inner: Inner::Postgres(pool),
                label: redact_url(target),
            });
        }
        let path = Path::new(target);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DbError::Open {
                path: target.into(),
                cause: e.to_string(),
            })?;
        }
        crate::store::private_db_file(path).map_err(|e| DbError::Open {
            path: target.into(),
            cause: e.to_string(),
        })?;
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        )?;
        Ok(Self {
            inner: Inner::Sqlite(Arc::new(Mutex::new(conn))),
            label: target.to_string(),
        })
    }

    pub fn dialect(&self) -> Dialect {
        match self.inner {
            Inner::Sqlite(_) => Dialect::Sqlite,
            Inner::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn exec(&self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        match &self.inner {
            Inner::Sqlite(c) => {
                let (c, sql, params) = (c.clone(), sqlite_sql(sql), params.to_vec());
                blocking(move || {
                    let conn = c.lock().map_err(|e| DbError::Worker(e.to_string()))?;
                    let n = conn.execute(&sql, rusqlite::params_from_iter(params.iter()))?;
                    Ok(n as u64)
                })
                .await
            }
            Inner::Postgres(p) => {
                let c = p.get().await.map_err(pool_error)?;
                let st = c.prepare_cached(sql).await?;
                Ok(c.execute(&st, &pg_params(params)).await?)
            }
        }
    }

    /// Runs `statements` in one transaction: all or none.
    pub async fn exec_all(&self, statements: Vec<(&str, Vec<Val>)>) -> Result<Vec<u64>, DbError> {
        match &self.inner {
            Inner::Sqlite(c) => {
                let c = c.clone();
                let owned: Vec<(String, Vec<Val>)> = statements
                    .into_iter()
                    .map(|(s, p)| (sqlite_sql(s), p))
                    .collect();
                blocking(move || {
                    let mut conn = c.lock().map_err(|e| DbError::Worker(e.to_string()))?;
                    let tx = conn.transaction()?;
                    let mut out = Vec::with_capacity(owned.len());
                    for (sql, params) in &owned {
                        out.push(tx.execute(sql, rusqlite::params_from_iter(params.iter()))? as u64);
                    }
                    tx.commit()?;
                    Ok(out)
                })
                .await
            }
            Inner::Postgres(p) => {
                let mut c = p.get().await.map_err(pool_error)?;
                let tx = c.transaction().await?;
                let mut out = Vec::with_capacity(statements.len());
                for (sql, params) in &statements {
                    let st = tx.prepare_cached(sql).await?;
                    out.push(tx.execute(&st, &pg_params(params)).await?);
                }
                tx.commit().await?;
                Ok(out)
            }
        }
    }

    /// Runs `work` unless another replica holds lock `key` (a PostgreSQL session advisory
    /// lock, released when the work ends or the holder's connection dies); None when it was
    /// held. With SQLite there is one process: the work always runs.
    pub async fn exclusively<T, Fut>(
        &self,
        key: i64,
        work: impl FnOnce() -> Fut,
    ) -> Result<Option<T>, DbError>
    where
        Fut: std::future::Future<Output = Result<T, DbError>>,
    {
        let Inner::Postgres(p) = &self.inner else {
            return work().await.map(Some);
        };
        let c = p.get().await.map_err(pool_error)?;
        let got: bool = c
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await?
            .try_get(0)?;
        if !got {
            return Ok(None);
        }
        let out = work().await;
        // A failed unlock leaves the lock to the session: drop the connection so it ends.
        if c.execute("SELECT pg_advisory_unlock($1)", &[&key])
            .await
            .is_err()
        {
            drop(deadpool_postgres::Object::take(c));
        }
        out.map(Some)
    }

    /// Answers when the database does (`SELECT 1`): the readiness check.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.query("SELECT 1", &[]).await.map(|_| ())
    }

    pub async fn query(&self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError> {
        match &self.inner {
            Inner::Sqlite(c) => {
                let (c, sql, params) = (c.clone(), sqlite_sql(sql), params.to_vec());
                blocking(move || {
                    let conn = c.lock().map_err(|e| DbError::Worker(e.to_string()))?;
                    let mut st = conn.prepare_cached(&sql)?;
                    let n = st.column_count();
                    let rows = st.query_map(rusqlite::params_from_iter(params.iter()), |r| {
                        (0..n)
                            .map(|i| {
                                Ok(match r.get_ref(i)? {
                                    rusqlite::types::ValueRef::Null => Val::T(None),
                                    rusqlite::types::ValueRef::Integer(v) => Val::I(Some(v)),
                                    rusqlite::types::ValueRef::Real(v) => Val::I(Some(v as i64)),
                                    rusqlite::types::ValueRef::Text(t)
                                    | rusqlite::types::ValueRef::Blob(t) => {
                                        Val::T(Some(String::from_utf8_lossy(t).into_owned()))
                                    }
                                })
                            })
                            .collect::<Result<Row, rusqlite::Error>>()
                    })?;
                    Ok(rows.collect::<Result<Vec<_>, _>>()?)
                })
                .await
            }
            Inner::Postgres(p) => {
                let c = p.get().await.map_err(pool_error)?;
                let st = c.prepare_cached(sql).await?;
                let rows = c.query(&st, &pg_params(params)).await?;
                rows.iter().map(pg_row).collect()
            }
        }
    }

    pub async fn query_one(&self, sql: &str, params: &[Val]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Runs DDL statements (migrations), each on its own.
    pub async fn batch(&self, sql: &str) -> Result<(), DbError> {
        match &self.inner {
            Inner::Sqlite(c) => {
                let (c, sql) = (c.clone(), sql.to_string());
                blocking(move || {
                    let conn = c.lock().map_err(|e| DbError::Worker(e.to_string()))?;
                    conn.execute_batch(&sql)?;
                    Ok(())
                })
                .await
            }
            Inner::Postgres(p) => {
                let c = p.get().await.map_err(pool_error)?;
                Ok(c.batch_execute(sql).await?)
            }
        }
    }
}

/// The pool for `url`: connections with a connect timeout and a statement timeout, checked
/// (cheaply) on checkout so a broken one is replaced rather than handed out.
fn pg_pool(url: &str) -> Result<deadpool_postgres::Pool, DbError> {
    use std::str::FromStr;
    let mut cfg = tokio_postgres::Config::from_str(url).map_err(|e| DbError::Open {
        path: redact_url(url),
        cause: e.to_string(),
    })?;
    cfg.connect_timeout(CHECKOUT);
    cfg.options(format!("-c statement_timeout={STATEMENT_TIMEOUT_MS}"));
    let mgr = deadpool_postgres::Manager::from_config(
        cfg,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    deadpool_postgres::Pool::builder(mgr)
        .max_size(POOL_SIZE)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(CHECKOUT))
        .create_timeout(Some(CHECKOUT))
        .recycle_timeout(Some(CHECKOUT))
        .build()
        .map_err(|e| DbError::Open {
            path: redact_url(url),
            cause: e.to_string(),
        })
}

fn pool_error(e: deadpool_postgres::PoolError) -> DbError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => DbError::Postgres(e),
        other => DbError::Unavailable(other.to_string()),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DbError> + Send + 'static,
) -> Result<T, DbError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DbError::Worker(e.to_string()))?
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Val::I(v) => v.to_sql(),
            Val::T(v) => v.to_sql(),
        }
    }
}

/// `$12` → `?12`, so one SQL text serves both dialects.
fn sqlite_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

fn pg_params(params: &[Val]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| match p {
            Val::I(v) => v as &(dyn tokio_postgres::types::ToSql + Sync),
            Val::T(v) => v as &(dyn tokio_postgres::types::ToSql + Sync),
        })
        .collect()
}

fn pg_row(r: &tokio_postgres::Row) -> Result<Row, DbError> {
    use tokio_postgres::types::Type;
    (0..r.len())
        .map(|i| {
            let t = r.columns()[i].type_().clone();
            Ok(if t == Type::INT8 {
                Val::I(r.try_get::<_, Option<i64>>(i)?)
            } else if t == Type::INT4 {
                Val::I(r.try_get::<_, Option<i32>>(i)?.map(i64::from))
            } else if t == Type::INT2 {
                Val::I(r.try_get::<_, Option<i16>>(i)?.map(i64::from))
            } else if t == Type::BOOL {
                Val::I(r.try_get::<_, Option<bool>>(i)?.map(i64::from))
            } else {
                Val::T(r.try_get::<_, Option<String>>(i)?)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_redaction() {
        assert_eq!(sqlite_sql("SELECT $1, '$x', $12"), "SELECT ?1, '$x', ?12");
        assert_eq!(
            redact_url("postgres://cp:hunter2@127.0.0.1:5432/cp"),
            "postgres://cp@127.0.0.1:5432/cp"
        );
        assert_eq!(redact_url("/var/lib/cp.db"), "/var/lib/cp.db");
    }

    #[tokio::test]
    async fn the_sqlite_file_holding_prompts_is_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cp.db");
        let db = Db::open(p.to_str().unwrap()).await.unwrap();
        db.exec("CREATE TABLE t (x TEXT)", &[]).await.unwrap();
        for f in ["cp.db", "cp.db-wal"] {
            let m = std::fs::metadata(dir.path().join(f)).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600, "{f}");
        }
    }

    #[tokio::test]
    async fn sqlite_round_trip_with_typed_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("a.db").to_str().unwrap())
            .await
            .unwrap();
        db.batch("CREATE TABLE t (a INTEGER, b TEXT)")
            .await
            .unwrap();
        db.exec(
            "INSERT INTO t (a, b) VALUES ($1, $2)",
            &[Val::I(None), "x".into()],
        )
        .await
        .unwrap();
        let rows = db
            .query("SELECT a, b FROM t WHERE b = $1", &["x".into()])
            .await
            .unwrap();
        assert_eq!(rows, vec![vec![Val::T(None), Val::T(Some("x".into()))]]);
    }
}
