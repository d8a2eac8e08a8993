//! Who a client is, by address, for the limits keyed on it: the peer of the connection, or,
//! when that peer is a proxy the operator trusts (`TRUSTED_PROXIES`), the address the proxies
//! say they forwarded for. A forwarding header from any other peer is ignored: anyone can write
//! one. Behind an ingress, without this, every anonymous client shared the proxy's address and
//! one client's junk could spend everyone's sign-in allowance.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use axum::extract::ConnectInfo;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Request, header};
use ipnet::IpNet;

/// A list of networks (`10.0.0.0/8`) and single addresses.
#[derive(Debug, Clone, Default)]
pub struct Networks {
    networks: Vec<IpNet>,
}

impl FromStr for Networks {
    type Err = String;

    /// Comma-separated networks (`10.0.0.0/8`) or single addresses; empty: none.
    fn from_str(text: &str) -> Result<Self, String> {
        let networks = text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{item:?} is neither an address nor a network"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { networks })
    }
}

impl Networks {
    pub fn contains(&self, address: IpAddr) -> bool {
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }
}

/// The networks whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Networks,
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Ok(Self {
            networks: text.parse()?,
        })
    }
}

impl TrustedProxies {
    fn trusts(&self, address: IpAddr) -> bool {
        self.networks.contains(address)
    }

    /// The client of `request`: walking the forwarding chain back from the peer, the first
    /// hop that is not a trusted proxy. A hop that is not an address (`unknown`, an obfuscated
    /// name) ends the walk at the last trusted proxy, which is then counted as the client.
    pub fn client_of<T>(&self, request: &Request<T>) -> IpAddr {
        let mut client = peer_address(request);
        if !self.trusts(client) {
            return client;
        }
        for hop in forwarded_chain(request.headers()).iter().rev() {
            match hop {
                Some(address) if self.trusts(*address) => client = *address,
                Some(address) => return *address,
                None => return client,
            }
        }
        client
    }
}

/// The peer address; requests made in-process (router tests) share the unspecified address.
fn peer_address<T>(request: &Request<T>) -> IpAddr {
    let extensions = request.extensions();
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
        .or_else(|| {
            extensions
                .get::<MockConnectInfo<SocketAddr>>()
                .map(|MockConnectInfo(address)| address.ip())
        })
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The hops a request went through before the peer, farthest first: RFC 7239 `Forwarded`
/// (its `for=` parameters) when present, else `X-Forwarded-For`; `None` for a hop that is not
/// an address.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let joined = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
    };
    let forwarded = joined(header::FORWARDED.as_str());
    if !forwarded.trim().is_empty() {
        return forwarded
            .split(',')
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, value)| node_address(value))
            })
            .collect();
    }
    joined("x-forwarded-for")
        .split(',')
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .map(node_address)
        .collect()
}

/// An address written as a node: `192.0.2.1`, `"192.0.2.1:47011"`, `"[2001:db8::1]:4711"`,
/// `2001:db8::1`.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(address);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.parse::<SocketAddr>().ok().map(|address| address.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(peer: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder();
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(()).expect("request");
        let peer: SocketAddr = format!("{peer}:5000").parse().expect("peer");
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn a_header_counts_only_from_a_trusted_peer() {
        let trusted: TrustedProxies = "10.0.0.0/8, 192.168.1.7".parse().expect("list");
        let spoofed = request("203.0.113.9", &[("x-forwarded-for", "198.51.100.1")]);
        assert_eq!(trusted.client_of(&spoofed), ip("203.0.113.9"));
        let forwarded = request("10.1.2.3", &[("x-forwarded-for", "198.51.100.1")]);
        assert_eq!(trusted.client_of(&forwarded), ip("198.51.100.1"));
        let none = TrustedProxies::default();
        assert_eq!(none.client_of(&forwarded), ip("10.1.2.3"));
    }

    #[test]
    fn the_chain_is_walked_back_past_trusted_proxies_only() {
        let trusted: TrustedProxies = "10.0.0.0/8,192.168.1.7".parse().expect("list");
        // The client wrote a fake first hop; the proxies appended the real ones.
        let chain = request(
            "10.0.0.1",
            &[("x-forwarded-for", "1.2.3.4, 198.51.100.1, 192.168.1.7")],
        );
        assert_eq!(trusted.client_of(&chain), ip("198.51.100.1"));
        // Two header lines are one list, in order.
        let split = request(
            "10.0.0.1",
            &[
                ("x-forwarded-for", "1.2.3.4"),
                ("x-forwarded-for", "198.51.100.2"),
            ],
        );
        assert_eq!(trusted.client_of(&split), ip("198.51.100.2"));
        // Every hop trusted: the farthest.
        let inside = request("10.0.0.1", &[("x-forwarded-for", "10.9.9.9")]);
        assert_eq!(trusted.client_of(&inside), ip("10.9.9.9"));
        // Not an address: the walk stops at the last trusted proxy.
        let unknown = request("10.0.0.1", &[("x-forwarded-for", "unknown")]);
        assert_eq!(trusted.client_of(&unknown), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_takes_precedence_and_its_nodes_are_parsed() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().expect("list");
        let v6 = request(
            "10.0.0.1",
            &[
                ("forwarded", "for=\"[2001:db8:cafe::17]:4711\";proto=https"),
                ("x-forwarded-for", "198.51.100.1"),
            ],
        );
        assert_eq!(trusted.client_of(&v6), ip("2001:db8:cafe::17"));
        let v4 = request(
            "10.0.0.1",
            &[(
                "forwarded",
                "for=192.0.2.60:47011;by=10.0.0.1, For=10.2.2.2",
            )],
        );
        assert_eq!(trusted.client_of(&v4), ip("192.0.2.60"));
        let hidden = request("10.0.0.1", &[("forwarded", "for=_hidden")]);
        assert_eq!(trusted.client_of(&hidden), ip("10.0.0.1"));
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.internal".parse::<TrustedProxies>().is_err());
        assert!("".parse::<TrustedProxies>().is_ok());
    }
}
