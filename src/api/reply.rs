//! Response bodies, as typed structs that are both the serializer and the OpenAPI schema
//! (reference ritual-node §2.2 shapes; infernet's additions noted on each).
use super::request::JobState;
use crate::chain::view::ChainSnapshot;
use crate::compute::{ContainerState, ContainerStatus};
use crate::store::JobRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// Every error: `{"error": "...", "params": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: String,
    #[schema(value_type = Object)]
    pub params: Value,
}

/// A job or delegated subscription accepted. Ritual's delegated answer is `{}`; infernet
/// names the job running the first interval, or the subscription already on chain.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct JobCreated {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = "uuid", nullable = false)]
    pub id: Option<String>,
    /// delegated: the on-chain id when the subscription exists already
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub subscription_id: Option<u32>,
}

/// `anyOf` where a value can match several branches (`oneOf` would refuse it).
fn any_of(branches: impl IntoIterator<Item = RefOr<Schema>>) -> RefOr<Schema> {
    let mut b = AnyOfBuilder::new();
    for s in branches {
        b = b.item(s);
    }
    b.into()
}

fn component<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// One element of a batch: accepted, or refused on its own.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum BatchItem {
    Created(JobCreated),
    Refused(ErrorBody),
}

impl PartialSchema for BatchItem {
    // anyOf: an error body is also an object whose `id` / `subscription_id` are absent.
    fn schema() -> RefOr<Schema> {
        any_of([JobCreated::schema(), component::<ErrorBody>()])
    }
}
impl ToSchema for BatchItem {
    fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
        out.push((ErrorBody::name().into(), ErrorBody::schema()));
    }
}

/// `GET /api/jobs`: ids without `id=`, results with it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum JobsReply {
    Ids(Vec<String>),
    Results(Vec<JobResult>),
}

impl PartialSchema for JobsReply {
    // anyOf: `[]` is both an empty id list and an empty result list.
    fn schema() -> RefOr<Schema> {
        any_of([
            Vec::<String>::schema(),
            ArrayBuilder::new().items(component::<JobResult>()).into(),
        ])
    }
}
impl ToSchema for JobsReply {
    fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
        out.push((JobResult::name().into(), JobResult::schema()));
        JobResult::schemas(out);
    }
}

/// What a container produced, or why it failed (as `compute::pipeline` writes it).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ContainerResult {
    Output { container: String, output: Value },
    Error { container: String, error: String },
}

/// A job's state and result (`intermediate_results` only when asked for).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobResult {
    pub id: String,
    #[schema(inline)]
    pub status: JobState,
    #[schema(value_type = Option<ContainerResult>, required = true)]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<ContainerResult>)]
    pub intermediate_results: Option<Vec<Value>>,
}

impl JobResult {
    pub fn new(r: JobRecord, intermediate: bool) -> Self {
        Self {
            id: r.id,
            status: r.status.into(),
            result: r.result,
            intermediate_results: intermediate.then_some(r.intermediate),
        }
    }
}

/// `POST /api/jobs/stream` 200: the job id and a newline, then the last container's bytes
/// as they arrive (a body, not a JSON value).
pub struct JobStream;

impl PartialSchema for JobStream {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}
impl ToSchema for JobStream {}

/// `PUT /api/status` answers `{}`.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Empty {}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Healthy {
    Healthy,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Unhealthy {
    Unhealthy,
}

/// `GET /health` 200 (Ritual's shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(inline)]
    pub status: Healthy,
}

/// `GET /health` 503 (infernet): the store cannot write, so results would be lost.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthFailing {
    #[schema(inline)]
    pub status: Unhealthy,
    pub reason: String,
}

/// A running container, as Ritual lists it (the infernet-router reads `id`, `description`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RunningContainer {
    pub id: String,
    pub description: String,
    pub external: bool,
    pub image: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Pending {
    pub offchain: u64,
    pub onchain: u64,
}

