//! Database URLs as operators hold them (`REDASH_DATABASE_URL`), turned into sqlx's connection
//! options with libpq's meaning, and shown only with the password masked.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

/// A connection URL whose password is never displayed.
#[derive(Clone)]
pub struct DatabaseUrl {
    raw: String,
    options: PgConnectOptions,
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "DatabaseUrl({})", self.redacted())
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.redacted())
    }
}

/// Why a URL cannot be used. Never quotes the URL itself: it may hold a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the database URL must start with postgresql:// or postgres://")]
    Scheme,
    #[error("the database URL is malformed (check quoting, and percent-encode special characters in the password)")]
    Malformed,
    #[error("sslmode=allow is not supported: use sslmode=prefer (the default), require, verify-ca or verify-full")]
    SslModeAllow,
    #[error("sslrootcert {0}: no such file")]
    RootCertMissing(String),
}

impl FromStr for DatabaseUrl {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<DatabaseUrl, UrlError> {
        let text = text.trim();
        if !(text.starts_with("postgresql://") || text.starts_with("postgres://")) {
            return Err(UrlError::Scheme);
        }
        let parameter = |name: &str| {
            text.split_once('?').and_then(|(_, query)| {
                query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                    .map(str::to_owned)
            })
        };
        // sqlx would quietly treat allow as disable, which a server requiring TLS refuses.
        if parameter("sslmode").is_some_and(|mode| mode.eq_ignore_ascii_case("allow")) {
            return Err(UrlError::SslModeAllow);
        }
        let mut options = PgConnectOptions::from_str(text).map_err(|_| UrlError::Malformed)?;
        if let Some(root) = parameter("sslrootcert") {
            if !std::path::Path::new(&root).is_file() {
                return Err(UrlError::RootCertMissing(root));
            }
            // libpq: with a root certificate at hand, require verifies the chain as verify-ca.
            if matches!(options.get_ssl_mode(), PgSslMode::Require) {
                options = options.ssl_mode(PgSslMode::VerifyCa);
            }
        }
        Ok(DatabaseUrl {
            raw: text.to_owned(),
            options,
        })
    }
}

impl DatabaseUrl {
    /// sqlx's options for this URL, under the name a DBA sees in `pg_stat_activity`.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.options
            .clone()
            .application_name(super::APPLICATION_NAME)
    }

    /// The TLS mode the connection uses, after libpq's rules.
    pub fn ssl_mode(&self) -> PgSslMode {
        self.options.get_ssl_mode()
    }

    /// The URL with any password replaced by `***`, in the userinfo and in a `password=` parameter.
    /// The URL as given, password included: only ever for the environment of a child process
    /// that must connect (a migration run by `rehearse`), never for output.
    pub fn secret_text(&self) -> &str {
        &self.raw
    }

    pub fn redacted(&self) -> String {
        redact(&self.raw)
    }

    /// The database name the URL names (sqlx's default, the user name, when it names none).
    pub fn database_name(&self) -> String {
        self.options
            .get_database()
            .unwrap_or_else(|| self.options.get_username())
            .to_owned()
    }

    /// The connection as libpq's environment variables (`PGHOST`, `PGPORT`, `PGUSER`,
    /// `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGAPPNAME`), for `pg_dump` and
    /// `pg_restore`: nothing of it on their command line. The password is not among them; see
    /// [`DatabaseUrl::password`].
    pub fn libpq_environment(&self) -> Vec<(&'static str, String)> {
        let options = &self.options;
        let host = match options.get_socket() {
            Some(socket) => socket.display().to_string(),
            None => options.get_host().to_owned(),
        };
        let mut environment = vec![
            ("PGHOST", host),
            ("PGPORT", options.get_port().to_string()),
            ("PGUSER", options.get_username().to_owned()),
            ("PGDATABASE", self.database_name()),
            (
                "PGSSLMODE",
                match options.get_ssl_mode() {
                    PgSslMode::Disable => "disable",
                    PgSslMode::Allow => "allow",
                    PgSslMode::Prefer => "prefer",
                    PgSslMode::Require => "require",
                    PgSslMode::VerifyCa => "verify-ca",
                    PgSslMode::VerifyFull => "verify-full",
                }
                .to_owned(),
            ),
            ("PGAPPNAME", super::APPLICATION_NAME.to_owned()),
        ];
        if let Some(root) = self.parameter("sslrootcert") {
            environment.push(("PGSSLROOTCERT", root));
        }
        environment
    }

    /// The password the URL carries, decoded; only ever handed to a child process through a
    /// password file.
    pub fn password(&self) -> Option<String> {
        use sqlx::ConnectOptions as _;
        let url = self.options.to_url_lossy();
        url.password().map(percent_decode)
    }

    fn parameter(&self, name: &str) -> Option<String> {
        self.raw.split_once('?').and_then(|(_, query)| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                .map(percent_decode)
        })
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            if let Some(value) = std::str::from_utf8(&bytes[index + 1..index + 3])
                .ok()
                .and_then(|digits| u8::from_str_radix(digits, 16).ok())
            {
                out.push(value);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Masks passwords in anything that may contain a connection URL.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (before, after) = rest.split_at(start + 3);
        out.push_str(before);
        let authority_end = after.find(['/', '?', ' ', '\n']).unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    redact_parameter(&out)
}

