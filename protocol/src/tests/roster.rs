//! The roster: its fold, its order independence and cost, and who may write what.

use super::*;

#[test]
fn roster_folds_the_fixture() {
    let net = Net::new();
    let roster = net.roster();
    assert_eq!(roster.network.as_deref(), Some("red"));
    assert_eq!(
        roster.orgs.keys().cloned().collect::<Vec<_>>(),
        vec!["org-a".to_string(), "org-b".to_string()]
    );
    let a = &roster.members[&net.a.public()];
    assert_eq!((a.role, a.org.as_str()), (Role::Admin, "org-a"));
    let m = &roster.members[&net.m.public()];
    assert_eq!(
        (m.role, m.org.as_str(), m.region.as_deref(), m.added_at),
        (Role::Member, "org-a", Some("oaxaca"), at(MIN))
    );
    let s = &roster.members[&net.s.public()];
    assert_eq!(s.role, Role::SecurityContact);
    let b = &roster.members[&net.b.public()];
    assert_eq!((b.role, b.org.as_str()), (Role::Admin, "org-b"));
    assert_eq!(roster.nodes[&net.n.public()].org, "org-a");
    assert_eq!(roster.org_of(&net.n.public()), Some("org-a"));
    assert_eq!(roster.org_of(&net.b.public()), Some("org-b"));
    assert_eq!(roster.org_of(&net.x.public()), None);
    assert!(roster.is_active(&net.m.public()));
    assert!(roster.is_active(&net.n.public()));
    assert!(!roster.is_active(&net.x.public()));
    let directory = roster.directory();
    let oaxaca: Vec<PublicKey> = directory["oaxaca"].iter().map(|(k, _)| *k).collect();
    assert_eq!(oaxaca, vec![net.s.public()]);
    assert!(roster.accepts_doc(&DocId::checkins("org-a", at(0))));
    assert!(!roster.accepts_doc(&DocId::checkins("org-z", at(0))));
    // Alerts exist for declared regions and organisations' own names only.
    assert!(roster.accepts_doc(&DocId::alerts("oaxaca", at(0))));
    assert!(roster.accepts_doc(&DocId::alerts("org-b", at(0))));
    assert!(!roster.accepts_doc(&DocId::alerts("anywhere", at(0))));
    assert!(!roster.accepts_doc(&DocId::shelters("anywhere")));
    assert!(roster.declares("org-a", "oaxaca") && !roster.declares("org-b", "oaxaca"));
}

/// A member's region is one their organisation declared; an organisation declares a bounded
/// number of regions, and only its admins do.
#[test]
fn regions_are_declared_by_their_organisations_admins() {
    let net = Net::new();
    let declare = |who: &SecretKey, org: &str, region: &str, t: i64| {
        sign(
            who,
            at(t),
            DocId::roster(),
            Body::DeclareRegion {
                org: org.into(),
                region: region.into(),
            },
        )
    };
    let roster = net.roster();
    // org-a's admin cannot declare for org-b, nor a member for their own organisation.
    assert!(roster
        .authorize(declare(&net.a, "org-b", "chiapas", 10 * MIN).event())
        .is_err());
    assert!(roster
        .authorize(declare(&net.m, "org-a", "chiapas", 10 * MIN).event())
        .is_err());
    // A security contact named for a region their organisation did not declare is refused.
    let add = |region: &str, t: i64| {
        sign(
            &net.b,
            at(t),
            DocId::roster(),
            Body::AddMember {
                org: "org-b".into(),
                member: key(&format!("contact-{region}")).public(),
                name: "C".into(),
                role: Role::SecurityContact,
                region: Some(region.into()),
            },
        )
    };
    assert!(roster.authorize(add("oaxaca", 10 * MIN).event()).is_err());
    let mut events = net.roster_events();
    events.push(declare(&net.b, "org-b", "oaxaca", 10 * MIN));
    events.push(add("oaxaca", 11 * MIN));
    let roster = Roster::from_events(&events);
    assert!(roster.members.contains_key(&key("contact-oaxaca").public()));
    // At most MAX_REGIONS_PER_ORG regions per organisation.
    let mut events = net.roster_events();
    for i in 0..crate::roster::MAX_REGIONS_PER_ORG + 5 {
        events.push(declare(
            &net.b,
            "org-b",
            &format!("r{i}"),
            10 * MIN + i as i64,
        ));
    }
    let roster = Roster::from_events(&events);
    let declared = roster
        .regions
        .values()
        .filter(|orgs| orgs.contains("org-b"))
        .count();
    assert_eq!(declared, crate::roster::MAX_REGIONS_PER_ORG);
}

