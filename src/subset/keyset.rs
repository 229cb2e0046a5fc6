//! Compact sets of u64 keys for the subset planner: in memory while they fit, spilled to sorted,
//! memory-mapped run files when the planner's memory budget says so.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashSet};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use memmap2::Mmap;
use roaring::RoaringTreemap;

/// How members are distributed: `Int` for integer primary keys (dense, compressed bitmaps),
/// `Hash` for 64-bit fingerprints of other keys (uniformly spread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Int,
    Hash,
}

/// More runs than this are merged into one, so a lookup probes at most this many files.
const MAX_RUNS: usize = 8;
/// Interpolation probes before falling back to binary search (guards against skewed runs).
const INTERPOLATION_PROBES: usize = 4;
const WRITE_BUFFER: usize = 1 << 16;

/// Hash keys are already uniform 64-bit fingerprints: hashing them again only costs time.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    // Only u64s are hashed here; fold anything else (FNV-style) rather than panic.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

type IdentitySet = HashSet<u64, BuildHasherDefault<IdentityHasher>>;

enum Mem {
    Int(RoaringTreemap),
    Hash(IdentitySet),
}

/// A run file: sorted, deduplicated little-endian u64s. The file has no name on disk
/// (`tempfile_in`), so the mapping is the only thing keeping its blocks alive.
struct Run {
    map: Mmap,
}

impl Run {
    fn len(&self) -> usize {
        self.map.len() / 8
    }

    fn get(&self, i: usize) -> u64 {
        let bytes: [u8; 8] = self.map[i * 8..i * 8 + 8].try_into().expect("8-byte slice");
        u64::from_le_bytes(bytes)
    }

    fn contains(&self, key: u64, kind: KeyKind) -> bool {
        let n = self.len();
        if n == 0 {
            return false;
        }
        // Inclusive bounds of the slice that may still hold `key`.
        let (mut lo, mut hi) = (0usize, n - 1);
        if kind == KeyKind::Hash {
            for _ in 0..INTERPOLATION_PROBES {
                let (a, b) = (self.get(lo), self.get(hi));
                if key < a || key > b {
                    return false;
                }
                if a == b {
                    return key == a;
                }
                let offset = u128::from(key - a) * (hi - lo) as u128 / u128::from(b - a);
                let pos = lo + offset as usize;
                match self.get(pos).cmp(&key) {
                    Ordering::Equal => return true,
                    Ordering::Less => lo = pos + 1,
                    Ordering::Greater => match pos.checked_sub(1) {
                        Some(p) => hi = p,
                        None => return false,
                    },
                }
                if lo > hi {
                    return false;
                }
            }
        }
        // Half-open binary search over [lo, hi].
        let (mut lo, mut hi) = (lo, hi + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).cmp(&key) {
                Ordering::Equal => return true,
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
            }
        }
        false
    }
}

/// Streams ascending values into a new anonymous temp file, dropping repeats.
struct RunWriter {
    out: BufWriter<File>,
    last: Option<u64>,
    count: u64,
}

impl RunWriter {
    fn new(dir: &Path) -> io::Result<RunWriter> {
        // tempfile_in leaves no name behind (O_TMPFILE or unlink right away), so a crash leaks nothing.
        let file = tempfile::tempfile_in(dir)?;
        Ok(RunWriter {
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            last: None,
            count: 0,
        })
    }

    fn push(&mut self, value: u64) -> io::Result<()> {
        debug_assert!(self.last.is_none_or(|l| l <= value), "run values must ascend");
        if self.last != Some(value) {
            self.out.write_all(&value.to_le_bytes())?;
            self.last = Some(value);
            self.count += 1;
        }
        Ok(())
    }

    fn finish(self) -> io::Result<(Run, u64)> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        // SAFETY: the file is private to this process (unnamed temp file) and never written after
        // this point, so the mapped bytes cannot change underneath us.
        let map = unsafe { Mmap::map(&file)? };
        Ok((Run { map }, self.count))
    }
}

/// A set of u64 keys with an in-memory part and zero or more spilled, memory-mapped runs.
/// Keys in the runs never also sit in memory, so `len` is exact.
pub struct KeySet {
    kind: KeyKind,
    mem: Mem,
    runs: Vec<Run>,
    spilled_len: u64,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("kind", &self.kind)
            .field("len", &self.len())
            .field("runs", &self.runs.len())
            .field("memory_bytes", &self.memory_bytes())
            .field("spilled_bytes", &self.spilled_bytes())
            .finish()
    }
}

