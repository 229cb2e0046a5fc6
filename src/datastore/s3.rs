//! A bucket on S3 or an S3-compatible store. Objects are uploaded as they are written, in parts of
//! `PART_SIZE` (at most `MAX_PARTS_IN_FLIGHT` at once), so memory stays bounded whatever the chunk
//! size; a multipart upload only becomes an object on commit, so a crash never leaves a truncated
//! object under a final key.
//!
//! The `Datastore` API is synchronous and is called both from blocking threads and from async tasks
//! of the main runtime. The SDK runs on a small runtime owned by the datastore, and every call waits
//! for it through `Shared::block_on`, which is safe in both contexts.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};
use tokio::task::JoinHandle;

use super::{Claim, Datastore, FolderEntry, ObjectWriter, StoredFile};
use crate::config::S3DatastoreConfig;

/// Parts of a multipart upload (S3 wants at least 5 MiB for all but the last).
const PART_SIZE: usize = 8 << 20;
/// Bounds a writer's memory to about (1 + this) × `PART_SIZE`.
const MAX_PARTS_IN_FLIGHT: usize = 4;
/// DeleteObjects takes at most 1,000 keys.
const DELETE_BATCH: usize = 1000;
/// Manifest HEADs in flight while listing dumps.
const LIST_CONCURRENCY: usize = 16;
/// Body pieces buffered ahead of a reader.
const READ_AHEAD: usize = 8;

pub struct S3Datastore {
    shared: Arc<Shared>,
}

struct Shared {
    runtime: OwnedRuntime,
    client: Client,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
    endpoint: Option<String>,
    region: String,
    /// `datastore.s3.conditional_writes`: `None` finds out whether the store honours
    /// `If-None-Match: *`.
    conditional_writes: Option<bool>,
}

/// A runtime that may be dropped anywhere: dropping a `Runtime` inside an async context panics,
/// and the last reference to the datastore can go away inside one.
struct OwnedRuntime(Option<Runtime>);

impl OwnedRuntime {
    fn handle(&self) -> &Handle {
        self.0.as_ref().expect("runtime lives until drop").handle()
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Runs a blocking closure from any context: on a multi-thread runtime's worker it moves the
/// worker's other tasks away first (`block_in_place`); on a current-thread runtime it hops to a
/// plain thread; elsewhere (blocking pool, plain threads) it just runs.
fn blocking<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|scope| scope.spawn(f).join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
        Err(_) => f(),
    }
}

impl Shared {
    /// Drives `future` on the datastore's runtime and waits for it.
    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let handle = self.runtime.handle();
        blocking(|| handle.block_on(future))
    }

    fn key(&self, key: &str) -> io::Result<String> {
        super::check_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    fn url(&self, full_key: &str) -> String {
        format!("s3://{}/{full_key}", self.bucket)
    }

    fn endpoint_name(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("S3 endpoint {endpoint}"),
            None => format!("AWS S3 in region {}", self.region),
        }
    }

    /// An SDK error as an `io::Error` that says what failed on which bucket and key, with a hint for
    /// the usual causes (never with credentials: the SDK's messages do not carry them).
    fn error<E>(&self, err: SdkError<E>, doing: &str, full_key: &str) -> io::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let what = format!("{doing} {}", self.url(full_key));
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code().map(str::to_string);
        match (&err, code.as_deref(), status) {
            // The SDK reports missing credentials as a dispatch failure too: say what to configure.
            (SdkError::DispatchFailure(failure), _, _)
                if !failure.is_io() && !failure.is_timeout() && error_chain(&err).contains("credential") =>
            {
                io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{what}: no usable AWS credentials for s3://{}: set datastore.s3.access_key_id and \
                         secret_access_key, or configure the AWS credential chain (environment, profile, web \
                         identity): {}",
                        self.bucket,
                        error_chain(&err)
                    ),
                )
            }
            (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), _, _) => io::Error::other(format!(
                "{what}: cannot reach the {}: {}",
                self.endpoint_name(),
                error_chain(&err)
            )),
            (_, Some("NoSuchBucket"), _) => io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{what}: bucket `{}` does not exist on the {} (datastore.s3.bucket): create it first",
                    self.bucket,
                    self.endpoint_name()
                ),
            ),
            // Stores differ in the code they send for an unknown key (`NotSignedUp`, ...): any 401
            // or 403 is a credentials or permissions problem.
            (
                _,
                Some("InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied" | "InvalidToken" | "ExpiredToken"),
                _,
            )
            | (_, _, Some(401 | 403)) => io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{what}: access denied / invalid credentials for s3://{} ({}): check \
                     datastore.s3.access_key_id/secret_access_key or the AWS credential chain",
                    self.bucket,
                    code.clone()
                        .unwrap_or_else(|| format!("HTTP {}", status.unwrap_or(403)))
                ),
            ),
            (_, Some("NoSuchKey" | "NotFound"), _) | (_, None, Some(404)) => {
                io::Error::new(io::ErrorKind::NotFound, format!("{what}: no such object"))
            }
            (_, Some(code), _) => io::Error::other(format!(
                "{what}: {code}{}{}",
                status.map(|s| format!(" (HTTP {s})")).unwrap_or_default(),
                err.message().map(|m| format!(": {m}")).unwrap_or_default()
            )),
            _ => io::Error::other(format!("{what}: {}", error_chain(&err))),
        }
    }
}

