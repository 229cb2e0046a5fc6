//! Building indexes and constraints after the data, several at once.
//!
//! pg_dump's plain output marks every object with a `-- Name: ...; Type: ...;` header. Index builds
//! and primary-key/unique constraints touch one table each, so they run in parallel. Foreign keys
//! come next, also in parallel, but never two at once that share a table: adding one locks both its
//! tables, and two that overlap could deadlock. Partition index attachments come before the foreign
//! keys (a key that references a partitioned table needs its parent index complete, which it is
//! only once every partition's index is attached); triggers and everything else run last in dump
//! order.

use super::connect::{connect, PgUrl};
use super::restore::run_script;
use crate::ConnectorError;

/// One object of the post-data script.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub kind: String,
    pub name: String,
    pub sql: String,
}

/// Splits a post-data script into its session preamble (SET statements) and its objects.
pub fn split(script: &str) -> (String, Vec<Entry>) {
    let mut parts = script.split("--\n-- Name: ");
    let preamble = parts.next().unwrap_or_default().to_string();
    let entries = parts
        .map(|part| {
            let header = part.lines().next().unwrap_or_default();
            let field = |key: &str| {
                header
                    .split("; ")
                    .find_map(|f| f.strip_prefix(key))
                    .unwrap_or_default()
                    .trim_end_matches(';')
                    .to_string()
            };
            Entry {
                name: header.split("; ").next().unwrap_or_default().to_string(),
                kind: field("Type: "),
                sql: format!("--\n-- Name: {part}"),
            }
        })
        .collect();
    (preamble, entries)
}

/// Objects that only involve one table and can be built at the same time as the others.
fn parallel_safe(kind: &str) -> bool {
    matches!(kind, "INDEX" | "CONSTRAINT")
}

/// Memory for each index build: sorting in memory instead of in temporary files is what makes
/// index builds fast, and a restore target is a test database with nothing else to serve.
const INDEX_BUILD_MEMORY: &str = "256MB";

/// The post-data script of a restore, split so that a table's indexes and key constraints are
/// built as soon as its rows are in, and a foreign key added as soon as both its tables are
/// complete, while other tables still load (as `pg_restore -j` does); whatever is left and the
/// rest of the script follow in [`PostData::finish`].
pub struct PostData {
    url: PgUrl,
    workers: usize,
    preamble: String,
    /// Index builds and key constraints by table (`schema.table`, unquoted), each in dump order.
    by_table: std::sync::Mutex<std::collections::HashMap<String, Vec<Entry>>>,
    /// Index builds whose table could not be read from their SQL.
    unplaced: Vec<Entry>,
    /// Foreign keys not yet added, with their two tables (unquoted).
    foreign_keys: std::sync::Mutex<Vec<(Entry, Vec<String>)>>,
    /// Tables whose rows, indexes and key constraints are all in: their foreign keys can be added.
    ready: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Tables a foreign key is being added to now (two that share a table could deadlock).
    busy: std::sync::Mutex<std::collections::HashSet<String>>,
    /// `ALTER INDEX ... ATTACH PARTITION`, in dump order.
    attach: Vec<Entry>,
    rest: Vec<Entry>,
    /// Prepared connections not in use.
    idle: tokio::sync::Mutex<Vec<tokio_postgres::Client>>,
}

impl PostData {
    /// Splits the script; connections are opened when the first build needs one.
    pub fn new(url: &PgUrl, script: &str, workers: usize) -> PostData {
        let (preamble, entries) = split(script);
        let mut by_table: std::collections::HashMap<String, Vec<Entry>> = Default::default();
        let (mut unplaced, mut foreign_keys, mut attach, mut rest) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for entry in entries {
            if entry.kind == "INDEX ATTACH" {
                attach.push(entry);
            } else if parallel_safe(&entry.kind) {
                match built_on(&entry) {
                    Some(table) => by_table.entry(table).or_default().push(entry),
                    None => unplaced.push(entry),
                }
            } else if let Some(tables) = (entry.kind == "FK CONSTRAINT").then(|| fk_tables(&entry.sql)).flatten() {
                // Tables as build_table names them; one that cannot be read waits for finish().
                let tables = tables
                    .iter()
                    .map(|t| unquote_qualified(t).unwrap_or_else(|| format!("\0{t}")))
                    .collect();
                foreign_keys.push((entry, tables));
            } else {
                rest.push(entry);
            }
        }
        PostData {
            url: url.clone(),
            workers: workers.max(1),
            preamble,
            by_table: std::sync::Mutex::new(by_table),
            unplaced,
            foreign_keys: std::sync::Mutex::new(foreign_keys),
            ready: Default::default(),
            busy: Default::default(),
            attach,
            rest,
            idle: tokio::sync::Mutex::new(Vec::new()),
        }
    }

