//! No one else can silence or read a person's safety net: what a node, security contact or
//! admin of another organisation or region can do to a member's alerts and check-ins.

use super::*;
use crate::private::{CheckinPrivate, DuressAlert};

/// [`Net`] plus org-b working in Chiapas, with its node and a security contact there.
struct Wide {
    net: Net,
    /// org-b's node.
    nb: SecretKey,
    /// org-b's security contact for Chiapas.
    carla: SecretKey,
    extra: Vec<SignedEvent>,
}

impl Wide {
    fn new() -> Self {
        let net = Net::new();
        let (nb, carla) = (key("node-b"), key("carla"));
        let extra = vec![
            sign(
                &net.b,
                at(4 * MIN),
                DocId::roster(),
                Body::DeclareRegion {
                    org: "org-b".into(),
                    region: "chiapas".into(),
                },
            ),
            sign(
                &net.b,
                at(5 * MIN),
                DocId::roster(),
                Body::AddNode {
                    org: "org-b".into(),
                    node: nb.public(),
                    addrs: Vec::new(),
                },
            ),
            sign(
                &net.b,
                at(6 * MIN),
                DocId::roster(),
                Body::AddMember {
                    org: "org-b".into(),
                    member: carla.public(),
                    name: "Carla".into(),
                    role: Role::SecurityContact,
                    region: Some("chiapas".into()),
                },
            ),
        ];
        Self {
            net,
            nb,
            carla,
            extra,
        }
    }

    fn roster_with(&self, more: &[SignedEvent]) -> Roster {
        let mut events = self.net.roster_events();
        events.extend(self.extra.iter().cloned());
        events.extend(more.iter().cloned());
        Roster::from_events(&events)
    }

    fn roster(&self) -> Roster {
        self.roster_with(&[])
    }
}

fn resolve_citing(
    key: &SecretKey,
    t: Timestamp,
    alert: RecordId,
    checkin: Option<&SignedEvent>,
) -> SignedEvent {
    alert_action(
        key,
        t,
        Body::Resolve {
            alert,
            note: "fine".into(),
            checkin: checkin.map(|c| c.to_bytes()),
        },
    )
}

/// Finding: a node wrote a backdated missed check-in alert for a member in another region with
/// severity minor, and resolved it, so that no node raised anything at the due time.
#[test]
fn no_node_can_preempt_or_silence_a_missed_checkin() {
    let w = Wide::new();
    let roster = w.roster();
    let m = w.net.m.public();
    let due = at(HOUR);
    // Another region, another organisation, other fields: refused.
    let mut elsewhere = AlertBody::missed_checkin(m, "org-a", "chiapas", due);
    let t = due.plus_ms(MIN);
    let wrong_region = sign(
        &w.nb,
        t,
        DocId::alerts("chiapas", t),
        Body::Alert(Box::new(elsewhere.clone())),
    );
    assert!(matches!(
        roster.authorize(wrong_region.event()),
        Err(AuthError::Forbidden(_))
    ));
    elsewhere.region = "oaxaca".into();
    elsewhere.severity = Severity::Minor;
    assert!(SignedEvent::sign(
        Event {
            author: w.nb.public(),
            at: t,
            seq: (t).0 as u64,
            doc: DocId::alerts("oaxaca", t),
            body: Body::Alert(Box::new(elsewhere)),
        },
        &w.nb,
    )
    .is_err());
    // A copy that is the one alert counts as it: the alert is raised, as it should be.
    let early_copy = missed_event(&w.nb, due, m, due, "org-a");
    let id = AlertBody::missed_checkin_id(&m, due);
    assert_eq!(roster.authorize(early_copy.event()), Ok(()));
    // Resolving it: not without the member's check-in, not with one from before the due time.
    assert!(matches!(
        roster.authorize(resolve_citing(&w.nb, t, id, None).event()),
        Err(AuthError::Forbidden(_))
    ));
    let before = checkin_event(&w.net.m, due.plus_ms(-MIN), CheckinStatus::Ok, None);
    let stale = resolve_citing(&w.nb, t, id, Some(&before));
    assert_eq!(roster.authorize(stale.event()), Ok(()));
    // Nor with a check-in of someone else.
    let other = checkin_event(&w.net.s, t, CheckinStatus::Ok, None);
    let wrong_member = resolve_citing(&w.nb, t, id, Some(&other));
    let now = due.plus_ms(HOUR);
    let list = view::alerts(&roster, &[early_copy.clone(), stale, wrong_member], now);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, "open", "{:?}", list[0].history);
    assert_eq!(list[0].severity, Severity::Severe);
    assert_eq!(list[0].region, "oaxaca");
    // The member's later check-in resolves it, whoever's node cites it.
    let later = checkin_event(&w.net.m, due.plus_ms(2 * MIN), CheckinStatus::Ok, None);
    let fair = resolve_citing(&w.nb, due.plus_ms(3 * MIN), id, Some(&later));
    let list = view::alerts(&roster, &[early_copy, fair], now);
    assert_eq!(list[0].status, "resolved");
}

