//! Keys, ids and timestamps, each with a stable text form.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// An error parsing the text form of an id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseIdError {
    /// The text is not the expected encoding or length.
    #[error("invalid {what}: {text:?}")]
    Invalid {
        /// What was being parsed.
        what: &'static str,
        /// The offending text, truncated.
        text: String,
    },
}

fn invalid(what: &'static str, text: &str) -> ParseIdError {
    ParseIdError::Invalid {
        what,
        text: text.chars().take(80).collect(),
    }
}

/// An ed25519 public key: the identity of a node or a member.
///
/// Its text form is unpadded lowercase base32 (52 characters); parsing ignores case, spaces
/// and dashes so that an id read aloud or retyped from paper still parses.
///
/// In human-readable formats (JSON, CBOR as libp2p's codec uses it) it serialises as that
/// text; in postcard, as its 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey([u8; 32]);

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_string())
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            <[u8; 32]>::deserialize(d).map(Self)
        }
    }
}

impl PublicKey {
    /// Wraps raw key bytes. Whether they are a valid curve point is checked on verification.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A short form for logs and tables (first 8 characters of the text form).
    pub fn fmt_short(&self) -> String {
        self.to_string()[..8].to_string()
    }

    /// Verifies `sig` over `msg` under this key, rejecting malleable signatures.
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        let Some(key) = crate::verify_cache::verifying_key(&self.0) else {
            return false;
        };
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        key.verify_strict(msg, &sig).is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&BASE32_NOPAD.encode(&self.0).to_ascii_lowercase())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fmt_short())
    }
}

impl FromStr for PublicKey {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let clean: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let bytes = BASE32_NOPAD
            .decode(clean.as_bytes())
            .map_err(|_| invalid("key", s))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| invalid("key", s))?;
        Ok(Self(bytes))
    }
}

/// An ed25519 secret key. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Self::from_bytes(random_bytes())
    }

    /// A key from its 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&bytes))
    }

    /// A key derived deterministically from a secret and a purpose label (SHA-256 of both).
    pub fn derive(label: &str, secret: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(label.as_bytes());
        hasher.update([0u8]);
        hasher.update(secret);
        Self::from_bytes(hasher.finalize().into())
    }

    /// The 32 secret bytes, for storing the key in a file with restricted permissions.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Signs `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretKey(public={}, secret=..)",
            self.public().fmt_short()
        )
    }
}

/// 32 bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS random source failing is not something a caller can recover from.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("operating system random source unavailable");
    buf
}

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct Timestamp(pub i64);

/// Milliseconds added to the wall clock by [`Timestamp::now`]: 0 but in tests that inject a
/// skewed clock ([`set_clock_offset_ms`]).
static CLOCK_OFFSET_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Makes [`Timestamp::now`] run `ms` milliseconds ahead of the wall clock (behind when
/// negative), for the whole process: how a test gives a node a skewed clock.
pub fn set_clock_offset_ms(ms: i64) {
    CLOCK_OFFSET_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

impl Timestamp {
    /// The current wall-clock time (plus the offset a test may have set).
    pub fn now() -> Self {
        let ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let offset = CLOCK_OFFSET_MS.load(std::sync::atomic::Ordering::Relaxed);
        Self(ms as i64).plus_ms(offset)
    }

    /// This time plus `ms` milliseconds.
    pub fn plus_ms(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to this time, saturating at the ends of `i64`: both times
    /// may come from peers, and a plain difference of such times overflows.
    pub fn ms_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The calendar year of this time (UTC).
    pub fn year(self) -> i32 {
        // Beyond the calendar's range (years -9999 to 9999), the nearest end rather than
        // 1970: a time far ahead must not read as long past.
        match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000) {
            Ok(dt) => dt.year(),
            Err(_) if self.0 < 0 => i32::MIN,
            Err(_) => i32::MAX,
        }
    }

    /// The calendar month of this time, as `YYYY-MM` (UTC); documents are split by it.
    pub fn month(self) -> String {
        let dt = self.to_datetime();
        format!("{:04}-{:02}", dt.year(), dt.month() as u8)
    }

    fn to_datetime(self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    /// Parses RFC 3339 text (as [`Timestamp::rfc3339`] writes it).
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let dt = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()?;
        Some(Self((dt.unix_timestamp_nanos() / 1_000_000) as i64))
    }

    /// RFC 3339 text with second precision, e.g. `2026-11-29T21:26:06Z`.
    pub fn rfc3339(self) -> String {
        let dt = self
            .to_datetime()
            .replace_nanosecond(0)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        dt.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.rfc3339())
    }
}

/// Checks a region or organisation slug: 1 to 32 characters of `a-z`, `0-9` and `-`.
pub fn check_slug(what: &'static str, s: &str) -> Result<(), ParseIdError> {
    let ok = !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(invalid(what, s))
    }
}

