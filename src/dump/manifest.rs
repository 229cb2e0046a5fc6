//! manifest.json: everything needed to list, verify and restore a dump. No secrets: no URL, no
//! password, no salt.

use chrono::{DateTime, Utc};
use connectors::postgres::Sequence;
use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change; readers refuse versions they do not know.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// `decoy <version>` that wrote the dump.
    pub tool: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub source: SourceManifest,
    pub schema: SchemaManifest,
    pub tables: Vec<TableManifest>,
    /// How chunks and scripts are encrypted; absent when they are plain zstd and SQL.
    pub encryption: Option<crate::crypto::EncryptionManifest>,
    pub totals: Totals,
    /// Present when only a subset of the rows was dumped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<SubsetManifest>,
    /// The name the dump was written under, when its folder now has another (a copied or renamed
    /// dump): `name` is always the folder's, so its files are read from where they are.
    #[serde(skip)]
    pub written_as: Option<String>,
    /// Decrypts the dump's files once [`Manifest::unlock`] has checked the keys.
    #[serde(skip)]
    pub opener: Option<std::sync::Arc<crate::crypto::Opener>>,
}

/// The subset's configuration and, per table, how many rows it kept and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubsetManifest {
    pub config: serde_json::Value,
    pub tables: Vec<SubsetTableManifest>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubsetTableManifest {
    /// `schema.table`.
    pub table: String,
    /// `subset`, `whole` or `empty`, and why for the last two.
    pub mode: String,
    pub kept: u64,
    /// Rows in the source table.
    pub total: u64,
    pub pulled_in_by: Vec<ReasonCount>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReasonCount {
    /// `root`, `child of <table>`, `parent of <table>` or `kept whole`.
    pub reason: String,
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceManifest {
    pub engine: String,
    pub server_version: String,
    /// Database name only, never the URL.
    pub database: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaManifest {
    pub pre_data: FileManifest,
    pub post_data: FileManifest,
    pub clean: FileManifest,
    pub sequences: Vec<Sequence>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileManifest {
    /// Key relative to the dump folder.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableManifest {
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnManifest>,
    /// Columns present in the chunks, in order (generated columns are recomputed on restore).
    pub copied_columns: Vec<String>,
    /// True for `skip`: the table is recreated empty.
    pub skipped: bool,
    pub rows: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub transformed: Vec<TransformedColumn>,
    pub chunks: Vec<ChunkManifest>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnManifest {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransformedColumn {
    pub column: String,
    pub transformer: String,
    /// Set when the rule came from the key this column references (`schema.table.column`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub follows: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChunkManifest {
    /// Key relative to the dump folder: `data/<table>/<n>.copy.zst`.
    pub path: String,
    pub rows: u64,
    /// Uncompressed COPY text bytes.
    pub raw_bytes: u64,
    /// Bytes as stored, which the checksum covers.
    pub stored_bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    pub tables: usize,
    pub rows: u64,
    pub chunks: usize,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
}

impl Manifest {
    pub fn parse(bytes: &[u8], name: &str) -> anyhow::Result<Manifest> {
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let version: Version = serde_json::from_slice(bytes).map_err(|e| {
            anyhow::anyhow!("the manifest of dump `{name}` is not valid JSON ({e}); the dump is damaged")
        })?;
        if version.format_version > FORMAT_VERSION {
            anyhow::bail!(
                "dump `{name}` uses dump format {} but this decoy reads up to {FORMAT_VERSION}; upgrade decoy",
                version.format_version
            );
        }
        serde_json::from_slice(bytes)
            .map_err(|e| anyhow::anyhow!("the manifest of dump `{name}` cannot be read ({e}); the dump is damaged"))
    }

    pub fn load(store: &dyn crate::datastore::Datastore, name: &str) -> anyhow::Result<Manifest> {
        let bytes = store
            .read_all(&format!("{name}/{}", super::MANIFEST))
            .map_err(|e| anyhow::anyhow!("cannot read the manifest of dump `{name}` in {}: {e}", store.describe()))?;
        let mut manifest = Manifest::parse(&bytes, name)?;
        if manifest.name != name {
            manifest.written_as = Some(std::mem::replace(&mut manifest.name, name.to_string()));
        }
        Ok(manifest)
    }

    /// For an encrypted dump: opens it with `keys` and proves the manifest is the one the dump's
    /// writer sealed (its encrypted copy must decrypt to the same bytes). A plain dump needs nothing.
    pub fn unlock(
        &mut self,
        store: &dyn crate::datastore::Datastore,
        keys: &crate::crypto::Keys,
    ) -> anyhow::Result<()> {
        let Some(encryption) = &self.encryption else {
            return Ok(());
        };
        let opener = crate::crypto::Opener::for_dump(store, &self.name, encryption, keys)?;
        let plain = store
            .read_all(&format!("{}/{}", self.name, super::MANIFEST))
            .map_err(|e| anyhow::anyhow!("cannot read the manifest of dump `{}`: {e}", self.name))?;
        let copy_key = format!("{}/{}", self.name, crate::crypto::MANIFEST_COPY);
        let sealed = store.read_all(&copy_key).map_err(|e| {
            anyhow::anyhow!(
                "cannot read {copy_key} ({e}): an encrypted dump's manifest cannot be authenticated without it"
            )
        })?;
        let copy = opener.open_all(&sealed, &copy_key)?;
        if copy != plain {
            anyhow::bail!(
                "the manifest of dump `{}` was changed after the dump was written (it differs from its encrypted \
                 copy): do not trust this dump",
                self.name
            );
        }
        self.opener = Some(opener);
        Ok(())
    }

    /// The manifest agrees with itself: each table's rows and bytes are its chunks' sums, and the
    /// totals are the tables'. Every restore checks this before it writes anything, so a manifest
    /// edited by hand is refused by `--output` as by `--to`, rather than found out by `--to` only
    /// once a table is loaded. (An encrypted dump's manifest is also checked against its sealed
    /// copy by [`Manifest::unlock`].)
    pub fn check_consistent(&self) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        for table in &self.tables {
            let rows: u64 = table.chunks.iter().map(|c| c.rows).sum();
            let raw: u64 = table.chunks.iter().map(|c| c.raw_bytes).sum();
            let stored: u64 = table.chunks.iter().map(|c| c.stored_bytes).sum();
            if (rows, raw, stored) != (table.rows, table.raw_bytes, table.stored_bytes) {
                problems.push(format!(
                    "table {}.{} lists {} rows ({} bytes, {} stored) but its chunks hold {rows} ({raw} bytes, {stored} \
                     stored)",
                    table.schema, table.name, table.rows, table.raw_bytes, table.stored_bytes
                ));
            }
        }
        let rows: u64 = self.tables.iter().map(|t| t.rows).sum();
        let chunks: usize = self.tables.iter().map(|t| t.chunks.len()).sum();
        if (self.totals.tables, self.totals.rows, self.totals.chunks) != (self.tables.len(), rows, chunks) {
            problems.push(format!(
                "its totals say {} tables, {} rows, {} chunks where its tables hold {}, {rows}, {chunks}",
                self.totals.tables,
                self.totals.rows,
                self.totals.chunks,
                self.tables.len()
            ));
        }
        if !problems.is_empty() {
            anyhow::bail!(
                "the manifest of dump `{}` contradicts itself ({}): it was edited or damaged after the dump was \
                 written, so nothing was restored; do not trust this dump",
                self.name,
                problems.join("; ")
            );
        }
        Ok(())
    }

    /// The decrypter of an unlocked, encrypted dump.
    pub fn opener(&self) -> Option<&crate::crypto::Opener> {
        self.opener.as_deref()
    }

    /// Reads one of the dump's schema scripts and checks it against its checksum.
    pub fn read_script(&self, store: &dyn crate::datastore::Datastore, file: &FileManifest) -> anyhow::Result<String> {
        use sha2::Digest;
        let key = format!("{}/{}", self.name, file.path);
        let bytes = store
            .read_all(&key)
            .map_err(|e| anyhow::anyhow!("cannot read {key} from {}: {e}", store.describe()))?;
        if hex::encode(sha2::Sha256::digest(&bytes)) != file.sha256 {
            anyhow::bail!("{key} is corrupted: its checksum does not match the manifest");
        }
        let bytes = match (&self.encryption, self.opener()) {
            (None, _) => bytes,
            (Some(_), Some(opener)) => opener.open_all(&bytes, &key)?,
            (Some(_), None) => anyhow::bail!("dump `{}` is encrypted and was not unlocked", self.name),
        };
        String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{key} is not UTF-8"))
    }

    pub fn table_name(table: &TableManifest) -> connectors::QualifiedName {
        connectors::QualifiedName::new(&table.schema, &table.name)
    }
}
