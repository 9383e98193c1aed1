//! The user tier: accounts (a hashed bearer), the node keys they proved they hold, and
//! dashboard sessions.
use super::keys::secret_hash;
use super::*;
use infernet_core::wire::keys::LinkRow;

const LINK_COLS: &str = "id, user_id, pubkey, role, label";

fn link_row(r: &Row, created: bool) -> LinkRow {
    LinkRow {
        id: t(r, 0).unwrap_or_default(),
        user_id: t(r, 1).unwrap_or_default(),
        pubkey: t(r, 2).unwrap_or_default(),
        role: t(r, 3).unwrap_or_default(),
        label: t(r, 4),
        created,
        token: None,
    }
}

/// Why a link was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRefused {
    /// Another account holds this key and role.
    Taken,
}

impl Store {
    pub async fn create_user(&self, id: &str, token: &str, now: i64) -> Result<(), DbError> {
        self.db
            .exec(
                "INSERT INTO users (id, token_hash, created_at) VALUES ($1, $2, $3)",
                &[id.into(), secret_hash(token).into(), now.into()],
            )
            .await?;
        Ok(())
    }

    /// The account a bearer token belongs to.
    pub async fn user_by_token(&self, token: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .db
            .query_one(
                "SELECT id FROM users WHERE token_hash = $1",
                &[secret_hash(token).into()],
            )
            .await?
            .and_then(|r| t(&r, 0)))
    }

    pub async fn link_of(&self, pubkey: &str, role: &str) -> Result<Option<LinkRow>, DbError> {
        let sql = format!("SELECT {LINK_COLS} FROM pubkey_links WHERE pubkey = $1 AND role = $2");
        Ok(self
            .db
            .query_one(&sql, &[pubkey.into(), role.into()])
            .await?
            .map(|r| link_row(&r, false)))
    }

    /// Links (pubkey, role) to `user`: a new row, or the label updated when this user already
    /// holds it; refused when another user does.
    pub async fn link(
        &self,
        user: &str,
        pubkey: &str,
        role: &str,
        label: Option<&str>,
        now: i64,
    ) -> Result<Result<LinkRow, LinkRefused>, DbError> {
        if let Some(existing) = self.link_of(pubkey, role).await? {
            if existing.user_id != user {
                return Ok(Err(LinkRefused::Taken));
            }
            self.db
                .exec(
                    "UPDATE pubkey_links SET label = COALESCE($2, label) WHERE id = $1",
                    &[existing.id.clone().into(), label.map(str::to_string).into()],
                )
                .await?;
            let row = self.link_of(pubkey, role).await?.unwrap_or(existing);
            return Ok(Ok(row));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let n = self
            .db
            .exec(
                "INSERT INTO pubkey_links (id, user_id, pubkey, role, label, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (pubkey, role) DO NOTHING",
                &[
                    id.into(),
                    user.into(),
                    pubkey.into(),
                    role.into(),
                    label.map(str::to_string).into(),
                    now.into(),
                ],
            )
            .await?;
        match self.link_of(pubkey, role).await? {
            Some(row) if row.user_id == user => Ok(Ok(LinkRow {
                created: n == 1,
                ..row
            })),
            _ => Ok(Err(LinkRefused::Taken)),
        }
    }

    /// The node keys an account holds (any role), oldest link first.
    pub async fn linked_keys(&self, user: &str) -> Result<Vec<LinkRow>, DbError> {
        let sql = format!(
            "SELECT {LINK_COLS} FROM pubkey_links WHERE user_id = $1 ORDER BY created_at, id"
        );
        Ok(self
            .db
            .query(&sql, &[user.into()])
            .await?
            .iter()
            .map(|r| link_row(r, false))
            .collect())
    }

    /// The account that holds `pubkey` (in any role).
    pub async fn owner_of(&self, pubkey: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .db
            .query_one(
                "SELECT user_id FROM pubkey_links WHERE pubkey = $1 ORDER BY created_at LIMIT 1",
                &[pubkey.into()],
            )
            .await?
            .and_then(|r| t(&r, 0)))
    }

    pub async fn create_session(
        &self,
        token: &str,
        user: &str,
        expires_at: i64,
    ) -> Result<(), DbError> {
        self.db
            .exec(
                "INSERT INTO dashboard_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
                &[secret_hash(token).into(), user.into(), expires_at.into()],
            )
            .await?;
        Ok(())
    }

    /// The account of a live session.
    pub async fn session_user(&self, token: &str, now: i64) -> Result<Option<String>, DbError> {
        Ok(self
            .db
            .query_one(
                "SELECT user_id FROM dashboard_sessions WHERE token_hash = $1 AND expires_at > $2",
                &[secret_hash(token).into(), now.into()],
            )
            .await?
            .and_then(|r| t(&r, 0)))
    }

    pub async fn prune_sessions(&self, now: i64) -> Result<u64, DbError> {
        self.db
            .exec(
                "DELETE FROM dashboard_sessions WHERE expires_at <= $1",
                &[now.into()],
            )
            .await
    }
}
