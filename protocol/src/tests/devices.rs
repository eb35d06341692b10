//! A person, not a key: further devices, moves to a new key, and what the views show of a
//! person with several keys. Every roster here is folded in several orders to the same result.

use super::*;
use crate::event::Replaced;

/// A device grant by `by` (under `seq`), as its node would embed it.
fn grant(by: &SecretKey, t: Timestamp, seq: u64) -> Vec<u8> {
    sign_seq(
        by,
        t,
        seq,
        DocId::roster(),
        Body::DeviceGrant {
            identity: key("invite identity").public(),
            expires: t.plus_ms(HOUR),
        },
    )
    .to_bytes()
}

/// `AddDevice` by `admin` of org-a.
fn add_device(
    admin: &SecretKey,
    t: Timestamp,
    person: &SecretKey,
    device: &SecretKey,
    grant: Option<Vec<u8>>,
    replaces: Option<Replaced>,
) -> SignedEvent {
    sign(
        admin,
        t,
        DocId::roster(),
        Body::AddDevice {
            org: "org-a".into(),
            person: person.public(),
            device: device.public(),
            grant,
            replaces: replaces.map(Box::new),
        },
    )
}

fn revoke_upto(admin: &SecretKey, t: Timestamp, who: &SecretKey, last: u64) -> SignedEvent {
    sign(
        admin,
        t,
        DocId::roster(),
        Body::Revoke {
            key: who.public(),
            reason: "phone lost".into(),
            last,
        },
    )
}

/// Every order of `events` folds to the same roster (rotations and their reverses).
fn fold_every_way(events: &[SignedEvent]) -> Roster {
    let reference = Roster::from_events(events);
    for turn in 0..events.len() {
        let mut order: Vec<&SignedEvent> = events.iter().collect();
        order.rotate_left(turn);
        assert_eq!(Roster::from_events(order.iter().copied()), reference);
        order.reverse();
        assert_eq!(Roster::from_events(order.iter().copied()), reference);
    }
    reference
}

/// A check-in by `device` under `seq`, due again at `next_due`.
fn checkin_seq(
    device: &SecretKey,
    t: Timestamp,
    seq: u64,
    next_due: Option<Timestamp>,
) -> SignedEvent {
    let sealed =
        crate::private::CheckinPrivate::without_code(CheckinStatus::Ok, format!("at {}", t.0))
            .seal(&device.public(), t, &[device.public(), node_key().public()])
            .expect("seals");
    sign_seq(
        device,
        t,
        seq,
        DocId::checkins("org-a", t),
        Body::Checkin(CheckinBody { next_due, sealed }),
    )
}

#[test]
fn a_second_device_is_the_same_person_and_either_checks_in_for_them() {
    let net = Net::new();
    let phone = key("mario phone 2");
    let mut events = net.roster_events();
    events.push(add_device(
        &net.a,
        at(10 * MIN),
        &net.m,
        &phone,
        Some(grant(&net.m, at(9 * MIN), 7)),
        None,
    ));
    let roster = fold_every_way(&events);
    let d = &roster.members[&phone.public()];
    let first = &roster.members[&net.m.public()];
    assert_eq!(
        (&d.name, &d.org, d.role, &d.region),
        (&first.name, &first.org, first.role, &first.region)
    );
    assert_eq!(roster.person_of(&phone.public()), net.m.public());
    assert_eq!(roster.person_of(&net.m.public()), net.m.public());
    assert_eq!(
        roster.devices_of(&net.m.public()),
        vec![net.m.public(), phone.public()]
    );
    assert!(roster.is_active(&phone.public()));

    // One person in the check-ins, with the latest check-in whichever device made it.
    let first_checkin = checkin_seq(&net.m, at(HOUR), 10, Some(at(7 * HOUR)));
    let second = checkin_seq(&phone, at(2 * HOUR), 1, Some(at(8 * HOUR)));
    let shown = view::checkins(&roster, [&first_checkin, &second], NOW, Some(&node_key()));
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].member, net.m.public().to_string());
    assert_eq!(shown[0].device, Some(phone.public().to_string()));
    assert_eq!(shown[0].at_ms, at(2 * HOUR).0);
    assert_eq!(
        shown[0].note.as_deref(),
        Some(format!("at {}", at(2 * HOUR).0).as_str())
    );
    // A reader opens it on their device: its sealed part is bound to the device that wrote
    // it, which the view names.
    let mut on_device = view::checkins(&roster, [&first_checkin, &second], NOW, None);
    on_device[0].open_with(&phone);
    assert_eq!(on_device[0].status, Some(CheckinStatus::Ok));
    let shown = view::checkins(
        &roster,
        [&second, &checkin_seq(&net.m, at(3 * HOUR), 11, None)],
        NOW,
        None,
    );
    assert_eq!((shown.len(), shown[0].device.as_ref()), (1, None));

    // Each device reads what the other writes, and neither reads a duress alert about them.
    assert!(roster
        .checkin_readers(&net.m.public())
        .contains(&phone.public()));
    assert!(roster
        .checkin_readers(&phone.public())
        .contains(&net.m.public()));
    for k in [net.m.public(), phone.public()] {
        let readers = roster.duress_readers(&k);
        assert!(!readers.contains(&net.m.public()) && !readers.contains(&phone.public()));
        assert!(readers.contains(&net.s.public()));
    }
}

