//! Member personal data at rest: encrypted, and looked up only through a keyed hash.
//!
//! One 256-bit master key (configuration secret `MEMBER_DATA_KEY`) yields two
//! keys by HMAC-SHA256 with distinct labels: one for XChaCha20-Poly1305 (a fresh
//! 192-bit nonce per write, the member id as associated data so a ciphertext
//! cannot be moved to another member's row), one for the phone lookup hash. A
//! database dump reveals neither names nor phone numbers, and the lookup hash
//! cannot be reversed by enumerating phone numbers without the key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::MemberId;

type HmacSha256 = Hmac<Sha256>;

const NONCE_LEN: usize = 24;

/// Why the member data key or a stored record could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberDataError {
    /// The configured key is not 32 bytes.
    #[error("the member data key must be 32 bytes, base64url, or an \"oct\" JWK holding them")]
    BadKey,
    /// A stored record does not open with the configured key.
    #[error("stored member data does not decrypt with the configured key")]
    Undecryptable,
    /// Encryption failed.
    #[error("member data could not be encrypted")]
    Unsealable,
}

/// The keys protecting member data. Never printed.
#[derive(Clone)]
pub struct MemberDataKeys {
    cipher: XChaCha20Poly1305,
    lookup: [u8; 32],
}

impl std::fmt::Debug for MemberDataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemberDataKeys(redacted)")
    }
}

fn derive(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; a 32-byte key cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(label);
    mac.finalize().into_bytes().into()
}

#[derive(Deserialize)]
struct OctJwk {
    kty: String,
    k: String,
}

impl MemberDataKeys {
    /// Reads the master key: 32 bytes as base64url, or an RFC 7517 `oct` JWK (`{"kty":"oct","k":…}`).
    pub fn parse(secret: &str) -> Result<Self, MemberDataError> {
        let secret = secret.trim();
        let encoded = if secret.starts_with('{') {
            let jwk: OctJwk = serde_json::from_str(secret).map_err(|_| MemberDataError::BadKey)?;
            if jwk.kty != "oct" {
                return Err(MemberDataError::BadKey);
            }
            jwk.k
        } else {
            secret.to_owned()
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded.trim_end_matches('='))
            .map_err(|_| MemberDataError::BadKey)?;
        let master: [u8; 32] = bytes.try_into().map_err(|_| MemberDataError::BadKey)?;
        Ok(Self::from_master(&master))
    }

    /// Keys derived from a 32-byte master key.
    pub fn from_master(master: &[u8; 32]) -> Self {
        let encryption = derive(master, b"clubgate member data encryption v1");
        Self {
            cipher: XChaCha20Poly1305::new(&encryption.into()),
            lookup: derive(master, b"clubgate member phone lookup v1"),
        }
    }

    /// A fresh random master key, base64url (for `clubgate keys generate-member-key` and tests).
    pub fn generate_master() -> String {
        let mut master = [0u8; 32];
        // Without OS randomness no key can be made; the caller reports the failure.
        if getrandom::fill(&mut master).is_err() {
            return String::new();
        }
        URL_SAFE_NO_PAD.encode(master)
    }

