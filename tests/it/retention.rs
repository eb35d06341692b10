//! Retention: old documents are dropped whole, refused from clients and from peers.

use protocol::event::{Body, CheckinBody, CheckinStatus, Event, SignedEvent};
use protocol::ids::{DocId, SecretKey, Timestamp};
use protocol::wire::ClientResponseV0;
use tests::{wait_for, Member, Node, TestDir};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Submits a check-in written `days_ago` days ago, as the member.
fn old_checkin(
    node: &Node,
    key: &SecretKey,
    org: &str,
    days_ago: i64,
) -> Result<ClientResponseV0, daemon::net::NodeError> {
    let at = Timestamp::now().plus_ms(-days_ago * DAY_MS);
    let event = SignedEvent::sign(
        Event {
            author: key.public(),
            at,
            seq: (at).0 as u64,
            doc: DocId::checkins(org, at),
            body: Body::Checkin(CheckinBody {
                next_due: None,
                sealed: protocol::private::CheckinPrivate::without_code(
                    CheckinStatus::Ok,
                    format!("{days_ago} days ago"),
                )
                .seal(&key.public(), at, &[key.public()])
                .expect("seal"),
            }),
        },
        key,
    )
    .expect("sign");
    node.submit_as(key, vec![event])
}

#[test]
fn old_documents_are_dropped_and_refused() {
    let t = TestDir::new();
    let long = [
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--retain-checkins",
        "3650d",
    ];
    // A network 70 days old: A starts with its clock 70 days behind, Bea joins and checks in
    // then (no event may be dated before its author joined).
    let past = format!("--clock-offset-ms={}", -70 * DAY_MS);
    let mut a = Node::start_with(&t, "a", &[&["--org", "red-oax", &past][..], &long].concat());
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let key = bea.secret_key();
    let old_doc = DocId::checkins("red-oax", Timestamp::now().plus_ms(-70 * DAY_MS)).to_string();

    assert!(matches!(
        old_checkin(&a, &key, "red-oax", 70),
        Ok(ClientResponseV0::Stored { .. })
    ));
    assert!(a.heads().contains_key(&old_doc));
    let port = a.port();
    a.kill9();
    let mut a = Node::start_with(
        &t,
        "a",
        &[
            "--listen",
            &format!("/ip4/127.0.0.1/tcp/{port}"),
            "--retain-checkins",
            "3650d",
        ],
    );
    assert!(a.heads().contains_key(&old_doc), "today, A still keeps it");

    // B keeps check-ins one day after their month: it never takes the old document from A.
    let b = Node::start_with(
        &t,
        "b",
        &[
            "--org",
            "casa-chis",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--retain-checkins",
            "1d",
        ],
    );
    b.join_network(&a.invite_node());
    bea.run(&["checkin", "--note", "hoy"]).ok();
    wait_for("today's check-in on B", || {
        (b.status()["checkins"].as_u64()? == 1).then_some(())
    });
    assert!(
        !b.heads().contains_key(&old_doc),
        "B refused the old document"
    );

    // A, restarted with the short retention, drops it whole and refuses it from clients.
    let dir = a.dir.clone();
    a.kill9();
    let mut a = Node::start_with(
        &t,
        "a",
        &[
            "--listen",
            &format!("/ip4/127.0.0.1/tcp/{port}"),
            "--retain-checkins",
            "1d",
        ],
    );
    assert_eq!(a.dir, dir);
    assert!(!a.heads().contains_key(&old_doc));
    assert_eq!(a.status()["checkins"], 1, "only today's check-in is left");
    match old_checkin(&a, &key, "red-oax", 70) {
        Ok(ClientResponseV0::Error { message, .. }) => {
            assert!(message.contains("older than this node keeps"), "{message}")
        }
        other => panic!("an expired document was accepted: {other:?}"),
    }
    // The current month is never dropped.
    a.restart_on(&port);
    assert_eq!(a.status()["checkins"], 1);
}
