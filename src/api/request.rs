//! Request bodies and queries (reference ritual-node §2.2), as typed structs that are both
//! the parser and the OpenAPI schema. The job id and the client address are the server's:
//! body `id` / `ip` fields are ignored.
use super::ApiError;
use super::field::{Field, present};
use crate::jobs::JobRequest;
use crate::store::JobStatus;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

/// The state a job is in, on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Running,
    Success,
    Failed,
}

impl From<JobStatus> for JobState {
    fn from(s: JobStatus) -> Self {
        match s {
            JobStatus::Running => Self::Running,
            JobStatus::Success => Self::Success,
            JobStatus::Failed => Self::Failed,
        }
    }
}

impl From<JobState> for JobStatus {
    fn from(s: JobState) -> Self {
        match s {
            JobState::Running => Self::Running,
            JobState::Success => Self::Success,
            JobState::Failed => Self::Failed,
        }
    }
}

/// `containers` of a job: at least one id, none empty.
fn container_ids() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1)),
        )
        .min_items(Some(1))
}

/// A `containers` element: an id, or anything else (named in the error).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ContainerEntry {
    Id(String),
    Other(Value),
}

fn not_ids() -> ApiError {
    ApiError::bad_request("Invalid job request: 'containers' must be a list of container ids")
}

/// An off-chain job. Each field keeps its own error message, checked in declaration order.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = JobRequest)]
pub struct JobRequestBody {
    #[serde(default)]
    #[schema(schema_with = container_ids, required = true)]
    pub containers: Field<Vec<ContainerEntry>>,
    #[serde(default)]
    #[schema(value_type = Object, required = true)]
    pub data: Field<Map<String, Value>>,
    #[serde(default)]
    #[schema(value_type = bool, default = false)]
    pub requires_proof: Field<Option<bool>>,
    /// Ritual's node let the body choose these (job id, firewall address); read only to log
    /// that they are ignored.
    #[serde(default, deserialize_with = "present")]
    #[schema(ignore)]
    pub id: bool,
    #[serde(default, deserialize_with = "present")]
    #[schema(ignore)]
    pub ip: bool,
}

impl JobRequestBody {
    pub fn into_job(self) -> Result<JobRequest, ApiError> {
        for (given, k) in [(self.id, "id"), (self.ip, "ip")] {
            if given {
                tracing::debug!(field = k, "ignoring client-supplied field");
            }
        }
        let containers = match self.containers {
            Field::Given(c) => c,
            Field::Absent => {
                return Err(ApiError::bad_request(
                    "Invalid job request: missing 'containers'",
                ));
            }
            Field::Invalid => return Err(not_ids()),
        };
        let containers = containers
            .into_iter()
            .map(|c| match c {
                ContainerEntry::Id(id) => Ok(id),
                ContainerEntry::Other(found) => {
                    Err(not_ids().with_params(json!({ "found": found })))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let data = match self.data {
            Field::Given(d) => Value::Object(d),
            Field::Absent => {
                return Err(ApiError::bad_request("Invalid job request: missing 'data'"));
            }
            Field::Invalid => {
                return Err(ApiError::bad_request(
                    "Invalid job request: 'data' must be a JSON object",
                ));
            }
        };
        let requires_proof = match self.requires_proof {
            Field::Given(b) => b.unwrap_or(false),
            Field::Absent => false,
            Field::Invalid => {
                return Err(ApiError::bad_request(
                    "Invalid job request: 'requires_proof' must be true or false",
                ));
            }
        };
        Ok(JobRequest {
            containers,
            data,
            requires_proof,
        })
    }
}

/// A uint256: a JSON integer of any size, or a decimal/0x string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Uint256 {
    Integer(serde_json::Number),
    Text(String),
}

/// The subscription a delegated request creates (reference ritual-sdk §4).
#[derive(Debug, Deserialize, ToSchema)]
pub struct DelegatedSubscription {
    /// consumer contract (a Delegator)
    pub owner: String,
    pub active_at: u32,
    pub period: u32,
    pub frequency: u32,
    pub redundancy: u16,
    /// keccak256(abi.encode(string "id1,id2")) in hex, 0x optional
    pub containers: String,
    #[schema(required = false)]
    pub lazy: Option<bool>,
    #[schema(required = false)]
    pub verifier: Option<String>,
    /// uint256: a JSON integer of any size, or a decimal/0x string
    #[schema(value_type = Value, required = false)]
    pub payment_amount: Option<Uint256>,
    #[schema(required = false)]
    pub payment_token: Option<String>,
    #[schema(required = false)]
    pub wallet: Option<String>,
}

/// The EIP-712 signature of a delegated subscription.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DelegatedSignature {
    pub nonce: u32,
    pub expiry: u32,
    /// 27 or 28 (0/1 accepted)
    pub v: u8,
    /// uint256 (JSON integer or string)
    #[schema(value_type = Value)]
    pub r: Uint256,
    /// uint256 (JSON integer or string)
    #[schema(value_type = Value)]
    pub s: Uint256,
}

/// A delegated (signed) subscription. The node reads it with `chain::delegated::parse`,
/// which names the offending field of a refused one; this type is its documented shape.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DelegatedSubscriptionRequest {
    #[schema(inline)]
    pub subscription: DelegatedSubscription,
    #[schema(inline)]
    pub signature: DelegatedSignature,
    /// input of the first container for the first interval
    #[schema(value_type = Object, required = false)]
    pub data: Option<Map<String, Value>>,
}