    /// The keyed hash of a city's name as people write it: compatibility forms (NFKC), case,
    /// spaces and half-spaces, direction marks, tatweel, Arabic vowel marks and the Arabic forms
    /// of the Persian ی and ک do not matter. Members' cities are matched by it, and kept sealed.
    pub fn city_lookup(&self, city: &str) -> [u8; 32] {
        use unicode_normalization::UnicodeNormalization as _;
        let is_mark = |c: char| matches!(c, '\u{0640}' | '\u{0670}' | '\u{064B}'..='\u{065F}' | '\u{06D6}'..='\u{06ED}');
        let normal: String = city
            .nfkc()
            .flat_map(char::to_lowercase)
            .filter(|c| c.is_alphanumeric() && !is_mark(*c))
            .map(|c| match c {
                'ي' | 'ى' => 'ی',
                'ك' => 'ک',
                c => c,
            })
            .collect();
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.lookup)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(b"city:");
        mac.update(normal.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The keyed hash of a normalised phone number, for exact lookups.
    pub fn phone_lookup(&self, phone: &Phone) -> [u8; 32] {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.lookup)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(phone.as_str().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Encrypts personal data for the member `id`: nonce ‖ ciphertext.
    pub fn seal(&self, id: MemberId, data: &PersonalData) -> Result<Vec<u8>, MemberDataError> {
        let plaintext = serde_json::to_vec(data).map_err(|_| MemberDataError::Unsealable)?;
        self.seal_bytes(id.0.as_bytes(), &plaintext)
    }

    /// Decrypts what [`MemberDataKeys::seal`] wrote for member `id`.
    pub fn open(&self, id: MemberId, sealed: &[u8]) -> Result<PersonalData, MemberDataError> {
        let plaintext = self.open_bytes(id.0.as_bytes(), sealed)?;
        serde_json::from_slice(&plaintext).map_err(|_| MemberDataError::Undecryptable)
    }

    /// Encrypts the member `id`'s photo, bound to the member and to being a photo (so a sealed
    /// photo can never be opened as personal data, nor as another member's).
    pub fn seal_photo(&self, id: MemberId, photo: &[u8]) -> Result<Vec<u8>, MemberDataError> {
        self.seal_bytes(&photo_aad(id), photo)
    }

    /// Decrypts what [`MemberDataKeys::seal_photo`] wrote for member `id`.
    pub fn open_photo(&self, id: MemberId, sealed: &[u8]) -> Result<Vec<u8>, MemberDataError> {
        self.open_bytes(&photo_aad(id), sealed)
    }

    fn seal_bytes(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, MemberDataError> {
        let mut nonce = [0u8; NONCE_LEN];
        // A repeated nonce would be catastrophic; without OS randomness we cannot proceed.
        #[expect(clippy::expect_used, reason = "no safe fallback without OS randomness")]
        getrandom::fill(&mut nonce).expect("the OS random source is unavailable");
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| MemberDataError::Unsealable)?;
        Ok([nonce.as_slice(), &ciphertext].concat())
    }

    fn open_bytes(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, MemberDataError> {
        if sealed.len() <= NONCE_LEN {
            return Err(MemberDataError::Undecryptable);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| MemberDataError::Undecryptable)
    }
}

impl MemberDataKeys {
    /// Encrypts a text message (its recipient and text) for the outbox, bound to the message's
    /// id and to being a message.
    pub fn seal_message(
        &self,
        id: uuid::Uuid,
        message: &TextMessage,
    ) -> Result<Vec<u8>, MemberDataError> {
        let plaintext = serde_json::to_vec(message).map_err(|_| MemberDataError::Unsealable)?;
        self.seal_bytes(&message_aad(id), &plaintext)
    }

    /// Decrypts what [`MemberDataKeys::seal_message`] wrote for message `id`.
    pub fn open_message(
        &self,
        id: uuid::Uuid,
        sealed: &[u8],
    ) -> Result<TextMessage, MemberDataError> {
        let plaintext = self.open_bytes(&message_aad(id), sealed)?;
        serde_json::from_slice(&plaintext).map_err(|_| MemberDataError::Undecryptable)
    }
}

impl MemberDataKeys {
    /// Encrypts a staff account's TOTP secret, bound to the account and to being one.
    pub fn seal_staff_secret(
        &self,
        staff: uuid::Uuid,
        secret: &[u8],
    ) -> Result<Vec<u8>, MemberDataError> {
        self.seal_bytes(&[staff.as_bytes().as_slice(), b"totp"].concat(), secret)
    }

    /// Decrypts what [`MemberDataKeys::seal_staff_secret`] wrote for the account `staff`.
    pub fn open_staff_secret(
        &self,
        staff: uuid::Uuid,
        sealed: &[u8],
    ) -> Result<Vec<u8>, MemberDataError> {
        self.open_bytes(&[staff.as_bytes().as_slice(), b"totp"].concat(), sealed)
    }
}

/// A text message: to whom, and what it says (a sign-in code: never in a log).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextMessage {
    /// The recipient's phone number.
    pub to: Phone,
    /// The text.
    pub text: String,
}

impl std::fmt::Debug for TextMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TextMessage(redacted)")
    }
}

fn message_aad(id: uuid::Uuid) -> Vec<u8> {
    [id.as_bytes().as_slice(), b"message"].concat()
}

/// What a photo's encryption is bound to: the member, and that it is a photo.
fn photo_aad(id: MemberId) -> Vec<u8> {
    [id.0.as_bytes().as_slice(), b"photo"].concat()
}

/// The kinds of photo a member may have, told by their first bytes (never by what the sender
/// claims).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoType {
    /// JPEG (what a phone's camera takes).
    Jpeg,
    /// PNG.
    Png,
    /// WebP.
    Webp,
}

impl PhotoType {
    /// The kind of `bytes`, if it is one of ours.
    pub fn of(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0xFF, 0xD8, 0xFF, ..] => Some(Self::Jpeg),
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(Self::Png),
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'E',
                b'B',
                b'P',
                ..,
            ] => Some(Self::Webp),
            _ => None,
        }
    }

    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }
}

/// The largest photo kept: a phone camera's picture, not a poster.
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;

/// Why a photo was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::EnumIter)]
pub enum PhotoError {
    /// Not a JPEG, PNG or WebP image.
    #[error("a photo must be a JPEG, PNG or WebP image")]
    NotAPhoto,
    /// Over [`MAX_PHOTO_BYTES`].
    #[error("a photo may be at most 5 MB")]
    TooLarge,
}

