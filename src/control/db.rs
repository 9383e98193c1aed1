//! The control plane's database: SQLite (one file, the default) or PostgreSQL (`postgres://…`),
//! behind one tiny interface so every query is written once. SQL uses `$1…$n` placeholders
//! (rewritten to SQLite's `?1…?n`); only the DDL differs per dialect (see `schema`).
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
}

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
    Postgres(Arc<tokio_postgres::Client>),
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
            let (client, conn) = tokio_postgres::connect(target, tokio_postgres::NoTls).await?;
            crate::supervise::spawn_logged("postgres-connection", async move {
                if let Err(e) = conn.await {
                    tracing::error!(error = %e, "PostgreSQL connection ended");
                }
            });
            return Ok(Self {
                inner: Inner::Postgres(Arc::new(client)),
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
            Inner::Postgres(c) => {
                let refs = pg_params(params);
                Ok(c.execute(sql, &refs).await?)
            }
        }
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
            Inner::Postgres(c) => {
                let refs = pg_params(params);
                let rows = c.query(sql, &refs).await?;
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
            Inner::Postgres(c) => Ok(c.batch_execute(sql).await?),
        }
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
