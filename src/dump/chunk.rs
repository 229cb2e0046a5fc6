//! Chunks: COPY text compressed with zstd and hashed (SHA-256 of the stored bytes) while it streams,
//! so no chunk is ever held in memory whole.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use super::manifest::ChunkManifest;
use crate::crypto::{Opener, Sealer};
use crate::datastore::{Datastore, ObjectWriter};

/// Counts and hashes what passes through to the object.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

type Object = Hashing<Box<dyn ObjectWriter>>;

/// Where compressed bytes go: straight to the object, or through age encryption first.
enum Sink {
    Plain(Object),
    Sealed(age::stream::StreamWriter<Object>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Sealed(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Sealed(w) => w.flush(),
        }
    }
}

impl Sink {
    /// Ends the age file (its last, authenticated block) and gives the object back.
    fn finish(self) -> io::Result<Object> {
        match self {
            Sink::Plain(w) => Ok(w),
            Sink::Sealed(w) => w.finish(),
        }
    }
}

/// Rows are compressed in frames of at least this much input: a chunk is a sequence of
/// independent zstd frames (what `zstd -d` and every zstd reader expect of a stream). One-shot
/// frames take zstd's contiguous-input path, where a streaming encoder's ring buffer falls back to
/// its slower "external dictionary" path once it wraps; at level 1 the window is 512 KiB, so
/// frames of 1 MiB lose almost nothing to the frame boundaries.
pub const FRAME_BYTES: usize = 1 << 20;
/// Input from this size on is cut into frames of [`FRAME_BYTES`] (see `ChunkWriter::write_large`).
const LARGE_INPUT: usize = 4 * FRAME_BYTES;

/// Writes one chunk: complete rows in, a committed, checksummed object out.
pub struct ChunkWriter {
    compressor: zstd::bulk::Compressor<'static>,
    /// Input waiting for a full frame.
    pending: Vec<u8>,
    /// The last frame's compressed bytes (reused).
    frame: Vec<u8>,
    frames: u64,
    sink: Sink,
    path: String,
    rows: u64,
    raw_bytes: u64,
}

impl ChunkWriter {
    /// Starts chunk `key`; with a sealer, the compressed bytes are encrypted (the key should then
    /// end in `.age`).
    pub fn create(
        store: &dyn Datastore,
        key: &str,
        path_in_dump: String,
        level: i32,
        sealer: Option<&Sealer>,
    ) -> io::Result<Self> {
        let object = Hashing {
            inner: store.create(key)?,
            hasher: Sha256::new(),
            bytes: 0,
        };
        let sink = match sealer {
            Some(sealer) => Sink::Sealed(sealer.seal(object)?),
            None => Sink::Plain(object),
        };
        let mut compressor = zstd::bulk::Compressor::new(level)?;
        // Each frame records its size, so a reader can size its buffer; the checksum is ours.
        compressor.include_contentsize(true)?;
        Ok(ChunkWriter {
            compressor,
            pending: Vec::new(),
            frame: Vec::new(),
            frames: 0,
            sink,
            path: path_in_dump,
            rows: 0,
            raw_bytes: 0,
        })
    }

    /// Appends complete rows (each ending in a newline).
    pub fn write_rows(&mut self, data: &[u8], rows: u64) -> io::Result<()> {
        if data.len() >= LARGE_INPUT {
            self.write_large(data)?;
        } else if self.pending.is_empty() && data.len() >= FRAME_BYTES {
            self.write_frame(Input::Given(data))?;
        } else {
            self.pending.extend_from_slice(data);
            if self.pending.len() >= FRAME_BYTES {
                self.write_frame(Input::Pending)?;
            }
        }
        self.rows += rows;
        self.raw_bytes += data.len() as u64;
        Ok(())
    }