impl KeySet {
    pub fn new(kind: KeyKind) -> KeySet {
        KeySet {
            kind,
            mem: Self::empty_mem(kind),
            runs: Vec::new(),
            spilled_len: 0,
        }
    }

    fn empty_mem(kind: KeyKind) -> Mem {
        match kind {
            KeyKind::Int => Mem::Int(RoaringTreemap::new()),
            KeyKind::Hash => Mem::Hash(IdentitySet::default()),
        }
    }

    /// True when the key was not in the set (in memory or spilled).
    pub fn insert(&mut self, key: u64) -> bool {
        if !self.runs.is_empty() && self.runs_contain(key) {
            return false;
        }
        match &mut self.mem {
            Mem::Int(map) => map.insert(key),
            Mem::Hash(set) => set.insert(key),
        }
    }

    pub fn contains(&self, key: u64) -> bool {
        let in_mem = match &self.mem {
            Mem::Int(map) => map.contains(key),
            Mem::Hash(set) => set.contains(&key),
        };
        in_mem || self.runs_contain(key)
    }

    fn runs_contain(&self, key: u64) -> bool {
        self.runs.iter().any(|run| run.contains(key, self.kind))
    }

    fn mem_len(&self) -> u64 {
        match &self.mem {
            Mem::Int(map) => map.len(),
            Mem::Hash(set) => set.len() as u64,
        }
    }

    /// Members, in memory + spilled.
    pub fn len(&self) -> u64 {
        self.mem_len() + self.spilled_len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes the in-memory part holds (an estimate; mapped runs are page cache, not counted).
    pub fn memory_bytes(&self) -> u64 {
        match &self.mem {
            Mem::Int(map) if map.is_empty() => 0,
            // Container payloads dominate; the serialized size tracks them closely.
            Mem::Int(map) => map.serialized_size() as u64,
            Mem::Hash(set) => hash_set_bytes(set.capacity()),
        }
    }

    /// Integer members in ascending order, merged from memory and the spilled runs.
    /// `None` for a set of hashes, whose order means nothing.
    pub fn ascending(&self) -> Option<Ascending<'_>> {
        let Mem::Int(map) = &self.mem else {
            return None;
        };
        let mut sources: Vec<Box<dyn Iterator<Item = u64> + Send + '_>> = vec![Box::new(map.iter())];
        for run in &self.runs {
            sources.push(Box::new((0..run.len()).map(move |i| run.get(i))));
        }
        let mut heads = BinaryHeap::new();
        for (i, source) in sources.iter_mut().enumerate() {
            if let Some(first) = source.next() {
                heads.push(Reverse((first, i)));
            }
        }
        Some(Ascending { sources, heads })
    }

    /// Bytes on disk.
    pub fn spilled_bytes(&self) -> u64 {
        self.runs.iter().map(|run| run.map.len() as u64).sum()
    }

    /// Moves every in-memory member into a new sorted run file under `dir`; `contains` still answers for them.
    /// On error the in-memory members stay where they were.
    pub fn spill(&mut self, dir: &Path) -> io::Result<()> {
        if self.mem_len() == 0 {
            return Ok(());
        }
        let mut writer = RunWriter::new(dir)?;
        let (run, count) = match std::mem::replace(&mut self.mem, Self::empty_mem(self.kind)) {
            Mem::Int(map) => {
                let written = map
                    .iter()
                    .try_for_each(|v| writer.push(v))
                    .and_then(|()| writer.finish());
                if written.is_err() {
                    self.mem = Mem::Int(map);
                }
                written?
            }
            Mem::Hash(set) => {
                // Sorting a Vec needs far less memory than the set it replaces.
                let mut keys: Vec<u64> = set.into_iter().collect();
                keys.sort_unstable();
                let written = keys
                    .iter()
                    .try_for_each(|&v| writer.push(v))
                    .and_then(|()| writer.finish());
                if written.is_err() {
                    self.mem = Mem::Hash(keys.into_iter().collect());
                }
                written?
            }
        };
        self.runs.push(run);
        self.spilled_len += count;
        if self.runs.len() > MAX_RUNS {
            self.merge_runs(dir)?;
        }
        Ok(())
    }

