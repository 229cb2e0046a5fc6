//! Internet identities: `email` (realistic `first.last@domain` addresses), `username`, `domain`, `url`
//! and `user-agent`. Fake domains use the reserved example domains and TLDs (RFC 2606), so a copied
//! database can never mail or link to a real party.

use std::fmt::Write as _;
use std::sync::Arc;

use fake::locales::{Data, EN};
use serde::{Deserialize, Serialize};

use super::{pick, text_of, truncate, Built, Ctx, Entry};
use crate::engine::DomainHasher;
use crate::registry::{OptionInfo, TransformerInfo};
use crate::{BuildError, TransformError, Transformer, Value};

const DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];
/// `.` + 13 base36 digits: the whole 64-bit keyed hash, so distinct inputs get distinct tags.
const TAG_LEN: usize = 14;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct EmailOptions {
    #[serde(default)]
    keep_domain: bool,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    unique: bool,
}

struct Email {
    keys: DomainHasher,
    keep_domain: bool,
    domain: Option<String>,
    unique: bool,
    max_chars: Option<usize>,
}

fn build(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<EmailOptions>()?;
    ctx.require_text()?;
    if let Some(d) = &opts.domain {
        if opts.keep_domain {
            return Err(ctx.bad_option("`domain` and `keep_domain: true` conflict; set only one"));
        }
        if d.is_empty() || d.contains('@') || d.chars().any(char::is_whitespace) {
            return Err(ctx.bad_option(format!("`domain` must be a bare domain like example.com, got `{d}`")));
        }
    }
    let unique = ctx.unique(opts.unique);
    // The shortest address we may have to produce: one letter, the tag, `@`, and the fallback domain.
    let domain_len = opts.domain.as_deref().map_or(DOMAINS[0].len(), str::len);
    let min = 1 + if unique { TAG_LEN } else { 0 } + 1 + domain_len;
    if let Some(max) = ctx.max_chars() {
        if max < min {
            let what = if unique { "a unique fake email" } else { "a fake email" };
            return Err(ctx.incompatible(format!(
                "{what} needs at least {min} characters and the column holds {max}; use `hash` or `redacted`"
            )));
        }
    }
    Ok(Arc::new(Email {
        keys,
        keep_domain: opts.keep_domain,
        domain: opts.domain,
        unique,
        max_chars: ctx.max_chars(),
    }))
}

/// Lowercase ASCII letters of a name (the word lists have a few apostrophes and spaces).
fn push_letters(out: &mut String, name: &str, budget: &mut usize) {
    for c in name.chars().filter(char::is_ascii_alphabetic) {
        if *budget == 0 {
            return;
        }
        out.push(c.to_ascii_lowercase());
        *budget -= 1;
    }
}

fn push_base36(out: &mut String, mut v: u64) {
    let mut buf = [b'0'; 13];
    for slot in buf.iter_mut().rev() {
        *slot = b"0123456789abcdefghijklmnopqrstuvwxyz"[(v % 36) as usize];
        v /= 36;
    }
    out.push_str(std::str::from_utf8(&buf).expect("ascii"));
}

impl Transformer for Email {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let h = self.keys.seed(input.as_bytes());
        let domain: &str = match (&self.domain, self.keep_domain) {
            (Some(d), _) => d,
            (None, true) => match input.rsplit_once('@') {
                Some((_, d)) if !d.is_empty() => d,
                _ => pick(DOMAINS, (h >> 40) as u32),
            },
            (None, false) => pick(DOMAINS, (h >> 40) as u32),
        };
        let tag = if self.unique { TAG_LEN } else { 0 };
        // A kept domain too long for the column falls back to a fake one (the tag keeps it unique).
        let domain = match self.max_chars {
            Some(max) if 2 + tag + domain.len() > max => pick(DOMAINS, (h >> 40) as u32),
            _ => domain,
        };
        let mut budget = self.max_chars.map_or(usize::MAX, |m| m - tag - 1 - domain.len());
        let mut out = String::with_capacity(24 + tag + domain.len());
        let first = pick(EN::NAME_FIRST_NAME, h as u32);
        let last = pick(EN::NAME_LAST_NAME, (h >> 20) as u32);
        push_letters(&mut out, first, &mut budget);
        if budget > 1 {
            out.push(if h & (1 << 62) == 0 { '.' } else { '_' });
            budget -= 1;
        }
        push_letters(&mut out, last, &mut budget);
        if !self.unique && h >> 63 == 1 && budget >= 2 {
            let _ = write!(out, "{:02}", (h >> 52) % 100);
        }
        if self.unique {
            // Keyed on the input, not the seed: the tag must be stable even in random mode.
            out.push('.');
            push_base36(&mut out, self.keys.hash64(input.as_bytes()));
        }
        out.push('@');
        out.push_str(domain);
        Ok(Value::text(out))
    }
}