#[test]
fn a_missed_checkin_is_the_persons_and_a_later_checkin_from_either_device_resolves_it() {
    let net = Net::new();
    let phone = key("mario phone 2");
    let mut events = net.roster_events();
    events.push(add_device(&net.a, at(10 * MIN), &net.m, &phone, None, None));
    let roster = fold_every_way(&events);
    let due = at(2 * HOUR);
    let missed = missed_event(&net.n, at(3 * HOUR), net.m.public(), due, "org-a");
    let later = checkin_seq(&phone, at(4 * HOUR), 1, None);
    let resolve = |cited: &SignedEvent| {
        alert_action(
            &net.n,
            at(4 * HOUR + MIN),
            Body::Resolve {
                alert: AlertBody::missed_checkin_id(&net.m.public(), due),
                note: "checked in".into(),
                checkin: Some(cited.to_bytes()),
            },
        )
    };
    let by_phone = resolve(&later);
    let alerts = view::alerts(&roster, [&missed, &by_phone], NOW);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].subject, Some(net.m.public().to_string()));
    assert_eq!(alerts[0].status, "resolved");
    // A check-in of someone else's resolves nothing.
    let other = resolve(&checkin_seq(&net.s, at(4 * HOUR), 1, None));
    let alerts = view::alerts(&roster, [&missed, &other], NOW);
    assert_eq!(alerts[0].status, "open");
}

#[test]
fn a_move_adds_the_new_key_and_revokes_the_old_in_the_same_event() {
    let net = Net::new();
    let new_phone = key("mario new phone");
    let mut events = net.roster_events();
    let panic_before = sign_seq(
        &net.m,
        at(HOUR),
        1,
        DocId::alerts("oaxaca", at(HOUR)),
        Body::Alert(Box::new(alert_body(
            alert_id(&net.m, at(HOUR)),
            AlertKind::Panic,
            "oaxaca",
            "org-a",
            None,
        ))),
    );
    let before = checkin_seq(&net.m, at(HOUR), 2, None);
    let thief = checkin_seq(&net.m, at(3 * HOUR), 3, None);
    events.push(add_device(
        &net.a,
        at(2 * HOUR),
        &net.m,
        &new_phone,
        None,
        Some(Replaced {
            key: net.m.public(),
            last: 2,
        }),
    ));
    let roster = fold_every_way(&events);
    assert!(!roster.is_active(&net.m.public()));
    assert_eq!(roster.members[&net.m.public()].revoked_after, Some(2));
    assert!(roster.is_active(&new_phone.public()));
    assert!(roster.person_is_active(&net.m.public()));
    assert_eq!(roster.members[&new_phone.public()].name, "Mario");
    assert!(roster.authorize(thief.event()).is_err());
    assert!(roster.authorize(before.event()).is_ok());

    // The person's history stays theirs: the old key's panic and the new key's both show as
    // raised by the person.
    let panic_after = panic_event(&new_phone, at(4 * HOUR));
    let alerts = view::alerts(&roster, [&panic_before, &panic_after], NOW);
    assert_eq!(alerts.len(), 2);
    for a in &alerts {
        assert_eq!(a.author_person, Some(net.m.public().to_string()));
        assert_eq!(a.author_name.as_deref(), Some("Mario"));
    }
    // The check-ins show one person; the old key's check-in after the move counts nowhere.
    let after = checkin_seq(&new_phone, at(5 * HOUR), 1, None);
    let shown = view::checkins(&roster, [&before, &thief, &after], NOW, None);
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].at_ms, at(5 * HOUR).0);
    let shown = view::checkins(&roster, [&before, &thief], NOW, None);
    assert_eq!(shown[0].at_ms, at(HOUR).0);

    // A move weighed against an earlier revocation keeps the smaller limit.
    let mut both = events.clone();
    both.push(revoke_upto(&net.a, at(90 * MIN), &net.m, 1));
    let roster = fold_every_way(&both);
    assert_eq!(roster.members[&net.m.public()].revoked_after, Some(1));
    assert!(roster.is_active(&new_phone.public()));
}

