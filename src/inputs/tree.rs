//! YAML (and JSON, which YAML 1.2 reads) as a tree whose every node knows its line, with anchors,
//! aliases and `<<` merge keys resolved the way docker compose resolves them.

use std::collections::HashMap;
use std::path::Path;

use yaml_rust2::parser::{MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;
use yaml_rust2::Event;

use super::InputError;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Map(Vec<(String, Node)>, usize),
    List(Vec<Node>, usize),
    /// The text and whether it was written in quotes (so `"8"` stays a string).
    Scalar(String, usize),
    Null(usize),
}

impl Node {
    pub fn line(&self) -> usize {
        match self {
            Node::Map(_, line) | Node::List(_, line) | Node::Scalar(_, line) | Node::Null(line) => {
                *line
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries, _) => entries
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(text, _) => Some(text),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(String, Node)] {
        match self {
            Node::Map(entries, _) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match self {
            Node::List(items, _) => items,
            _ => &[],
        }
    }
}

enum Frame {
    Map {
        entries: Vec<(String, Node)>,
        pending_key: Option<String>,
        line: usize,
        anchor: usize,
    },
    List {
        items: Vec<Node>,
        line: usize,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    documents: Vec<Node>,
    error: Option<(usize, String)>,
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::List { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => match node {
                    Node::Scalar(key, _) => *pending_key = Some(key),
                    Node::Null(_) => *pending_key = Some(String::new()),
                    other => {
                        self.error.get_or_insert((
                            other.line(),
                            "a mapping key must be a plain value".into(),
                        ));
                    }
                },
                Some(key) if key == "<<" => merge(entries, node),
                Some(key) => {
                    if let Some(existing) = entries.iter_mut().find(|(name, _)| *name == key) {
                        // A key set before a merge wins over the merged one; a later explicit
                        // key overrides a merged one.
                        existing.1 = node;
                    } else {
                        entries.push((key, node));
                    }
                }
            },
        }
    }
}

/// `<<: *base` or `<<: [*a, *b]`: keys not yet present are added.
fn merge(entries: &mut Vec<(String, Node)>, node: Node) {
    let sources = match node {
        Node::List(items, _) => items,
        other => vec![other],
    };
    for source in sources {
        if let Node::Map(merged, _) = source {
            for (key, value) in merged {
                if !entries.iter().any(|(name, _)| *name == key) {
                    entries.push((key, value));
                }
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line();
        match event {
            Event::Scalar(text, style, anchor, _) => {
                let plain_null = style == yaml_rust2::scanner::TScalarStyle::Plain
                    && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let node = if plain_null {
                    Node::Null(line)
                } else {
                    Node::Scalar(text, line)
                };
                self.push_value(node, anchor);
            }
            Event::Alias(anchor) => {
                let node = self
                    .anchors
                    .get(&anchor)
                    .cloned()
                    .unwrap_or(Node::Null(line));
                self.push_value(node, 0);
            }
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                entries: Vec::new(),
                pending_key: None,
                line,
                anchor,
            }),
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::List {
                items: Vec::new(),
                line,
                anchor,
            }),
            Event::MappingEnd | Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Map {
                    entries,
                    line,
                    anchor,
                    ..
                }) => self.push_value(Node::Map(entries, line), anchor),
                Some(Frame::List {
                    items,
                    line,
                    anchor,
                }) => self.push_value(Node::List(items, line), anchor),
                None => {}
            },
            _ => {}
        }
    }
}

/// Parses the first document of `text`.
pub fn parse(path: &Path, text: &str) -> Result<Node, InputError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut builder, false)
        .map_err(|error| InputError::Syntax {
            path: path.to_owned(),
            line: error.marker().line(),
            message: error.info().to_owned(),
        })?;
    if let Some((line, message)) = builder.error {
        return Err(InputError::Syntax {
            path: path.to_owned(),
            line,
            message,
        });
    }
    builder
        .documents
        .into_iter()
        .next()
        .ok_or_else(|| InputError::Shape {
            path: path.to_owned(),
            message: "the file is empty".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_merge_keys_and_lines() {
        let text = "x-base: &base\n  image: redash/redash:10.1.0.b50633\n  environment:\n    A: '1'\nservices:\n  server:\n    <<: *base\n    command: server\n";
        let root = parse(Path::new("c.yml"), text).unwrap();
        let server = root.get("services").unwrap().get("server").unwrap();
        assert_eq!(server.get("command").unwrap().as_str(), Some("server"));
        let image = server.get("image").unwrap();
        assert_eq!(image.as_str(), Some("redash/redash:10.1.0.b50633"));
        assert_eq!(image.line(), 2);
        assert_eq!(server.get("command").unwrap().line(), 8);
    }

    #[test]
    fn json_reads_with_lines() {
        let text = "{\n  \"family\": \"redash\",\n  \"containerDefinitions\": [\n    {\"name\": \"server\"}\n  ]\n}\n";
        let root = parse(Path::new("t.json"), text).unwrap();
        let first = &root.get("containerDefinitions").unwrap().items()[0];
        assert_eq!(first.get("name").unwrap().line(), 4);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let error = parse(Path::new("bad.yml"), "services:\n  a: [1, 2\n  b: 3\n").unwrap_err();
        assert!(error.to_string().starts_with("bad.yml:"), "{error}");
    }
}