impl PhotoError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAPhoto => "photo_invalid",
            Self::TooLarge => "photo_too_large",
        }
    }
}

/// What a photo's bytes are, once checked.
pub fn check_photo(bytes: &[u8]) -> Result<PhotoType, PhotoError> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(PhotoError::TooLarge);
    }
    PhotoType::of(bytes).ok_or(PhotoError::NotAPhoto)
}

/// A phone number in international form: `+` and 8 to 15 digits.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone(String);

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Phone(redacted)")
    }
}

/// Why personal data was refused.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    thiserror::Error,
    Serialize,
    Deserialize,
    strum::EnumIter,
)]
pub enum InvalidPersonalData {
    /// Not a phone number in international form.
    #[default]
    #[error("phone must be in international form, e.g. +989121234567")]
    Phone,
    /// An empty or too long name.
    #[error("name must be 1 to 100 characters of plain text, with at least one letter")]
    Name,
    /// Not an e-mail address.
    #[error("email must look like name@domain and be at most 254 characters of plain text")]
    Email,
    /// A birth date in the future or before 1900.
    #[error("birth date must be in the past and after 1900-01-01")]
    BirthDate,
    /// An empty or too long city.
    #[error("city must be 1 to 100 characters of plain text, with at least one letter")]
    City,
}

impl Phone {
    /// Normalises `+98 912 123-4567` or `0098…` to `+989121234567`.
    pub fn parse(input: &str) -> Result<Self, InvalidPersonalData> {
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect();
        let digits = compact
            .strip_prefix('+')
            .or_else(|| compact.strip_prefix("00"))
            .ok_or(InvalidPersonalData::Phone)?;
        if (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
        {
            Ok(Self(format!("+{digits}")))
        } else {
            Err(InvalidPersonalData::Phone)
        }
    }

    /// The normalised number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a member tells the cashier at enrolment. Never logged (its Debug is redacted).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalData {
    /// The full name, as the member gives it.
    pub name: String,
    /// The phone number, normalised.
    pub phone: Phone,
    /// The e-mail address, lowercased.
    pub email: Option<String>,
    /// The birth date.
    pub birth_date: Option<NaiveDate>,
    /// The city they live in, as they give it.
    #[serde(default)]
    pub city: Option<String>,
}

impl std::fmt::Debug for PersonalData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonalData(redacted)")
    }
}

