//! TLS for PostgreSQL connections, following libpq's `sslmode` meanings:
//! `disable` never, `prefer` (the default) when the server offers it, `require` always without
//! checking the certificate, `verify-ca` checking the chain, `verify-full` checking the chain and
//! the host name. `sslrootcert=FILE` replaces the built-in Mozilla roots with the CAs in FILE.
//!
//! tokio-postgres itself knows only disable/prefer/require, so the verify modes and `sslrootcert`
//! are taken out of the URL here and applied to the rustls configuration.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::ConnectorError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Encrypt only (libpq's `prefer` and `require`).
    Nothing,
    /// The certificate must chain to a trusted root (`verify-ca`).
    Chain,
    /// ...and name the host connected to (`verify-full`).
    Full,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub verify: Verify,
    pub root_cert: Option<PathBuf>,
}

/// Splits libpq-only TLS parameters out of a URL, returning a URL tokio-postgres accepts.
pub fn split_tls_params(url: &str) -> (String, TlsSettings) {
    let mut settings = TlsSettings {
        verify: Verify::Nothing,
        root_cert: None,
    };
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), settings);
    };
    let mut kept = Vec::new();
    for param in query.split('&') {
        match param.split_once('=') {
            Some(("sslmode", "verify-ca")) => {
                settings.verify = Verify::Chain;
                kept.push("sslmode=require".to_string());
            }
            Some(("sslmode", "verify-full")) => {
                settings.verify = Verify::Full;
                kept.push("sslmode=require".to_string());
            }
            Some(("sslrootcert", path)) => settings.root_cert = Some(PathBuf::from(crate::url::percent_decode(path))),
            _ => kept.push(param.to_string()),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, settings)
}

/// The connector for tokio-postgres.
pub fn connector(settings: &TlsSettings) -> Result<MakeRustlsConnect, ConnectorError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(roots(settings)?);
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectorError::Tool(format!("TLS setup failed: {e}")))?;
    let config = match settings.verify {
        Verify::Full => builder.with_root_certificates(roots).with_no_client_auth(),
        Verify::Chain | Verify::Nothing => {
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| ConnectorError::Tool(format!("TLS setup failed: {e}")))?;
            let verifier = Lenient {
                inner: webpki,
                verify: settings.verify,
                provider,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

fn roots(settings: &TlsSettings) -> Result<RootCertStore, ConnectorError> {
    let mut roots = RootCertStore::empty();
    match &settings.root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|e| ConnectorError::Tool(format!("cannot read sslrootcert {}: {e}", path.display())))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(ConnectorError::Tool(format!(
                    "sslrootcert {} holds no usable CA certificate (PEM expected)",
                    path.display()
                )));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(roots)
}

/// Checks as much as the sslmode asks: nothing (`prefer`/`require`) or the chain without the host
/// name (`verify-ca`). Handshake signatures are always checked.
#[derive(Debug)]
struct Lenient {
    inner: Arc<WebPkiServerVerifier>,
    verify: Verify,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        if self.verify == Verify::Nothing {
            return Ok(ServerCertVerified::assertion());
        }
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(TlsError::InvalidCertificate(CertificateError::NotValidForName))
            | Err(TlsError::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_and_root_certs_are_taken_out_of_the_url() {
        let (url, s) =
            split_tls_params("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x");
        assert_eq!(url, "postgres://u@h/db?sslmode=require&application_name=x");
        assert_eq!(
            s,
            TlsSettings {
                verify: Verify::Full,
                root_cert: Some("/etc/ca.pem".into())
            }
        );
        let (url, s) = split_tls_params("postgres://u@h/db?sslmode=verify-ca");
        assert_eq!(
            (url.as_str(), s.verify),
            ("postgres://u@h/db?sslmode=require", Verify::Chain)
        );
        let (url, s) = split_tls_params("postgres://u@h/db?sslmode=disable");
        assert_eq!(
            (url.as_str(), s.verify),
            ("postgres://u@h/db?sslmode=disable", Verify::Nothing)
        );
        assert_eq!(split_tls_params("postgres://h/db").0, "postgres://h/db");
    }

    #[test]
    fn a_missing_root_cert_file_is_named() {
        let settings = TlsSettings {
            verify: Verify::Full,
            root_cert: Some("/nonexistent/ca.pem".into()),
        };
        let err = connector(&settings).err().unwrap().to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }
}
