//! Peak memory of this process, reported in summaries so users can size containers from real runs,
//! and the allocator setting that keeps it close to what the streams hold.

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_e`, the same in mimalloc 2 and 3).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// mimalloc keeps freed pages for a second before returning them. The chunk pipeline frees its
/// 1 MiB batches on another thread than the one that allocated them, at the table's speed, so what
/// it kept grew with throughput: 100-117 MB peak against 67-78 MB with 10 ms, for the same time
/// (sample database at scale 376, 2 workers, three runs each).
pub fn tune_allocator() {
    // SAFETY: mi_option_set only stores an integer option; mimalloc reads it at its next purge.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
}

/// Peak resident set size in bytes (getrusage's ru_maxrss, which Linux reports in KiB).
pub fn peak_rss_bytes() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage only writes into the struct we own; RUSAGE_SELF is always valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    // SAFETY: getrusage returned 0, so it filled the struct.
    let usage = unsafe { usage.assume_init() };
    (usage.ru_maxrss.max(0) as u64) * 1024
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_rss_grows_with_allocation() {
        let before = super::peak_rss_bytes();
        assert!(before > 0);
        let block = vec![1u8; 64 << 20];
        assert!(
            super::peak_rss_bytes() >= before.max(64 << 20) - (1 << 20),
            "{}",
            block.len()
        );
    }
}
