//! Views folded from events: alerts and their history, check-ins, shelters.

use super::*;

#[test]
fn alert_lifecycle() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let id = alert_id(&net.m, t);
    let events = [
        panic_event(&net.m, t),
        alert_action(&net.s, t.plus_ms(MIN), Body::Ack { alert: id }),
        alert_action(
            &net.s,
            t.plus_ms(2 * MIN),
            Body::Assign {
                alert: id,
                assignee: net.m.public(),
            },
        ),
        alert_action(
            &net.s,
            t.plus_ms(3 * MIN),
            Body::Resolve {
                alert: id,
                note: "safe at home".into(),
                checkin: None,
            },
        ),
    ];
    let now = t.plus_ms(HOUR);
    let statuses: Vec<String> = (1..=events.len())
        .map(|n| {
            let list = view::alerts(&roster, &events[..n], now);
            assert_eq!(list.len(), 1);
            list[0].status.clone()
        })
        .collect();
    assert_eq!(statuses, ["open", "acknowledged", "assigned", "resolved"]);

    // The order events arrive in does not matter.
    let reversed: Vec<&SignedEvent> = events.iter().rev().collect();
    let list = view::alerts(&roster, reversed, now);
    assert_eq!(list, view::alerts(&roster, &events, now));
    let alert = &list[0];
    assert_eq!(alert.id, id.to_string());
    assert_eq!(alert.kind, AlertKind::Panic);
    assert_eq!(alert.author, net.m.public().to_string());
    assert_eq!(alert.author_name.as_deref(), Some("Mario"));
    assert_eq!(alert.created_at, t.rfc3339());
    assert_eq!(alert.doc, DocId::alerts("oaxaca", t).to_string());
    assert_eq!(alert.assignee, Some(net.m.public().to_string()));
    let actions: Vec<&str> = alert.history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["raised", "acknowledged", "assigned", "resolved"]);
    let event_ids: Vec<String> = events.iter().map(|e| e.id().to_string()).collect();
    let history_ids: Vec<String> = alert.history.iter().map(|h| h.event.clone()).collect();
    assert_eq!(history_ids, event_ids);
    assert_eq!(alert.history[1].by, net.s.public().to_string());
    assert_eq!(alert.history[1].by_name.as_deref(), Some("Sofia"));
    assert_eq!(alert.history[2].detail, Some(net.m.public().to_string()));
    let resolution = alert.resolution.as_ref().expect("resolved");
    assert_eq!(resolution.detail.as_deref(), Some("safe at home"));
    assert_eq!(alert.acknowledgements.len(), 1);
}

#[test]
fn alerts_fold_acks_and_receipts_dated_at_the_ends_of_time() {
    // Delays are differences of peer-supplied times; at i64::MIN and i64::MAX they must
    // saturate, not overflow (a panic in debug builds, a wrong sign in release).
    let net = Net::new();
    let mut roster = net.roster();
    // As if everyone had been added at the start of time, so that no date is before its
    // author's addition.
    roster
        .members
        .values_mut()
        .for_each(|m| m.added_at = Timestamp(i64::MIN));
    roster
        .nodes
        .values_mut()
        .for_each(|n| n.added_at = Timestamp(i64::MIN));
    for (raised, late) in [
        (at(0), Timestamp(i64::MIN)),
        (Timestamp(i64::MIN), Timestamp(i64::MAX)),
        (Timestamp(i64::MAX), Timestamp(i64::MIN)),
    ] {
        let doc = DocId::alerts("oaxaca", raised);
        let receipts = DocId::receipts_for(&doc).expect("an alerts document");
        let panic_id = alert_id(&net.m, raised);
        let events = [
            stored(
                &net.m,
                raised,
                doc.clone(),
                Body::Alert(Box::new(alert_body(
                    panic_id,
                    AlertKind::Panic,
                    "oaxaca",
                    "org-a",
                    None,
                ))),
            ),
            stored(&net.s, late, doc.clone(), Body::Ack { alert: panic_id }),
            stored(
                &net.n,
                late,
                receipts,
                Body::Held {
                    alerts: vec![panic_id],
                },
            ),
        ];
        let views = view::alerts(&roster, &events, at(0));
        assert_eq!(views.len(), 1);
        let v = &views[0];
        let expected = late.0.saturating_sub(raised.0);
        assert_eq!(v.first_ack_after_ms, Some(expected));
        assert_eq!(v.held_by.len(), 1);
        assert_eq!(v.held_by[0].after_ms, expected);
    }
}

