//! Every access rule, in one place. Order and messages follow Ritual's guardian (reference
//! ritual-node §6) so operators and clients see the same texts; status codes are ours.
use crate::config::{Config, validate::parse_net};
use ipnet::IpNet;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Debug, Clone)]
struct Rules {
    external: bool,
    generates_proofs: bool,
    allowed_ips: Vec<IpNet>,
    /// Lower-cased owner addresses allowed for on-chain subscriptions (empty: all).
    allowed_addresses: Vec<String>,
    /// The same for delegated (signed) subscriptions.
    allowed_delegate_addresses: Vec<String>,
}

/// Why a request was refused. `message()` is stable: clients and log greps rely on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    NoContainers,
    ContainerNotSupported { container: String },
    FirstNotExternal { first_container: String },
    NoProof { container: String },
    NotAllowedForAddress { container: String, address: String },
}

impl Rejection {
    pub fn message(&self) -> &'static str {
        match self {
            Rejection::NoContainers => "No containers specified",
            Rejection::ContainerNotSupported { .. } => "Container not supported",
            Rejection::FirstNotExternal { .. } => "First container must be external",
            Rejection::NoProof { .. } => "Container does not generate proof",
            Rejection::NotAllowedForAddress { .. } => "Container not allowed for address",
        }
    }

    pub fn params(&self) -> Value {
        match self {
            Rejection::NoContainers => json!({}),
            Rejection::ContainerNotSupported { container } => json!({"container": container}),
            Rejection::FirstNotExternal { first_container } => {
                json!({"first_container": first_container})
            }
            Rejection::NoProof { container } => json!({"container": container}),
            Rejection::NotAllowedForAddress { container, address } => {
                json!({"container": container, "address": address})
            }
        }
    }

    /// Malformed requests are 400; policy refusals are 403 (Ritual answers 405 for all).
    pub fn is_access_denied(&self) -> bool {
        matches!(
            self,
            Rejection::FirstNotExternal { .. }
                | Rejection::NoProof { .. }
                | Rejection::NotAllowedForAddress { .. }
        )
    }
}

/// Why an on-chain subscription is not served; the text is what operators see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnchainSkip {
    ContainerSetNotSupported,
    FirstNotExternal(String),
    NotAllowedForAddress { container: String, address: String },
    NoProof(String),
    PaymentsNotConfigured,
}

