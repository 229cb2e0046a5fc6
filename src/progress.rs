//! Progress bars on a terminal only; CronJobs and pipelines get log lines instead.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(verb: &str, tables: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(tables);
            bar.set_style(
                ProgressStyle::with_template(&format!("{verb} {{bar:30}} {{pos}}/{{len}} tables {{msg}}"))
                    .expect("a valid template"),
            );
            bar
        });
        Progress { bar }
    }

    pub fn table_done(&self, schema: &str, name: &str, rows: u64) {
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(format!("{schema}.{name}"));
            }
            None => tracing::info!(table = %format!("{schema}.{name}"), rows, "table done"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
