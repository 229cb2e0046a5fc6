//! `decoy dump restore NAME --local IMAGE`: a throwaway database in a Docker container, with the dump
//! restored into it through the same path as `--to URL`, and its connection URL printed.
//!
//! The container listens on 127.0.0.1 only, on a port Docker picks, with a generated password that
//! reaches `docker run` through its environment (never its command line). It is left running for
//! the user, and removed when the restore into it fails.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::Command;

use crate::cli::RestoreArgs;
use crate::error::ConfigError;
use crate::output::outln;

/// How long a fresh server may take to accept connections (first start includes initdb).
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// The database engine an image runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageEngine {
    Postgres,
    Mysql,
    Mongo,
}

impl ImageEngine {
    /// The engine from the image's repository name: `postgres:16`, `docker.io/library/mysql:8`,
    /// `mariadb:11`, `postgis/postgis:16-3.4`, `mongo:7`.
    pub fn of_image(image: &str) -> Option<ImageEngine> {
        let without_digest = image.split('@').next().unwrap_or(image);
        let repository = match without_digest.rsplit_once(':') {
            // A `:` after the last `/` is a tag; before it, a registry port.
            Some((repo, tag)) if !tag.contains('/') => repo,
            _ => without_digest,
        };
        let last = repository.rsplit('/').next().unwrap_or(repository).to_ascii_lowercase();
        match last.as_str() {
            "postgres" | "postgis" | "postgresql" | "timescaledb" => Some(ImageEngine::Postgres),
            "mysql" | "mariadb" | "percona" | "percona-server" | "mysql-server" => Some(ImageEngine::Mysql),
            "mongo" | "mongodb" | "mongodb-community-server" => Some(ImageEngine::Mongo),
            _ => None,
        }
    }

    /// The manifest's `source.engine` of the dumps this engine restores.
    pub fn dump_engine(self) -> &'static str {
        match self {
            ImageEngine::Postgres => "postgresql",
            ImageEngine::Mysql => "mysql",
            ImageEngine::Mongo => "mongodb",
        }
    }

    fn port(self) -> u16 {
        match self {
            ImageEngine::Postgres => 5432,
            ImageEngine::Mysql => 3306,
            ImageEngine::Mongo => 27017,
        }
    }
}

/// One throwaway container: what `docker run` gets and the URL it serves.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub engine: ImageEngine,
    pub image: String,
    pub name: String,
    pub password: String,
}

impl ContainerSpec {
    /// `docker run` arguments. Variables without `=value` take their value from the environment of
    /// the docker command ([`ContainerSpec::env`]), so the password is not in the process list.
    pub fn run_args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["run", "--detach", "--rm", "--name", &self.name]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(["--label".to_string(), "decoy.local=1".to_string()]);
        for (key, _) in self.env() {
            args.push("--env".into());
            args.push(key.to_string());
        }
        args.push("--publish".into());
        args.push(format!("127.0.0.1::{}", self.engine.port()));
        args.push(self.image.clone());
        if self.engine == ImageEngine::Mysql {
            // decoy loads MySQL tables with LOAD DATA LOCAL INFILE, which MySQL 8 turns off by default.
            args.push("--local-infile=1".into());
        }
        args
    }

    /// The environment of the `docker run` command, passed into the container by name.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        match self.engine {
            ImageEngine::Postgres => vec![("POSTGRES_PASSWORD", self.password.clone())],
            ImageEngine::Mysql => vec![
                ("MYSQL_ROOT_PASSWORD", self.password.clone()),
                ("MYSQL_DATABASE", "decoy".into()),
            ],
            ImageEngine::Mongo => vec![
                ("MONGO_INITDB_ROOT_USERNAME", "root".into()),
                ("MONGO_INITDB_ROOT_PASSWORD", self.password.clone()),
            ],
        }
    }

    /// The URL of the container's database on the host port Docker mapped.
    pub fn url(&self, port: u16) -> String {
        match self.engine {
            ImageEngine::Postgres => format!(
                "postgres://postgres:{}@127.0.0.1:{port}/postgres?sslmode=disable",
                self.password
            ),
            ImageEngine::Mysql => format!("mysql://root:{}@127.0.0.1:{port}/decoy", self.password),
            ImageEngine::Mongo => format!(
                "mongodb://root:{}@127.0.0.1:{port}/decoy?authSource=admin",
                self.password
            ),
        }
    }

    /// `docker port NAME 5432/tcp`
    pub fn port_args(&self) -> Vec<String> {
        vec!["port".into(), self.name.clone(), format!("{}/tcp", self.engine.port())]
    }
}