#[test]
fn roster_does_not_depend_on_event_order() {
    let net = Net::new();
    // B (org-b) adds a member and a node with a clock behind the event that adds B, so those
    // events wait for B's organisation; M is revoked; and a second genesis is refused.
    let c = key("carmen");
    let nb = key("node-b");
    let mut events = net.roster_events();
    events.push(sign(
        &net.b,
        at(MIN / 4),
        DocId::roster(),
        Body::DeclareRegion {
            org: "org-b".into(),
            region: "chiapas".into(),
        },
    ));
    events.push(sign(
        &net.b,
        at(MIN / 2),
        DocId::roster(),
        Body::AddMember {
            org: "org-b".into(),
            member: c.public(),
            name: "Carmen".into(),
            role: Role::SecurityContact,
            region: Some("chiapas".into()),
        },
    ));
    events.push(sign(
        &net.b,
        at(4 * MIN),
        DocId::roster(),
        Body::AddNode {
            org: "org-b".into(),
            node: nb.public(),
            addrs: vec!["/ip4/10.0.0.2/tcp/4001".into()],
        },
    ));
    events.push(net.revoke(&net.m, at(5 * MIN)));
    events.push(sign(
        &net.x,
        at(6 * MIN),
        DocId::roster(),
        Body::Genesis {
            network: "usurper".into(),
            org: "org-x".into(),
            node: net.x.public(),
            admin_name: "X".into(),
            consent: None,
        },
    ));

    let reference = Roster::from_events(&events);
    assert_eq!(reference.network.as_deref(), Some("red"));
    assert_eq!(reference.members[&c.public()].org, "org-b");
    assert_eq!(reference.nodes[&nb.public()].org, "org-b");
    assert_eq!(
        reference.members[&net.m.public()].revoked_at,
        Some(at(5 * MIN))
    );
    assert!(!reference.members.contains_key(&net.x.public()));
    assert!(!reference.orgs.contains_key("org-x"));

    // Ten events have 3.6 million orders: 20,000 seeded shuffles stand in for them.
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for _ in 0..20_000 {
        let mut order: Vec<usize> = (0..events.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        let shuffled: Vec<&SignedEvent> = order.iter().map(|&i| &events[i]).collect();
        assert_eq!(Roster::from_events(shuffled), reference, "order {order:?}");
    }
    let reversed: Vec<&SignedEvent> = events.iter().rev().collect();
    assert_eq!(Roster::from_events(reversed), reference);
}

/// A chain of `links` admins, each added by the one before in an event dated before the event
/// that added its author: the worst order for a fold that retries unknown authors by passes.
fn backdated_chain(links: usize) -> Vec<SignedEvent> {
    let admins: Vec<SecretKey> = (0..=links)
        .map(|i| SecretKey::derive("chain", &i.to_le_bytes()))
        .collect();
    let mut events = vec![sign(
        &admins[0],
        at(0),
        DocId::roster(),
        Body::Genesis {
            network: "red".into(),
            org: "org-a".into(),
            node: key("node-a").public(),
            admin_name: "A0".into(),
            consent: None,
        },
    )];
    for i in 0..links {
        events.push(sign(
            &admins[i],
            at(HOUR - i as i64),
            DocId::roster(),
            Body::AddMember {
                org: "org-a".into(),
                member: admins[i + 1].public(),
                name: format!("A{}", i + 1),
                role: Role::Admin,
                region: None,
            },
        ));
    }
    events
}

#[test]
fn a_backdated_chain_folds_in_n_log_n_work() {
    let links = 20_000;
    let events = backdated_chain(links);
    let (roster, work) = Roster::from_events_with_work(&events);
    assert_eq!(roster.members.len(), links + 1, "every link is applied");
    let n = events.len() as u64;
    let log_n = u64::from(n.ilog2()) + 1;
    assert!(
        work <= 4 * n * log_n,
        "{work} applications for {n} events (bound {})",
        4 * n * log_n
    );
}

/// A deterministic pseudo-random source for generated inputs (xorshift64*, no dependency).
struct Rng(u64);

impl Rng {
    /// A number below `n`.
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// 2 to 21 random roster events over a few keys and organisations, with clashing times,
/// conflicting additions, revocations (of keys known or not yet) and second geneses. The first
/// is a genesis by the first key, an admin whose events others may wait for.
fn random_roster_events(rng: &mut Rng) -> Vec<SignedEvent> {
    let keys: Vec<SecretKey> = (0..5u8)
        .map(|i| SecretKey::derive("random", &[i]))
        .collect();
    let orgs = ["org-a", "org-b", "org-c"];
    let count = 2 + rng.below(20);
    let mut events = Vec::new();
    for n in 0..count {
        let author = &keys[if n == 0 { 0 } else { rng.below(keys.len()) }];
        let t = at(rng.below(6) as i64 * MIN);
        let org = orgs[rng.below(orgs.len())].to_string();
        let other = keys[rng.below(keys.len())].public();
        let body = match if n == 0 { 0 } else { 1 + rng.below(6) } {
            0 | 1 => Body::Genesis {
                network: "red".into(),
                org,
                node: other,
                admin_name: "G".into(),
                consent: None,
            },
            2 => Body::AddOrg {
                org,
                admin: other,
                admin_name: "O".into(),
            },
            3 => Body::AddNode {
                org,
                node: other,
                addrs: vec![format!("/ip4/10.0.0.{}/tcp/1", rng.below(9))],
            },
            4 => Body::Revoke {
                key: other,
                reason: "r".into(),
                last: t.0 as u64 - 1,
            },
            _ => Body::AddMember {
                org,
                member: other,
                name: "M".into(),
                role: [Role::Member, Role::SecurityContact, Role::Admin][rng.below(3)],
                region: None,
            },
        };
        events.push(sign(author, t, DocId::roster(), body));
    }
    events
}

/// A batch a peer might send after a genesis by `admin` in org-a: admins adding admins,
/// members and nodes of their own organisation and revoking its keys, at random times (so
/// that many events wait for the one that adds their author), with now and then a key added
/// twice or a revocation of a key added later.
fn random_valid_ish_batch(rng: &mut Rng, admin: &SecretKey) -> Vec<SignedEvent> {
    let pool: Vec<SecretKey> = (0..200u8)
        .map(|i| SecretKey::derive("batch", &[i]))
        .collect();
    let mut admins: Vec<&SecretKey> = vec![admin];
    let mut added: Vec<PublicKey> = Vec::new();
    let mut events = Vec::new();
    for _ in 0..2 + rng.below(24) {
        let author = admins[rng.below(admins.len())];
        let t = at(rng.below(20) as i64 * MIN);
        let fresh = &pool[rng.below(pool.len())];
        let body = match rng.below(24) {
            0..=2 if !added.is_empty() => Body::Revoke {
                key: added[rng.below(added.len())],
                reason: "r".into(),
                last: t.0 as u64 - 1,
            },
            3 => Body::Revoke {
                key: fresh.public(),
                reason: "r".into(),
                last: t.0 as u64 - 1,
            },
            4..=6 => Body::AddNode {
                org: "org-a".into(),
                node: fresh.public(),
                addrs: Vec::new(),
            },
            n => Body::AddMember {
                org: "org-a".into(),
                member: fresh.public(),
                name: "M".into(),
                role: if n < 16 { Role::Admin } else { Role::Member },
                region: None,
            },
        };
        match &body {
            Body::AddMember { member, role, .. } => {
                added.push(*member);
                if *role == Role::Admin {
                    admins.push(fresh);
                }
            }
            Body::AddNode { node, .. } => added.push(*node),
            _ => {}
        }
        events.push(sign(author, t, DocId::roster(), body));
    }
    events
}

/// `events` in a random order.
fn shuffled<'a>(events: &'a [SignedEvent], rng: &mut Rng) -> Vec<&'a SignedEvent> {
    let mut out: Vec<&SignedEvent> = events.iter().collect();
    for i in (1..out.len()).rev() {
        out.swap(i, rng.below(i + 1));
    }
    out
}

