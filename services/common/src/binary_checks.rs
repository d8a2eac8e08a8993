//! What each binary's tests check on the built executable (`env!("CARGO_BIN_EXE_...")`):
//! `--help` lists its settings with their variables, `--version` answers, and an unusable value
//! stops it at once with one line naming the variable, without a panic or a backtrace.

use std::process::{Command, Output};

fn run(binary: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(binary)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|error| panic!("{binary} did not run: {error}"))
}

/// `binary --help` exits 0 and lists each of `variables` as clap shows an `env` setting, and
/// `binary --version` exits 0 with a version.
pub fn assert_help_lists(binary: &str, variables: &[&str]) {
    let output = run(binary, &["--help"], &[]);
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{binary} --help: {output:?}");
    for variable in variables {
        assert!(
            help.contains(&format!("[env: {variable}")),
            "{binary} --help does not list {variable}:\n{help}"
        );
    }
    let output = run(binary, &["--version"], &[]);
    let version = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{binary} --version: {output:?}");
    assert!(
        version
            .trim()
            .rsplit(' ')
            .next()
            .is_some_and(|word| word.contains('.')),
        "{binary} --version: {version}"
    );
}

/// `binary` with `variable=value` exits non-zero at once, saying so in one line that names
/// `variable`, with no panic and no backtrace even when one is asked for.
pub fn assert_refuses(binary: &str, variable: &str, value: &str) {
    let output = run(
        binary,
        &[],
        &[
            (variable, value),
            ("RUST_BACKTRACE", "1"),
            ("RUST_LOG", "off"),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "{binary} with {variable}={value}: {output:?}"
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "{binary} with {variable}={value}:\n{stderr}"
    );
    assert!(lines[0].contains(variable), "{stderr}");
    let lower = stderr.to_lowercase();
    assert!(
        !lower.contains("panicked") && !lower.contains("backtrace"),
        "{stderr}"
    );
}