/// Ritual's `enabled` and `address`, then infernet's `status` when the chain side is on.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainInfo {
    pub enabled: bool,
    pub address: String,
    /// phase, head, sync progress, RPC health, subscriptions with the reason for every skip
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub status: Option<ChainSnapshot>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContainerStateName {
    Starting,
    Ready,
    Restarting,
    Unavailable,
    Stopped,
}

/// A configured container with its state and, if it cannot run, why (infernet).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ContainerStatus)]
pub struct ContainerStatusView {
    pub id: String,
    #[schema(inline)]
    pub state: ContainerStateName,
    pub reason: Option<String>,
    pub image: String,
    pub port: u16,
    pub managed: bool,
    pub restarts: u32,
    pub description: String,
    pub external: bool,
}

impl From<ContainerStatus> for ContainerStatusView {
    fn from(s: ContainerStatus) -> Self {
        // Destructured whole: a new field in compute fails to compile here, not silently.
        let ContainerStatus {
            id,
            state,
            reason,
            image,
            port,
            managed,
            restarts,
            description,
            external,
        } = s;
        let state = match state {
            ContainerState::Starting => ContainerStateName::Starting,
            ContainerState::Ready => ContainerStateName::Ready,
            ContainerState::Restarting => ContainerStateName::Restarting,
            ContainerState::Unavailable => ContainerStateName::Unavailable,
            ContainerState::Stopped => ContainerStateName::Stopped,
        };
        Self {
            id,
            state,
            reason,
            image,
            port,
            managed,
            restarts,
            description,
            external,
        }
    }
}

/// `GET /info`: Ritual's `version`, running `containers`, `pending`, `chain`, then
/// infernet's `container_status` (every configured container).
#[derive(Debug, Serialize, ToSchema)]
pub struct Info {
    pub version: String,
    pub containers: Vec<RunningContainer>,
    pub pending: Pending,
    pub chain: ChainInfo,
    pub container_status: Vec<ContainerStatusView>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::pipeline::{error_result, output_result};
    use crate::store::JobStatus;
    use serde_json::json;

    fn record(intermediate: Vec<Value>) -> JobRecord {
        JobRecord {
            id: "j".into(),
            client: "127.0.0.1".into(),
            status: JobStatus::Success,
            source: "offchain".into(),
            containers: vec!["a".into()],
            result: Some(output_result("a", json!({"n": 1}))),
            intermediate,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_job_result_has_ritual_keys_and_intermediate_only_when_asked() {
        let v = serde_json::to_value(JobResult::new(record(vec![json!(1)]), false)).unwrap();
        assert_eq!(
            v,
            json!({"id": "j", "status": "success",
                   "result": {"container": "a", "output": {"n": 1}}})
        );
        let v = serde_json::to_value(JobResult::new(record(vec![]), true)).unwrap();
        assert_eq!(v["intermediate_results"], json!([]));
    }

    #[test]
    fn the_results_the_pipeline_writes_are_container_results() {
        for r in [output_result("a", json!([1])), error_result("a", "boom")] {
            let typed: ContainerResult = serde_json::from_value(r.clone()).unwrap();
            assert_eq!(serde_json::to_value(typed).unwrap(), r);
        }
    }

    #[test]
    fn created_and_batch_items_serialize_as_ritual_does() {
        fn v(x: &impl Serialize) -> Value {
            serde_json::to_value(x).unwrap()
        }
        assert_eq!(v(&JobCreated::default()), json!({}));
        let created = JobCreated {
            id: Some("j".into()),
            subscription_id: None,
        };
        assert_eq!(v(&BatchItem::Created(created)), json!({"id": "j"}));
        let refused = BatchItem::Refused(ErrorBody {
            error: "No".into(),
            params: json!({}),
        });
        assert_eq!(v(&refused), json!({"error": "No", "params": {}}));
        assert_eq!(v(&JobsReply::Ids(vec![])), json!([]));
        assert_eq!(v(&Empty {}), json!({}));
        assert_eq!(
            v(&Health {
                status: Healthy::Healthy
            }),
            json!({"status": "healthy"})
        );
    }
}