    /// Builds the indexes and key constraints of `schema.table` at once, each holding one of
    /// `permits` (shared with the loads, so the server never runs more than the workers).
    pub async fn build_table(
        &self,
        schema: &str,
        table: &str,
        permits: &tokio::sync::Semaphore,
    ) -> Result<(), ConnectorError> {
        let key = format!("{schema}.{table}");
        let entries = self
            .by_table
            .lock()
            .expect("post-data lock")
            .remove(&key)
            .unwrap_or_default();
        futures_util::future::try_join_all(entries.iter().map(|entry| self.run_with_permit(entry, permits))).await?;
        self.ready.lock().expect("post-data lock").insert(key);
        // Then every foreign key whose two tables are now complete, one at a time per table.
        while let Some((entry, tables)) = self.next_foreign_key() {
            let result = self.run_with_permit(&entry, permits).await;
            let mut busy = self.busy.lock().expect("post-data lock");
            for table in &tables {
                busy.remove(table);
            }
            drop(busy);
            result?;
        }
        Ok(())
    }

    /// A foreign key whose tables are ready and free, taken off the list with its tables marked busy.
    fn next_foreign_key(&self) -> Option<(Entry, Vec<String>)> {
        let ready = self.ready.lock().expect("post-data lock");
        let mut busy = self.busy.lock().expect("post-data lock");
        let mut pending = self.foreign_keys.lock().expect("post-data lock");
        let at = pending
            .iter()
            .position(|(_, tables)| tables.iter().all(|t| ready.contains(t) && !busy.contains(t)))?;
        let (entry, tables) = pending.remove(at);
        busy.extend(tables.iter().cloned());
        Some((entry, tables))
    }

    async fn run_with_permit(&self, entry: &Entry, permits: &tokio::sync::Semaphore) -> Result<(), ConnectorError> {
        let _permit = permits.acquire().await.expect("the semaphore is never closed");
        let client = self.client().await?;
        let result = run_entry(&client, entry).await;
        self.idle.lock().await.push(client);
        result
    }

    /// A prepared connection: an idle one, or a new one.
    async fn client(&self) -> Result<tokio_postgres::Client, ConnectorError> {
        if let Some(client) = self.idle.lock().await.pop() {
            return Ok(client);
        }
        let client = connect(&self.url).await?;
        let setup = format!("{}\nSET maintenance_work_mem = '{INDEX_BUILD_MEMORY}';", self.preamble);
        run_script(&client, "preparing a connection for index builds", &setup).await?;
        Ok(client)
    }

    /// Builds what is left once every table is loaded: the indexes of tables without rows (and
    /// any whose table was not recognised), all at once; then the partition index attachments;
    /// then foreign keys at once when they share no table; then everything else in dump order.
    pub async fn finish(self) -> Result<(), ConnectorError> {
        let mut indexes: Vec<(Entry, Vec<String>)> =
            std::mem::take(&mut *self.by_table.lock().expect("post-data lock"))
                .into_values()
                .flatten()
                .map(|e| (e, Vec::new()))
                .collect();
        indexes.extend(self.unplaced.iter().cloned().map(|e| (e, Vec::new())));
        let foreign_keys: Vec<(Entry, Vec<String>)> =
            std::mem::take(&mut *self.foreign_keys.lock().expect("post-data lock"));
        let needed = self.workers.min(indexes.len().max(foreign_keys.len()).max(1));
        let mut clients = Vec::with_capacity(needed);
        for _ in 0..needed {
            clients.push(self.client().await?);
        }
        run_without_shared_tables(&clients, indexes).await?;
        // A partitioned table's primary key is valid, and can be referenced, only once every
        // partition's index is attached to it.
        for entry in &self.attach {
            run_entry(&clients[0], entry).await?;
        }
        run_without_shared_tables(&clients, foreign_keys).await?;
        for entry in &self.rest {
            run_entry(&clients[0], entry).await?;
        }
        Ok(())
    }
}