/// Finding: any security contact or admin of any organisation assigned or resolved anyone's
/// alert.
#[test]
fn only_those_who_answer_for_an_alert_assign_and_resolve_it() {
    let w = Wide::new();
    let roster = w.roster();
    let t = at(2 * HOUR);
    let panic = panic_event(&w.net.m, t);
    let id = alert_id(&w.net.m, t);
    let assign = |k: &SecretKey| {
        alert_action(
            k,
            t.plus_ms(MIN),
            Body::Assign {
                alert: id,
                assignee: k.public(),
            },
        )
    };
    // A security contact of another region: refused outright.
    for e in [
        resolve_citing(&w.carla, t.plus_ms(MIN), id, None),
        assign(&w.carla),
    ] {
        assert!(matches!(
            roster.authorize(e.event()),
            Err(AuthError::Forbidden(_))
        ));
    }
    // An admin of another organisation: allowed to sign, counted nowhere.
    let foreign = [
        resolve_citing(&w.net.b, t.plus_ms(MIN), id, None),
        assign(&w.net.b),
    ];
    let list = view::alerts(
        &roster,
        [&panic].into_iter().chain(&foreign),
        t.plus_ms(HOUR),
    );
    assert_eq!(list[0].status, "open");
    assert_eq!(list[0].assignee, None);
    assert_eq!(list[0].history.len(), 1);
    // Anyone may acknowledge.
    let ack = alert_action(&w.carla, t.plus_ms(MIN), Body::Ack { alert: id });
    let list = view::alerts(&roster, [&panic, &ack], t.plus_ms(HOUR));
    assert_eq!(list[0].status, "acknowledged");
    // The region's security contact and the member's organisation's admin answer for it.
    for who in [&w.net.s, &w.net.a] {
        let list = view::alerts(
            &roster,
            [
                &panic,
                &assign(who),
                &resolve_citing(who, t.plus_ms(2 * MIN), id, None),
            ],
            t.plus_ms(HOUR),
        );
        assert_eq!(list[0].assignee, Some(who.public().to_string()));
        assert_eq!(list[0].status, "resolved");
    }
}

