//! Every rule's exact message, the order sections are checked in, and the warnings.
use super::validate;
use crate::config::{BackendConfig, Config, ContainerConfig, DockerCredentialsConfig, Secret};
use std::path::Path;

const FILE: &str = "/etc/infernet/c.json";
const TOKEN: &str = "0x0000000000000000000000000000000000000001";
const KEY: &str = "0x0101010101010101010101010101010101010101010101010101010101010101";

fn container(id: &str) -> ContainerConfig {
    ContainerConfig {
        id: id.into(),
        image: "img".into(),
        ..ContainerConfig::default()
    }
}

fn backend(id: &str) -> BackendConfig {
    BackendConfig {
        id: id.into(),
        kind: "ollama".into(),
        ..BackendConfig::default()
    }
}

/// One container "a" and a chain side that passes, so each case breaks one thing.
fn base() -> Config {
    let mut c = Config {
        containers: vec![container("a")],
        ..Config::default()
    };
    c.chain.rpc_url = Some("http://127.0.0.1:8545".into());
    c.chain.registry_address = Some(TOKEN.into());
    c.chain.wallet.private_key = Some(Secret::new(KEY));
    c
}

fn check(c: &mut Config) -> Result<Vec<String>, String> {
    validate(c, Path::new(FILE)).map_err(|e| e.to_string())
}

fn error_of(f: fn(&mut Config)) -> String {
    let mut c = base();
    f(&mut c);
    check(&mut c).expect_err("the config should be refused")
}

fn key_error(key: &str, message: &str) -> String {
    format!("config file '{FILE}': key '{key}': {message}")
}

