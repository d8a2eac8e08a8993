//! The built binary explains itself: `--help` and `--version` answer, and a missing DIR is a
//! usage error rather than a panic.

use std::process::Command;

const DEV_CERTS: &str = env!("CARGO_BIN_EXE_wellbeing-dev-certs");

#[test]
fn dev_certs_explains_itself() {
    let help = Command::new(DEV_CERTS)
        .arg("--help")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success(), "{help:?}");
    assert!(text.contains("<DIR>") && text.contains("gateway"), "{text}");
    let version = Command::new(DEV_CERTS)
        .arg("--version")
        .output()
        .expect("runs");
    assert!(version.status.success(), "{version:?}");
    let missing = Command::new(DEV_CERTS).output().expect("runs");
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    assert!(!String::from_utf8_lossy(&missing.stderr).contains("panicked"));
}
