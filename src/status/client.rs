//! A Redis client that can only read: every command it sends is on [`READ_COMMANDS`], and
//! anything else is refused before it reaches the server. `redis://` over TCP, `rediss://` over
//! TLS (rustls, the webpki roots), with the password and user of the URL sent by AUTH and never
//! shown: [`RedisUrl`]'s `Display` masks the password.

use std::io::{BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::resp::{encode, read_reply, RedisReply};

/// The commands `status` may send: none writes, none blocks, none walks the whole keyspace in one
/// call (SCAN, never KEYS). AUTH and SELECT only set up the connection.
pub const READ_COMMANDS: &[&str] = &[
    "AUTH", "SELECT", "PING", "INFO", "SCAN", "TYPE", "EXISTS", "TTL", "GET", "LLEN", "SCARD",
    "SMEMBERS", "HGETALL", "HGET", "HLEN", "ZCARD", "ZRANGE", "CLIENT", "CONFIG",
];

/// Subcommands of CLIENT and CONFIG that only read.
const READ_SUBCOMMANDS: &[(&str, &str)] = &[("CLIENT", "LIST"), ("CONFIG", "GET")];

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("--redis-url: {0}")]
    Url(String),
    #[error("could not connect to Redis at {url}")]
    Connect {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Redis at {url}: TLS: {why}")]
    Tls { url: String, why: String },
    #[error("Redis at {url} refused the credentials of --redis-url: {reply}")]
    Auth { url: String, reply: String },
    #[error("Redis at {url}: {command}")]
    Io {
        url: String,
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Redis at {url} answered {command} with an error: {reply}")]
    Reply {
        url: String,
        command: String,
        reply: String,
    },
    #[error("--redis-ca-cert {path}: {why}")]
    CaCertificate { path: String, why: String },
    #[error("refused to send {0} to Redis: status only reads")]
    NotReadOnly(String),
}

/// Where Redis is, parsed from `redis://[[user]:password@]host[:port][/db]` or `rediss://`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    password: Option<String>,
    pub database: u32,
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "RedisUrl({self})")
    }
}

impl std::fmt::Display for RedisUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let credentials = match (&self.user, &self.password) {
            (Some(user), Some(_)) => format!("{user}:***@"),
            (None, Some(_)) => ":***@".to_owned(),
            (Some(user), None) => format!("{user}@"),
            (None, None) => String::new(),
        };
        write!(
            formatter,
            "{scheme}://{credentials}{}:{}/{}",
            self.host, self.port, self.database
        )
    }
}

fn percent_decode(text: &str) -> Result<String, RedisError> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text
                .get(index + 1..index + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| {
                    RedisError::Url(
                        "a % in the credentials is not followed by two hex digits".into(),
                    )
                })?;
            decoded.push(hex);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded)
        .map_err(|_| RedisError::Url("the credentials are not UTF-8 once decoded".into()))
}

impl std::str::FromStr for RedisUrl {
    type Err = RedisError;