/// `scheme://host:port` of an endpoint URL, for messages: without a path, and without user info
/// that could hold a secret.
fn redact_endpoint(endpoint: &str) -> String {
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", endpoint));
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority.rsplit('@').next().unwrap_or(authority);
    format!("{scheme}://{host}")
}

/// An error and its sources on one line, without the Debug dumps `DisplayErrorContext` appends.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

impl S3Datastore {
    pub fn open(config: &S3DatastoreConfig) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("decoy-s3")
            .enable_all()
            .build()
            .context("cannot start the S3 client's runtime")?;
        let runtime = OwnedRuntime(Some(runtime));

        // rustls with ring, like the database drivers; the SDK's default client would build aws-lc.
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(config.region.clone()))
            .http_client(http_client);
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "decoy config",
            ));
        }
        let handle = runtime.handle().clone();
        let sdk_config = blocking(|| handle.block_on(loader.load()));
        let mut s3_config = aws_sdk_s3::config::Builder::from(&sdk_config).force_path_style(config.path_style);
        if let Some(endpoint) = &config.endpoint {
            s3_config = s3_config.endpoint_url(endpoint.trim_end_matches('/'));
        }
        let client = Client::from_conf(s3_config.build());

        let prefix = config.prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Ok(S3Datastore {
            shared: Arc::new(Shared {
                runtime,
                client,
                bucket: config.bucket.clone(),
                prefix,
                endpoint: config.endpoint.as_deref().map(redact_endpoint),
                region: config.region.clone(),
                conditional_writes: config.conditional_writes,
            }),
        })
    }

    /// Every key under `full_prefix` with its size and modification time.
    fn list_objects(&self, full_prefix: &str) -> io::Result<Vec<(String, u64, Option<SystemTime>)>> {
        let s = &self.shared;
        s.block_on(async {
            let mut pages = s
                .client
                .list_objects_v2()
                .bucket(&s.bucket)
                .prefix(full_prefix)
                .into_paginator()
                .send();
            let mut objects = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| s.error(e, "listing", full_prefix))?;
                for object in page.contents() {
                    let Some(key) = object.key() else { continue };
                    let modified = object.last_modified().and_then(|t| SystemTime::try_from(*t).ok());
                    objects.push((key.to_string(), object.size().unwrap_or(0).max(0) as u64, modified));
                }
            }
            Ok(objects)
        })
    }
}

impl Datastore for S3Datastore {
    fn describe(&self) -> String {
        let s = &self.shared;
        let mut out = format!("s3://{}/{}", s.bucket, s.prefix);
        if let Some(endpoint) = &s.endpoint {
            let host = endpoint.split_once("://").map_or(endpoint.as_str(), |(_, host)| host);
            out.push_str(&format!(" at {host}"));
        }
        out
    }

    fn create(&self, key: &str) -> io::Result<Box<dyn ObjectWriter>> {
        let key = self.shared.key(key)?;
        Ok(Box::new(S3Writer {
            shared: self.shared.clone(),
            key,
            buffer: Vec::new(),
            upload_id: None,
            in_flight: VecDeque::new(),
            parts: Vec::new(),
            failed: None,
            finished: false,
        }))
    }