type Case = (fn(&mut Config), &'static str, &'static str);
/// The key a broken config fails on, and how to mend it.
type Step = (&'static str, fn(&mut Config));

fn assert_cases(cases: &[Case]) {
    for (i, (f, key, message)) in cases.iter().enumerate() {
        assert_eq!(error_of(*f), key_error(key, message), "case {i}");
    }
}

#[test]
fn base_config_is_valid_without_warnings() {
    assert_eq!(check(&mut base()), Ok(vec![]));
    assert_eq!(check(&mut Config::default()), Ok(vec![]));
}

#[test]
fn container_ids() {
    assert_cases(&[
        (
            |c| c.containers[0].id = " ".into(),
            "containers[0].id",
            "is required: a non-empty container id",
        ),
        (
            |c| c.containers[0].id = "a,b".into(),
            "containers[0].id",
            "'a,b' must not contain ',' (ids are joined with ',' into container sets)",
        ),
        (
            |c| c.containers.push(container("a")),
            "containers[1].id",
            "duplicate container id 'a' (also containers[0].id)",
        ),
    ]);
}

#[test]
fn container_image_url_port_host() {
    assert_cases(&[
        (
            |c| c.containers[0].image = " ".into(),
            "containers[0].image",
            "is required when 'manage_containers' is true (or set 'manage_containers': false and give 'url')",
        ),
        (
            |c| {
                c.manage_containers = false;
                c.containers[0].url = "ftp://x".into();
            },
            "containers[0].url",
            "'ftp://x' is not an http(s) URL",
        ),
        (
            |c| c.containers[0].url = "not a url".into(),
            "containers[0].url",
            "'not a url' is not an http(s) URL",
        ),
        (
            |c| c.containers[0].port = 0,
            "containers[0].port",
            "expected an integer from 1 to 65535, found '0'",
        ),
        (
            |c| c.containers[0].host_ip = "nope".into(),
            "containers[0].host_ip",
            "'nope' is not an IP address",
        ),
    ]);
}

#[test]
fn container_lists() {
    assert_cases(&[
        (
            |c| c.containers[0].allowed_ips = vec!["10.0.0.0/8".into(), "10.0.0.300".into()],
            "containers[0].allowed_ips[1]",
            "'10.0.0.300' is not an IP address or CIDR network",
        ),
        (
            |c| c.containers[0].allowed_addresses = vec!["0x12".into()],
            "containers[0].allowed_addresses[0]",
            "'0x12' is not an address (expected 0x and 40 hex digits)",
        ),
        (
            |c| c.containers[0].allowed_delegate_addresses = vec![TOKEN.into(), "zz".into()],
            "containers[0].allowed_delegate_addresses[1]",
            "'zz' is not an address (expected 0x and 40 hex digits)",
        ),
        (
            // allowed_addresses is checked before allowed_delegate_addresses.
            |c| {
                c.containers[0].allowed_addresses = vec!["x".into()];
                c.containers[0].allowed_delegate_addresses = vec!["y".into()];
            },
            "containers[0].allowed_addresses[0]",
            "'x' is not an address (expected 0x and 40 hex digits)",
        ),
        (
            |c| {
                c.containers[0]
                    .accepted_payments
                    .insert("0x12".into(), "1".into());
            },
            "containers[0].accepted_payments",
            "token '0x12' is not an address (expected 0x and 40 hex digits)",
        ),
        (
            |c| {
                c.containers[0]
                    .accepted_payments
                    .insert(TOKEN.into(), "12x".into());
            },
            "containers[0].accepted_payments.0x0000000000000000000000000000000000000001",
            "'12x' is not an amount (expected a uint256 in decimal, e.g. \"1000000000000000000\")",
        ),
        (
            |c| {
                c.containers[0]
                    .accepted_payments
                    .insert(TOKEN.into(), "0xzz".into());
            },
            "containers[0].accepted_payments.0x0000000000000000000000000000000000000001",
            "'0xzz' is not an amount (expected a uint256 in decimal, e.g. \"1000000000000000000\")",
        ),
        (
            |c| c.containers[0].volumes = vec!["/a:/b:ro".into(), "/only".into()],
            "containers[0].volumes[1]",
            "'/only' is not a volume (expected 'host_path:container_path[:ro|rw]')",
        ),
        (
            |c| c.containers[0].volumes = vec!["/a::ro".into()],
            "containers[0].volumes[0]",
            "'/a::ro' is not a volume (expected 'host_path:container_path[:ro|rw]')",
        ),
        (
            |c| c.containers[0].timeout = Some(0.0),
            "containers[0].timeout",
            "expected seconds > 0, found '0'",
        ),
        (
            |c| c.containers[0].timeout = Some(f64::NAN),
            "containers[0].timeout",
            "expected seconds > 0, found 'NaN'",
        ),
    ]);
}

#[test]
fn container_fields_that_pass() {
    let mut c = base();
    let ct = &mut c.containers[0];
    ct.accepted_payments.insert(TOKEN.into(), "0x10".into());
    ct.volumes = vec!["/a:/b".into()];
    ct.timeout = Some(1.5);
    ct.allowed_ips = vec!["10.0.0.5/8".into(), "::1".into()];
    assert_eq!(check(&mut c), Ok(vec![]));
}

#[test]
fn backends() {
    assert_cases(&[
        (
            |c| c.backends = vec![backend("")],
            "backends[0].id",
            "'' must be a non-empty id without ','",
        ),
        (
            |c| c.backends = vec![backend("x,y")],
            "backends[0].id",
            "'x,y' must be a non-empty id without ','",
        ),
        (
            |c| c.backends = vec![backend("a")],
            "backends[0].id",
            "duplicate id 'a' (also containers[0].id)",
        ),
        (
            |c| c.backends = vec![backend("b"), backend("b")],
            "backends[1].id",
            "duplicate id 'b' (also backends[0].id)",
        ),
        (
            |c| {
                c.backends = vec![BackendConfig {
                    kind: "gpt".into(),
                    ..backend("b")
                }]
            },
            "backends[0].kind",
            "'gpt' is not a backend kind (ollama, vllm, sglang, llamacpp, max, openai, engine, embedded, stub)",
        ),
        (
            |c| {
                c.backends = vec![BackendConfig {
                    url: "ftp://x".into(),
                    ..backend("b")
                }]
            },
            "backends[0].url",
            "'ftp://x' is not an http(s) URL",
        ),
        (
            |c| {
                c.backends = vec![BackendConfig {
                    allowed_ips: vec!["x".into()],
                    ..backend("b")
                }]
            },
            "backends[0].allowed_ips[0]",
            "'x' is not an IP address or CIDR network",
        ),
    ]);
    // An engine backend's url is a program, not checked as a URL.
    let mut c = base();
    c.backends = vec![BackendConfig {
        kind: "engine".into(),
        url: "ftp://x".into(),
        ..backend("b")
    }];
    assert_eq!(check(&mut c), Ok(vec![]));
}

#[test]
fn control_plane() {
    assert_cases(&[
        (
            |c| c.control_plane.url = "ftp://cp".into(),
            "control_plane.url",
            "'ftp://cp' is not an http(s) URL",
        ),
        (
            |c| c.control_plane.role = "miner".into(),
            "control_plane.role",
            "'miner' is not one of provider, aggregator, client",
        ),
        (
            |c| c.control_plane.heartbeat_interval = 0.0,
            "control_plane.heartbeat_interval",
            "expected seconds > 0, found '0'",
        ),
        (
            |c| c.control_plane.poll_interval = f64::NAN,
            "control_plane.poll_interval",
            "expected seconds > 0, found 'NaN'",
        ),
        (
            |c| c.control_plane.command_interval = -1.0,
            "control_plane.command_interval",
            "expected seconds > 0, found '-1'",
        ),
        (
            |c| c.control_plane.poll_wait = -1.0,
            "control_plane.poll_wait",
            "expected seconds >= 0, found '-1'",
        ),
        (
            |c| c.control_plane.poll_wait = f64::NAN,
            "control_plane.poll_wait",
            "expected seconds >= 0, found 'NaN'",
        ),
        (
            |c| c.control_plane.concurrency_cap = 0,
            "control_plane.concurrency_cap",
            "expected an integer >= 1, found '0'",
        ),
        (
            |c| c.control_plane.price = Some(-0.5),
            "control_plane.price",
            "expected USD per 1k tokens >= 0, found '-0.5'",
        ),
        (
            |c| {
                c.control_plane.url = "http://a".into();
                c.control_plane.urls = vec!["http://b".into(), "b:4010".into()];
            },
            "control_plane.urls[1]",
            "'b:4010' is not an http(s) URL",
        ),
        (
            |c| c.control_plane.urls = vec!["http://b".into()],
            "control_plane.url",
            "empty while control_plane.urls lists replicas: put the first one in url",
        ),
    ]);
    let mut c = base();
    c.control_plane.url = "http://cp.example/".into();
    assert_eq!(check(&mut c), Ok(vec![]));
    // Replicas: url first, each once, trailing slashes ignored.
    c.control_plane.urls = vec![
        "http://cp2.example".into(),
        "http://cp.example".into(),
        "http://cp3.example/".into(),
    ];
    assert_eq!(check(&mut c), Ok(vec![]));
    assert_eq!(
        c.control_plane.endpoints(),
        [
            "http://cp.example",
            "http://cp2.example",
            "http://cp3.example"
        ]
    );
}

#[test]
fn p2p_is_checked_only_when_enabled() {
    let mut c = base();
    c.p2p.listen = vec!["not an address".into()];
    assert_eq!(check(&mut c), Ok(vec![]), "off: not checked");
    let id = libp2p::identity::Keypair::generate_secp256k1()
        .public()
        .to_peer_id();
    let peer = format!("/ip4/127.0.0.1/tcp/4001/p2p/{id}");
    assert_cases(&[
        (
            |c| {
                c.p2p.enabled = true;
                c.p2p.listen = vec!["/ip4/0.0.0.0/tcp/1".into(), "127.0.0.1:4001".into()];
            },
            "p2p.listen[1]",
            "'127.0.0.1:4001' is not a multiaddr (invalid multiaddr), e.g. /ip4/0.0.0.0/tcp/46337",
        ),
        (
            |c| {
                c.p2p.enabled = true;
                c.p2p.listen = vec![];
            },
            "p2p.listen",
            "empty: give at least one multiaddr, e.g. /ip4/0.0.0.0/tcp/46337",
        ),
        (
            |c| {
                c.p2p.enabled = true;
                c.p2p.bootstrap = vec!["/ip4/127.0.0.1/tcp/4001".into()];
            },
            "p2p.bootstrap[0]",
            "'/ip4/127.0.0.1/tcp/4001' is not a peer address (it does not end in /p2p/<peer id>), e.g. /ip4/203.0.113.5/tcp/46337/p2p/16Uiu2…",
        ),
        (
            |c| {
                c.p2p.enabled = true;
                c.p2p.price_usd = -1.0;
            },
            "p2p.price_usd",
            "expected USD >= 0, found '-1'",
        ),
        (
            |c| {
                c.p2p.enabled = true;
                c.p2p.ad_interval = 0.0;
            },
            "p2p.ad_interval",
            "expected seconds > 0, found '0'",
        ),
    ]);
    let mut c = base();
    c.p2p.enabled = true;
    c.p2p.bootstrap = vec![peer];
    assert_eq!(check(&mut c), Ok(vec![]));
}

#[test]
fn docker_credentials() {
    let message =
        "needs both 'username' and 'password' (remove the 'docker' object for anonymous pulls)";
    assert_cases(&[
        (
            |c| {
                c.docker = Some(DockerCredentialsConfig {
                    username: "me".into(),
                    password: Secret::default(),
                })
            },
            "docker",
            message,
        ),
        (
            |c| {
                c.docker = Some(DockerCredentialsConfig {
                    username: String::new(),
                    password: Secret::new("pw"),
                })
            },
            "docker",
            message,
        ),
    ]);
}

#[test]
fn chain_when_enabled() {
    let hint = " (in the file, or stored with `infernet secret set chain.wallet.private_key`)";
    assert_cases(&[
        (
            |c| {
                c.chain.enabled = true;
                c.chain.rpc_url = None;
                c.chain.registry_address = None;
            },
            "chain.rpc_url",
            "is required when 'chain.enabled' is true",
        ),
        (
            |c| {
                c.chain.enabled = true;
                c.chain.registry_address = None;
                c.chain.wallet.private_key = None;
            },
            "chain.registry_address",
            "is required when 'chain.enabled' is true",
        ),
        (
            |c| {
                c.chain.enabled = true;
                c.chain.rpc_url = Some("ftp://x".into());
            },
            "chain.rpc_url",
            "'ftp://x' is not an http(s) or ws(s) URL",
        ),
        (
            |c| {
                c.chain.enabled = true;
                c.chain.registry_address = Some("nope".into());
            },
            "chain.registry_address",
            "'nope' is not an address (expected 0x and 40 hex digits)",
        ),
        (
            |c| {
                c.chain.enabled = true;
                c.chain.wallet.private_key = Some(Secret::new("k"));
            },
            "chain.wallet.private_key",
            "is not a valid secp256k1 private key (expected 64 hex digits, 0x optional)",
        ),
    ]);
    let mut c = base();
    c.chain.enabled = true;
    c.chain.wallet.private_key = None;
    assert_eq!(
        check(&mut c),
        Err(key_error(
            "chain.wallet.private_key",
            &format!("is required when 'chain.enabled' is true{hint}")
        ))
    );
    for url in ["https://x", "ws://x:8546", "wss://x"] {
        let mut c = base();
        c.chain.enabled = true;
        c.chain.rpc_url = Some(url.into());
        assert_eq!(check(&mut c), Ok(vec![]), "{url}");
    }
    // Disabled: nothing of the chain section is checked.
    let mut c = base();
    c.chain.rpc_url = Some("ftp://x".into());
    c.chain.registry_address = Some("nope".into());
    c.chain.wallet.private_key = Some(Secret::new("k"));
    assert_eq!(check(&mut c), Ok(vec![]));
}

#[test]
fn server() {
    assert_cases(&[
        (
            |c| c.server.rate_limit.num_requests = 0,
            "server.rate_limit.num_requests",
            "expected an integer >= 1, found '0'",
        ),
        (
            |c| c.server.rate_limit.period = 0.0,
            "server.rate_limit.period",
            "expected seconds > 0, found '0'",
        ),
        (
            |c| c.server.rate_limit.period = f64::NAN,
            "server.rate_limit.period",
            "expected seconds > 0, found 'NaN'",
        ),
        (
            |c| c.server.bind = "localhost".into(),
            "server.bind",
            "'localhost' is not an IP address",
        ),
        (
            |c| c.server.trusted_proxies = vec!["10.0.0.1".into(), "proxy.local".into()],
            "server.trusted_proxies[1]",
            "'proxy.local' is not an IP address or CIDR network",
        ),
        (
            |c| c.server.status_allowed_ips = vec!["x".into()],
            "server.status_allowed_ips[0]",
            "'x' is not an IP address or CIDR network",
        ),
        (
            |c| c.server.max_body_bytes = 1023,
            "server.max_body_bytes",
            "expected at least 1024, found '1023'",
        ),
        (
            |c| c.server.max_get_ids = 0,
            "server.max_get_ids",
            "expected at least 1, found '0'",
        ),
        (
            |c| c.server.max_get_bytes = 10,
            "server.max_get_bytes",
            "expected at least 1024, found '10'",
        ),
        (
            |c| c.server.max_connections = 0,
            "server.max_connections",
            "expected at least 1, found '0'",
        ),
        (
            |c| c.server.header_timeout_secs = 0.0,
            "server.header_timeout_secs",
            "expected seconds between 0 and 86400, found '0'",
        ),
        (
            |c| c.server.body_timeout_secs = 86_400.5,
            "server.body_timeout_secs",
            "expected seconds between 0 and 86400, found '86400.5'",
        ),
        (
            |c| c.server.body_timeout_secs = f64::INFINITY,
            "server.body_timeout_secs",
            "expected seconds between 0 and 86400, found 'inf'",
        ),
    ]);
}

#[test]
fn log_and_jobs() {
    assert_cases(&[
        (
            |c| c.log.max_file_size = 0,
            "log.max_file_size",
            "expected bytes > 0, found '0'",
        ),
        (
            |c| c.log.level = "loud".into(),
            "log.level",
            "'loud' is not a level (trace, debug, info, warn, error)",
        ),
        (
            |c| c.jobs.container_timeout = 0.0,
            "jobs.container_timeout",
            "expected seconds > 0, found '0'",
        ),
        (
            |c| c.jobs.stream_idle_timeout = -1.0,
            "jobs.stream_idle_timeout",
            "expected seconds > 0, found '-1'",
        ),
        (
            |c| c.jobs.pending_ttl = 0.0,
            "jobs.pending_ttl",
            "expected seconds > 0, found '0'",
        ),
        // NaN compares false with everything: it once passed `v <= 0.0`.
        (
            |c| c.jobs.container_timeout = f64::NAN,
            "jobs.container_timeout",
            "expected seconds > 0, found 'NaN'",
        ),
        // Infinity would panic when it becomes a Duration.
        (
            |c| c.jobs.stream_idle_timeout = f64::INFINITY,
            "jobs.stream_idle_timeout",
            "expected seconds > 0, found 'inf'",
        ),
    ]);
    for level in ["WARN", "off", "info,hyper=warn", "infernet=debug"] {
        let mut c = base();
        c.log.level = level.into();
        assert_eq!(check(&mut c), Ok(vec![]), "{level}");
    }
}

/// Sections are checked in a fixed order and the first failure is the one reported: break
/// every section, then mend them one by one and see the next one's key.
#[test]
fn sections_fail_in_order() {
    let order: &[Step] = &[
        ("containers[0].port", |c| c.containers[0].port = 3000),
        ("backends[0].kind", |c| c.backends.clear()),
        ("control_plane.role", |c| {
            c.control_plane.role = "client".into()
        }),
        ("docker", |c| c.docker = None),
        ("chain.rpc_url", |c| {
            c.chain.rpc_url = Some("http://x".into())
        }),
        ("server.rate_limit.num_requests", |c| {
            c.server.rate_limit.num_requests = 1
        }),
        ("server.max_connections", |c| c.server.max_connections = 1),
        ("log.max_file_size", |c| c.log.max_file_size = 1),
        ("log.level", |c| c.log.level = "info".into()),
        ("jobs.pending_ttl", |c| c.jobs.pending_ttl = 1.0),
    ];
    let mut c = base();
    c.containers[0].port = 0;
    c.backends = vec![BackendConfig {
        kind: "gpt".into(),
        ..backend("b")
    }];
    c.control_plane.role = "miner".into();
    c.docker = Some(DockerCredentialsConfig::default());
    c.chain.enabled = true;
    c.chain.rpc_url = Some("ftp://x".into());
    c.server.rate_limit.num_requests = 0;
    c.server.max_connections = 0;
    c.log.max_file_size = 0;
    c.log.level = "loud".into();
    c.jobs.pending_ttl = 0.0;
    for (key, mend) in order {
        let err = check(&mut c.clone()).expect_err("still broken");
        assert!(
            err.starts_with(&format!("config file '{FILE}': key '{key}': ")),
            "{key}: {err}"
        );
        mend(&mut c);
    }
    assert_eq!(check(&mut c), Ok(vec![]));
}

#[test]
fn containers_fail_in_order() {
    // The first container's problem is reported before the second's, the id before the rest.
    let mut c = base();
    c.containers[0].port = 0;
    c.containers.push(container(""));
    assert_eq!(
        check(&mut c),
        Err(key_error(
            "containers[0].port",
            "expected an integer from 1 to 65535, found '0'"
        ))
    );
    let mut c = base();
    c.containers[0].id = "a,b".into();
    c.containers[0].port = 0;
    c.containers[0].image = String::new();
    assert!(check(&mut c).is_err_and(|e| e.contains("key 'containers[0].id'")));
}

#[test]
fn unmanaged_url_and_bearer_warn_when_managed() {
    let mut c = base();
    c.containers[0].bearer = Secret::new("t");
    assert_eq!(
        check(&mut c),
        Ok(vec![format!(
            "config file '{FILE}': 'containers[0].url'/'bearer' are ignored because 'manage_containers' is true"
        )])
    );
    let mut c = base();
    c.manage_containers = false;
    c.containers[0].url = "http://127.0.0.1:3000".into();
    c.containers[0].bearer = Secret::new("t");
    c.containers[0].image = String::new();
    assert_eq!(check(&mut c), Ok(vec![]));
}

#[test]
fn duplicate_ports_move_below_4000() {
    let mut c = base();
    c.containers[0].url = "http://x".into();
    c.containers.push(container("b"));
    c.containers.push(container("c"));
    c.containers.push(ContainerConfig {
        port: 3999,
        ..container("d")
    });
    let warnings = check(&mut c).expect("valid");
    let ports: Vec<u16> = c.containers.iter().map(|x| x.port).collect();
    // 3999 is taken by 'd' (declared later), so the moved ports are 3998 and 3997.
    assert_eq!(ports, vec![3000, 3998, 3997, 3999]);
    assert_eq!(
        warnings,
        vec![
            format!(
                "config file '{FILE}': 'containers[0].url'/'bearer' are ignored because 'manage_containers' is true"
            ),
            format!(
                "config file '{FILE}': 'containers[1].port' 3000 is already used; container 'b' gets port 3998"
            ),
            format!(
                "config file '{FILE}': 'containers[2].port' 3000 is already used; container 'c' gets port 3997"
            ),
        ]
    );
}

#[test]
fn a_duplicate_port_with_no_free_port_left_is_an_error_not_a_wrap() {
    let mut c = base();
    // Every port from 1 to 3999 taken, then one more on 3000: nothing below 4000 is free.
    c.containers = (1..=3999u16)
        .map(|p| ContainerConfig {
            port: p,
            ..container(&format!("c{p}"))
        })
        .collect();
    c.containers.push(ContainerConfig {
        port: 3000,
        ..container("extra")
    });
    assert_eq!(
        check(&mut c),
        Err(key_error(
            "containers[3999].port",
            "3000 is already used and no free port below 4000 is left"
        ))
    );
}

#[test]
fn ports_are_moved_before_backends_are_checked() {
    let mut c = base();
    c.containers.push(container("b"));
    c.backends = vec![backend("")];
    assert!(check(&mut c).is_err_and(|e| e.contains("key 'backends[0].id'")));
    assert_eq!(c.containers[1].port, 3999);
}
