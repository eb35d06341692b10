//! Authority that survives a stolen key: revocation by sequence number, whatever the dates;
//! revocations weighed all together; events dated before their author; cloned-key alerts.

use super::*;
use crate::event::NetworkChange;

/// Org-a's genesis by `admin` (seq 1), its region, and a second admin `other` (seq 2), plus
/// member `m` (seq 3), all added by `admin`.
fn two_admins(admin: &SecretKey, other: &SecretKey, m: &SecretKey) -> Vec<SignedEvent> {
    let roster = |at: Timestamp, seq, body| sign_seq(admin, at, seq, DocId::roster(), body);
    vec![
        roster(
            at(0),
            1,
            Body::Genesis {
                network: "red".into(),
                org: "org-a".into(),
                node: key("node-a").public(),
                admin_name: "Alice".into(),
                consent: None,
            },
        ),
        roster(
            at(MIN),
            2,
            Body::AddMember {
                org: "org-a".into(),
                member: other.public(),
                name: "Ana".into(),
                role: Role::Admin,
                region: None,
            },
        ),
        roster(
            at(2 * MIN),
            3,
            Body::AddMember {
                org: "org-a".into(),
                member: m.public(),
                name: "Mario".into(),
                role: Role::Member,
                region: None,
            },
        ),
    ]
}

fn revoke(by: &SecretKey, at: Timestamp, seq: u64, who: &SecretKey, last: u64) -> SignedEvent {
    sign_seq(
        by,
        at,
        seq,
        DocId::roster(),
        Body::Revoke {
            key: who.public(),
            reason: "phone seized".into(),
            last,
        },
    )
}

fn checkin(m: &SecretKey, at: Timestamp, seq: u64) -> SignedEvent {
    let sealed = crate::private::CheckinPrivate::without_code(CheckinStatus::Ok, String::new())
        .seal(&m.public(), at, &[m.public()])
        .expect("seals");
    sign_seq(
        m,
        at,
        seq,
        DocId::checkins("org-a", at),
        Body::Checkin(CheckinBody {
            next_due: None,
            sealed,
        }),
    )
}

/// Every order of `events` folds to the same roster (a few rotations and the reverse).
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

#[test]
fn a_revocation_counts_by_sequence_number_whatever_the_dates() {
    let (a, ana, m) = (key("alice"), key("ana"), key("mario"));
    let mut events = two_admins(&a, &ana, &m);
    // Her phone is seized after her check-ins 1 and 2; Alice revokes her, accepting both.
    events.push(revoke(&a, at(HOUR), 4, &m, 2));
    let roster = fold_every_way(&events);
    assert!(!roster.is_active(&m.public()));
    assert_eq!(roster.members[&m.public()].revoked_after, Some(2));

    // Check-in 2, even dated after the revocation, counts: the revocation accepted it.
    assert_eq!(
        roster.authorize(checkin(&m, at(2 * HOUR), 2).event()),
        Ok(())
    );
    // The thief's check-in 3, backdated to before the revocation, counts nowhere.
    assert!(matches!(
        roster.authorize(checkin(&m, at(30 * MIN), 3).event()),
        Err(AuthError::Revoked(_))
    ));
    // Nor does any later number, dated whenever.
    for (t, seq) in [(at(3 * MIN), 1_000), (at(HOUR - 1), u64::MAX)] {
        assert!(matches!(
            roster.authorize(checkin(&m, t, seq).event()),
            Err(AuthError::Revoked(_))
        ));
    }
}