/// Which of the two bodies `POST /api/jobs` holds: either key makes it delegated.
#[derive(Deserialize)]
struct Kind {
    #[serde(default, deserialize_with = "present")]
    subscription: bool,
    #[serde(default, deserialize_with = "present")]
    signature: bool,
}

/// A job body: an off-chain job, or a delegated subscription handed whole to the chain side.
pub enum Parsed {
    Offchain(JobRequest),
    Delegated(Value),
}

impl PartialSchema for Parsed {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(Ref::from_schema_name(JobRequestBody::name()))
            .item(Ref::from_schema_name(DelegatedSubscriptionRequest::name()))
            .into()
    }
}
impl ToSchema for Parsed {
    fn name() -> std::borrow::Cow<'static, str> {
        "JobBody".into()
    }
    fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
        out.push((JobRequestBody::name().into(), JobRequestBody::schema()));
        out.push((
            DelegatedSubscriptionRequest::name().into(),
            DelegatedSubscriptionRequest::schema(),
        ));
    }
}

/// One element of `POST /api/jobs` or `/api/jobs/batch`.
pub fn parse_job(v: Value) -> Result<Parsed, ApiError> {
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "Invalid job request: expected a JSON object",
        ));
    }
    let malformed =
        |e: serde_json::Error| ApiError::bad_request(format!("Invalid job request: {e}"));
    let kind = Kind::deserialize(&v).map_err(malformed)?;
    if kind.subscription || kind.signature {
        return Ok(Parsed::Delegated(v));
    }
    let body = JobRequestBody::deserialize(v).map_err(malformed)?;
    Ok(Parsed::Offchain(body.into_job()?))
}

pub fn chain_not_enabled() -> ApiError {
    ApiError::bad_request("Chain not enabled").with_params(json!({
        "hint": "delegated subscriptions need an on-chain node ('chain.enabled')"
    }))
}

/// `PUT /api/status`: a job's state as an independent container reports it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct JobStatusReport {
    #[serde(default)]
    #[schema(value_type = String, min_length = 1, required = true)]
    pub id: Field<String>,
    #[serde(default)]
    #[schema(value_type = JobState, inline, required = true)]
    pub status: Field<JobState>,
    #[serde(default)]
    #[schema(value_type = Vec<String>, required = true)]
    pub containers: Field<Vec<String>>,
    /// Ignored, as Ritual's node does.
    #[serde(default)]
    #[schema(value_type = Value, required = false)]
    pub data: Option<Value>,
}

/// A status report that passed every check.
#[derive(Debug)]
pub struct StatusReport {
    pub id: String,
    pub status: JobStatus,
    pub containers: Vec<String>,
}

impl JobStatusReport {
    /// Checks in Ritual's order: id, status, containers.
    pub fn parse(v: Value) -> Result<StatusReport, ApiError> {
        let missing_id = || ApiError::bad_request("Invalid status: missing 'id'");
        if !v.is_object() {
            return Err(missing_id());
        }
        let r = Self::deserialize(v).map_err(|_| missing_id())?;
        let id = match r.id {
            Field::Given(id) if !id.is_empty() => id,
            _ => return Err(missing_id()),
        };
        let Field::Given(status) = r.status else {
            return Err(ApiError::bad_request("Status is invalid")
                .with_params(json!({"expected": ["running", "success", "failed"]})));
        };
        let Field::Given(containers) = r.containers else {
            return Err(ApiError::bad_request(
                "Invalid status: 'containers' must be a list of container ids",
            ));
        };
        Ok(StatusReport {
            id,
            status: status.into(),
            containers,
        })
    }
}

/// `GET /api/jobs` query. Read by hand: `id` repeats (`?id=a&id=b`).
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    #[param(style = Form, explode, required = false)]
    pub id: Vec<String>,
    /// "true": include intermediate results; any other value: no
    pub intermediate: Option<String>,
    /// "true": pending jobs only; "false": finished ones only; absent or any other value: all
    pub pending: Option<String>,
}

impl JobsQuery {
    pub fn parse(raw: &str) -> Self {
        let mut q = Self::default();
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            match k.as_ref() {
                "id" => q.id.push(v.into_owned()),
                "intermediate" => q.intermediate = Some(v.into_owned()),
                "pending" => q.pending = Some(v.into_owned()),
                _ => {}
            }
        }
        q
    }
    /// As Ritual's node reads it: "true" is true, any other value false.
    pub fn intermediate(&self) -> bool {
        self.intermediate.as_deref() == Some("true")
    }
    pub fn pending(&self) -> Option<bool> {
        match self.pending.as_deref() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        }
    }
}