    /// Rows of several MiB (a large value) go out in frames of [`FRAME_BYTES`]: neither the pending
    /// input nor the compressed frame then holds a copy of them, which `dump.memory_limit` would
    /// have to leave room for.
    fn write_large(&mut self, data: &[u8]) -> io::Result<()> {
        let mut rest = data;
        if !self.pending.is_empty() {
            let take = FRAME_BYTES.saturating_sub(self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            self.write_frame(Input::Pending)?;
        }
        let mut frames = rest.chunks_exact(FRAME_BYTES);
        for frame in &mut frames {
            self.write_frame(Input::Given(frame))?;
        }
        self.pending.extend_from_slice(frames.remainder());
        Ok(())
    }

    /// Compresses one frame and passes it on to the object.
    fn write_frame(&mut self, input: Input<'_>) -> io::Result<()> {
        let data = match input {
            Input::Given(data) => data,
            Input::Pending => &self.pending,
        };
        self.frame.clear();
        self.frame.reserve(zstd::zstd_safe::compress_bound(data.len()));
        self.compressor.compress_to_buffer(data, &mut self.frame)?;
        self.sink.write_all(&self.frame)?;
        self.frames += 1;
        if let Input::Pending = input {
            self.pending.clear();
        }
        Ok(())
    }

    /// The chunk's path inside its dump, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn raw_bytes(&self) -> u64 {
        self.raw_bytes
    }

    /// Compresses the last frame, commits the object and returns its manifest entry.
    pub fn finish(self) -> anyhow::Result<ChunkManifest> {
        let path = self.path.clone();
        let (rows, raw_bytes) = (self.rows, self.raw_bytes);
        let mut writer = self;
        let finished = (|| -> io::Result<(String, u64)> {
            // The rest of the rows; an empty frame keeps a chunk without rows a valid zstd file.
            if !writer.pending.is_empty() || writer.frames == 0 {
                writer.write_frame(Input::Pending)?;
            }
            let hashing = writer.sink.finish()?;
            let sha256 = hex::encode(hashing.hasher.finalize());
            let stored_bytes = hashing.bytes;
            hashing.inner.commit()?;
            Ok((sha256, stored_bytes))
        })();
        let (sha256, stored_bytes) = finished.map_err(|e| anyhow::anyhow!("finishing chunk {path} failed: {e}"))?;
        Ok(ChunkManifest {
            path,
            rows,
            raw_bytes,
            stored_bytes,
            sha256,
        })
    }
}

/// What a frame is compressed from: rows handed in whole, or the rows gathered so far.
enum Input<'a> {
    Given(&'a [u8]),
    Pending,
}

/// Receives a chunk's decompressed data as it is read.
pub trait ChunkSink {
    fn data(&mut self, bytes: &[u8]) -> anyhow::Result<()>;
}

impl<F: FnMut(&[u8]) -> anyhow::Result<()>> ChunkSink for F {
    fn data(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self(bytes)
    }
}

/// Reads a chunk, streams its rows to `sink`, and checks size, checksum and row count against the
/// manifest. The caller must treat data passed to `sink` as provisional until this returns Ok: the
/// checksum is known only at the end.
pub fn read_chunk(
    store: &dyn Datastore,
    dump: &str,
    chunk: &ChunkManifest,
    opener: Option<&Opener>,
    sink: &mut dyn ChunkSink,
) -> anyhow::Result<()> {
    let key = format!("{dump}/{}", chunk.path);
    let object = store
        .open(&key)
        .map_err(|e| anyhow::anyhow!("chunk {key} cannot be opened: {e}"))?;
    let mut hashed = HashingReader {
        inner: object,
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut rows = 0u64;
    let mut raw = 0u64;
    let mut documents = chunk.path.contains(".bson.").then(DocumentCounter::default);
    let decoded = (|| -> anyhow::Result<()> {
        let input: Box<dyn Read + '_> = match opener {
            Some(opener) => opener.open(&mut hashed, &format!("chunk {key}"))?,
            None => Box::new(&mut hashed),
        };
        let mut decoder = zstd::stream::read::Decoder::new(input)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = decoder.read(&mut buf)?;
            if n == 0 {
                break;
            }
            rows += match documents.as_mut() {
                Some(counter) => counter.feed(&buf[..n]),
                None => buf[..n].iter().filter(|&&b| b == b'\n').count() as u64,
            };
            raw += n as u64;
            sink.data(&buf[..n])?;
        }
        // Drain anything after the zstd frame so the checksum covers the whole object (and age
        // checks its final block).
        io::copy(&mut decoder.finish(), &mut io::sink())?;
        Ok(())
    })();
    let _ = io::copy(&mut hashed, &mut io::sink());
    let digest = hex::encode(hashed.hasher.finalize());
    if hashed.bytes != chunk.stored_bytes || digest != chunk.sha256 {
        anyhow::bail!(
            "chunk {key} is corrupted: its checksum does not match the manifest ({} bytes, sha256 {digest}; expected \
             {} bytes, sha256 {}). Restore another dump or recreate this one",
            hashed.bytes,
            chunk.stored_bytes,
            chunk.sha256
        );
    }
    decoded.map_err(|e| anyhow::anyhow!("chunk {key} cannot be decompressed: {e}"))?;
    if rows != chunk.rows || raw != chunk.raw_bytes {
        anyhow::bail!(
            "chunk {key} holds {rows} rows ({raw} bytes) where the manifest says {} rows ({} bytes)",
            chunk.rows,
            chunk.raw_bytes
        );
    }
    Ok(())
}

