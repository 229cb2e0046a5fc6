//! Peak memory of this process, reported in summaries so users can size containers from real runs.

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
