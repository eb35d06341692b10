//! What the benchmarks write: panics and check-ins of one member, signed in-process before any
//! clock starts, and a small in-memory network (genesis plus that member) for the in-process
//! figures.

use std::collections::BTreeMap;

use protocol::event::{
    AlertBody, AlertKind, Body, Certainty, CheckinBody, CheckinStatus, Event, Role, Severity,
    SignedEvent, Urgency,
};
use protocol::ids::{DocId, PublicKey, SecretKey, Timestamp};
use protocol::roster::Roster;
use protocol::wire::ClientRequestV0;

/// A member who writes events.
#[derive(Clone, Debug)]
pub(crate) struct Writer {
    /// The member's key.
    pub(crate) key: SecretKey,
    /// The member's organisation.
    pub(crate) org: String,
}

impl Writer {
    /// A panic of this member in `region` at `at` (the alert id derives from key and time).
    pub(crate) fn panic(&self, region: &str, at: Timestamp, text: String) -> SignedEvent {
        let author = self.key.public();
        let body = Body::Alert(Box::new(AlertBody {
            id: AlertBody::id_for(&author, at),
            kind: AlertKind::Panic,
            severity: Severity::Extreme,
            urgency: Urgency::Immediate,
            certainty: Certainty::Observed,
            region: region.to_string(),
            org: self.org.clone(),
            text,
            expires_at: None,
            subject: None,
            due: None,
        }));
        self.sign(DocId::alerts(region, at), at, body)
    }

    /// A check-in of this member at `at`.
    pub(crate) fn checkin(&self, at: Timestamp, note: String) -> SignedEvent {
        // Sealed to the member alone: nodes verify and store the sealed part without reading it.
        #[allow(clippy::expect_used)]
        let sealed = protocol::private::CheckinPrivate::without_code(CheckinStatus::Ok, note)
            .seal(&self.key.public(), at, &[self.key.public()])
            .expect("benchmark notes are short");
        let body = Body::Checkin(CheckinBody {
            next_due: Some(at.plus_ms(6 * 3600 * 1000)),
            sealed,
        });
        self.sign(DocId::checkins(&self.org, at), at, body)
    }

    fn sign(&self, doc: DocId, at: Timestamp, body: Body) -> SignedEvent {
        let event = Event {
            author: self.key.public(),
            at,
            // A writer's events have distinct times: the time in ms numbers them.
            seq: at.0 as u64,
            doc,
            body,
        };
        // The events are well-formed by construction; a failure is a bug in this tool.
        #[allow(clippy::expect_used)]
        SignedEvent::sign(event, &self.key).expect("benchmark events are valid")
    }

    /// `k` events, panics and check-ins alternating, with distinct times in the past (so that
    /// every panic has its own alert id and no check-in repeats another).
    pub(crate) fn mixed(&self, region: &str, k: usize, tag: &str) -> Vec<SignedEvent> {
        let base = Timestamp::now().plus_ms(-(k as i64) - 1000);
        (0..k)
            .map(|i| {
                let at = base.plus_ms(i as i64);
                if i % 2 == 0 {
                    self.panic(region, at, format!("{tag} panic {i}"))
                } else {
                    self.checkin(at, format!("{tag} check-in {i}"))
                }
            })
            .collect()
    }

    /// A panic now, or 1 ms after `prev` if now is not later (its id derives from key and
    /// time, so two in one millisecond would be one alert), with its alert id; `prev` moves on.
    pub(crate) fn next_panic(
        &self,
        region: &str,
        prev: &mut Timestamp,
        text: String,
    ) -> (SignedEvent, String) {
        let mut at = Timestamp::now();
        if at <= *prev {
            at = prev.plus_ms(1);
        }
        *prev = at;
        let id = AlertBody::id_for(&self.key.public(), at).to_string();
        (self.panic(region, at, text), id)
    }

    /// `k` panics only, in one alerts document.
    pub(crate) fn panics(&self, region: &str, k: usize, tag: &str) -> Vec<SignedEvent> {
        let base = Timestamp::now().plus_ms(-(k as i64) - 1000);
        (0..k)
            .map(|i| self.panic(region, base.plus_ms(i as i64), format!("{tag} panic {i}")))
            .collect()
    }
}

/// How many events of `events` go to each document.
pub(crate) fn per_doc(events: &[SignedEvent]) -> BTreeMap<DocId, usize> {
    let mut out = BTreeMap::new();
    for e in events {
        *out.entry(e.event().doc.clone()).or_insert(0) += 1;
    }
    out
}

/// `Submit` requests of `per_request` events each.
pub(crate) fn submits(events: &[SignedEvent], per_request: usize) -> Vec<ClientRequestV0> {
    events
        .chunks(per_request.max(1))
        .map(|c| ClientRequestV0::Submit { events: c.to_vec() })
        .collect()
}

/// An in-memory network: its roster (genesis and one member) and that member.
pub(crate) struct Fixture {
    /// The folded roster.
    pub(crate) roster: Roster,
    /// The member.
    pub(crate) writer: Writer,
}

impl Fixture {
    /// A network of one organisation `org` with one member in `region`.
    pub(crate) fn new(org: &str, region: &str) -> Self {
        let admin = SecretKey::generate();
        let node: PublicKey = SecretKey::generate().public();
        let member = SecretKey::generate();
        let now = Timestamp::now().plus_ms(-3_600_000);
        let sign = |body: Body, at: Timestamp| {
            #[allow(clippy::expect_used)]
            SignedEvent::sign(
                Event {
                    author: admin.public(),
                    at,
                    seq: at.0 as u64,
                    doc: DocId::roster(),
                    body,
                },
                &admin,
            )
            .expect("roster events are valid")
        };
        let genesis = sign(
            Body::Genesis {
                network: "bench".into(),
                org: org.into(),
                node,
                admin_name: "admin".into(),
                consent: None,
            },
            now,
        );
        let declare = sign(
            Body::DeclareRegion {
                org: org.into(),
                region: region.into(),
            },
            now.plus_ms(1),
        );
        let add = sign(
            Body::AddMember {
                org: org.into(),
                member: member.public(),
                name: "bench member".into(),
                role: Role::Member,
                region: Some(region.into()),
            },
            now.plus_ms(2),
        );
        let roster = Roster::from_events([&genesis, &declare, &add]);
        Self {
            roster,
            writer: Writer {
                key: member,
                org: org.into(),
            },
        }
    }
}
