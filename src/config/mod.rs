//! The YAML config: typed, strict about unknown keys, with `${VAR}` substitution in every value, and
//! errors that name the key and its line.

pub(crate) mod env;
mod locate;
mod rules;
mod subset;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use transformers::Mode;

pub use locate::line_of;
pub use rules::{ColumnRule, RuleSpec, TableRule};
pub use subset::{Disconnected, SubsetConfig, VirtualForeignKey};

use crate::error::ConfigError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Optional so that commands which only read dumps (list, restore, verify) work without one.
    pub source: Option<SourceConfig>,
    pub datastore: DatastoreConfig,
    /// Keys every deterministic transformer. Falls back to `DECOY_SALT`. Never written to a dump.
    pub salt: Option<String>,
    #[serde(default)]
    pub mode: Mode,
    /// Dump only the tables matching one of these `schema.table` globs.
    #[serde(default)]
    pub only: Vec<String>,
    /// Every column of every dumped table must have a rule or be listed as `keep`.
    #[serde(default)]
    pub strict: bool,
    #[serde(default)]
    pub tables: BTreeMap<String, TableRule>,
    /// Named rules that columns share with `{ rule: NAME }`: one definition, the same fakes everywhere.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleSpec>,
    #[serde(default)]
    pub dump: DumpSettings,
    /// Keep only some rows, with every foreign key still resolving.
    #[serde(default)]
    pub subset: Option<SubsetConfig>,
    /// Encrypt every chunk and script of a dump (age format).
    #[serde(default)]
    pub encryption: Option<EncryptionConfig>,
    /// The config file's text and path, for locating keys in later errors.
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Default, Clone)]
pub struct Origin {
    pub path: PathBuf,
    pub text: String,
}

/// `encryption:`: a passphrase, or the age public keys of those who may restore.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct EncryptionConfig {
    pub passphrase: Option<String>,
    #[serde(default)]
    pub recipients: Vec<String>,
}

// Never print the passphrase.
impl std::fmt::Debug for EncryptionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionConfig")
            .field("passphrase", &self.passphrase.as_ref().map(|_| "***"))
            .field("recipients", &self.recipients)
            .finish()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub url: String,
    /// MongoDB: the collections to dump, for servers without listCollections or to dump a few.
    #[serde(default)]
    pub collections: Vec<String>,
}

/// Exactly one kind of datastore (a struct of options rather than an enum, so YAML reads naturally
/// as `local: { path: ... }`).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct DatastoreConfig {
    pub local: Option<LocalDatastoreConfig>,
    pub s3: Option<S3DatastoreConfig>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct LocalDatastoreConfig {
    pub path: PathBuf,
}

/// `s3:`: a bucket on AWS S3 or any S3-compatible store (MinIO, Ceph, R2, GCS interop).
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct S3DatastoreConfig {
    pub bucket: String,
    /// Dumps live under `prefix/` (no leading or trailing `/` needed).
    #[serde(default)]
    pub prefix: String,
    #[serde(default = "default_s3_region")]
    pub region: String,
    /// For S3-compatible stores, e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    /// `http://host/bucket/key` instead of `http://bucket.host/key` (most self-hosted stores).
    #[serde(default)]
    pub path_style: bool,
    /// Static credentials; without them the standard AWS chain (environment, profile, web identity).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Whether the store honours `If-None-Match: *` on PUT (AWS S3 does since 2024). Left out,
    /// decoy finds out when it claims a dump's name; `false` claims by writing a run id and reading
    /// it back instead.
    #[serde(default)]
    pub conditional_writes: Option<bool>,
}

fn default_s3_region() -> String {
    "us-east-1".into()
}