/// Replaces the ASCII letter or digit at byte `at` with the next one, so an output that happens to
/// equal its input differs from it (the same way for the same input).
fn bump(out: &mut String, at: usize) {
    let Some(c) = out.as_bytes().get(at).copied() else {
        return;
    };
    let next = match c {
        b'z' => b'a',
        b'Z' => b'A',
        b'9' => b'0',
        c if c.is_ascii_alphanumeric() => c + 1,
        _ => return,
    };
    out.replace_range(at..at + 1, std::str::from_utf8(&[next]).expect("ascii"));
}

/// Keyed 64-bit tag length without separator (base36 of the whole keyed hash).
const TAG_DIGITS: usize = TAG_LEN - 1;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct UsernameOptions {
    #[serde(default)]
    unique: bool,
}

struct Username {
    keys: DomainHasher,
    unique: bool,
    max_chars: Option<usize>,
}

fn build_username(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<UsernameOptions>()?;
    ctx.require_text()?;
    let unique = ctx.unique(opts.unique);
    let min = if unique { 1 + TAG_DIGITS } else { 1 };
    if let Some(max) = ctx.max_chars() {
        if max < min {
            return Err(ctx.incompatible(format!(
                "a unique fake username needs at least {min} characters and the column holds {max}; use `hash`"
            )));
        }
    }
    Ok(Arc::new(Username {
        keys,
        unique,
        max_chars: ctx.max_chars(),
    }))
}

impl Username {
    fn write(&self, out: &mut String, h: u64, mut budget: usize) {
        let first = pick(EN::NAME_FIRST_NAME, h as u32);
        let last = pick(EN::NAME_LAST_NAME, (h >> 20) as u32);
        let initial = |name: &'static str| &name[..name.find(|c: char| c.is_ascii_alphabetic()).map_or(0, |i| i + 1)];
        let digits = (h >> 52) % 100;
        // jane.doe, jane_doe, janedoe, jdoe, jane_d, doej, jane84, jdoe84
        let (a, sep, b, with_digits) = match (h >> 40) & 7 {
            0 => (first, Some('.'), last, false),
            1 => (first, Some('_'), last, false),
            2 => (first, None, last, h >> 63 == 1),
            3 => (initial(first), None, last, false),
            4 => (first, Some('_'), initial(last), false),
            5 => (last, None, initial(first), false),
            6 => (first, None, "", true),
            _ => (initial(first), None, last, true),
        };
        push_letters(out, a, &mut budget);
        if let Some(sep) = sep {
            if budget > 1 {
                out.push(sep);
                budget -= 1;
            }
        }
        push_letters(out, b, &mut budget);
        if with_digits && budget >= 2 {
            let _ = write!(out, "{digits:02}");
        }
    }
}

impl Transformer for Username {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let h = self.keys.seed(input.as_bytes());
        let tag = if self.unique { 1 + TAG_DIGITS } else { 0 };
        let mut out = String::with_capacity(20 + tag);
        match self.max_chars {
            // Room for the tag only (checked at build): the tag alone is the username.
            Some(max) if self.unique && max < 2 + TAG_DIGITS => {
                self.write(&mut out, h, max - TAG_DIGITS);
            }
            max => {
                self.write(&mut out, h, max.map_or(usize::MAX, |m| m - tag));
                if self.unique {
                    out.push('_');
                }
            }
        }
        if self.unique {
            // Keyed on the input, not the seed: the tag must be stable even in random mode.
            push_base36(&mut out, self.keys.hash64(input.as_bytes()));
        }
        if out == *input {
            bump(&mut out, 0);
        }
        Ok(Value::text(out))
    }
}

