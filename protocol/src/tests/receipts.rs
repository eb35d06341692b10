//! Delivery receipts: who writes them, where, and how the alert view counts them.

use super::*;

fn held_event(key: &SecretKey, t: Timestamp, alerts: Vec<RecordId>) -> SignedEvent {
    let receipts = DocId::receipts_for(&DocId::alerts("oaxaca", t));
    sign(
        key,
        t,
        receipts.expect("an alerts document"),
        Body::Held { alerts },
    )
}

#[test]
fn receipts_are_written_by_nodes_in_receipt_documents_only() {
    let net = Net::new();
    let roster = net.roster();
    let p = panic_event(&net.m, at(HOUR));
    let id = alert_id(&net.m, at(HOUR));
    assert_eq!(
        roster.authorize(held_event(&net.n, at(HOUR + 1), vec![id]).event()),
        Ok(())
    );
    // People do not sign receipts, strangers neither.
    for who in [&net.a, &net.s, &net.m] {
        assert!(matches!(
            roster.authorize(held_event(who, at(HOUR + 1), vec![id]).event()),
            Err(AuthError::Forbidden(_))
        ));
    }
    assert!(matches!(
        roster.authorize(held_event(&net.x, at(HOUR + 1), vec![id]).event()),
        Err(AuthError::UnknownAuthor(_))
    ));
    // Field rules: non-empty, increasing, bounded, and only in a receipts document.
    let bad = |alerts: Vec<RecordId>, doc: DocId| {
        SignedEvent::sign(
            Event {
                author: net.n.public(),
                at: at(HOUR),
                seq: (at(HOUR)).0 as u64,
                doc,
                body: Body::Held { alerts },
            },
            &net.n,
        )
    };
    let alerts_doc = DocId::alerts("oaxaca", at(HOUR));
    let receipts_doc = DocId::receipts_for(&alerts_doc).expect("an alerts document");
    assert_eq!(
        receipts_doc.as_str(),
        format!("receipts/oaxaca/{}", at(HOUR).month())
    );
    assert_eq!(receipts_doc.collection(), crate::ids::Collection::Receipts);
    assert_eq!(
        receipts_doc.as_str().parse::<DocId>(),
        Ok(receipts_doc.clone())
    );
    assert_eq!(DocId::receipts_for(&receipts_doc), None);
    assert!(bad(vec![], receipts_doc.clone()).is_err());
    let mut two = vec![rid("a"), rid("b")];
    two.sort();
    let mut reversed = two.clone();
    reversed.reverse();
    assert!(bad(reversed, receipts_doc.clone()).is_err());
    assert!(bad(vec![rid("a"), rid("a")], receipts_doc.clone()).is_err());
    assert!(bad(two.clone(), receipts_doc.clone()).is_ok());
    let too_many: BTreeSet<RecordId> = (0..=crate::event::MAX_HELD)
        .map(|i| rid(&i.to_string()))
        .collect();
    assert!(bad(too_many.into_iter().collect(), receipts_doc).is_err());
    // Not in the alerts document itself: an alert's document keeps its few writers.
    assert!(bad(two.clone(), alerts_doc).is_err());
    assert!(bad(two, DocId::shelters("oaxaca")).is_err());
    // The receipt goes in the receipts document paired with the alert's.
    assert_eq!(
        DocId::receipts_for(&p.event().doc),
        Some(
            held_event(&net.n, at(HOUR + 1), vec![id])
                .event()
                .doc
                .clone()
        )
    );
}

/// org-b's own security contact for Oaxaca (org-b declares the region first), added by its
/// admin after `t`.
fn org_b_contact(net: &Net, t: Timestamp) -> (SecretKey, Vec<SignedEvent>) {
    let contact = key("bruno");
    let events = vec![
        sign(
            &net.b,
            t,
            DocId::roster(),
            Body::DeclareRegion {
                org: "org-b".into(),
                region: "oaxaca".into(),
            },
        ),
        sign(
            &net.b,
            t.plus_ms(1),
            DocId::roster(),
            Body::AddMember {
                org: "org-b".into(),
                member: contact.public(),
                name: "Bruno".into(),
                role: Role::SecurityContact,
                region: Some("oaxaca".into()),
            },
        ),
    ];
    (contact, events)
}

/// A second node of org-b, added by its admin.
fn org_b_node(net: &Net) -> (SecretKey, SignedEvent) {
    let nb = key("node-b");
    let add_nb = sign(
        &net.b,
        at(4 * MIN),
        DocId::roster(),
        Body::AddNode {
            org: "org-b".into(),
            node: nb.public(),
            addrs: vec![],
        },
    );
    (nb, add_nb)
}

