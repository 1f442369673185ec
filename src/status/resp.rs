//! RESP2, the Redis protocol: commands encoded as arrays of bulk strings, replies read by type.
//! Shared by the `status` client and the test bed's throwaway server.

use std::io::BufRead;

/// A reply of the server, as RESP2 types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisReply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<RedisReply>>),
}

impl RedisReply {
    /// The reply as text: status, bulk string (lossy), or integer.
    pub fn text(&self) -> Option<String> {
        match self {
            RedisReply::Status(text) => Some(text.clone()),
            RedisReply::Bulk(Some(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
            RedisReply::Integer(number) => Some(number.to_string()),
            _ => None,
        }
    }

    pub fn integer(&self) -> Option<i64> {
        match self {
            RedisReply::Integer(number) => Some(*number),
            _ => None,
        }
    }

    /// The elements of an array reply as text (empty for anything else).
    pub fn texts(&self) -> Vec<String> {
        match self {
            RedisReply::Array(Some(items)) => items.iter().filter_map(RedisReply::text).collect(),
            _ => Vec::new(),
        }
    }
}

/// One command as the server reads it: an array of bulk strings.
pub fn encode(command: &[&str]) -> Vec<u8> {
    let mut request = format!("*{}\r\n", command.len()).into_bytes();
    for part in command {
        request.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        request.extend_from_slice(part.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request
}

pub fn read_reply(reader: &mut impl BufRead) -> std::io::Result<RedisReply> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    let line = line.trim_end_matches("\r\n");
    let invalid = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a RESP reply: {line:?}"),
        )
    };
    let (kind, rest) = line.split_at_checked(1).ok_or_else(invalid)?;
    let number = || rest.parse::<i64>().map_err(|_| invalid());
    Ok(match kind {
        "+" => RedisReply::Status(rest.to_owned()),
        "-" => RedisReply::Error(rest.to_owned()),
        ":" => RedisReply::Integer(number()?),
        "$" => match usize::try_from(number()?) {
            Err(_) => RedisReply::Bulk(None),
            Ok(length) => {
                let mut bytes = vec![0; length + 2];
                reader.read_exact(&mut bytes)?;
                bytes.truncate(length);
                RedisReply::Bulk(Some(bytes))
            }
        },
        "*" => match usize::try_from(number()?) {
            Err(_) => RedisReply::Array(None),
            Ok(count) => RedisReply::Array(Some(
                (0..count)
                    .map(|_| read_reply(reader))
                    .collect::<std::io::Result<_>>()?,
            )),
        },
        _ => return Err(invalid()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_of_every_resp_type_are_read() {
        let mut input: &[u8] = b"*4\r\n+OK\r\n:-3\r\n$5\r\nhe\r\no\r\n$-1\r\n-ERR wrong\r\n";
        assert_eq!(
            read_reply(&mut input).unwrap(),
            RedisReply::Array(Some(vec![
                RedisReply::Status("OK".into()),
                RedisReply::Integer(-3),
                RedisReply::Bulk(Some(b"he\r\no".to_vec())),
                RedisReply::Bulk(None),
            ]))
        );
        assert_eq!(
            read_reply(&mut input).unwrap(),
            RedisReply::Error("ERR wrong".into())
        );
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        assert_eq!(
            encode(&["LLEN", "rq:queue:queries"]),
            b"*2\r\n$4\r\nLLEN\r\n$16\r\nrq:queue:queries\r\n".to_vec()
        );
    }
}
