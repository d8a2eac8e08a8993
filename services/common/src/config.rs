//! Configuration comes from environment variables, each with a documented default, declared once
//! per binary as a clap `Parser` whose every setting has `env = "NAME"` (also accepted as the
//! flag `--name`), so `<binary> --help` lists them all. A value that cannot be used stops the
//! binary at start with one line naming the variable.
//!
//! A variable set to an empty (or blank) value counts as unset, so its default applies, except
//! for the few whose binary says an empty value means something (`REDIS_URL=`: no Redis).
//! In-process stacks (tests, benchmarks) give the variables as `NAME=value` pairs instead
//! ([`from_pairs`]), without reading the process environment.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Display;
use std::net::SocketAddr;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Command, Parser};

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

/// `A` from the command line and the environment, as `main` reads it: `--help` and `--version`
/// print and exit 0; anything unusable prints one line (naming the variable) and exits 2.
/// `empty_is_a_value` names the variables whose empty value is not "unset".
pub fn parse_or_exit<A: Parser>(empty_is_a_value: &[&str]) -> A {
    match from_env(empty_is_a_value) {
        Ok(args) => args,
        Err(Refusal::Shown(error)) => error.exit(),
        Err(Refusal::Invalid(error)) => {
            eprintln!("error: {error}");
            std::process::exit(2)
        }
    }
}

/// Why the settings were not read.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// `--help` or `--version`: clap's text to show.
    #[error("{0}")]
    Shown(clap::Error),
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

/// `A` from the command line and the environment (see [`parse_or_exit`]).
fn from_env<A: Parser>(empty_is_a_value: &[&str]) -> Result<A, Refusal> {
    let declared = A::command();
    let command = declared.clone().mut_args(|arg| {
        let blank = arg.get_env().is_some_and(|name| {
            !empty_is_a_value.iter().any(|kept| name == *kept)
                && std::env::var_os(name)
                    .is_some_and(|value| value.to_string_lossy().trim().is_empty())
        });
        if blank { arg.env(None) } else { arg }
    });
    parse(&command, std::env::args_os()).map_err(|error| match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Refusal::Shown(error),
        _ => Refusal::Invalid(refusal(&declared, &error)),
    })
}

/// `A` from `NAME=value` pairs alone (names the binary does not read are ignored, a later pair
/// wins); neither the process environment nor the command line is read.
pub fn from_pairs<A: Parser>(
    pairs: &[(&str, &str)],
    empty_is_a_value: &[&str],
) -> Result<A, ConfigError> {
    let declared = A::command();
    let flags: HashMap<String, String> = declared
        .get_arguments()
        .filter_map(|arg| {
            let name = arg.get_env()?.to_string_lossy().into_owned();
            Some((name, arg.get_long()?.to_owned()))
        })
        .collect();
    let command = declared
        .clone()
        .args_override_self(true)
        .mut_args(|arg| arg.env(None));
    let mut argv = vec![OsString::from(command.get_name())];
    for (name, value) in pairs {
        let Some(long) = flags.get(*name) else {
            continue;
        };
        if value.trim().is_empty() && !empty_is_a_value.contains(name) {
            continue;
        }
        argv.push(format!("--{long}={value}").into());
    }
    parse(&command, argv).map_err(|error| refusal(&declared, &error))
}

fn parse<A: Parser>(
    command: &Command,
    argv: impl IntoIterator<Item = OsString>,
) -> Result<A, clap::Error> {
    let mut matches = command.clone().try_get_matches_from(argv)?;
    A::from_arg_matches_mut(&mut matches)
}

/// clap's refusal as one line naming the variable of the flag it is about (`declared`: the
/// command with every variable still attached).
fn refusal(command: &Command, error: &clap::Error) -> ConfigError {
    let context = |kind| match error.get(kind) {
        Some(ContextValue::String(text)) => Some(text.as_str()),
        _ => None,
    };
    // The flag as clap shows it: `--rate-limit-per-minute <RATE_LIMIT_PER_MINUTE>`.
    let variable = context(ContextKind::InvalidArg).and_then(|shown| {
        let long = shown.trim_start_matches('-').split([' ', '=']).next()?;
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(long))?;
        Some(arg.get_env()?.to_string_lossy().into_owned())
    });
    let first_line = || {
        let rendered = error.render().to_string();
        let line = rendered.lines().next().unwrap_or_default();
        line.trim_start_matches("error: ").to_owned()
    };
    match variable {
        Some(name) => {
            let reason = std::error::Error::source(error)
                .map(ToString::to_string)
                .unwrap_or_else(first_line);
            ConfigError::new(
                &name,
                context(ContextKind::InvalidValue).unwrap_or(""),
                reason,
            )
        }
        None => ConfigError::new("the command line", "", first_line()),
    }
}

