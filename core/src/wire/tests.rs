//! Each body against a literal sample of the wire as the server, the agent or the reference
//! writes it: the bytes a type writes (field order and left-out fields included), what it
//! reads back, unknown fields, and the refusals' messages. Free-form objects in the samples
//! have their keys in alphabetical order, so they read back the same with or without
//! serde_json's `preserve_order`.
use super::chat::*;
use super::commands::*;
use super::events::*;
use super::jobs::*;
use super::node::*;
use super::openai::{
    self, Choice, Chunk, ChunkChoice, CompletionBody, CompletionUsage, Delta, ErrorDetail, Model,
    ModelList,
};
use super::public::*;
use super::specs::*;
use super::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::fmt::Debug;

/// `value` writes exactly `wire`, and `wire` reads back as `value`.
fn same<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T, wire: &str) {
    assert_eq!(serde_json::to_string(value).unwrap(), wire);
    assert_eq!(&serde_json::from_str::<T>(wire).unwrap(), value);
}

fn read<T: DeserializeOwned>(wire: &str) -> T {
    serde_json::from_str(wire).unwrap()
}

fn refused<T: DeserializeOwned + Debug>(wire: &str) -> String {
    serde_json::from_str::<T>(wire).unwrap_err().to_string()
}

fn specs_with_hardware() -> NodeSpecs {
    NodeSpecs {
        cpu: Some(Cpu {
            vendor: "amd".into(),
            arch: "x86_64".into(),
            cores: 16,
            groups: 1,
            ram_gb: 64.0,
        }),
        gpu_count: Some(1),
        gpus: Some(vec![Gpu {
            vendor: "nvidia".into(),
            vram_tier: "24-48gb".into(),
            model: "RTX 4090".into(),
        }]),
        interconnects: Some(Interconnects {
            nvlink: Link {
                available: false,
                topology: None,
                link_count: 0,
            },
            ..Default::default()
        }),
        load: Load {
            ram: Some(Memory {
                total_gb: 64.2,
                free_gb: 30.5,
            }),
            vram: Some(Memory {
                total_gb: 24.0,
                free_gb: 20.1,
            }),
            gpu_utilization_max: Some(None),
            active_jobs: 1,
            concurrency_cap: 4,
            load_avg_1m: 0.5,
            measured_at: "2026-01-01T00:00:00.000Z".into(),
        },
        served_models: vec!["m:1".into()],
        cli_version: Some("0.1.0".into()),
        bench: Some(Bench {
            tokens_per_second_avg: 42.5,
            samples: 3,
        }),
    }
}

const SPECS_WITH_HARDWARE: &str = r#"{"cpu":{"vendor":"amd","arch":"x86_64","cores":16,"groups":1,"ram_gb":64.0},"gpu_count":1,"gpus":[{"vendor":"nvidia","vram_tier":"24-48gb","model":"RTX 4090"}],"interconnects":{"nvlink":{"available":false,"topology":null,"link_count":0},"xgmi":{"available":false,"topology":null,"link_count":0},"infiniband":{"available":false,"active_port_count":0},"efa":{"available":false,"adapter_count":0},"rdma_capable":false},"load":{"ram":{"total_gb":64.2,"free_gb":30.5},"vram":{"total_gb":24.0,"free_gb":20.1},"gpu_utilization_max":null,"active_jobs":1,"concurrency_cap":4,"load_avg_1m":0.5,"measured_at":"2026-01-01T00:00:00.000Z"},"served_models":["m:1"],"cli_version":"0.1.0","bench":{"tokens_per_second_avg":42.5,"samples":3}}"#;

// ---- envelopes and shared enums ----

#[test]
fn envelopes_wrap_as_the_reference_does() {
    same(
        &Data {
            data: Registered {
                id: "p1".into(),
                node_id: "provider-1".into(),
            },
        },
        r#"{"data":{"id":"p1","node_id":"provider-1"}}"#,
    );
    same(
        &ErrorBody {
            error: "replayed nonce".into(),
        },
        r#"{"error":"replayed nonce"}"#,
    );
}

