//! Building indexes and constraints after the data, several at once.
//!
//! pg_dump's plain output marks every object with a `-- Name: ...; Type: ...;` header. Index builds
//! and primary-key/unique constraints touch one table each, so they run in parallel. Foreign keys
//! come next, also in parallel, but never two at once that share a table: adding one locks both its
//! tables, and two that overlap could deadlock. Partition index attachments, triggers and
//! everything else run last in dump order.

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

/// Runs the post-data script with up to `workers` connections, in three phases: index builds and
/// key constraints (one table each) all at once; foreign keys at once when they share no table;
/// everything else in dump order.
pub async fn run_post_data(url: &PgUrl, script: &str, workers: usize) -> Result<(), ConnectorError> {
    let (preamble, entries) = split(script);
    let (mut indexes, mut foreign_keys, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    for entry in entries {
        if parallel_safe(&entry.kind) {
            indexes.push((entry, Vec::new()));
        } else if let Some(tables) = (entry.kind == "FK CONSTRAINT").then(|| fk_tables(&entry.sql)).flatten() {
            foreign_keys.push((entry, tables));
        } else {
            rest.push(entry);
        }
    }
    let mut clients = Vec::new();
    for _ in 0..workers.clamp(1, indexes.len().max(foreign_keys.len()).max(1)) {
        let client = connect(url).await?;
        let setup = format!("{preamble}\nSET maintenance_work_mem = '{INDEX_BUILD_MEMORY}';");
        run_script(&client, "preparing a connection for index builds", &setup).await?;
        clients.push(client);
    }
    run_without_shared_tables(&clients, indexes).await?;
    run_without_shared_tables(&clients, foreign_keys).await?;
    for entry in &rest {
        run_entry(&clients[0], entry).await?;
    }
    Ok(())
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
        assert_eq!(fk_tables(&entries[1].sql).unwrap(), ["public.u", "public.t"]);
        let quoted = "ALTER TABLE ONLY \"My S\".\"Child T\"\n    ADD CONSTRAINT c FOREIGN KEY (a) REFERENCES \"My S\".\"P\"(id);";
        assert_eq!(fk_tables(quoted).unwrap(), ["\"My S\".\"Child T\"", "\"My S\".\"P\""]);
        // Nothing is lost: the pieces put back together are the script.
        let joined: String = entries.iter().map(|e| e.sql.as_str()).collect();
        assert_eq!(format!("{preamble}{joined}"), script);
    }
}
