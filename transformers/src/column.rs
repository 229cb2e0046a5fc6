/// What a transformer needs to know about the column it writes to, so that its output always fits.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    /// Qualified name for messages, e.g. `public.users.email`.
    pub name: String,
    pub kind: ColumnKind,
    pub nullable: bool,
    /// Part of a primary key or a single-column unique constraint/index.
    pub unique: bool,
}

/// The column's type, reduced to what constrains a generated value.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnKind {
    /// text, varchar(n), char(n), citext: `max_chars` is n where the type has one.
    Text {
        max_chars: Option<u32>,
    },
    /// int2/int4/int8 (and MySQL's TINYINT.. with `unsigned`).
    Int {
        bits: u8,
        unsigned: bool,
    },
    /// numeric(p, s) / decimal.
    Numeric {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    Float,
    Bool,
    Bytes,
    Uuid,
    Date,
    Timestamp {
        with_tz: bool,
    },
    Time,
    Json,
    /// An enum type with its allowed labels.
    Enum {
        values: Vec<String>,
    },
    /// Anything else, with the engine's type name.
    Other(String),
}

impl ColumnSpec {
    pub fn text(name: &str) -> Self {
        ColumnSpec {
            name: name.into(),
            kind: ColumnKind::Text { max_chars: None },
            nullable: true,
            unique: false,
        }
    }
}