/// Decompressed rows a verified read keeps in memory before it spills them to a temporary file.
const SPOOL_MEMORY: usize = 8 << 20;

/// [`read_chunk`] for writers that cannot take bytes back (a script on stdout, which `psql` runs as
/// it reads): `sink` sees none of the chunk's rows until all of it has passed its size, checksum and
/// row-count checks. The rows are spooled while the chunk is read: in memory up to 8 MiB, then in
/// an unnamed temporary file (`$TMPDIR`), so memory stays bounded whatever `dump.chunk_size` is, and
/// the disk holds at most one chunk's rows. Spooling rather than reading the chunk twice (verify,
/// then stream) costs one download and one decompression, not two: the second read of a spooled
/// chunk comes back from the page cache.
pub fn read_chunk_verified(
    store: &dyn Datastore,
    dump: &str,
    chunk: &ChunkManifest,
    opener: Option<&Opener>,
    sink: &mut dyn ChunkSink,
) -> anyhow::Result<()> {
    let mut spool = tempfile::SpooledTempFile::new(SPOOL_MEMORY);
    let spooling = |e: io::Error| anyhow::anyhow!("cannot spool chunk {dump}/{} to a temporary file: {e}", chunk.path);
    read_chunk(store, dump, chunk, opener, &mut |bytes: &[u8]| {
        spool.write_all(bytes).map_err(spooling)
    })?;
    io::Seek::rewind(&mut spool).map_err(spooling)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = spool.read(&mut buf).map_err(spooling)?;
        if n == 0 {
            return Ok(());
        }
        sink.data(&buf[..n])?;
    }
}

/// Counts the BSON documents in a byte stream cut anywhere: each starts with its own length.
#[derive(Default)]
struct DocumentCounter {
    /// Bytes left of the current document.
    remaining: usize,
    /// A length prefix split across two reads.
    prefix: Vec<u8>,
}