// Never print the secret key.
impl std::fmt::Debug for S3DatastoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3DatastoreConfig")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("path_style", &self.path_style)
            .field("conditional_writes", &self.conditional_writes)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "***"))
            .finish()
    }
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct DumpSettings {
    /// Uncompressed bytes per chunk before a new one starts (at a row boundary): `64MiB`, `500kB`, or
    /// a number of bytes.
    #[serde(default = "default_chunk_size", deserialize_with = "crate::units::deserialize_bytes")]
    pub chunk_size: u64,
    /// Tables dumped (and restored) at once; each uses one database connection.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// zstd level, 1 (fastest, the default) to 22 (smallest).
    #[serde(default = "default_compression_level")]
    pub compression_level: i32,
    /// Tables larger than this (the server's estimate) are read as several ranges at once, each on
    /// its own connection of the same snapshot: PostgreSQL heap page ranges, MySQL integer
    /// primary-key ranges. `0` reads every table as one stream.
    #[serde(
        default = "default_split_table_bytes",
        deserialize_with = "crate::units::deserialize_bytes_or_zero"
    )]
    pub split_table_bytes: u64,
    /// Peak memory of a dump or a restore: streams run at once are capped so their buffers, the
    /// subset's key sets and the rest fit, and the run stops with an error rather than pass it.
    #[serde(
        default = "default_memory_limit",
        deserialize_with = "crate::units::deserialize_bytes"
    )]
    pub memory_limit: u64,
    /// How long a dump being written stays protected from `dump delete --incomplete` after its
    /// writer was last heard from (`2m`, `30s`); the writer renews it every quarter of that.
    #[serde(default = "default_lease", deserialize_with = "crate::units::deserialize_age")]
    pub lease: std::time::Duration,
}

impl Default for DumpSettings {
    fn default() -> Self {
        DumpSettings {
            chunk_size: default_chunk_size(),
            workers: default_workers(),
            compression_level: default_compression_level(),
            split_table_bytes: default_split_table_bytes(),
            memory_limit: default_memory_limit(),
            lease: default_lease(),
        }
    }
}

/// Long enough that a writer stalled by a slow store keeps its dump, short enough that the next
/// CronJob run can clean up after a killed one.
fn default_lease() -> std::time::Duration {
    std::time::Duration::from_secs(120)
}

/// Small enough that a table of a few hundred MB keeps every worker busy, large enough that a
/// range is many chunks' worth of one cheap query.
fn default_split_table_bytes() -> u64 {
    128 * 1024 * 1024
}

fn default_memory_limit() -> u64 {
    512 * 1024 * 1024
}

fn default_chunk_size() -> u64 {
    64 * 1024 * 1024
}

pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2)
}

/// The fastest level: compression is the largest share of a dump's CPU, and level 3 only makes
/// the benchmark's dump 15% smaller for about 25% more CPU.
fn default_compression_level() -> i32 {
    1
}

