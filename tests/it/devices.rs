//! A person, not a key: a second device checks in as the same person, and a person who lost
//! their phone moves to a new key that sees their history while the old key is refused.

use serde_json::Value;
use tests::{wait_for, Member, Node, TestDir};

use crate::safety::run_with_stdin;

/// The entries of a JSON list whose `field` is `value`.
fn with(list: &Value, field: &str, value: &str) -> Vec<Value> {
    list.as_array()
        .expect("a list")
        .iter()
        .filter(|x| x[field] == value)
        .cloned()
        .collect()
}

#[test]
fn a_second_device_checks_in_as_the_same_person() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    bea.run(&["checkin", "--note", "desde el teléfono", "--next", "6h"])
        .ok();
    let code = bea.run(&["device", "add"]).ok().trim().to_string();
    let tablet = Member::join(&t, "bea-tablet", &code);
    let me = tablet.json(&["whoami"]);
    assert_eq!(
        (&me["name"], &me["org"], &me["role"], &me["region"]),
        (
            &Value::from("Bea"),
            &Value::from("red-oax"),
            &Value::from("member"),
            &Value::from("oaxaca")
        ),
        "{me}"
    );
    let (phone_key, tablet_key) = (bea.key(), tablet.key());
    assert_ne!(phone_key, tablet_key, "the new device has its own key");
    // The code was used once.
    let again = Member {
        home: t.path("home-intruder"),
    };
    assert_ne!(again.run(&["join", &code]).code, Some(0));

    tablet
        .run(&["checkin", "--note", "desde la tableta", "--next", "6h"])
        .ok();
    // One person in the node's views, with the latest check-in, from either device.
    let checkins = a.tejido(&["checkins", "--json"]).json();
    let hers = with(&checkins, "name", "Bea");
    assert_eq!(hers.len(), 1, "{checkins}");
    assert_eq!(hers[0]["member"], phone_key.as_str(), "{checkins}");
    assert_eq!(hers[0]["device"], tablet_key.as_str(), "{checkins}");
    assert_eq!(hers[0]["note"], "desde la tableta", "{checkins}");
    let members = a.tejido(&["members", "--json"]).json();
    let people = with(&members, "name", "Bea");
    assert_eq!(people.len(), 1, "{members}");
    assert_eq!(people[0]["key"], phone_key.as_str(), "{members}");
    let devices = people[0]["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 2, "{members}");
    assert!(devices.contains(&Value::from(tablet_key.as_str())));

    bea.run(&["checkin", "--note", "otra vez el teléfono", "--next", "6h"])
        .ok();
    let checkins = a.tejido(&["checkins", "--json"]).json();
    let hers = with(&checkins, "name", "Bea");
    assert_eq!(hers.len(), 1, "{checkins}");
    assert_eq!(hers[0]["note"], "otra vez el teléfono", "{checkins}");
    assert_eq!(hers[0]["device"], Value::Null, "{checkins}");

    // Each device has its own duress tag: a duress check-in from the tablet is recognised
    // and the alert is about the person.
    run_with_stdin(&tablet, &["duress", "set"], "4321\n").ok();
    tablet
        .run(&["checkin", "--code", "4321", "--note", "todo bien"])
        .ok();
    let duress = wait_for("the duress alert from the second device", || {
        let alerts = a.tejido(&["alerts", "--json"]).json();
        with(&alerts, "kind", "duress").into_iter().next()
    });
    assert_eq!(duress["subject"], phone_key.as_str(), "{duress}");

    // A code made by a device that is revoked before it is used adds nobody; revoking that
    // device leaves her other one.
    let code = bea.run(&["device", "add"]).ok().trim().to_string();
    a.tejido(&["revoke", &phone_key, "--reason", "robado"]).ok();
    let third = Member {
        home: t.path("home-bea-third"),
    };
    let refused = third.run(&["join", &code]);
    assert_ne!(refused.code, Some(0), "{refused:?}");
    assert!(refused.stderr.contains("revoked"), "{refused:?}");
    let members = a.tejido(&["members", "--json"]).json();
    let people = with(&members, "name", "Bea");
    assert_eq!(
        people[0]["devices"],
        serde_json::json!([tablet_key]),
        "{members}"
    );
    assert_eq!(people[0]["revoked"], false, "{members}");
    tablet.run(&["checkin", "--note", "sigo aquí"]).ok();
}

