//! Authority that survives a stolen key: revocation by sequence number, whatever the dates;
//! revocations weighed all together; events dated before their author; cloned-key alerts.

use super::*;

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
        sign(by, t, DocId::alerts(&alert.region, t), Body::Alert(alert))
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
        body: Body::Alert(louder),
    };
    assert!(SignedEvent::sign(event, &net.n).is_err());
}
