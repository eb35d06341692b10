//! Shared fixtures for the fuzz targets: an honest roster document, a set of pre-signed events,
//! and a panic hook that lets `catch_unwind` inside the protocol crate work under libFuzzer.
//!
//! libfuzzer-sys installs a panic hook that aborts the process before unwinding, so a panic
//! that `tejido_protocol` deliberately catches (automerge panicking inside
//! `Document::receive_sync_message`) would be reported as a crash. Targets that exercise such
//! code call [`panics::install`] instead: panics then unwind normally, the hook records the last
//! one (message, location and backtrace), and the target aborts itself, after printing the
//! recorded panic, if one escapes the protocol code.

use std::sync::OnceLock;

use protocol::doc::Document;
use protocol::event::{AlertBody, AlertKind, Body, Certainty, CheckinBody, CheckinStatus};
use protocol::event::{Event, Role, Severity, SignedEvent, Urgency};
use protocol::ids::{DocId, PublicKey, SecretKey, Timestamp};
use protocol::roster::Roster;

/// When every fixture event is written (2025-11-24T16:00:00Z).
pub const T0: i64 = 1_764_000_000_000;

/// The receiving node's clock in every target: a day after the fixtures, so that their events
/// are not ahead of it.
pub fn now() -> Timestamp {
    Timestamp(T0 + 24 * 60 * 60 * 1000)
}

/// The network's first admin, author of the genesis event.
pub fn admin_key() -> SecretKey {
    SecretKey::derive("fuzz", b"admin")
}

/// A fixed key derived from `name`.
pub fn key(name: &str) -> SecretKey {
    SecretKey::derive("fuzz", name.as_bytes())
}

/// The organisation the genesis event creates.
pub const ORG: &str = "fuzz-org";

fn sign(key: &SecretKey, at: i64, doc: DocId, body: Body) -> SignedEvent {
    let event = Event {
        author: key.public(),
        at: Timestamp(at),
        seq: (Timestamp(at)).0 as u64,
        doc,
        body,
    };
    #[allow(clippy::expect_used)]
    SignedEvent::sign(event, key).expect("fixture events are valid")
}

/// The genesis event of the honest roster.
pub fn genesis() -> &'static SignedEvent {
    static G: OnceLock<SignedEvent> = OnceLock::new();
    G.get_or_init(|| {
        sign(
            &admin_key(),
            T0,
            DocId::roster(),
            Body::Genesis {
                network: "fuzz".into(),
                org: ORG.into(),
                node: key("node").public(),
                admin_name: "Admin".into(),
                consent: None,
            },
        )
    })
}

/// The roster folded from [`genesis`].
pub fn roster() -> &'static Roster {
    static R: OnceLock<Roster> = OnceLock::new();
    R.get_or_init(|| Roster::from_events([genesis()]))
}

/// A document holding `events`, written as one change by actor `[actor; 16]` at time 0, in
/// automerge's save format: the same bytes in every process (`Document::new` picks a random
/// actor and stamps changes with the clock), so that seed sync messages built against it
/// still apply while fuzzing.
pub fn automerge_doc(events: &[SignedEvent], actor: u8) -> Vec<u8> {
    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::{ActorId, Automerge, ScalarValue, ROOT};
    let mut doc = Automerge::new().with_actor(ActorId::from([actor; 16]));
    let mut tx = doc.transaction();
    for e in events {
        #[allow(clippy::expect_used)]
        tx.put(ROOT, e.id().to_string(), ScalarValue::Bytes(e.to_bytes()))
            .expect("put at the root");
    }
    tx.commit_with(CommitOptions::default().with_time(0));
    doc.save()
}

/// The honest roster document (holding only [`genesis`]) in automerge's save format.
pub fn roster_doc_bytes() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| automerge_doc(std::slice::from_ref(genesis()), 0xaa))
}