#[test]
fn a_revoked_admins_later_events_count_nowhere_even_backdated() {
    let (a, ana, m) = (key("alice"), key("ana"), key("mario"));
    let mut events = two_admins(&a, &ana, &m);
    events.push(revoke(&a, at(HOUR), 4, &ana, 0));
    // Ana's key, stolen, revokes Mario and adds a member, both backdated before her own
    // revocation; neither counts.
    events.push(revoke(&ana, at(3 * MIN), 1, &m, 0));
    let x = key("stranger");
    events.push(sign_seq(
        &ana,
        at(3 * MIN),
        2,
        DocId::roster(),
        Body::AddMember {
            org: "org-a".into(),
            member: x.public(),
            name: "X".into(),
            role: Role::Admin,
            region: None,
        },
    ));
    let roster = fold_every_way(&events);
    assert!(!roster.is_active(&ana.public()));
    assert!(roster.is_active(&m.public()), "Mario stays");
    assert!(
        !roster.members.contains_key(&x.public()),
        "X was never added"
    );
}

#[test]
fn two_admins_revoking_each_other_are_both_revoked_and_neither_erases_the_other() {
    let (a, ana, m) = (key("alice"), key("ana"), key("mario"));
    let base = two_admins(&a, &ana, &m);
    // Alice revokes Ana (accepting nothing of hers); Ana, backdating further, revokes Alice
    // accepting nothing of hers either, which would erase the genesis and all Alice signed.
    let alice_revokes = revoke(&a, at(HOUR), 4, &ana, 0);
    for ana_at in [at(HOUR + MIN), at(2 * MIN + 1), at(HOUR - 1)] {
        let mut events = base.clone();
        events.push(alice_revokes.clone());
        events.push(revoke(&ana, ana_at, 1, &a, 0));
        let roster = fold_every_way(&events);
        assert!(!roster.is_active(&a.public()), "Alice is revoked");
        assert!(!roster.is_active(&ana.public()), "Ana is revoked");
        // Each keeps what they signed up to their revocation of the other: Alice's genesis and
        // additions stand, whoever dated what.
        assert_eq!(roster.network.as_deref(), Some("red"));
        assert_eq!(roster.members[&a.public()].revoked_after, Some(4));
        assert_eq!(roster.members[&ana.public()].revoked_after, Some(1));
        assert!(
            roster.is_active(&m.public()),
            "Mario, added by Alice, stays"
        );
        // Neither can write anything more for the organisation.
        let add = |by: &SecretKey, seq| {
            sign_seq(
                by,
                at(2 * HOUR),
                seq,
                DocId::roster(),
                Body::DeclareRegion {
                    org: "org-a".into(),
                    region: "oaxaca".into(),
                },
            )
        };
        assert!(roster.authorize(add(&a, 5).event()).is_err());
        assert!(roster.authorize(add(&ana, 2).event()).is_err());
    }
}

#[test]
fn an_event_dated_before_its_author_was_added_counts_nowhere() {
    let (a, ana, m) = (key("alice"), key("ana"), key("mario"));
    let roster = Roster::from_events(&two_admins(&a, &ana, &m));
    let added = roster.members[&m.public()].added_at;
    // Within the clock bound of the addition: a device whose clock is a little behind.
    let behind = checkin(&m, added.plus_ms(-MIN), 1);
    assert_eq!(roster.authorize(behind.event()), Ok(()));
    // A week before: no device writes that, a thief backdating does.
    let backdated = checkin(&m, added.plus_ms(-7 * 24 * HOUR), 2);
    assert!(matches!(
        roster.authorize(backdated.event()),
        Err(AuthError::Forbidden(_))
    ));
}

#[test]
fn a_cloned_key_alert_is_raised_only_by_the_keys_own_organisations_nodes() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let raise = |by: &SecretKey, alert: AlertBody| {
        sign(
            by,
            t,
            DocId::alerts(&alert.region, t),
            Body::Alert(Box::new(alert)),
        )
    };
    let alert = AlertBody::cloned_key(net.m.public(), "org-a");
    assert_eq!(
        roster.authorize(raise(&net.n, alert.clone()).event()),
        Ok(())
    );
    // Not by a person, nor about another organisation's key.
    assert!(roster
        .authorize(raise(&net.a, alert.clone()).event())
        .is_err());
    let about_b = AlertBody::cloned_key(net.b.public(), "org-a");
    assert!(roster.authorize(raise(&net.n, about_b).event()).is_err());
    // Its every field is fixed by the key.
    let mut louder = alert;
    louder.text = "revoke everyone".into();
    let event = Event {
        author: net.n.public(),
        at: t,
        seq: 1,
        doc: DocId::alerts("org-a", t),
        body: Body::Alert(Box::new(louder)),
    };
    assert!(SignedEvent::sign(event, &net.n).is_err());
}