impl std::fmt::Display for OnchainSkip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OnchainSkip::ContainerSetNotSupported => f.write_str(
                "Container-set not supported: no configured pipeline hashes to this containerId",
            ),
            OnchainSkip::FirstNotExternal(c) => {
                write!(f, "First container must be external ('{c}')")
            }
            OnchainSkip::NotAllowedForAddress { container, address } => {
                write!(
                    f,
                    "Container not allowed for address ('{container}' does not list owner {address} in allowed_addresses)"
                )
            }
            OnchainSkip::NoProof(c) => write!(
                f,
                "Container does not generate proof ('{c}'; the subscription has a verifier)"
            ),
            OnchainSkip::PaymentsNotConfigured => f.write_str(
                "payments not configured: this node does not serve paid subscriptions yet",
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Guardian {
    rules: HashMap<String, Rules>,
    status_allowed: Vec<IpNet>,
}

impl Guardian {
    pub fn new(config: &Config) -> Self {
        let rules = config
            .containers
            .iter()
            .map(|c| {
                let r = Rules {
                    external: c.external,
                    generates_proofs: c.generates_proofs,
                    allowed_ips: c.allowed_ips.iter().filter_map(|s| parse_net(s)).collect(),
                    allowed_addresses: c
                        .allowed_addresses
                        .iter()
                        .map(|a| a.to_ascii_lowercase())
                        .collect(),
                    allowed_delegate_addresses: c
                        .allowed_delegate_addresses
                        .iter()
                        .map(|a| a.to_ascii_lowercase())
                        .collect(),
                };
                (c.id.clone(), r)
            })
            .chain(config.backends.iter().map(|b| {
                let r = Rules {
                    external: true,
                    generates_proofs: false,
                    allowed_ips: b.allowed_ips.iter().filter_map(|s| parse_net(s)).collect(),
                    allowed_addresses: Vec::new(),
                    allowed_delegate_addresses: Vec::new(),
                };
                (b.id.clone(), r)
            }))
            .collect();
        let status_allowed = config
            .server
            .status_allowed_ips
            .iter()
            .filter_map(|s| parse_net(s))
            .collect();
        Self {
            rules,
            status_allowed,
        }
    }

    /// Off-chain job rules, in Ritual's order.
    pub fn check_offchain(
        &self,
        containers: &[String],
        requires_proof: bool,
        client: IpAddr,
    ) -> Result<(), Rejection> {
        let Some(first) = containers.first() else {
            return Err(Rejection::NoContainers);
        };
        for c in containers {
            if !self.rules.contains_key(c) {
                return Err(Rejection::ContainerNotSupported {
                    container: c.clone(),
                });
            }
        }
        let rule = |id: &str| &self.rules[id];
        if !rule(first).external {
            return Err(Rejection::FirstNotExternal {
                first_container: first.clone(),
            });
        }
        if requires_proof {
            let last = &containers[containers.len() - 1];
            if !rule(last).generates_proofs {
                return Err(Rejection::NoProof {
                    container: last.clone(),
                });
            }
        }
        let client = canonical(client);
        for c in containers {
            let nets = &rule(c).allowed_ips;
            if !nets.is_empty() && !nets.iter().any(|n| n.contains(&client)) {
                return Err(Rejection::NotAllowedForAddress {
                    container: c.clone(),
                    address: client.to_string(),
                });
            }
        }
        Ok(())
    }

    /// On-chain subscription rules after the container set was resolved (reference ritual-node §6,
    /// in that order). `containers` is None when the hash names no configured pipeline.
    pub fn check_onchain(
        &self,
        containers: Option<&[String]>,
        owner: &str,
        requires_proof: bool,
        provides_payment: bool,
    ) -> Result<(), OnchainSkip> {
        self.check_subscription(containers, owner, requires_proof, provides_payment, false)
    }

    /// Delegated subscriptions: the same rules, with `allowed_delegate_addresses` for the owner
    /// (Ritual skips the payment rules here; we do not).
    pub fn check_delegated(
        &self,
        containers: Option<&[String]>,
        owner: &str,
        requires_proof: bool,
        provides_payment: bool,
    ) -> Result<(), OnchainSkip> {
        self.check_subscription(containers, owner, requires_proof, provides_payment, true)
    }

    fn check_subscription(
        &self,
        containers: Option<&[String]>,
        owner: &str,
        requires_proof: bool,
        provides_payment: bool,
        delegated: bool,
    ) -> Result<(), OnchainSkip> {
        let Some(containers) = containers.filter(|c| !c.is_empty()) else {
            return Err(OnchainSkip::ContainerSetNotSupported);
        };
        let Some(rules) = containers
            .iter()
            .map(|c| self.rules.get(c))
            .collect::<Option<Vec<_>>>()
        else {
            return Err(OnchainSkip::ContainerSetNotSupported);
        };
        if !rules[0].external {
            return Err(OnchainSkip::FirstNotExternal(containers[0].clone()));
        }
        let owner = owner.to_ascii_lowercase();
        for (c, r) in containers.iter().zip(&rules) {
            let allowed = if delegated {
                &r.allowed_delegate_addresses
            } else {
                &r.allowed_addresses
            };
            if !allowed.is_empty() && !allowed.contains(&owner) {
                return Err(OnchainSkip::NotAllowedForAddress {
                    container: c.clone(),
                    address: owner,
                });
            }
        }
        if requires_proof && !rules[rules.len() - 1].generates_proofs {
            return Err(OnchainSkip::NoProof(
                containers[containers.len() - 1].clone(),
            ));
        }
        if provides_payment {
            return Err(OnchainSkip::PaymentsNotConfigured);
        }
        Ok(())
    }

    /// `PUT /api/status` is for local containers: loopback, plus configured networks.
    /// (Ritual also trusts all of 192.168/16 and 172.17-19/16; we do not.)
    pub fn may_report_status(&self, client: IpAddr) -> bool {
        let client = canonical(client);
        client.is_loopback() || self.status_allowed.iter().any(|n| n.contains(&client))
    }
}

/// IPv4-mapped IPv6 peers (dual-stack sockets) are treated as their IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ContainerConfig;

    fn guardian() -> Guardian {
        let mut c = Config::default();
        let mk = |id: &str| ContainerConfig {
            id: id.into(),
            image: "x".into(),
            ..Default::default()
        };
        c.containers = vec![
            mk("a"),
            ContainerConfig {
                external: false,
                ..mk("internal")
            },
            ContainerConfig {
                generates_proofs: true,
                ..mk("prover")
            },
            ContainerConfig {
                allowed_ips: vec!["10.0.0.5/8".into(), "::1".into()],
                ..mk("fenced")
            },
            ContainerConfig {
                allowed_addresses: vec!["0xAbC0000000000000000000000000000000000001".into()],
                ..mk("owned")
            },
        ];
        c.server.status_allowed_ips = vec!["172.17.0.0/16".into()];
        Guardian::new(&c)
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn onchain_rules_in_ritual_order() {
        let g = guardian();
        let owner = "0xabc0000000000000000000000000000000000001";
        let other = "0x0000000000000000000000000000000000000002";
        assert_eq!(
            g.check_onchain(None, owner, false, false),
            Err(OnchainSkip::ContainerSetNotSupported)
        );
        assert_eq!(
            g.check_onchain(Some(&ids(&["internal", "a"])), owner, true, true),
            Err(OnchainSkip::FirstNotExternal("internal".into()))
        );
        // Owners compare case-insensitively; others are refused with the container named.
        assert!(
            g.check_onchain(Some(&ids(&["owned"])), owner, false, false)
                .is_ok()
        );
        assert_eq!(
            g.check_onchain(Some(&ids(&["a", "owned"])), other, false, false),
            Err(OnchainSkip::NotAllowedForAddress {
                container: "owned".into(),
                address: other.into()
            })
        );
        assert_eq!(
            g.check_onchain(Some(&ids(&["a"])), other, true, false),
            Err(OnchainSkip::NoProof("a".into()))
        );
        assert!(
            g.check_onchain(Some(&ids(&["a", "prover"])), other, true, false)
                .is_ok()
        );
        let paid = g
            .check_onchain(Some(&ids(&["a"])), other, false, true)
            .unwrap_err();
        assert_eq!(paid, OnchainSkip::PaymentsNotConfigured);
        assert!(paid.to_string().starts_with("payments not configured"));
    }

    #[test]
    fn rules_in_order_with_stable_messages() {
        let g = guardian();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(
            g.check_offchain(&[], false, ip).unwrap_err().message(),
            "No containers specified"
        );
        let e = g
            .check_offchain(&ids(&["internal", "nope"]), false, ip)
            .unwrap_err();
        assert_eq!(
            e,
            Rejection::ContainerNotSupported {
                container: "nope".into()
            }
        );
        let e = g
            .check_offchain(&ids(&["internal", "a"]), false, ip)
            .unwrap_err();
        assert_eq!(e.message(), "First container must be external");
        assert_eq!(e.params(), json!({"first_container": "internal"}));
        assert!(
            g.check_offchain(&ids(&["a", "internal"]), false, ip)
                .is_ok()
        );
        let e = g.check_offchain(&ids(&["a"]), true, ip).unwrap_err();
        assert_eq!(
            e,
            Rejection::NoProof {
                container: "a".into()
            }
        );
        assert!(g.check_offchain(&ids(&["a", "prover"]), true, ip).is_ok());
    }

    #[test]
    fn allowed_ips_are_networks_and_v4_mapped_peers_match() {
        let g = guardian();
        assert!(
            g.check_offchain(&ids(&["fenced"]), false, "10.200.1.1".parse().unwrap())
                .is_ok()
        );
        assert!(
            g.check_offchain(&ids(&["fenced"]), false, "::ffff:10.1.2.3".parse().unwrap())
                .is_ok()
        );
        assert!(
            g.check_offchain(&ids(&["fenced"]), false, "::1".parse().unwrap())
                .is_ok()
        );
        let e = g
            .check_offchain(&ids(&["fenced"]), false, "11.0.0.1".parse().unwrap())
            .unwrap_err();
        assert_eq!(
            e.params(),
            json!({"container": "fenced", "address": "11.0.0.1"})
        );
        assert!(e.is_access_denied());
    }

    #[test]
    fn status_reports_only_from_loopback_and_configured_networks() {
        let g = guardian();
        assert!(g.may_report_status("127.0.0.1".parse().unwrap()));
        assert!(g.may_report_status("::1".parse().unwrap()));
        assert!(g.may_report_status("172.17.0.3".parse().unwrap()));
        assert!(!g.may_report_status("192.168.1.10".parse().unwrap()));
        assert!(!g.may_report_status("172.18.0.2".parse().unwrap()));
        assert!(!g.may_report_status("203.0.113.7".parse().unwrap()));
    }
}
