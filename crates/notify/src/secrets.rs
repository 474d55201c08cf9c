//! Secrets: values that must reach neither a log line nor an API answer
//! ([`Secret`]), their encryption at rest ([`SecretKey`]) and the redaction
//! of URLs that carry tokens ([`redact_url`]).
//!
//! The key is 32 random bytes in `secret.key` in the data directory, made
//! with mode 0600 on first start. A key file that the group or others can
//! read is refused: a secret stored encrypted next to a readable key is not
//! secret. Values are sealed with XChaCha20-Poly1305 (random 24-byte nonce
//! per value, so no nonce bookkeeping is needed); a sealed value is
//! `version byte (1) ‖ nonce ‖ ciphertext+tag`, and its text form (for
//! configuration files) is `enc:v1:` followed by that in base64.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The key file's name in the data directory.
pub const KEY_FILE_NAME: &str = "secret.key";

/// What a secret prints as, everywhere.
pub const REDACTED: &str = "<secret>";

/// The format version of sealed values.
const SEALED_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;
/// The prefix of a sealed value's text form.
const TEXT_PREFIX: &str = "enc:v1:";

/// What went wrong with the key file or a sealed value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot {doing} the secret key file {path}: {source}")]
    KeyFileIo {
        doing: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the secret key file {path} has mode {mode:o}: it must be readable by its owner only \
         (chmod 600 {path})"
    )]
    KeyFileTooOpen { path: PathBuf, mode: u32 },
    #[error("the secret key file {path} holds {found} bytes, expected {KEY_LEN}")]
    KeyFileLength { path: PathBuf, found: usize },
    #[error("cannot draw random bytes from the operating system: {0}")]
    Random(String),
    #[error("a sealed secret is malformed: {0}")]
    Malformed(&'static str),
    #[error(
        "a sealed secret does not open with this key (wrong secret.key, or the value was altered)"
    )]
    WrongKey,
}

/// A value that prints as `<secret>` in `Debug`, `Display` and `Serialize`.
/// Deserializes from a plain string, so configuration files keep their
/// shape. Read it with [`Secret::expose`], only where it is used.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself; call it only to use it (send, seal), never to show it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// The key that seals secrets at rest.
#[derive(Clone)]
pub struct SecretKey {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<secret>)")
    }
}

impl SecretKey {
    /// A key from raw bytes (tests, or a key held elsewhere).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SecretKey {
        SecretKey {
            cipher: XChaCha20Poly1305::new(&bytes.into()),
        }
    }

    /// A fresh random key.
    pub fn generate() -> Result<SecretKey, SecretError> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
        Ok(SecretKey::from_bytes(bytes))
    }

    /// Loads `secret.key` from `data_dir`, creating it (mode 0600) if it
    /// does not exist. Refuses a key file readable by group or others.
    pub fn load_or_create(data_dir: &Path) -> Result<SecretKey, SecretError> {
        let path = data_dir.join(KEY_FILE_NAME);
        let io = |doing: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| SecretError::KeyFileIo {
                doing,
                path,
                source,
            }
        };
        match fs::metadata(&path) {
            Ok(metadata) => {
                let mode = metadata.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(SecretError::KeyFileTooOpen { path, mode });
                }
                let bytes = fs::read(&path).map_err(io("read", &path))?;
                let key: [u8; KEY_LEN] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| SecretError::KeyFileLength {
                            path: path.clone(),
                            found: bytes.len(),
                        })?;
                Ok(SecretKey::from_bytes(key))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let mut bytes = [0u8; KEY_LEN];
                getrandom::fill(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
                // create_new: two processes racing to create the key must
                // not each write their own.
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(io("create", &path))?;
                file.write_all(&bytes).map_err(io("write", &path))?;
                file.sync_all().map_err(io("sync", &path))?;
                Ok(SecretKey::from_bytes(bytes))
            }
            Err(e) => Err(io("inspect", &path)(e)),
        }
    }

    /// Seals `plaintext`: version ‖ random nonce ‖ ciphertext with tag.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SecretError::Random(e.to_string()))?;
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext)
            .map_err(|_| SecretError::Malformed("the plaintext is too long to seal"))?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(SEALED_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a value sealed by [`SecretKey::seal`] with the same key.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        let (&version, rest) = sealed
            .split_first()
            .ok_or(SecretError::Malformed("empty"))?;
        if version != SEALED_VERSION {
            return Err(SecretError::Malformed("unknown format version"));
        }
        if rest.len() < NONCE_LEN + 16 {
            return Err(SecretError::Malformed("shorter than a nonce and a tag"));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| SecretError::WrongKey)
    }

    /// Seals a secret into its text form, `enc:v1:<base64>`, for files.
    pub fn seal_text(&self, secret: &Secret) -> Result<String, SecretError> {
        let sealed = self.seal(secret.expose().as_bytes())?;
        Ok(format!(
            "{TEXT_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(sealed)
        ))
    }

    /// Opens a text form made by [`SecretKey::seal_text`]. A value without
    /// the `enc:v1:` prefix is taken as written in the clear (a config
    /// file typed by hand) and returned as is.
    pub fn open_text(&self, text: &str) -> Result<Secret, SecretError> {
        let Some(encoded) = text.strip_prefix(TEXT_PREFIX) else {
            return Ok(Secret::new(text));
        };
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::Malformed("not base64"))?;
        let plain = self.open(&sealed)?;
        String::from_utf8(plain)
            .map(Secret)
            .map_err(|_| SecretError::Malformed("not UTF-8"))
    }
}