    fn writer_memory(&self) -> u64 {
        ((1 + MAX_PARTS_IN_FLIGHT) * PART_SIZE) as u64
    }

    /// The read-ahead channel holds body pieces of at most about a megabyte each (hyper's reads).
    fn reader_memory(&self) -> u64 {
        ((READ_AHEAD + 1) << 20) as u64
    }

    fn open(&self, key: &str) -> io::Result<Box<dyn Read + Send>> {
        let s = &self.shared;
        let key = s.key(key)?;
        let response = s
            .block_on(s.client.get_object().bucket(&s.bucket).key(&key).send())
            .map_err(|e| s.error(e, "reading", &key))?;
        // The body streams through a bounded channel, so a reader never holds the whole object.
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(READ_AHEAD);
        let url = s.url(&key);
        let endpoint = s.endpoint_name();
        let mut body = response.body;
        let pump = s.runtime.handle().spawn(async move {
            loop {
                let item = match body.next().await {
                    None => break,
                    Some(Ok(bytes)) => Ok(bytes),
                    Some(Err(e)) => Err(io::Error::other(format!(
                        "reading {url} from the {endpoint}: {}",
                        error_chain(&e)
                    ))),
                };
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Box::new(S3Reader {
            shared: s.clone(),
            rx,
            current: Bytes::new(),
            done: false,
            pump,
        }))
    }

    fn claim_folder(&self, name: &str, marker: &str, bytes: &[u8]) -> io::Result<Claim> {
        let s = &self.shared;
        let folder = format!("{}/", s.key(name)?);
        let key = s.key(&format!("{name}/{marker}"))?;
        // A prefix may be shared with other objects: never write into a folder that holds any.
        let existing = s
            .block_on(
                s.client
                    .list_objects_v2()
                    .bucket(&s.bucket)
                    .prefix(&folder)
                    .max_keys(1)
                    .send(),
            )
            .map_err(|e| s.error(e, "listing", &folder))?;
        if !existing.contents().is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already holds objects", s.url(&folder)),
            ));
        }
        let put = |key: &str, conditional: bool| {
            let mut request = s
                .client
                .put_object()
                .bucket(&s.bucket)
                .key(key)
                .body(ByteStream::from(bytes.to_vec()));
            if conditional {
                request = request.if_none_match("*");
            }
            s.block_on(request.send()).map_err(|e| {
                let exists = precondition_failed(&e);
                let unsupported = not_implemented(&e);
                (s.error(e, "writing", key), exists, unsupported)
            })
        };
        let taken = || {
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} was claimed by another run", s.url(&key)),
            )
        };
        if s.conditional_writes != Some(false) {
            match put(&key, true) {
                Ok(_) => {}
                Err((_, true, _)) => return Err(taken()),
                Err((_, _, true)) if s.conditional_writes.is_none() => {}
                Err((e, _, _)) => return Err(e),
            }
            // A store that honours `If-None-Match` refuses the same write a second time; one that
            // ignores it accepts it (the content is the same, so nothing changes).
            match put(&key, true) {
                Err((_, true, _)) => return Ok(Claim::Exclusive),
                _ if s.conditional_writes == Some(true) => {
                    return Err(io::Error::other(format!(
                        "the S3 store accepted a second conditional write of {}: it does not honour \
                         If-None-Match; set datastore.s3.conditional_writes to false (or leave it out)",
                        s.url(&key)
                    )))
                }
                _ => tracing::debug!("the S3 store ignores If-None-Match: claiming by election"),
            }
        }
        // Without conditional writes: every run writes a claim under a key of its own, then lists
        // the claims. S3 lists what was written before (strong read-after-write consistency), so
        // of two runs at most one sees no other claim; a run that sees another gives up (both may,
        // which fails both runs and harms neither). Only the survivor writes the marker.
        let own = format!(
            "{folder}{}{}.json",
            crate::dump::CLAIM_PREFIX,
            crate::dump::random_hex(8)
        );
        put(&own, false).map_err(|(e, _, _)| e)?;
        let claims = self.list_objects(&format!("{folder}{}", crate::dump::CLAIM_PREFIX))?;
        if claims.iter().any(|(k, _, _)| *k != own) {
            let _ = s.block_on(s.client.delete_object().bucket(&s.bucket).key(&own).send());
            return Err(taken());
        }
        s.block_on(
            s.client
                .put_object()
                .bucket(&s.bucket)
                .key(&key)
                .body(ByteStream::from(bytes.to_vec()))
                .send(),
        )
        .map_err(|e| s.error(e, "writing", &key))?;
        Ok(Claim::Unconditional)
    }

    fn list_folders(&self, marker: &str, manifest: &str) -> io::Result<Vec<FolderEntry>> {
        let s = &self.shared;
        s.block_on(async {
            let mut pages = s
                .client
                .list_objects_v2()
                .bucket(&s.bucket)
                .prefix(&s.prefix)
                .delimiter("/")
                .into_paginator()
                .send();
            let mut names = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| s.error(e, "listing", &s.prefix))?;
                for common in page.common_prefixes() {
                    let Some(folder) = common.prefix() else { continue };
                    let name = folder
                        .strip_prefix(s.prefix.as_str())
                        .unwrap_or(folder)
                        .trim_end_matches('/');
                    if crate::dump::validate_name(name).is_ok() {
                        names.push(name.to_string());
                    }
                }
            }
            // The objects directly in each folder (one listing each, not one per object).
            let checks = futures_util::stream::iter(names)
                .map(|name| async move {
                    let folder = format!("{}{name}/", s.prefix);
                    let mut pages = s
                        .client
                        .list_objects_v2()
                        .bucket(&s.bucket)
                        .prefix(&folder)
                        .delimiter("/")
                        .into_paginator()
                        .send();
                    let (mut has_marker, mut has_manifest) = (false, false);
                    while let Some(page) = pages.next().await {
                        let page = page.map_err(|e| s.error(e, "listing", &folder))?;
                        for object in page.contents() {
                            match object.key().and_then(|k| k.strip_prefix(folder.as_str())) {
                                Some(file) if file == marker => has_marker = true,
                                Some(file) if file == manifest => has_manifest = true,
                                _ => {}
                            }
                        }
                    }
                    Ok::<_, io::Error>(FolderEntry {
                        name,
                        marker: has_marker,
                        manifest: has_manifest,
                    })
                })
                .buffered(LIST_CONCURRENCY);
            let folders: Vec<FolderEntry> = checks
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<io::Result<_>>()?;
            Ok(folders.into_iter().filter(|f| f.marker || f.manifest).collect())
        })
    }

    fn list_files(&self, name: &str) -> io::Result<Vec<StoredFile>> {
        let folder = format!("{}/", self.shared.key(name)?);
        Ok(self
            .list_objects(&folder)?
            .into_iter()
            .map(|(key, bytes, modified)| StoredFile {
                path: key.strip_prefix(folder.as_str()).unwrap_or(&key).to_string(),
                bytes,
                modified,
            })
            .collect())
    }

    fn delete_files(&self, name: &str, paths: &[String]) -> io::Result<()> {
        let s = &self.shared;
        let folder = format!("{}/", s.key(name)?);
        let keys = paths
            .iter()
            .map(|path| s.key(&format!("{name}/{path}")))
            .collect::<io::Result<Vec<_>>>()?;
        let mut problems = Vec::new();
        for batch in keys.chunks(DELETE_BATCH) {
            let objects = batch
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(io::Error::other)?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(io::Error::other)?;
            let output = s
                .block_on(s.client.delete_objects().bucket(&s.bucket).delete(delete).send())
                .map_err(|e| s.error(e, "deleting objects under", &folder))?;
            for error in output.errors() {
                problems.push(format!(
                    "{}: {} {}",
                    error.key().unwrap_or("?"),
                    error.code().unwrap_or("error"),
                    error.message().unwrap_or("")
                ));
            }
        }
        if !problems.is_empty() {
            let shown = problems.iter().take(5).cloned().collect::<Vec<_>>().join("; ");
            return Err(io::Error::other(format!(
                "deleting from {}: {} objects could not be deleted: {shown}",
                s.url(&folder),
                problems.len()
            )));
        }
        Ok(())
    }
}

