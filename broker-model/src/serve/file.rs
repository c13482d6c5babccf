//! The YAML file of `mqtt-conform broker`: listeners, shell options, seed and the core's
//! [`Config`] under `broker:`. `broker-model/examples/broker.yaml` documents every key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::ServeOptions;
use crate::Config;

/// Everything a broker server needs: where to listen, the shell's limits and the core's config.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Where to listen (see [`ListenSpec`]: `HOST:PORT`, `mqtts://HOST:PORT`,
    /// `ws://HOST:PORT`, `wss://HOST:PORT`); the command line's `--listen` replaces them.
    pub listeners: Vec<String>,
    /// Certificate chain and private key (PEM files) for the `mqtts://` and `wss://`
    /// listeners.
    pub tls: Option<TlsFiles>,
    /// Seed of the core's random choices (assigned client ids, shared subscriptions).
    pub seed: u64,
    /// Limits and timeouts of the async shell.
    pub serve: ServeOptions,
    /// The broker core's configuration.
    pub broker: Config,
}

/// The PEM files of a TLS listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key of the leaf certificate.
    pub key: PathBuf,
    /// CA certificates (PEM) that client certificates must chain to; when given, every TLS
    /// client must present one (mutual TLS).
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// One listener: a transport and an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenSpec {
    /// Plain TCP: `HOST:PORT`, `tcp://HOST:PORT` or `mqtt://HOST:PORT`.
    Tcp(String),
    /// TLS: `mqtts://HOST:PORT` or `ssl://HOST:PORT`.
    Tls(String),
    /// WebSocket: `ws://HOST:PORT` (any path is accepted).
    Ws(String),
    /// WebSocket over TLS: `wss://HOST:PORT`.
    Wss(String),
}

impl ListenSpec {
    /// The `HOST:PORT` to bind.
    pub fn addr(&self) -> &str {
        match self {
            ListenSpec::Tcp(a) | ListenSpec::Tls(a) | ListenSpec::Ws(a) | ListenSpec::Wss(a) => a,
        }
    }

    /// Does this listener need the TLS files?
    pub fn needs_tls(&self) -> bool {
        matches!(self, ListenSpec::Tls(_) | ListenSpec::Wss(_))
    }
}

impl std::fmt::Display for ListenSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenSpec::Tcp(a) => write!(f, "mqtt://{a}"),
            ListenSpec::Tls(a) => write!(f, "mqtts://{a}"),
            ListenSpec::Ws(a) => write!(f, "ws://{a}"),
            ListenSpec::Wss(a) => write!(f, "wss://{a}"),
        }
    }
}

impl std::str::FromStr for ListenSpec {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let (make, rest): (fn(String) -> ListenSpec, &str) = match t.split_once("://") {
            None => (ListenSpec::Tcp, t),
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "tcp" | "mqtt" => (ListenSpec::Tcp, rest),
                "mqtts" | "ssl" | "tls" => (ListenSpec::Tls, rest),
                "ws" => (ListenSpec::Ws, rest),
                "wss" => (ListenSpec::Wss, rest),
                other => {
                    return Err(format!(
                        "listener `{text}`: unknown scheme `{other}` (use tcp://, mqtts://, ws:// or wss://)"
                    ))
                }
            },
        };
        // A WebSocket URL may carry a path; the server accepts any.
        let addr = rest.split('/').next().unwrap_or_default();
        match addr.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(make(addr.to_string()))
            }
            _ => Err(format!(
                "listener `{text}` needs a host and a port, e.g. 127.0.0.1:1883 or ws://127.0.0.1:8080"
            )),
        }
    }
}

/// Why a server configuration could not be loaded. The message names the file and, for an
/// invalid document, the offending key and its position.
#[derive(Debug, thiserror::Error)]
pub enum ServerConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The document is not valid YAML or does not match the expected shape.
    #[error("invalid config file {}: {source}", path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    listeners: Vec<String>,
    #[serde(default)]
    tls: Option<TlsFiles>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    serve: RawServe,
    #[serde(default)]
    broker: Option<Config>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServe {
    #[serde(default, deserialize_with = "de_opt_duration")]
    connect_timeout: Option<Option<Duration>>,
    max_write_queue: Option<usize>,
    max_write_bytes: Option<usize>,
    read_buffer: Option<usize>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    close_grace: Option<Option<Duration>>,
}

/// `Some(None)` for `none`/`off`/null, `Some(Some(d))` for a duration, `None` when absent.
fn de_opt_duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Duration>>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a duration such as 250ms, 10s, 2m or 1h, or none")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            match v.trim() {
                "none" | "off" => Ok(None),
                t => parse_duration(t).map(Some).map_err(E::custom),
            }
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V).map(Some)
}

/// Parses `250ms`, `10s`, `2m`, `1h` (a whole number and a unit).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 250ms, 10s, 2m or 1h"))?;
    let d = match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    };
    d.ok_or_else(|| format!("`{text}` is not a duration such as 250ms, 10s, 2m or 1h"))
}