/// `GET /resources` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResourcesQuery {
    pub model_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offchain(v: Value) -> Result<JobRequest, ApiError> {
        match parse_job(v)? {
            Parsed::Offchain(r) => Ok(r),
            Parsed::Delegated(_) => panic!("delegated"),
        }
    }

    fn error(r: Result<JobRequest, ApiError>) -> String {
        r.unwrap_err().error
    }

    #[test]
    fn each_job_field_keeps_its_message_in_a_fixed_order() {
        let e = |v| error(offchain(v));
        assert_eq!(e(json!([1])), "Invalid job request: expected a JSON object");
        assert_eq!(e(json!({})), "Invalid job request: missing 'containers'");
        // containers is judged before data, whatever the body's key order.
        assert_eq!(
            e(json!({"data": 1, "containers": "echo"})),
            "Invalid job request: 'containers' must be a list of container ids"
        );
        let bad = offchain(json!({"containers": ["a", 2], "data": {}})).unwrap_err();
        assert_eq!(
            bad.error,
            "Invalid job request: 'containers' must be a list of container ids"
        );
        assert_eq!(*bad.params, json!({"found": 2}));
        assert_eq!(
            e(json!({"containers": []})),
            "Invalid job request: missing 'data'"
        );
        assert_eq!(
            e(json!({"containers": [], "data": null})),
            "Invalid job request: 'data' must be a JSON object"
        );
        assert_eq!(
            e(json!({"containers": [], "data": {}, "requires_proof": "yes"})),
            "Invalid job request: 'requires_proof' must be true or false"
        );
    }

    #[test]
    fn a_job_ignores_body_id_and_ip_and_null_proof_is_false() {
        let r = offchain(json!({"id": "mine", "ip": "10.0.0.1", "containers": ["a"],
                                "data": {"x": 1}, "requires_proof": null}))
        .unwrap();
        assert_eq!(r.containers, ["a"]);
        assert_eq!(r.data, json!({"x": 1}));
        assert!(!r.requires_proof);
    }

    #[test]
    fn subscription_or_signature_makes_a_body_delegated_even_when_null() {
        for v in [
            json!({"subscription": {}}),
            json!({"signature": null, "containers": ["a"], "data": {}}),
        ] {
            assert!(matches!(parse_job(v.clone()), Ok(Parsed::Delegated(b)) if b == v));
        }
    }

    #[test]
    fn a_delegated_body_the_chain_side_accepts_has_the_documented_shape() {
        // payment_amount and r/s beyond u64/u128: integers of any size.
        let body: Value = serde_json::from_str(
            r#"{"subscription": {"owner": "0x00000000000000000000000000000000000000aa",
                "active_at": 1, "period": 0, "frequency": 1, "redundancy": 1,
                "containers": "0x0000000000000000000000000000000000000000000000000000000000000001",
                "payment_amount": 115792089237316195423570985008687907853269984665640564039457584007913129639935},
               "signature": {"nonce": 0, "expiry": 4000000000, "v": 27,
                "r": 115792089237316195423570985008687907853269984665640564039457584007913129639935,
                "s": "0x01"},
               "data": {}}"#,
        )
        .unwrap();
        assert!(crate::chain::delegated::parse(&body).is_ok());
        let typed = DelegatedSubscriptionRequest::deserialize(body).unwrap();
        assert!(matches!(typed.signature.r, Uint256::Integer(n) if n.to_string().len() == 78));
        assert!(matches!(typed.signature.s, Uint256::Text(_)));
    }

    #[test]
    fn status_reports_are_checked_id_then_status_then_containers() {
        let e = |v| JobStatusReport::parse(v).unwrap_err().error;
        assert_eq!(e(json!([1])), "Invalid status: missing 'id'");
        assert_eq!(
            e(json!({"status": "done", "id": ""})),
            "Invalid status: missing 'id'"
        );
        assert_eq!(e(json!({"id": "x", "status": "done"})), "Status is invalid");
        assert_eq!(
            e(json!({"id": "x", "status": "running", "containers": [1]})),
            "Invalid status: 'containers' must be a list of container ids"
        );
        let r = JobStatusReport::parse(
            json!({"id": "x", "status": "failed", "containers": ["a"], "data": 5}),
        )
        .unwrap();
        assert_eq!((r.id.as_str(), r.status), ("x", JobStatus::Failed));
        assert_eq!(r.containers, ["a"]);
    }

    #[test]
    fn the_jobs_query_reads_repeated_ids_and_ritual_booleans() {
        let q = JobsQuery::parse("id=a&id=b%20c&pending=false&intermediate=true&x=1");
        assert_eq!(q.id, ["a", "b c"]);
        assert_eq!(q.pending(), Some(false));
        assert!(q.intermediate());
        let q = JobsQuery::parse("pending=yes&intermediate=1");
        assert_eq!((q.pending(), q.intermediate()), (None, false));
    }
}