impl PersonalData {
    /// Validates and normalises the fields.
    pub fn parse(
        name: &str,
        phone: &str,
        email: Option<&str>,
        birth_date: Option<NaiveDate>,
        city: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, InvalidPersonalData> {
        let name = crate::text::name("name", name, 100).map_err(|_| InvalidPersonalData::Name)?;
        let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
            None => None,
            Some(e) => {
                let is_plausible = crate::text::check("email", e, 254).is_ok()
                    && e.split_once('@').is_some_and(|(local, domain)| {
                        !local.is_empty()
                            && domain.contains('.')
                            && !domain.starts_with('.')
                            && !domain.ends_with('.')
                    })
                    && !e.contains(char::is_whitespace);
                if !is_plausible {
                    return Err(InvalidPersonalData::Email);
                }
                Some(e.to_lowercase())
            }
        };
        if let Some(date) = birth_date {
            let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
            if date >= today || date < earliest {
                return Err(InvalidPersonalData::BirthDate);
            }
        }
        let city = match city.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => {
                Some(crate::text::name("city", c, 100).map_err(|_| InvalidPersonalData::City)?)
            }
        };
        Ok(Self {
            name,
            phone: Phone::parse(phone)?,
            email,
            birth_date,
            city,
        })
    }

    /// The first word of the name, which is all a cashier sees.
    pub fn first_name(&self) -> &str {
        self.name.split_whitespace().next().unwrap_or(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_city_is_one_city_however_it_is_typed() {
        let keys = MemberDataKeys::parse(&URL_SAFE_NO_PAD.encode([7u8; 32])).unwrap();
        let same = [
            ("Tehran", "  TEHRAN "),
            ("کرج", "كرج"),
            ("خرم‌آباد", "خرم آباد"),
            ("بندرعباس", "بندر عباس\u{200F}"),
            ("اصفهان", "اصفـهان"),
        ];
        for (a, b) in same {
            assert_eq!(keys.city_lookup(a), keys.city_lookup(b), "{a} / {b}");
        }
        assert_ne!(keys.city_lookup("Tehran"), keys.city_lookup("Karaj"));
        let phone = Phone::parse("+989121234567").unwrap();
        assert_ne!(keys.city_lookup("تهران"), keys.phone_lookup(&phone));
    }

    #[test]
    fn a_photo_is_sealed_for_its_member_and_as_a_photo() {
        let keys = MemberDataKeys::parse(&URL_SAFE_NO_PAD.encode([7u8; 32])).unwrap();
        let (sara, reza) = (
            MemberId(uuid::Uuid::from_u128(1)),
            MemberId(uuid::Uuid::from_u128(2)),
        );
        let photo = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        let sealed = keys.seal_photo(sara, &photo).unwrap();
        assert_eq!(keys.open_photo(sara, &sealed).unwrap(), photo);
        assert!(keys.open_photo(reza, &sealed).is_err());
        assert!(keys.open(sara, &sealed).is_err());
        let data = keys.seal(sara, &sample()).unwrap();
        assert!(keys.open_photo(sara, &data).is_err());
        assert_eq!(PhotoType::of(&photo), Some(PhotoType::Jpeg));
        assert_eq!(
            PhotoType::of(b"\x89PNG\r\n\x1a\nrest"),
            Some(PhotoType::Png)
        );
        assert_eq!(
            PhotoType::of(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(PhotoType::Webp)
        );
        assert_eq!(PhotoType::of(b"<svg onload=alert(1)>"), None);
        assert_eq!(PhotoType::of(b"GIF89a"), None);
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn sample() -> PersonalData {
        PersonalData::parse(
            "Sara Ahmadi",
            "+98 912 123 4567",
            Some("Sara@Example.com"),
            NaiveDate::from_ymd_opt(1990, 5, 17),
            Some("Tehran"),
            today(),
        )
        .unwrap()
    }

    #[test]
    fn personal_data_round_trips_and_is_bound_to_its_member() {
        let keys = MemberDataKeys::from_master(&[7; 32]);
        let id = MemberId(uuid::Uuid::now_v7());
        let sealed = keys.seal(id, &sample()).unwrap();
        assert_eq!(keys.open(id, &sealed), Ok(sample()));
        assert!(
            !String::from_utf8_lossy(&sealed).contains("Sara"),
            "plaintext leaked"
        );
        assert_eq!(
            keys.open(MemberId(uuid::Uuid::now_v7()), &sealed),
            Err(MemberDataError::Undecryptable)
        );
        let other = MemberDataKeys::from_master(&[8; 32]);
        assert_eq!(other.open(id, &sealed), Err(MemberDataError::Undecryptable));
        assert_ne!(
            keys.seal(id, &sample()).unwrap(),
            sealed,
            "every write uses a fresh nonce"
        );
    }

    #[test]
    fn phone_lookup_is_keyed_and_normalised() {
        let keys = MemberDataKeys::from_master(&[7; 32]);
        let a = keys.phone_lookup(&Phone::parse("+98 912 123 4567").unwrap());
        let b = keys.phone_lookup(&Phone::parse("0098-912-123-4567").unwrap());
        assert_eq!(a, b);
        let other = MemberDataKeys::from_master(&[8; 32]);
        assert_ne!(
            a,
            other.phone_lookup(&Phone::parse("+989121234567").unwrap())
        );
    }

    #[test]
    fn keys_parse_from_base64url_or_an_oct_jwk() {
        let encoded = URL_SAFE_NO_PAD.encode([9u8; 32]);
        let jwk = format!(r#"{{"kty":"oct","k":"{encoded}","note":"dev"}}"#);
        let a = MemberDataKeys::parse(&encoded).unwrap();
        let b = MemberDataKeys::parse(&jwk).unwrap();
        let phone = Phone::parse("+4915112345678").unwrap();
        assert_eq!(a.phone_lookup(&phone), b.phone_lookup(&phone));
        assert_eq!(
            MemberDataKeys::parse("short").unwrap_err(),
            MemberDataError::BadKey
        );
        assert!(!format!("{a:?}").contains(&encoded));
    }

    #[test]
    fn personal_data_is_validated_and_never_printed() {
        assert_eq!(Phone::parse("09121234567"), Err(InvalidPersonalData::Phone));
        assert_eq!(Phone::parse("+12"), Err(InvalidPersonalData::Phone));
        let future = NaiveDate::from_ymd_opt(2030, 1, 1);
        assert_eq!(
            PersonalData::parse("A", "+989121234567", None, future, None, today()),
            Err(InvalidPersonalData::BirthDate)
        );
        assert_eq!(
            PersonalData::parse("A", "+989121234567", Some("nope"), None, None, today()),
            Err(InvalidPersonalData::Email)
        );
        assert_eq!(
            PersonalData::parse("  ", "+989121234567", None, None, None, today()),
            Err(InvalidPersonalData::Name)
        );
        let data = sample();
        assert_eq!(data.email.as_deref(), Some("sara@example.com"));
        assert_eq!(data.first_name(), "Sara");
        let printed = format!("{data:?} {:?}", data.phone);
        assert!(
            !printed.contains("Sara") && !printed.contains("912"),
            "{printed}"
        );
    }
}