/// The id of a document: one collection, scoped by region or organisation and by period, so
/// that no document grows without bound and retention can drop whole documents.
///
/// Text forms: `roster`, `alerts/REGION/YYYY-MM`, `receipts/REGION/YYYY-MM`,
/// `checkins/ORG/YYYY-MM`, `shelters/REGION`. The text is shared: a document's events hold
/// the document's own id, not a copy each ([`crate::event::SignedEvent`]).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocId(std::sync::Arc<str>);

/// The collection a document belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collection {
    /// Organisations, nodes, members, roles and revocations.
    Roster,
    /// Alerts and panics of one region and month.
    Alerts,
    /// Nodes' delivery receipts for the alerts of one region and month. They live apart from
    /// the alerts so that an alert document keeps few writers: every node writes receipts, and
    /// an alert's path through the network does not wait on them.
    Receipts,
    /// Check-ins of one organisation's members and month.
    Checkins,
    /// Shelters of one region.
    Shelters,
}

impl DocId {
    /// The roster document.
    pub fn roster() -> Self {
        Self("roster".into())
    }
    /// The alerts document of `region` for the month of `at`.
    pub fn alerts(region: &str, at: Timestamp) -> Self {
        Self(format!("alerts/{region}/{}", at.month()).into())
    }
    /// The delivery receipts document for the alerts document `alerts` (same region and
    /// month); `None` for a document that is not an alerts document.
    pub fn receipts_for(alerts: &DocId) -> Option<Self> {
        if alerts.collection() != Collection::Alerts {
            return None;
        }
        Some(Self(
            format!("receipts/{}/{}", alerts.scope()?, alerts.period()?).into(),
        ))
    }
    /// The check-ins document of `org` for the month of `at`.
    pub fn checkins(org: &str, at: Timestamp) -> Self {
        Self(format!("checkins/{org}/{}", at.month()).into())
    }
    /// The shelters document of `region`.
    pub fn shelters(region: &str) -> Self {
        Self(format!("shelters/{region}").into())
    }
    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Which collection this document belongs to.
    pub fn collection(&self) -> Collection {
        match self.0.split('/').next() {
            Some("alerts") => Collection::Alerts,
            Some("receipts") => Collection::Receipts,
            Some("checkins") => Collection::Checkins,
            Some("shelters") => Collection::Shelters,
            _ => Collection::Roster,
        }
    }
    /// The region or organisation scope, if any.
    pub fn scope(&self) -> Option<&str> {
        self.0.split('/').nth(1)
    }
    /// The `YYYY-MM` period, if any.
    pub fn period(&self) -> Option<&str> {
        self.0.split('/').nth(2)
    }

    /// When the document's period starts (the first instant of its month), if it has one.
    pub fn period_start(&self) -> Option<Timestamp> {
        let (year, month) = self.period_year_month()?;
        month_start(year, month)
    }

    /// The year and month of the document's period, if it has one.
    fn period_year_month(&self) -> Option<(i32, u8)> {
        let period = self.period()?;
        let year: i32 = period.get(..4)?.parse().ok()?;
        let month: u8 = period.get(5..7)?.parse().ok()?;
        Some((year, month))
    }

