//! nginx configs: directives and blocks, with `include` resolved as nginx does, relative to the
//! directory of the main config file (globs in the last path component), kept with their file and
//! line.

use std::path::{Path, PathBuf};

use super::{read, InputError, Location};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    pub location: Location,
    /// The directives inside `{ }`, for block directives.
    pub block: Option<Vec<Directive>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NginxConfig {
    pub directives: Vec<Directive>,
}

impl NginxConfig {
    /// Every directive, depth first.
    pub fn all(&self) -> Vec<&Directive> {
        fn walk<'a>(list: &'a [Directive], into: &mut Vec<&'a Directive>) {
            for directive in list {
                into.push(directive);
                if let Some(block) = &directive.block {
                    walk(block, into);
                }
            }
        }
        let mut found = Vec::new();
        walk(&self.directives, &mut found);
        found
    }
}

pub fn read_nginx(path: &Path) -> Result<NginxConfig, InputError> {
    let mut walk = Walk {
        prefix: path.parent().unwrap_or(Path::new(".")).to_owned(),
        depth: 0,
    };
    Ok(NginxConfig {
        directives: read_file(path, &mut walk)?,
    })
}

/// Where relative includes start from, and how deep the includes go.
struct Walk {
    prefix: PathBuf,
    depth: usize,
}

fn read_file(path: &Path, walk: &mut Walk) -> Result<Vec<Directive>, InputError> {
    let depth = &mut walk.depth;
    *depth += 1;
    if *depth > 16 {
        return Err(InputError::Shape {
            path: path.to_owned(),
            message: "includes nest deeper than 16 levels (an include cycle?)".into(),
        });
    }
    let text = read(path)?;
    let tokens = tokenize(path, &text)?;
    let mut position = 0;
    let directives = parse_block(path, &tokens, &mut position, false, walk)?;
    walk.depth -= 1;
    Ok(directives)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Semicolon,
    Open,
    Close,
}

fn tokenize(path: &Path, text: &str) -> Result<Vec<(Token, usize)>, InputError> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut characters = text.chars().peekable();
    while let Some(&character) = characters.peek() {
        match character {
            '\n' => {
                line += 1;
                characters.next();
            }
            c if c.is_whitespace() => {
                characters.next();
            }
            '#' => {
                while characters.peek().is_some_and(|&c| c != '\n') {
                    characters.next();
                }
            }
            ';' => {
                tokens.push((Token::Semicolon, line));
                characters.next();
            }
            '{' => {
                tokens.push((Token::Open, line));
                characters.next();
            }
            '}' => {
                tokens.push((Token::Close, line));
                characters.next();
            }
            '"' | '\'' => {
                let quote = character;
                let start = line;
                characters.next();
                let mut word = String::new();
                loop {
                    match characters.next() {
                        Some(c) if c == quote => break,
                        Some('\\') => {
                            if let Some(next) = characters.next() {
                                word.push(next);
                            }
                        }
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            word.push(c);
                        }
                        None => {
                            return Err(InputError::Syntax {
                                path: path.to_owned(),
                                line: start,
                                message: "unterminated quoted string".into(),
                            })
                        }
                    }
                }
                tokens.push((Token::Word(word), start));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = characters.peek() {
                    if c.is_whitespace() || matches!(c, ';' | '{' | '}') {
                        break;
                    }
                    // `${var}` and regexes such as `~^/(.*){2}` keep their braces.
                    if c == '$' {
                        word.push(c);
                        characters.next();
                        if characters.peek() == Some(&'{') {
                            for inner in characters.by_ref() {
                                word.push(inner);
                                if inner == '}' {
                                    break;
                                }
                            }
                        }
                        continue;
                    }
                    word.push(c);
                    characters.next();
                }
                tokens.push((Token::Word(word), line));
            }
        }
    }
    Ok(tokens)
}