#[test]
fn a_device_revoked_before_it_asked_adds_nobody_on_any_node() {
    let net = Net::new();
    let (stolen, added) = (key("mario phone 2"), key("thief's phone"));
    let mut events = net.roster_events();
    events.push(add_device(
        &net.a,
        at(10 * MIN),
        &net.m,
        &stolen,
        None,
        None,
    ));
    // The stolen phone is revoked after its event 3; a node that had not heard of it yet
    // answered the thief's request, signed under number 4.
    events.push(revoke_upto(&net.a, at(HOUR), &stolen, 3));
    events.push(add_device(
        &net.a,
        at(2 * HOUR),
        &net.m,
        &added,
        Some(grant(&stolen, at(2 * HOUR), 4)),
        None,
    ));
    let roster = fold_every_way(&events);
    assert!(!roster.members.contains_key(&added.public()));
    assert!(!roster.is_active(&stolen.public()));
    // Revoking one device leaves the person's others.
    assert!(roster.is_active(&net.m.public()));
    assert!(roster.person_is_active(&net.m.public()));

    // A grant within what the revocation accepts (number 3) still counts.
    let mut earlier = events.clone();
    earlier.pop();
    earlier.push(add_device(
        &net.a,
        at(2 * HOUR),
        &net.m,
        &added,
        Some(grant(&stolen, at(50 * MIN), 3)),
        None,
    ));
    let roster = fold_every_way(&earlier);
    assert!(roster.is_active(&added.public()));
    assert_eq!(roster.person_of(&added.public()), net.m.public());

    // Revoking every device revokes the person.
    earlier.push(revoke_upto(&net.a, at(3 * HOUR), &net.m, 0));
    earlier.push(revoke_upto(&net.a, at(3 * HOUR + 1), &added, 0));
    let roster = fold_every_way(&earlier);
    assert!(!roster.person_is_active(&net.m.public()));
}