/// S3's answer to a conditional write on an existing key.
fn precondition_failed<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.raw_response().map(|r| r.status().as_u16()) == Some(412)
        || matches!(err.code(), Some("PreconditionFailed" | "ConditionalRequestConflict"))
}

/// A store that does not know `If-None-Match` on PUT (some S3-compatible servers say 501).
fn not_implemented<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.raw_response().map(|r| r.status().as_u16()) == Some(501) || err.code() == Some("NotImplemented")
}

struct S3Writer {
    shared: Arc<Shared>,
    /// Full key, prefix included.
    key: String,
    buffer: Vec<u8>,
    /// Set once the object outgrows one part.
    upload_id: Option<String>,
    in_flight: VecDeque<JoinHandle<io::Result<CompletedPart>>>,
    parts: Vec<CompletedPart>,
    /// The first failure, repeated by every later call (the object can no longer be whole).
    failed: Option<(io::ErrorKind, String)>,
    finished: bool,
}

impl S3Writer {
    fn check(&self) -> io::Result<()> {
        match &self.failed {
            Some((kind, message)) => Err(io::Error::new(*kind, message.clone())),
            None => Ok(()),
        }
    }

    fn fail(&mut self, err: io::Error) -> io::Error {
        if self.failed.is_none() {
            self.failed = Some((err.kind(), err.to_string()));
        }
        err
    }