fn parse_block(
    path: &Path,
    tokens: &[(Token, usize)],
    position: &mut usize,
    nested: bool,
    walk: &mut Walk,
) -> Result<Vec<Directive>, InputError> {
    let syntax = |line: usize, message: &str| InputError::Syntax {
        path: path.to_owned(),
        line,
        message: message.to_owned(),
    };
    let mut directives = Vec::new();
    while *position < tokens.len() {
        let (token, line) = &tokens[*position];
        match token {
            Token::Close if nested => {
                *position += 1;
                return Ok(directives);
            }
            Token::Close => return Err(syntax(*line, "unexpected \"}\"")),
            Token::Semicolon | Token::Open => {
                return Err(syntax(*line, "expected a directive name"))
            }
            Token::Word(name) => {
                let name = name.clone();
                let start = *line;
                *position += 1;
                let mut args = Vec::new();
                loop {
                    let Some((token, line)) = tokens.get(*position) else {
                        return Err(syntax(
                            start,
                            &format!("directive \"{name}\" has no closing \";\" or \"{{\""),
                        ));
                    };
                    *position += 1;
                    match token {
                        Token::Word(word) => args.push(word.clone()),
                        Token::Semicolon => {
                            if name == "include" {
                                let prefix = walk.prefix.clone();
                                for included in include_targets(path, &prefix, &args, start)? {
                                    directives.extend(read_file(&included, walk)?);
                                }
                            } else {
                                directives.push(Directive {
                                    name,
                                    args,
                                    location: Location::new(path, start),
                                    block: None,
                                });
                            }
                            break;
                        }
                        Token::Open => {
                            let block = parse_block(path, tokens, position, true, walk)?;
                            directives.push(Directive {
                                name,
                                args,
                                location: Location::new(path, start),
                                block: Some(block),
                            });
                            break;
                        }
                        Token::Close => return Err(syntax(*line, "unexpected \"}\"")),
                    }
                }
            }
        }
    }
    if nested {
        return Err(syntax(
            tokens.last().map_or(1, |(_, line)| *line),
            "a block is not closed (missing \"}\")",
        ));
    }
    Ok(directives)
}

fn include_targets(
    path: &Path,
    prefix: &Path,
    args: &[String],
    line: usize,
) -> Result<Vec<PathBuf>, InputError> {
    let [pattern] = args else {
        return Err(InputError::Syntax {
            path: path.to_owned(),
            line,
            message: "include takes one path".into(),
        });
    };
    let target = prefix.join(pattern);
    let name = target
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default()
        .to_owned();
    if !name.contains('*') {
        if !target.exists() {
            return Err(InputError::Syntax {
                path: path.to_owned(),
                line,
                message: format!("include {}: no such file", target.display()),
            });
        }
        return Ok(vec![target]);
    }
    let directory = target.parent().unwrap_or(Path::new(".")).to_owned();
    let (prefix, suffix) = name.split_once('*').unwrap_or((&name, ""));
    let mut matches: Vec<PathBuf> = std::fs::read_dir(&directory)
        .map_err(|source| InputError::Read {
            path: directory.clone(),
            source,
        })?
        .flatten()
        .map(|entry| entry.path())
        .filter(|candidate| {
            candidate
                .file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(prefix) && name.ends_with(suffix))
        })
        .collect();
    matches.sort();
    Ok(matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_includes_and_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(
            dir.path().join("conf.d/redash.conf"),
            "location ~ ^/.*/static/images/ {\n  rewrite ^/.*/static/images/(.*) /static/images/$1;\n}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("nginx.conf"),
            "# main\nserver {\n  listen 80;\n  include conf.d/*.conf;\n  location / { proxy_pass http://redash:5000; }\n}\n",
        )
        .unwrap();
        let config = read_nginx(&dir.path().join("nginx.conf")).unwrap();
        let all = config.all();
        let rewrite = all.iter().find(|d| d.name == "rewrite").unwrap();
        assert_eq!(rewrite.location.line, 2);
        assert!(rewrite.location.file.ends_with("conf.d/redash.conf"));
        let proxy = all.iter().find(|d| d.name == "proxy_pass").unwrap();
        assert_eq!(proxy.location.line, 5);
    }

    #[test]
    fn unclosed_blocks_are_errors_with_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.conf");
        std::fs::write(&path, "server {\n  listen 80;\n").unwrap();
        let error = read_nginx(&path).unwrap_err().to_string();
        assert!(
            error.ends_with("bad.conf:2: a block is not closed (missing \"}\")"),
            "{error}"
        );
    }
}