fn redact_parameter(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(index) = rest.find("password=") {
        let value_start = index + "password=".len();
        out.push_str(&rest[..value_start]);
        out.push_str("***");
        let value = &rest[value_start..];
        let end = value.find(['&', ' ', '\n']).unwrap_or(value.len());
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_everywhere() {
        assert_eq!(
            redact("postgresql://redash:s3cr%40t@db:5432/redash"),
            "postgresql://redash:***@db:5432/redash"
        );
        assert_eq!(
            redact("postgres://u@h/db?password=hunter2&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(redact("postgresql:///redash"), "postgresql:///redash");
        let url: DatabaseUrl = "postgresql://a:b@c/d".parse().unwrap();
        assert!(!format!("{url} {url:?}").contains(":b@"));
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_them() {
        assert_eq!(
            "mysql://a:secret@h/d".parse::<DatabaseUrl>().unwrap_err(),
            UrlError::Scheme
        );
        let error = "postgresql://a:secret@h:notaport/d"
            .parse::<DatabaseUrl>()
            .unwrap_err();
        assert!(!error.to_string().contains("secret"));
        assert_eq!(
            "postgresql://a@h/d?sslmode=allow"
                .parse::<DatabaseUrl>()
                .unwrap_err(),
            UrlError::SslModeAllow
        );
        assert_eq!(
            "postgresql://a@h/d?sslmode=verify-full&sslrootcert=/nonexistent/root.crt"
                .parse::<DatabaseUrl>()
                .unwrap_err(),
            UrlError::RootCertMissing("/nonexistent/root.crt".into())
        );
    }

    #[test]
    fn libpq_gets_everything_but_the_password_in_its_environment() {
        let url: DatabaseUrl =
            "postgresql://redash:p%40ss%3Aw@db.internal:6432/meta?sslmode=require"
                .parse()
                .unwrap();
        let environment = url.libpq_environment();
        let get = |name: &str| {
            environment
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(get("PGHOST"), Some("db.internal"));
        assert_eq!(get("PGPORT"), Some("6432"));
        assert_eq!(get("PGUSER"), Some("redash"));
        assert_eq!(get("PGDATABASE"), Some("meta"));
        assert_eq!(get("PGSSLMODE"), Some("require"));
        assert!(environment.iter().all(|(_, value)| !value.contains("p@ss")));
        assert_eq!(url.password().as_deref(), Some("p@ss:w"));
        let without: DatabaseUrl = "postgresql://redash@db/meta".parse().unwrap();
        assert_eq!(without.password(), None);
    }

    #[test]
    fn sslmode_follows_libpq() {
        let mode = |url: &str| format!("{:?}", url.parse::<DatabaseUrl>().unwrap().ssl_mode());
        assert_eq!(mode("postgresql://a@h/d"), "Prefer");
        assert_eq!(mode("postgresql://a@h/d?sslmode=require"), "Require");
        assert_eq!(mode("postgresql://a@h/d?sslmode=verify-full"), "VerifyFull");
        let root = tempfile::NamedTempFile::new().unwrap();
        let with_root = format!(
            "postgresql://a@h/d?sslmode=require&sslrootcert={}",
            root.path().display()
        );
        assert_eq!(mode(&with_root), "VerifyCa");
    }
}