/// pg_dump's `--clean --if-exists` drops as a restore runs them, over a database that may hold an
/// earlier restore of the same dump: without the drops of indexes and of key constraints other
/// than foreign keys, which `DROP TABLE` removes with their table anyway. Those drops fail once a
/// partitioned table has been restored (a partition's primary key or index is attached to its
/// parent's: `cannot drop inherited constraint`), and gain nothing elsewhere. Foreign-key drops
/// stay: a table another one references cannot be dropped before them. `post_data` (the same
/// dump's) tells foreign keys from other constraints.
pub fn clean_script(clean: &str, post_data: &str) -> String {
    let (_, entries) = split(post_data);
    let foreign_keys: std::collections::HashSet<(String, String)> = entries
        .iter()
        .filter(|e| e.kind == "FK CONSTRAINT")
        .filter_map(|e| fk_constraint(&e.sql))
        .collect();
    clean
        .lines()
        .filter(|line| {
            if line.starts_with("DROP INDEX IF EXISTS ") {
                return false;
            }
            match dropped_constraint(line) {
                Some(constraint) => foreign_keys.contains(&constraint),
                None => true,
            }
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// (table, constraint) as written in `ALTER TABLE [ONLY] t\n    ADD CONSTRAINT c FOREIGN KEY ...`.
fn fk_constraint(sql: &str) -> Option<(String, String)> {
    let rest = &sql[sql.find("ALTER TABLE ")? + "ALTER TABLE ".len()..];
    let rest = rest.strip_prefix("ONLY ").unwrap_or(rest);
    let table = qualified_name(rest)?;
    let name = qualified_name(&sql[sql.find("ADD CONSTRAINT ")? + "ADD CONSTRAINT ".len()..])?;
    Some((table, name))
}

/// (table, constraint) as written in `ALTER TABLE IF EXISTS [ONLY] t DROP CONSTRAINT IF EXISTS c;`.
fn dropped_constraint(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix("ALTER TABLE IF EXISTS ")?;
    let rest = rest.strip_prefix("ONLY ").unwrap_or(rest);
    let table = qualified_name(rest)?;
    let name = rest[table.len()..].strip_prefix(" DROP CONSTRAINT IF EXISTS ")?;
    let name = name.strip_suffix(';').unwrap_or(name);
    Some((table, name.to_string()))
}

/// The table an index build or key constraint is on, as `schema.table` without quotes:
/// `CREATE [UNIQUE] INDEX i ON [ONLY] s.t USING ...` or `ALTER TABLE [ONLY] s.t ADD CONSTRAINT ...`.
fn built_on(entry: &Entry) -> Option<String> {
    let sql = &entry.sql;
    let after = if let Some(at) = sql.find("ALTER TABLE ONLY ") {
        &sql[at + "ALTER TABLE ONLY ".len()..]
    } else if let Some(at) = sql.find("ALTER TABLE ") {
        &sql[at + "ALTER TABLE ".len()..]
    } else {
        let create = sql.find("CREATE ")?;
        let on = sql[create..].find(" ON ")? + create + " ON ".len();
        let rest = &sql[on..];
        rest.strip_prefix("ONLY ").unwrap_or(rest)
    };
    unquote_qualified(&qualified_name(after)?)
}

/// `"My S"."T ""x"""` -> `My S.T "x"`; `None` unless it is exactly schema and table.
fn unquote_qualified(name: &str) -> Option<String> {
    let mut parts = vec![String::new()];
    let mut chars = name.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                parts.last_mut()?.push('"');
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(String::new()),
            c => parts.last_mut()?.push(c),
        }
    }
    (parts.len() == 2 && parts.iter().all(|p| !p.is_empty())).then(|| parts.join("."))
}

async fn run_entry(client: &tokio_postgres::Client, entry: &Entry) -> Result<(), ConnectorError> {
    run_script(
        client,
        &format!("creating {} {}", entry.kind.to_lowercase(), entry.name),
        &entry.sql,
    )
    .await
}

/// The two tables a foreign key's `ALTER TABLE ONLY child ADD CONSTRAINT ... REFERENCES parent(...)`
/// locks, as written (quoted where pg_dump quotes).
fn fk_tables(sql: &str) -> Option<Vec<String>> {
    let child = qualified_name(&sql[sql.find("ALTER TABLE ONLY ")? + "ALTER TABLE ONLY ".len()..])?;
    let parent = qualified_name(&sql[sql.find(" REFERENCES ")? + " REFERENCES ".len()..])?;
    Some(vec![child, parent])
}

/// A possibly quoted `schema.table` at the start of `text`, up to whitespace or `(` outside quotes.
fn qualified_name(text: &str) -> Option<String> {
    let mut name = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            c if !quoted && (c.is_whitespace() || c == '(') => break,
            _ => {}
        }
        name.push(c);
    }
    (!name.is_empty()).then_some(name)
}

