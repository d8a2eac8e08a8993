//! Issues a development certificate authority and one certificate per service role, laid out as
//! cert-manager lays out a Secret (`tls.crt`, `tls.key`, `ca.crt`), so the services read the
//! same three files on a laptop, in tests and in Kubernetes.
//!
//! A role is named by a DNS subject alternative name equal to the role (`analytics`): clients
//! verify the server they reach against it, and servers read the caller's role from it. Each
//! certificate serves both purposes (server and client authentication), since analytics both
//! answers the gateway and calls the cache service. Keys are ECDSA P-256, made by rcgen on ring.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// Every role that holds a certificate.
pub const ROLES: [&str; 4] = ["gateway", "analytics", "cache", "aggregator"];

/// How long the development certificates last; `ensure` issues new ones before they end.
const VALIDITY: Duration = Duration::days(825);
const RENEW_BEFORE: Duration = Duration::days(30);

/// Where the files of `role` are under `dir`.
pub fn role_dir(dir: &Path, role: &str) -> PathBuf {
    dir.join(role)
}

/// Issues a new authority and a certificate for each of `roles` under `dir`, replacing what is
/// there: `dir/ca.crt`, and `dir/<role>/{tls.crt, tls.key, ca.crt}`. The authority's key is
/// not kept: a role added later means issuing them all again, which is what a development
/// setup wants (nothing outlives one machine).
pub fn issue(dir: &Path, roles: &[&str]) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    let mut authority = CertificateParams::default();
    authority.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    authority
        .distinguished_name
        .push(DnType::CommonName, "wellbeing development CA");
    authority.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    authority.not_before = now - Duration::hours(1);
    authority.not_after = now + VALIDITY;
    let authority_key = KeyPair::generate().context("generating the authority's key")?;
    let authority_cert = authority
        .self_signed(&authority_key)
        .context("signing the authority")?;
    let issuer = Issuer::new(authority, authority_key);
    let ca_pem = authority_cert.pem();

    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for role in roles {
        let mut params = CertificateParams::new(vec![(*role).to_owned()])
            .with_context(|| format!("the name {role}"))?;
        params.distinguished_name.push(DnType::CommonName, *role);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - Duration::hours(1);
        params.not_after = now + VALIDITY;
        let key = KeyPair::generate().context("generating a key")?;
        let cert = params
            .signed_by(&key, &issuer)
            .with_context(|| format!("signing the certificate of {role}"))?;
        let files = role_dir(dir, role);
        fs::create_dir_all(&files).with_context(|| format!("creating {}", files.display()))?;
        write(&files.join("tls.crt"), &cert.pem())?;
        write_private(&files.join("tls.key"), &key.serialize_pem())?;
        write(&files.join("ca.crt"), &ca_pem)?;
    }
    write(&dir.join("ca.crt"), &ca_pem)
}

/// Issues the certificates of [`ROLES`] unless every file is there and none ends within 30
/// days (told by the file's age: they are issued for a fixed time). True when it issued.
pub fn ensure(dir: &Path) -> anyhow::Result<bool> {
    let renew_after = std::time::Duration::try_from(VALIDITY - RENEW_BEFORE)
        .context("the validity is positive")?;
    let current = ROLES.iter().all(|role| {
        ["tls.crt", "tls.key", "ca.crt"].iter().all(|name| {
            fs::metadata(role_dir(dir, role).join(name))
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age < renew_after))
        })
    });
    if current {
        return Ok(false);
    }
    issue(dir, &ROLES)?;
    Ok(true)
}

fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// A private key is readable by its owner only.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_gets_its_three_files_and_a_second_call_keeps_them() {
        let dir = std::env::temp_dir().join(format!("dev-certs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        assert!(ensure(&dir).expect("issued"));
        for role in ROLES {
            let cert = fs::read_to_string(role_dir(&dir, role).join("tls.crt")).expect("cert");
            assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
            let key = role_dir(&dir, role).join("tls.key");
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &fs::metadata(&key).expect("key").permissions(),
            );
            assert_eq!(mode & 0o077, 0, "the key of {role} is private");
        }
        let before = fs::read(dir.join("ca.crt")).expect("ca");
        assert!(!ensure(&dir).expect("checked"), "nothing to issue");
        assert_eq!(fs::read(dir.join("ca.crt")).expect("ca"), before);
        let _ = fs::remove_dir_all(&dir);
    }
}
