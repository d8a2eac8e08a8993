//! Which services may call this one. Under mutual TLS the handshake has already proved that the
//! caller holds a certificate of the shared authority; this layer answers `PERMISSION_DENIED` to
//! every call whose certificate does not name one of the allowed roles, before any handler
//! runs. Without TLS there is no certificate to read and every call passes (tests only).

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use rustls_pki_types::{CertificateDer, ServerName};
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use crate::internal_tls::{Role, Transport};

/// The [`tower::Layer`] every gRPC server of wellbeing is built with (see
/// [`crate::grpc::server`]).
#[derive(Clone, Debug)]
pub struct AllowedCallersLayer {
    allowed: Option<&'static [Role]>,
}

impl AllowedCallersLayer {
    /// `allowed` is checked only when `transport` is TLS.
    pub fn new(transport: &Transport, allowed: &'static [Role]) -> Self {
        Self {
            allowed: transport.is_tls().then_some(allowed),
        }
    }
}

impl<S> tower::Layer<S> for AllowedCallersLayer {
    type Service = AllowedCallers<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AllowedCallers {
            inner,
            allowed: self.allowed,
        }
    }
}

#[derive(Clone, Debug)]
pub struct AllowedCallers<S> {
    inner: S,
    allowed: Option<&'static [Role]>,
}

impl<S> tower::Service<http::Request<Body>> for AllowedCallers<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match self.allowed {
            Some(allowed) if !caller_is_allowed(&request, allowed) => {
                let names: Vec<&str> = allowed.iter().map(|role| role.name()).collect();
                let status = tonic::Status::permission_denied(format!(
                    "this service answers only {}",
                    names.join(", ")
                ));
                Answer::Refused {
                    refusal: ready(Ok(status.into_http())),
                }
            }
            _ => Answer::Passed {
                inner: self.inner.call(request),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's answer, or the refusal made here.
    #[project = AnswerProjection]
    pub enum Answer<F> {
        Passed { #[pin] inner: F },
        Refused { refusal: Ready<Result<http::Response<Body>, Infallible>> },
    }
}

impl<F> Future for Answer<F>
where
    F: Future<Output = Result<http::Response<Body>, Infallible>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AnswerProjection::Passed { inner } => inner.poll(cx),
            AnswerProjection::Refused { refusal } => Pin::new(refusal).poll(cx),
        }
    }
}

fn caller_is_allowed(request: &http::Request<Body>, allowed: &[Role]) -> bool {
    let Some(certs) = request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(TlsConnectInfo::peer_certs)
    else {
        return false;
    };
    certs
        .first()
        .is_some_and(|leaf| allowed.iter().any(|role| names_role(leaf, *role)))
}

/// Whether the certificate (already verified against the authority in the handshake) carries
/// the role as a DNS name.
fn names_role(cert: &CertificateDer<'_>, role: Role) -> bool {
    let Ok(parsed) = webpki::EndEntityCert::try_from(cert) else {
        return false;
    };
    let Ok(name) = ServerName::try_from(role.name()) else {
        return false;
    };
    parsed.verify_is_valid_for_subject_name(&name).is_ok()
}
