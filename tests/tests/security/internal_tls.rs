//! Mutual TLS between the services: the stack works end to end through REST with every service
//! on TLS, and each gRPC service, called directly, refuses a caller without a certificate, with a
//! certificate of another authority, in plaintext, or with the certificate of a role that may
//! not call it (gateway -> analytics, cache, aggregator; analytics -> cache). A client also
//! refuses a server whose certificate names another role. The plaintext probe port answers
//! health and nothing else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use wellbeing_proto::cache::v1::StatsRequest;
use wellbeing_proto::cache::v1::cache_client::CacheClient;
use wellbeing_tests::{StackOptions, TestStack, daytime_zone};

/// Who calls: a role's certificate from `dir`, a TLS client without one, or plaintext.
#[derive(Clone, Copy, Debug)]
enum Caller<'a> {
    Role(&'a Path, &'static str),
    NoCertificate(&'a Path),
    Plaintext,
}

/// A channel to `addr` as `caller`, expecting the server to be `server_role`.
async fn connect(
    addr: SocketAddr,
    caller: Caller<'_>,
    server_role: &str,
) -> Result<tonic::transport::Channel, tonic::Status> {
    let read = |path: PathBuf| std::fs::read(&path).expect("a certificate file");
    let tls = match caller {
        Caller::Role(dir, role) => Some(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(read(dir.join(role).join("ca.crt"))))
                .identity(Identity::from_pem(
                    read(dir.join(role).join("tls.crt")),
                    read(dir.join(role).join("tls.key")),
                ))
                .domain_name(server_role),
        ),
        Caller::NoCertificate(dir) => Some(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(read(dir.join("ca.crt"))))
                .domain_name(server_role),
        ),
        Caller::Plaintext => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
        .expect("an address")
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2));
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).expect("a TLS configuration");
    }
    endpoint
        .connect()
        .await
        .map_err(|error| tonic::Status::unavailable(format!("{error:?}")))
}

/// A health check of the whole server at `addr`, as `caller`.
async fn health(
    addr: SocketAddr,
    caller: Caller<'_>,
    server_role: &str,
) -> Result<(), tonic::Status> {
    let channel = connect(addr, caller, server_role).await?;
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .map(|_| ())
}

fn assert_allowed(result: Result<(), tonic::Status>, what: &str) {
    if let Err(status) = result {
        panic!("{what} was refused: {status:?}");
    }
}

fn assert_denied(result: Result<(), tonic::Status>, what: &str) {
    let status = result.expect_err(what);
    assert_eq!(status.code(), Code::PermissionDenied, "{what}: {status:?}");
}

/// Refused before any call is made: no handshake, or none the server accepts.
fn assert_refused(result: Result<(), tonic::Status>, what: &str) {
    let status = result.expect_err(what);
    assert_ne!(status.code(), Code::PermissionDenied, "{what}: {status:?}");
}

#[tokio::test]
async fn the_services_accept_only_the_roles_that_may_call_them() -> anyhow::Result<()> {
    let root = std::env::temp_dir().join(format!("internal-tls-{}", uuid::Uuid::new_v4()));
    let ours = root.join("ours");
    let theirs = root.join("theirs");
    wellbeing_dev_certs::issue(&ours, &wellbeing_dev_certs::ROLES)?;
    wellbeing_dev_certs::issue(&theirs, &wellbeing_dev_certs::ROLES)?;
    let stack = TestStack::start_with(StackOptions {
        internal_tls: Some(ours.clone()),
        analytics_env: vec![("PROBE_ADDR".into(), "127.0.0.1:0".into())],
        ..Default::default()
    })
    .await?;

    // End to end through REST: gateway -> analytics -> cache, all on mutual TLS.
    // A zone where it is daytime: the record of the last 25 minutes stays within today.
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    assert_eq!(
        stack.api.write_and_read_screen_time(&user, 25.0).await?,
        25.0
    );
    let health_page = stack.api.get("/health", None).await?;
    assert_eq!(health_page.json["status"], "healthy", "{health_page:?}");

    let services = [
        ("analytics", stack.analytics_addr, &["gateway"][..]),
        ("cache", stack.cache_addr, &["gateway", "analytics"][..]),
        ("aggregator", stack.aggregator_addr, &["gateway"][..]),
    ];
    for (service, addr, allowed) in services {
        for role in wellbeing_dev_certs::ROLES {
            let result = health(addr, Caller::Role(&ours, role), service).await;
            let what = format!("{role} calling {service}");
            if allowed.contains(&role) {
                assert_allowed(result, &what);
            } else {
                assert_denied(result, &what);
            }
        }
        assert_refused(
            health(addr, Caller::NoCertificate(&ours), service).await,
            &format!("no certificate calling {service}"),
        );
        assert_refused(
            health(addr, Caller::Role(&theirs, "gateway"), service).await,
            &format!("another authority's gateway calling {service}"),
        );
        assert_refused(
            health(addr, Caller::Plaintext, service).await,
            &format!("plaintext to {service}"),
        );
    }

    // A call that reads data, not only health: the cache's statistics.
    let stats = |caller| async move {
        let channel = connect(stack.cache_addr, caller, "cache").await?;
        CacheClient::new(channel)
            .stats(StatsRequest {})
            .await
            .map(|_| ())
    };
    assert_allowed(stats(Caller::Role(&ours, "analytics")).await, "analytics");
    assert_denied(stats(Caller::Role(&ours, "aggregator")).await, "aggregator");

    // The gateway's certificate, expecting the cache service, reaches analytics: the client
    // refuses the server, so a wrong address cannot pass for another service.
    assert_refused(
        health(
            stack.analytics_addr,
            Caller::Role(&ours, "gateway"),
            "cache",
        )
        .await,
        "analytics answering as cache",
    );

    // Kubernetes probes: health in plaintext on its own port.
    let (_, probe) = stack.probe_addrs.first().expect("a probe port").clone();
    assert_allowed(
        health(probe, Caller::Plaintext, "analytics").await,
        "a probe",
    );
    let channel = connect(probe, Caller::Plaintext, "analytics").await?;
    let other = CacheClient::new(channel).stats(StatsRequest {}).await;
    assert_eq!(
        other.map(|_| ()).expect_err("only health").code(),
        Code::Unimplemented
    );

    stack.stop().await?;
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}
