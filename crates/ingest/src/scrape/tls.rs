//! The HTTP client of a scrape job with a `tls_config`: rustls with the
//! job's CA (`ca_file`, otherwise the built-in Mozilla roots), client
//! certificate (`cert_file` + `key_file`), `server_name`,
//! `insecure_skip_verify` and `min_version`.
//!
//! `server_name` is the name the server's certificate is verified against;
//! the SNI sent stays the host of the target's address (Prometheus sends
//! `server_name` for both). rustls speaks TLS 1.2 and 1.3 only, so
//! `min_version: TLS10` and `TLS11` mean TLS 1.2. The files are read when
//! the job's client is built (at start and at each reload).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::config::{TlsSettings, TlsVersion};

/// A client builder with agentmon's scrape defaults (user agent, redirects,
/// no proxy from the environment, as Prometheus's `proxy_from_environment:
/// false`).
pub fn base_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("agentmon/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(10))
        .no_proxy()
}

/// The client for a job with `tls` settings; the error names the file or
/// setting that is wrong.
pub fn build_client(tls: &TlsSettings) -> Result<reqwest::Client, String> {
    let config = client_config(tls)?;
    base_builder()
        .use_preconfigured_tls(config)
        .build()
        .map_err(|e| format!("cannot build the HTTPS client: {e}"))
}

fn client_config(tls: &TlsSettings) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] =
        if tls.min_version == Some(TlsVersion::Tls13) {
            &[&rustls::version::TLS13]
        } else {
            rustls::ALL_VERSIONS
        };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("unable to load specified CA cert {}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| {
                    format!("unable to load specified CA cert {}: {e}", path.display())
                })?;
                roots.add(cert).map_err(|e| {
                    format!("unable to use specified CA cert {}: {e}", path.display())
                })?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "unable to use specified CA cert {}: no certificate in the file",
                    path.display()
                ));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let server_name = match &tls.server_name {
        Some(name) => Some(
            ServerName::try_from(name.clone())
                .map_err(|e| format!("invalid server_name {name:?}: {e}"))?,
        ),
        None => None,
    };
    let verifier = JobVerifier {
        webpki,
        server_name,
        insecure: tls.insecure_skip_verify,
        provider,
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert_path), Some(key_path)) => {
            let certs = CertificateDer::pem_file_iter(cert_path)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    format!(
                        "unable to use specified client cert ({}) & key ({}): {e}",
                        cert_path.display(),
                        key_path.display()
                    )
                })?;
            let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
                format!(
                    "unable to use specified client cert ({}) & key ({}): {e}",
                    cert_path.display(),
                    key_path.display()
                )
            })?;
            builder.with_client_auth_cert(certs, key).map_err(|e| {
                format!(
                    "unable to use specified client cert ({}) & key ({}): {e}",
                    cert_path.display(),
                    key_path.display()
                )
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(config)
}

/// Verifies against the job's roots and `server_name`, or accepts any
/// certificate with `insecure_skip_verify` (handshake signatures are still
/// checked).
#[derive(Debug)]
struct JobVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    server_name: Option<ServerName<'static>>,
    insecure: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for JobVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        let name = self.server_name.as_ref().unwrap_or(server_name);
        self.webpki
            .verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_tls_files_are_reported_by_path() {
        let dir = std::env::temp_dir().join(format!("agentmon-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = TlsSettings {
            ca_file: Some(dir.join("missing.pem")),
            ..TlsSettings::default()
        };
        let e = build_client(&missing).unwrap_err();
        assert!(
            e.contains("unable to load specified CA cert") && e.contains("missing.pem"),
            "{e}"
        );
        std::fs::write(dir.join("empty.pem"), "not a certificate\n").unwrap();
        let empty = TlsSettings {
            ca_file: Some(dir.join("empty.pem")),
            ..TlsSettings::default()
        };
        let e = build_client(&empty).unwrap_err();
        assert!(e.contains("no certificate"), "{e}");
        let key = TlsSettings {
            cert_file: Some(dir.join("empty.pem")),
            key_file: Some(dir.join("missing-key.pem")),
            ..TlsSettings::default()
        };
        let e = build_client(&key).unwrap_err();
        assert!(e.contains("unable to use specified client cert"), "{e}");
        let bad_name = TlsSettings {
            server_name: Some("not a name!".into()),
            ..TlsSettings::default()
        };
        assert!(build_client(&bad_name).unwrap_err().contains("server_name"));
        let insecure = TlsSettings {
            insecure_skip_verify: true,
            min_version: Some(TlsVersion::Tls13),
            ..TlsSettings::default()
        };
        assert!(build_client(&insecure).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