/// Whether a text is a sealed secret's text form.
pub fn is_sealed_text(text: &str) -> bool {
    text.starts_with(TEXT_PREFIX)
}

/// A URL fit to show: scheme, host and port are kept; user info, path and
/// query are hidden (`https://hooks.slack.com/<secret>`), since webhook
/// services put their tokens there. A string that is not a URL is hidden
/// whole.
pub fn redact_url(raw: &str) -> String {
    let Ok(url) = url::Url::parse(raw) else {
        return REDACTED.to_owned();
    };
    let Some(host) = url.host_str() else {
        return format!("{}:{REDACTED}", url.scheme());
    };
    let mut out = format!("{}://{host}", url.scheme());
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    let has_path = !(url.path().is_empty() || url.path() == "/");
    if has_path || url.query().is_some() || url.fragment().is_some() {
        out.push('/');
        out.push_str(REDACTED);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "<secret>");
        assert_eq!(format!("{secret}"), "<secret>");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"<secret>\"");
        let parsed: Secret = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(parsed.expose(), "hunter2");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            password: Secret,
        }
        let shown = format!("{:?}", Holder { password: parsed });
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn seal_and_open_round_trip() {
        let key = SecretKey::generate().unwrap();
        let sealed = key.seal(b"routing-key-123").unwrap();
        assert!(!sealed.windows(15).any(|w| w == b"routing-key-123"));
        assert_eq!(key.open(&sealed).unwrap(), b"routing-key-123");
        // Two seals of one value differ (random nonces).
        assert_ne!(sealed, key.seal(b"routing-key-123").unwrap());
        // Another key cannot open it; a flipped bit is caught.
        let other = SecretKey::generate().unwrap();
        assert!(matches!(other.open(&sealed), Err(SecretError::WrongKey)));
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(matches!(key.open(&altered), Err(SecretError::WrongKey)));
        assert!(matches!(key.open(&[]), Err(SecretError::Malformed(_))));
        assert!(matches!(key.open(&[9; 60]), Err(SecretError::Malformed(_))));
    }

    #[test]
    fn text_form_round_trip() {
        let key = SecretKey::generate().unwrap();
        let text = key.seal_text(&Secret::new("smtp-password")).unwrap();
        assert!(is_sealed_text(&text));
        assert!(!text.contains("smtp-password"));
        assert_eq!(key.open_text(&text).unwrap().expose(), "smtp-password");
        assert_eq!(
            key.open_text("in-the-clear").unwrap().expose(),
            "in-the-clear"
        );
        assert!(key.open_text("enc:v1:!!!").is_err());
    }

    #[test]
    fn key_file_is_created_owner_only_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read(&path).unwrap().len(), KEY_LEN);
        let sealed = key.seal(b"x").unwrap();
        let again = SecretKey::load_or_create(dir.path()).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), b"x");
    }

    #[test]
    fn key_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        SecretKey::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        for mode in [0o640, 0o604, 0o644] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = SecretKey::load_or_create(dir.path()).unwrap_err();
            assert!(matches!(err, SecretError::KeyFileTooOpen { .. }), "{err}");
            assert!(err.to_string().contains("chmod 600"));
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, b"short").unwrap();
        assert!(matches!(
            SecretKey::load_or_create(dir.path()),
            Err(SecretError::KeyFileLength { found: 5, .. })
        ));
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T00/B00/XXXX"),
            "https://hooks.slack.com/<secret>"
        );
        assert_eq!(
            redact_url("http://user:pw@127.0.0.1:9095/hook?token=abc"),
            "http://127.0.0.1:9095/<secret>"
        );
        assert_eq!(redact_url("https://example.com/"), "https://example.com");
        assert_eq!(
            redact_url("https://example.com?k=v"),
            "https://example.com/<secret>"
        );
        assert_eq!(redact_url("not a url with token"), "<secret>");
    }
}