impl ServerConfig {
    /// Parses a YAML document; errors name the offending key and its line.
    pub fn from_yaml_str(text: &str) -> Result<ServerConfig, serde_yaml::Error> {
        // An empty document (or only comments) is the default configuration.
        let raw: RawFile = if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            RawFile::default()
        } else {
            serde_yaml::from_str(text)?
        };
        let defaults = ServeOptions::default();
        let serve = ServeOptions {
            connect_timeout: raw
                .serve
                .connect_timeout
                .unwrap_or(defaults.connect_timeout),
            max_write_queue: raw
                .serve
                .max_write_queue
                .unwrap_or(defaults.max_write_queue),
            max_write_bytes: raw
                .serve
                .max_write_bytes
                .unwrap_or(defaults.max_write_bytes),
            read_buffer: raw.serve.read_buffer.unwrap_or(defaults.read_buffer),
            close_grace: raw
                .serve
                .close_grace
                .map(|g| g.unwrap_or(Duration::ZERO))
                .unwrap_or(defaults.close_grace),
        };
        for l in &raw.listeners {
            if let Err(why) = l.parse::<ListenSpec>() {
                return Err(serde::de::Error::custom(format!("listeners: {why}")));
            }
        }
        Ok(ServerConfig {
            listeners: raw.listeners,
            tls: raw.tls,
            seed: raw.seed,
            serve,
            broker: raw.broker.unwrap_or_default(),
        })
    }

    /// Reads and parses the YAML file at `path`.
    pub fn load(path: &Path) -> Result<ServerConfig, ServerConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        ServerConfig::from_yaml_str(&text).map_err(|source| ServerConfigError::Invalid {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration(" 2m "), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn shell_section_and_defaults() {
        let c = ServerConfig::from_yaml_str(
            "listeners: ['127.0.0.1:1883']\nseed: 7\nserve:\n  connect_timeout: none\n  max_write_queue: 3\n",
        )
        .unwrap();
        assert_eq!(c.listeners, vec!["127.0.0.1:1883".to_string()]);
        assert_eq!(c.seed, 7);
        assert_eq!(c.serve.connect_timeout, None);
        assert_eq!(c.serve.max_write_queue, 3);
        assert_eq!(c.serve.read_buffer, ServeOptions::default().read_buffer);
        let empty = ServerConfig::from_yaml_str("# nothing\n\n").unwrap();
        assert!(empty.listeners.is_empty());
        assert_eq!(empty.serve, ServeOptions::default());
    }

    /// The documented sample parses, and the values it shows are the defaults (apart from the
    /// example users and ACL).
    #[test]
    fn sample_parses_and_shows_the_defaults() {
        let text = include_str!("../../examples/broker.yaml");
        let c = ServerConfig::from_yaml_str(text).unwrap();
        assert_eq!(c.listeners, vec!["127.0.0.1:1883".to_string()]);
        assert_eq!(c.seed, 0);
        assert_eq!(c.serve, ServeOptions::default());
        assert_eq!(
            c.broker.users.get("alice").map(String::as_str),
            Some("secret")
        );
        assert_eq!(c.broker.acl.as_ref().map(|a| a.rules.len()), Some(2));
        let mut shown = c.broker.clone();
        shown.users.clear();
        shown.acl = None;
        assert_eq!(shown, Config::default());
    }

    #[test]
    fn load_names_the_file() {
        let missing = Path::new("/nonexistent/broker.yaml");
        let e = ServerConfig::load(missing).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/broker.yaml"), "{e}");
        let bad = std::env::temp_dir().join(format!("mqtt-serve-bad-{}.yaml", std::process::id()));
        std::fs::write(&bad, "broker:\n  maximum_qos: high\n").unwrap();
        let e = ServerConfig::load(&bad).unwrap_err();
        let _ = std::fs::remove_file(&bad);
        let msg = e.to_string();
        assert!(msg.contains(&bad.display().to_string()), "{msg}");
        assert!(msg.contains("broker.maximum_qos"), "{msg}");
    }

    #[test]
    fn listener_specs() {
        let p = |s: &str| s.parse::<ListenSpec>();
        assert_eq!(
            p("127.0.0.1:1883"),
            Ok(ListenSpec::Tcp("127.0.0.1:1883".into()))
        );
        assert_eq!(
            p("mqtt://[::1]:1883"),
            Ok(ListenSpec::Tcp("[::1]:1883".into()))
        );
        assert_eq!(
            p("mqtts://127.0.0.1:8883"),
            Ok(ListenSpec::Tls("127.0.0.1:8883".into()))
        );
        assert_eq!(
            p("ws://127.0.0.1:8080/mqtt"),
            Ok(ListenSpec::Ws("127.0.0.1:8080".into()))
        );
        assert_eq!(
            p("WSS://127.0.0.1:8081"),
            Ok(ListenSpec::Wss("127.0.0.1:8081".into()))
        );
        assert!(p("quic://127.0.0.1:1")
            .unwrap_err()
            .contains("unknown scheme"));
        assert!(p("ws://localhost").unwrap_err().contains("host and a port"));
        assert!(p("ws://:80").is_err());
        let e = ServerConfig::from_yaml_str("listeners: ['udp://1.2.3.4:5']\n").unwrap_err();
        assert!(e.to_string().contains("unknown scheme"), "{e}");
        let c = ServerConfig::from_yaml_str(
            "listeners: ['wss://127.0.0.1:1']\ntls:\n  cert: a.pem\n  key: b.pem\n",
        )
        .unwrap();
        assert_eq!(c.tls.map(|t| t.key), Some(PathBuf::from("b.pem")));
    }

    #[test]
    fn errors_name_the_key() {
        let e = ServerConfig::from_yaml_str("serve:\n  connect_timeout: soon\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("serve.connect_timeout"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        let e = ServerConfig::from_yaml_str("listners: []\n").unwrap_err();
        assert!(e.to_string().contains("listners"), "{e}");
    }
}