/// Finding: a duress alert was readable by every member of every organisation, and its id
/// followed from the check-in that every node holds.
#[test]
fn a_duress_alert_is_sealed_to_its_readers() {
    let w = Wide::new();
    let roster = w.roster();
    let m = w.net.m.public();
    let t = at(2 * HOUR);
    // A plain duress alert cannot be written at all.
    let mut plain = alert_body(
        alert_id(&w.net.n, t),
        AlertKind::Duress,
        "oaxaca",
        "org-a",
        Some(m),
    );
    plain.due = Some(t);
    assert!(SignedEvent::sign(
        Event {
            author: w.net.n.public(),
            at: t,
            seq: (t).0 as u64,
            doc: DocId::alerts("oaxaca", t),
            body: Body::Alert(Box::new(plain)),
        },
        &w.net.n,
    )
    .is_err());
    let readers = roster.duress_readers(&m);
    assert!(readers.contains(&w.net.s.public()) && readers.contains(&w.net.a.public()));
    assert!(!readers.contains(&m), "never the member");
    assert!(!readers.contains(&w.carla.public()) && !readers.contains(&w.net.b.public()));
    let checkin = checkin_event(&w.net.m, t, CheckinStatus::Ok, None);
    let duress = DuressAlert {
        subject: m,
        name: "Mario".into(),
        checkin: checkin.id(),
        checkin_at: t,
    };
    let body = duress
        .seal("oaxaca", "org-a", &w.net.n.public(), &readers)
        .expect("seals");
    let raised = sign(
        &w.net.n,
        t.plus_ms(1),
        DocId::alerts("oaxaca", t),
        Body::SealedAlert(body.clone()),
    );
    assert_eq!(roster.authorize(raised.event()), Ok(()));
    assert!(
        !raised.to_bytes().windows(32).any(|win| win == m.as_bytes()),
        "the member is not named"
    );
    let list = view::alerts(&roster, [&raised], t.plus_ms(HOUR));
    assert_eq!(list[0].kind, AlertKind::Sealed);
    assert_eq!(
        (list[0].subject.as_deref(), list[0].text.as_str()),
        (None, "")
    );
    let org_of = |k: &PublicKey| roster.members.get(k).map(|m| m.org.clone());
    for (who, reads) in [
        (&w.net.s, true),
        (&w.net.a, true),
        (&w.net.m, false),
        (&w.carla, false),
        (&w.net.b, false),
        (&w.nb, false),
    ] {
        let mut view = list[0].clone();
        assert_eq!(view.open_sealed(who, org_of), reads);
        if reads {
            assert_eq!(view.kind, AlertKind::Duress);
            assert_eq!(view.subject, Some(m.to_string()));
        }
    }
    // Another organisation's node cannot raise one for this member: not in a region its
    // organisation does not work in, and where it does, its readers see it is not the
    // member's organisation's.
    let by_b = duress
        .seal("oaxaca", "org-b", &w.nb.public(), &readers)
        .expect("seals");
    let foreign = sign(
        &w.nb,
        t.plus_ms(1),
        DocId::alerts("oaxaca", t),
        Body::SealedAlert(by_b),
    );
    assert!(matches!(
        roster.authorize(foreign.event()),
        Err(AuthError::Forbidden(_))
    ));
    let declare = sign(
        &w.net.b,
        at(7 * MIN),
        DocId::roster(),
        Body::DeclareRegion {
            org: "org-b".into(),
            region: "oaxaca".into(),
        },
    );
    let roster = w.roster_with(&[declare]);
    assert_eq!(roster.authorize(foreign.event()), Ok(()));
    let mut view = view::alerts(&roster, [&foreign], t.plus_ms(HOUR))[0].clone();
    assert!(!view.open_sealed(&w.net.s, |k| roster.members.get(k).map(|m| m.org.clone())));
    // And nobody writes another alert under its id.
    let mut shadow = body;
    shadow.sealed[0] ^= 1;
    assert!(SignedEvent::sign(
        Event {
            author: w.net.n.public(),
            at: t,
            seq: (t).0 as u64,
            doc: DocId::alerts("oaxaca", t),
            body: Body::SealedAlert(shadow),
        },
        &w.net.n,
    )
    .is_err());
}

/// Finding: every node read every check-in's note and status.
#[test]
fn a_checkins_note_is_for_its_readers() {
    let w = Wide::new();
    let roster = w.roster();
    let m = w.net.m.public();
    let readers = roster.checkin_readers(&m);
    for k in [&w.net.n, &w.net.a, &w.net.s, &w.net.m] {
        assert!(readers.contains(&k.public()));
    }
    for k in [&w.nb, &w.net.b, &w.carla] {
        assert!(!readers.contains(&k.public()));
    }
    let t = at(2 * HOUR);
    let private = CheckinPrivate::without_code(CheckinStatus::NeedHelp, "salgo a la marcha".into());
    let checkin = sign(
        &w.net.m,
        t,
        DocId::checkins("org-a", t),
        Body::Checkin(CheckinBody {
            next_due: Some(t.plus_ms(HOUR)),
            sealed: private.seal(&m, t, &readers).expect("seals"),
        }),
    );
    assert!(!checkin.to_bytes().windows(5).any(|win| win == b"salgo"));
    let by_b = view::checkins(&roster, [&checkin], t, Some(&w.nb));
    assert_eq!((by_b[0].status, by_b[0].note.as_deref()), (None, None));
    assert_eq!(
        by_b[0].next_due,
        Some(t.plus_ms(HOUR).rfc3339()),
        "every node still watches"
    );
    let by_a = view::checkins(&roster, [&checkin], t, Some(&w.net.n));
    assert_eq!(by_a[0].note.as_deref(), Some("salgo a la marcha"));
    let mut seen = by_b[0].clone();
    seen.open_with(&w.carla);
    assert_eq!(seen.status, None);
    seen.open_with(&w.net.s);
    assert_eq!(seen.status, Some(CheckinStatus::NeedHelp));
    // The sealed part is bound to its check-in: moved to another, it does not open.
    let moved = sign(
        &w.net.m,
        t.plus_ms(1),
        DocId::checkins("org-a", t),
        Body::Checkin(CheckinBody {
            next_due: None,
            sealed: match &checkin.event().body {
                Body::Checkin(c) => c.sealed.clone(),
                _ => unreachable!(),
            },
        }),
    );
    let list = view::checkins(&roster, [&moved], t, Some(&w.net.n));
    assert_eq!(list[0].status, None);
}

