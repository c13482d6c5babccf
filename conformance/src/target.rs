//! Targets: where the suite's byte streams go.
//!
//! A [`Target`] opens a fresh bidirectional byte stream to the broker under test for every
//! client connection a test makes. TCP, TLS ([`TlsTarget`]), WebSocket and WebSocket over TLS
//! ([`WsTarget`]), the embedded reference broker (in-memory pipes with virtual time) and, in the
//! simulator crate, turmoil's TCP all implement it. Targets reached over WebSocket also give the
//! tests of chapter 6 the WebSocket itself ([`Target::connect_websocket`]).

use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use mqtt_broker_model::serve::ws::{self, WsControl};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;

/// A byte stream to the broker.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// A boxed [`Stream`].
pub type BoxStream = Box<dyn Stream>;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something the suite can open connections to.
pub trait Target: Send + Sync + 'static {
    /// A short human-readable description (`tcp://127.0.0.1:1883`, `embedded`).
    fn describe(&self) -> String;
    /// Opens a new connection.
    fn connect(&self) -> BoxFuture<'_, io::Result<BoxStream>>;
    /// True when time is virtual (embedded, simulated): waiting costs nothing.
    fn virtual_time(&self) -> bool {
        false
    }
    /// For targets reached over WebSocket: opens a connection and returns it with what the
    /// handshake said and a handle on the framing of the next write. `None` for other
    /// transports (the tests of chapter 6 then skip). A handshake whose response lacks the
    /// subprotocol `mqtt` fails with an error holding [`ws::SubprotocolMismatch`].
    fn connect_websocket(&self) -> Option<BoxFuture<'_, io::Result<WsConnect>>> {
        None
    }
}

/// A WebSocket connection for the tests of chapter 6.
pub struct WsConnect {
    /// The MQTT byte stream (binary frames).
    pub stream: BoxStream,
    /// The subprotocol selected by the server's handshake response.
    pub subprotocol: Option<String>,
    /// Frames the next write differently (text, or cut in pieces).
    pub control: WsControl,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> From<ws::WsConnection<S>> for WsConnect {
    fn from(c: ws::WsConnection<S>) -> Self {
        let control = c.stream.control();
        WsConnect {
            stream: Box::new(c.stream),
            subprotocol: c.subprotocol,
            control,
        }
    }
}

/// How a TLS client checks the broker's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsClientOptions {
    /// Trust only the certificate authorities in this PEM file (default: the Mozilla roots
    /// compiled in, from `webpki-roots`).
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (self-signed test brokers). Signatures of the handshake are still
    /// checked; the broker's identity is not.
    pub insecure: bool,
    /// A client certificate chain (PEM), for brokers that require one; with `client_key`.
    pub client_cert: Option<PathBuf>,
    /// The private key (PEM) of `client_cert`.
    pub client_key: Option<PathBuf>,
}

/// The certificates of a PEM file, as the broker's TLS setup reads them; errors name the file.
fn read_certs(
    path: &std::path::Path,
    what: &'static str,
) -> io::Result<Vec<rustls_pki_types::CertificateDer<'static>>> {
    mqtt_broker_model::serve::tls::pem_certificates(path, what)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
}

/// Where to run the suite, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// The reference broker in-process, over in-memory pipes, with virtual time.
    Embedded,
    /// Any broker over TCP (`tcp://HOST:PORT`, `mqtt://HOST:PORT`).
    Tcp {
        /// `host:port` as given.
        addr: String,
    },
    /// Any broker over TLS (`mqtts://HOST:PORT`, `ssl://HOST:PORT`).
    Tls {
        /// `host:port` as given.
        addr: String,
        /// How the certificate is checked.
        tls: TlsClientOptions,
    },
    /// Any broker over WebSocket (`ws://HOST:PORT/PATH`, path `/mqtt` when none is given) or
    /// WebSocket over TLS (`wss://...`).
    Ws {
        /// The URL, with its path.
        url: String,
        /// `host:port` of the URL.
        addr: String,
        /// `Some` for `wss://`.
        tls: Option<TlsClientOptions>,
    },
}

impl TargetSpec {
    /// Sets how TLS certificates are checked, for `mqtts://` and `wss://` targets (others
    /// ignore it).
    pub fn set_tls(&mut self, options: TlsClientOptions) {
        match self {
            TargetSpec::Tls { tls, .. } => *tls = options,
            TargetSpec::Ws { tls: Some(tls), .. } => *tls = options,
            _ => {}
        }
    }

    /// Does this target use TLS?
    pub fn uses_tls(&self) -> bool {
        matches!(
            self,
            TargetSpec::Tls { .. } | TargetSpec::Ws { tls: Some(_), .. }
        )
    }