    /// Errors never quote the URL: it may hold a password.
    fn from_str(text: &str) -> Result<RedisUrl, RedisError> {
        let (tls, rest) = if let Some(rest) = text.strip_prefix("redis://") {
            (false, rest)
        } else if let Some(rest) = text.strip_prefix("rediss://") {
            (true, rest)
        } else {
            return Err(RedisError::Url(
                "expected redis://[[user]:password@]host[:port][/db] or rediss://…".into(),
            ));
        };
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (credentials, address) = match authority.rsplit_once('@') {
            Some((credentials, address)) => (Some(credentials), address),
            None => (None, authority),
        };
        let (user, password) = match credentials {
            None => (None, None),
            Some(credentials) => match credentials.split_once(':') {
                Some((user, password)) => (
                    Some(percent_decode(user)?).filter(|user| !user.is_empty()),
                    Some(percent_decode(password)?),
                ),
                None => (Some(percent_decode(credentials)?), None),
            },
        };
        let (host, port) = if let Some(bracketed) = address.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| RedisError::Url("an IPv6 host without its closing ]".into()))?;
            (host, after.strip_prefix(':'))
        } else {
            match address.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (address, None),
            }
        };
        if host.is_empty() {
            return Err(RedisError::Url("no host".into()));
        }
        let port = match port {
            None | Some("") => 6379,
            Some(port) => port
                .parse()
                .map_err(|_| RedisError::Url(format!("the port {port:?} is not a number")))?,
        };
        let database = match path {
            "" => 0,
            number => number
                .parse()
                .map_err(|_| RedisError::Url(format!("the database {number:?} is not a number")))?,
        };
        Ok(RedisUrl {
            tls,
            host: host.to_owned(),
            port,
            user,
            password,
            database,
        })
    }
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// One connection that only reads.
pub struct ReadOnlyRedis {
    url: String,
    connection: BufReader<Box<dyn Stream>>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(15);
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

impl ReadOnlyRedis {
    /// Connects, authenticates and selects the URL's database. `ca_certificates` (PEM) are
    /// trusted for `rediss://` besides the Mozilla roots built in.
    pub fn connect(
        url: &RedisUrl,
        ca_certificates: Option<&Path>,
    ) -> Result<ReadOnlyRedis, RedisError> {
        let shown = url.to_string();
        let connect_error = |source| RedisError::Connect {
            url: shown.clone(),
            source,
        };
        let address = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(connect_error)?
            .next()
            .ok_or_else(|| {
                connect_error(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the host has no address",
                ))
            })?;
        let tcp = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT).map_err(connect_error)?;
        tcp.set_read_timeout(Some(READ_TIMEOUT))
            .map_err(connect_error)?;
        tcp.set_write_timeout(Some(READ_TIMEOUT))
            .map_err(connect_error)?;
        let stream: Box<dyn Stream> = if url.tls {
            Box::new(tls_stream(url, &shown, tcp, ca_certificates)?)
        } else {
            Box::new(tcp)
        };
        let mut redis = ReadOnlyRedis {
            url: shown,
            connection: BufReader::new(stream),
        };
        if let Some(password) = &url.password {
            let mut auth = vec!["AUTH"];
            if let Some(user) = &url.user {
                auth.push(user);
            }
            auth.push(password);
            // The reply never echoes the password; the command is not named in errors.
            if let RedisReply::Error(reply) = redis.exchange(&auth, "AUTH")? {
                return Err(RedisError::Auth {
                    url: redis.url,
                    reply,
                });
            }
        }
        if url.database != 0 {
            redis.command(&["SELECT", &url.database.to_string()])?;
        }
        Ok(redis)
    }

    /// The URL as reports show it (password masked).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends one read command; an error reply becomes [`RedisError::Reply`].
    pub fn command(&mut self, command: &[&str]) -> Result<RedisReply, RedisError> {
        let name = command
            .first()
            .copied()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let sub = command.get(1).map(|sub| sub.to_ascii_uppercase());
        let allowed = READ_COMMANDS.contains(&name.as_str())
            && READ_SUBCOMMANDS
                .iter()
                .filter(|(parent, _)| *parent == name)
                .all(|(_, only)| sub.as_deref() == Some(*only));
        if !allowed || name == "AUTH" {
            return Err(RedisError::NotReadOnly(
                command
                    .iter()
                    .take(2)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" "),
            ));
        }
        let shown = command
            .iter()
            .take(2)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        match self.exchange(command, &shown)? {
            RedisReply::Error(reply) => Err(RedisError::Reply {
                url: self.url.clone(),
                command: shown,
                reply,
            }),
            reply => Ok(reply),
        }
    }

    fn exchange(&mut self, command: &[&str], shown: &str) -> Result<RedisReply, RedisError> {
        let io = |source| RedisError::Io {
            url: self.url.clone(),
            command: shown.to_owned(),
            source,
        };
        let stream = self.connection.get_mut();
        stream.write_all(&encode(command)).map_err(io)?;
        stream.flush().map_err(io)?;
        read_reply(&mut self.connection).map_err(|source| RedisError::Io {
            url: self.url.clone(),
            command: shown.to_owned(),
            source,
        })
    }

    /// Every key matching `pattern`, by SCAN (the server answers in small steps; KEYS would
    /// block it for the whole keyspace).
    pub fn scan(&mut self, pattern: &str) -> Result<Vec<String>, RedisError> {
        let mut cursor = "0".to_owned();
        let mut keys = Vec::new();
        loop {
            let reply = self.command(&["SCAN", &cursor, "MATCH", pattern, "COUNT", "1000"])?;
            let RedisReply::Array(Some(parts)) = reply else {
                return Err(self.unexpected("SCAN"));
            };
            let [next, RedisReply::Array(Some(batch))] = parts.as_slice() else {
                return Err(self.unexpected("SCAN"));
            };
            keys.extend(batch.iter().filter_map(RedisReply::text));
            cursor = next.text().ok_or_else(|| self.unexpected("SCAN"))?;
            if cursor == "0" {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    pub fn integer(&mut self, command: &[&str]) -> Result<i64, RedisError> {
        self.command(command)?
            .integer()
            .ok_or_else(|| self.unexpected(command[0]))
    }

    pub fn count(&mut self, command: &[&str]) -> Result<u64, RedisError> {
        Ok(u64::try_from(self.integer(command)?).unwrap_or(0))
    }

    pub fn text(&mut self, command: &[&str]) -> Result<Option<String>, RedisError> {
        Ok(self.command(command)?.text())
    }

    pub fn texts(&mut self, command: &[&str]) -> Result<Vec<String>, RedisError> {
        Ok(self.command(command)?.texts())
    }

    /// HGETALL as field/value pairs.
    pub fn hash(&mut self, key: &str) -> Result<Vec<(String, String)>, RedisError> {
        let items = self.texts(&["HGETALL", key])?;
        Ok(items
            .chunks(2)
            .filter_map(|pair| match pair {
                [field, value] => Some((field.clone(), value.clone())),
                _ => None,
            })
            .collect())
    }

    fn unexpected(&self, command: &str) -> RedisError {
        RedisError::Io {
            url: self.url.clone(),
            command: command.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a reply of an unexpected type",
            ),
        }
    }
}

fn tls_stream(
    url: &RedisUrl,
    shown: &str,
    tcp: TcpStream,
    ca_certificates: Option<&Path>,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, RedisError> {
    use rustls::pki_types::pem::PemObject as _;
    let tls_error = |why: String| RedisError::Tls {
        url: shown.to_owned(),
        why,
    };
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_certificates {
        let ca_error = |why: String| RedisError::CaCertificate {
            path: path.display().to_string(),
            why,
        };
        let certificates = rustls::pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|error| ca_error(error.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| ca_error(error.to_string()))?;
        if certificates.is_empty() {
            return Err(ca_error("no PEM certificate in it".into()));
        }
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|error| ca_error(error.to_string()))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| tls_error(error.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(url.host.clone())
        .map_err(|error| tls_error(error.to_string()))?;
    let mut connection = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|error| tls_error(error.to_string()))?;
    let mut tcp = tcp;
    // Shake hands now, within a short wait: a plain-text Redis never answers a ClientHello.
    let _ = tcp.set_read_timeout(Some(TLS_HANDSHAKE_TIMEOUT));
    while connection.is_handshaking() {
        connection.complete_io(&mut tcp).map_err(|error| {
            tls_error(match error.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => format!(
                    "no TLS handshake within {} s (does this port speak TLS? use redis:// if not)",
                    TLS_HANDSHAKE_TIMEOUT.as_secs()
                ),
                _ => format!("the handshake failed: {error}"),
            })
        })?;
    }
    let _ = tcp.set_read_timeout(Some(READ_TIMEOUT));
    Ok(rustls::StreamOwned::new(connection, tcp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_show_no_password() {
        let url: RedisUrl = "rediss://default:s3cr%40t@cache.internal:6380/2"
            .parse()
            .unwrap();
        assert!(url.tls);
        assert_eq!(url.host, "cache.internal");
        assert_eq!(url.port, 6380);
        assert_eq!(url.database, 2);
        assert_eq!(url.user.as_deref(), Some("default"));
        assert_eq!(url.password.as_deref(), Some("s3cr@t"));
        assert_eq!(
            url.to_string(),
            "rediss://default:***@cache.internal:6380/2"
        );
        assert!(!format!("{url:?}").contains("s3cr"));

        let url: RedisUrl = "redis://:hunter2@redis".parse().unwrap();
        assert_eq!(url.to_string(), "redis://:***@redis:6379/0");
        let url: RedisUrl = "redis://[::1]:7000/0".parse().unwrap();
        assert_eq!((url.host.as_str(), url.port), ("::1", 7000));
    }

    #[test]
    fn bad_urls_are_refused_without_quoting_them() {
        for bad in [
            "http://redis:6379",
            "redis://:pw@redis:port/0",
            "redis://:pw@redis:6379/zero",
            "redis://:pw%zz@redis",
            "redis://",
        ] {
            let error = bad.parse::<RedisUrl>().unwrap_err().to_string();
            assert!(error.starts_with("--redis-url: "), "{error}");
            assert!(!error.contains("pw"), "{error}");
        }
    }

    #[test]
    fn commands_that_write_are_refused_before_sending() {
        // An unreachable server: the refusal happens before any I/O.
        let mut redis = ReadOnlyRedis {
            url: "redis://test:1/0".into(),
            connection: BufReader::new(Box::new(std::io::Cursor::new(Vec::new()))),
        };
        for command in [
            &["DEL", "rq:scheduler"][..],
            &["SET", "x", "1"],
            &["KEYS", "*"],
            &["FLUSHALL"],
            &["CLIENT", "KILL", "ID", "1"],
            &["CONFIG", "SET", "save", ""],
            &["CONFIG"],
            &["AUTH", "guess"],
        ] {
            let error = redis.command(command).unwrap_err();
            assert!(
                matches!(error, RedisError::NotReadOnly(_)),
                "{command:?}: {error}"
            );
        }
    }
}
