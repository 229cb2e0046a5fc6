//! The transformer catalogue, grouped by domain. Each file exposes `Entry` values: a name, its
//! documentation for `decoy transformer list`, and a builder that validates options against the
//! column once, so that `transform` only computes.

mod array;
mod company;
mod datetime;
pub(crate) mod finance;
mod gendered_names;
mod generic;
mod identity;
mod internet;
mod json;
mod location;
mod network;
mod number;
mod password;
mod person;
mod phone;
mod random;
mod template;
mod text;

use std::borrow::Cow;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::engine::DomainHasher;
use crate::registry::TransformerInfo;
use crate::{BuildError, ColumnKind, ColumnSpec, Engine, TransformError, Transformer, Value};

pub(crate) type Built = Result<Arc<dyn Transformer>, BuildError>;

/// One catalogue item.
pub(crate) struct Entry {
    pub name: &'static str,
    pub info: fn() -> TransformerInfo,
    pub build: fn(&Ctx<'_>) -> Built,
}

/// Every transformer, in the order `decoy transformer list` shows them.
pub(crate) const ENTRIES: &[Entry] = &[
    person::FIRST_NAME,
    person::LAST_NAME,
    person::FULL_NAME,
    person::TITLE,
    internet::EMAIL,
    internet::USERNAME,
    internet::DOMAIN,
    internet::URL,
    internet::USER_AGENT,
    network::IPV4,
    network::IPV6,
    network::MAC,
    password::PASSWORD,
    phone::PHONE_NUMBER,
    finance::CREDIT_CARD,
    finance::IBAN,
    identity::SSN,
    location::STREET_ADDRESS,
    location::CITY,
    location::POSTCODE,
    location::STATE,
    location::COUNTRY,
    location::LATITUDE,
    location::LONGITUDE,
    company::COMPANY,
    company::JOB_TITLE,
    text::KEEP_FIRST_CHAR,
    text::REDACTED,
    text::MASK,
    text::LOREM,
    text::REGEX_REPLACE,
    text::CHOICE,
    number::NOISE_NUMBER,
    number::RANDOM_INT,
    datetime::NOISE_DATE,
    datetime::TRUNCATE_DATE,
    datetime::BIRTH_DATE,
    json::JSON,
    random::RANDOM,
    generic::HASH,
    generic::NULL,
    generic::CONSTANT,
    generic::KEEP,
    generic::TRANSIENT,
    template::TEMPLATE,
    array::ARRAY,
];

/// The names `build` accepts.
pub fn names() -> impl Iterator<Item = &'static str> {
    ENTRIES.iter().map(|e| e.name)
}

/// What a builder gets: the rule's raw options and the column it writes to.
pub(crate) struct Ctx<'a> {
    pub name: &'static str,
    pub options: &'a serde_json::Value,
    pub column: &'a ColumnSpec,
    pub engine: &'a Engine,
}

impl Ctx<'_> {
    /// Parses the typed options and derives the rule's keyed domain from the name and the parsed
    /// options, so different rules give unrelated outputs while `{}` and explicit defaults agree.
    pub fn parse<T: DeserializeOwned + Serialize>(&self) -> Result<(T, DomainHasher), BuildError> {
        let empty = serde_json::Value::Object(Default::default());
        let raw = match self.options {
            serde_json::Value::Null => &empty,
            v @ serde_json::Value::Object(_) => v,
            other => return Err(self.bad_option(format!("options must be a mapping, got `{other}`"))),
        };
        let opts = T::deserialize(raw).map_err(|e| self.bad_option(e.to_string()))?;
        let fingerprint = serde_json::to_string(&opts).map_err(|e| self.bad_option(e.to_string()))?;
        let domain = self.engine.domain(&format!("{}|{}", self.name, fingerprint));
        Ok((opts, domain))
    }

    pub fn bad_option(&self, message: impl Into<String>) -> BuildError {
        BuildError::BadOption {
            transformer: self.name.to_string(),
            message: message.into(),
        }
    }

    pub fn incompatible(&self, message: impl Into<String>) -> BuildError {
        BuildError::Incompatible {
            transformer: self.name.to_string(),
            column: self.column.name.clone(),
            message: message.into(),
        }
    }

    /// Whether outputs must be distinct: the rule asks for it or the column enforces it.
    pub fn unique(&self, requested: bool) -> bool {
        requested || self.column.unique
    }

    pub fn max_chars(&self) -> Option<usize> {
        match self.column.kind {
            ColumnKind::Text { max_chars } => max_chars.map(|m| m as usize),
            _ => None,
        }
    }

    /// Text-producing transformers only write to text-like columns.
    pub fn require_text(&self) -> Result<(), BuildError> {
        match &self.column.kind {
            ColumnKind::Text { .. } | ColumnKind::Other(_) => Ok(()),
            kind => Err(self.incompatible(format!(
                "it writes text and the column is {}; use `random`, `constant` or `keep`",
                kind_name(kind)
            ))),
        }
    }

    /// The standard refusal for a transformer that cannot guarantee distinct outputs.
    pub fn not_unique(&self, alternative: &str) -> BuildError {
        self.incompatible(format!(
            "the column is unique (or `unique: true` was set) and `{}` can produce duplicates; {alternative}",
            self.name
        ))
    }
}