    /// The target for a remote spec (`None` for [`TargetSpec::Embedded`]).
    pub fn remote(&self) -> Option<io::Result<Arc<dyn Target>>> {
        match self {
            TargetSpec::Embedded => None,
            TargetSpec::Tcp { addr } => Some(Ok(Arc::new(TcpTarget::new(addr.clone())))),
            TargetSpec::Tls { addr, tls } => {
                Some(TlsTarget::new(addr.clone(), tls).map(|t| Arc::new(t) as Arc<dyn Target>))
            }
            TargetSpec::Ws { url, addr, tls } => Some(
                WsTarget::new(url.clone(), addr.clone(), tls.as_ref())
                    .map(|t| Arc::new(t) as Arc<dyn Target>),
            ),
        }
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetSpec::Embedded => f.write_str("embedded"),
            TargetSpec::Tcp { addr } => write!(f, "tcp://{addr}"),
            TargetSpec::Tls { addr, .. } => write!(f, "mqtts://{addr}"),
            TargetSpec::Ws { url, .. } => f.write_str(url),
        }
    }
}

/// Error parsing a target.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetParseError {
    /// The scheme is not one this build supports.
    #[error("unsupported target `{0}`: use `embedded`, `tcp://HOST:PORT`, `mqtts://HOST:PORT`, `ws://HOST:PORT/PATH` or `wss://HOST:PORT/PATH`")]
    Unsupported(String),
    /// No usable `host:port`.
    #[error("target `{0}` needs a host and a port, e.g. tcp://127.0.0.1:1883")]
    MissingPort(String),
}

/// `host:port` with a non-empty host and a numeric port?
fn host_port(s: &str) -> bool {
    matches!(s.rsplit_once(':'), Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok())
}

impl std::str::FromStr for TargetSpec {
    type Err = TargetParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("embedded") {
            return Ok(TargetSpec::Embedded);
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(TargetParseError::Unsupported(s.to_string()));
        };
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "tcp" | "mqtt" | "mqtts" | "ssl" => {
                let addr = rest.trim_end_matches('/');
                if !host_port(addr) {
                    return Err(TargetParseError::MissingPort(s.to_string()));
                }
                let addr = addr.to_string();
                Ok(if matches!(scheme.as_str(), "tcp" | "mqtt") {
                    TargetSpec::Tcp { addr }
                } else {
                    TargetSpec::Tls {
                        addr,
                        tls: TlsClientOptions::default(),
                    }
                })
            }
            "ws" | "wss" => {
                let (addr, path) = match rest.find('/') {
                    Some(i) => rest.split_at(i),
                    None => (rest, "/mqtt"),
                };
                if !host_port(addr) {
                    return Err(TargetParseError::MissingPort(s.to_string()));
                }
                Ok(TargetSpec::Ws {
                    url: format!("{scheme}://{addr}{path}"),
                    addr: addr.to_string(),
                    tls: (scheme == "wss").then(TlsClientOptions::default),
                })
            }
            _ => Err(TargetParseError::Unsupported(s.to_string())),
        }
    }
}

/// A broker over TCP.
#[derive(Debug, Clone)]
pub struct TcpTarget {
    addr: String,
    connect_timeout: Duration,
}

impl TcpTarget {
    /// A target at `addr` (`host:port`).
    pub fn new(addr: impl Into<String>) -> Self {
        TcpTarget {
            addr: addr.into(),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl TcpTarget {
    async fn open(&self) -> io::Result<tokio::net::TcpStream> {
        let fut = tokio::net::TcpStream::connect(self.addr.as_str());
        let stream = tokio::time::timeout(self.connect_timeout, fut)
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {} timed out", self.addr),
                )
            })??;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

impl Target for TcpTarget {
    fn describe(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    fn connect(&self) -> BoxFuture<'_, io::Result<BoxStream>> {
        Box::pin(async move { Ok(Box::new(self.open().await?) as BoxStream) })
    }
}

/// The host part of `host:port` (brackets of an IPv6 literal removed), for TLS.
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// A TLS client configuration per `options`.
pub fn tls_connector(options: &TlsClientOptions) -> io::Result<tokio_rustls::TlsConnector> {
    use rustls_pki_types::pem::PemObject;
    let provider = mqtt_broker_model::serve::tls::provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(e.to_string()))?;
    let wants_client_cert = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &options.ca_file {
            Some(path) => {
                let (added, _) =
                    roots.add_parsable_certificates(read_certs(path, "CA certificates")?);
                if added == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("no usable CA certificate in {}", path.display()),
                    ));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots)
    };
    let config = match (&options.client_cert, &options.client_key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, "a client certificate")?;
            let key = rustls_pki_types::PrivateKeyDer::from_pem_file(key).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("cannot read a private key from {}: {e}", key.display()),
                )
            })?;
            wants_client_cert
                .with_client_auth_cert(chain, key)
                .map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("client certificate refused: {e}"),
                    )
                })?
        }
        (None, None) => wants_client_cert.with_no_client_auth(),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a client certificate needs both its certificate and its key",
            ))
        }
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// `--insecure`: any certificate is accepted; handshake signatures are still verified.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// TLS over a [`TcpTarget`]: the host of the address is the name checked in the certificate.
#[derive(Clone)]
struct TlsLayer {
    connector: tokio_rustls::TlsConnector,
    name: rustls_pki_types::ServerName<'static>,
}

