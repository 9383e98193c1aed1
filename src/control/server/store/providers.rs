//! Nodes: registration, heartbeats, removal and who is live.
use super::*;

/// A registered node (any role).
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub id: String,
    pub node_id: String,
    pub public_key: String,
    pub role: String,
    pub name: Option<String>,
    pub status: String,
    pub address: Option<String>,
    pub port: Option<i64>,
    pub gpu_model: Option<String>,
    pub specs: Value,
    pub served_models: Vec<String>,
    pub concurrency_cap: i64,
    pub last_seen: i64,
    pub created_at: i64,
    /// As registered (JSON text): USD per 1,000 tokens.
    pub price: Option<String>,
}

pub(super) const PROVIDER_COLS: &str = "id, node_id, public_key, role, name, status, address, port, gpu_model, specs, served_models, concurrency_cap, last_seen, created_at, price";

pub(super) fn provider(r: &Row) -> Provider {
    Provider {
        id: t(r, 0).unwrap_or_default(),
        node_id: t(r, 1).unwrap_or_default(),
        public_key: t(r, 2).unwrap_or_default(),
        role: t(r, 3).unwrap_or_default(),
        name: t(r, 4),
        status: t(r, 5).unwrap_or_default(),
        address: t(r, 6),
        port: n(r, 7),
        gpu_model: t(r, 8),
        specs: js(r, 9),
        served_models: serde_json::from_value(js(r, 10)).unwrap_or_default(),
        concurrency_cap: n(r, 11).unwrap_or(specs::DEFAULT_CAP),
        last_seen: n(r, 12).unwrap_or(0),
        created_at: n(r, 13).unwrap_or(0),
        price: t(r, 14).filter(|p| p != "null"),
    }
}

impl Store {
    pub async fn provider_by_key(
        &self,
        pubkey: &str,
        role: &str,
    ) -> Result<Option<Provider>, DbError> {
        Ok(self
            .providers_where(
                "public_key = $1 AND role = $2",
                &[pubkey.into(), role.into()],
            )
            .await?
            .into_iter()
            .next())
    }

    pub async fn provider_by_id(&self, id: &str) -> Result<Option<Provider>, DbError> {
        Ok(self
            .providers_where("id = $1", &[id.into()])
            .await?
            .into_iter()
            .next())
    }

    /// Upsert on `node_id`; refused when that node_id belongs to another key.
    #[allow(clippy::too_many_arguments)]
    pub async fn register(
        &self,
        pubkey: &str,
        role: &str,
        node_id: &str,
        name: Option<String>,
        address: Option<String>,
        port: Option<i64>,
        gpu_model: Option<String>,
        price: Option<String>,
        raw_specs: &Value,
        now: i64,
    ) -> Result<Result<Provider, Refused>, DbError> {
        let existing = self
            .providers_where("node_id = $1", &[node_id.into()])
            .await?;
        if let Some(p) = existing.first()
            && p.public_key != pubkey
        {
            return Ok(Err(Refused::Forbidden(format!(
                "node_id '{node_id}' belongs to another public key"
            ))));
        }
        // Same key, new node_id (re-init): the row moves rather than duplicates, in one
        // transaction with the insert (a failure between the two must not lose the node).
        let moved = match existing.first() {
            Some(_) => None,
            None => self.provider_by_key(pubkey, role).await?.map(|p| p.id),
        };
        let clean = specs::sanitize(raw_specs);
        let models = json!(specs::models(clean.get("served_models"))).to_string();
        let cap = specs::concurrency_cap(&clean);
        let id = uuid::Uuid::new_v4().to_string();
        let insert = (
            "INSERT INTO providers (id, node_id, public_key, role, name, status, address, port, gpu_model, price, specs, served_models, concurrency_cap, last_seen, created_at)
                 VALUES ($1, $2, $3, $4, $5, 'available', $6, $7, $8, $9, $10, $11, $12, $13, $13)
                 ON CONFLICT (node_id) DO UPDATE SET role = excluded.role, name = excluded.name,
                   status = 'available', address = excluded.address, port = excluded.port,
                   gpu_model = excluded.gpu_model, price = excluded.price, specs = excluded.specs,
                   served_models = excluded.served_models, concurrency_cap = excluded.concurrency_cap,
                   last_seen = excluded.last_seen",
            vec![
                id.into(),
                node_id.into(),
                pubkey.into(),
                role.into(),
                name.into(),
                address.into(),
                port.into(),
                gpu_model.into(),
                price.into(),
                clean.to_string().into(),
                models.into(),
                cap.into(),
                now.into(),
            ],
        );
        let mut statements = Vec::with_capacity(2);
        if let Some(other) = moved {
            statements.push(("DELETE FROM providers WHERE id = $1", vec![other.into()]));
        }
        statements.push(insert);
        self.db.exec_all(statements).await?;
        Ok(self
            .providers_where("node_id = $1", &[node_id.into()])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Refused::NotFound("registration did not persist".into())))
    }

    /// Heartbeat: status, endpoint, sanitised specs, `last_seen`; renews the leases of the
    /// node's jobs. `None` when the key has not registered.
    #[allow(clippy::too_many_arguments)]
    pub async fn heartbeat(
        &self,
        pubkey: &str,
        role: &str,
        offline: bool,
        address: Option<String>,
        port: Option<i64>,
        raw_specs: Option<&Value>,
        jobs: Option<&[String]>,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<Provider>, DbError> {
        let Some(p) = self.provider_by_key(pubkey, role).await? else {
            return Ok(None);
        };
        let status = if offline { "offline" } else { "available" };
        let (specs_json, models, cap) = match raw_specs {
            Some(s) => {
                let clean = specs::sanitize(s);
                let models = json!(specs::models(clean.get("served_models"))).to_string();
                let cap = specs::concurrency_cap(&clean);
                (clean.to_string(), models, cap)
            }
            None => (
                p.specs.to_string(),
                json!(p.served_models).to_string(),
                p.concurrency_cap,
            ),
        };
        self.db
            .exec(
                "UPDATE providers SET status = $1, address = COALESCE($2, address), port = COALESCE($3, port),
                   specs = $4, served_models = $5, concurrency_cap = $6, last_seen = $7 WHERE id = $8",
                &[
                    status.into(),
                    address.into(),
                    port.into(),
                    specs_json.into(),
                    models.into(),
                    cap.into(),
                    now.into(),
                    p.id.clone().into(),
                ],
            )
            .await?;
        if !offline {
            self.renew_leases(&p.id, jobs, now, lease_ms).await?;
        }
        self.provider_by_id(&p.id).await
    }

    pub async fn remove(&self, pubkey: &str, role: &str) -> Result<Option<String>, DbError> {
        let Some(p) = self.provider_by_key(pubkey, role).await? else {
            return Ok(None);
        };
        self.db
            .exec(
                "DELETE FROM providers WHERE id = $1",
                &[p.id.clone().into()],
            )
            .await?;
        Ok(Some(p.id))
    }

    /// Nodes seen since `since` (ms) with status available.
    pub async fn live_providers(&self, since: i64) -> Result<Vec<Provider>, DbError> {
        self.providers_where(
            "status = 'available' AND last_seen >= $1 AND role = 'provider' ORDER BY last_seen DESC",
            &[since.into()],
        )
        .await
    }

    pub async fn provider_count(&self) -> Result<i64, DbError> {
        Ok(self
            .db
            .query_one("SELECT COUNT(*) FROM providers", &[])
            .await?
            .and_then(|r| n(&r, 0))
            .unwrap_or(0))
    }
}