#[test]
fn the_roster_fold_matches_the_fold_by_passes_on_random_events() {
    // In random orders, the worklist gives the roster the passes gave.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut differing_orders = 0;
    for round in 0..1500 {
        let events = random_roster_events(&mut rng);
        let (reference, passes_work) = Roster::from_events_by_passes(&events);
        for _ in 0..4 {
            let (roster, work, folds) =
                Roster::from_events_counting_folds(shuffled(&events, &mut rng));
            assert_eq!(roster, reference, "round {round}: {events:?}");
            // Each fold tries every event at most twice; a second fold only for revocations.
            assert!(work <= 2 * events.len() as u64 * folds as u64);
            let revokes = events
                .iter()
                .any(|e| matches!(e.event().body, Body::Revoke { .. }));
            assert!(folds == 1 || revokes, "round {round}: {folds} folds");
            if work < passes_work {
                differing_orders += 1;
            }
        }
    }
    assert!(
        differing_orders > 0,
        "some inputs needed more than one pass"
    );
}

#[test]
fn roster_batches_are_authorised_as_the_passes_did_on_random_events() {
    // A peer's batch on top of a roster that has only the genesis (or nothing): the worklist
    // allows exactly the batches the passes allowed, and refuses the others with the same error.
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let (mut allowed, mut refused) = (0, 0);
    let net = Net::new();
    let genesis_only = Roster::from_events([&net.genesis]);
    for round in 0..3000 {
        let (roster, events) = if round % 2 == 0 {
            let events = random_roster_events(&mut rng);
            let base = if rng.below(4) == 0 { 0 } else { 1 };
            (
                Roster::from_events(&events[..base]),
                events[base..].to_vec(),
            )
        } else {
            (
                genesis_only.clone(),
                random_valid_ish_batch(&mut rng, &net.a),
            )
        };
        let batch = &events[..];
        let (reference, _) = crate::doc::authorize_roster_batch_by_passes(batch, &roster);
        let mut order: Vec<SignedEvent> = shuffled(batch, &mut rng).into_iter().cloned().collect();
        let (result, work) = crate::doc::authorize_roster_batch(&order, &roster);
        assert_eq!(
            format!("{result:?}"),
            format!("{reference:?}"),
            "round {round}: {batch:?}"
        );
        assert!(work <= 3 * batch.len() as u64);
        order.reverse();
        let (again, _) = crate::doc::authorize_roster_batch(&order, &roster);
        assert_eq!(format!("{again:?}"), format!("{reference:?}"));
        match reference {
            Ok(()) => allowed += 1,
            Err(_) => refused += 1,
        }
    }
    assert!(
        allowed > 300 && refused > 300,
        "{allowed} allowed, {refused} refused"
    );
}

