//! Resident memory of a process, as benches and tests measure it.

/// Resident memory of one process (from `/proc/<pid>/status`), MiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// `VmRSS`: everything resident.
    pub rss: f64,
    /// `RssAnon`: the heap and stacks (the rest is the mapped binary and shared pages).
    pub anon: f64,
}

/// The process's figures now (NaN when it cannot be read).
pub fn memory_of(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    Memory {
        rss: field("VmRSS:"),
        anon: field("RssAnon:"),
    }
}
