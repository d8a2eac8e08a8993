//! Configuration comes from environment variables, each with a documented default. A value that
//! cannot be used stops the binary at start with one line naming the variable.

use std::fmt::Display;
use std::str::FromStr;

/// A variable that is set but unusable.
#[derive(Debug, thiserror::Error)]
#[error("invalid value {value:?} for {name}: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub value: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(name: &str, value: &str, reason: impl Display) -> Self {
        Self {
            name: name.to_owned(),
            value: value.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// Where variables are read from: the process environment, or a fixed list (tests).
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct Env;

impl Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Source for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    }
}

/// The string value of `name`, or `default` when unset.
pub fn string(source: &(impl Source + ?Sized), name: &str, default: &str) -> String {
    source.get(name).unwrap_or_else(|| default.to_owned())
}

/// The parsed value of `name`, or `default` when unset or empty.
pub fn parsed<T>(source: &(impl Source + ?Sized), name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match source.get(name) {
        Some(raw) if !raw.trim().is_empty() => raw
            .trim()
            .parse()
            .map_err(|error| ConfigError::new(name, &raw, error)),
        _ => Ok(default),
    }
}

/// An `on`/`off` switch (also `true`/`false`, `1`/`0`), or `default` when unset or empty.
pub fn switch(
    source: &(impl Source + ?Sized),
    name: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match source.get(name).as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some("on" | "true" | "1") => Ok(true),
        Some("off" | "false" | "0") => Ok(false),
        Some(other) => Err(ConfigError::new(name, other, "must be on or off")),
    }
}

/// A `host:port` listen address; a bare `:port` means all interfaces.
pub fn listen_addr(
    source: &(impl Source + ?Sized),
    name: &str,
    default: &str,
) -> Result<std::net::SocketAddr, ConfigError> {
    let raw = string(source, name, default);
    let normalised = if raw.starts_with(':') {
        format!("0.0.0.0{raw}")
    } else {
        raw.clone()
    };
    normalised
        .parse()
        .map_err(|_| ConfigError::new(name, &raw, "expected host:port, e.g. 127.0.0.1:8080"))
}

/// An optional `host:port` listen address: unset or empty means none.
pub fn optional_listen_addr(
    source: &(impl Source + ?Sized),
    name: &str,
) -> Result<Option<std::net::SocketAddr>, ConfigError> {
    match source.get(name) {
        Some(raw) if !raw.trim().is_empty() => listen_addr(source, name, "").map(Some),
        _ => Ok(None),
    }
}

/// Binds `addr` when set, at build time with the service's main port, so a port that cannot be
/// bound stops the service at start with the variable's name.
pub fn bind_optional(
    name: &str,
    addr: Option<std::net::SocketAddr>,
) -> anyhow::Result<Option<std::net::TcpListener>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|error| anyhow::anyhow!("failed to bind {name} {addr}: {error}"))?;
    Ok(Some(listener))
}

/// A comma-separated list of upstream endpoints, each made into an `http://` URI.
pub fn endpoints(
    source: &(impl Source + ?Sized),
    name: &str,
    default: &str,
) -> Result<Vec<String>, ConfigError> {
    let raw = string(source, name, default);
    let list: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            if part.contains("://") {
                part.to_owned()
            } else {
                format!("http://{part}")
            }
        })
        .collect();
    if list.is_empty() {
        return Err(ConfigError::new(
            name,
            &raw,
            "at least one address is needed",
        ));
    }
    for endpoint in &list {
        endpoint
            .parse::<http::Uri>()
            .map_err(|error| ConfigError::new(name, &raw, error))?;
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_and_empty_values_take_the_default() {
        let source: &[(&str, &str)] = &[("EMPTY", " ")];
        assert_eq!(parsed(source, "MISSING", 7u32).unwrap(), 7);
        assert_eq!(parsed(source, "EMPTY", 7u32).unwrap(), 7);
    }

    #[test]
    fn a_bad_number_names_the_variable() {
        let source: &[(&str, &str)] = &[("CACHE_TTL", "five")];
        let error = parsed(source, "CACHE_TTL", 300u64).unwrap_err();
        assert!(error.to_string().contains("CACHE_TTL"), "{error}");
    }

    #[test]
    fn bare_port_listens_on_all_interfaces() {
        let source: &[(&str, &str)] = &[("ADDR", ":50051")];
        assert_eq!(
            listen_addr(source, "ADDR", "127.0.0.1:1").unwrap(),
            "0.0.0.0:50051".parse().unwrap()
        );
        let bad: &[(&str, &str)] = &[("ADDR", "nowhere")];
        assert!(listen_addr(bad, "ADDR", "127.0.0.1:1").is_err());
    }

    #[test]
    fn endpoints_are_split_and_given_a_scheme() {
        let source: &[(&str, &str)] = &[("UP", "10.0.0.1:1, http://b:2")];
        assert_eq!(
            endpoints(source, "UP", "x:1").unwrap(),
            vec!["http://10.0.0.1:1".to_owned(), "http://b:2".to_owned()]
        );
        let empty: &[(&str, &str)] = &[("UP", " , ")];
        assert!(endpoints(empty, "UP", "x:1").is_err());
    }
}