    /// Sends the buffer as the next part, first waiting for the oldest part when enough are in flight.
    /// `room`: the buffer's capacity afterwards (a whole part while more bytes follow).
    fn send_part(&mut self, room: usize) -> io::Result<()> {
        let s = self.shared.clone();
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let created = s
                    .block_on(
                        s.client
                            .create_multipart_upload()
                            .bucket(&s.bucket)
                            .key(&self.key)
                            .send(),
                    )
                    .map_err(|e| s.error(e, "starting the upload of", &self.key))?;
                let id = created.upload_id().map(str::to_string).ok_or_else(|| {
                    io::Error::other(format!("starting the upload of {}: no upload id", s.url(&self.key)))
                })?;
                self.upload_id = Some(id.clone());
                id
            }
        };
        while self.in_flight.len() >= MAX_PARTS_IN_FLIGHT {
            self.wait_oldest()?;
        }
        let number = (self.parts.len() + self.in_flight.len() + 1) as i32;
        let body = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(room)));
        let key = self.key.clone();
        let task_shared = s.clone();
        let task = s.runtime.handle().spawn(async move {
            let s = task_shared;
            let uploaded = s
                .client
                .upload_part()
                .bucket(&s.bucket)
                .key(&key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| s.error(e, &format!("uploading part {number} of"), &key))?;
            Ok(CompletedPart::builder()
                .set_e_tag(uploaded.e_tag().map(str::to_string))
                .part_number(number)
                .build())
        });
        self.in_flight.push_back(task);
        Ok(())
    }

    fn wait_oldest(&mut self) -> io::Result<()> {
        let Some(task) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let part = self
            .shared
            .block_on(task)
            .map_err(|e| io::Error::other(format!("uploading {}: {e}", self.shared.url(&self.key))))??;
        self.parts.push(part);
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let s = self.shared.clone();
        let Some(upload_id) = self.upload_id.clone() else {
            // Smaller than one part: a single PUT.
            let body = ByteStream::from(std::mem::take(&mut self.buffer));
            s.block_on(s.client.put_object().bucket(&s.bucket).key(&self.key).body(body).send())
                .map_err(|e| s.error(e, "uploading", &self.key))?;
            return Ok(());
        };
        if !self.buffer.is_empty() {
            self.send_part(0)?;
        }
        while !self.in_flight.is_empty() {
            self.wait_oldest()?;
        }
        let upload = CompletedMultipartUpload::builder()
            .set_parts(Some(self.parts.clone()))
            .build();
        s.block_on(
            s.client
                .complete_multipart_upload()
                .bucket(&s.bucket)
                .key(&self.key)
                .upload_id(upload_id)
                .multipart_upload(upload)
                .send(),
        )
        .map_err(|e| s.error(e, "completing the upload of", &self.key))?;
        Ok(())
    }

    /// Drops the parts uploaded so far, so a failed or abandoned object leaves nothing behind.
    fn abort(&mut self) {
        for task in self.in_flight.drain(..) {
            task.abort();
        }
        if let Some(upload_id) = self.upload_id.take() {
            let s = &self.shared;
            let aborted = s.block_on(
                s.client
                    .abort_multipart_upload()
                    .bucket(&s.bucket)
                    .key(&self.key)
                    .upload_id(upload_id)
                    .send(),
            );
            if let Err(e) = aborted {
                let e = s.error(e, "aborting the upload of", &self.key);
                tracing::warn!("{e} (the bucket may keep its parts until a lifecycle rule removes them)");
            }
        }
    }
}

