//! Process-wide settings a service applies first thing in `main`, and how `main` ends.

use std::process::ExitCode;

use crate::config::ConfigError;

/// How `main` ends: 0, or the error on one line (its causes joined by `: `) and never a
/// backtrace; exit code 2 for a setting that cannot be used, 1 for anything else.
pub fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(if error.is::<ConfigError>() { 2 } else { 1 })
        }
    }
}

/// Turns transparent huge pages off for this process (Linux; elsewhere it does nothing).
///
/// With them on, the allocator's arena is backed by 2 MiB pages wherever the kernel can: a fault
/// may map a whole 2 MiB page, and `khugepaged`, scanning every process a little at a time,
/// collapses a 2 MiB range into one huge page when as little as one 4 KiB page of it is in use.
/// A service whose live heap is a few MiB (the cache service holds about 2.5 MiB) then shows a
/// resident size that swings by several MiB and steps up once the scan reaches it, about 8 to 12
/// minutes after start (docs/RELIABILITY.md, soak). Without them the resident size follows the
/// memory in use, which is what a Kubernetes memory limit should be set against.
///
/// It may have a price in CPU (4 KiB pages: more TLB misses and page faults): with all four
/// services without huge pages the soak's stack once used about 20 % more CPU a request. So the
/// services call it where huge pages are much of the resident size: the cache service, and
/// analytics, where they were 40-60 MiB of 110-125 MiB under the phone mixes (60-65 MiB without
/// them, and no CPU cost measured against huge pages in the same sitting: docs/PERFORMANCE.md).
/// The gateway and the aggregator keep them.
pub fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
        let result = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if result != 0 {
            tracing::debug!("transparent huge pages could not be turned off for this process");
        }
    }
}

/// mimalloc's option index of `purge_delay` (`mi_option_e` in its v2 and v3 headers; the Rust
/// bindings name no constant for it, and the test below checks it by its default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes the allocator give memory it no longer uses back to the system at once rather than
/// up to a second later (mimalloc v3's default delay). Under the phone mixes, memory freed in
/// bursts (the views of a write's generation, a batch's rows) stayed resident meanwhile: the
/// peaks were analytics 81 -> 62 MiB while seeding 1000-event batches and 118 -> 108 MiB under
/// the mixes, the gateway 68 -> 63-66 MiB, with no CPU cost measured (docs/PERFORMANCE.md).
/// Every service calls it first thing.
pub fn return_freed_memory_at_once() {
    // SAFETY: sets one of mimalloc's options, a plain integer it reads on each purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn huge_pages_are_off_afterwards() {
        super::disable_transparent_huge_pages();
        // SAFETY: PR_GET_THP_DISABLE reads a flag of this process.
        let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(disabled, 1);
    }

    #[test]
    fn freed_memory_goes_back_at_once() {
        // SAFETY: reads one of mimalloc's options.
        let delay = || unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(
            delay(),
            1000,
            "the option is purge_delay, 1 s by default in mimalloc v3"
        );
        super::return_freed_memory_at_once();
        assert_eq!(delay(), 0);
    }
}