#[test]
fn roster_authorizes_alerts_and_checkins() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let ok = |e: &SignedEvent| roster.authorize(e.event());
    let forbidden =
        |e: &SignedEvent| matches!(roster.authorize(e.event()), Err(AuthError::Forbidden(_)));

    // Check-ins: a member in their own organisation's document only.
    assert_eq!(
        ok(&checkin_event(&net.m, t, CheckinStatus::Ok, None)),
        Ok(())
    );
    let elsewhere = sign(
        &net.m,
        t,
        DocId::checkins("org-b", t),
        Body::Checkin(CheckinBody {
            next_due: None,
            sealed: sealed_checkin(CheckinStatus::Ok, String::new()),
        }),
    );
    assert!(forbidden(&elsewhere));
    // Nodes do not check in.
    assert!(forbidden(&checkin_event(
        &net.n,
        t,
        CheckinStatus::Ok,
        None
    )));

    // Panics: a member for their own organisation; not a node.
    assert_eq!(ok(&panic_event(&net.m, t)), Ok(()));
    assert!(forbidden(&alert_event(
        &net.m,
        t,
        AlertKind::Panic,
        "org-b"
    )));
    assert!(forbidden(&panic_event(&net.n, t)));

    // Region-wide alerts: security contacts and admins, not members.
    let kind_alert = |k: &SecretKey, org: &str| alert_event(k, t, AlertKind::Alert, org);
    assert!(forbidden(&kind_alert(&net.m, "org-a")));
    assert_eq!(ok(&kind_alert(&net.s, "org-a")), Ok(()));
    assert_eq!(ok(&kind_alert(&net.a, "org-a")), Ok(()));
    assert!(forbidden(&kind_alert(&net.s, "org-b")));
    assert!(forbidden(&kind_alert(&net.n, "org-a")));

    // Acknowledge, assign, resolve (M's panic).
    let panic = alert_id(&net.m, t);
    let ack = |k: &SecretKey| alert_action(k, t, Body::Ack { alert: panic });
    let assign = |k: &SecretKey, who: PublicKey| {
        alert_action(
            k,
            t,
            Body::Assign {
                alert: panic,
                assignee: who,
            },
        )
    };
    let resolve = |k: &SecretKey| {
        alert_action(
            k,
            t,
            Body::Resolve {
                alert: panic,
                note: "safe".into(),
                checkin: None,
            },
        )
    };
    assert_eq!(ok(&ack(&net.m)), Ok(()));
    assert_eq!(ok(&ack(&net.s)), Ok(()));
    assert!(forbidden(&ack(&net.n)));
    assert_eq!(ok(&assign(&net.s, net.m.public())), Ok(()));
    assert!(forbidden(&assign(&net.m, net.m.public())));
    assert!(forbidden(&assign(&net.s, net.x.public())));
    assert!(forbidden(&assign(&net.s, net.n.public())));
    assert_eq!(ok(&resolve(&net.s)), Ok(()));
    // A node resolves only a missed check-in, citing the member's check-in.
    assert!(forbidden(&resolve(&net.n)));
    assert!(forbidden(&resolve(&net.m)));

    // Missed check-ins: nodes and responders, about a known member of the organisation.
    let missed = |k: &SecretKey, subject: &SecretKey, org: &str| {
        missed_event(k, t, subject.public(), t.plus_ms(-10 * MIN), org)
    };
    assert_eq!(ok(&missed(&net.n, &net.m, "org-a")), Ok(()));
    assert_eq!(ok(&missed(&net.s, &net.m, "org-a")), Ok(()));
    assert!(forbidden(&missed(&net.m, &net.s, "org-a")));
    assert!(forbidden(&missed(&net.n, &net.m, "org-b")));
    assert!(forbidden(&missed(&net.n, &net.x, "org-a")));

    // Unknown authors.
    assert_eq!(
        ok(&panic_event(&net.x, t)),
        Err(AuthError::UnknownAuthor(net.x.public().fmt_short()))
    );
    assert!(matches!(
        ok(&checkin_event(&net.x, t, CheckinStatus::Ok, None)),
        Err(AuthError::UnknownAuthor(_))
    ));
}