/// Finding: the roster showed which members had set a duress code, and their tags.
#[test]
fn a_duress_tag_is_sealed_to_the_members_nodes() {
    let w = Wide::new();
    let m = &w.net.m;
    let tag = crate::event::duress_tag(m, "1234");
    let nodes = w.roster().org_nodes("org-a");
    assert_eq!(nodes, vec![w.net.n.public()]);
    let sealed = crate::private::seal_duress_tag(&tag, &m.public(), &nodes).expect("seals");
    let set = sign(m, at(HOUR), DocId::roster(), Body::DuressSet { sealed });
    assert!(!set.to_bytes().windows(16).any(|win| win == tag));
    let roster = w.roster_with(&[set]);
    assert_eq!(roster.duress_tag(&m.public(), &w.net.n), Some(tag));
    for other in [&w.nb, &w.net.a, m] {
        assert_eq!(roster.duress_tag(&m.public(), other), None);
    }
}

/// Finding: any node could write a shelter request under an existing request's id with an
/// earlier time, and the earliest copy won.
#[test]
fn a_shelter_request_cannot_be_shadowed() {
    use crate::event::{ShelterRequestBody, ShelterRequestPayload};
    let w = Wide::new();
    let shelter = rid("casa");
    let node = w.net.n.public();
    let payload = ShelterRequestPayload::sign(&w.net.m, &shelter, &node, "Mario", 2, "hoy");
    let honest = payload
        .seal(
            &shelter,
            "org-a",
            "oaxaca",
            &node,
            &[w.net.a.public(), w.net.m.public()],
        )
        .expect("seals");
    // Another node, the honest id: refused whatever it seals.
    for sealed in [honest.sealed.clone(), vec![1; 64]] {
        let shadow = ShelterRequestBody {
            sealed,
            ..honest.clone()
        };
        assert!(SignedEvent::sign(
            Event {
                author: w.nb.public(),
                at: at(0),
                seq: (at(0)).0 as u64,
                doc: DocId::shelters("oaxaca"),
                body: Body::ShelterRequest(Box::new(shadow)),
            },
            &w.nb,
        )
        .is_err());
    }
    // A copy of the sealed part under its own id is another request, and its payload says
    // it was not meant to be relayed by that node.
    let copy_id = ShelterRequestBody::id_for(&w.nb.public(), &honest.sealed);
    assert_ne!(copy_id, honest.id);
    let copy = ShelterRequestBody {
        id: copy_id,
        ..honest.clone()
    };
    assert_eq!(
        ShelterRequestPayload::open(&copy, &w.nb.public(), &w.net.a),
        None
    );
    let opened = ShelterRequestPayload::open(&honest, &node, &w.net.a).expect("opens");
    assert!(opened.verify(&shelter, &node));
    assert!(!opened.verify(&shelter, &w.nb.public()));
}

/// A region with more security contacts than a sealed part has room for: a check-in with the
/// longest note is still sealed, to the member, her organisation's nodes and as many of the
/// others as fit.
#[test]
fn a_checkin_with_the_longest_note_is_sealed_whatever_the_region_holds() {
    let w = Wide::new();
    let m = w.net.m.public();
    let contacts: Vec<SecretKey> = (0..70).map(|i| key(&format!("contact-{i}"))).collect();
    let adds: Vec<SignedEvent> = contacts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            sign(
                &w.net.a,
                at(10 * MIN + i as i64),
                DocId::roster(),
                Body::AddMember {
                    org: "org-a".into(),
                    member: c.public(),
                    name: format!("Contact {i}"),
                    role: Role::SecurityContact,
                    region: Some("oaxaca".into()),
                },
            )
        })
        .collect();
    let roster = w.roster_with(&adds);
    let readers = roster.checkin_readers(&m);
    assert_eq!(readers.len(), crate::roster::MAX_READERS);
    assert_eq!(readers[0], m);
    assert!(
        readers.contains(&w.net.n.public()),
        "her organisation's node"
    );
    let longest = CheckinPrivate {
        status: CheckinStatus::Danger,
        note: "ñ".repeat(crate::event::MAX_TEXT_BYTES / 2),
        code_tag: [0; 16],
    };
    let t = at(2 * HOUR);
    let sealed = longest.seal(&m, t, &readers).expect("seals");
    assert!(SignedEvent::sign(
        Event {
            author: m,
            at: t,
            seq: (t).0 as u64,
            doc: DocId::checkins("org-a", t),
            body: Body::Checkin(CheckinBody {
                next_due: None,
                sealed,
            }),
        },
        &w.net.m,
    )
    .is_ok());
    assert_eq!(roster.duress_readers(&m).len(), crate::roster::MAX_READERS);
}