/// Net's org-a and org-b, plus org-c (admin C, node NC, member MC) admitted by A while the
/// network had two organisations, so by A alone.
struct Three {
    net: Net,
    c: SecretKey,
    nc: SecretKey,
    mc: SecretKey,
    events: Vec<SignedEvent>,
}

impl Three {
    fn new() -> Self {
        let net = Net::new();
        let (c, nc, mc) = (key("carla"), key("node-c"), key("mc"));
        let mut events = net.roster_events();
        events.push(sign(
            &net.a,
            at(4 * MIN),
            DocId::roster(),
            Body::AddOrg {
                org: "org-c".into(),
                admin: c.public(),
                admin_name: "Carla".into(),
            },
        ));
        events.push(sign(
            &c,
            at(5 * MIN),
            DocId::roster(),
            Body::AddNode {
                org: "org-c".into(),
                node: nc.public(),
                addrs: Vec::new(),
            },
        ));
        events.push(sign(
            &c,
            at(6 * MIN),
            DocId::roster(),
            Body::AddMember {
                org: "org-c".into(),
                member: mc.public(),
                name: "Mc".into(),
                role: Role::Member,
                region: None,
            },
        ));
        Self {
            net,
            c,
            nc,
            mc,
            events,
        }
    }

    fn agree(&self, by: &SecretKey, t: Timestamp, change: NetworkChange) -> SignedEvent {
        sign(by, t, DocId::roster(), Body::Network { change })
    }
}

#[test]
fn a_single_organisation_cannot_add_another_in_a_network_of_three() {
    let three = Three::new();
    let net = &three.net;
    let roster = Roster::from_events(&three.events);
    assert!(
        roster.in_good_standing("org-c"),
        "two organisations: one admits alone"
    );

    // A proposes org-d; its admin D signs its first node at once (the join).
    let (d, nd) = (key("dora"), key("node-d"));
    let mut events = three.events.clone();
    events.push(sign(
        &net.a,
        at(HOUR),
        DocId::roster(),
        Body::AddOrg {
            org: "org-d".into(),
            admin: d.public(),
            admin_name: "Dora".into(),
        },
    ));
    events.push(sign(
        &d,
        at(HOUR + 1),
        DocId::roster(),
        Body::AddNode {
            org: "org-d".into(),
            node: nd.public(),
            addrs: Vec::new(),
        },
    ));
    let roster = fold_every_way(&events);
    assert!(
        !roster.orgs.contains_key("org-d"),
        "one of three is not enough"
    );
    assert!(!roster.is_active(&nd.public()));
    assert_eq!(
        roster.consent_for(&NetworkChange::Approve {
            org: "org-d".into()
        }),
        (1, 2)
    );

    // B agrees, hours later: org-d is in, dated by its proposal, and so is its node.
    events.push(three.agree(
        &net.b,
        at(5 * HOUR),
        NetworkChange::Approve {
            org: "org-d".into(),
        },
    ));
    let roster = fold_every_way(&events);
    assert!(roster.in_good_standing("org-d"));
    assert_eq!(roster.orgs["org-d"], at(HOUR));
    assert!(roster.is_active(&d.public()));
    assert!(roster.is_active(&nd.public()));
}