pub(crate) const USERNAME: Entry = Entry {
    name: "username",
    info: || TransformerInfo {
        name: "username",
        description:
            "A realistic handle like jdoe84, jane.doe or jane_d; on unique columns a keyed tag keeps handles distinct",
        unique_safe: true,
        options: vec![OptionInfo {
            name: "unique",
            kind: "bool",
            default: "column is unique",
            description: "Append `_` and a 64-bit keyed tag so distinct inputs never share a handle",
        }],
        example: "login: { transformer: username, unique: true }",
    },
    build: build_username,
};

/// Reserved top-level domains (RFC 2606) used unless `tld` is set.
const RESERVED_TLDS: &[&str] = &["example", "test"];

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct DomainOptions {
    #[serde(default)]
    tld: Option<String>,
    #[serde(default)]
    unique: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct UrlOptions {
    #[serde(default)]
    tld: Option<String>,
    #[serde(default)]
    keep_path: bool,
    #[serde(default)]
    unique: bool,
}

/// Realistic host names: a word label (with a keyed tag when unique) and a TLD.
struct Hosts {
    keys: DomainHasher,
    tld: Option<String>,
    unique: bool,
}

impl Hosts {
    fn from_options(ctx: &Ctx<'_>, keys: DomainHasher, tld: Option<String>, unique: bool) -> Result<Self, BuildError> {
        let tld = match tld {
            Some(t) => {
                let t = t.trim_start_matches('.').to_ascii_lowercase();
                let ok = !t.is_empty()
                    && t.len() <= 63
                    && !t.starts_with('-')
                    && !t.ends_with(['-', '.'])
                    && !t.contains("..")
                    && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
                if !ok {
                    return Err(ctx.bad_option(format!("`tld` must look like `com` or `co.uk`, got `{t}`")));
                }
                Some(t)
            }
            None => None,
        };
        Ok(Hosts {
            keys,
            tld,
            unique: ctx.unique(unique),
        })
    }

    /// The shortest host this produces: one letter, the tag, `.` and the longest TLD.
    fn min_len(&self) -> usize {
        let tld = self.tld.as_deref().map_or(RESERVED_TLDS[0].len(), str::len);
        1 + if self.unique { TAG_LEN } else { 0 } + 1 + tld
    }

    /// Appends a host for `input` whose seed is `h`, in at most `budget` bytes (`>= min_len`).
    fn push(&self, out: &mut String, input: &[u8], h: u64, budget: usize) {
        let tld: &str = self
            .tld
            .as_deref()
            .unwrap_or_else(|| pick(RESERVED_TLDS, (h >> 8) as u32));
        let tag = if self.unique { TAG_LEN } else { 0 };
        let mut label = budget.saturating_sub(tag + 1 + tld.len()).max(1);
        let last = pick(EN::NAME_LAST_NAME, (h >> 16) as u32);
        let other = match (h >> 48) & 3 {
            0 => None,
            1 | 3 => Some(pick(EN::COMPANY_BUZZWORD_TAIL, (h >> 32) as u32)),
            _ => Some(pick(EN::NAME_LAST_NAME, (h >> 32) as u32)),
        };
        let (a, b) = if (h >> 48) & 3 == 3 {
            (other.unwrap_or(last), Some(last))
        } else {
            (last, other)
        };
        push_letters(out, a, &mut label);
        if let Some(b) = b {
            if label > 1 {
                out.push('-');
                label -= 1;
                push_letters(out, b, &mut label);
            }
        }
        if self.unique {
            out.push('-');
            push_base36(out, self.keys.hash64(input));
        }
        out.push('.');
        out.push_str(tld);
    }
}

struct DomainT {
    hosts: Hosts,
    max_chars: Option<usize>,
}

fn check_fits(ctx: &Ctx<'_>, min: usize, what: &str) -> Result<(), BuildError> {
    match ctx.max_chars() {
        Some(max) if max < min => Err(ctx.incompatible(format!(
            "{what} needs at least {min} characters and the column holds {max}; use `hash` or `redacted`"
        ))),
        _ => Ok(()),
    }
}

fn build_domain(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<DomainOptions>()?;
    ctx.require_text()?;
    let hosts = Hosts::from_options(ctx, keys, opts.tld, opts.unique)?;
    check_fits(ctx, hosts.min_len(), "a fake domain")?;
    Ok(Arc::new(DomainT {
        hosts,
        max_chars: ctx.max_chars(),
    }))
}

impl Transformer for DomainT {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let h = self.hosts.keys.seed(input.as_bytes());
        let mut out = String::with_capacity(32);
        self.hosts
            .push(&mut out, input.as_bytes(), h, self.max_chars.unwrap_or(usize::MAX));
        if out.eq_ignore_ascii_case(&input) {
            bump(&mut out, 0);
        }
        Ok(Value::text(out))
    }
}