#[test]
fn roster_authorizes_roster_events() {
    let net = Net::new();
    let mut roster = net.roster();
    let t = at(HOUR);
    let roster_event = |k: &SecretKey, body: Body| sign(k, t, DocId::roster(), body);
    let add_member = |k: &SecretKey, org: &str, member: PublicKey| {
        roster_event(
            k,
            Body::AddMember {
                org: org.into(),
                member,
                name: "New".into(),
                role: Role::Member,
                region: None,
            },
        )
    };
    let forbidden = |roster: &Roster, e: &SignedEvent| {
        matches!(roster.authorize(e.event()), Err(AuthError::Forbidden(_)))
    };

    // A second genesis, even by the first admin.
    let genesis2 = roster_event(
        &net.a,
        Body::Genesis {
            network: "again".into(),
            org: "org-c".into(),
            node: net.x.public(),
            admin_name: "A".into(),
            consent: None,
        },
    );
    assert!(forbidden(&roster, &genesis2));
    // A genesis is allowed in an empty roster, whoever signs it.
    assert_eq!(Roster::default().authorize(genesis2.event()), Ok(()));

    // Members and security contacts do not add members; admins add to their own org only.
    assert!(forbidden(
        &roster,
        &add_member(&net.m, "org-a", net.x.public())
    ));
    assert!(forbidden(
        &roster,
        &add_member(&net.s, "org-a", net.x.public())
    ));
    assert!(forbidden(
        &roster,
        &add_member(&net.a, "org-b", net.x.public())
    ));
    assert!(forbidden(
        &roster,
        &add_member(&net.n, "org-a", net.x.public())
    ));
    assert_eq!(
        roster.authorize(add_member(&net.b, "org-b", net.x.public()).event()),
        Ok(())
    );
    // A key already in the roster cannot be added again (roles are fixed).
    assert!(forbidden(
        &roster,
        &add_member(&net.a, "org-a", net.m.public())
    ));
    assert!(forbidden(
        &roster,
        &add_member(&net.a, "org-a", net.n.public())
    ));

    // Organisations: admins only, new slug, new key.
    let add_org = |k: &SecretKey, org: &str, admin: PublicKey| {
        roster_event(
            k,
            Body::AddOrg {
                org: org.into(),
                admin,
                admin_name: "C".into(),
            },
        )
    };
    assert_eq!(
        roster.authorize(add_org(&net.b, "org-c", net.x.public()).event()),
        Ok(())
    );
    assert!(forbidden(
        &roster,
        &add_org(&net.s, "org-c", net.x.public())
    ));
    assert!(forbidden(
        &roster,
        &add_org(&net.a, "org-b", net.x.public())
    ));
    assert!(forbidden(
        &roster,
        &add_org(&net.a, "org-c", net.m.public())
    ));

    // Nodes: an organisation's admins, a new key or a node of the same organisation.
    let add_node = |k: &SecretKey, org: &str, node: PublicKey| {
        roster_event(
            k,
            Body::AddNode {
                org: org.into(),
                node,
                addrs: vec!["/ip4/10.0.0.9/tcp/1".into()],
            },
        )
    };
    assert_eq!(
        roster.authorize(add_node(&net.a, "org-a", net.x.public()).event()),
        Ok(())
    );
    let readd = add_node(&net.a, "org-a", net.n.public());
    assert_eq!(roster.apply(&readd), Ok(()));
    assert_eq!(
        roster.nodes[&net.n.public()].addrs,
        vec!["/ip4/10.0.0.9/tcp/1".to_string()]
    );
    assert!(forbidden(
        &roster,
        &add_node(&net.b, "org-b", net.n.public())
    ));
    assert!(forbidden(
        &roster,
        &add_node(&net.a, "org-a", net.m.public())
    ));
    assert!(forbidden(
        &roster,
        &add_node(&net.s, "org-a", net.x.public())
    ));

    // Revocations: an organisation's admins, of its own keys.
    let revoke = |k: &SecretKey, who: PublicKey| {
        roster_event(
            k,
            Body::Revoke {
                key: who,
                reason: String::new(),
                last: 0,
            },
        )
    };
    assert!(forbidden(&roster, &revoke(&net.b, net.m.public())));
    assert!(forbidden(&roster, &revoke(&net.s, net.m.public())));
    assert!(forbidden(&roster, &revoke(&net.a, net.x.public())));
    assert_eq!(
        roster.authorize(revoke(&net.a, net.n.public()).event()),
        Ok(())
    );

    // A refused event leaves the roster as it was.
    let before = roster.clone();
    assert!(roster.apply(&genesis2).is_err());
    assert!(roster
        .apply(&add_member(&net.m, "org-a", net.x.public()))
        .is_err());
    assert_eq!(roster, before);
}