impl Write for S3Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check()?;
        if buf.is_empty() {
            return Ok(0);
        }
        // A part goes out only when more bytes follow it, so an object of exactly one part is a
        // single PUT.
        if self.buffer.len() >= PART_SIZE {
            // Past the first part the object is big: take a whole part's room at once.
            if let Err(e) = self.send_part(PART_SIZE) {
                return Err(self.fail(e));
            }
        }
        let n = buf.len().min(PART_SIZE - self.buffer.len());
        // Grow by doubling but never past one part (plain doubling could reach almost twice that).
        let needed = self.buffer.len() + n;
        if needed > self.buffer.capacity() {
            let target = needed.max(self.buffer.capacity() * 2).clamp(64 << 10, PART_SIZE);
            self.buffer.reserve_exact(target - self.buffer.len());
        }
        self.buffer.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Nothing is durable before commit anyway.
        self.check()
    }
}

impl ObjectWriter for S3Writer {
    fn commit(mut self: Box<Self>) -> io::Result<()> {
        self.check()?;
        let result = self.finish();
        if let Err(e) = result {
            return Err(self.fail(e));
        }
        self.finished = true;
        Ok(())
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        if !self.finished {
            self.abort();
        }
    }
}

struct S3Reader {
    shared: Arc<Shared>,
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    done: bool,
    pump: JoinHandle<()>,
}