#[test]
fn roles_default_to_provider_and_refuse_others_by_name() {
    assert_eq!(read::<RoleBody>("{}").role, Role::Provider);
    same(
        &RoleBody {
            role: Role::Aggregator,
        },
        r#"{"role":"aggregator"}"#,
    );
    let e = refused::<RoleBody>(r#"{"role":"miner"}"#);
    assert!(
        e.contains("role 'miner' is not one of provider, aggregator, client"),
        "{e}"
    );
    assert_eq!(Role::parse("client"), Ok(Role::Client));
    assert_eq!(Role::Client.to_string(), "client");
}

#[test]
fn clean_text_drops_control_characters_and_bounds_length() {
    assert_eq!(clean_text("a\u{1b}[2Kb\nc", 3), "a[2");
    assert_eq!(clean_text("héllo", 10), "héllo");
}

// ---- register, heartbeat, me, remove ----

#[test]
fn register_as_the_agent_sends_it() {
    let r = Register {
        role: Role::Provider,
        node_id: "provider-87a14033".into(),
        name: Some("n1".into()),
        address: None,
        port: None,
        specs: Some(specs_with_hardware()),
        gpu_model: None,
        price: None,
    };
    let wire = format!(
        r#"{{"role":"provider","node_id":"provider-87a14033","name":"n1","address":null,"port":null,"specs":{SPECS_WITH_HARDWARE}}}"#
    );
    same(&r, &wire);
    // The server's view: the same body, specs free-form.
    let server: Register = read(&wire);
    assert_eq!(server.node_id, "provider-87a14033");
    assert_eq!(server.validate(), Ok(()));
    assert_eq!(server.specs.unwrap()["gpus"][0]["model"], "RTX 4090");
}

#[test]
fn register_as_the_reference_sends_it() {
    let r: Register = read(
        r#"{"role":"provider","node_id":"provider-1","name":"x","address":"1.2.3.4","port":46337,"specs":{"gpu_count":0},"gpu_model":"RTX","price":0.5,"status":"available","payoutPublicKey":null}"#,
    );
    assert_eq!(r.address.as_deref(), Some("1.2.3.4"));
    assert_eq!(r.port, Some(46337));
    assert_eq!(r.gpu_model.as_deref(), Some("RTX"));
    assert_eq!(r.price, Some(json!(0.5)));
    // A price sent as null is kept as sent; one not sent is none.
    assert_eq!(
        read::<Register>(r#"{"node_id":"a","price":null}"#).price,
        Some(Value::Null)
    );
    assert_eq!(read::<Register>(r#"{"node_id":"a"}"#).price, None);
    // Written back: gpu_model and price only when there.
    let out = serde_json::to_string(&read::<Register>(r#"{"node_id":"a","price":1}"#)).unwrap();
    assert_eq!(
        out,
        r#"{"role":"provider","node_id":"a","name":null,"address":null,"port":null,"price":1}"#
    );
}

#[test]
fn register_checks_node_id_and_port() {
    let r: Register = read(r#"{"node_id":"  "}"#);
    assert_eq!(r.validate().unwrap_err().message(), "node_id is required");
    let r: Register = read(r#"{"node_id":"a","port":70000}"#);
    assert_eq!(
        r.validate().unwrap_err().message(),
        "port must be an integer in 1..65535"
    );
    assert!(check_port(Some(0)).is_err());
    assert_eq!(check_port(Some(65_535)), Ok(()));
    assert_eq!(check_port(None), Ok(()));
}

#[test]
fn specs_without_hardware_carry_only_the_load_models_and_version() {
    let s = NodeSpecs {
        load: Load {
            active_jobs: 0,
            concurrency_cap: 2,
            load_avg_1m: 1.25,
            measured_at: "t".into(),
            ..Default::default()
        },
        served_models: vec![],
        cli_version: Some("0.1.0".into()),
        ..Default::default()
    };
    same(
        &s,
        r#"{"load":{"active_jobs":0,"concurrency_cap":2,"load_avg_1m":1.25,"measured_at":"t"},"served_models":[],"cli_version":"0.1.0"}"#,
    );
    same(&specs_with_hardware(), SPECS_WITH_HARDWARE);
    // A known utilisation is a number; absent stays absent.
    let l: Load = read(r#"{"gpu_utilization_max":87}"#);
    assert_eq!(l.gpu_utilization_max, Some(Some(87)));
    assert_eq!(read::<Load>("{}").gpu_utilization_max, None);
}

#[test]
fn heartbeats_online_and_offline() {
    let online = Heartbeat {
        role: Role::Provider,
        address: Some("10.0.0.2".into()),
        port: Some(46337),
        status: Some(Availability::Available),
        specs: Some(json!({"served_models": ["m:1"]})),
        jobs: Some(vec!["j1".into()]),
    };
    same(
        &online,
        r#"{"role":"provider","address":"10.0.0.2","port":46337,"status":"available","specs":{"served_models":["m:1"]},"jobs":["j1"]}"#,
    );
    let offline: Heartbeat = Heartbeat {
        status: Some(Availability::Offline),
        ..Default::default()
    };
    same(
        &offline,
        r#"{"role":"provider","address":null,"port":null,"status":"offline"}"#,
    );
    assert!(offline.offline());
    // The reference: anything but "offline" (or nothing) is available.
    let other: Heartbeat = read(r#"{"role":"provider","status":"busy","reachable":{"ok":true}}"#);
    assert_eq!(other.status, Some(Availability::Other));
    assert!(!other.offline());
    assert!(!read::<Heartbeat>(r#"{"role":"provider"}"#).offline());
}

#[test]
fn identity_answers() {
    same(
        &HeartbeatAck {
            id: "p1".into(),
            status: "available".into(),
        },
        r#"{"id":"p1","status":"available"}"#,
    );
    same(
        &Removed {
            deleted: false,
            id: None,
        },
        r#"{"deleted":false,"id":null}"#,
    );
    same(
        &Removed {
            deleted: true,
            id: Some("p1".into()),
        },
        r#"{"deleted":true,"id":"p1"}"#,
    );
    same(&Me::<ProviderRow> { row: None }, r#"{"row":null}"#);
}

#[test]
fn me_row_as_the_server_writes_it() {
    let row = ProviderRow {
        id: "p1".into(),
        node_id: "provider-1".into(),
        public_key: "ab".into(),
        role: "provider".into(),
        name: Some("n".into()),
        status: "available".into(),
        address: None,
        port: None,
        gpu_model: None,
        specs: json!({"served_models": ["m:1"]}),
        reputation: 50,
        last_seen: "2026-01-01T00:00:00.000Z".into(),
        last_seen_ms: 1_767_225_600_000,
        created_at: "2026-01-01T00:00:00.000Z".into(),
        active_jobs: Some(0),
    };
    same(
        &Me { row: Some(row) },
        r#"{"row":{"id":"p1","node_id":"provider-1","public_key":"ab","role":"provider","name":"n","status":"available","address":null,"port":null,"gpu_model":null,"specs":{"served_models":["m:1"]},"reputation":50,"last_seen":"2026-01-01T00:00:00.000Z","last_seen_ms":1767225600000,"created_at":"2026-01-01T00:00:00.000Z","active_jobs":0}}"#,
    );
    // The reference's whole table row: read as Value, nothing is lost.
    let theirs: Me<Value> = read(r#"{"row":{"id":"u","payout":"x","reputation":"50.0"}}"#);
    assert_eq!(theirs.row.unwrap()["payout"], "x");
}

#[test]
fn admission_reads_node_id_and_name_leniently() {
    let i: Ident = read(r#"{"node_id":5,"name":"n","specs":{}}"#);
    assert_eq!(
        i,
        Ident {
            node_id: None,
            name: Some("n".into())
        }
    );
    assert_eq!(read::<Ident>("{}"), Ident::default());
}

// ---- jobs ----

fn job_row() -> JobRow {
    JobRow {
        id: "j1".into(),
        title: "chat".into(),
        kind: "chat".into(),
        status: "assigned".into(),
        payment_offer: 0,
        payment_coin: None,
        model_name: Some("m:1".into()),
        input_spec: json!({"max_tokens": 4, "messages": [{"content": "hi", "role": "user"}], "temperature": 0.7}),
        provider_id: Some("p1".into()),
        attempt: 1,
        max_attempts: 3,
        result: Value::Null,
        error: None,
        created_at: "2026-01-01T00:00:00.000Z".into(),
        updated_at: "2026-01-01T00:00:01.000Z".into(),
        assigned_at: Some("2026-01-01T00:00:01.000Z".into()),
        completed_at: None,
        client_pubkey: None,
    }
}

const JOB_ROW: &str = r#"{"id":"j1","title":"chat","type":"chat","status":"assigned","payment_offer":0,"payment_coin":null,"model_name":"m:1","input_spec":{"max_tokens":4,"messages":[{"content":"hi","role":"user"}],"temperature":0.7},"provider_id":"p1","attempt":1,"max_attempts":3,"result":null,"error":null,"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:01.000Z","assigned_at":"2026-01-01T00:00:01.000Z","completed_at":null,"client_pubkey":null}"#;

#[test]
fn poll_request_and_answer() {
    same(
        &JobPoll {
            limit: Some(3),
            wait_ms: Some(25_000),
        },
        r#"{"limit":3,"wait_ms":25000}"#,
    );
    same(
        &JobPoll {
            limit: Some(5),
            wait_ms: None,
        },
        r#"{"limit":5}"#,
    );
    same(&JobPoll::default(), "{}");
    let wire = format!(r#"{{"provider_id":"p1","jobs":[{JOB_ROW}]}}"#);
    same(
        &Jobs {
            provider_id: "p1".into(),
            jobs: vec![job_row()],
        },
        &wire,
    );
    // The node reads only what it runs.
    let node: Jobs<AssignedJob> = read(&wire);
    assert_eq!(node.jobs[0].id, "j1");
    assert_eq!(node.jobs[0].model_name.as_deref(), Some("m:1"));
    assert_eq!(node.jobs[0].attempt, Some(1), "the lease it is");
    let spec: InputSpec = InputSpec::deserialize(&node.jobs[0].input_spec).unwrap();
    assert_eq!(spec.messages, vec![ChatMessage::new("user", "hi")]);
    assert_eq!((spec.max_tokens(), spec.temperature), (Some(4), Some(0.7)));
}

#[test]
fn a_reference_poll_answer_is_read_too() {
    // Fewer columns, a decimal payment offer, an extra client field.
    let theirs: Jobs<AssignedJob> = read(
        r#"{"provider_id":"p","jobs":[{"id":"j","title":"Chat","type":"chat","status":"assigned","payment_offer":"0.00","payment_coin":null,"model_name":null,"input_spec":{"messages":[{"role":"user","content":"x"}],"maxTokens":9},"created_at":"t","client_pubkey":"cc"}]}"#,
    );
    let j = &theirs.jobs[0];
    assert_eq!((j.id.as_str(), j.model_name.as_deref()), ("j", None));
    assert_eq!(j.attempt, None);
    let spec = InputSpec::deserialize(&j.input_spec).unwrap();
    assert_eq!((spec.max_tokens(), spec.temperature), (Some(9), None));
    // A job without an id reads as one with an empty id (the node skips it).
    assert_eq!(read::<AssignedJob>("{}").id, "");
}

#[test]
fn input_spec_as_the_server_writes_it() {
    same(
        &InputSpec {
            messages: vec![
                ChatMessage::new("system", "s"),
                ChatMessage::new("user", "u"),
            ],
            max_tokens: Some(512),
            temperature: None,
            max_tokens_camel: None,
        },
        r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}],"max_tokens":512,"temperature":null}"#,
    );
}

#[test]
fn events_as_the_agent_sends_them() {
    let evs = JobEvents {
        events: vec![
            JobEvent::Meta(MetaData {
                provider_node_id: Some("provider-1".into()),
                provider_name: Some("n1".into()),
                model: Some("m:1".into()),
                started_at: Some("t0".into()),
                engine: Some("llm".into()),
            }),
            JobEvent::Token(TokenData { text: "yo".into() }),
            JobEvent::Done(DoneData {
                text: Some("yo".into()),
                reason: Some("stop".into()),
                finished_at: Some("t1".into()),
                usage: Some(Some(Usage {
                    prompt_tokens: 3,
                    completion_tokens: 1,
                })),
            }),
            JobEvent::Error(ErrorData {
                message: Some("boom".into()),
            }),
        ],
        first_seq: None,
        attempt: None,
    };
    let wire = r#"{"events":[{"event_type":"meta","data":{"provider_node_id":"provider-1","provider_name":"n1","model":"m:1","started_at":"t0","engine":"llm"}},{"event_type":"token","data":{"text":"yo"}},{"event_type":"done","data":{"text":"yo","reason":"stop","finished_at":"t1","usage":{"prompt_tokens":3,"completion_tokens":1}}},{"event_type":"error","data":{"message":"boom"}}]}"#;
    assert_eq!(serde_json::to_string(&evs).unwrap(), wire);
    assert_eq!(evs.events[1].kind(), EventType::Token);
    // The server's view: types checked, data kept as sent.
    let posted: JobEvents = read(wire);
    assert_eq!(posted.validate(), Ok(()));
    let kinds: Vec<&str> = posted
        .events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(kinds, ["meta", "token", "done", "error"]);
    assert_eq!(
        posted.first_seq, None,
        "a reference node's batch has no number"
    );
    // Ours numbers its batches so a repeat stores nothing twice.
    let numbered = JobEvents {
        events: vec![JobEvent::Token(TokenData { text: "a".into() })],
        first_seq: Some(7),
        attempt: Some(2),
    };
    let text = serde_json::to_string(&numbered).unwrap();
    assert_eq!(
        text,
        r#"{"events":[{"event_type":"token","data":{"text":"a"}}],"first_seq":7,"attempt":2}"#
    );
    let back = read::<JobEvents>(&text);
    assert_eq!((back.first_seq, back.attempt), (Some(7), Some(2)));
    assert_eq!(posted.attempt, None, "a reference node names no attempt");
    let done = DoneData::deserialize(&posted.events[2].data).unwrap();
    assert_eq!(
        done.usage(),
        Usage {
            prompt_tokens: 3,
            completion_tokens: 1
        }
    );
    assert_eq!(
        MetaData::deserialize(&posted.events[0].data)
            .unwrap()
            .model
            .as_deref(),
        Some("m:1")
    );
}

#[test]
fn posted_events_are_checked() {
    let e = refused::<JobEvents>(r#"{"events":[{"event_type":"log","data":{}}]}"#);
    assert!(
        e.contains("event_type must be one of meta, token, done, error, found 'log'"),
        "{e}"
    );
    let none: JobEvents = read(r#"{"events":[]}"#);
    assert_eq!(
        none.validate().unwrap_err().message(),
        "events must be an array of 1 to 200 events"
    );
    assert!(read::<JobEvents>("{}").validate().is_err());
    let many = JobEvents {
        events: vec![TokenData::default(); MAX_EVENTS + 1],
        first_seq: None,
        attempt: None,
    };
    assert!(many.validate().is_err());
    // No data: stored as {}; data null: as sent; unknown fields in data kept.
    let e: PostedEvent = read(r#"{"event_type":"token"}"#);
    assert_eq!(e.data, json!({}));
    let e: PostedEvent = read(r#"{"event_type":"token","data":null}"#);
    assert_eq!(e.data, Value::Null);
    let e: PostedEvent = read(r#"{"event_type":"meta","data":{"extra":1,"model":"m"}}"#);
    same(
        &e,
        r#"{"event_type":"meta","data":{"extra":1,"model":"m"}}"#,
    );
}

#[test]
fn done_data_from_a_node_and_from_the_server() {
    // A node without usage counts sends null.
    same(
        &DoneData {
            text: Some("yo".into()),
            reason: Some("stop".into()),
            finished_at: Some("t".into()),
            usage: Some(None),
        },
        r#"{"text":"yo","reason":"stop","finished_at":"t","usage":null}"#,
    );
    // The server's, for a node that sent no done: no usage.
    same(
        &DoneData {
            text: Some("".into()),
            reason: Some("stop".into()),
            finished_at: Some("t".into()),
            usage: None,
        },
        r#"{"text":"","reason":"stop","finished_at":"t"}"#,
    );
    // The server's closing frame: the text may be unknown.
    same(
        &DoneData {
            text: None,
            reason: Some("stop".into()),
            finished_at: None,
            usage: None,
        },
        r#"{"text":null,"reason":"stop"}"#,
    );
    assert_eq!(read::<DoneData>("{}").usage(), Usage::default());
    same(&ErrorData { message: None }, r#"{"message":null}"#);
    same(&TokenData { text: "a".into() }, r#"{"text":"a"}"#);
}

#[test]
fn completion_as_the_agent_sends_it_and_the_server_reads_it() {
    let done = Completion::completed(ChatResult {
        kind: "chat".into(),
        text: Some("yo".into()),
        token_count: 1,
        duration_ms: 120,
        completed_by: "provider-1".into(),
        usage: None,
    });
    let wire = r#"{"status":"completed","result":{"type":"chat","text":"yo","token_count":1,"duration_ms":120,"completed_by":"provider-1","usage":null}}"#;
    same(&done, wire);
    let server: Completion = read(wire);
    assert!(server.status.is_ok());
    assert_eq!(server.result.unwrap()["text"], "yo");
    let failed = Completion::<ChatResult>::failed("boom".into());
    same(&failed, r#"{"status":"failed","error":"boom"}"#);
    // Ours names the attempt it reports on; the reference's does not (read as None).
    same(
        &failed.clone().of_attempt(Some(3)),
        r#"{"status":"failed","error":"boom","attempt":3}"#,
    );
    assert_eq!(read::<Completion>(wire).attempt, None);
    // The test client's and the reference's: result as sent, null kept.
    let c: Completion = read(r#"{"status":"completed","result":null}"#);
    assert_eq!(c.result, Some(Value::Null));
    let e = refused::<Completion>(r#"{"status":"done"}"#);
    assert!(e.contains("status must be 'completed' or 'failed'"), "{e}");
    assert!(refused::<Completion>("{}").contains("missing field `status`"));
    assert_eq!(Outcome::of(false), Outcome::Failed);
}

#[test]
fn complete_answers() {
    same(
        &CompleteAck {
            id: "j".into(),
            status: "completed".into(),
            noop: false,
        },
        r#"{"id":"j","status":"completed"}"#,
    );
    same(
        &CompleteAck {
            id: "j".into(),
            status: "completed".into(),
            noop: true,
        },
        r#"{"id":"j","status":"completed","noop":true}"#,
    );
    same(&EventsAck { inserted: 3 }, r#"{"inserted":3}"#);
}

// ---- node commands ----

#[test]
fn command_poll_and_its_answer() {
    same(&CommandPoll { limit: Some(5) }, r#"{"limit":5}"#);
    same(
        &Commands {
            commands: vec![NodeCommand {
                id: "c1".into(),
                command: "model_install".into(),
                args: CommandArgs {
                    model: "m:1".into(),
                },
            }],
        },
        r#"{"commands":[{"id":"c1","command":"model_install","args":{"model":"m:1"}}]}"#,
    );
    // Args of another shape, or null, read as no model.
    let c: NodeCommand = read(r#"{"id":"c","command":"train_shard","args":null}"#);
    assert_eq!(c.args, CommandArgs::default());
    let c: NodeCommand = read(r#"{"id":"c","command":"x","args":{"shard":1}}"#);
    assert_eq!(c.args.model, "");
}

#[test]
fn command_progress_and_completion_as_the_agent_sends_them() {
    same(
        &Progress {
            status: "running".into(),
            phase: "downloading".into(),
            total: Some(100),
            completed: Some(50),
            pct: Some(50.0),
        },
        r#"{"status":"running","phase":"downloading","total":100,"completed":50,"pct":50.0}"#,
    );
    same(
        &Progress {
            status: "running".into(),
            phase: "pulling manifest".into(),
            ..Default::default()
        },
        r#"{"status":"running","phase":"pulling manifest","total":null,"completed":null,"pct":null}"#,
    );
    same(
        &CommandAck {
            id: "c".into(),
            status: "cancelled".into(),
        },
        r#"{"id":"c","status":"cancelled"}"#,
    );
    let installed = Completion::completed(CommandResult::Installed(Installed {
        installed: "m:1".into(),
        backend: "ol".into(),
    }));
    assert_eq!(
        serde_json::to_string(&installed).unwrap(),
        r#"{"status":"completed","result":{"installed":"m:1","backend":"ol"}}"#
    );
    let removed = CommandResult::Removed(RemovedModel {
        removed: "m:1".into(),
        backend: "ol".into(),
    });
    assert_eq!(
        serde_json::to_string(&removed).unwrap(),
        r#"{"removed":"m:1","backend":"ol"}"#
    );
}

#[test]
fn operator_commands_are_checked() {
    let e: Enqueue = read(r#"{"command":"model_install","args":{"model":"m:1"},"note":"x"}"#);
    assert_eq!(e.validate(), Ok((Verb::ModelInstall, "m:1")));
    same(&e, r#"{"command":"model_install","args":{"model":"m:1"}}"#);
    let e: Enqueue = read(r#"{"command":"rm_rf","args":{"model":"x"}}"#);
    assert_eq!(
        e.validate().unwrap_err().message(),
        "command 'rm_rf' is not one of model_install, model_remove"
    );
    let e: Enqueue = read(r#"{"command":"model_remove"}"#);
    assert_eq!(
        e.validate().unwrap_err().message(),
        "args.model must be a model name of 1 to 256 characters"
    );
    assert_eq!(Verb::parse("model_remove"), Some(Verb::ModelRemove));
    assert_eq!(Verb::ModelInstall.as_str(), "model_install");
}

#[test]
fn command_rows_as_the_store_writes_them() {
    same(
        &Queued {
            id: "c".into(),
            command: "model_install".into(),
            args: json!({"model": "m"}),
            status: "pending".into(),
        },
        r#"{"id":"c","command":"model_install","args":{"model":"m"},"status":"pending"}"#,
    );
    same(
        &CommandRow {
            id: "c".into(),
            command: "model_install".into(),
            args: json!({"model": "m"}),
            status: "completed".into(),
            result: json!({"backend": "ol", "installed": "m"}),
            error: None,
            progress: json!({"pct": 100.0, "status": "running"}),
            issued_at: Some("t0".into()),
            started_at: Some("t1".into()),
            completed_at: None,
        },
        r#"{"id":"c","command":"model_install","args":{"model":"m"},"status":"completed","result":{"backend":"ol","installed":"m"},"error":null,"progress":{"pct":100.0,"status":"running"},"issued_at":"t0","started_at":"t1","completed_at":null}"#,
    );
}

// ---- chat ----

#[test]
fn chat_submit_as_a_client_sends_it() {
    let c = ChatSubmit {
        messages: vec![ChatMessage::new("user", "hi")],
        model: Some("m:1".into()),
        max_tokens: Some(4),
        temperature: Some(0.0),
    };
    same(
        &c,
        r#"{"messages":[{"role":"user","content":"hi"}],"modelName":"m:1","maxTokens":4,"temperature":0.0}"#,
    );
    same(
        &ChatSubmit {
            messages: vec![ChatMessage::new("user", "hi")],
            ..Default::default()
        },
        r#"{"messages":[{"role":"user","content":"hi"}]}"#,
    );
}

#[test]
fn chat_submit_is_checked_with_messages_that_name_the_field() {
    let check = |wire: &str| read::<ChatSubmitBody>(wire).check();
    let e = check(r#"{"messages":[]}"#).unwrap_err();
    assert_eq!(
        e,
        WireError::Messages("messages must be an array of 1 to 256 {role, content} objects".into())
    );
    let e = check(r#"{"messages":[{"role":"user","content":"a"},{"role":"robot","content":"b"}]}"#)
        .unwrap_err();
    assert_eq!(
        e.message(),
        "messages[1] needs a role (system, user or assistant) and a string content"
    );
    let e = check(r#"{"messages":[{"role":"user","content":["a"]}]}"#).unwrap_err();
    assert!(e.message().starts_with("messages[0] needs"), "{e}");
    let m = r#""messages":[{"role":"user","content":"x","name":"n"}]"#;
    let e = check(&format!(r#"{{{m},"maxTokens":1e30}}"#)).unwrap_err();
    assert!(
        e.message()
            .starts_with("maxTokens must be an integer from 1 to 1000000, found"),
        "{e}"
    );
    let e = check(&format!(r#"{{{m},"temperature":"hot"}}"#)).unwrap_err();
    assert_eq!(
        e,
        WireError::Value("temperature must be a number from 0 to 2, found \"hot\"".into())
    );
    assert!(check(&format!(r#"{{{m},"max_tokens":0}}"#)).is_err());
    // modelName wins over model, maxTokens over max_tokens (null means none), extra fields
    // of a message are dropped.
    let ok = check(&format!(
        r#"{{{m},"modelName":"a","model":"b","maxTokens":null,"max_tokens":7,"temperature":2}}"#
    ))
    .unwrap();
    assert_eq!(
        ok,
        ChatSubmit {
            messages: vec![ChatMessage::new("user", "x")],
            model: Some("a".into()),
            max_tokens: None,
            temperature: Some(2.0),
        }
    );
    let ok = check(&format!(
        r#"{{{m},"model":"b","max_tokens":7,"distributed":true}}"#
    ))
    .unwrap();
    assert_eq!((ok.model.as_deref(), ok.max_tokens), (Some("b"), Some(7)));
    // Reading a ChatSubmit runs the same checks.
    assert!(refused::<ChatSubmit>(r#"{"messages":"hi"}"#).contains("messages must be"));
}

#[test]
fn chat_answers() {
    same(
        &ChatCreated {
            job_id: "j".into(),
            status: "pending".into(),
            source: "p2p".into(),
            provider: None,
            model: Some("m:1".into()),
            stream_url: "/api/chat/stream/j".into(),
        },
        r#"{"jobId":"j","status":"pending","source":"p2p","provider":null,"model":"m:1","streamUrl":"/api/chat/stream/j"}"#,
    );
    // The reference names the node it picked.
    let theirs: ChatCreated = read(
        r#"{"jobId":"j","status":"assigned","source":"p2p","provider":{"id":"p","name":"n","nodeId":"provider-1","gpuModel":"RTX","model":"m","pubkey":"ab"},"streamUrl":"/s"}"#,
    );
    assert_eq!(
        theirs.provider.unwrap().node_id.as_deref(),
        Some("provider-1")
    );
    same(
        &ChatRefused {
            error: "no_provider: no live node serves any model".into(),
            job_id: "j".into(),
        },
        r#"{"error":"no_provider: no live node serves any model","jobId":"j"}"#,
    );
    same(
        &ChatStatus {
            id: "j".into(),
            status: "failed".into(),
            model_name: Some("m:1".into()),
            provider_id: None,
            error: Some("no_capacity".into()),
            latest_error_message: Some("no_capacity".into()),
            attempt: 0,
            completed_at: Some("t1".into()),
            updated_at: Some("t1".into()),
        },
        r#"{"id":"j","status":"failed","model_name":"m:1","provider_id":null,"error":"no_capacity","latest_error_message":"no_capacity","attempt":0,"completed_at":"t1","updated_at":"t1"}"#,
    );
}

// ---- OpenAI ----

#[test]
fn completion_requests_are_checked_like_chat() {
    let check = |wire: &str| read::<CompletionBody>(wire).check();
    let r = check(
        r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":5,"max_tokens":9,"stream":true,"stream_options":{"include_usage":true},"top_p":0.9}"#,
    )
    .unwrap();
    assert_eq!(
        (r.max_tokens, r.stream, r.include_usage()),
        (Some(5), true, true)
    );
    same(
        &r,
        r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}"#,
    );
    let r = check(r#"{"messages":[{"role":"user","content":"x"}],"stream":"yes","stream_options":{"include_usage":1}}"#)
        .unwrap();
    assert_eq!(
        (r.model.as_str(), r.stream, r.include_usage()),
        ("", false, false)
    );
    let e = check(r#"{"messages":[{"role":"user","content":"x"}],"max_tokens":1e30}"#).unwrap_err();
    assert!(
        matches!(&e, WireError::Value(m) if m.starts_with("max_tokens must be an integer from 1")),
        "{e}"
    );
    let e = check(r#"{"model":"m"}"#).unwrap_err();
    assert!(matches!(e, WireError::Messages(_)));
}

#[test]
fn completion_answers_and_chunks() {
    same(
        &openai::Completion {
            id: "chatcmpl-1".into(),
            object: "chat.completion".into(),
            created: 7,
            model: "m".into(),
            choices: vec![Choice {
                index: 0,
                message: ChatMessage::new("assistant", "hi"),
                finish_reason: "stop".into(),
            }],
            usage: CompletionUsage::new(3, 1),
        },
        r#"{"id":"chatcmpl-1","object":"chat.completion","created":7,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#,
    );
    let chunk = |choices: Vec<ChunkChoice>| Chunk {
        id: "c".into(),
        object: "chat.completion.chunk".into(),
        created: 7,
        model: "m".into(),
        choices,
        error: None,
        usage: None,
    };
    let one = |delta: Delta, finish: Option<&str>| {
        chunk(vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish.map(str::to_string),
        }])
    };
    let head = r#"{"id":"c","object":"chat.completion.chunk","created":7,"model":"m","choices":"#;
    same(
        &one(
            Delta {
                role: Some("assistant".into()),
                content: Some("".into()),
            },
            None,
        ),
        &format!(
            r#"{head}[{{"index":0,"delta":{{"role":"assistant","content":""}},"finish_reason":null}}]}}"#
        ),
    );
    same(
        &one(
            Delta {
                role: None,
                content: Some("hi".into()),
            },
            None,
        ),
        &format!(r#"{head}[{{"index":0,"delta":{{"content":"hi"}},"finish_reason":null}}]}}"#),
    );
    same(
        &one(Delta::default(), Some("length")),
        &format!(r#"{head}[{{"index":0,"delta":{{}},"finish_reason":"length"}}]}}"#),
    );
    same(
        &Chunk {
            usage: Some(CompletionUsage::new(1, 2)),
            ..chunk(vec![])
        },
        &format!(
            r#"{head}[],"usage":{{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}}}"#
        ),
    );
    same(
        &Chunk {
            error: Some(ErrorDetail::new("job_failed", "boom")),
            ..chunk(vec![])
        },
        &format!(
            r#"{head}[],"error":{{"message":"boom","type":"infernet_error","code":"job_failed"}}}}"#
        ),
    );
    same(
        &openai::ErrorBody {
            error: ErrorDetail::new("no_provider", "none"),
        },
        r#"{"error":{"message":"none","type":"infernet_error","code":"no_provider"}}"#,
    );
    same(
        &ModelList {
            object: "list".into(),
            data: vec![Model {
                id: "m:1".into(),
                object: "model".into(),
                created: 7,
                owned_by: "infernet".into(),
            }],
        },
        r#"{"object":"list","data":[{"id":"m:1","object":"model","created":7,"owned_by":"infernet"}]}"#,
    );
}

// ---- public views and admissions ----

#[test]
fn peers_as_the_server_writes_them_and_the_reference_sends_them() {
    let p = Peer {
        pubkey: "ab".into(),
        node_id: "provider-1".into(),
        name: Some("n".into()),
        status: "available".into(),
        multiaddr: multiaddr(Some("10.0.0.2"), Some(46337)),
        last_seen: "t".into(),
        last_seen_ms: 5,
        served_models: vec!["m:1".into()],
        gpu_model: None,
        gpu_count: 0,
        cpu: Value::Null,
        interconnects: Value::Null,
        load: json!({"active_jobs": 0}),
        active_jobs: 0,
        concurrency_cap: 4,
    };
    same(
        &Data { data: vec![p] },
        r#"{"data":[{"pubkey":"ab","node_id":"provider-1","name":"n","status":"available","multiaddr":"/ip4/10.0.0.2/tcp/46337","last_seen":"t","last_seen_ms":5,"served_models":["m:1"],"gpu_model":null,"gpu_count":0,"cpu":null,"interconnects":null,"load":{"active_jobs":0},"active_jobs":0,"concurrency_cap":4}]}"#,
    );
    assert_eq!(
        multiaddr(Some("::1"), Some(1)).as_deref(),
        Some("/ip6/::1/tcp/1")
    );
    assert_eq!(multiaddr(Some(""), Some(1)), None);
    assert_eq!(multiaddr(Some("h"), None), None);
    let theirs: Peer = read(
        r#"{"pubkey":"cd","multiaddr":null,"last_seen":"t","served_models":["x"],"gpu_model":"RTX","gpu_count":2,"cpu":{"cores":8},"interconnects":null}"#,
    );
    assert_eq!((theirs.pubkey.as_str(), theirs.gpu_count), ("cd", 2));
    assert_eq!(theirs.node_id, "");
}

#[test]
fn overview_and_health() {
    same(
        &Overview {
            cards: vec![
                Card {
                    label: "Online nodes".into(),
                    value: json!(2),
                    note: "3 registered".into(),
                },
                Card {
                    label: "Last heartbeat".into(),
                    value: Value::Null,
                    note: "".into(),
                },
            ],
        },
        r#"{"cards":[{"label":"Online nodes","value":2,"note":"3 registered"},{"label":"Last heartbeat","value":null,"note":""}]}"#,
    );
    same(
        &Health {
            ok: true,
            uptime_s: 3,
            node_env: "self-hosted".into(),
            commit: "0.1.0".into(),
            database: "sqlite".into(),
        },
        r#"{"ok":true,"uptime_s":3,"node_env":"self-hosted","commit":"0.1.0","database":"sqlite"}"#,
    );
}

#[test]
fn admissions_and_decisions() {
    let row = AdmissionRow {
        pubkey: "ab".into(),
        status: "pending".into(),
        node_id: Some("provider-asks".into()),
        name: None,
        first_seen: Some("t0".into()),
        last_seen: Some("t1".into()),
        decided_at: None,
    };
    same(
        &Admissions {
            policy: "approval".into(),
            data: vec![row.clone()],
        },
        r#"{"policy":"approval","data":[{"pubkey":"ab","status":"pending","node_id":"provider-asks","name":null,"first_seen":"t0","last_seen":"t1","decided_at":null}]}"#,
    );
    same(
        &Data { data: Some(row) },
        r#"{"data":{"pubkey":"ab","status":"pending","node_id":"provider-asks","name":null,"first_seen":"t0","last_seen":"t1","decided_at":null}}"#,
    );
    same(
        &Decide {
            decision: Some(Decision::Deny),
        },
        r#"{"decision":"deny"}"#,
    );
    assert_eq!(Decision::Approve.status(), "approved");
    let e = refused::<Decide>(r#"{"decision":"maybe"}"#);
    assert!(
        e.contains(r#"decision must be "approve" or "deny", found 'maybe'"#),
        "{e}"
    );
    let none: Decide = read(r#"{"decision":null}"#);
    assert_eq!(
        none.decision().unwrap_err().message(),
        r#"decision must be "approve" or "deny", found nothing"#
    );
}
