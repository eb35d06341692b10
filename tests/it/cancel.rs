//! Cancelling a false alarm: a member calls off her own panic, and it shows as cancelled, with
//! the note, in every history; under the duress code it looks the same on her device and the
//! panic stands for her security contacts.

use protocol::event::{Body, Event, SignedEvent};
use protocol::ids::{DocId, RecordId, Timestamp};
use protocol::private::CancelPrivate;
use protocol::wire::ClientResponseV0;
use serde_json::Value;
use tests::{pin_member_to, wait_converged, wait_for, Member, Node, TestDir};

use crate::safety::{listing, run_with_stdin};

fn alert_on(list: Value, id: &str) -> Option<Value> {
    list.as_array()?.iter().find(|a| a["id"] == id).cloned()
}

fn actions(alert: &Value) -> Vec<String> {
    alert["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["action"].as_str().expect("action").to_string())
        .collect()
}

fn raise(member: &Member, note: &str) -> String {
    let sent = member.json(&["panic", "--note", note]);
    sent["id"].as_str().expect("panic id").to_string()
}

/// A member cancels her own panic: every node, her security contact on another organisation's
/// node and she herself see it cancelled with her note; it leaves the open alerts; nobody else
/// can cancel it, and a cancel of someone else's panic submitted by hand counts nowhere.
#[test]
fn a_cancelled_panic_shows_cancelled_with_its_note_everywhere() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let b = Node::start(&t, "b", "casa-chis");
    b.join_network(&a.invite_node());
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let sol = Member::join(&t, "sol", &b.invite("Sol", "security-contact", "oaxaca"));
    pin_member_to(&bea, &a);
    wait_converged(&[&a, &b]);

    let id = raise(&bea, "me siguen");
    wait_for("the panic on B", || alert_on(sol.json(&["alerts"]), &id));

    // Someone else cannot call it off.
    let refused = sol.run(&["panic", "--cancel", &id, "--note", "no"]);
    assert_ne!(refused.code, Some(0));
    assert!(
        refused
            .stderr
            .contains("only the person who raised a panic"),
        "{refused:?}"
    );

    let cancelled = bea.json(&["panic", "--cancel", &id[..8], "--note", "falsa alarma"]);
    assert_eq!(cancelled["id"], id.as_str());
    assert_eq!(cancelled["level"], "stored");

    let seen_by = |who: &str, list: Value| {
        let alert = alert_on(list, &id).unwrap_or_else(|| panic!("{who}: no alert {id}"));
        (alert["status"] == "cancelled").then_some(alert)
    };
    for (who, view) in [
        (
            "A's operator",
            wait_for("cancelled on A", || {
                seen_by("A", a.tejido(&["alerts", "--json"]).json())
            }),
        ),
        (
            "B's operator",
            wait_for("cancelled on B", || {
                seen_by("B", b.tejido(&["alerts", "--json"]).json())
            }),
        ),
        (
            "the security contact",
            wait_for("cancelled for Sol", || {
                seen_by("Sol", sol.json(&["alerts"]))
            }),
        ),
        (
            "the member",
            wait_for("cancelled for Bea", || {
                seen_by("Bea", bea.json(&["alerts"]))
            }),
        ),
    ] {
        assert_eq!(view["cancellation"]["detail"], "falsa alarma", "{who}");
        assert_eq!(view["cancelled_under_duress"], false, "{who}");
        assert_eq!(actions(&view), ["raised", "cancelled"], "{who}");
    }
    let open = sol.json(&["alerts", "--open"]);
    assert!(alert_on(open, &id).is_none());

    // A cancel of Bea's panic signed by Sol's key and submitted to B directly is stored (it is
    // a well-formed event of a member) but counts nowhere: the view takes a cancel only from
    // the panic's author. A second panic shows it, still open.
    let other = raise(&bea, "otra vez");
    wait_for("the second panic on B", || {
        alert_on(b.tejido(&["alerts", "--json"]).json(), &other)
    });
    assert!(
        forged_cancel(&sol, &b, &other),
        "B stores a member's well-formed event"
    );
    wait_converged(&[&a, &b]);
    for list in [
        a.tejido(&["alerts", "--json"]).json(),
        b.tejido(&["alerts", "--json"]).json(),
    ] {
        let view = alert_on(list, &other).expect("second panic");
        assert_eq!(view["status"], "open", "{view}");
        assert!(view["cancellation"].is_null(), "{view}");
    }
}

