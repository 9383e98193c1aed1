//! `infernet firewall`: the commands that open the REST API port, for ufw, firewalld,
//! nftables and iptables (printed, never run: firewall changes stay the operator's call).
use clap::Args;
use infernet::config::{self, Overrides};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct FirewallArgs {
    /// Port to open (default: server.port from the config, 4000)
    #[arg(long)]
    pub port: Option<u16>,
    /// Only allow this network (e.g. 10.0.0.0/8) instead of everyone
    #[arg(long, value_name = "CIDR")]
    pub from: Option<ipnet::IpNet>,
    #[arg(long)]
    pub json: bool,
}

pub const TOOLS: [(&str, &str); 4] = [
    ("ufw", "ufw"),
    ("firewalld", "firewall-cmd"),
    ("nftables", "nft"),
    ("iptables", "iptables"),
];

/// The commands per tool.
pub fn commands(port: u16, from: Option<&ipnet::IpNet>) -> Vec<(&'static str, Vec<String>)> {
    let v6 = from.is_some_and(|n| matches!(n, ipnet::IpNet::V6(_)));
    let (ipt, family) = if v6 {
        ("ip6tables", "ip6")
    } else {
        ("iptables", "ip")
    };
    let ufw = match from {
        Some(n) => format!(
            "sudo ufw allow from {n} to any port {port} proto tcp comment 'infernet REST API'"
        ),
        None => format!("sudo ufw allow {port}/tcp comment 'infernet REST API'"),
    };
    let firewalld = match from {
        Some(n) => format!(
            "sudo firewall-cmd --permanent --add-rich-rule='rule family=\"{}\" source address=\"{n}\" port port=\"{port}\" protocol=\"tcp\" accept'",
            if v6 { "ipv6" } else { "ipv4" }
        ),
        None => format!("sudo firewall-cmd --permanent --add-port={port}/tcp"),
    };
    let nft = match from {
        Some(n) => format!(
            "sudo nft add rule inet filter input {family} saddr {n} tcp dport {port} accept"
        ),
        None => format!("sudo nft add rule inet filter input tcp dport {port} accept"),
    };
    let iptables: Vec<String> = match from {
        Some(n) => vec![format!(
            "sudo {ipt} -I INPUT -p tcp -s {n} --dport {port} -j ACCEPT"
        )],
        None => vec![
            format!("sudo iptables -I INPUT -p tcp --dport {port} -j ACCEPT"),
            format!("sudo ip6tables -I INPUT -p tcp --dport {port} -j ACCEPT"),
        ],
    };
    vec![
        ("ufw", vec![ufw]),
        (
            "firewalld",
            vec![firewalld, "sudo firewall-cmd --reload".into()],
        ),
        ("nftables", vec![nft]),
        ("iptables", iptables),
    ]
}

pub fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| d.join(bin).is_file())
            || ["/usr/sbin", "/sbin"]
                .iter()
                .any(|d| Path::new(d).join(bin).is_file())
    })
}

/// The port and bind address from the config (defaults when there is none or it is broken).
pub fn configured_port(flag: Option<&Path>) -> (u16, String) {
    match config::load(flag, &Overrides::default()) {
        Ok(l) => (l.config.server.port, l.config.server.bind),
        Err(_) => (4000, String::new()),
    }
}

pub fn run(flag: Option<&Path>, args: FirewallArgs) -> ExitCode {
    let (cfg_port, bind) = configured_port(flag);
    let port = args.port.unwrap_or(cfg_port);
    let detected: Vec<&str> = TOOLS
        .iter()
        .filter(|(_, bin)| on_path(bin))
        .map(|(name, _)| *name)
        .collect();
    let cmds = commands(port, args.from.as_ref());
    let loopback = bind.starts_with("127.") || bind == "::1" || bind == "localhost";
    if args.json {
        let c: serde_json::Map<String, serde_json::Value> = cmds
            .iter()
            .map(|(t, c)| (t.to_string(), json!(c)))
            .collect();
        outln!(
            "{}",
            json!({"port": port, "bind": bind, "detected": detected, "commands": c})
        );
        return ExitCode::SUCCESS;
    }
    outln!(
        "Open TCP {port} (the REST API) for clients on other machines. Run the lines for your firewall:"
    );
    if loopback {
        outln!(
            "note: server.bind is {bind}, so the API only answers on this machine; set server.bind to 0.0.0.0 first"
        );
    }
    match detected.as_slice() {
        [] => outln!("(no ufw, firewalld, nftables or iptables found on this machine)"),
        d => outln!("found here: {}", d.join(", ")),
    }
    for (tool, lines) in &cmds {
        let mark = if detected.contains(tool) {
            " (found here)"
        } else {
            ""
        };
        outln!("\n# {tool}{mark}");
        for l in lines {
            outln!("{l}");
        }
    }
    if args.from.is_none() {
        outln!("\nTo allow one network only: infernet firewall --from 10.0.0.0/8");
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_for_every_tool_open_the_port() {
        let c = commands(4000, None);
        let names: Vec<&str> = c.iter().map(|(t, _)| *t).collect();
        assert_eq!(names, ["ufw", "firewalld", "nftables", "iptables"]);
        assert_eq!(
            c[0].1,
            ["sudo ufw allow 4000/tcp comment 'infernet REST API'"]
        );
        assert_eq!(
            c[1].1[0],
            "sudo firewall-cmd --permanent --add-port=4000/tcp"
        );
        assert_eq!(
            c[2].1,
            ["sudo nft add rule inet filter input tcp dport 4000 accept"]
        );
        assert_eq!(c[3].1.len(), 2);
        let net: ipnet::IpNet = "10.0.0.0/8".parse().unwrap();
        let r = commands(4100, Some(&net));
        assert_eq!(
            r[0].1,
            [
                "sudo ufw allow from 10.0.0.0/8 to any port 4100 proto tcp comment 'infernet REST API'"
            ]
        );
        assert!(r[1].1[0].contains("source address=\"10.0.0.0/8\" port port=\"4100\""));
        assert_eq!(
            r[2].1,
            ["sudo nft add rule inet filter input ip saddr 10.0.0.0/8 tcp dport 4100 accept"]
        );
        assert_eq!(
            r[3].1,
            ["sudo iptables -I INPUT -p tcp -s 10.0.0.0/8 --dport 4100 -j ACCEPT"]
        );
        let v6: ipnet::IpNet = "fd00::/8".parse().unwrap();
        assert!(commands(4000, Some(&v6))[3].1[0].starts_with("sudo ip6tables"));
    }
}