#[test]
fn a_moved_persons_old_key_is_refused_and_the_new_key_sees_their_history() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let old_key = bea.key();
    bea.run(&["panic", "--note", "me están siguiendo"]).ok();
    bea.run(&["checkin", "--note", "antes de perderlo", "--next", "6h"])
        .ok();
    let old_secret = bea.secret_key();

    // Nobody of that name: refused.
    let nobody = a.tejido(&["member", "move", "Nadie"]);
    assert_ne!(nobody.code, Some(0));
    let code = a.tejido(&["member", "move", "Bea"]).ok().trim().to_string();
    let new = Member::join(&t, "bea-new", &code);
    let new_key = new.key();
    assert_eq!(new.json(&["whoami"])["name"], "Bea");

    // The old key is refused: by the node, for a record signed by it after the move, and on
    // the device that still holds it.
    let checkin = protocol::event::SignedEvent::sign(
        protocol::event::Event {
            author: old_secret.public(),
            at: protocol::ids::Timestamp::now(),
            seq: 1000,
            doc: protocol::ids::DocId::checkins("red-oax", protocol::ids::Timestamp::now()),
            body: protocol::event::Body::Checkin(protocol::event::CheckinBody {
                next_due: None,
                sealed: vec![1; 100],
            }),
        },
        &old_secret,
    )
    .expect("signs");
    let answer = a.submit_as(&old_secret, vec![checkin]);
    assert!(
        matches!(
            answer,
            Ok(protocol::wire::ClientResponseV0::Error { .. }) | Err(_)
        ),
        "{answer:?}"
    );
    let refused = bea.run(&["checkin", "--note", "la tiene otra persona"]);
    assert_ne!(refused.code, Some(0), "{refused:?}");

    // One person, under the key she was added with, whose one device is the new key.
    let members = a.tejido(&["members", "--json"]).json();
    let people = with(&members, "name", "Bea");
    assert_eq!(people.len(), 1, "{members}");
    assert_eq!(people[0]["key"], old_key.as_str(), "{members}");
    assert_eq!(
        people[0]["devices"],
        serde_json::json!([new_key]),
        "{members}"
    );
    assert_eq!(people[0]["revoked"], false, "{members}");

    // Her history is hers on the new device: the panic from the lost phone shows as raised
    // by her, and her check-ins continue as one person.
    let alerts = new.json(&["alerts"]);
    let panics = with(&alerts, "kind", "panic");
    assert_eq!(panics.len(), 1, "{alerts}");
    assert_eq!(panics[0]["author_person"], old_key.as_str(), "{alerts}");
    assert_eq!(panics[0]["author_name"], "Bea", "{alerts}");
    new.run(&["checkin", "--note", "teléfono nuevo", "--next", "6h"])
        .ok();
    let checkins = a.tejido(&["checkins", "--json"]).json();
    let hers = with(&checkins, "name", "Bea");
    assert_eq!(hers.len(), 1, "{checkins}");
    assert_eq!(hers[0]["member"], old_key.as_str(), "{checkins}");
    assert_eq!(hers[0]["device"], new_key.as_str(), "{checkins}");
    assert_eq!(hers[0]["note"], "teléfono nuevo", "{checkins}");
    assert!(
        !checkins.to_string().contains("la tiene otra persona"),
        "{checkins}"
    );

    // A key that is nobody's is refused.
    let stranger = protocol::ids::SecretKey::derive("test", b"nobody").public();
    assert_ne!(
        a.tejido(&["member", "move", &stranger.to_string()]).code,
        Some(0)
    );
}

/// A node and Bea, a member of it, with her phone and the tablet her phone asked for.
fn bea_with_a_tablet(t: &TestDir) -> (Node, Member, Member) {
    let a = Node::start(t, "a", "red-oax");
    let bea = Member::join(t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let code = bea.run(&["device", "add"]).ok().trim().to_string();
    let tablet = Member::join(t, "bea-tablet", &code);
    (a, bea, tablet)
}

/// `revoke --person` revokes every device of the person, whichever key it is given: neither
/// device can write any more, and the person shows as revoked.
#[test]
fn revoking_a_person_revokes_every_device() {
    let t = TestDir::new();
    let (a, bea, tablet) = bea_with_a_tablet(&t);
    tablet.run(&["checkin", "--note", "antes"]).ok();
    // Given the second device's key, the whole person goes.
    a.tejido(&["revoke", &tablet.key(), "--reason", "detenida", "--person"])
        .ok();
    let members = a.tejido(&["members", "--json"]).json();
    let people = with(&members, "name", "Bea");
    assert_eq!(people.len(), 1, "{members}");
    assert_eq!(people[0]["revoked"], true, "{members}");
    for device in [&bea, &tablet] {
        let refused = device.run(&["checkin", "--note", "después"]);
        assert_ne!(refused.code, Some(0), "{refused:?}");
    }
    // Nothing either device wrote after the revocation was stored.
    let checkins = a.tejido(&["checkins", "--json"]).json();
    assert!(with(&checkins, "note", "después").is_empty(), "{checkins}");
}

/// A phone that asked for a second device and is stolen before it writes anything else: its
/// revocation names the grant's number as its last, so the tablet it added stays a device of
/// the person and goes on checking in.
#[test]
fn revoking_the_device_that_granted_another_leaves_the_other() {
    let t = TestDir::new();
    let (a, bea, tablet) = bea_with_a_tablet(&t);
    a.tejido(&["revoke", &bea.key(), "--reason", "robado"]).ok();
    let members = a.tejido(&["members", "--json"]).json();
    let people = with(&members, "name", "Bea");
    assert_eq!(
        people[0]["devices"],
        serde_json::json!([tablet.key()]),
        "{members}"
    );
    assert_eq!(people[0]["revoked"], false, "{members}");
    tablet.run(&["checkin", "--note", "sigo aquí"]).ok();
    assert_ne!(bea.run(&["checkin", "--note", "ladrón"]).code, Some(0));
}