#[test]
fn revocation_keeps_events_in_flight() {
    let net = Net::new();
    let revoked_at = at(HOUR);
    let mut events = net.roster_events();
    events.push(net.revoke(&net.m, revoked_at));
    events.push(net.revoke(&net.n, revoked_at));
    let roster = Roster::from_events(&events);
    assert_eq!(roster.members[&net.m.public()].revoked_at, Some(revoked_at));
    assert!(!roster.is_active(&net.m.public()));
    assert!(!roster.is_active(&net.n.public()));
    assert!(roster.is_active(&net.s.public()));

    let before = checkin_event(&net.m, revoked_at.plus_ms(-1), CheckinStatus::Ok, None);
    let same = checkin_event(&net.m, revoked_at, CheckinStatus::Ok, None);
    let after = checkin_event(&net.m, revoked_at.plus_ms(1), CheckinStatus::Ok, None);
    assert_eq!(roster.authorize(before.event()), Ok(()));
    assert_eq!(
        roster.authorize(same.event()),
        Err(AuthError::Revoked(net.m.public().fmt_short()))
    );
    assert!(matches!(
        roster.authorize(after.event()),
        Err(AuthError::Revoked(_))
    ));
    let missed =
        |t: Timestamp| missed_event(&net.n, t, net.s.public(), t.plus_ms(-10 * MIN), "org-a");
    assert_eq!(
        roster.authorize(missed(revoked_at.plus_ms(-1)).event()),
        Ok(())
    );
    assert!(matches!(
        roster.authorize(missed(revoked_at).event()),
        Err(AuthError::Revoked(_))
    ));

    // A later revocation does not push the revocation time back.
    let mut later = events.clone();
    later.push(net.revoke(&net.m, revoked_at.plus_ms(HOUR)));
    let roster2 = Roster::from_events(&later);
    assert_eq!(
        roster2.members[&net.m.public()].revoked_at,
        Some(revoked_at)
    );

    // A revoked security contact leaves the directory.
    let mut events3 = net.roster_events();
    events3.push(net.revoke(&net.s, revoked_at));
    let roster3 = Roster::from_events(&events3);
    assert!(!roster3.directory().contains_key("oaxaca"));
}

