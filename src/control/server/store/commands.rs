//! Node commands (model install/remove): queue, poll, progress, result.
use super::*;

const CMD_COLS: &str =
    "id, command, args, status, result, error, progress, issued_at, started_at, completed_at";

/// Removes ANSI escape sequences (spinners in captured output).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                while let Some(&d) = chars.peek() {
                    chars.next();
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

impl Store {
    pub async fn enqueue_command(
        &self,
        pubkey: &str,
        command: &str,
        args: &Value,
        now: i64,
    ) -> Result<Value, DbError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.db
            .exec(
                "INSERT INTO node_commands (id, pubkey, command, args, status, issued_at) VALUES ($1, $2, $3, $4, 'pending', $5)",
                &[id.clone().into(), pubkey.into(), command.into(), args.to_string().into(), now.into()],
            )
            .await?;
        Ok(json!({"id": id, "command": command, "args": args, "status": "pending"}))
    }

    pub(super) fn command_json(r: &Row) -> Value {
        json!({
            "id": t(r, 0), "command": t(r, 1), "args": js(r, 2), "status": t(r, 3),
            "result": js(r, 4), "error": t(r, 5), "progress": js(r, 6),
            "issued_at": time(n(r, 7)), "started_at": time(n(r, 8)), "completed_at": time(n(r, 9)),
        })
    }

    pub async fn commands(&self, pubkey: &str, limit: i64) -> Result<Vec<Value>, DbError> {
        let sql = format!(
            "SELECT {} FROM node_commands WHERE pubkey = $1 ORDER BY issued_at DESC LIMIT $2",
            CMD_COLS
        );
        Ok(self
            .db
            .query(&sql, &[pubkey.into(), limit.into()])
            .await?
            .iter()
            .map(Self::command_json)
            .collect())
    }

    /// Moves up to `limit` pending commands to running, each guarded on its status.
    pub async fn poll_commands(
        &self,
        pubkey: &str,
        limit: i64,
        now: i64,
    ) -> Result<Vec<Value>, DbError> {
        let rows = self
            .db
            .query(
                "SELECT id, command, args FROM node_commands WHERE pubkey = $1 AND status = 'pending' ORDER BY issued_at LIMIT $2",
                &[pubkey.into(), limit.into()],
            )
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let id = t(&r, 0).unwrap_or_default();
            let got = self
                .db
                .exec(
                    "UPDATE node_commands SET status = 'running', started_at = $1 WHERE id = $2 AND status = 'pending'",
                    &[now.into(), id.clone().into()],
                )
                .await?;
            if got == 1 {
                out.push(json!({"id": id, "command": t(&r, 1), "args": js(&r, 2)}));
            }
        }
        Ok(out)
    }

    /// Stores a progress snapshot; returns the command's status (so a node sees a cancel).
    pub async fn command_progress(
        &self,
        id: &str,
        pubkey: &str,
        progress: &Value,
    ) -> Result<Option<String>, DbError> {
        self.db
            .exec(
                "UPDATE node_commands SET progress = $1 WHERE id = $2 AND pubkey = $3",
                &[progress.to_string().into(), id.into(), pubkey.into()],
            )
            .await?;
        self.command_status(id, pubkey).await
    }

    /// A command's status, when it is this key's.
    pub(super) async fn command_status(
        &self,
        id: &str,
        pubkey: &str,
    ) -> Result<Option<String>, DbError> {
        Ok(self
            .db
            .query_one(
                "SELECT status FROM node_commands WHERE id = $1 AND pubkey = $2",
                &[id.into(), pubkey.into()],
            )
            .await?
            .and_then(|r| t(&r, 0)))
    }

    /// Completes a running command; `None` when it is not this key's, `noop` when it was
    /// not running.
    pub async fn complete_command(
        &self,
        id: &str,
        pubkey: &str,
        ok: bool,
        result: Option<&Value>,
        error: Option<&str>,
        now: i64,
    ) -> Result<Option<(String, bool)>, DbError> {
        let n = self
            .db
            .exec(
                "UPDATE node_commands SET status = $1, result = $2, error = $3, completed_at = $4
                 WHERE id = $5 AND pubkey = $6 AND status = 'running'",
                &[
                    (if ok { "completed" } else { "failed" }).into(),
                    result.map(|r| r.to_string()).into(),
                    error
                        .map(|e| strip_ansi(e).chars().take(2000).collect::<String>())
                        .into(),
                    now.into(),
                    id.into(),
                    pubkey.into(),
                ],
            )
            .await?;
        Ok(self.command_status(id, pubkey).await?.map(|s| (s, n == 0)))
    }
}