    /// k-way merge of all runs into one. On error the old runs stay valid and in place.
    fn merge_runs(&mut self, dir: &Path) -> io::Result<()> {
        let mut writer = RunWriter::new(dir)?;
        let mut next = vec![1usize; self.runs.len()];
        let mut heap: BinaryHeap<Reverse<(u64, usize)>> = self
            .runs
            .iter()
            .enumerate()
            .filter(|(_, run)| run.len() > 0)
            .map(|(i, run)| Reverse((run.get(0), i)))
            .collect();
        while let Some(Reverse((value, i))) = heap.pop() {
            writer.push(value)?;
            let run = &self.runs[i];
            if next[i] < run.len() {
                heap.push(Reverse((run.get(next[i]), i)));
                next[i] += 1;
            }
        }
        let (run, count) = writer.finish()?;
        debug_assert_eq!(count, self.spilled_len, "runs never share keys");
        self.runs = vec![run];
        self.spilled_len = count;
        Ok(())
    }
}

/// A k-way merge of a set's sorted parts (memory and runs never share a member).
pub struct Ascending<'a> {
    sources: Vec<Box<dyn Iterator<Item = u64> + Send + 'a>>,
    heads: BinaryHeap<Reverse<(u64, usize)>>,
}

impl Iterator for Ascending<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let Reverse((value, i)) = self.heads.pop()?;
        if let Some(next) = self.sources[i].next() {
            self.heads.push(Reverse((next, i)));
        }
        Some(value)
    }
}

/// hashbrown layout: a power-of-two bucket count at 7/8 load, each bucket one u64 plus one
/// control byte, plus one trailing group of control bytes.
fn hash_set_bytes(capacity: usize) -> u64 {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 { capacity + 1 } else { capacity * 8 / 7 }.next_power_of_two();
    (buckets * (std::mem::size_of::<u64>() + 1) + 16) as u64
}

