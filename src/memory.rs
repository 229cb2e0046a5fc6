//! Peak memory of this process, reported in summaries so users can size containers from real runs,
//! the allocator setting that keeps it close to what the streams hold, and the allocator hook that
//! lets `dump.memory_limit` stop a run when a large allocation is made rather than once its pages
//! are filled (see [`crate::budget`]).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

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

/// Allocations (or growths of one) of at least this size are checked against the limit when they
/// are made. Row batches (1.25 MiB), compression frames and S3 parts stay near or under it, so the
/// check, one read of `/proc/self/statm`, runs a few dozen times a second at most.
pub const LARGE_ALLOCATION: usize = 4 << 20;

/// The limit large allocations are checked against; 0 when no run is being watched.
static LIMIT: AtomicU64 = AtomicU64::new(0);
/// The first large allocation that would take the resident set past [`LIMIT`]: its size (0 for
/// none yet) and the resident set size when it was made.
static TRIPPED_SIZE: AtomicU64 = AtomicU64::new(0);
static TRIPPED_RSS: AtomicU64 = AtomicU64::new(0);
/// The thread to wake when an allocation trips (the budget's watchdog).
static WATCHER: OnceLock<std::thread::Thread> = OnceLock::new();

/// mimalloc, with large allocations checked against the armed limit. A database driver reserves
/// a row's whole buffer (PostgreSQL: the COPY message's length; MySQL: each 16 MiB packet) or
/// doubles it before the bytes arrive, so a value larger than the limit allows is seen here,
/// while its pages are still empty, instead of 100 ms later in the resident set size. Nothing is
/// refused (a failed allocation would abort the process): the watchdog is woken and stops the run.
pub struct Watched(pub mimalloc::MiMalloc);

// SAFETY: every call is passed on unchanged to mimalloc; the check only reads a file into a stack
// buffer, stores atomics and unparks a thread, none of which allocates.
unsafe impl GlobalAlloc for Watched {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE_ALLOCATION {
            check(layout.size());
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE_ALLOCATION {
            check(layout.size());
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= LARGE_ALLOCATION && new_size > layout.size() {
            check(new_size - layout.size());
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

/// Records the allocation when the resident set plus its `growth` would pass the armed limit.
/// The pages of a fresh allocation are not resident yet: they will be once it is filled.
fn check(growth: usize) {
    let limit = LIMIT.load(Ordering::Relaxed);
    if limit == 0 || TRIPPED_SIZE.load(Ordering::Relaxed) != 0 {
        return;
    }
    let Some(rss) = resident_bytes_raw() else {
        return;
    };
    if rss.saturating_add(growth as u64) > limit {
        TRIPPED_RSS.store(rss, Ordering::Relaxed);
        TRIPPED_SIZE.store(growth as u64, Ordering::Release);
        if let Some(watcher) = WATCHER.get() {
            watcher.unpark();
        }
    }
}

/// The thread woken when an allocation trips (set once, by the budget's watchdog).
pub fn set_watcher(watcher: std::thread::Thread) {
    let _ = WATCHER.set(watcher);
}

/// Arms the allocation check with `limit` (0 disarms it) and clears any earlier trip.
pub fn watch_allocations(limit: u64) {
    TRIPPED_SIZE.store(0, Ordering::Relaxed);
    LIMIT.store(limit, Ordering::Relaxed);
}

/// The limit allocations are checked against, 0 when none is armed.
pub fn watched_limit() -> u64 {
    LIMIT.load(Ordering::Relaxed)
}

/// The allocation that tripped the limit, if one did: (its size, the resident set size then).
pub fn tripped_allocation() -> Option<(u64, u64)> {
    match TRIPPED_SIZE.load(Ordering::Acquire) {
        0 => None,
        size => Some((size, TRIPPED_RSS.load(Ordering::Relaxed))),
    }
}

/// The resident set size now (`/proc/self/statm`, in pages), read without allocating.
pub fn resident_bytes_raw() -> Option<u64> {
    static PAGE: AtomicU64 = AtomicU64::new(0);
    let mut buffer = [0u8; 128];
    // SAFETY: a NUL-terminated path; the descriptor is closed below; `read` writes at most
    // `buffer.len()` bytes into the buffer we own.
    let read = unsafe {
        let fd = libc::open(c"/proc/self/statm".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let read = libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len());
        libc::close(fd);
        read
    };
    let text = buffer.get(..usize::try_from(read).ok()?)?;
    let pages: u64 = std::str::from_utf8(text)
        .ok()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let mut page = PAGE.load(Ordering::Relaxed);
    if page == 0 {
        // SAFETY: sysconf only reads a system constant.
        page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
        PAGE.store(page, Ordering::Relaxed);
    }
    Some(pages * page)
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
    fn the_resident_set_is_read_without_allocating() {
        let rss = super::resident_bytes_raw().expect("Linux has /proc/self/statm");
        assert!(rss > 1 << 20 && rss < 64 << 30, "{rss}");
    }

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