pub(crate) fn kind_name(kind: &ColumnKind) -> String {
    match kind {
        ColumnKind::Text { max_chars: Some(n) } => format!("varchar({n})"),
        ColumnKind::Text { max_chars: None } => "text".into(),
        ColumnKind::Int { bits, unsigned } => format!("{}int{bits}", if *unsigned { "u" } else { "" }),
        ColumnKind::Numeric { .. } => "numeric".into(),
        ColumnKind::Float => "float".into(),
        ColumnKind::Bool => "bool".into(),
        ColumnKind::Bytes => "bytes".into(),
        ColumnKind::Uuid => "uuid".into(),
        ColumnKind::Date => "date".into(),
        ColumnKind::Timestamp { .. } => "timestamp".into(),
        ColumnKind::Time => "time".into(),
        ColumnKind::Json => "json".into(),
        ColumnKind::Enum { .. } => "enum".into(),
        ColumnKind::Other(name) => name.clone(),
    }
}

/// The text form of a non-NULL value (SQL sources already send text).
pub(crate) fn text_of<'v>(value: &'v Value<'_>) -> Cow<'v, str> {
    match value {
        Value::Text(s) => Cow::Borrowed(s.as_ref()),
        Value::Bytes(b) => String::from_utf8_lossy(b),
        other => match other.key_bytes() {
            Cow::Owned(b) => Cow::Owned(String::from_utf8(b).unwrap_or_default()),
            Cow::Borrowed(_) => Cow::Borrowed(""),
        },
    }
}

/// Cuts `s` to at most `max` characters (on a char boundary).
pub(crate) fn truncate(s: &str, max: Option<usize>) -> &str {
    match max {
        Some(max) => match s.char_indices().nth(max) {
            Some((i, _)) => &s[..i],
            None => s,
        },
        None => s,
    }
}

pub(crate) fn transform_error(name: &str, message: impl Into<String>) -> TransformError {
    TransformError {
        transformer: name.to_string(),
        message: message.into(),
    }
}

/// The locale of every locale-aware transformer unless its rule says otherwise.
pub(crate) fn default_locale() -> String {
    "en".into()
}

/// How an unusable input looks, without quoting it (source values may be personal data): its
/// length and the kinds of characters in it.
pub(crate) fn describe_input(input: &str) -> String {
    let chars = input.chars().count();
    let mut kinds = Vec::new();
    if input.chars().any(|c| c.is_ascii_digit()) {
        kinds.push("digits");
    }
    if input.chars().any(char::is_alphabetic) {
        kinds.push("letters");
    }
    if input.chars().any(|c| !c.is_alphanumeric()) {
        kinds.push("other characters");
    }
    match chars {
        0 => "an empty value".to_string(),
        _ => format!("a value of {chars} characters ({})", kinds.join(", ")),
    }
}

/// Maps 32 random bits onto `[0, n)` without division (Lemire), for picking from word lists.
pub(crate) fn pick<T: Copy>(list: &[T], bits: u32) -> T {
    list[((bits as u64 * list.len() as u64) >> 32) as usize]
}

/// Shared test helpers.
#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use crate::Mode;

    pub fn engine() -> Engine {
        Engine::new(b"test-salt", Mode::Deterministic)
    }

    pub fn build_on(name: &str, options: serde_json::Value, column: &ColumnSpec) -> Built {
        crate::build(name, &options, column, &engine())
    }

    pub fn rule(name: &str, options: serde_json::Value) -> Arc<dyn Transformer> {
        build_on(name, options, &ColumnSpec::text("t.c")).unwrap()
    }

    pub fn column(kind: ColumnKind) -> ColumnSpec {
        ColumnSpec {
            name: "t.c".into(),
            kind,
            nullable: true,
            unique: false,
        }
    }

    pub fn unique(kind: ColumnKind) -> ColumnSpec {
        ColumnSpec {
            unique: true,
            nullable: false,
            ..column(kind)
        }
    }

    pub fn varchar(n: u32) -> ColumnSpec {
        column(ColumnKind::Text { max_chars: Some(n) })
    }

    pub fn run(t: &dyn Transformer, input: &str) -> String {
        match t.transform(Value::text(input.to_string())).unwrap() {
            Value::Text(s) => s.into_owned(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    pub fn is_incompatible(r: &Built, needle: &str) -> bool {
        matches!(r, Err(BuildError::Incompatible { message, .. }) if message.contains(needle))
    }
}