#[test]
fn only_the_persons_organisations_admins_add_devices_to_a_person_of_the_roster() {
    let net = Net::new();
    let phone = key("mario phone 2");
    let roster = {
        let mut events = net.roster_events();
        events.push(add_device(
            &net.a,
            at(10 * MIN),
            &net.m,
            &key("laptop"),
            None,
            None,
        ));
        Roster::from_events(&events)
    };
    let by = |author: &SecretKey, org: &str, person: &SecretKey, device: &SecretKey| {
        sign(
            author,
            at(HOUR),
            DocId::roster(),
            Body::AddDevice {
                org: org.into(),
                person: person.public(),
                device: device.public(),
                grant: None,
                replaces: None,
            },
        )
    };
    let refused =
        |e: &SignedEvent| matches!(roster.authorize(e.event()), Err(AuthError::Forbidden(_)));
    assert!(roster
        .authorize(by(&net.a, "org-a", &net.m, &phone).event())
        .is_ok());
    // A member cannot add a device for themself, nor another organisation's admin.
    assert!(refused(&by(&net.m, "org-a", &net.m, &phone)));
    assert!(refused(&by(&net.b, "org-b", &net.m, &phone)));
    assert!(refused(&by(&net.b, "org-a", &net.m, &phone)));
    // The person is named by the key they were added with, and the device is new.
    assert!(refused(&by(&net.a, "org-a", &key("laptop"), &phone)));
    assert!(refused(&by(&net.a, "org-a", &net.x, &phone)));
    assert!(refused(&by(&net.a, "org-a", &net.m, &net.s)));
    // A grant by someone else's device, or a move of someone else's key, counts nowhere.
    let foreign = Body::AddDevice {
        org: "org-a".into(),
        person: net.m.public(),
        device: phone.public(),
        grant: Some(grant(&net.s, at(HOUR), 1)),
        replaces: None,
    };
    assert!(refused(&sign(&net.a, at(HOUR), DocId::roster(), foreign)));
    let moved = Body::AddDevice {
        org: "org-a".into(),
        person: net.m.public(),
        device: phone.public(),
        grant: None,
        replaces: Some(Box::new(Replaced {
            key: net.s.public(),
            last: 0,
        })),
    };
    assert!(refused(&sign(&net.a, at(HOUR), DocId::roster(), moved)));
    // A grant never counts on its own.
    let alone = sign_seq(
        &net.m,
        at(HOUR),
        1,
        DocId::roster(),
        Body::DeviceGrant {
            identity: phone.public(),
            expires: at(2 * HOUR),
        },
    );
    assert!(refused(&alone));
}

#[test]
fn malformed_device_additions_do_not_sign_or_decode() {
    let net = Net::new();
    let phone = key("mario phone 2");
    let event = |body| Event {
        author: net.a.public(),
        at: at(HOUR),
        seq: 1,
        doc: DocId::roster(),
        body,
    };
    let body = |person: &SecretKey, device: &SecretKey, grant| Body::AddDevice {
        org: "org-a".into(),
        person: person.public(),
        device: device.public(),
        grant,
        replaces: None,
    };
    // The person's own key is no new device; a grant must be a device grant by another key.
    let checkin = checkin_seq(&net.m, at(HOUR), 1, None).to_bytes();
    for bad in [
        body(&net.m, &net.m, None),
        body(&net.m, &phone, Some(checkin)),
        body(&net.m, &phone, Some(grant(&phone, at(HOUR), 1))),
        body(&net.m, &phone, Some(b"not an event".to_vec())),
    ] {
        let e = event(bad);
        assert!(SignedEvent::sign(e.clone(), &net.a).is_err());
        assert!(SignedEvent::decode(&forge(&e, &net.a)).is_err());
    }
    // Outside the roster document.
    let mut misplaced = event(body(&net.m, &phone, None));
    misplaced.doc = DocId::checkins("org-a", at(HOUR));
    assert!(SignedEvent::sign(misplaced, &net.a).is_err());
}

#[test]
fn a_security_contact_with_two_devices_is_listed_once_and_each_device_has_its_duress_tag() {
    let net = Net::new();
    let tablet = key("sofia tablet");
    let mut events = net.roster_events();
    events.push(add_device(
        &net.a,
        at(10 * MIN),
        &net.s,
        &tablet,
        None,
        None,
    ));
    for (who, seq) in [(&net.s, 1), (&tablet, 1)] {
        events.push(sign_seq(
            who,
            at(20 * MIN),
            seq,
            DocId::roster(),
            Body::DuressSet {
                sealed: vec![seq as u8; 64],
            },
        ));
    }
    let roster = fold_every_way(&events);
    let oaxaca = &roster.directory()["oaxaca"];
    assert_eq!(oaxaca.len(), 1);
    assert_eq!(oaxaca[0].0, net.s.public());
    assert!(roster.duress.contains_key(&net.s.public()));
    assert!(roster.duress.contains_key(&tablet.public()));
    assert!(roster.region_contacts("oaxaca").contains(&tablet.public()));
}
