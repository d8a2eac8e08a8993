//! `wellbeing-dev-certs DIR`: makes sure DIR holds a development CA and a certificate for every
//! service role (see the library), issuing them when missing or close to their end.
//! `deploy/local/run.sh` runs it; Kubernetes takes the certificates from Secrets instead.

use std::path::PathBuf;

use anyhow::bail;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        bail!("usage: wellbeing-dev-certs DIR (issues DIR/ca.crt and DIR/<role>/tls.{{crt,key}})");
    };
    if dir == "--help" || dir == "-h" {
        println!(
            "usage: wellbeing-dev-certs DIR\n\nIssues a development CA and one certificate per role ({}) under DIR, unless they are there and current.",
            wellbeing_dev_certs::ROLES.join(", ")
        );
        return Ok(());
    }
    let dir = PathBuf::from(dir);
    if wellbeing_dev_certs::ensure(&dir)? {
        println!("issued development certificates in {}", dir.display());
    }
    Ok(())
}