#[test]
fn suspension_needs_two_of_three_and_silences_the_nodes_but_not_the_members() {
    let three = Three::new();
    let net = &three.net;
    let suspend = NetworkChange::Suspend {
        org: "org-c".into(),
    };
    let mut events = three.events.clone();
    events.push(three.agree(&net.a, at(HOUR), suspend.clone()));
    let roster = fold_every_way(&events);
    assert!(!roster.suspended.contains("org-c"), "A alone cannot");
    // Nor can org-c's say count on itself, nor a second signature of A's organisation.
    events.push(three.agree(&net.a, at(HOUR + 1), suspend.clone()));
    assert!(!Roster::from_events(&events).suspended.contains("org-c"));

    events.push(three.agree(&net.b, at(2 * HOUR), suspend));
    let roster = fold_every_way(&events);
    assert!(roster.suspended.contains("org-c"));
    assert!(
        !roster.is_active(&three.nc.public()),
        "its node gets nothing more"
    );
    assert!(
        !roster.is_active(&three.c.public()),
        "its admin has no powers"
    );
    assert!(
        roster.is_active(&three.mc.public()),
        "its member may still ask for help"
    );
    // Its node's events count nowhere; its member's panic counts.
    let t = at(3 * HOUR);
    let node_alert = sign(
        &three.nc,
        t,
        DocId::alerts("org-c", t),
        Body::Alert(Box::new(AlertBody::cloned_key(three.mc.public(), "org-c"))),
    );
    assert!(roster.authorize(node_alert.event()).is_err());
    let panic = sign(
        &three.mc,
        t,
        DocId::alerts("org-c", t),
        Body::Alert(Box::new(alert_body(
            AlertBody::id_for(&three.mc.public(), t),
            AlertKind::Panic,
            "org-c",
            "org-c",
            None,
        ))),
    );
    assert_eq!(roster.authorize(panic.event()), Ok(()));
    // A suspended organisation has no say in the network's changes.
    let with_c = {
        let mut e = events.clone();
        e.push(three.agree(
            &three.c,
            at(4 * HOUR),
            NetworkChange::Suspend {
                org: "org-b".into(),
            },
        ));
        e.push(three.agree(
            &net.a,
            at(4 * HOUR),
            NetworkChange::Suspend {
                org: "org-b".into(),
            },
        ));
        Roster::from_events(&e)
    };
    // With org-c out, two organisations stand: A's word alone suspends B (the default for
    // fewer than three), and C's counted nowhere.
    assert!(with_c.suspended.contains("org-b"));

    // Reinstated by two.
    let reinstate = NetworkChange::Reinstate {
        org: "org-c".into(),
    };
    events.push(three.agree(&net.a, at(5 * HOUR), reinstate.clone()));
    events.push(three.agree(&net.b, at(5 * HOUR), reinstate));
    let roster = fold_every_way(&events);
    assert!(roster.in_good_standing("org-c"));
    assert!(roster.is_active(&three.nc.public()));
}

#[test]
fn the_genesis_fixes_how_many_organisations_must_agree() {
    let three = Three::new();
    let net = &three.net;
    // The same network, founded asking every organisation (up to 9) to agree.
    let mut events = three.events.clone();
    events[0] = sign(
        &net.a,
        at(0),
        DocId::roster(),
        Body::Genesis {
            network: "red".into(),
            org: "org-a".into(),
            node: net.n.public(),
            admin_name: "Alice".into(),
            consent: Some(9),
        },
    );
    assert!(
        !Roster::from_events(&events).orgs.contains_key("org-c"),
        "A alone no longer admits org-c"
    );
    let approve = NetworkChange::Approve {
        org: "org-c".into(),
    };
    events.push(three.agree(&net.b, at(4 * MIN), approve));
    assert!(Roster::from_events(&events).in_good_standing("org-c"));
    let remove = NetworkChange::Remove {
        org: "org-c".into(),
    };
    events.push(three.agree(&net.a, at(HOUR), remove.clone()));
    let roster = Roster::from_events(&events);
    assert!(!roster.removed.contains("org-c"));
    assert_eq!(roster.consent_for(&remove), (1, 2), "all who can: A and B");
    events.push(three.agree(&net.b, at(HOUR), remove));
    let roster = Roster::from_events(&events);
    assert!(roster.removed.contains("org-c"));
    assert!(
        !roster.is_active(&three.mc.public()),
        "none of its keys counts"
    );
}
