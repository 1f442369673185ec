//! Database URLs as operators hold them (`REDASH_DATABASE_URL`), shown only with the password
//! masked.

use std::str::FromStr;

/// A connection URL whose password is never displayed.
#[derive(Clone)]
pub struct DatabaseUrl {
    raw: String,
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
    #[error("sslmode={0} is not supported: use sslmode=require (encrypted, certificate not verified) or prefer")]
    UnsupportedSslMode(String),
}

impl FromStr for DatabaseUrl {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<DatabaseUrl, UrlError> {
        let text = text.trim();
        if !(text.starts_with("postgresql://") || text.starts_with("postgres://")) {
            return Err(UrlError::Scheme);
        }
        for mode in ["verify-ca", "verify-full", "allow"] {
            if text.contains(&format!("sslmode={mode}")) {
                return Err(UrlError::UnsupportedSslMode(mode.to_owned()));
            }
        }
        postgres::Config::from_str(text).map_err(|_| UrlError::Malformed)?;
        Ok(DatabaseUrl {
            raw: text.to_owned(),
        })
    }
}

impl DatabaseUrl {
    pub fn config(&self) -> postgres::Config {
        postgres::Config::from_str(&self.raw).expect("checked when parsed")
    }

    /// The URL with any password replaced by `***`, in the userinfo and in a `password=` parameter.
    pub fn redacted(&self) -> String {
        redact(&self.raw)
    }
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
    }
}