#[test]
fn acknowledgements_count_each_person_once() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let id = alert_id(&net.m, t);
    let events = [
        panic_event(&net.m, t),
        alert_action(&net.s, t.plus_ms(1), Body::Ack { alert: id }),
        alert_action(&net.s, t.plus_ms(2), Body::Ack { alert: id }),
        alert_action(&net.a, t.plus_ms(3), Body::Ack { alert: id }),
    ];
    let list = view::alerts(&roster, &events, t.plus_ms(HOUR));
    let acks: Vec<&str> = list[0]
        .acknowledgements
        .iter()
        .map(|a| a.by.as_str())
        .collect();
    let (s, a) = (net.s.public().to_string(), net.a.public().to_string());
    assert_eq!(acks, [s.as_str(), a.as_str()]);
    assert_eq!(
        list[0].acknowledgements[0].event,
        events[1].id().to_string()
    );
    assert_eq!(list[0].status, "acknowledged");
}

#[test]
fn actions_refer_to_alerts_of_their_own_document() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let id = alert_id(&net.m, t);
    // A resolve for the same record id but in another region's document is not about it.
    let elsewhere = sign(
        &net.s,
        t.plus_ms(1),
        DocId::alerts("chiapas", t),
        Body::Resolve {
            alert: id,
            note: "wrong".into(),
            checkin: None,
        },
    );
    let list = view::alerts(&roster, &[panic_event(&net.m, t), elsewhere], t);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, "open");
    assert_eq!(list[0].history.len(), 1);
}

#[test]
fn concurrent_missed_checkins_fold_into_one_alert() {
    let net = Net::new();
    let roster = net.roster();
    let due = at(HOUR);
    let id = AlertBody::missed_checkin_id(&net.m.public(), due);
    let by_node = missed_event(&net.n, due.plus_ms(10 * MIN), net.m.public(), due, "org-a");
    let by_contact = missed_event(&net.s, due.plus_ms(11 * MIN), net.m.public(), due, "org-a");
    assert_ne!(by_node.id(), by_contact.id());
    let later = checkin_event(&net.m, due.plus_ms(15 * MIN), CheckinStatus::Ok, None);
    let resolve = alert_action(
        &net.n,
        due.plus_ms(20 * MIN),
        Body::Resolve {
            alert: id,
            note: "checked in".into(),
            checkin: Some(later.to_bytes()),
        },
    );
    let now = due.plus_ms(HOUR);
    for events in [
        vec![by_node.clone(), by_contact.clone()],
        vec![by_contact.clone(), by_node.clone()],
    ] {
        let list = view::alerts(&roster, &events, now);
        assert_eq!(list.len(), 1, "one alert");
        assert_eq!(list[0].id, id.to_string());
        assert_eq!(list[0].kind, AlertKind::MissedCheckin);
        assert_eq!(list[0].subject, Some(net.m.public().to_string()));
        // The earliest raiser is the author, whatever the arrival order.
        assert_eq!(list[0].author, net.n.public().to_string());
        assert_eq!(list[0].history.len(), 1);
        assert_eq!(list[0].status, "open");
    }
    let list = view::alerts(&roster, &[by_contact, by_node, resolve], now);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, "resolved");
}

