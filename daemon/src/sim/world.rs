//! What the simulated network writes: its organisations, members and roster, and their
//! alerts, acknowledgements, resolutions and check-ins, signed with real keys derived from
//! the seed (so every run signs the same bytes).

use protocol::doc::Document;
use protocol::event::{
    AlertBody, AlertKind, Body, Certainty, CheckinBody, Event, Role, Severity, SignedEvent, Urgency,
};
use protocol::ids::{DocId, RecordId, SecretKey, Timestamp};

/// 2026-02-01T00:00:00Z: the network's genesis.
pub(crate) const GENESIS_AT: i64 = 1_769_904_000_000;
/// 2026-03-01T00:00:00Z: the month the simulations run in.
pub(crate) const MONTH_START: i64 = 1_772_323_200_000;
/// One day, in ms.
pub(crate) const DAY_MS: i64 = 86_400_000;
/// The size of a check-in's sealed part with 8 readers (BENCHMARKS.md, "Sealed check-ins").
/// Nodes that are not among its readers check only its length, so its bytes here are
/// random-looking bytes of that size.
pub(crate) const SEALED_CHECKIN_BYTES: usize = 711;

/// An organisation: its admin and the region it works in.
pub(crate) struct Org {
    pub(crate) slug: String,
    pub(crate) admin: SecretKey,
    pub(crate) region: String,
}

/// A member of an organisation, in its region.
pub(crate) struct Member {
    pub(crate) key: SecretKey,
    pub(crate) org: usize,
}

/// The network's people and its roster's events.
pub(crate) struct World {
    pub(crate) orgs: Vec<Org>,
    pub(crate) members: Vec<Member>,
    pub(crate) roster: Vec<SignedEvent>,
    label: String,
}

fn sign(key: &SecretKey, doc: DocId, at: Timestamp, body: Body) -> SignedEvent {
    let event = Event {
        author: key.public(),
        at,
        // Every simulated author's events have distinct times: the time in ms numbers them.
        seq: at.0 as u64,
        doc,
        body,
    };
    // The simulator's events are valid by construction; a failure is a bug in it.
    #[allow(clippy::expect_used)]
    SignedEvent::sign(event, key).expect("simulated events are valid")
}

impl World {
    /// `orgs` organisations over `regions` regions, each with `members_per_org` members.
    pub(crate) fn new(seed: u64, orgs: usize, regions: usize, members_per_org: usize) -> Self {
        let label = format!("tejido-sim-{seed}");
        let key =
            |what: &str, i: usize| SecretKey::derive(&label, format!("{what}-{i}").as_bytes());
        let region = |i: usize| format!("region-{}", i % regions.max(1));
        let orgs: Vec<Org> = (0..orgs.max(1))
            .map(|i| Org {
                slug: format!("org-{i}"),
                admin: key("admin", i),
                region: region(i),
            })
            .collect();
        let mut at = Timestamp(GENESIS_AT);
        let mut next = || {
            at = at.plus_ms(1);
            at
        };
        let first = &orgs[0];
        let mut roster = vec![sign(
            &first.admin,
            DocId::roster(),
            next(),
            Body::Genesis {
                network: "red".into(),
                org: first.slug.clone(),
                node: key("node", 0).public(),
                admin_name: "admin".into(),
                // Founded so that its first organisation admits the others alone.
                consent: Some(1),
            },
        )];
        for org in &orgs[1..] {
            roster.push(sign(
                &first.admin,
                DocId::roster(),
                next(),
                Body::AddOrg {
                    org: org.slug.clone(),
                    admin: org.admin.public(),
                    admin_name: "admin".into(),
                },
            ));
        }
        for org in &orgs {
            roster.push(sign(
                &org.admin,
                DocId::roster(),
                next(),
                Body::DeclareRegion {
                    org: org.slug.clone(),
                    region: org.region.clone(),
                },
            ));
        }
        let mut members = Vec::new();
        for (o, org) in orgs.iter().enumerate() {
            for m in 0..members_per_org {
                let member = key(&format!("member-{o}"), m);
                roster.push(sign(
                    &org.admin,
                    DocId::roster(),
                    next(),
                    Body::AddMember {
                        org: org.slug.clone(),
                        member: member.public(),
                        name: format!("m{m}"),
                        role: Role::Member,
                        region: Some(org.region.clone()),
                    },
                ));
                members.push(Member {
                    key: member,
                    org: o,
                });
            }
        }
        Self {
            orgs,
            members,
            roster,
            label,
        }
    }

    /// The roster document, as every node holds it (one change per event, as nodes make).
    pub(crate) fn roster_doc(&self) -> Document {
        let mut doc = Document::new(DocId::roster());
        doc.set_actor(self.label.as_bytes());
        for e in &self.roster {
            doc.insert(std::slice::from_ref(e));
        }
        doc
    }

    /// A panic of member `m` at `at`, with its alert id.
    pub(crate) fn panic(&self, m: usize, at: Timestamp, text: String) -> (SignedEvent, RecordId) {
        let member = &self.members[m];
        let org = &self.orgs[member.org];
        let author = member.key.public();
        let id = AlertBody::id_for(&author, at);
        let body = Body::Alert(Box::new(AlertBody {
            id,
            kind: AlertKind::Panic,
            severity: Severity::Extreme,
            urgency: Urgency::Immediate,
            certainty: Certainty::Observed,
            region: org.region.clone(),
            org: org.slug.clone(),
            text,
            expires_at: None,
            subject: None,
            due: None,
        }));
        let event = sign(&member.key, DocId::alerts(&org.region, at), at, body);
        (event, id)
    }

    /// Member `m` acknowledges `alert` (raised in `region`'s document of `at`'s month).
    pub(crate) fn ack(&self, m: usize, alert: RecordId, doc: DocId, at: Timestamp) -> SignedEvent {
        sign(&self.members[m].key, doc, at, Body::Ack { alert })
    }

    /// The admin of organisation `o` resolves `alert`.
    pub(crate) fn resolve(
        &self,
        o: usize,
        alert: RecordId,
        doc: DocId,
        at: Timestamp,
    ) -> SignedEvent {
        sign(
            &self.orgs[o].admin,
            doc,
            at,
            Body::Resolve {
                alert,
                note: "safe, accompanied home".into(),
                checkin: None,
            },
        )
    }

    /// A check-in of member `m` at `at`, next due six hours later.
    pub(crate) fn checkin(&self, m: usize, at: Timestamp, filler: u64) -> SignedEvent {
        let member = &self.members[m];
        let org = &self.orgs[member.org];
        let mut x = filler | 1;
        let sealed: Vec<u8> = (0..SEALED_CHECKIN_BYTES)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let body = Body::Checkin(CheckinBody {
            next_due: Some(at.plus_ms(6 * 3600 * 1000)),
            sealed,
        });
        sign(&member.key, DocId::checkins(&org.slug, at), at, body)
    }
}