struct Url {
    hosts: Hosts,
    keep_path: bool,
    max_chars: Option<usize>,
}

const SCHEME: &str = "https://";
const PAGE_EXTENSIONS: &[&str] = &["html", "php", "pdf", "png", "jpg", "json"];

fn build_url(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<UrlOptions>()?;
    ctx.require_text()?;
    let hosts = Hosts::from_options(ctx, keys, opts.tld, opts.unique)?;
    check_fits(ctx, SCHEME.len() + hosts.min_len() + 1, "a fake URL")?;
    Ok(Arc::new(Url {
        hosts,
        keep_path: opts.keep_path,
        max_chars: ctx.max_chars(),
    }))
}

/// The path of a URL without query and fragment (`/` when it has none).
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    rest.find('/').map_or("/", |i| &rest[i..])
}

impl Transformer for Url {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let h = self.hosts.keys.seed(input.as_bytes());
        let max = self.max_chars.unwrap_or(usize::MAX);
        let mut out = String::with_capacity(48);
        out.push_str(SCHEME);
        self.hosts.push(&mut out, input.as_bytes(), h, max - SCHEME.len() - 1);
        let host_end = out.len();
        if self.keep_path {
            out.push_str(path_of(&input));
        } else {
            let seg = |shift: u32| pick(EN::PATH_SEGMENTS, (h >> shift) as u32);
            match h >> 62 {
                0 => out.push('/'),
                1 => {
                    let _ = write!(out, "/{}", seg(4));
                }
                2 => {
                    let _ = write!(out, "/{}/{}", seg(4), seg(24));
                }
                _ => {
                    let ext = pick(PAGE_EXTENSIONS, (h >> 24) as u32);
                    let _ = write!(out, "/{}/{}.{ext}", seg(4), seg(34));
                }
            }
        }
        if out.len() > max {
            let keep = truncate(&out[host_end..], Some(max - host_end)).len();
            out.truncate(host_end + keep);
        }
        if out == *input {
            bump(&mut out, SCHEME.len());
        }
        Ok(Value::text(out))
    }
}

fn host_options(with_path: bool) -> Vec<OptionInfo> {
    let mut v = vec![OptionInfo {
        name: "tld",
        kind: "string",
        default: "example / test",
        description: "Top-level domain to use instead of the reserved `.example` and `.test`",
    }];
    if with_path {
        v.push(OptionInfo {
            name: "keep_path",
            kind: "bool",
            default: "false",
            description: "Keep the original path (query and fragment are dropped) instead of a fake one",
        });
    }
    v.push(OptionInfo {
        name: "unique",
        kind: "bool",
        default: "column is unique",
        description: "Append a 64-bit keyed tag to the host label so distinct inputs never share a host",
    });
    v
}

pub(crate) const DOMAIN: Entry = Entry {
    name: "domain",
    info: || TransformerInfo {
        name: "domain",
        description: "A realistic domain name like schmidt-logistics.example, on reserved TLDs unless `tld` is set",
        unique_safe: true,
        options: host_options(false),
        example: "website: { transformer: domain, tld: test }",
    },
    build: build_domain,
};

pub(crate) const URL: Entry = Entry {
    name: "url",
    info: || TransformerInfo {
        name: "url",
        description: "A realistic https://<host>.<example tld>/<path> URL; optionally keeping the original path",
        unique_safe: true,
        options: host_options(true),
        example: "homepage: { transformer: url, keep_path: true }",
    },
    build: build_url,
};

/// Recent browsers, added to fake's (older) list.
const MODERN_USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
];

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct UserAgentOptions {
    #[serde(default)]
    unique: bool,
}

struct UserAgent {
    agents: Vec<&'static str>,
    keys: DomainHasher,
}