#[test]
fn alerts_by_a_revoked_key_after_revocation_are_hidden() {
    let net = Net::new();
    let revoked_at = at(2 * HOUR);
    let mut roster_events = net.roster_events();
    roster_events.push(net.revoke(&net.m, revoked_at));
    let roster = Roster::from_events(&roster_events);
    let before = panic_event(&net.m, revoked_at.plus_ms(-MIN));
    let after = panic_event(&net.m, revoked_at.plus_ms(MIN));
    let ack_after = alert_action(
        &net.m,
        revoked_at.plus_ms(2 * MIN),
        Body::Ack {
            alert: alert_id(&net.m, revoked_at.plus_ms(-MIN)),
        },
    );
    let now = revoked_at.plus_ms(HOUR);
    let events = [before, after, ack_after];
    let list = view::alerts(&roster, &events, now);
    let shown: Vec<String> = list.iter().map(|a| a.id.clone()).collect();
    assert_eq!(
        shown,
        [alert_id(&net.m, revoked_at.plus_ms(-MIN)).to_string()]
    );
    assert_eq!(list[0].status, "open", "the late acknowledgement is hidden");
    // Before the revocation was known, both showed.
    assert_eq!(view::alerts(&net.roster(), &events, now).len(), 2);
    // Events by unknown keys never show.
    let stranger = panic_event(&net.x, at(HOUR));
    assert!(view::alerts(&roster, &[stranger], now).is_empty());
}

#[test]
fn alerts_are_listed_newest_first_and_expire() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let mut expiring = alert_body(
        alert_id(&net.s, t),
        AlertKind::Alert,
        "oaxaca",
        "org-a",
        None,
    );
    expiring.expires_at = Some(t.plus_ms(MIN));
    let old = sign(
        &net.s,
        t,
        DocId::alerts("oaxaca", t),
        Body::Alert(Box::new(expiring)),
    );
    let new = panic_event(&net.m, t.plus_ms(2 * MIN));
    let list = view::alerts(&roster, &[old.clone(), new.clone()], t.plus_ms(HOUR));
    let shown: Vec<String> = list.iter().map(|a| a.id.clone()).collect();
    assert_eq!(
        shown,
        [
            alert_id(&net.m, t.plus_ms(2 * MIN)).to_string(),
            alert_id(&net.s, t).to_string()
        ]
    );
    assert_eq!(list[1].status, "expired");
    assert_eq!(list[0].status, "open");
    // Not yet expired.
    let list = view::alerts(&roster, &[old], t);
    assert_eq!(list[0].status, "open");
}

#[test]
fn latest_checkin_wins_and_overdue_follows_next_due() {
    let net = Net::new();
    let roster = net.roster();
    let t1 = at(HOUR);
    let t2 = at(3 * HOUR);
    let first = checkin_event(&net.m, t1, CheckinStatus::Danger, Some(t1.plus_ms(HOUR)));
    let second = checkin_event(&net.m, t2, CheckinStatus::Ok, Some(t2.plus_ms(HOUR)));
    let by_s = checkin_event(&net.s, t1, CheckinStatus::NeedHelp, None);
    for events in [
        vec![first.clone(), second.clone(), by_s.clone()],
        vec![by_s.clone(), second.clone(), first.clone()],
    ] {
        let list = view::checkins(&roster, &events, t2.plus_ms(MIN), Some(&net.n));
        assert_eq!(list.len(), 2);
        // Sorted by name: Mario, Sofia.
        let m = &list[0];
        assert_eq!(m.member, net.m.public().to_string());
        assert_eq!(m.name, "Mario");
        assert_eq!(m.status, Some(CheckinStatus::Ok));
        assert_eq!(m.note, Some(format!("note at {}", t2.0)));
        assert_eq!(m.at, t2.rfc3339());
        assert_eq!(m.next_due, Some(t2.plus_ms(HOUR).rfc3339()));
        assert!(!m.overdue);
        assert_eq!(m.security_contacts, ["Sofia".to_string()]);
        assert_eq!(list[1].name, "Sofia");
        assert!(!list[1].overdue, "no next check-in set, never overdue");
    }
    let events = [first, second];
    let overdue = view::checkins(&roster, &events, t2.plus_ms(HOUR + 1), None);
    assert!(overdue[0].overdue);
    let exactly_due = view::checkins(&roster, &events, t2.plus_ms(HOUR), None);
    assert!(!exactly_due[0].overdue);
    // Check-ins by strangers are left out.
    let stranger = checkin_event(&net.x, t1, CheckinStatus::Ok, None);
    assert!(view::checkins(&roster, &[stranger], t2, None).is_empty());
}

fn occupancy_event(
    key: &SecretKey,
    t: Timestamp,
    shelter: RecordId,
    org: &str,
    delta: i32,
) -> SignedEvent {
    sign(
        key,
        t,
        DocId::shelters("oaxaca"),
        Body::Occupancy {
            shelter,
            org: org.into(),
            region: "oaxaca".into(),
            delta,
        },
    )
}