/// The host port from `docker port` output (`127.0.0.1:49153`, one line per address).
pub fn parse_port(output: &str) -> Option<u16> {
    output
        .lines()
        .filter_map(|line| line.trim().rsplit_once(':'))
        .find_map(|(_, port)| port.parse().ok())
}

/// A password of 24 letters and digits (safe in any URL), from the system's random source.
fn generate_password() -> anyhow::Result<String> {
    use std::io::Read;
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read /dev/urandom for the container's password")?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// A container name from the dump's name: `decoy-20261128-124504-123-k3x9`.
fn container_name(dump: &str, password: &str) -> String {
    let clean: String = dump
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let suffix: String = password.chars().rev().take(4).collect::<String>().to_ascii_lowercase();
    format!("decoy-{clean}-{suffix}")
}

pub async fn run(mut args: RestoreArgs) -> anyhow::Result<()> {
    let image = args.local.take().expect("called with --local");
    let engine = ImageEngine::of_image(&image).ok_or_else(|| {
        ConfigError::new(format!(
            "--local {image}: cannot tell which database this image runs; use an official image of postgres, mysql, \
             mariadb or mongo (e.g. --local postgres:16)"
        ))
    })?;
    let config = crate::config::Config::load_for_dumps(&args.config.config)?;
    let store = crate::datastore::open(&config.datastore)?;
    let name = crate::dump::resolve(store.as_ref(), &args.name)?;
    let manifest = crate::dump::Manifest::load(store.as_ref(), &name)?;
    if manifest.source.engine != engine.dump_engine() {
        bail!(ConfigError::new(format!(
            "--local {image}: dump {name} was made from a {} database and restores into the same engine; use an image \
             of it (e.g. {})",
            manifest.source.engine,
            match manifest.source.engine.as_str() {
                "mysql" => "--local mysql:8 or mariadb:11",
                "mongodb" => "--local mongo:7",
                _ => "--local postgres:16",
            }
        )));
    }
    docker_reachable().await?;

    let password = generate_password()?;
    let spec = ContainerSpec {
        engine,
        image: image.clone(),
        name: container_name(&name, &password),
        password,
    };
    eprintln!("starting container {} from {image}", spec.name);
    let mut run = Command::new("docker");
    run.args(spec.run_args()).stdin(Stdio::null());
    for (key, value) in spec.env() {
        run.env(key, value);
    }
    let out = run.output().await.context("cannot run docker")?;
    if !out.status.success() {
        bail!(
            "docker run {image} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let restored = async {
        let out = Command::new("docker")
            .args(spec.port_args())
            .output()
            .await
            .context("cannot run docker port")?;
        let port = parse_port(&String::from_utf8_lossy(&out.stdout)).with_context(|| {
            format!(
                "docker port {} gave no port: {}",
                spec.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
        let url = spec.url(port);
        wait_until_ready(&spec, &url).await?;
        args.to = Some(url.clone());
        crate::commands::dump_restore::run(args).await?;
        anyhow::Ok(url)
    }
    .await;
    let url = match restored {
        Ok(url) => url,
        Err(e) => {
            let _ = Command::new("docker")
                .args(["rm", "--force", &spec.name])
                .output()
                .await;
            return Err(e.context(format!("restoring into container {} failed; it was removed", spec.name)));
        }
    };
    outln!("{url}")?;
    eprintln!(
        "container {} ({image}) is running with dump {name}; the URL above holds its generated password (a throwaway \
         database that listens on 127.0.0.1 only).\nStop and remove it with: docker rm -f {}",
        spec.name, spec.name
    );
    Ok(())
}

/// `docker info` answers: the CLI is installed and an engine is reachable.
async fn docker_reachable() -> anyhow::Result<()> {
    let out = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .output()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) => bail!(
            "no Docker engine is reachable: cannot run the docker command ({e}); install Docker, or restore with --to URL \
             or --output FILE"
        ),
    };
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || version.is_empty() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let reason = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("docker info failed");
        bail!(
            "no Docker engine is reachable ({reason}); start Docker (or set DOCKER_HOST), or restore with --to URL or \
             --output FILE"
        );
    }
    Ok(())
}

/// Waits until the server in the container accepts a connection as the restore will make it.
async fn wait_until_ready(spec: &ContainerSpec, url: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < READY_TIMEOUT {
        let ready = match spec.engine {
            ImageEngine::Postgres => {
                let url = connectors::postgres::PgUrl::parse(url)?;
                connectors::postgres::connect(&url)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            ImageEngine::Mysql => {
                let url = connectors::mysql::MyUrl::parse(url)?;
                connectors::mysql::connect(&url)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            ImageEngine::Mongo => {
                // The mapped port answers before mongod does: ask it from inside the container.
                let out = Command::new("docker")
                    .args([
                        "exec",
                        &spec.name,
                        "mongosh",
                        "--quiet",
                        "--eval",
                        "db.runCommand({ping: 1}).ok",
                    ])
                    .output()
                    .await
                    .context("cannot run docker exec")?;
                if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "1" {
                    Ok(())
                } else {
                    Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
                }
            }
        };
        match ready {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        // A container that exited (a bad image, a crash) will never answer.
        let state = Command::new("docker")
            .args(["inspect", "--format", "{{.State.Running}}", &spec.name])
            .output()
            .await
            .context("cannot run docker inspect")?;
        if String::from_utf8_lossy(&state.stdout).trim() != "true" {
            bail!(
                "container {} stopped before its database accepted connections",
                spec.name
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!(
        "the database in container {} did not accept connections within {}s: {}",
        spec.name,
        READY_TIMEOUT.as_secs(),
        connectors::url::redact_text(&last)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(engine: ImageEngine, image: &str) -> ContainerSpec {
        ContainerSpec {
            engine,
            image: image.into(),
            name: "decoy-d1-abcd".into(),
            password: "Secret123".into(),
        }
    }

    #[test]
    fn images_name_their_engine() {
        assert_eq!(ImageEngine::of_image("postgres:16"), Some(ImageEngine::Postgres));
        assert_eq!(
            ImageEngine::of_image("docker.io/library/postgres"),
            Some(ImageEngine::Postgres)
        );
        assert_eq!(
            ImageEngine::of_image("postgis/postgis:16-3.4"),
            Some(ImageEngine::Postgres)
        );
        assert_eq!(
            ImageEngine::of_image("registry:5000/team/mysql:8.4"),
            Some(ImageEngine::Mysql)
        );
        assert_eq!(ImageEngine::of_image("mariadb:11@sha256:abc"), Some(ImageEngine::Mysql));
        assert_eq!(ImageEngine::of_image("mongo:7"), Some(ImageEngine::Mongo));
        assert_eq!(ImageEngine::of_image("redis:7"), None);
        assert_eq!(
            ImageEngine::of_image("registry:5000/postgres"),
            Some(ImageEngine::Postgres)
        );
    }

    #[test]
    fn run_commands_keep_the_password_off_the_command_line() {
        let pg = spec(ImageEngine::Postgres, "postgres:16");
        assert_eq!(
            pg.run_args().join(" "),
            "run --detach --rm --name decoy-d1-abcd --label decoy.local=1 --env POSTGRES_PASSWORD \
             --publish 127.0.0.1::5432 postgres:16"
        );
        assert_eq!(pg.env(), vec![("POSTGRES_PASSWORD", "Secret123".to_string())]);
        assert_eq!(
            pg.url(49153),
            "postgres://postgres:Secret123@127.0.0.1:49153/postgres?sslmode=disable"
        );
        assert_eq!(pg.port_args(), vec!["port", "decoy-d1-abcd", "5432/tcp"]);

        let my = spec(ImageEngine::Mysql, "mysql:8");
        let args = my.run_args().join(" ");
        assert!(
            args.ends_with(
                "--env MYSQL_ROOT_PASSWORD --env MYSQL_DATABASE --publish 127.0.0.1::3306 mysql:8 --local-infile=1"
            ),
            "{args}"
        );
        assert_eq!(my.url(3307), "mysql://root:Secret123@127.0.0.1:3307/decoy");

        let mongo = spec(ImageEngine::Mongo, "mongo:7");
        assert!(mongo
            .run_args()
            .join(" ")
            .contains("--publish 127.0.0.1::27017 mongo:7"));
        assert_eq!(
            mongo.url(27018),
            "mongodb://root:Secret123@127.0.0.1:27018/decoy?authSource=admin"
        );
        for s in [pg, my, mongo] {
            assert!(!s.run_args().iter().any(|a| a.contains("Secret123")));
        }
    }

    #[test]
    fn ports_and_names() {
        assert_eq!(parse_port("127.0.0.1:49153\n"), Some(49153));
        assert_eq!(parse_port("[::1]:49154\n0.0.0.0:49155\n"), Some(49154));
        assert_eq!(parse_port(""), None);
        let password = generate_password().unwrap();
        assert_eq!(password.len(), 24);
        assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(password, generate_password().unwrap());
        assert_eq!(container_name("my dump", "xxxxABCD"), "decoy-my-dump-dcba");
    }
}
