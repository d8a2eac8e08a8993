//! `wellbeing-dev-certs DIR`: makes sure DIR holds a development CA and a certificate for every
//! service role (see the library), issuing them when missing or close to their end.
//! `deploy/local/run.sh` runs it; Kubernetes takes the certificates from Secrets instead.

use std::path::PathBuf;

use clap::Parser;

/// Issues a development certificate authority and one certificate per service role under DIR,
/// unless they are there and current. For development only: Kubernetes takes the certificates
/// from Secrets.
#[derive(Parser)]
#[command(name = "wellbeing-dev-certs", version,
          after_help = format!("Roles: {}. Reads no environment variable.",
                               wellbeing_dev_certs::ROLES.join(", ")))]
struct Args {
    /// Where the certificates are kept: DIR/ca.crt and DIR/<role>/tls.{crt,key}
    dir: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if wellbeing_dev_certs::ensure(&args.dir)? {
        println!("issued development certificates in {}", args.dir.display());
    }
    Ok(())
}