impl TlsLayer {
    fn new(addr: &str, options: &TlsClientOptions) -> io::Result<Self> {
        let name = rustls_pki_types::ServerName::try_from(host_of(addr).to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
        Ok(TlsLayer {
            connector: tls_connector(options)?,
            name,
        })
    }

    async fn wrap<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        addr: &str,
    ) -> io::Result<tokio_rustls::client::TlsStream<S>> {
        self.connector
            .connect(self.name.clone(), stream)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake with {addr} failed: {e}")))
    }
}

/// A broker over TLS (`mqtts://`).
#[derive(Clone)]
pub struct TlsTarget {
    tcp: TcpTarget,
    tls: TlsLayer,
}

impl TlsTarget {
    /// A target at `addr` (`host:port`), checking the certificate per `options`.
    pub fn new(addr: impl Into<String>, options: &TlsClientOptions) -> io::Result<Self> {
        let addr = addr.into();
        Ok(TlsTarget {
            tls: TlsLayer::new(&addr, options)?,
            tcp: TcpTarget::new(addr),
        })
    }
}

impl Target for TlsTarget {
    fn describe(&self) -> String {
        format!("mqtts://{}", self.tcp.addr)
    }

    fn connect(&self) -> BoxFuture<'_, io::Result<BoxStream>> {
        Box::pin(async move {
            let tcp = self.tcp.open().await?;
            let tls = self.tls.wrap(tcp, &self.tcp.addr).await?;
            Ok(Box::new(tls) as BoxStream)
        })
    }
}

/// A broker over WebSocket (`ws://`) or WebSocket over TLS (`wss://`).
#[derive(Clone)]
pub struct WsTarget {
    url: String,
    tcp: TcpTarget,
    tls: Option<TlsLayer>,
}

impl WsTarget {
    /// A target at `url`, whose `host:port` is `addr`; `tls` for `wss://`.
    pub fn new(
        url: impl Into<String>,
        addr: impl Into<String>,
        tls: Option<&TlsClientOptions>,
    ) -> io::Result<Self> {
        let addr = addr.into();
        Ok(WsTarget {
            url: url.into(),
            tls: tls.map(|o| TlsLayer::new(&addr, o)).transpose()?,
            tcp: TcpTarget::new(addr),
        })
    }

    async fn open(&self) -> io::Result<WsConnect> {
        let tcp = self.tcp.open().await?;
        Ok(match &self.tls {
            None => ws::connect(tcp, &self.url).await?.into(),
            Some(tls) => {
                let tls = tls.wrap(tcp, &self.tcp.addr).await?;
                ws::connect(tls, &self.url).await?.into()
            }
        })
    }
}

impl Target for WsTarget {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn connect(&self) -> BoxFuture<'_, io::Result<BoxStream>> {
        Box::pin(async move { Ok(self.open().await?.stream) })
    }

    fn connect_websocket(&self) -> Option<BoxFuture<'_, io::Result<WsConnect>>> {
        Some(Box::pin(self.open()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        assert_eq!("embedded".parse(), Ok(TargetSpec::Embedded));
        assert_eq!(
            "tcp://127.0.0.1:1883".parse(),
            Ok(TargetSpec::Tcp {
                addr: "127.0.0.1:1883".into()
            })
        );
        assert_eq!(
            "tcp://[::1]:1883".parse(),
            Ok(TargetSpec::Tcp {
                addr: "[::1]:1883".into()
            })
        );
        assert!(matches!(
            "tcp://localhost".parse::<TargetSpec>(),
            Err(TargetParseError::MissingPort(_))
        ));
        assert_eq!(
            "mqtts://broker.example:8883".parse(),
            Ok(TargetSpec::Tls {
                addr: "broker.example:8883".into(),
                tls: TlsClientOptions::default()
            })
        );
        assert_eq!(
            "ws://127.0.0.1:8080".parse(),
            Ok(TargetSpec::Ws {
                url: "ws://127.0.0.1:8080/mqtt".into(),
                addr: "127.0.0.1:8080".into(),
                tls: None
            })
        );
        let wss: TargetSpec = "WSS://[::1]:443/ws".parse().unwrap();
        assert_eq!(wss.to_string(), "wss://[::1]:443/ws");
        assert!(wss.uses_tls());
        assert!(matches!(
            "ws://x".parse::<TargetSpec>(),
            Err(TargetParseError::MissingPort(_))
        ));
        assert!(matches!(
            "quic://x:1".parse::<TargetSpec>(),
            Err(TargetParseError::Unsupported(_))
        ));
        assert_eq!(host_of("[::1]:443"), "::1");
        assert_eq!(host_of("broker.example:8883"), "broker.example");
    }
}