/// A fresh copy of the honest roster document.
pub fn roster_doc() -> Document {
    #[allow(clippy::expect_used)]
    Document::load(DocId::roster(), &[roster_doc_bytes().to_vec()]).expect("fixture loads")
}

/// Signed events a peer may send: valid ones, ones that are valid only together, and ones
/// every node must refuse (second genesis, unknown author, wrong document, revoked author).
pub fn fixture_events() -> &'static [SignedEvent] {
    static E: OnceLock<Vec<SignedEvent>> = OnceLock::new();
    E.get_or_init(|| {
        let admin = admin_key();
        let member = key("member");
        let contact = key("contact");
        let other_admin = key("other-admin");
        let stranger = key("stranger");
        let roster = DocId::roster;
        vec![
            genesis().clone(),
            // 1: valid member.
            sign(
                &admin,
                T0 + 10,
                roster(),
                Body::AddMember {
                    org: ORG.into(),
                    member: member.public(),
                    name: "Member".into(),
                    role: Role::Member,
                    region: Some("north".into()),
                },
            ),
            // 2: valid security contact.
            sign(
                &admin,
                T0 + 11,
                roster(),
                Body::AddMember {
                    org: ORG.into(),
                    member: contact.public(),
                    name: "Contact".into(),
                    role: Role::SecurityContact,
                    region: Some("north".into()),
                },
            ),
            // 3: valid node.
            sign(
                &admin,
                T0 + 12,
                roster(),
                Body::AddNode {
                    org: ORG.into(),
                    node: key("node2").public(),
                    addrs: vec!["/ip4/127.0.0.1/tcp/4001".into()],
                },
            ),
            // 4: a second organisation.
            sign(
                &admin,
                T0 + 13,
                roster(),
                Body::AddOrg {
                    org: "other-org".into(),
                    admin: other_admin.public(),
                    admin_name: "Other".into(),
                },
            ),
            // 5: valid only after 4.
            sign(
                &other_admin,
                T0 + 14,
                roster(),
                Body::AddMember {
                    org: "other-org".into(),
                    member: key("other-member").public(),
                    name: "Other member".into(),
                    role: Role::Member,
                    region: None,
                },
            ),
            // 6: revokes the member of 1.
            sign(
                &admin,
                T0 + 20,
                roster(),
                Body::Revoke {
                    key: member.public(),
                    reason: "lost phone".into(),
                    last: 0,
                },
            ),
            // 7: a second genesis: forbidden.
            sign(
                &stranger,
                T0 - 1,
                roster(),
                Body::Genesis {
                    network: "evil".into(),
                    org: "evil".into(),
                    node: stranger.public(),
                    admin_name: "Evil".into(),
                    consent: None,
                },
            ),
            // 8: unknown author.
            sign(
                &stranger,
                T0 + 30,
                roster(),
                Body::AddMember {
                    org: ORG.into(),
                    member: key("x").public(),
                    name: "X".into(),
                    role: Role::Admin,
                    region: None,
                },
            ),
            // 9: an alert: belongs in an alerts document, not the roster.
            sign(
                &admin,
                T0 + 40,
                DocId::alerts("north", Timestamp(T0 + 40)),
                Body::Alert(Box::new(AlertBody {
                    id: AlertBody::id_for(&admin.public(), Timestamp(T0 + 40)),
                    kind: AlertKind::Alert,
                    severity: Severity::Severe,
                    urgency: Urgency::Immediate,
                    certainty: Certainty::Observed,
                    region: "north".into(),
                    org: ORG.into(),
                    text: "fuzz".into(),
                    expires_at: None,
                    subject: None,
                    due: None,
                })),
            ),
            // 10: a check-in: belongs in a check-ins document.
            sign(
                &member,
                T0 + 50,
                DocId::checkins(ORG, Timestamp(T0 + 50)),
                Body::Checkin(CheckinBody {
                    next_due: None,
                    sealed: protocol::private::CheckinPrivate::without_code(
                        CheckinStatus::Ok,
                        String::new(),
                    )
                    .seal(
                        &member.public(),
                        Timestamp(T0 + 50),
                        &[key("node").public()],
                    )
                    .expect("seals"),
                }),
            ),
            // 11: by the member of 1 after its revocation (6).
            sign(
                &member,
                T0 + 60,
                roster(),
                Body::AddMember {
                    org: ORG.into(),
                    member: key("y").public(),
                    name: "Y".into(),
                    role: Role::Member,
                    region: None,
                },
            ),
            // 12: a member cancels her own panic (an alerts document).
            sign(
                &member,
                T0 + 70,
                DocId::alerts("north", Timestamp(T0 + 70)),
                Body::Cancel {
                    alert: AlertBody::id_for(&member.public(), Timestamp(T0 + 65)),
                    note: "falsa alarma".into(),
                    sealed: vec![7; 48],
                },
            ),
            // 13: an admin adds a second device of the member of 1, which the member's
            // device asked for with a grant.
            sign(
                &admin,
                T0 + 80,
                roster(),
                Body::AddDevice {
                    org: ORG.into(),
                    person: member.public(),
                    device: key("tablet").public(),
                    grant: Some(
                        sign(
                            &member,
                            T0 + 75,
                            roster(),
                            Body::DeviceGrant {
                                identity: key("invite").public(),
                                expires: Timestamp(T0 + 3_600_000),
                            },
                        )
                        .to_bytes(),
                    ),
                    replaces: None,
                },
            ),
            // 14: the organisation declares the region "north", which the members of 1 and 2
            // and the alerts belong to; valid, and needed before them.
            sign(
                &admin,
                T0 + 5,
                roster(),
                Body::DeclareRegion {
                    org: ORG.into(),
                    region: "north".into(),
                },
            ),
        ]
    })
}