impl DocumentCounter {
    fn feed(&mut self, mut bytes: &[u8]) -> u64 {
        let mut started = 0;
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let take = self.remaining.min(bytes.len());
                self.remaining -= take;
                bytes = &bytes[take..];
                continue;
            }
            let need = 4 - self.prefix.len();
            let take = need.min(bytes.len());
            self.prefix.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.prefix.len() == 4 {
                let len = i32::from_le_bytes([self.prefix[0], self.prefix[1], self.prefix[2], self.prefix[3]]);
                self.prefix.clear();
                self.remaining = (len.max(4) as usize) - 4;
                started += 1;
            }
        }
        started
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datastore::LocalDatastore;

    fn write_chunk(store: &dyn Datastore) -> ChunkManifest {
        let mut writer = ChunkWriter::create(
            store,
            "d/data/t/000000.copy.zst",
            "data/t/000000.copy.zst".into(),
            3,
            None,
        )
        .unwrap();
        writer.write_rows(b"1\tone\n2\ttwo\n", 2).unwrap();
        writer.write_rows(b"3\t\\N\n", 1).unwrap();
        writer.finish().unwrap()
    }

    #[test]
    fn chunks_round_trip_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDatastore::open(dir.path()).unwrap();
        let chunk = write_chunk(&store);
        assert_eq!((chunk.rows, chunk.raw_bytes), (3, 17));
        let mut out = Vec::new();
        read_chunk(&store, "d", &chunk, None, &mut |b: &[u8]| {
            out.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(out, b"1\tone\n2\ttwo\n3\t\\N\n");
    }

    #[test]
    fn a_large_row_goes_out_in_small_frames_and_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDatastore::open(dir.path()).unwrap();
        let mut writer = ChunkWriter::create(
            &store,
            "d/data/t/000000.copy.zst",
            "data/t/000000.copy.zst".into(),
            1,
            None,
        )
        .unwrap();
        let mut large = b"2\t".to_vec();
        large.extend((0..LARGE_INPUT * 2 + 12345).map(|i| b'a' + (i % 26) as u8));
        large.push(b'\n');
        writer.write_rows(b"1\tsmall\n", 1).unwrap();
        writer.write_rows(&large, 1).unwrap();
        writer.write_rows(b"3\tlast\n", 1).unwrap();
        // No frame of the large row was compressed whole: the reused frame buffer stays small.
        assert!(writer.frame.capacity() < 2 * FRAME_BYTES, "{}", writer.frame.capacity());
        let chunk = writer.finish().unwrap();
        let mut out = Vec::new();
        read_chunk(&store, "d", &chunk, None, &mut |b: &[u8]| {
            out.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        let mut expected = b"1\tsmall\n".to_vec();
        expected.extend_from_slice(&large);
        expected.extend_from_slice(b"3\tlast\n");
        assert!(out == expected && chunk.rows == 3, "{} rows", chunk.rows);
    }

    #[test]
    fn bson_chunks_count_documents_however_the_reads_cut_them() {
        let mut bytes = Vec::new();
        for i in 0..3 {
            bson::doc! { "_id": i, "text": "x\ny" }.to_writer(&mut bytes).unwrap();
        }
        for cut in [1, 2, 3, 5, 7, bytes.len()] {
            let mut counter = DocumentCounter::default();
            let total: u64 = bytes.chunks(cut).map(|piece| counter.feed(piece)).sum();
            assert_eq!(total, 3, "cut every {cut} bytes");
        }
    }

    #[test]
    fn a_verified_read_passes_nothing_on_from_a_chunk_that_fails_its_checks() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDatastore::open(dir.path()).unwrap();
        let chunk = write_chunk(&store);
        let mut out = Vec::new();
        read_chunk_verified(&store, "d", &chunk, None, &mut |b: &[u8]| {
            out.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(out, b"1\tone\n2\ttwo\n3\t\\N\n");
        // Another valid zstd file with one byte of the rows changed: only the checksum tells.
        let path = dir.path().join("d/data/t/000000.copy.zst");
        std::fs::write(&path, zstd::encode_all(&b"1\tonE\n2\ttwo\n3\t\\N\n"[..], 3).unwrap()).unwrap();
        let mut seen = 0;
        let err = read_chunk_verified(&store, "d", &chunk, None, &mut |b: &[u8]| {
            seen += b.len();
            Ok(())
        })
        .unwrap_err();
        assert!(err.to_string().contains("corrupted"), "{err}");
        assert_eq!(seen, 0, "no byte of the changed chunk was passed on");
    }

    #[test]
    fn a_flipped_byte_is_reported_with_the_chunk_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDatastore::open(dir.path()).unwrap();
        let chunk = write_chunk(&store);
        let path = dir.path().join("d/data/t/000000.copy.zst");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 0x55;
        std::fs::write(&path, bytes).unwrap();
        let err = read_chunk(&store, "d", &chunk, None, &mut |_: &[u8]| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("d/data/t/000000.copy.zst") && err.contains("corrupted"),
            "{err}"
        );
    }
}