impl Config {
    /// The config for commands that read the source (create, plan, validate): every `${VAR}` must
    /// be set.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::parse(&Self::read(path)?, path, |name| std::env::var(name).ok())
    }

    /// The config for commands that only read dumps (list, restore, verify, delete): they need no
    /// source and no salt, so a developer restoring the nightly dump needs neither the production
    /// password nor the salt in the environment. `source` and `salt` are left out when they name
    /// an unset variable.
    pub fn load_for_dumps(path: &Path) -> Result<Config, ConfigError> {
        Self::parse_lenient(
            &Self::read(path)?,
            path,
            |name| std::env::var(name).ok(),
            &["source", "salt", "encryption"],
        )
    }

    /// The config for `dump create --from-file`: the rows come from a file, so `source` is not
    /// needed and is left out when it names an unset variable.
    pub fn load_for_file(path: &Path) -> Result<Config, ConfigError> {
        Self::parse_lenient(&Self::read(path)?, path, |name| std::env::var(name).ok(), &["source"])
    }

    fn read(path: &Path) -> Result<String, ConfigError> {
        std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(format!(
                "cannot read config file {}: {e}; pass one with -c FILE (see config.example.yaml)",
                path.display()
            ))
        })
    }

    pub fn parse(text: &str, path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Self::parse_lenient(text, path, env, &[])
    }

    fn parse_lenient(
        text: &str,
        path: &Path,
        env: impl Fn(&str) -> Option<String>,
        optional: &[&str],
    ) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let mut value: serde_norway::Value =
            serde_norway::from_str(text).map_err(|e| ConfigError::new(format!("{file}: invalid YAML: {e}")))?;
        if value.is_null() {
            return Err(ConfigError::new(format!(
                "{file} is empty; see config.example.yaml for a start"
            )));
        }
        // One expansion per value: an expanded value may itself contain `$` (a password), so it is
        // never expanded again. A top-level key listed in `optional` is dropped when it names an
        // unset variable instead of failing the whole config.
        let fail = |(key, message): (Vec<String>, String)| {
            let keys: Vec<&str> = key.iter().map(String::as_str).collect();
            ConfigError::at(&file, text, &keys, message)
        };
        match &mut value {
            serde_norway::Value::Mapping(map) => {
                let mut unresolved = Vec::new();
                for (key, item) in map.iter_mut() {
                    let name = key.as_str().map(str::to_string).unwrap_or_else(|| format!("{key:?}"));
                    if let Err(e) = expand_all(item, &mut vec![name.clone()], &env) {
                        if !optional.contains(&name.as_str()) {
                            return Err(fail(e));
                        }
                        unresolved.push(key.clone());
                    }
                }
                for key in unresolved {
                    map.remove(&key);
                }
            }
            other => expand_all(other, &mut Vec::new(), &env).map_err(fail)?,
        }
        let mut config: Config = serde_path_to_error::deserialize(value).map_err(|e| {
            let keys: Vec<String> = e
                .path()
                .iter()
                .filter_map(|segment| match segment {
                    serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                    _ => None,
                })
                .collect();
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            // serde quotes the offending value; for a secret that would print it.
            let message = if keys.first() == Some(&"salt") {
                "must be a text value (quote it, e.g. salt: \"${DECOY_SALT}\")".to_string()
            } else if keys.as_slice() == ["datastore", "s3", "secret_access_key"] {
                "must be a text value (quote it, e.g. secret_access_key: \"${AWS_SECRET_ACCESS_KEY}\")".to_string()
            } else if keys.first() == Some(&"encryption") && keys.get(1) == Some(&"passphrase") {
                "must be a text value (quote it, e.g. passphrase: \"${DECOY_PASSPHRASE}\")".to_string()
            } else {
                e.inner().to_string()
            };
            ConfigError::at(&file, text, &keys, message)
        })?;
        let salt_from_env = config.salt.is_none();
        if salt_from_env {
            config.salt = env("DECOY_SALT").filter(|s| !s.is_empty());
        }
        if optional.contains(&"salt") {
            // Commands that only read dumps never use the salt: a blank one is as good as none.
            config.salt = config.salt.filter(|s| !s.trim().is_empty());
        } else if let Some(salt) = &config.salt {
            check_salt(salt, salt_from_env).map_err(|message| {
                if salt_from_env {
                    ConfigError::new(format!("the DECOY_SALT environment variable {message}"))
                } else {
                    ConfigError::at(&file, text, &["salt"], message)
                }
            })?;
        }
        match (&config.datastore.local, &config.datastore.s3) {
            (None, None) => {
                return Err(ConfigError::at(
                    &file,
                    text,
                    &["datastore"],
                    "choose a datastore, e.g. `local: { path: ./dumps }` or `s3: { bucket: my-dumps }`".into(),
                ))
            }
            (Some(_), Some(_)) => {
                return Err(ConfigError::at(
                    &file,
                    text,
                    &["datastore"],
                    "choose one datastore: `local` or `s3`, not both".into(),
                ))
            }
            (None, Some(s3)) => {
                let at =
                    |key: &str, message: &str| ConfigError::at(&file, text, &["datastore", "s3", key], message.into());
                if s3.bucket.trim().is_empty() {
                    return Err(at("bucket", "must not be empty"));
                }
                if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
                    return Err(at(
                        if s3.access_key_id.is_some() {
                            "access_key_id"
                        } else {
                            "secret_access_key"
                        },
                        "give both `access_key_id` and `secret_access_key`, or neither (then the AWS credential \
                         chain is used: environment, profile, web identity)",
                    ));
                }
                if let Some(endpoint) = &s3.endpoint {
                    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                        return Err(at("endpoint", "must be an http:// or https:// URL"));
                    }
                }
                if s3.prefix.split('/').any(|p| p == "." || p == "..") {
                    return Err(at("prefix", "must not contain `.` or `..` segments"));
                }
            }
            (Some(_), None) => {}
        }
        if config.dump.workers == 0 {
            return Err(ConfigError::at(
                &file,
                text,
                &["dump", "workers"],
                "must be at least 1".into(),
            ));
        }
        if let Some(encryption) = &config.encryption {
            let at = |message: &str| ConfigError::at(&file, text, &["encryption"], message.into());
            match (&encryption.passphrase, encryption.recipients.is_empty()) {
                (Some(_), false) => {
                    return Err(at(
                        "give either `passphrase` or `recipients`, not both (recipients: only holders of a private \
                         key can restore)",
                    ))
                }
                (None, true) => return Err(at(
                    "give `passphrase: ${DECOY_PASSPHRASE}` or `recipients: [age1...]` (public keys from age-keygen)",
                )),
                (Some(p), _) if p.is_empty() => return Err(at("`passphrase` is empty")),
                _ => {}
            }
            if let Err(e) = crate::crypto::parse_recipients(&encryption.recipients) {
                return Err(ConfigError::at(
                    &file,
                    text,
                    &["encryption", "recipients"],
                    e.to_string(),
                ));
            }
        }
        if !(1..=22).contains(&config.dump.compression_level) {
            return Err(ConfigError::at(
                &file,
                text,
                &["dump", "compression_level"],
                "must be between 1 and 22".into(),
            ));
        }
        config.origin = Origin {
            path: path.to_path_buf(),
            text: text.to_string(),
        };
        config.resolve_shared_rules()?;
        Ok(config)
    }

    /// Replaces every `{ rule: NAME }` with the rule defined under `rules:`, keeping its own `when`.
    fn resolve_shared_rules(&mut self) -> Result<(), ConfigError> {
        for (name, rule) in &self.rules {
            if rule.shared.is_some() {
                return Err(self.error_at(&["rules", name], "a shared rule cannot refer to another one".into()));
            }
        }
        let mut tables = std::mem::take(&mut self.tables);
        for (table, rule) in tables.iter_mut() {
            let TableRule::Columns(columns) = rule else { continue };
            for (column, rule) in columns.iter_mut() {
                let ColumnRule::Transform(specs) = rule else { continue };
                for spec in specs.iter_mut() {
                    let Some(shared) = spec.shared.clone() else { continue };
                    let Some(definition) = self.rules.get(&shared) else {
                        let known: Vec<&str> = self.rules.keys().map(String::as_str).collect();
                        let known = if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        };
                        return Err(self.error_at(
                            &["tables", table, "columns", column],
                            format!("no rule named `{shared}` under `rules:` (defined: {known})"),
                        ));
                    };
                    spec.name = definition.name.clone();
                    spec.options = definition.options.clone();
                    spec.when = spec.when.take().or_else(|| definition.when.clone());
                }
            }
        }
        self.tables = tables;
        Ok(())
    }

    /// An error about `keys` in this config, with the file and line.
    pub fn error_at(&self, keys: &[&str], message: String) -> ConfigError {
        ConfigError::at(
            &self.origin.path.display().to_string(),
            &self.origin.text,
            keys,
            message,
        )
    }
}

