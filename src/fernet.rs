//! Fernet tokens as Redash stores encrypted data-source and destination options (sqlalchemy-utils'
//! `EncryptedType` with its `FernetEngine`): the Fernet key is the URL-safe base64 of
//! SHA-256(secret), and the column holds the token's ASCII text.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type Encryptor = cbc::Encryptor<aes::Aes128>;
type Decryptor = cbc::Decryptor<aes::Aes128>;

const VERSION: u8 = 0x80;

/// A key derived from a Redash secret (REDASH_SECRET_KEY, or the cookie secret it falls back to).
#[derive(Clone)]
pub struct FernetKey {
    signing: [u8; 16],
    encryption: [u8; 16],
}

impl std::fmt::Debug for FernetKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("FernetKey(hidden)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FernetError {
    #[error("not a Fernet token (bad base64 or too short)")]
    Malformed,
    #[error("the token was not made with this key (signature mismatch)")]
    WrongKey,
    #[error("the token decrypts to bad padding")]
    BadPadding,
}

impl FernetKey {
    pub fn from_secret(secret: &str) -> FernetKey {
        let digest = Sha256::digest(secret.as_bytes());
        let mut signing = [0u8; 16];
        let mut encryption = [0u8; 16];
        signing.copy_from_slice(&digest[..16]);
        encryption.copy_from_slice(&digest[16..]);
        FernetKey {
            signing,
            encryption,
        }
    }

    /// A token with the given time and IV; callers choose them (the test bed, deterministically).
    pub fn encrypt_with(&self, plaintext: &[u8], timestamp: u64, iv: [u8; 16]) -> String {
        let ciphertext = Encryptor::new(&self.encryption.into(), &iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
        let mut token = Vec::with_capacity(57 + ciphertext.len());
        token.push(VERSION);
        token.extend_from_slice(&timestamp.to_be_bytes());
        token.extend_from_slice(&iv);
        token.extend_from_slice(&ciphertext);
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.signing).expect("any key length");
        mac.update(&token);
        token.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE.encode(token)
    }

    pub fn decrypt(&self, token: &[u8]) -> Result<Vec<u8>, FernetError> {
        let trimmed = token.trim_ascii();
        let raw = URL_SAFE
            .decode(trimmed)
            .map_err(|_| FernetError::Malformed)?;
        if raw.len() < 1 + 8 + 16 + 16 + 32 || raw[0] != VERSION || (raw.len() - 57) % 16 != 0 {
            return Err(FernetError::Malformed);
        }
        let (signed, signature) = raw.split_at(raw.len() - 32);
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.signing).expect("any key length");
        mac.update(signed);
        mac.verify_slice(signature)
            .map_err(|_| FernetError::WrongKey)?;
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&signed[9..25]);
        Decryptor::new(&self.encryption.into(), &iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(&signed[25..])
            .map_err(|_| FernetError::BadPadding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_key() {
        let key = FernetKey::from_secret("one");
        let token = key.encrypt_with(br#"{"host": "db"}"#, 1_600_000_000, [7; 16]);
        assert_eq!(key.decrypt(token.as_bytes()).unwrap(), br#"{"host": "db"}"#);
        assert_eq!(
            FernetKey::from_secret("two").decrypt(token.as_bytes()),
            Err(FernetError::WrongKey)
        );
        assert_eq!(key.decrypt(b"not a token"), Err(FernetError::Malformed));
    }
}
