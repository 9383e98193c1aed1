//! Who is calling: the TCP peer, or the `X-Forwarded-For` client when (and only when) the
//! peer is a configured trusted proxy. Every rule (rate limit, guardian, result scoping)
//! uses this one address.
use crate::guardian::canonical;
use ipnet::IpNet;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

pub fn resolve(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    // Walk from the nearest hop back; the first address not ours is the client.
    let mut client = peer;
    for part in header.rsplit(',') {
        match part.trim().parse::<IpAddr>() {
            Ok(ip) => {
                let ip = canonical(ip);
                client = ip;
                if !is_trusted(&ip) {
                    return ip;
                }
            }
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(resolve(peer, Some("1.2.3.4"), &trusted), peer);
        let proxy: IpAddr = "10.1.1.1".parse().unwrap();
        assert_eq!(
            resolve(proxy, Some("1.2.3.4"), &trusted),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        // A client cannot prepend a fake hop: the rightmost untrusted address wins.
        assert_eq!(
            resolve(proxy, Some("6.6.6.6, 1.2.3.4, 10.0.0.7"), &trusted),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        assert_eq!(resolve(proxy, Some("garbage"), &trusted), proxy);
        // Two header lines arrive joined: the client's own line is the leftmost, never used.
        assert_eq!(
            resolve(proxy, Some("198.51.100.7,203.0.113.5"), &trusted),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        // An unreadable (non-text) line stops the walk: the address before it stands.
        assert_eq!(
            resolve(proxy, Some("198.51.100.7,unreadable,10.0.0.3"), &trusted),
            "10.0.0.3".parse::<IpAddr>().unwrap()
        );
        assert_eq!(resolve(proxy, None, &trusted), proxy);
    }
}