/// Keys a fuzzed event may be signed with: the admin, a member and a node of the honest roster
/// (after [`fixture_events`] 1 and 3), and a stranger.
pub fn signers() -> &'static [SecretKey] {
    static S: OnceLock<Vec<SecretKey>> = OnceLock::new();
    S.get_or_init(|| {
        vec![
            admin_key(),
            key("member"),
            key("contact"),
            key("node2"),
            key("stranger"),
        ]
    })
}

/// A public key that is not in any fixture.
pub fn nobody() -> PublicKey {
    key("nobody").public()
}

pub mod panics {
    //! A panic hook that records instead of aborting; see the crate docs.

    use std::backtrace::Backtrace;
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeSet;
    use std::panic::{catch_unwind, UnwindSafe};
    use std::sync::{Mutex, Once};

    thread_local! {
        static LAST: RefCell<Option<(String, Backtrace)>> = const { RefCell::new(None) };
        static INSIDE: Cell<bool> = const { Cell::new(false) };
    }

    /// Within [`must_not_escape`], panics are recorded and left to unwind (the protocol crate
    /// may catch them); anywhere else (a failed check in a target) the hook libfuzzer-sys
    /// installed prints the panic and aborts, as usual.
    pub fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let outer = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if INSIDE.with(Cell::get) {
                    let bt = Backtrace::force_capture();
                    LAST.with(|l| *l.borrow_mut() = Some((info.to_string(), bt)));
                } else {
                    outer(info);
                }
            }));
        });
    }

    /// Forgets the last recorded panic.
    pub fn clear() {
        LAST.with(|l| *l.borrow_mut() = None);
    }

    /// The last recorded panic's message, if any (without the backtrace).
    pub fn last_message() -> Option<String> {
        LAST.with(|l| l.borrow().as_ref().map(|(m, _)| m.clone()))
    }

    fn print_last(what: &str) {
        LAST.with(|l| match l.borrow().as_ref() {
            Some((msg, bt)) => eprintln!("==== {what}: {msg}\n{bt}"),
            None => eprintln!("==== {what}: (no panic recorded)"),
        });
    }

    /// Runs `f`; a panic that escapes it is printed with its backtrace and aborts the process,
    /// which libFuzzer reports as a crash and saves the input of.
    pub fn must_not_escape<R>(what: &str, f: impl FnOnce() -> R + UnwindSafe) -> R {
        clear();
        let was = INSIDE.with(|i| i.replace(true));
        let result = catch_unwind(f);
        INSIDE.with(|i| i.set(was));
        match result {
            Ok(r) => r,
            Err(_) => {
                print_last(&format!("panic escaped {what}"));
                std::process::abort();
            }
        }
    }

    /// Notes a panic the protocol crate caught (it answered `SyncError::Panicked`). Each
    /// distinct panic location is printed once per process; with `TEJIDO_FUZZ_STRICT=1` in the
    /// environment the process aborts instead, so libFuzzer saves the input.
    pub fn caught(what: &str) {
        if std::env::var_os("TEJIDO_FUZZ_STRICT").is_some_and(|v| v == "1") {
            print_last(&format!("panic caught by {what} (strict mode)"));
            std::process::abort();
        }
        static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
        let msg = last_message().unwrap_or_default();
        let first_line = msg.lines().next().unwrap_or_default().to_string();
        let fresh = SEEN
            .lock()
            .map(|mut s| s.insert(first_line))
            .unwrap_or(false);
        if fresh {
            print_last(&format!(
                "panic caught by {what} (reported once per message)"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn roster_doc_is_the_same_in_every_process() {
        assert_eq!(
            super::roster_doc_bytes(),
            super::automerge_doc(&[super::genesis().clone()], 0xaa)
        );
        assert_eq!(super::roster_doc().heads(), super::roster_doc().heads());
    }

    #[test]
    fn fixtures_build() {
        assert_eq!(super::fixture_events().len(), 15);
        assert_eq!(super::roster_doc().len(), 1);
    }
}

/// Writes the seed inputs in `fuzz/seeds/TARGET/` (committed; `.ci/fuzz` passes them to
/// libFuzzer next to the gitignored corpus). Regenerate after a format change with
/// `cargo test --manifest-path fuzz/Cargo.toml --lib -- --ignored write_seeds`.
#[cfg(test)]
mod seeds {
    use std::path::PathBuf;

    use automerge::sync::State;
    use protocol::doc::Document;
    use protocol::event::{Role, SignedEvent};
    use protocol::ids::{DocId, PublicKey, RecordId};
    use protocol::wire::*;

    use super::*;

    fn write(target: &str, name: &str, bytes: &[u8]) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("seeds")
            .join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    fn cbor<T: serde::Serialize>(v: &T) -> Vec<u8> {
        cbor4ii::serde::to_vec(Vec::new(), v).unwrap()
    }

    /// The messages an honest peer holding `peer` sends to the honest roster document.
    fn sync_messages(mut peer: Document) -> Vec<Vec<u8>> {
        let mut ours = roster_doc();
        let (mut a, mut b) = (State::new(), State::new());
        let mut out = Vec::new();
        for _ in 0..6 {
            if let Some(m) = ours.generate_sync_message(&mut a).unwrap() {
                peer.receive_sync_message(
                    &mut b,
                    &m,
                    &Roster::from_events(ours.events().iter()),
                    now(),
                )
                .unwrap();
            }
            let Some(m) = peer.generate_sync_message(&mut b).unwrap() else {
                continue;
            };
            ours.receive_sync_message(
                &mut a,
                &m,
                &Roster::from_events(ours.events().iter()),
                now(),
            )
            .unwrap();
            out.push(m);
        }
        out
    }

    #[test]
    #[ignore = "writes fuzz/seeds"]
    fn write_seeds() {
        let fixtures = fixture_events();
        for (i, e) in fixtures.iter().enumerate() {
            write("signed_event", &format!("fixture-{i}"), &e.to_bytes());
            let mut input = vec![0u8];
            input.extend(postcard::to_stdvec(e.event()).unwrap());
            write("event_sign", &format!("fixture-{i}"), &input);
        }

        // The honest roster's events: the region's declaration (14), then 1 to 6.
        let honest: Vec<SignedEvent> = std::iter::once(fixtures[14].clone())
            .chain(fixtures[1..7].iter().cloned())
            .collect();
        let mut shared = roster_doc();
        shared.insert(&honest);
        let mut with_genesis = vec![fixtures[0].clone()];
        with_genesis.extend(honest.iter().cloned());
        let fresh = Document::load(DocId::roster(), &[automerge_doc(&with_genesis, 0xbb)]).unwrap();
        for (name, peer) in [("shared", &shared), ("fresh", &fresh)] {
            write("doc_load", &format!("{name}-save"), &peer.save());
            write("roster_adopt", &format!("{name}-save"), &peer.save());
        }
        write("doc_load", "genesis-save", roster_doc_bytes());
        write(
            "doc_load",
            "incremental",
            &shared.save_after(&roster_doc().heads()),
        );
        let peer = Document::load(DocId::roster(), &[shared.save()]).unwrap();
        for (i, m) in sync_messages(peer).iter().enumerate() {
            write("sync_message", &format!("shared-{i}"), m);
        }
        let peer = Document::load(DocId::roster(), &[fresh.save()]).unwrap();
        for (i, m) in sync_messages(peer).iter().enumerate() {
            write("sync_message", &format!("fresh-{i}"), m);
        }

        // sync_session: steps of a tag byte and its arguments (see the target). An honest
        // exchange, one with a changed byte, the two hostile filters (0 bits per entry, and
        // u32::MAX probes) each followed by honest messages, and the sync_message seeds as raw
        // messages.
        let filter = |entries: u8, bits: u8, probes: u32| {
            let mut step = vec![3, entries, bits];
            step.extend(probes.to_le_bytes());
            step
        };
        write("sync_session", "honest", &[1, 1, 1, 1, 1, 1]);
        write("sync_session", "changed-byte", &[1, 2, 40, 0, 0x5a, 1, 1]);
        write(
            "sync_session",
            "zero-bits-filter",
            &[filter(1, 0, 7), vec![1, 1, 1]].concat(),
        );
        write(
            "sync_session",
            "many-probes-filter",
            &[filter(1, 10, u32::MAX), vec![1, 1, 1]].concat(),
        );
        write(
            "sync_session",
            "sane-filter",
            &[filter(3, 10, 7), vec![1, 1, 1]].concat(),
        );
        let mut raw = Vec::new();
        for m in sync_messages(Document::load(DocId::roster(), &[shared.save()]).unwrap()) {
            raw.push(0);
            raw.extend((m.len() as u16).to_le_bytes());
            raw.extend(&m);
            raw.push(1);
        }
        write("sync_session", "raw-messages", &raw);

        let node = key("node").public();
        let code = InviteCode::V0 {
            kind: InviteKind::Member,
            node,
            addrs: vec![
                "/ip4/127.0.0.1/tcp/4001".into(),
                "/ip6/::1/udp/4001/quic-v1".into(),
            ],
            secret: [9; 32],
            expires: protocol::ids::Timestamp(T0),
        };
        write("invite_code", "member", code.encode().as_bytes());

        let roster_msg = sync_messages(Document::load(DocId::roster(), &[shared.save()]).unwrap());
        let requests = [
            ClientRequest::V0(ClientRequestV0::Redeem {
                member: node,
                proof: vec![1; 64],
            }),
            ClientRequest::V0(ClientRequestV0::RedeemNode {
                node,
                org: "other-org".into(),
                admin: key("other-admin").public(),
                proof: vec![2; 64],
                add_node: Box::new(fixtures[3].clone()),
            }),
            ClientRequest::V0(ClientRequestV0::Submit {
                events: fixtures[1..4].to_vec(),
            }),
            ClientRequest::V0(ClientRequestV0::Whoami),
            ClientRequest::V0(ClientRequestV0::Alerts {
                region: Some("north".into()),
                open_only: true,
            }),
            ClientRequest::V0(ClientRequestV0::Checkins {
                overdue_only: false,
            }),
            ClientRequest::V0(ClientRequestV0::Shelters {
                region: None,
                available_only: true,
            }),
        ];
        for (i, r) in requests.iter().enumerate() {
            write("wire_messages", &format!("client-request-{i}"), &cbor(r));
        }
        let responses = [
            ClientResponse::V0(ClientResponseV0::Profile {
                profile: Profile {
                    key: node,
                    name: "Admin".into(),
                    org: ORG.into(),
                    role: Role::Admin,
                    region: Some("north".into()),
                    checkin_readers: vec![node],
                    org_nodes: vec![node],
                    person: None,
                },
                nodes: vec![NodeContact {
                    key: node,
                    addrs: vec!["/ip4/127.0.0.1/tcp/1".into()],
                }],
            }),
            ClientResponse::V0(ClientResponseV0::Network {
                roster: shared.save(),
            }),
            ClientResponse::V0(ClientResponseV0::Stored {
                node,
                ids: fixtures.iter().map(|e| e.id()).collect(),
            }),
            ClientResponse::V0(ClientResponseV0::Alerts(Vec::new())),
            ClientResponse::V0(ClientResponseV0::Error {
                kind: ErrorKind::Forbidden,
                message: "no".into(),
            }),
        ];
        for (i, r) in responses.iter().enumerate() {
            write("wire_messages", &format!("client-response-{i}"), &cbor(r));
        }
        let summary = vec![DocSummary {
            doc: DocId::roster(),
            heads: vec![[3; 32], [4; 32]],
        }];
        write(
            "wire_messages",
            "sync-request-0",
            &cbor(&SyncRequest::V0(SyncRequestV0::Summary {
                docs: summary.clone(),
                now: None,
            })),
        );
        write(
            "wire_messages",
            "sync-request-1",
            &cbor(&SyncRequest::V0(SyncRequestV0::Sync {
                doc: DocId::roster(),
                msg: roster_msg[0].clone(),
            })),
        );
        write(
            "wire_messages",
            "sync-response-0",
            &cbor(&SyncResponse::V0(SyncResponseV0::Summary {
                docs: summary,
                now: None,
            })),
        );
        write(
            "wire_messages",
            "sync-response-1",
            &cbor(&SyncResponse::V0(SyncResponseV0::Sync {
                doc: DocId::roster(),
                msg: Some(roster_msg[0].clone()),
            })),
        );
        write(
            "wire_messages",
            "sync-response-2",
            &cbor(&SyncResponse::V0(SyncResponseV0::Refused {
                reason: "no".into(),
            })),
        );

        for (i, text) in [
            "roster".to_string(),
            "alerts/north/2025-11".into(),
            "checkins/fuzz-org/2025-11".into(),
            "shelters/north".into(),
            node.to_string(),
            node.to_string()
                .to_uppercase()
                .chars()
                .collect::<Vec<_>>()
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-"),
            RecordId([0xab; 16]).to_string(),
            PublicKey::from_bytes([0; 32]).to_string(),
        ]
        .iter()
        .enumerate()
        {
            write("id_text", &format!("text-{i}"), text.as_bytes());
        }
        let _ = SignedEvent::decode(&fixtures[0].to_bytes()).unwrap();

        let contents = protocol::bundle::Contents {
            docs: vec![(
                DocId::roster(),
                with_genesis.iter().map(|e| e.to_bytes()).collect(),
            )],
        };
        let file = protocol::bundle::seal(&contents, &key("node2"), &[key("node").public()], now())
            .unwrap();
        let mut input = vec![0u8];
        input.extend(&file);
        write("bundle_open", "sealed", &input);
        let mut input = vec![1u8];
        input.extend(postcard::to_stdvec(&contents).unwrap());
        write("bundle_open", "contents", &input);
    }
}
