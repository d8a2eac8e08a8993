//! CPU time per request, by process, when the stack runs on this machine: read from `/proc`
//! at the start and the end of a scenario's measured window. On a saturated machine
//! throughput is the cores divided by the CPU a request costs, so this split says which
//! process a change must make cheaper, and it is steadier from run to run than req/s.

use std::collections::BTreeMap;

use serde::Serialize;

/// The services of a local stack, by the name the kernel gives them (`comm`, 15 bytes).
pub const SERVICES: [(&str, &str); 4] = [
    ("wellbeing-gatew", "gateway"),
    ("wellbeing-analy", "analytics"),
    ("wellbeing-cache", "cache"),
    ("wellbeing-aggre", "aggregator"),
];

/// The stores the stack uses, likewise.
const STORES: [(&str, &str); 2] = [("postgres", "postgres"), ("redis-server", "redis")];

/// Clock ticks of each group of processes, of this load tool, and of the whole machine.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    groups: BTreeMap<&'static str, u64>,
    machine_busy: u64,
    machine_total: u64,
}

/// Microseconds of CPU per successful request, by process; `other` is the rest of the
/// machine's busy time (the kernel's softirqs, anything else running), `idle` its idle time.
#[derive(Debug, Clone, Serialize)]
pub struct PerRequest {
    pub micros: BTreeMap<String, f64>,
}

impl PerRequest {
    /// `gateway 170, analytics 160, ...` in a fixed order.
    pub fn summary(&self) -> String {
        self.micros
            .iter()
            .filter(|(_, micros)| **micros >= 0.5)
            .map(|(name, micros)| format!("{name} {micros:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Ticks per second of `/proc`'s counters (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

pub fn sample() -> Sample {
    let mut sample = Sample::default();
    let own = std::process::id().to_string();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Some((comm, ticks)) = process_stat(pid) else {
                continue;
            };
            let group = if pid == own {
                Some("load tool")
            } else {
                SERVICES
                    .iter()
                    .chain(&STORES)
                    .find(|(prefix, _)| comm.starts_with(prefix))
                    .map(|(_, group)| *group)
            };
            if let Some(group) = group {
                *sample.groups.entry(group).or_default() += ticks;
            }
        }
    }
    if let Some((busy, total)) = machine_ticks() {
        sample.machine_busy = busy;
        sample.machine_total = total;
    }
    sample
}

/// The command name and user + system ticks of a process (`None` when it is gone).
pub fn process_stat(pid: &str) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat).map(|(comm, ticks)| (comm.to_owned(), ticks))
}

/// Busy and total ticks of the whole machine (every core).
pub fn machine_ticks() -> Option<(u64, u64)> {
    parse_machine(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The command name and utime + stime of one `/proc/<pid>/stat` line.
fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = &stat[open + 1..close];
    let mut fields = stat[close + 1..].split_whitespace();
    // After the command: state is field 3; utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((comm, utime + stime))
}

/// Busy and total ticks of all CPUs from `/proc/stat`'s first line.
fn parse_machine(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let values: Vec<u64> = line
        .split_whitespace()
        .filter_map(|value| value.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is counted in user already).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// The CPU each request cost between two samples, or `None` without requests or `/proc`.
pub fn per_request(before: &Sample, after: &Sample, requests: u64) -> Option<PerRequest> {
    if requests == 0 || after.machine_total <= before.machine_total {
        return None;
    }
    let micros = |ticks: u64| ticks as f64 / TICKS_PER_SECOND * 1e6 / requests as f64;
    let mut split = BTreeMap::new();
    let mut accounted = 0;
    for (group, ticks) in &after.groups {
        let used = ticks.saturating_sub(before.groups.get(group).copied().unwrap_or(0));
        accounted += used;
        split.insert((*group).to_owned(), micros(used));
    }
    let busy = after.machine_busy.saturating_sub(before.machine_busy);
    let total = after.machine_total - before.machine_total;
    split.insert("other".to_owned(), micros(busy.saturating_sub(accounted)));
    split.insert("idle".to_owned(), micros(total - busy));
    Some(PerRequest { micros: split })
}

#[cfg(test)]
mod tests {
    use super::{parse_machine, parse_stat};

    #[test]
    fn reads_a_process_line_with_spaces_in_its_name() {
        let line = "4242 (wellbeing-gatew ay) S 1 4242 4242 0 -1 4194560 100 0 0 0 350 120 0 0 20 0 9 0 5 1 1";
        assert_eq!(parse_stat(line), Some(("wellbeing-gatew ay", 470)));
    }

    #[test]
    fn reads_the_machine_line() {
        let text = "cpu  100 5 50 1000 20 1 4 0 0 0\ncpu0 1 2 3 4\n";
        assert_eq!(parse_machine(text), Some((160, 1180)));
    }
}
