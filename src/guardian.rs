//! Every access rule, in one place. Order and messages follow Ritual's guardian (reference
//! ritual-node §6) so operators and clients see the same texts; status codes are ours.
use crate::config::{Config, validate::parse_net};
use alloy::primitives::U256;
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
    /// Lower-cased token address -> minimum payment (empty: any token, any amount).
    accepted_payments: Vec<(String, U256)>,
}

/// What a subscription pays, for the payment rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// Token address (the zero address is ETH).
    pub token: String,
    pub amount: U256,
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
    NoPaymentAddress,
    TokenNotAccepted { token: String, container: String },
    BelowMinimum { amount: U256, minimum: U256 },
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
            OnchainSkip::NoPaymentAddress => f.write_str(
                "No payment address provided for the node (set chain.wallet.payment_address to this node's Wallet: `infernet wallet create`)",
            ),
            OnchainSkip::TokenNotAccepted { token, container } => {
                write!(f, "Token {token} not accepted for container {container}")
            }
            OnchainSkip::BelowMinimum { amount, minimum } => write!(
                f,
                "Payment {amount} below minimum payment requirements ({minimum} for this pipeline)"
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Guardian {
    rules: HashMap<String, Rules>,
    status_allowed: Vec<IpNet>,
    /// `chain.wallet.payment_address` is set.
    has_payment_address: bool,
}

/// A configured minimum (decimal or 0x hex; validated when the config loads).
fn parse_amount(s: &str) -> U256 {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(h) => U256::from_str_radix(h, 16),
        None => U256::from_str_radix(s, 10),
    }
    .unwrap_or(U256::MAX)
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
                    accepted_payments: c
                        .accepted_payments
                        .iter()
                        .map(|(t, m)| (t.to_ascii_lowercase(), parse_amount(m)))
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
                    accepted_payments: Vec::new(),
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
            has_payment_address: config
                .chain
                .wallet
                .payment_address
                .as_deref()
                .is_some_and(|a| !a.is_empty()),
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
        payment: Option<&Payment>,
    ) -> Result<(), OnchainSkip> {
        self.check_subscription(containers, owner, requires_proof, payment, false)
    }

    /// Delegated subscriptions: the same rules, with `allowed_delegate_addresses` for the owner
    /// (Ritual skips the payment rules here; we do not).
    pub fn check_delegated(
        &self,
        containers: Option<&[String]>,
        owner: &str,
        requires_proof: bool,
        payment: Option<&Payment>,
    ) -> Result<(), OnchainSkip> {
        self.check_subscription(containers, owner, requires_proof, payment, true)
    }

    fn check_subscription(
        &self,
        containers: Option<&[String]>,
        owner: &str,
        requires_proof: bool,
        payment: Option<&Payment>,
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
        // Payment rules (reference ritual-node §6 rule 6), in that order.
        if let Some(p) = payment.filter(|p| !p.amount.is_zero()) {
            if !self.has_payment_address {
                return Err(OnchainSkip::NoPaymentAddress);
            }
            let token = p.token.to_ascii_lowercase();
            let mut minimum = U256::ZERO;
            for (c, r) in containers.iter().zip(&rules) {
                if r.accepted_payments.is_empty() {
                    continue;
                }
                match r.accepted_payments.iter().find(|(t, _)| *t == token) {
                    Some((_, m)) => minimum = minimum.saturating_add(*m),
                    None => {
                        return Err(OnchainSkip::TokenNotAccepted {
                            token: p.token.clone(),
                            container: c.clone(),
                        });
                    }
                }
            }
            if p.amount < minimum {
                return Err(OnchainSkip::BelowMinimum {
                    amount: p.amount,
                    minimum,
                });
            }
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
            g.check_onchain(None, owner, false, None),
            Err(OnchainSkip::ContainerSetNotSupported)
        );
        assert_eq!(
            g.check_onchain(Some(&ids(&["internal", "a"])), owner, true, None),
            Err(OnchainSkip::FirstNotExternal("internal".into()))
        );
        // Owners compare case-insensitively; others are refused with the container named.
        assert!(
            g.check_onchain(Some(&ids(&["owned"])), owner, false, None)
                .is_ok()
        );
        assert_eq!(
            g.check_onchain(Some(&ids(&["a", "owned"])), other, false, None),
            Err(OnchainSkip::NotAllowedForAddress {
                container: "owned".into(),
                address: other.into()
            })
        );
        assert_eq!(
            g.check_onchain(Some(&ids(&["a"])), other, true, None),
            Err(OnchainSkip::NoProof("a".into()))
        );
        assert!(
            g.check_onchain(Some(&ids(&["a", "prover"])), other, true, None)
                .is_ok()
        );
        let eth = Payment {
            token: "0x0000000000000000000000000000000000000000".into(),
            amount: U256::from(5),
        };
        let paid = g
            .check_onchain(Some(&ids(&["a"])), other, false, Some(&eth))
            .unwrap_err();
        assert_eq!(paid, OnchainSkip::NoPaymentAddress);
        assert!(paid.to_string().starts_with("No payment address provided"));
    }

    #[test]
    fn payment_rules_token_then_minimum_summed_over_the_pipeline() {
        let mut c = Config::default();
        c.chain.wallet.payment_address = Some("0x60985ee8192B322c3CAbA97A9A9f7298bdc4335C".into());
        let token = "0x1111111111111111111111111111111111111111";
        let mk = |id: &str, pay: &[(&str, &str)]| ContainerConfig {
            id: id.into(),
            image: "x".into(),
            accepted_payments: pay
                .iter()
                .map(|(t, m)| (t.to_string(), m.to_string()))
                .collect(),
            ..Default::default()
        };
        c.containers = vec![
            mk("free", &[]),
            mk(
                "eth",
                &[("0x0000000000000000000000000000000000000000", "100")],
            ),
            mk(
                "tok",
                &[
                    (token, "1000000000000000000"),
                    ("0x0000000000000000000000000000000000000000", "7"),
                ],
            ),
        ];
        let g = Guardian::new(&c);
        let owner = "0x0000000000000000000000000000000000000002";
        let pay = |t: &str, a: u64| Payment {
            token: t.into(),
            amount: U256::from(a),
        };
        let eth0 = "0x0000000000000000000000000000000000000000";
        // No accepted_payments: anything goes.
        assert!(
            g.check_onchain(Some(&ids(&["free"])), owner, false, Some(&pay(token, 1)))
                .is_ok()
        );
        assert_eq!(
            g.check_onchain(
                Some(&ids(&["free", "eth"])),
                owner,
                false,
                Some(&pay(token, 1))
            ),
            Err(OnchainSkip::TokenNotAccepted {
                token: token.into(),
                container: "eth".into()
            })
        );
        // Minimums add up over the pipeline: 100 + 7.
        let below = g
            .check_onchain(
                Some(&ids(&["eth", "tok"])),
                owner,
                false,
                Some(&pay(eth0, 106)),
            )
            .unwrap_err();
        assert_eq!(
            below,
            OnchainSkip::BelowMinimum {
                amount: U256::from(106),
                minimum: U256::from(107)
            }
        );
        assert!(
            below
                .to_string()
                .contains("below minimum payment requirements")
        );
        assert!(
            g.check_onchain(
                Some(&ids(&["eth", "tok"])),
                owner,
                false,
                Some(&pay(eth0, 107))
            )
            .is_ok()
        );
        // Token addresses compare case-insensitively; uint256 minimums.
        let upper = "0x1111111111111111111111111111111111111111"
            .to_uppercase()
            .replace("0X", "0x");
        assert!(
            g.check_onchain(
                Some(&ids(&["tok"])),
                owner,
                false,
                Some(&Payment {
                    token: upper,
                    amount: U256::from(10).pow(U256::from(18))
                })
            )
            .is_ok()
        );
        assert!(
            g.check_delegated(Some(&ids(&["tok"])), owner, false, Some(&pay(token, 5)))
                .is_err()
        );
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