#[test]
fn shelter_occupancy_counts_the_operator_only() {
    let net = Net::new();
    let roster = net.roster();
    let id = rid("casa");
    let mut events = vec![
        shelter_event(&net.a, at(HOUR), id, "org-a", 10),
        occupancy_event(&net.a, at(HOUR + 1), id, "org-a", 3),
        occupancy_event(&net.s, at(HOUR + 2), id, "org-a", 2),
        occupancy_event(&net.n, at(HOUR + 3), id, "org-a", -1),
    ];
    let list = view::shelters(&roster, &events);
    assert_eq!(list.len(), 1);
    let s = &list[0];
    assert_eq!(s.id, id.to_string());
    assert_eq!((s.capacity, s.occupancy, s.available), (10, 4, 6));
    assert_eq!(s.status, ShelterStatus::Open);
    assert_eq!(s.org, "org-a");
    assert_eq!(s.updated_at, at(HOUR).rfc3339());

    // Another organisation's responder may not count for the shelter...
    let foreign = occupancy_event(&net.b, at(HOUR + 4), id, "org-a", 5);
    assert!(matches!(
        roster.authorize(foreign.event()),
        Err(AuthError::Forbidden(_))
    ));
    // ...nor may a member of the operator, or a stranger.
    let by_member = occupancy_event(&net.m, at(HOUR + 5), id, "org-a", 5);
    assert!(matches!(
        roster.authorize(by_member.event()),
        Err(AuthError::Forbidden(_))
    ));
    let by_stranger = occupancy_event(&net.x, at(HOUR + 6), id, "org-a", 5);
    // Under its own organisation it is allowed, but it is not the operator's count.
    let own_org = occupancy_event(&net.b, at(HOUR + 7), id, "org-b", 5);
    assert_eq!(roster.authorize(own_org.event()), Ok(()));
    events.extend([foreign, by_member, by_stranger, own_org]);
    let list = view::shelters(&roster, &events);
    assert_eq!((list[0].occupancy, list[0].available), (4, 6));

    // Six more arrive: full.
    events.push(occupancy_event(&net.s, at(HOUR + 8), id, "org-a", 6));
    let list = view::shelters(&roster, &events);
    assert_eq!((list[0].occupancy, list[0].available), (10, 0));
    assert_eq!(list[0].status, ShelterStatus::Full);
    // Beyond capacity stays full with nothing available.
    events.push(occupancy_event(&net.s, at(HOUR + 9), id, "org-a", 2));
    let list = view::shelters(&roster, &events);
    assert_eq!((list[0].occupancy, list[0].available), (12, 0));
    assert_eq!(list[0].status, ShelterStatus::Full);
    // Departures free places again; occupancy never goes below zero.
    events.push(occupancy_event(&net.s, at(HOUR + 10), id, "org-a", -100));
    let list = view::shelters(&roster, &events);
    assert_eq!((list[0].occupancy, list[0].available), (0, 10));
    assert_eq!(list[0].status, ShelterStatus::Open);
}

#[test]
fn shelter_description_newest_wins_and_is_written_by_its_org() {
    let net = Net::new();
    let roster = net.roster();
    let id = rid("casa");
    let first = shelter_event(&net.a, at(HOUR), id, "org-a", 10);
    let update = shelter_event(&net.s, at(2 * HOUR), id, "org-a", 20);
    for events in [
        vec![first.clone(), update.clone()],
        vec![update.clone(), first.clone()],
    ] {
        let list = view::shelters(&roster, &events);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].capacity, 20);
        assert_eq!(list[0].updated_at, at(2 * HOUR).rfc3339());
    }
    // A member may not describe a shelter; nor may anyone for another organisation.
    let by_member = shelter_event(&net.m, at(HOUR), rid("m"), "org-a", 5);
    assert!(matches!(
        roster.authorize(by_member.event()),
        Err(AuthError::Forbidden(_))
    ));
    let for_other = shelter_event(&net.a, at(HOUR), rid("o"), "org-b", 5);
    assert!(matches!(
        roster.authorize(for_other.event()),
        Err(AuthError::Forbidden(_))
    ));
    assert_eq!(view::shelters(&roster, &[by_member, for_other]).len(), 0);
}

