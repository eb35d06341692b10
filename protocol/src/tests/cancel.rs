//! Cancelling a false alarm: who may cancel a panic, what a cancel shows, and how a cancel
//! given with the duress code shows only to those who can open the duress alert.

use super::*;
use crate::private::{CancelPrivate, DuressAlert};

fn cancel(key: &SecretKey, t: Timestamp, alert: RecordId, note: &str) -> SignedEvent {
    let sealed = CancelPrivate::without_code()
        .seal(&key.public(), t, &alert, &[node_key().public()])
        .expect("seals");
    alert_action(
        key,
        t,
        Body::Cancel {
            alert,
            note: note.into(),
            sealed,
        },
    )
}

/// Only the member who raised a panic cancels it, once; it then shows as cancelled with the
/// note, and is no longer open. Nodes may not write one at all.
#[test]
fn only_the_panics_author_cancels_it() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let panic = panic_event(&net.m, t);
    let id = alert_id(&net.m, t);
    let by_contact = cancel(&net.s, t.plus_ms(1), id, "not hers");
    let by_admin = cancel(&net.a, t.plus_ms(2), id, "not hers either");
    let own = cancel(&net.m, t.plus_ms(3), id, "falsa alarma");
    let again = cancel(&net.m, t.plus_ms(4), id, "twice");
    for e in [&by_contact, &by_admin, &own, &again] {
        assert_eq!(roster.authorize(e.event()), Ok(()), "a member's event");
    }
    let by_node = cancel(&net.n, t.plus_ms(5), id, "a node");
    assert!(roster.authorize(by_node.event()).is_err());

    let events = [&panic, &by_contact, &by_admin, &own, &again, &by_node];
    let list = view::alerts(&roster, events, NOW);
    let v = &list[0];
    assert_eq!(v.status, "cancelled");
    assert!(!v.is_open());
    let c = v.cancellation.as_ref().expect("cancelled");
    assert_eq!(c.detail.as_deref(), Some("falsa alarma"));
    assert_eq!(c.event, own.id().to_string());
    let actions: Vec<&str> = v.history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["raised", "cancelled"]);
    assert!(!v.cancelled_under_duress);

    // A region-wide alert is not a panic: its author cannot "cancel" it this way.
    let alert = alert_event(&net.s, t, AlertKind::Alert, "org-a");
    let called_off = cancel(&net.s, t.plus_ms(1), alert_id(&net.s, t), "no");
    let list = view::alerts(&roster, [&alert, &called_off], NOW);
    assert_eq!(list[0].status, "open");
    assert!(list[0].cancellation.is_none());
}

/// A cancel's fields are bounded and it lives in an alerts document.
#[test]
fn a_cancel_is_checked_like_any_event() {
    let net = Net::new();
    let t = at(HOUR);
    let id = alert_id(&net.m, t);
    let sealed = CancelPrivate::without_code()
        .seal(&net.m.public(), t, &id, &[node_key().public()])
        .expect("seals");
    let body = |note: String, sealed: Vec<u8>| Body::Cancel {
        alert: id,
        note,
        sealed,
    };
    let signed = |doc: DocId, body: Body| {
        SignedEvent::sign(
            Event {
                author: net.m.public(),
                at: t,
                seq: 7,
                doc,
                body,
            },
            &net.m,
        )
    };
    let alerts = DocId::alerts("oaxaca", t);
    assert!(signed(alerts.clone(), body("ya".into(), sealed.clone())).is_ok());
    assert!(signed(DocId::roster(), body("ya".into(), sealed.clone())).is_err());
    let long = "x".repeat(MAX_TEXT_BYTES + 1);
    assert!(signed(alerts.clone(), body(long, sealed)).is_err());
    assert!(signed(alerts, body("ya".into(), Vec::new())).is_err());
}

/// The node tells a cancel under duress by its code's tag; the duress alert it raises names
/// the cancel, and whoever opens that alert sees the panic stand (open, and the cancel marked
/// as given under duress); whoever cannot sees it cancelled, exactly as any other cancel.
#[test]
fn a_cancel_under_duress_stands_only_for_those_who_open_its_duress_alert() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let panic = panic_event(&net.m, t);
    let id = alert_id(&net.m, t);
    let at_cancel = t.plus_ms(MIN);
    let tag = crate::event::duress_tag(&net.m, "9999");
    let sealed = CancelPrivate { code_tag: tag }
        .seal(&net.m.public(), at_cancel, &id, &[node_key().public()])
        .expect("seals");
    let under_duress = alert_action(
        &net.m,
        at_cancel,
        Body::Cancel {
            alert: id,
            note: "ya".into(),
            sealed: sealed.clone(),
        },
    );
    // Her node opens the code's tag; the same bytes under another alert's id or time do not
    // open (the sealed part is bound to its cancel).
    let opened = CancelPrivate::open(&sealed, &net.m.public(), at_cancel, &id, &node_key());
    assert_eq!(opened.map(|p| p.code_tag), Some(tag));
    assert!(CancelPrivate::open(&sealed, &net.m.public(), t, &id, &node_key()).is_none());
    assert!(
        CancelPrivate::open(&sealed, &net.m.public(), at_cancel, &rid("x"), &node_key()).is_none()
    );
    assert!(CancelPrivate::open(&sealed, &net.m.public(), at_cancel, &id, &net.s).is_none());

    let readers = roster.duress_readers(&net.m.public());
    let duress = DuressAlert {
        subject: net.m.public(),
        name: "Mario".into(),
        checkin: under_duress.id(),
        checkin_at: at_cancel,
    }
    .seal("oaxaca", "org-a", &net.n.public(), &readers)
    .expect("seals");
    let raised = alert_action(&net.n, at_cancel.plus_ms(1), Body::SealedAlert(duress));
    let list = view::alerts(&roster, [&panic, &under_duress, &raised], NOW);
    let org_of = |k: &PublicKey| roster.members.get(k).map(|m| m.org.clone());
    let seen_by = |who: &SecretKey| {
        let mut list = list.clone();
        for a in &mut list {
            a.open_sealed(who, org_of);
        }
        view::mark_duress_cancels(&mut list);
        list.into_iter()
            .find(|a| a.id == id.to_string())
            .expect("the panic")
    };
    for reader in [&net.s, &net.a] {
        let v = seen_by(reader);
        assert_eq!(v.status, "open");
        assert!(v.is_open() && v.cancelled_under_duress);
        assert_eq!(v.history[1].action, "cancelled-under-duress");
    }
    for other in [&net.m, &net.b, &net.x] {
        let v = seen_by(other);
        assert_eq!(v.status, "cancelled");
        assert!(!v.cancelled_under_duress);
        assert_eq!(v.history[1].action, "cancelled");
    }
}