/// Runs entries on all connections at once, never two that share a table. A connection that
/// finishes takes the next free entry, so two large builds never queue behind each other.
async fn run_without_shared_tables(
    clients: &[tokio_postgres::Client],
    entries: Vec<(Entry, Vec<String>)>,
) -> Result<(), ConnectorError> {
    struct State<'a> {
        pending: std::collections::VecDeque<&'a (Entry, Vec<String>)>,
        busy: std::collections::HashSet<&'a str>,
    }
    let state = std::sync::Mutex::new(State {
        pending: entries.iter().collect(),
        busy: Default::default(),
    });
    let changed = tokio::sync::Notify::new();
    futures_util::future::try_join_all(clients.iter().map(|client| {
        let (state, changed) = (&state, &changed);
        async move {
            loop {
                let (next, wait) = {
                    let mut s = state.lock().expect("foreign key queue");
                    if s.pending.is_empty() {
                        return Ok::<_, ConnectorError>(());
                    }
                    let free = s
                        .pending
                        .iter()
                        .position(|(_, tables)| tables.iter().all(|t| !s.busy.contains(t.as_str())));
                    // Created while the queue is locked, so a release between here and the await
                    // still wakes this worker.
                    let wait = changed.notified();
                    match free {
                        Some(i) => {
                            let next = s.pending.remove(i).expect("position is in range");
                            for t in &next.1 {
                                s.busy.insert(t.as_str());
                            }
                            (Some(next), None)
                        }
                        None => (None, Some(wait)),
                    }
                };
                match (next, wait) {
                    (Some((entry, tables)), _) => {
                        let result = run_entry(client, entry).await;
                        {
                            let mut s = state.lock().expect("foreign key queue");
                            for t in tables {
                                s.busy.remove(t.as_str());
                            }
                        }
                        changed.notify_waiters();
                        result?;
                    }
                    (None, Some(wait)) => wait.await,
                    (None, None) => unreachable!("either work or a wait"),
                }
            }
        }
    }))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_builds_name_their_table() {
        let entry = |sql: &str| Entry {
            kind: "INDEX".into(),
            name: "i".into(),
            sql: sql.into(),
        };
        let on = |sql: &str| built_on(&entry(sql));
        assert_eq!(
            on("CREATE INDEX i ON public.t USING btree (a);").as_deref(),
            Some("public.t")
        );
        assert_eq!(
            on("CREATE UNIQUE INDEX i ON ONLY \"My S\".\"T \"\"x\"\"\" USING btree (a);").as_deref(),
            Some("My S.T \"x\"")
        );
        assert_eq!(
            on("ALTER TABLE ONLY s.\"a.b\"\n    ADD CONSTRAINT c PRIMARY KEY (id);").as_deref(),
            Some("s.a.b")
        );
        assert_eq!(
            on("CREATE INDEX i ON t USING btree (a);"),
            None,
            "unqualified: left for the end"
        );
    }

    #[test]
    fn clean_keeps_foreign_key_drops_and_leaves_the_rest_to_drop_table() {
        let post = "SET a = 1;\n\n--\n-- Name: p p_pkey; Type: CONSTRAINT; Schema: public; Owner: -\n--\n\n\
                    ALTER TABLE ONLY public.p\n    ADD CONSTRAINT p_pkey PRIMARY KEY (id, d);\n\n\
                    --\n-- Name: r \"R fk\"; Type: FK CONSTRAINT; Schema: public; Owner: -\n--\n\n\
                    ALTER TABLE ONLY \"S\".r\n    ADD CONSTRAINT \"R fk\" FOREIGN KEY (p, d) REFERENCES public.p(id, d);\n\n\
                    --\n-- Name: p p_c_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -\n--\n\n\
                    ALTER TABLE public.p\n    ADD CONSTRAINT p_c_fkey FOREIGN KEY (c) REFERENCES public.c(id);\n";
        let clean = "SET a = 1;\n\
                     ALTER TABLE IF EXISTS ONLY \"S\".r DROP CONSTRAINT IF EXISTS \"R fk\";\n\
                     ALTER TABLE IF EXISTS public.p DROP CONSTRAINT IF EXISTS p_c_fkey;\n\
                     ALTER TABLE IF EXISTS ONLY public.p_2024 DROP CONSTRAINT IF EXISTS p_2024_pkey;\n\
                     ALTER TABLE IF EXISTS ONLY public.p DROP CONSTRAINT IF EXISTS p_pkey;\n\
                     DROP INDEX IF EXISTS public.p_2024_c_idx;\n\
                     DROP TABLE IF EXISTS public.p_2024;\n\
                     DROP TABLE IF EXISTS public.p;\n";
        assert_eq!(
            clean_script(clean, post),
            "SET a = 1;\n\
             ALTER TABLE IF EXISTS ONLY \"S\".r DROP CONSTRAINT IF EXISTS \"R fk\";\n\
             ALTER TABLE IF EXISTS public.p DROP CONSTRAINT IF EXISTS p_c_fkey;\n\
             DROP TABLE IF EXISTS public.p_2024;\n\
             DROP TABLE IF EXISTS public.p;\n"
        );
    }

    #[test]
    fn splits_pg_dump_post_data_into_objects() {
        let script = "SET a = 1;\n\n--\n-- Name: t t_pkey; Type: CONSTRAINT; Schema: public; Owner: -\n--\n\n\
                      ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);\n\n\
                      --\n-- Name: u u_t_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -\n--\n\n\
                      ALTER TABLE ONLY public.u ADD CONSTRAINT u_t_fkey FOREIGN KEY (t) REFERENCES public.t(id);\n";
        let (preamble, entries) = split(script);
        assert_eq!(preamble, "SET a = 1;\n\n");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].kind, "CONSTRAINT");
        assert_eq!(entries[0].name, "t t_pkey");
        assert!(entries[0].sql.contains("PRIMARY KEY") && !entries[0].sql.contains("FOREIGN"));
        assert_eq!(entries[1].kind, "FK CONSTRAINT");
        assert!(parallel_safe("INDEX") && !parallel_safe("FK CONSTRAINT") && !parallel_safe("INDEX ATTACH"));
        assert_eq!(built_on(&entries[0]).as_deref(), Some("public.t"));
        assert_eq!(fk_tables(&entries[1].sql).unwrap(), ["public.u", "public.t"]);
        let quoted = "ALTER TABLE ONLY \"My S\".\"Child T\"\n    ADD CONSTRAINT c FOREIGN KEY (a) REFERENCES \"My S\".\"P\"(id);";
        assert_eq!(fk_tables(quoted).unwrap(), ["\"My S\".\"Child T\"", "\"My S\".\"P\""]);
        // Nothing is lost: the pieces put back together are the script.
        let joined: String = entries.iter().map(|e| e.sql.as_str()).collect();
        assert_eq!(format!("{preamble}{joined}"), script);
    }
}
