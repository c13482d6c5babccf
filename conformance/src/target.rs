//! Targets: where the suite's byte streams go.
//!
//! A [`Target`] opens a fresh bidirectional byte stream to the broker under test for every
//! client connection a test makes. TCP, the embedded reference broker (in-memory pipes with
//! virtual time) and, in the simulator crate, turmoil's TCP all implement it; TLS and WebSocket
//! streams fit the same shape.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

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
}

/// Where to run the suite, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// The reference broker in-process, over in-memory pipes, with virtual time.
    Embedded,
    /// Any broker over TCP.
    Tcp {
        /// `host:port` as given.
        addr: String,
    },
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetSpec::Embedded => f.write_str("embedded"),
            TargetSpec::Tcp { addr } => write!(f, "tcp://{addr}"),
        }
    }
}

/// Error parsing a target.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetParseError {
    /// The scheme is not one this build supports.
    #[error("unsupported target `{0}`: use `embedded` or `tcp://HOST:PORT` (mqtts://, ws:// and wss:// are not supported yet)")]
    Unsupported(String),
    /// `tcp://` without a usable `host:port`.
    #[error("target `{0}` needs a host and a port, e.g. tcp://127.0.0.1:1883")]
    MissingPort(String),
}

impl std::str::FromStr for TargetSpec {
    type Err = TargetParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("embedded") {
            return Ok(TargetSpec::Embedded);
        }
        let rest = s
            .strip_prefix("tcp://")
            .or_else(|| s.strip_prefix("mqtt://"))
            .ok_or_else(|| TargetParseError::Unsupported(s.to_string()))?;
        let rest = rest.trim_end_matches('/');
        match rest.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(TargetSpec::Tcp {
                    addr: rest.to_string(),
                })
            }
            _ => Err(TargetParseError::MissingPort(s.to_string())),
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

impl Target for TcpTarget {
    fn describe(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    fn connect(&self) -> BoxFuture<'_, io::Result<BoxStream>> {
        Box::pin(async move {
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
            Ok(Box::new(stream) as BoxStream)
        })
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
        assert!(matches!(
            "ws://x:1".parse::<TargetSpec>(),
            Err(TargetParseError::Unsupported(_))
        ));
    }
}