/// A new organisation's admin signs its node's first `AddNode` before the `AddOrg` that admits
/// them (the join flow), so the fold applies it late, after the node's later announcement.
/// The later announcement must still win.
#[test]
fn the_latest_address_announcement_wins_whatever_order_the_fold_applies() {
    let net = Net::new();
    let nb = key("node-b");
    let announce = |t: i64, addr: &str| {
        sign(
            &net.b,
            at(t),
            DocId::roster(),
            Body::AddNode {
                org: "org-b".into(),
                node: nb.public(),
                addrs: vec![addr.into()],
            },
        )
    };
    // add_org_b is at 3 minutes: the first announcement precedes it.
    let mut events = net.roster_events();
    events.push(announce(2 * MIN + 30_000, "/ip4/10.0.0.2/tcp/4717"));
    events.push(announce(10 * MIN, "/ip4/10.0.0.1/tcp/4717/p2p-circuit"));
    let roster = Roster::from_events(&events);
    let node = roster.nodes.get(&nb.public()).expect("node-b");
    assert_eq!(
        node.addrs,
        vec!["/ip4/10.0.0.1/tcp/4717/p2p-circuit".to_string()]
    );
    assert_eq!(node.added_at, at(2 * MIN + 30_000));
    // Same result in any arrival order.
    events.reverse();
    assert_eq!(Roster::from_events(&events), roster);
}

#[test]
fn a_backdated_chain_in_one_sync_message_is_authorised_in_n_log_n_work() {
    // The same chain as one peer's message brings it to the roster document: every event
    // must be allowed, the batch's own events authorising later ones.
    let links = 20_000;
    let mut events = backdated_chain(links);
    let genesis = events.remove(0);
    let roster = Roster::from_events([&genesis]);
    let (result, work) = crate::doc::authorize_roster_batch(&events, &roster);
    assert!(result.is_ok(), "{result:?}");
    let n = events.len() as u64;
    let log_n = u64::from(n.ilog2()) + 1;
    assert!(
        work <= 4 * n * log_n,
        "{work} applications for {n} events (bound {})",
        4 * n * log_n
    );
}