#[test]
fn another_organisation_cannot_take_over_a_shelter() {
    let net = Net::new();
    let roster = net.roster();
    let id = rid("casa");
    let mut events = vec![
        shelter_event(&net.a, at(HOUR), id, "org-a", 10),
        occupancy_event(&net.a, at(HOUR + 1), id, "org-a", 3),
    ];
    let before = view::shelters(&roster, &events);
    assert_eq!(before.len(), 1);

    // B, org-b's admin, describes org-a's shelter id as org-b's, later: allowed by the roster
    // (org-b writes for org-b), and B counts people for it under org-b.
    let takeover = sign(
        &net.b,
        at(2 * HOUR),
        DocId::shelters("oaxaca"),
        Body::Shelter(Box::new(ShelterBody {
            id,
            org: "org-b".into(),
            name: "Cerrado".into(),
            region: "oaxaca".into(),
            capacity: 1,
            services: Vec::new(),
            accepts: Vec::new(),
            contact: "+52 951 999 9999".into(),
            status: ShelterStatus::Closed,
        })),
    );
    assert_eq!(roster.authorize(takeover.event()), Ok(()));
    events.push(takeover);
    events.push(occupancy_event(&net.b, at(2 * HOUR + 1), id, "org-b", 1));

    // The shelter stays org-a's as it was, whatever the order the events come in; org-b's
    // description under the same id is a shelter of org-b's, not a change to org-a's.
    let reversed: Vec<SignedEvent> = events.iter().rev().cloned().collect();
    for events in [&events, &reversed] {
        let list = view::shelters(&roster, events);
        assert_eq!(list.len(), 2);
        let s = list
            .iter()
            .find(|s| s.org == "org-a")
            .expect("org-a's shelter");
        assert_eq!(s, &before[0]);
        assert_eq!(s.name.as_str(), "Casa Refugio");
        assert_eq!((s.capacity, s.occupancy, s.available), (10, 3, 7));
        assert_eq!(s.status, ShelterStatus::Open);
        assert_eq!(s.contact, "+52 951 000 0000");
        let b = list
            .iter()
            .find(|s| s.org == "org-b")
            .expect("org-b's own entry");
        assert_eq!((b.name.as_str(), b.occupancy), ("Cerrado", 1));
    }

    // Backdating does not help: an org-b description claiming the earliest time changes
    // nothing of org-a's.
    let backdated = sign(
        &net.b,
        Timestamp(0),
        DocId::shelters("oaxaca"),
        Body::Shelter(Box::new(ShelterBody {
            id,
            org: "org-b".into(),
            name: "Antes".into(),
            region: "oaxaca".into(),
            capacity: 0,
            services: Vec::new(),
            accepts: Vec::new(),
            contact: String::new(),
            status: ShelterStatus::Closed,
        })),
    );
    events.push(backdated);
    let list = view::shelters(&roster, &events);
    assert_eq!(list.iter().find(|s| s.org == "org-a"), Some(&before[0]));

    // Org-a's own later description still applies.
    events.push(shelter_event(&net.s, at(3 * HOUR), id, "org-a", 20));
    let list = view::shelters(&roster, &events);
    let a = list
        .iter()
        .find(|s| s.org == "org-a")
        .expect("org-a's shelter");
    assert_eq!(a.capacity, 20);
    assert_eq!(a.updated_at, at(3 * HOUR).rfc3339());
}