/// Parses an `on`/`off` switch (also `true`/`false`, `1`/`0`).
pub fn switch(raw: &str) -> Result<bool, String> {
    match raw.trim() {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err("must be on or off".to_owned()),
    }
}

/// Parses a `host:port` listen address; a bare `:port` means all interfaces.
pub fn listen_addr(raw: &str) -> Result<SocketAddr, String> {
    let raw = raw.trim();
    let normalised = match raw.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => raw.to_owned(),
    };
    normalised
        .parse()
        .map_err(|_| "expected host:port, e.g. 127.0.0.1:8080".to_owned())
}

/// A comma-separated list of upstream endpoints, each made into an `http://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints(pub Vec<String>);

/// Parses [`Endpoints`]: at least one, each a valid URI.
pub fn endpoints(raw: &str) -> Result<Endpoints, String> {
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
        return Err("at least one address is needed".to_owned());
    }
    for endpoint in &list {
        endpoint
            .parse::<http::Uri>()
            .map_err(|error| error.to_string())?;
    }
    Ok(Endpoints(list))
}

/// A PostgreSQL URL from `name`; its value is never shown (it may hold a password).
pub fn postgres_url(name: &str, url: &str) -> Result<String, ConfigError> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url.to_owned())
    } else {
        Err(ConfigError::new(
            name,
            "<hidden>",
            "expected a postgres:// URL",
        ))
    }
}

/// Binds `addr` when set, at build time with the service's main port, so a port that cannot be
/// bound stops the service at start with the variable's name.
pub fn bind_optional(
    name: &str,
    addr: Option<SocketAddr>,
) -> anyhow::Result<Option<std::net::TcpListener>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|error| anyhow::anyhow!("failed to bind {name} {addr}: {error}"))?;
    Ok(Some(listener))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary's settings in miniature.
    #[derive(Parser, Debug)]
    #[command(name = "example")]
    struct Example {
        /// seconds a view lives
        #[arg(long, env = "CACHE_TTL", default_value_t = 300)]
        cache_ttl: u32,
        /// where to listen
        #[arg(long, env = "ADDR", default_value = "127.0.0.1:1", value_parser = listen_addr)]
        addr: SocketAddr,
        /// empty is meaningful
        #[arg(long, env = "STORE", default_value = "redis://x")]
        store: String,
        #[arg(long, env = "UP", default_value = "x:1", value_parser = endpoints)]
        up: Endpoints,
    }

    #[test]
    fn unset_and_empty_values_take_the_default_unless_empty_means_something() {
        let example: Example =
            from_pairs(&[("CACHE_TTL", " "), ("STORE", "")], &["STORE"]).unwrap();
        assert_eq!(example.cache_ttl, 300);
        assert_eq!(example.store, "");
        let example: Example = from_pairs(&[("STORE", "")], &[]).unwrap();
        assert_eq!(example.store, "redis://x");
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let error = from_pairs::<Example>(&[("CACHE_TTL", "five")], &[]).unwrap_err();
        assert_eq!(error.name, "CACHE_TTL");
        assert_eq!(error.value, "five");
        assert!(error.to_string().contains("CACHE_TTL"), "{error}");
        assert!(!error.to_string().contains('\n'), "{error}");
        let error = from_pairs::<Example>(&[("ADDR", "nowhere")], &[]).unwrap_err();
        assert_eq!(error.name, "ADDR");
        assert!(error.reason.contains("host:port"), "{error}");
    }

    #[test]
    fn a_later_pair_wins_and_unknown_names_are_ignored() {
        let example: Example = from_pairs(
            &[("CACHE_TTL", "5"), ("ELSEWHERE", "x"), ("CACHE_TTL", "6")],
            &[],
        )
        .unwrap();
        assert_eq!(example.cache_ttl, 6);
    }

    #[test]
    fn bare_port_listens_on_all_interfaces() {
        let example: Example = from_pairs(&[("ADDR", ":50051")], &[]).unwrap();
        assert_eq!(example.addr, "0.0.0.0:50051".parse().unwrap());
    }

    #[test]
    fn endpoints_are_split_and_given_a_scheme() {
        let example: Example = from_pairs(&[("UP", "10.0.0.1:1, http://b:2")], &[]).unwrap();
        assert_eq!(
            example.up.0,
            vec!["http://10.0.0.1:1".to_owned(), "http://b:2".to_owned()]
        );
        assert_eq!(
            from_pairs::<Example>(&[("UP", " , ")], &[])
                .unwrap_err()
                .name,
            "UP"
        );
    }
}