    /// When the document's period ends (the first instant of the next month), if it has one.
    pub fn period_end(&self) -> Option<Timestamp> {
        let (year, month) = self.period_year_month()?;
        let (year, month) = if month == 12 {
            (year.checked_add(1)?, 1)
        } else {
            (year, month + 1)
        };
        month_start(year, month)
    }

    /// Checks that the document's period lies between the network's genesis year and the year
    /// after `now`'s (documents without a period always pass). A period before the network
    /// existed holds nothing honest; one far ahead would never expire under retention, since
    /// retention counts from the period's end.
    pub fn check_period(&self, genesis_year: i32, now: Timestamp) -> Result<(), PeriodError> {
        let Some((year, _)) = self.period_year_month() else {
            return Ok(());
        };
        let latest = now.year().saturating_add(1);
        if year < genesis_year {
            return Err(PeriodError::BeforeGenesis {
                doc: self.to_string(),
                genesis_year,
            });
        }
        if year > latest {
            return Err(PeriodError::TooFarAhead {
                doc: self.to_string(),
                latest_year: latest,
            });
        }
        Ok(())
    }
}

/// Why a document's period is refused ([`DocId::check_period`]).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PeriodError {
    /// The period is before the year the network was created in.
    #[error("{doc} is dated before the network's genesis in {genesis_year}")]
    BeforeGenesis {
        /// The document.
        doc: String,
        /// The year of the roster's genesis event.
        genesis_year: i32,
    },
    /// The period is after next year.
    #[error("{doc} is dated after {latest_year}")]
    TooFarAhead {
        /// The document.
        doc: String,
        /// The latest year accepted.
        latest_year: i32,
    },
}

/// The first instant of a month, UTC.
fn month_start(year: i32, month: u8) -> Option<Timestamp> {
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, 1).ok()?;
    let ns = date.midnight().assume_utc().unix_timestamp_nanos();
    Some(Timestamp((ns / 1_000_000) as i64))
}

impl TryFrom<String> for DocId {
    type Error = ParseIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DocId> for String {
    fn from(d: DocId) -> Self {
        d.0.to_string()
    }
}

impl FromStr for DocId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let period_ok = |p: &str| {
            p.len() == 7
                && p.as_bytes()[4] == b'-'
                && p[..4].bytes().all(|b| b.is_ascii_digit())
                && p[5..].bytes().all(|b| b.is_ascii_digit())
                // A month that no calendar has would make a document without an end.
                && matches!(p[5..].parse::<u8>(), Ok(1..=12))
        };
        let ok = match parts.as_slice() {
            ["roster"] => true,
            ["alerts" | "receipts", region, period] => {
                check_slug("region", region).is_ok() && period_ok(period)
            }
            ["checkins", org, period] => check_slug("org", org).is_ok() && period_ok(period),
            ["shelters", region] => check_slug("region", region).is_ok(),
            _ => false,
        };
        if ok {
            Ok(Self(s.into()))
        } else {
            Err(invalid("document id", s))
        }
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocId({})", self.0)
    }
}

/// A 16-byte id for alerts and shelters, shown as 32 hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordId(pub [u8; 16]);

impl RecordId {
    /// A fresh random id.
    pub fn random() -> Self {
        Self(random_bytes())
    }
    /// An id derived from a label and parts, so that nodes deriving it concurrently agree.
    pub fn derive(label: &str, parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(label.as_bytes());
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let digest = hasher.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        Self(out)
    }
    /// The first 8 hex characters, enough to name a record in a table.
    pub fn fmt_short(&self) -> String {
        self.to_string()[..8].to_string()
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&data_encoding::HEXLOWER.encode(&self.0))
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({})", self.fmt_short())
    }
}

impl FromStr for RecordId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .map_err(|_| invalid("record id", s))?;
        Ok(Self(bytes.try_into().map_err(|_| invalid("record id", s))?))
    }
}