/// Signs, with `member`'s key, a cancel of `alert` (someone else's panic) by hand, and
/// submits it to `node` as a member's device would.
fn forged_cancel(member: &Member, node: &Node, alert: &str) -> bool {
    let list = node.tejido(&["alerts", "--json"]).json();
    let view = alert_on(list, alert).expect("alert");
    let doc: DocId = view["doc"].as_str().expect("doc").parse().expect("doc id");
    let key = member.secret_key();
    let id: RecordId = alert.parse().expect("alert id");
    let at = Timestamp::now();
    let node_key = node.id().parse().expect("node key");
    let sealed = CancelPrivate::without_code()
        .seal(&key.public(), at, &id, &[node_key])
        .expect("sealed");
    let event = Event {
        author: key.public(),
        at,
        seq: 900_000,
        doc,
        body: Body::Cancel {
            alert: id,
            note: "no fue nada".into(),
            sealed,
        },
    };
    let event = SignedEvent::sign(event, &key).expect("sign");
    matches!(
        node.submit_as(&key, vec![event]),
        Ok(ClientResponseV0::Stored { .. })
    )
}

/// Cancelled with the duress code, a panic looks and prints exactly as when cancelled with
/// her own code, on her device and in the files there; every node and she see it cancelled,
/// but her security contact (on another organisation's node) and her organisation's admin see
/// it open, marked `cancelled-under-duress`, beside the duress alert her node raised. Another
/// organisation's operator sees it cancelled.
#[test]
fn a_cancel_under_duress_looks_normal_on_the_device_and_the_panic_stands() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let b = Node::start(&t, "b", "casa-chis");
    b.join_network(&a.invite_node());
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let sol = Member::join(&t, "sol", &b.invite("Sol", "security-contact", "oaxaca"));
    pin_member_to(&bea, &a);
    let set = run_with_stdin(&bea, &["duress", "set"], "9999\n");
    assert!(set.ok().contains("Duress code set"), "{set:?}");
    wait_converged(&[&a, &b]);

    let plain = raise(&bea, "me siguen");
    let forced = raise(&bea, "me siguen");
    wait_for("both panics for Sol", || {
        let list = sol.json(&["alerts"]);
        alert_on(list.clone(), &plain).and(alert_on(list, &forced))
    });

    let before = listing(&bea.home);
    let normal = bea.run(&[
        "panic", "--cancel", &plain, "--code", "1234", "--note", "ya",
    ]);
    let after_normal = listing(&bea.home);
    let duress = bea.run(&[
        "panic", "--cancel", &forced, "--code", "9999", "--note", "ya",
    ]);
    let after_duress = listing(&bea.home);
    // Same exit code, same words but the alert's id, same files.
    assert_eq!(normal.code, Some(0), "{normal:?}");
    assert_eq!(normal.code, duress.code);
    assert_eq!(
        normal.ok().replace(&plain[..8], "ID"),
        duress.ok().replace(&forced[..8], "ID")
    );
    assert_eq!(normal.stderr, duress.stderr);
    assert_eq!(before, after_normal);
    assert_eq!(after_normal, after_duress);

    // The security contact learns it: the duress alert, and the panic still open.
    let duress_alert = wait_for("the duress alert for Sol", || {
        sol.json(&["alerts"])
            .as_array()
            .expect("alerts")
            .iter()
            .find(|x| x["kind"] == "duress")
            .cloned()
    });
    assert_eq!(duress_alert["subject"], bea.key().as_str());
    let for_sol = sol.json(&["alerts"]);
    let stands = alert_on(for_sol.clone(), &forced).expect("forced");
    assert_eq!(stands["status"], "open", "{stands}");
    assert_eq!(stands["cancelled_under_duress"], true);
    assert_eq!(actions(&stands), ["raised", "cancelled-under-duress"]);
    let called_off = alert_on(for_sol, &plain).expect("plain");
    assert_eq!(called_off["status"], "cancelled");
    let open = sol.json(&["alerts", "--open"]);
    assert!(alert_on(open.clone(), &forced).is_some(), "{open}");
    assert!(alert_on(open, &plain).is_none());
    // Her organisation's admin (A's operator) reads the duress alert too.
    let on_a = a.tejido(&["alerts", "--json"]).json();
    assert_eq!(alert_on(on_a, &forced).expect("on A")["status"], "open");

    // On her device, and to another organisation's operator, both look the same: cancelled.
    wait_converged(&[&a, &b]);
    let comparable = |mut v: Value| {
        for field in ["id", "created_at", "event"] {
            v[field] = Value::Null;
        }
        v["history"] = Value::from(actions(&v));
        v["cancellation"] = v["cancellation"]["detail"].clone();
        v["held_by"] = Value::from(v["held_by"].as_array().map_or(0, |h| h.len()));
        v
    };
    for (who, list) in [
        ("Bea", bea.json(&["alerts"])),
        ("B's operator", b.tejido(&["alerts", "--json"]).json()),
    ] {
        let p = alert_on(list.clone(), &plain).expect("plain");
        let f = alert_on(list.clone(), &forced).expect("forced");
        assert_eq!(f["status"], "cancelled", "{who}: {f}");
        assert_eq!(comparable(p), comparable(f), "{who}");
        assert!(
            list.as_array()
                .expect("alerts")
                .iter()
                .all(|x| x["kind"] != "duress"),
            "{who}: {list}"
        );
    }
}