impl Read for S3Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            let rx = &mut self.rx;
            match self.shared.block_on(rx.recv()) {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                None => self.done = true,
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

impl Drop for S3Reader {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

/// These talk to the S3 server of scripts/services.sh (`DECOY_TEST_S3`, default
/// http://127.0.0.1:8014); tests/s3_datastore.rs drives the whole CLI against it.
#[cfg(test)]
mod tests {
    use super::*;

    fn store(tag: &str) -> S3Datastore {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let bucket = format!(
            "decoy-u-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let config = S3DatastoreConfig {
            bucket: bucket.clone(),
            prefix: "/unit/".into(),
            region: "us-east-1".into(),
            endpoint: Some(std::env::var("DECOY_TEST_S3").unwrap_or_else(|_| "http://127.0.0.1:8014".into())),
            path_style: true,
            conditional_writes: None,
            access_key_id: Some("minioadmin".into()),
            secret_access_key: Some("minioadmin".into()),
        };
        let store = S3Datastore::open(&config).unwrap();
        let s = &store.shared;
        s.block_on(s.client.create_bucket().bucket(&bucket).send())
            .map_err(|e| s.error(e, "creating bucket for", ""))
            .expect("the S3 test server runs (bash scripts/services.sh with DECOY_SERVICES=s3)");
        store
    }

    fn drop_bucket(store: S3Datastore) {
        for folder in store.list_folders("m", "manifest.json").unwrap() {
            let files: Vec<String> = store
                .list_files(&folder.name)
                .unwrap()
                .into_iter()
                .map(|f| f.path)
                .collect();
            store.delete_files(&folder.name, &files).unwrap();
        }
        let s = &store.shared;
        s.block_on(s.client.delete_bucket().bucket(&s.bucket).send()).unwrap();
    }

    /// Deterministic, incompressible-looking bytes.
    fn pattern(len: usize) -> Vec<u8> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// Writes in odd-sized pieces, commits, reads back in odd-sized pieces.
    fn round_trip(store: &S3Datastore, key: &str, bytes: &[u8]) {
        let mut writer = store.create(key).unwrap();
        for piece in bytes.chunks(1_000_003) {
            writer.write_all(piece).unwrap();
        }
        writer.commit().unwrap();
        let mut reader = store.open(key).unwrap();
        let mut back = Vec::new();
        let mut buf = vec![0u8; 77_777];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&buf[..n]);
        }
        assert!(
            back == bytes,
            "{key}: read back {} bytes of {}",
            back.len(),
            bytes.len()
        );
    }

    /// s3s-fs honours `If-None-Match: *`: the second claim of a name fails, and so does a claim of
    /// a folder that already holds someone else's objects.
    #[test]
    fn claims_are_conditional_writes() {
        let store = store("claim");
        assert_eq!(store.claim_folder("d1", "m", b"one").unwrap(), Claim::Exclusive);
        let err = store.claim_folder("d1", "m", b"two").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
        assert_eq!(store.read_all("d1/m").unwrap(), b"one");
        store.write_all("theirs/report.csv", b"a,b").unwrap();
        let err = store.claim_folder("theirs", "m", b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
        assert!(store.list_files("theirs").unwrap().len() == 1);
        store.delete_files("theirs", &["report.csv".to_string()]).unwrap();
        drop_bucket(store);
    }

    #[test]
    fn endpoints_in_messages_carry_no_user_info() {
        assert_eq!(redact_endpoint("http://127.0.0.1:8014/"), "http://127.0.0.1:8014");
        assert_eq!(
            redact_endpoint("https://user:pw@s3.example.com/x"),
            "https://s3.example.com"
        );
    }

    #[test]
    fn objects_round_trip_single_and_multipart() {
        let store = store("parts");
        round_trip(&store, "d1/empty", b"");
        round_trip(&store, "d1/small", b"hello");
        round_trip(&store, "d1/one-part", &pattern(PART_SIZE));
        // Six parts, more than MAX_PARTS_IN_FLIGHT, the last one short.
        round_trip(&store, "d1/data/t/000000.copy.zst", &pattern(5 * PART_SIZE + 12_345));
        let files = store.list_files("d1").unwrap();
        assert_eq!(
            files.iter().map(|f| f.bytes).sum::<u64>(),
            (6 * PART_SIZE + 12_345 + 5) as u64
        );
        assert!(files.iter().all(|f| f.modified.is_some()));
        // No marker and no manifest: not a folder decoy lists.
        assert!(store.list_folders("m", "manifest.json").unwrap().is_empty());
        store.write_all("d1/manifest.json", b"{}").unwrap();
        let listed = store.list_folders("m", "manifest.json").unwrap();
        assert!(listed.len() == 1 && listed[0].manifest && !listed[0].marker);
        assert_eq!(
            store.open("d1/nope").err().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
        drop_bucket(store);
    }

    #[test]
    fn uncommitted_objects_leave_nothing_behind() {
        let store = store("abort");
        for (key, len) in [("d1/small", 10), ("d1/multipart", 2 * PART_SIZE + 1)] {
            let mut writer = store.create(key).unwrap();
            writer.write_all(&pattern(len)).unwrap();
            drop(writer);
            assert_eq!(
                store.open(key).err().map(|e| e.kind()),
                Some(io::ErrorKind::NotFound),
                "{key}"
            );
        }
        assert!(store.list_files("d1").unwrap().is_empty());
        assert!(store.create("../x").is_err() && store.create("a//b").is_err());
        drop_bucket(store);
    }

    /// The trait is called from async tasks of the main (multi-thread) runtime, from its blocking
    /// pool, and could be from a current-thread runtime: none may panic or deadlock.
    #[test]
    fn works_from_every_calling_context() {
        let store = Arc::new(store("contexts"));
        let exercise = |store: &S3Datastore, n: usize| {
            let key = format!("ctx-{n}/data/t/000000.copy.zst");
            round_trip(store, &key, &pattern(PART_SIZE + 4096));
            store.write_all(&format!("ctx-{n}/manifest.json"), b"{}").unwrap();
            assert!(store
                .list_folders("m", "manifest.json")
                .unwrap()
                .iter()
                .any(|d| d.name == format!("ctx-{n}") && d.manifest));
        };
        let main = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        main.block_on(async {
            let mut tasks = Vec::new();
            for n in 0..3 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move { exercise(&store, n) }));
            }
            for n in 3..5 {
                let store = store.clone();
                tasks.push(tokio::task::spawn_blocking(move || exercise(&store, n)));
            }
            for task in tasks {
                task.await.unwrap();
            }
        });
        let current = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        current.block_on(async { exercise(&store, 5) });
        exercise(&store, 6);
        assert_eq!(store.list_folders("m", "manifest.json").unwrap().len(), 7);
        // The last reference going away inside an async task must not panic either.
        let store = Arc::into_inner(store).unwrap();
        drop_bucket_in_async(store, &main);
    }

    fn drop_bucket_in_async(store: S3Datastore, runtime: &Runtime) {
        runtime.block_on(async move {
            tokio::spawn(async move { drop_bucket(store) }).await.unwrap();
        });
    }
}