#[test]
fn only_the_alerts_organisation_and_its_regions_contacts_nodes_sign_receipts() {
    let net = Net::new();
    let (nb, add_nb) = org_b_node(&net);
    let mut roster_events = net.roster_events();
    roster_events.push(add_nb);
    let roster = Roster::from_events(&roster_events);
    let p = panic_event(&net.m, at(HOUR));
    let body = &p.event().body;
    // Mario's alert is org-a's; org-a also has Oaxaca's only security contact. org-b's node
    // would tell Mario nothing.
    let signers = crate::receipts::receipt_signers(&roster, "org-a", "oaxaca");
    assert_eq!(
        signers.into_iter().collect::<Vec<_>>(),
        vec![net.n.public()]
    );
    assert!(crate::receipts::signs_receipt_for(
        &roster,
        &net.n.public(),
        body
    ));
    assert!(!crate::receipts::signs_receipt_for(
        &roster,
        &nb.public(),
        body
    ));
    // Not a node, or no alert: no receipt.
    assert!(!crate::receipts::signs_receipt_for(
        &roster,
        &net.s.public(),
        body
    ));
    let ack = alert_action(&net.s, at(HOUR + 1), Body::Ack { alert: rid("x") });
    assert!(!crate::receipts::signs_receipt_for(
        &roster,
        &net.n.public(),
        &ack.event().body
    ));

    // Once org-b has a security contact for Oaxaca, its node signs too; for another region's
    // alert of org-b, org-a's node does not.
    let (_, contact) = org_b_contact(&net, at(5 * MIN));
    roster_events.extend(contact);
    let roster = Roster::from_events(&roster_events);
    assert!(crate::receipts::signs_receipt_for(
        &roster,
        &nb.public(),
        body
    ));
    assert_eq!(
        crate::receipts::receipt_signers(&roster, "org-a", "oaxaca").len(),
        2
    );
    assert_eq!(
        crate::receipts::receipt_signers(&roster, "org-b", "guerrero")
            .into_iter()
            .collect::<Vec<_>>(),
        vec![nb.public()]
    );
}

#[test]
fn alert_view_counts_each_expected_nodes_receipt_once() {
    let net = Net::new();
    let (nb, add_nb) = org_b_node(&net);
    let mut roster_events = net.roster_events();
    roster_events.push(add_nb);
    let roster = Roster::from_events(&roster_events);
    let p = panic_event(&net.m, at(HOUR));
    let id = alert_id(&net.m, at(HOUR));
    let other = rid("not-an-alert-here");
    let mut ids = vec![id, other];
    ids.sort();
    let events = vec![
        p,
        held_event(&net.n, at(HOUR + 40), vec![id]),
        // A second receipt by the same node does not count twice.
        held_event(&net.n, at(HOUR + 90), ids.clone()),
        // A receipt in another month's receipts document is not for this alert (dated before
        // that month, it is refused at decode now; the view holds its own line all the same).
        stored(
            &nb,
            at(HOUR + 1_000),
            DocId::receipts_for(&DocId::alerts("oaxaca", at(HOUR).plus_ms(40 * 24 * HOUR)))
                .expect("an alerts document"),
            Body::Held { alerts: vec![id] },
        ),
        held_event(&nb, at(HOUR + 2_000), ids),
        alert_action(&net.s, at(HOUR + 40_000), Body::Ack { alert: id }),
    ];
    let list = view::alerts(&roster, &events, at(2 * HOUR));
    assert_eq!(
        list.len(),
        1,
        "a receipt naming an unknown id makes no alert"
    );
    // org-b has no security contact for Oaxaca: its node is not expected to sign, and the
    // receipt it signed all the same (as nodes did before) is left out of "held by n of m".
    let a = &list[0];
    assert_eq!(a.network_nodes, 1);
    assert_eq!(a.held_by.len(), 1);
    assert_eq!(a.held_by[0].node, net.n.public().to_string());
    assert_eq!(
        (
            a.held_by[0].org.as_str(),
            a.held_by[0].after_ms,
            a.held_by[0].security_contact_node
        ),
        ("org-a", 40, true)
    );
    assert_eq!(a.first_ack_after_ms, Some(40_000));

    // With a security contact of its own for Oaxaca, org-b's node counts.
    let (_, contact) = org_b_contact(&net, at(5 * MIN));
    roster_events.extend(contact);
    let roster = Roster::from_events(&roster_events);
    let list = view::alerts(&roster, &events, at(2 * HOUR));
    let a = &list[0];
    assert_eq!(a.network_nodes, 2);
    let held: Vec<(&str, i64, bool)> = a
        .held_by
        .iter()
        .map(|r| (r.org.as_str(), r.after_ms, r.security_contact_node))
        .collect();
    assert_eq!(held, vec![("org-a", 40, true), ("org-b", 2_000, true)]);

    // A revoked node's later receipt is not counted, nor is it expected.
    let mut with_revocation = roster_events.clone();
    with_revocation.push(sign(
        &net.b,
        at(HOUR + 1_000),
        DocId::roster(),
        Body::Revoke {
            key: nb.public(),
            reason: "seized".into(),
            last: at(HOUR + 1_000).0 as u64 - 1,
        },
    ));
    let roster = Roster::from_events(&with_revocation);
    let list = view::alerts(&roster, &events, at(2 * HOUR));
    assert_eq!(list[0].held_by.len(), 1);
    assert_eq!(list[0].network_nodes, 1);
}
