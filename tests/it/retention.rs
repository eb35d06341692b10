//! Retention: old documents are dropped whole, refused from clients and from peers.

use protocol::event::{Body, CheckinBody, CheckinStatus, Event, SignedEvent};
use protocol::ids::{DocId, SecretKey, Timestamp};
use protocol::wire::{ClientRequestV0, ClientResponseV0, NodeContact};
use tests::{wait_for, Member, Node, TestDir};

const DAY_MS: i64 = 24 * 3600 * 1000;

fn member_key(member: &Member) -> SecretKey {
    let bytes: [u8; 32] = std::fs::read(member.home.join("member.key"))
        .expect("key")
        .try_into()
        .expect("32 bytes");
    SecretKey::from_bytes(bytes)
}

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
    let status = node.status();
    let contact = NodeContact {
        key: status["node_id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("key"),
        addrs: vec![status["listen_addrs"][0]
            .as_str()
            .expect("addr")
            .to_string()],
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut answers = rt
        .block_on(daemon::net::request_all(
            key,
            &[contact],
            ClientRequestV0::Submit {
                events: vec![event],
            },
        ))
        .expect("request");
    answers.pop().expect("an answer").1
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
    let mut a = Node::start_with(&t, "a", &[&["--org", "red-oax"][..], &long].concat());
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let key = member_key(&bea);
    let old_doc = DocId::checkins("red-oax", Timestamp::now().plus_ms(-70 * DAY_MS)).to_string();

    assert!(matches!(
        old_checkin(&a, &key, "red-oax", 70),
        Ok(ClientResponseV0::Stored { .. })
    ));
    assert!(a.heads().contains_key(&old_doc));

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
    let port = a.port();
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