/// Shorter salts draw a warning: every fake is a keyed hash of its input, so whoever finds the salt
/// can recompute the fake of every guessable input (emails, names) and undo the anonymization.
pub const MIN_SALT_CHARS: usize = 16;

/// Refuses a blank salt (it would key every fake with a value anyone can guess) and warns about a
/// short one. Messages never quote the salt.
fn check_salt(salt: &str, from_env: bool) -> Result<(), String> {
    if salt.trim().is_empty() {
        return Err(
            "is empty or blank: every fake would then be computable by anyone; set a long random secret \
             (e.g. `openssl rand -hex 32`) and keep it (a new salt gives new fakes)"
                .into(),
        );
    }
    if salt.chars().count() < MIN_SALT_CHARS {
        let key = if from_env { "DECOY_SALT" } else { "salt" };
        tracing::warn!(
            "`{key}` is shorter than {MIN_SALT_CHARS} characters: anyone who guesses it can recompute every fake \
             from its input; use a long random secret (e.g. `openssl rand -hex 32`)"
        );
    }
    Ok(())
}

/// Applies `${VAR}` substitution to every string value, remembering the key path for errors.
fn expand_all(
    value: &mut serde_norway::Value,
    path: &mut Vec<String>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), (Vec<String>, String)> {
    match value {
        serde_norway::Value::String(s) => {
            *s = env::expand(s, env).map_err(|e| {
                let message = match e {
                    env::ExpandError::Unset(var) => {
                        format!("environment variable {var} is not set (or empty); set it or use ${{{var}:-default}}")
                    }
                    env::ExpandError::Unterminated => "`${` without a closing `}`".to_string(),
                };
                (path.clone(), message)
            })?;
        }
        serde_norway::Value::Sequence(items) => {
            for item in items {
                expand_all(item, path, env)?;
            }
        }
        serde_norway::Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                path.push(key.as_str().map(str::to_string).unwrap_or_else(|| format!("{key:?}")));
                expand_all(item, path, env)?;
                path.pop();
            }
        }
        serde_norway::Value::Tagged(tagged) => expand_all(&mut tagged.value, path, env)?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("decoy.yaml"), |name| match name {
            "DB_PASSWORD" => Some("s3cret".into()),
            _ => None,
        })
    }

    #[test]
    fn reads_the_documented_shape() {
        let config = parse(
            "source:\n  url: postgres://app:${DB_PASSWORD}@db/app\ndatastore:\n  local: { path: ./dumps }\nsalt: pepper\n\
             only: [public.*]\ntables:\n  public.users:\n    columns:\n      email: email\n      notes: keep\n\
             \x20     first_name: { transformer: first-name, locale: fr }\n  public.audit_log: skip\n",
        )
        .unwrap();
        assert_eq!(config.source.unwrap().url, "postgres://app:s3cret@db/app");
        assert_eq!(config.only, vec!["public.*"]);
        assert!(matches!(config.tables["public.audit_log"], TableRule::Skip));
        let TableRule::Columns(columns) = &config.tables["public.users"] else {
            panic!()
        };
        assert!(matches!(columns["notes"], ColumnRule::Keep));
        let [spec] = columns["first_name"].specs() else {
            panic!()
        };
        assert_eq!(spec.name, "first-name");
        assert_eq!(spec.options["locale"], "fr");
        assert_eq!(config.dump.workers, default_workers());
        assert_eq!(config.dump.split_table_bytes, 128 << 20);
        assert_eq!(config.dump.memory_limit, 512 << 20);
    }

    #[test]
    fn splitting_can_be_turned_off_but_memory_cannot_be_zero() {
        let parse = |dump: &str| parse(&format!("datastore:\n  local:\n    path: ./d\ndump:\n{dump}"));
        assert_eq!(parse("  split_table_bytes: 0\n").unwrap().dump.split_table_bytes, 0);
        assert_eq!(
            parse("  split_table_bytes: 1GiB\n").unwrap().dump.split_table_bytes,
            1 << 30
        );
        let err = parse("  memory_limit: 0\n").unwrap_err().to_string();
        assert!(
            err.contains("dump.memory_limit") && err.contains("more than zero"),
            "{err}"
        );
    }

    #[test]
    fn the_example_config_is_valid_and_names_real_transformers() {
        let text = include_str!("../../config.example.yaml");
        let config = Config::parse(text, Path::new("config.example.yaml"), |n| {
            Some(format!("value-of-{n}"))
        })
        .unwrap();
        assert_eq!(config.salt.as_deref(), Some("value-of-DECOY_SALT"));
        assert_eq!(config.dump.chunk_size, 64 << 20);
        assert_eq!(config.dump.split_table_bytes, 128 << 20);
        assert_eq!(config.dump.memory_limit, 512 << 20);
        let known: Vec<&str> = transformers::catalogue_info().iter().map(|t| t.name).collect();
        for rule in config.tables.values() {
            if let TableRule::Columns(columns) = rule {
                for column in columns.values() {
                    for spec in column.specs() {
                        assert!(
                            known.contains(&spec.name.as_str()),
                            "{} is not in the catalogue",
                            spec.name
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn shared_rules_conditions_and_rule_lists() {
        let config = parse(
            "datastore:\n  local: { path: x }\nrules:\n  pii-email: { transformer: email, keep_domain: true }\n\
             tables:\n  a:\n    columns:\n      mail: { rule: pii-email }\n      name:\n\
             \x20       - { transformer: first-name, locale: fr, when: \"country = 'FR'\" }\n\
             \x20       - first-name\n",
        )
        .unwrap();
        let TableRule::Columns(columns) = &config.tables["a"] else {
            panic!()
        };
        let [mail] = columns["mail"].specs() else { panic!() };
        assert_eq!(
            (mail.name.as_str(), &mail.options["keep_domain"]),
            ("email", &serde_json::json!(true))
        );
        let [fr, any] = columns["name"].specs() else { panic!() };
        assert_eq!(fr.when.as_deref(), Some("country = 'FR'"));
        assert_eq!((any.name.as_str(), any.when.as_deref()), ("first-name", None));

        let err = parse("datastore:\n  local: { path: x }\ntables:\n  a:\n    columns:\n      m: { rule: nope }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no rule named `nope`") && err.contains("line 6"), "{err}");
        let err =
            parse("datastore:\n  local: { path: x }\ntables:\n  a:\n    columns:\n      m: { rule: r, locale: fr }\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("takes no options"), "{err}");
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let err = parse("datastore:\n  local: { path: x }\nsaltt: y\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("saltt") && err.contains("line 3"), "{err}");
        let err = parse("datastore:\n  local:\n    path: x\n    pth: y\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pth") && err.contains("datastore.local"), "{err}");
    }

    #[test]
    fn unset_variables_name_the_key_and_never_echo_other_values() {
        let err = parse("source:\n  url: postgres://u:${NOPE}@h/db\ndatastore:\n  local: { path: x }\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("NOPE") && err.contains("source.url") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn dump_readers_do_not_need_the_source_password_or_the_salt() {
        let text =
            "source:\n  url: postgres://u:${PGPASSWORD}@h/db\ndatastore:\n  local: { path: \"${DUMPS:-./d}\" }\n\
                    salt: ${DECOY_SALT}\n";
        let config = Config::parse_lenient(text, Path::new("c.yaml"), |_| None, &["source", "salt"]).unwrap();
        assert!(config.source.is_none() && config.salt.is_none());
        // Each value is expanded once: a `$` coming from the environment stays as it is.
        let env = |name: &str| (name == "PGPASSWORD").then(|| "a$$b${X}".to_string());
        let config = Config::parse_lenient(text, Path::new("c.yaml"), env, &["source", "salt"]).unwrap();
        assert_eq!(config.source.unwrap().url, "postgres://u:a$$b${X}@h/db");
        assert_eq!(config.datastore.local.unwrap().path, Path::new("./d"));
        assert!(Config::parse(text, Path::new("c.yaml"), |_| None)
            .unwrap_err()
            .to_string()
            .contains("PGPASSWORD"));
    }

    #[test]
    fn a_malformed_salt_is_not_echoed() {
        // A bare number is not a string: serde would quote it in its message.
        let err = parse("datastore:\n  local: { path: x }\nsalt: 9876543210\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`salt`") && !err.contains("9876543210"), "{err}");
    }

    #[test]
    fn a_blank_salt_is_refused_without_echoing_it() {
        for salt in ["\"\"", "\"   \"", "\"\\t\""] {
            let err = parse(&format!("datastore:\n  local: {{ path: x }}\nsalt: {salt}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("`salt`") && err.contains("line 3") && err.contains("blank"),
                "{err}"
            );
        }
        let blank_env = |name: &str| (name == "DECOY_SALT").then(|| "   ".to_string());
        let err = Config::parse("datastore:\n  local: { path: x }\n", Path::new("c.yaml"), blank_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("DECOY_SALT") && err.contains("blank"), "{err}");
        // An empty variable is an unset one: the plan says a salt is needed when rules need it.
        let empty_env = |name: &str| (name == "DECOY_SALT").then(String::new);
        let config = Config::parse("datastore:\n  local: { path: x }\n", Path::new("c.yaml"), empty_env).unwrap();
        assert!(config.salt.is_none());
        // Commands that only read dumps ignore it.
        let config = Config::parse_lenient(
            "datastore:\n  local: { path: x }\nsalt: \"  \"\n",
            Path::new("c.yaml"),
            |_| None,
            &["source", "salt"],
        )
        .unwrap();
        assert!(config.salt.is_none());
        assert!(check_salt("short-but-set", false).is_ok());
        assert!(check_salt(&"x".repeat(MIN_SALT_CHARS), true).is_ok());
    }

    #[test]
    fn bad_table_rules_are_explained() {
        let err = parse("datastore:\n  local: { path: x }\ntables:\n  public.users: skipp\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("skipp") && err.contains("line 4"), "{err}");
        let err =
            parse("datastore:\n  local: { path: x }\ntables:\n  t:\n    columns:\n      c: { keep_domain: true }\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("transformer") && err.contains("tables.t"), "{err}");
    }

    #[test]
    fn s3_datastore_options() {
        let config = parse(
            "datastore:\n  s3:\n    bucket: dumps\n    prefix: team/app\n    endpoint: http://127.0.0.1:8014\n\
             \x20   path_style: true\n    access_key_id: AKID\n    secret_access_key: \"s3cr3t\"\n",
        )
        .unwrap();
        let s3 = config.datastore.s3.unwrap();
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str(), s3.region.as_str()),
            ("dumps", "team/app", "us-east-1")
        );
        assert!(s3.path_style);
        let debug = format!("{s3:?}");
        assert!(debug.contains("AKID") && !debug.contains("s3cr3t"), "{debug}");

        let config = parse("datastore:\n  s3: { bucket: b }\n").unwrap();
        let s3 = config.datastore.s3.unwrap();
        assert!(s3.prefix.is_empty() && s3.endpoint.is_none() && !s3.path_style && s3.access_key_id.is_none());
    }

    #[test]
    fn s3_datastore_mistakes_are_config_errors() {
        let err = |text: &str| parse(text).unwrap_err().to_string();
        let e = err("datastore:\n  s3: { bucket: b, access_key_id: AKID }\n");
        assert!(e.contains("datastore.s3.access_key_id") && e.contains("both"), "{e}");
        let e = err("datastore:\n  s3: { bucket: b, secret_access_key: \"zzz\" }\n");
        assert!(e.contains("secret_access_key") && !e.contains("zzz"), "{e}");
        let e = err("datastore:\n  s3: { bucket: b, secret_access_key: 123456789 }\n");
        assert!(e.contains("secret_access_key") && !e.contains("123456789"), "{e}");
        let e = err("datastore:\n  s3: { prefix: p }\n");
        assert!(e.contains("bucket"), "{e}");
        let e = err("datastore:\n  s3: { bucket: b, buckt: c }\n");
        assert!(e.contains("buckt"), "{e}");
        let e = err("datastore:\n  s3: { bucket: b, endpoint: \"127.0.0.1:9000\" }\n");
        assert!(e.contains("endpoint") && e.contains("http://"), "{e}");
        let e = err("datastore:\n  s3: { bucket: b }\n  local: { path: x }\n");
        assert!(e.contains("`datastore`") && e.contains("not both"), "{e}");
        let e = err("datastore: {}\n");
        assert!(e.contains("`datastore`") && e.contains("s3"), "{e}");
    }
}
