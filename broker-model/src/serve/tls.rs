//! TLS for the broker's listeners (`mqtts://`, `wss://`) and for test clients, with rustls and
//! its `ring` provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;

pub use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Why a TLS configuration could not be built; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {what} from {}: {source}", path.display())]
    Pem {
        /// `certificate chain` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The file holds no certificate.
    #[error("no certificate in {}", .0.display())]
    NoCertificate(PathBuf),
    /// rustls refused the certificate or the key.
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The crypto provider of every TLS configuration of the project.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration from a PEM certificate chain and a PEM private key.
pub fn server_config_from_pem(
    cert: &Path,
    key: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
    let pem = |what, source| TlsSetupError::Pem {
        what,
        path: cert.to_path_buf(),
        source,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem("certificate chain", e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem("certificate chain", e))?;
    if chain.is_empty() {
        return Err(TlsSetupError::NoCertificate(cert.to_path_buf()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsSetupError::Pem {
        what: "private key",
        path: key.to_path_buf(),
        source,
    })?;
    server_config(chain, key)
}

/// A server configuration from a certificate chain and its private key (DER).
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}