/// A missed check-in cannot hide a panic by claiming its id, and only the member's own
/// organisation raises one.
#[test]
fn missed_checkins_cannot_shadow_a_panic() {
    let net = Net::new();
    let roster = net.roster();
    let panic = panic_event(&net.m, at(2 * HOUR));
    let panic_id = alert_id(&net.m, at(2 * HOUR));
    // Org-a's node cannot claim the panic's id for a missed check-in: the id must derive
    // from the member and due time.
    let shadow = SignedEvent::sign(
        Event {
            author: net.n.public(),
            at: at(HOUR),
            seq: (at(HOUR)).0 as u64,
            doc: DocId::alerts("oaxaca", at(HOUR)),
            body: Body::Alert(Box::new(AlertBody {
                due: Some(at(0)),
                ..alert_body(
                    panic_id,
                    AlertKind::MissedCheckin,
                    "oaxaca",
                    "org-a",
                    Some(net.m.public()),
                )
            })),
        },
        &net.n,
    );
    assert!(shadow.is_err());
    // Even under a correctly derived id, a missed check-in never hides a panic in the view.
    let honest_missed = missed_event(&net.n, at(HOUR), net.m.public(), at(0), "org-a");
    for events in [
        vec![panic.clone(), honest_missed.clone()],
        vec![honest_missed, panic],
    ] {
        let alerts = view::alerts(&roster, &events, at(3 * HOUR));
        assert!(alerts
            .iter()
            .any(|a| a.kind == AlertKind::Panic && a.author == net.m.public().to_string()));
    }
    // Org-b's admin may not raise a missed check-in about org-a's member at all.
    let foreign = missed_event(&net.b, at(HOUR), net.m.public(), at(0), "org-a");
    assert!(matches!(
        roster.authorize(foreign.event()),
        Err(AuthError::Forbidden(_))
    ));
}

/// A bridge's deliveries show once per bridge name, whichever nodes delivered, and claims not
/// at all; escalation tiers count in order, each once, and only from nodes.
#[test]
fn notifications_and_escalations_fold_into_the_alert() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let doc = DocId::alerts("oaxaca", t);
    let receipts = DocId::receipts_for(&doc).expect("an alerts document");
    let id = alert_id(&net.m, t);
    let notified = |delivered: bool, bridge: &str, after: i64| {
        sign(
            &net.n,
            t.plus_ms(after),
            receipts.clone(),
            Body::Notified {
                alert: id,
                bridge: bridge.into(),
                channel: crate::event::Channel::Email,
                delivered,
            },
        )
    };
    let escalate = |key: &SecretKey, tier: u8, after: i64| {
        sign(
            key,
            t.plus_ms(after),
            doc.clone(),
            Body::Escalate { alert: id, tier },
        )
    };
    let events = [
        panic_event(&net.m, t),
        notified(false, "guardia", 10),
        notified(true, "guardia", 20),
        notified(true, "guardia", 30),
        notified(true, "sms", 40),
        // Tier 2 before tier 1 counts nowhere; tier 1 twice counts once.
        escalate(&net.n, 2, 50),
        escalate(&net.n, 1, 60),
        escalate(&net.n, 1, 70),
        // A member does not escalate.
        escalate(&net.m, 2, 80),
    ];
    let views = view::alerts(&roster, &events, t.plus_ms(HOUR));
    let v = &views[0];
    let names: Vec<&str> = v.notified.iter().map(|n| n.bridge.as_str()).collect();
    assert_eq!(names, ["guardia", "sms"]);
    assert_eq!(v.notified[0].after_ms, 20);
    assert_eq!(v.notified[0].node, net.n.public().to_string());
    assert_eq!(v.escalation, 1);
    let actions: Vec<&str> = v.history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["raised", "notified", "notified", "escalated"]);
    assert_eq!(
        v.status, "open",
        "notifications and escalations answer nothing"
    );
    // The order events arrive in does not matter.
    let reversed: Vec<&SignedEvent> = events.iter().rev().collect();
    assert_eq!(view::alerts(&roster, reversed, t.plus_ms(HOUR)), views);
    // Tiers beyond the last, notifications outside a receipts document: refused at signing.
    let bad_tier = Event {
        author: net.n.public(),
        at: t,
        seq: (t).0 as u64,
        doc: doc.clone(),
        body: Body::Escalate { alert: id, tier: 4 },
    };
    assert!(SignedEvent::sign(bad_tier, &net.n).is_err());
    let misplaced = Event {
        author: net.n.public(),
        at: t,
        seq: (t).0 as u64,
        doc,
        body: Body::Notified {
            alert: id,
            bridge: "guardia".into(),
            channel: crate::event::Channel::Exec,
            delivered: true,
        },
    };
    assert!(SignedEvent::sign(misplaced, &net.n).is_err());
}