/// Keeps the in-memory total of several sets under `limit` bytes by spilling the largest in-memory sets
/// first, until the total is at or below limit/2 (hysteresis, so spilling is not repeated after every insert).
/// Returns the number of sets spilled.
pub fn enforce_budget(sets: &mut [&mut KeySet], limit: u64, dir: &Path) -> io::Result<usize> {
    let mut sizes: Vec<(u64, usize)> = sets.iter().enumerate().map(|(i, s)| (s.memory_bytes(), i)).collect();
    let mut total: u64 = sizes.iter().map(|&(bytes, _)| bytes).sum();
    if total <= limit {
        return Ok(0);
    }
    let target = limit / 2;
    sizes.sort_unstable_by_key(|&(bytes, _)| Reverse(bytes));
    let mut spilled = 0;
    for (bytes, i) in sizes {
        if total <= target || bytes == 0 {
            break;
        }
        sets[i].spill(dir)?;
        total = total.saturating_sub(bytes) + sets[i].memory_bytes();
        spilled += 1;
    }
    Ok(spilled)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic xorshift64* so the tests need no rand dependency.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    /// splitmix64 finalizer: turns small ids into uniform fingerprints, like real Hash keys.
    fn fingerprint(x: u64) -> u64 {
        let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn dir_is_empty(dir: &Path) -> bool {
        std::fs::read_dir(dir).unwrap().next().is_none()
    }

    #[test]
    fn insert_contains_len_both_kinds() {
        for kind in [KeyKind::Int, KeyKind::Hash] {
            let mut set = KeySet::new(kind);
            assert_eq!(set.kind, kind);
            assert!(set.is_empty());
            assert_eq!(set.memory_bytes(), 0);
            let keys = [0, 1, 42, 1 << 40, u64::MAX, u64::MAX - 1];
            for &k in &keys {
                assert!(set.insert(k), "{kind:?} {k}");
            }
            for &k in &keys {
                assert!(!set.insert(k), "duplicate {kind:?} {k}");
                assert!(set.contains(k));
            }
            assert_eq!(set.len(), keys.len() as u64);
            assert!(!set.is_empty());
            assert!(!set.contains(2));
            assert!(!set.contains(u64::MAX - 2));
            assert!(set.memory_bytes() > 0);
            assert_eq!(set.spilled_bytes(), 0);
        }
    }

    #[test]
    fn spill_then_insert_does_not_double_count() {
        for kind in [KeyKind::Int, KeyKind::Hash] {
            let dir = tempfile::tempdir().unwrap();
            let mut set = KeySet::new(kind);
            for k in 0..1000u64 {
                set.insert(k * 3);
            }
            set.spill(dir.path()).unwrap();
            assert_eq!(set.len(), 1000);
            assert_eq!(set.spilled_bytes(), 8000);
            assert!(dir_is_empty(dir.path()), "run files must have no name on disk");
            // Half the keys are already spilled, half are new.
            let mut fresh = 0;
            for k in 0..2000u64 {
                if set.insert(k * 3 / 2 * 2) {
                    fresh += 1;
                }
            }
            let expected: HashSet<u64> = (0..1000u64)
                .map(|k| k * 3)
                .chain((0..2000u64).map(|k| k * 3 / 2 * 2))
                .collect();
            assert_eq!(set.len(), expected.len() as u64);
            assert_eq!(fresh, expected.len() as u64 - 1000);
            // Dups across memory and runs, again after a second spill.
            set.spill(dir.path()).unwrap();
            for &k in &expected {
                assert!(!set.insert(k));
                assert!(set.contains(k));
            }
            assert_eq!(set.len(), expected.len() as u64);
            assert!(!set.contains(1));
            assert!(!set.contains(100_000));
        }
    }

    #[test]
    fn ascending_merges_memory_and_runs_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = KeySet::new(KeyKind::Int);
        let mut rng = XorShift(0xdead_beef_1234_5678);
        let mut reference = std::collections::BTreeSet::new();
        for round in 0..3 {
            for _ in 0..2000 {
                let k = rng.next() % 1_000_000;
                set.insert(k);
                reference.insert(k);
            }
            if round < 2 {
                set.spill(dir.path()).unwrap();
            }
        }
        assert_eq!(set.runs.len(), 2, "members in two runs and in memory");
        let merged: Vec<u64> = set.ascending().expect("an integer set").collect();
        assert_eq!(merged, reference.into_iter().collect::<Vec<_>>());
        assert!(KeySet::new(KeyKind::Hash).ascending().is_none());
    }

    #[test]
    fn spill_of_empty_set_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = KeySet::new(KeyKind::Hash);
        set.spill(dir.path()).unwrap();
        assert_eq!(set.spilled_bytes(), 0);
        assert!(set.runs.is_empty());
    }

    #[test]
    fn more_than_eight_spills_merge_into_one_run() {
        for kind in [KeyKind::Int, KeyKind::Hash] {
            let dir = tempfile::tempdir().unwrap();
            let mut set = KeySet::new(kind);
            let key = |i: u64| if kind == KeyKind::Hash { fingerprint(i) } else { i * 7 };
            for batch in 0..(MAX_RUNS as u64 + 1) {
                for i in 0..500 {
                    assert!(set.insert(key(batch * 500 + i)));
                }
                set.spill(dir.path()).unwrap();
                assert!(set.runs.len() <= MAX_RUNS);
            }
            assert_eq!(set.runs.len(), 1, "nine runs merged into one");
            assert_eq!(set.len(), 4500);
            assert_eq!(set.spilled_bytes(), 4500 * 8);
            for i in 0..4500 {
                assert!(set.contains(key(i)));
                assert!(!set.insert(key(i)));
            }
            assert!(!set.contains(key(4500)));
            assert_eq!(set.len(), 4500);
            assert!(dir_is_empty(dir.path()));
        }
    }

    #[test]
    fn randomized_cross_check_against_std() {
        for kind in [KeyKind::Int, KeyKind::Hash] {
            let dir = tempfile::tempdir().unwrap();
            let mut rng = XorShift(0x1234_5678_9abc_def1);
            let mut set = KeySet::new(kind);
            let mut reference = HashSet::new();
            // Draws from a 150k pool so roughly a third of the inserts are duplicates.
            let draw = |rng: &mut XorShift| {
                let id = rng.next() % 150_000;
                if kind == KeyKind::Hash {
                    fingerprint(id)
                } else {
                    id * 13
                }
            };
            for i in 0..200_000u32 {
                let k = draw(&mut rng);
                assert_eq!(set.insert(k), reference.insert(k), "{kind:?} insert {k} at {i}");
                if i % 9_973 == 0 {
                    set.spill(dir.path()).unwrap();
                }
                if i % 1_000 == 0 {
                    let probe = draw(&mut rng);
                    assert_eq!(set.contains(probe), reference.contains(&probe));
                }
            }
            assert_eq!(set.len(), reference.len() as u64);
            assert!(set.spilled_bytes() > 0);
            assert!(set.runs.len() <= MAX_RUNS);
            for &k in &reference {
                assert!(set.contains(k));
            }
            for _ in 0..50_000 {
                let k = rng.next();
                assert_eq!(set.contains(k), reference.contains(&k));
            }
            for id in 0..150_000 {
                let k = if kind == KeyKind::Hash {
                    fingerprint(id)
                } else {
                    id * 13
                };
                assert_eq!(set.contains(k), reference.contains(&k));
                assert_eq!(set.contains(k + 1), reference.contains(&(k + 1)));
            }
        }
    }

    #[test]
    fn hash_run_lookup_with_skewed_values() {
        // Interpolation must still be exact when Hash runs are not uniform.
        let dir = tempfile::tempdir().unwrap();
        let mut set = KeySet::new(KeyKind::Hash);
        let mut keys: Vec<u64> = (0..1000).collect();
        keys.extend((0..10).map(|i| u64::MAX - i * 1000));
        keys.extend((0..100).map(|i| 1u64 << (i % 64)));
        for &k in &keys {
            set.insert(k);
        }
        set.spill(dir.path()).unwrap();
        let unique: HashSet<u64> = keys.iter().copied().collect();
        assert_eq!(set.len(), unique.len() as u64);
        for &k in &unique {
            assert!(set.contains(k), "{k}");
        }
        for k in [1000, 1001, 5000, u64::MAX - 1, u64::MAX - 999, (1 << 40) + 1] {
            assert!(!set.contains(k), "{k}");
        }
    }

    #[test]
    fn memory_bytes_drops_after_spill() {
        for kind in [KeyKind::Int, KeyKind::Hash] {
            let dir = tempfile::tempdir().unwrap();
            let mut set = KeySet::new(kind);
            for i in 0..100_000 {
                set.insert(fingerprint(i));
            }
            let before = set.memory_bytes();
            assert!(before >= 100_000 * 8, "{kind:?} {before}");
            set.spill(dir.path()).unwrap();
            assert_eq!(set.memory_bytes(), 0);
            assert_eq!(set.spilled_bytes(), 800_000);
            assert_eq!(set.len(), 100_000);
        }
    }

    #[test]
    fn enforce_budget_spills_largest_first() {
        let dir = tempfile::tempdir().unwrap();
        let filled = |n: u64, seed: u64| {
            let mut s = KeySet::new(KeyKind::Hash);
            for i in 0..n {
                s.insert(fingerprint(seed * 1_000_000 + i));
            }
            s
        };
        let (mut big, mut mid, mut small) = (filled(100_000, 1), filled(50_000, 2), filled(10_000, 3));
        let (b, m, s) = (big.memory_bytes(), mid.memory_bytes(), small.memory_bytes());
        assert!(b > m && m > s);
        let total = b + m + s;

        // Under the limit: nothing happens.
        let spilled = enforce_budget(&mut [&mut small, &mut big, &mut mid], total, dir.path()).unwrap();
        assert_eq!(spilled, 0);

        // Spilling the largest alone reaches limit/2.
        let limit = 2 * (m + s);
        assert!(limit < total);
        let spilled = enforce_budget(&mut [&mut small, &mut big, &mut mid], limit, dir.path()).unwrap();
        assert_eq!(spilled, 1);
        assert_eq!(big.memory_bytes(), 0);
        assert_eq!((mid.memory_bytes(), small.memory_bytes()), (m, s));
        assert!(big.memory_bytes() + mid.memory_bytes() + small.memory_bytes() <= limit / 2);

        // A tight limit spills the next largest too, and stops once at or below limit/2.
        let limit = 2 * s + 1;
        let spilled = enforce_budget(&mut [&mut small, &mut big, &mut mid], limit, dir.path()).unwrap();
        assert_eq!(spilled, 1);
        assert_eq!((mid.memory_bytes(), small.memory_bytes()), (0, s));

        // Members are all still there.
        assert_eq!((big.len(), mid.len(), small.len()), (100_000, 50_000, 10_000));
        assert!(big.contains(fingerprint(1_000_000)) && mid.contains(fingerprint(2_049_999)));
    }

    #[test]
    fn int_dense_keys_compress() {
        let mut set = KeySet::new(KeyKind::Int);
        for k in (0..100_000_000u64).step_by(10) {
            set.insert(k);
        }
        assert_eq!(set.len(), 10_000_000);
        let bytes = set.memory_bytes();
        assert!(bytes < 16 << 20, "{bytes} bytes for 10M dense keys");
        assert!(set.contains(99_999_990) && !set.contains(99_999_991));
    }
}
