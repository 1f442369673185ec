//! Whether text is accepted by PostgreSQL's `jsonb` input: the JSON grammar of PostgreSQL's own
//! lexer, plus what jsonb refuses and json does not (`\u0000`, unpaired surrogate escapes).
//! Numbers are not range-checked: jsonb stores them as `numeric`, which takes any JSON number.

/// Why a text is not valid jsonb input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonbProblem {
    Empty,
    Syntax,
    NullCharacter,
    UnpairedSurrogate,
}

impl std::fmt::Display for JsonbProblem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            JsonbProblem::Empty => "empty text",
            JsonbProblem::Syntax => "not JSON",
            JsonbProblem::NullCharacter => "\\u0000, which jsonb cannot store",
            JsonbProblem::UnpairedSurrogate => "an unpaired surrogate escape",
        })
    }
}

pub fn check_jsonb(text: &[u8]) -> Result<(), JsonbProblem> {
    let mut parser = Parser { bytes: text, at: 0 };
    parser.skip_space();
    if parser.at == text.len() {
        return Err(JsonbProblem::Empty);
    }
    parser.value(0)?;
    parser.skip_space();
    if parser.at != text.len() {
        return Err(JsonbProblem::Syntax);
    }
    Ok(())
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonbProblem> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(JsonbProblem::Syntax)
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), JsonbProblem> {
        // PostgreSQL stops at its stack depth limit long before this; deeper input is rare.
        if depth > 6_000 {
            return Err(JsonbProblem::Syntax);
        }
        self.skip_space();
        match self.peek().ok_or(JsonbProblem::Syntax)? {
            b'{' => {
                self.at += 1;
                self.skip_space();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Ok(());
                }
                loop {
                    self.skip_space();
                    self.string()?;
                    self.skip_space();
                    self.expect(b':')?;
                    self.value(depth + 1)?;
                    self.skip_space();
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(());
                        }
                        _ => return Err(JsonbProblem::Syntax),
                    }
                }
            }
            b'[' => {
                self.at += 1;
                self.skip_space();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Ok(());
                }
                loop {
                    self.value(depth + 1)?;
                    self.skip_space();
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(());
                        }
                        _ => return Err(JsonbProblem::Syntax),
                    }
                }
            }
            b'"' => self.string(),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(JsonbProblem::Syntax),
        }
    }

    fn word(&mut self, word: &[u8]) -> Result<(), JsonbProblem> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            // `truex` is one bad token to PostgreSQL's lexer.
            if self
                .peek()
                .is_some_and(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
            {
                return Err(JsonbProblem::Syntax);
            }
            Ok(())
        } else {
            Err(JsonbProblem::Syntax)
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<(), JsonbProblem> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.at += 1;
                if self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
                    return Err(JsonbProblem::Syntax);
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(JsonbProblem::Syntax),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(JsonbProblem::Syntax);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(JsonbProblem::Syntax);
            }
        }
        if self
            .peek()
            .is_some_and(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'.')
        {
            return Err(JsonbProblem::Syntax);
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, JsonbProblem> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or(JsonbProblem::Syntax)?;
        let text = std::str::from_utf8(digits).map_err(|_| JsonbProblem::Syntax)?;
        let value = u32::from_str_radix(text, 16).map_err(|_| JsonbProblem::Syntax)?;
        self.at += 4;
        Ok(value)
    }

    fn string(&mut self) -> Result<(), JsonbProblem> {
        self.expect(b'"')?;
        loop {
            let byte = self.peek().ok_or(JsonbProblem::Syntax)?;
            self.at += 1;
            match byte {
                b'"' => return Ok(()),
                // Control characters must be escaped.
                0x00..=0x1f => return Err(JsonbProblem::Syntax),
                b'\\' => {
                    let escape = self.peek().ok_or(JsonbProblem::Syntax)?;
                    self.at += 1;
                    match escape {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            let code = self.hex4()?;
                            if code == 0 {
                                return Err(JsonbProblem::NullCharacter);
                            }
                            if (0xD800..0xDC00).contains(&code) {
                                let low = if self.bytes[self.at..].starts_with(b"\\u") {
                                    self.at += 2;
                                    self.hex4()?
                                } else {
                                    return Err(JsonbProblem::UnpairedSurrogate);
                                };
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(JsonbProblem::UnpairedSurrogate);
                                }
                            } else if (0xDC00..0xE000).contains(&code) {
                                return Err(JsonbProblem::UnpairedSurrogate);
                            }
                        }
                        _ => return Err(JsonbProblem::Syntax),
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_json_allows_and_numbers_of_any_size() {
        for text in [
            "{}",
            " [1, 2.5e10, -0, true, null] ",
            "{\"a\": {\"b\": [\"\\u00e9\\ud83d\\ude00\"]}}",
            "1e400",
            "\"x\"",
        ] {
            assert_eq!(check_jsonb(text.as_bytes()), Ok(()), "{text}");
        }
    }

    #[test]
    fn refuses_what_jsonb_refuses() {
        let cases: [(&str, JsonbProblem); 8] = [
            ("", JsonbProblem::Empty),
            ("   ", JsonbProblem::Empty),
            ("{'a': 1}", JsonbProblem::Syntax),
            ("{\"a\": 1,}", JsonbProblem::Syntax),
            ("01", JsonbProblem::Syntax),
            ("NaN", JsonbProblem::Syntax),
            ("{\"a\": \"\\u0000\"}", JsonbProblem::NullCharacter),
            ("\"\\ud800\"", JsonbProblem::UnpairedSurrogate),
        ];
        for (text, problem) in cases {
            assert_eq!(check_jsonb(text.as_bytes()), Err(problem), "{text}");
        }
    }
}
