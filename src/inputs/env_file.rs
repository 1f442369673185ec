//! `.env` files as docker compose reads them: `KEY=VALUE` lines, `#` comments, `export `
//! prefixes, single quotes (literal), double quotes (with `\n`, `\"` and `\\` escapes), unquoted
//! values with trailing ` #comments`, empty values, and `${VAR}` references kept as written.

use std::path::Path;

use super::{read, InputError, Location};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvEntry {
    pub name: String,
    pub value: String,
    pub location: Location,
}

pub fn read_env_file(path: &Path) -> Result<Vec<EnvEntry>, InputError> {
    parse_env(path, &read(path)?)
}

pub fn parse_env(path: &Path, text: &str) -> Result<Vec<EnvEntry>, InputError> {
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let syntax = |message: String| InputError::Syntax {
            path: path.to_owned(),
            line,
            message,
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let statement = trimmed
            .strip_prefix("export ")
            .unwrap_or(trimmed)
            .trim_start();
        let Some((name, rest)) = statement.split_once('=') else {
            return Err(syntax(format!(
                "expected NAME=VALUE, found {:?}",
                shorten(statement)
            )));
        };
        let name = name.trim();
        if name.is_empty()
            || !name.chars().all(|character| {
                character.is_ascii_alphanumeric() || character == '_' || character == '.'
            })
            || name.starts_with(|character: char| character.is_ascii_digit())
        {
            return Err(syntax(format!(
                "{:?} is not a variable name",
                shorten(name)
            )));
        }
        let value = parse_value(rest.trim_start()).map_err(|message| syntax(message.to_owned()))?;
        entries.push(EnvEntry {
            name: name.to_owned(),
            value,
            location: Location::new(path, line),
        });
    }
    Ok(entries)
}

fn parse_value(rest: &str) -> Result<String, &'static str> {
    if let Some(body) = rest.strip_prefix('\'') {
        let end = body.find('\'').ok_or("unterminated single quote")?;
        return trailing(&body[end + 1..]).map(|()| body[..end].to_owned());
    }
    if let Some(body) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut characters = body.char_indices();
        while let Some((index, character)) = characters.next() {
            match character {
                '"' => return trailing(&body[index + 1..]).map(|()| value),
                '\\' => match characters.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, other)) => value.push(other),
                    None => return Err("unterminated double quote"),
                },
                other => value.push(other),
            }
        }
        return Err("unterminated double quote");
    }
    let value = match rest.find(" #") {
        Some(index) => &rest[..index],
        None => rest,
    };
    Ok(value.trim_end().to_owned())
}

fn trailing(after: &str) -> Result<(), &'static str> {
    let after = after.trim();
    if after.is_empty() || after.starts_with('#') {
        Ok(())
    } else {
        Err("unexpected text after the closing quote")
    }
}

fn shorten(text: &str) -> String {
    // A malformed line may hold a secret after its name: show the name-like start only, never
    // past a space, `:` or `=`.
    let cut: String = text
        .chars()
        .take_while(|character| {
            !character.is_whitespace() && *character != ':' && *character != '='
        })
        .take(24)
        .collect();
    if cut.len() < text.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(String, String)> {
        parse_env(Path::new(".env"), text)
            .unwrap()
            .into_iter()
            .map(|entry| (entry.name, entry.value))
            .collect()
    }

    #[test]
    fn compose_syntax() {
        let parsed = values(
            "# comment\nexport A=1\nB='x # not a comment'\nC=\"line\\nnext\"\nD=plain # comment\nE=\nF=${A}\n",
        );
        assert_eq!(
            parsed,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "x # not a comment".into()),
                ("C".into(), "line\nnext".into()),
                ("D".into(), "plain".into()),
                ("E".into(), String::new()),
                ("F".into(), "${A}".into()),
            ]
        );
    }

    #[test]
    fn errors_name_the_line_and_hide_values() {
        let error = parse_env(
            Path::new("prod.env"),
            "A=1\nREDASH_COOKIE_SECRET verylongsecretvalue123456\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("prod.env:2: expected NAME=VALUE"),
            "{error}"
        );
        assert!(!error.contains("123456"), "{error}");
        let error = parse_env(Path::new("x.env"), "A=\"open\n")
            .unwrap_err()
            .to_string();
        assert_eq!(error, "x.env:1: unterminated double quote");
    }
}
