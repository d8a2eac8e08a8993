//! Resident memory of the local stack's services, from `/proc`: the peak while seeding took
//! `--batch-size` batches and the peak under the phone mixes (the kernel's high-water mark,
//! reset between the two by writing `5` to `/proc/<pid>/clear_refs`).

use crate::cpu_split::SERVICES;
use crate::report::Target;

/// One service process and its peak resident memory, in MiB.
#[derive(Debug, Clone)]
pub struct Resident {
    pub service: &'static str,
    pid: String,
    pub peak_mib: f64,
}

/// Every service process running on this machine (none when the stack runs in this process).
pub fn read() -> Vec<Resident> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_owned)
        else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let Some(service) = field(&status, "Name:").and_then(|name| {
            SERVICES
                .iter()
                .find(|(prefix, _)| name.starts_with(prefix))
                .map(|(_, service)| *service)
        }) else {
            continue;
        };
        let kib =
            |key| field(&status, key).and_then(|v| v.trim_end_matches(" kB").parse::<f64>().ok());
        if let Some(peak) = kib("VmHWM:") {
            found.push(Resident {
                service,
                pid,
                peak_mib: peak / 1024.0,
            });
        }
    }
    found.sort_by_key(|r| SERVICES.iter().position(|(_, s)| *s == r.service));
    found
}

fn field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .map(str::trim)
}

/// Starts a new peak for every process (false where the kernel refused: then the next peaks
/// are since each process started).
pub fn reset_peaks(processes: &[Resident]) -> bool {
    processes
        .iter()
        .all(|process| std::fs::write(format!("/proc/{}/clear_refs", process.pid), "5").is_ok())
}

/// `gateway 61, analytics 81, ...` (peak MiB).
fn describe(processes: &[Resident]) -> String {
    processes
        .iter()
        .map(|p| format!("{} {:.0}", p.service, p.peak_mib))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The memory targets: analytics' peak while seeding (batches of `batch_size`
/// events) and every service's peak under the phone mixes. Empty when no service process
/// runs on this machine.
pub fn targets(
    seeding: &[Resident],
    mixes: &[Resident],
    batch_size: usize,
    reset: bool,
) -> Vec<Target> {
    let mut targets = Vec::new();
    let analytics: Vec<_> = seeding
        .iter()
        .filter(|p| p.service == "analytics")
        .collect();
    if let Some(peak) = analytics.iter().map(|p| p.peak_mib).reduce(f64::max) {
        targets.push(Target {
            target: format!("analytics <= 128 MB while taking {batch_size}-event batches"),
            measured: format!("peak {peak:.0} MiB while seeding"),
            met: Some(peak <= 128.0),
        });
    }
    if !mixes.is_empty() {
        let since = if reset {
            "peak MiB under the mixes"
        } else {
            "peak MiB since start"
        };
        targets.push(Target {
            target: "every service <= 64 MB resident under the phone mixes".to_owned(),
            measured: format!("{} ({since})", describe(mixes)),
            met: Some(mixes.iter().all(|p| p.peak_mib <= 64.0)),
        });
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn reads_a_status_field() {
        let status = "Name:\twellbeing-analy\nVmHWM:\t   81234 kB\nVmRSS:\t   70000 kB\n";
        assert_eq!(field(status, "VmHWM:"), Some("81234 kB"));
        assert_eq!(field(status, "Name:"), Some("wellbeing-analy"));
        assert_eq!(field(status, "VmSwap:"), None);
    }
}