fn build_user_agent(ctx: &Ctx<'_>) -> Built {
    let (opts, keys) = ctx.parse::<UserAgentOptions>()?;
    ctx.require_text()?;
    if ctx.unique(opts.unique) {
        return Err(ctx.not_unique("user agents repeat; use `hash`"));
    }
    let max = ctx.max_chars().unwrap_or(usize::MAX);
    let agents: Vec<&'static str> = EN::INTERNET_USER_AGENT
        .iter()
        .chain(MODERN_USER_AGENTS)
        .copied()
        .filter(|a| a.len() <= max)
        .collect();
    if agents.is_empty() {
        let shortest = EN::INTERNET_USER_AGENT
            .iter()
            .chain(MODERN_USER_AGENTS)
            .map(|a| a.len())
            .min();
        return Err(ctx.incompatible(format!(
            "the shortest user agent has {} characters and the column holds {max}; use `redacted` or `null`",
            shortest.unwrap_or(0)
        )));
    }
    Ok(Arc::new(UserAgent { agents, keys }))
}

impl Transformer for UserAgent {
    fn transform<'a>(&self, value: Value<'a>) -> Result<Value<'a>, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let input = text_of(&value);
        let bits = self.keys.seed(input.as_bytes()) as u32;
        let i = ((bits as u64 * self.agents.len() as u64) >> 32) as usize;
        let mut agent = self.agents[i];
        if agent == input && self.agents.len() > 1 {
            agent = self.agents[(i + 1) % self.agents.len()];
        }
        Ok(Value::text(agent))
    }
}

pub(crate) const USER_AGENT: Entry = Entry {
    name: "user-agent",
    info: || TransformerInfo {
        name: "user-agent",
        description: "A realistic browser user agent string (desktop and mobile, old and recent)",
        unique_safe: false,
        options: vec![OptionInfo {
            name: "unique",
            kind: "bool",
            default: "false",
            description: "User agents repeat, so this is refused",
        }],
        example: "agent: { transformer: user-agent }",
    },
    build: build_user_agent,
};

