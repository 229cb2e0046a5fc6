//! Building indexes and constraints after the data, several at once.
//!
//! pg_dump's plain output marks every object with a `-- Name: ...; Type: ...;` header. Index builds
//! and primary-key/unique constraints are the slow part of a restore and touch one table each, so
//! they run in parallel; foreign keys (which lock two tables, so two at once could deadlock),
//! partition index attachments, triggers and everything else run afterwards in dump order.

use futures_util::{StreamExt, TryStreamExt};

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

/// Runs the post-data script with up to `workers` connections.
pub async fn run_post_data(url: &PgUrl, script: &str, workers: usize) -> Result<(), ConnectorError> {
    let (preamble, entries) = split(script);
    let (parallel, sequential): (Vec<Entry>, Vec<Entry>) = entries.into_iter().partition(|e| parallel_safe(&e.kind));
    let mut clients = Vec::new();
    for _ in 0..workers.clamp(1, parallel.len().max(1)) {
        let client = connect(url).await?;
        run_script(&client, "preparing a connection for index builds", &preamble).await?;
        clients.push(client);
    }
    let queues: Vec<Vec<&Entry>> = {
        // Largest-first is unknown here; round-robin keeps every connection busy.
        let mut queues = vec![Vec::new(); clients.len()];
        for (i, entry) in parallel.iter().enumerate() {
            queues[i % clients.len()].push(entry);
        }
        queues
    };
    futures_util::stream::iter(clients.iter().zip(queues))
        .map(|(client, queue)| async move {
            for entry in queue {
                run_script(
                    client,
                    &format!("creating {} {}", entry.kind.to_lowercase(), entry.name),
                    &entry.sql,
                )
                .await?;
            }
            Ok::<_, ConnectorError>(())
        })
        .buffer_unordered(workers.max(1))
        .try_collect::<Vec<_>>()
        .await?;
    let client = &clients[0];
    for entry in &sequential {
        run_script(
            client,
            &format!("creating {} {}", entry.kind.to_lowercase(), entry.name),
            &entry.sql,
        )
        .await?;
    }
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
        // Nothing is lost: the pieces put back together are the script.
        let joined: String = entries.iter().map(|e| e.sql.as_str()).collect();
        assert_eq!(format!("{preamble}{joined}"), script);
    }
}