pub(crate) const EMAIL: Entry = Entry {
    name: "email",
    info: || TransformerInfo {
        name: "email",
        description:
            "A realistic first.last@example.com address; on unique columns a keyed tag keeps addresses distinct",
        unique_safe: true,
        options: vec![
            OptionInfo {
                name: "keep_domain",
                kind: "bool",
                default: "false",
                description: "Keep the part after the last `@` of the original",
            },
            OptionInfo {
                name: "domain",
                kind: "string",
                default: "example.com/.net/.org",
                description: "Use this domain for every address",
            },
            OptionInfo {
                name: "unique",
                kind: "bool",
                default: "column is unique",
                description: "Append a 64-bit keyed tag to the local part so distinct inputs never share an address",
            },
        ],
        example: "email: { transformer: email, keep_domain: true }",
    },
    build,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::testutil::*;
    use crate::{BuildError, ColumnKind};
    use serde_json::json;
    use siphasher::sip128::{Hasher128, SipHasher13};
    use std::collections::HashSet;
    use std::hash::Hasher;

    #[test]
    fn realistic_and_deterministic() {
        let t = rule("email", json!(null));
        let a = run(&*t, "john.smith@corp.io");
        assert_eq!(a, run(&*t, "john.smith@corp.io"));
        let (local, domain) = a.split_once('@').unwrap();
        assert!(DOMAINS.contains(&domain) && !local.is_empty(), "{a}");
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
    }

    #[test]
    fn keep_and_force_domain() {
        let keep = rule("email", json!({"keep_domain": true}));
        assert!(run(&*keep, "a@b@corp.io").ends_with("@corp.io"));
        let fallback = run(&*keep, "not-an-email");
        assert!(DOMAINS.iter().any(|d| fallback.ends_with(d)), "{fallback}");
        let forced = rule("email", json!({"domain": "acme.test"}));
        assert!(run(&*forced, "x@y.z").ends_with("@acme.test"));
        let both = build_on("email", json!({"domain": "a.b", "keep_domain": true}), &varchar(99));
        assert!(matches!(both, Err(BuildError::BadOption { .. })));
    }

    #[test]
    fn bad_option_names_key() {
        let r = build_on("email", json!({"keep_domian": true}), &varchar(99));
        assert!(
            matches!(&r, Err(BuildError::BadOption { message, .. }) if message.contains("keep_domian") && message.contains("keep_domain"))
        );
    }

    #[test]
    fn fits_columns() {
        let t = build_on("email", json!({"keep_domain": true}), &varchar(20)).unwrap();
        for i in 0..500 {
            let out = run(&*t, &format!("someone{i}@a-very-long-company-domain.example"));
            assert!(out.len() <= 20 && out.contains('@'), "{out}");
        }
        let u = build_on("email", json!(null), &unique(ColumnKind::Text { max_chars: Some(30) })).unwrap();
        for i in 0..500 {
            let out = run(&*u, &format!("u{i}@x.io"));
            assert!(out.len() <= 30, "{out}");
        }
        assert!(is_incompatible(
            &build_on("email", json!({"unique": true}), &varchar(10)),
            "`hash`"
        ));
        assert!(is_incompatible(&build_on("email", json!(null), &varchar(5)), "`hash`"));
    }

    #[test]
    fn originals_do_not_survive() {
        let t = rule("email", json!({"keep_domain": true}));
        for i in 0..1000 {
            let input = format!("user{i}@corp.io");
            assert_ne!(run(&*t, &input), input);
        }
    }

    #[test]
    fn unique_million_without_collision() {
        let t = build_on("email", json!(null), &unique(ColumnKind::Text { max_chars: Some(254) })).unwrap();
        let mut seen = HashSet::with_capacity(1_000_000);
        let mut input = String::new();
        for i in 0..1_000_000u32 {
            input.clear();
            let _ = write!(input, "user{i}@corp.io");
            let Value::Text(out) = t.transform(Value::text(input.as_str())).unwrap() else {
                panic!()
            };
            let mut h = SipHasher13::new();
            h.write(out.as_bytes());
            assert!(seen.insert(h.finish128().as_u128()), "collision at {i}: {out}");
        }
    }

    fn text(v: Value<'_>) -> String {
        match v {
            Value::Text(s) => s.into_owned(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[test]
    fn username_realistic_and_deterministic() {
        let t = rule("username", json!(null));
        let mut shapes = HashSet::new();
        for i in 0..2000 {
            let input = format!("login{i}");
            let out = run(&*t, &input);
            assert_eq!(out, run(&*t, &input));
            assert!(!out.is_empty() && out.len() <= 40, "{out}");
            assert!(out.chars().next().unwrap().is_ascii_lowercase(), "{out}");
            assert!(
                out.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_'),
                "{out}"
            );
            shapes.insert((
                out.contains('.'),
                out.contains('_'),
                out.ends_with(|c: char| c.is_ascii_digit()),
            ));
        }
        assert!(shapes.len() >= 4, "{shapes:?}");
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
    }

    #[test]
    fn username_differs_and_fits() {
        let t = rule("username", json!(null));
        for i in 0..1000 {
            // Feed outputs back in: the output must still differ from its input.
            let input = run(&*t, &format!("u{i}"));
            assert_ne!(run(&*t, &input), input);
        }
        let tiny = build_on("username", json!(null), &varchar(1)).unwrap();
        for i in 0..200 {
            let input = format!("{}", (b'a' + (i % 26) as u8) as char);
            let out = run(&*tiny, &input);
            assert!(out.len() == 1 && out != input, "{out}");
        }
        let u = build_on(
            "username",
            json!(null),
            &unique(ColumnKind::Text { max_chars: Some(14) }),
        )
        .unwrap();
        for i in 0..200 {
            let out = run(&*u, &format!("u{i}"));
            assert_eq!(out.len(), 14, "{out}");
        }
        assert!(is_incompatible(
            &build_on("username", json!({"unique": true}), &varchar(13)),
            "`hash`"
        ));
    }

    #[test]
    fn username_unique_million_without_collision() {
        let t = build_on(
            "username",
            json!(null),
            &unique(ColumnKind::Text { max_chars: Some(30) }),
        )
        .unwrap();
        let mut seen = HashSet::with_capacity(1_000_000);
        let mut input = String::new();
        for i in 0..1_000_000u32 {
            input.clear();
            let _ = write!(input, "user{i}");
            let out = text(t.transform(Value::text(input.as_str())).unwrap());
            assert!(out.len() <= 30);
            let mut h = SipHasher13::new();
            h.write(out.as_bytes());
            assert!(seen.insert(h.finish128().as_u128()), "collision at {i}: {out}");
        }
    }

    #[test]
    fn domain_realistic_reserved_and_unique() {
        let t = rule("domain", json!(null));
        for i in 0..1000 {
            let input = format!("corp{i}.com");
            let out = run(&*t, &input);
            assert_eq!(out, run(&*t, &input));
            assert!(out.ends_with(".example") || out.ends_with(".test"), "{out}");
            let label = out.split('.').next().unwrap();
            assert!(
                !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'),
                "{out}"
            );
            assert!(label.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{out}");
            assert_ne!(run(&*t, &out), out);
        }
        let com = rule("domain", json!({"tld": ".co.uk"}));
        assert!(run(&*com, "x").ends_with(".co.uk"));
        let bad = build_on("domain", json!({"tld": "a b"}), &varchar(99));
        assert!(matches!(bad, Err(BuildError::BadOption { message, .. }) if message.contains("tld")));
        let short = build_on("domain", json!(null), &varchar(10)).unwrap();
        for i in 0..300 {
            let input = format!("c{i}");
            let out = run(&*short, &input);
            assert!(out.len() <= 10 && out != input, "{out}");
        }
        assert!(is_incompatible(&build_on("domain", json!(null), &varchar(8)), "`hash`"));
        let u = build_on("domain", json!(null), &unique(ColumnKind::Text { max_chars: Some(40) })).unwrap();
        let mut seen = HashSet::new();
        for i in 0..100_000 {
            let out = run(&*u, &format!("site{i}.org"));
            assert!(out.len() <= 40, "{out}");
            assert!(seen.insert(out));
        }
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
    }

    #[test]
    fn url_paths_and_fit() {
        let t = rule("url", json!(null));
        for i in 0..1000 {
            let input = format!("https://corp.io/users/{i}?token=secret");
            let out = run(&*t, &input);
            assert_eq!(out, run(&*t, &input));
            let rest = out.strip_prefix("https://").unwrap();
            let (host, path) = rest.split_at(rest.find('/').unwrap());
            assert!(host.ends_with(".example") || host.ends_with(".test"), "{out}");
            assert!(!path.contains("secret") && !path.contains("users"), "{out}");
            assert_ne!(out, input);
        }
        let keep = rule("url", json!({"keep_path": true}));
        let out = run(&*keep, "http://corp.io/a/b.html?q=1#top");
        assert!(out.starts_with("https://") && out.ends_with("/a/b.html"), "{out}");
        assert!(run(&*keep, "corp.io").ends_with('/'));
        assert!(
            run(&*keep, "https://corp.io?next=/private").ends_with(".example/")
                || run(&*keep, "https://corp.io?next=/private").ends_with(".test/")
        );
        let short = build_on("url", json!({"keep_path": true}), &varchar(24)).unwrap();
        for i in 0..300 {
            let out = run(&*short, &format!("https://corp.io/é/very/long/path/{i}"));
            assert!(out.chars().count() <= 24 && out.contains('/'), "{out}");
        }
        assert!(is_incompatible(&build_on("url", json!(null), &varchar(16)), "`hash`"));
        let u = build_on(
            "url",
            json!({"keep_path": true}),
            &unique(ColumnKind::Text { max_chars: Some(60) }),
        )
        .unwrap();
        let mut seen = HashSet::new();
        for i in 0..100_000 {
            assert!(seen.insert(run(&*u, &format!("https://corp.io/same/path?id={i}"))));
        }
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
    }

    #[test]
    fn user_agent_realistic_and_fits() {
        let t = rule("user-agent", json!(null));
        let mut seen = HashSet::new();
        for i in 0..2000 {
            let input = format!("agent {i}");
            let out = run(&*t, &input);
            assert!(out.starts_with("Mozilla/") || out.starts_with("Opera/"), "{out}");
            assert_eq!(out, run(&*t, &input));
            seen.insert(out);
        }
        assert!(seen.len() > 20);
        for agent in MODERN_USER_AGENTS.iter().chain(EN::INTERNET_USER_AGENT) {
            assert_ne!(&run(&*t, agent), agent);
        }
        let short = build_on("user-agent", json!(null), &varchar(80)).unwrap();
        assert!((0..300).all(|i| run(&*short, &format!("a{i}")).len() <= 80));
        assert!(is_incompatible(
            &build_on("user-agent", json!(null), &varchar(20)),
            "`redacted`"
        ));
        assert!(is_incompatible(
            &build_on("user-agent", json!(null), &unique(ColumnKind::Text { max_chars: None })),
            "`hash`"
        ));
        assert_eq!(t.transform(Value::Null).unwrap(), Value::Null);
    }
}
