//! No one else can silence a person's safety net: a trusted node gone bad, or a security
//! contact of another region, against a member's missed check-in, her panic and her shelter
//! request (real `tejidod` processes; the hostile node in-process).

use automerge::ReadDoc;
use protocol::event::{AlertBody, AlertKind, Body, Event, Severity, SignedEvent};
use protocol::ids::{DocId, PublicKey, SecretKey, Timestamp};
use serde::Serialize;
use tests::peer::SyncPeer;
use tests::{pin_member_to, wait_converged, wait_for, Member, Node, TestDir};

use crate::hostile::{join_as_node, node_addr, put_raw, runtime, sync_raw};
use crate::safety::missed_for;

/// The same shape as the protocol's private envelope, to sign bytes that `SignedEvent::sign`
/// refuses to make.
#[derive(Serialize)]
enum Envelope {
    V0 { payload: Vec<u8>, sig: Vec<u8> },
}

/// `event` signed by `key`, however invalid its fields.
fn forge(event: &Event, key: &SecretKey) -> Vec<u8> {
    let payload = postcard::to_stdvec(event).expect("encodes");
    let sig = key.sign(&payload).to_vec();
    postcard::to_stdvec(&Envelope::V0 { payload, sig }).expect("encodes")
}

/// A hostile node of the network: joined through `a`'s invite, then talking to `a` alone.
struct Hostile {
    rt: tokio::runtime::Runtime,
    key: SecretKey,
    peer: SyncPeer,
    a_peer: libp2p::PeerId,
    a_addr: libp2p::Multiaddr,
}

impl Hostile {
    fn join(a: &Node) -> Self {
        let rt = runtime();
        let key = SecretKey::generate();
        join_as_node(&rt, a, &key, &SecretKey::generate());
        let (a_peer, a_addr) = node_addr(a);
        let peer = SyncPeer::new(&key).expect("peer");
        Self {
            rt,
            key,
            peer,
            a_peer,
            a_addr,
        }
    }

    /// The node's copy of `doc` (after an honest sync) and the events in it.
    fn fetch(
        &mut self,
        doc: &DocId,
    ) -> (
        automerge::Automerge,
        automerge::sync::State,
        Vec<SignedEvent>,
    ) {
        let mut copy = automerge::Automerge::new();
        let mut state = automerge::sync::State::new();
        self.sync(doc, &mut copy, &mut state).expect("honest sync");
        let events = copy
            .keys(automerge::ROOT)
            .filter_map(|k| match copy.get(automerge::ROOT, &k).ok()?? {
                (automerge::Value::Scalar(s), _) => match s.as_ref() {
                    automerge::ScalarValue::Bytes(b) => SignedEvent::decode(b).ok(),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        (copy, state, events)
    }

    /// Adds `bytes` to the node's `doc`: `Err` with the node's reason if it refuses.
    fn push(&mut self, doc: &DocId, bytes: &[u8]) -> Result<(), String> {
        let (mut copy, mut state, _) = self.fetch(doc);
        put_raw(&mut copy, bytes);
        self.sync(doc, &mut copy, &mut state)
    }

    /// Syncs `copy` of `doc` with the node until neither side has more to say.
    fn sync(
        &mut self,
        doc: &DocId,
        copy: &mut automerge::Automerge,
        state: &mut automerge::sync::State,
    ) -> Result<(), String> {
        self.rt.block_on(sync_raw(
            &mut self.peer,
            self.a_peer,
            &self.a_addr,
            doc,
            copy,
            state,
        ))
    }

    fn event(&self, at: Timestamp, doc: DocId, body: Body) -> Event {
        Event {
            author: self.key.public(),
            at,
            seq: (at).0 as u64,
            doc,
            body,
        }
    }
}

/// Finding: a trusted node read a member's check-in, wrote a missed check-in alert for her
/// in another region with severity minor (or backdated), and resolved it: at the due time no
/// node raised anything, since the alert's id already existed. Each copy is now refused,
/// the real alert is raised where her security contacts look, and a node's resolve that
/// does not cite a check-in of hers after the due time counts nowhere.
#[test]
fn a_hostile_node_cannot_preempt_or_silence_a_missed_checkin() {
    let t = TestDir::new();
    let fast = ["--listen", "/ip4/127.0.0.1/tcp/0", "--checkin-grace", "0s"];
    let a = Node::start_with(&t, "a", &[&["--org", "red-oax"][..], &fast].concat());
    let c = Node::start_with(&t, "c", &[&["--org", "casa-chis"][..], &fast].concat());
    c.join_network(&a.invite_node());
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    pin_member_to(&bea, &a);
    let key = bea.key();
    let member: PublicKey = key.parse().expect("key");
    let mut evil = Hostile::join(&a);

    bea.run(&["checkin", "--note", "antes"]).ok();
    bea.run(&["checkin", "--next", "4s", "--note", "salgo"])
        .ok();
    // The hostile node reads her check-in and its due time.
    let now = Timestamp::now();
    let checkins = DocId::checkins("red-oax", now);
    let (_, _, events) = evil.fetch(&checkins);
    let mut hers: Vec<SignedEvent> = events
        .into_iter()
        .filter(|e| e.event().author == member)
        .filter(|e| matches!(e.event().body, Body::Checkin(_)))
        .collect();
    hers.sort_by_key(|e| e.event().at);
    let (first, second) = (hers[0].clone(), hers[1].clone());
    let Body::Checkin(c_body) = &second.event().body else {
        unreachable!()
    };
    let due = c_body.next_due.expect("due");
    let id = AlertBody::missed_checkin_id(&member, due);

    // 1. In another region (its own organisation's), under the real id.
    let elsewhere = AlertBody::missed_checkin(member, "red-oax", "evil", due);
    let at = due;
    let doc = DocId::alerts("evil", at);
    let bytes = forge(
        &evil.event(at, doc.clone(), Body::Alert(Box::new(elsewhere))),
        &evil.key,
    );
    let refused = evil.push(&doc, &bytes);
    assert!(
        refused.is_err(),
        "a missed check-in in another region was taken"
    );
    // 2. In her region, severity minor; 3. backdated before the due time.
    let mut minor = AlertBody::missed_checkin(member, "red-oax", "oaxaca", due);
    minor.severity = Severity::Minor;
    let doc = DocId::alerts("oaxaca", at);
    let bytes = forge(
        &evil.event(at, doc.clone(), Body::Alert(Box::new(minor))),
        &evil.key,
    );
    assert!(evil.push(&doc, &bytes).is_err(), "a minor copy was taken");
    let early = now.plus_ms(-1000);
    let canonical = AlertBody::missed_checkin(member, "red-oax", "oaxaca", due);
    let doc = DocId::alerts("oaxaca", early);
    let bytes = forge(
        &evil.event(early, doc.clone(), Body::Alert(Box::new(canonical.clone()))),
        &evil.key,
    );
    assert!(
        evil.push(&doc, &bytes).is_err(),
        "a backdated copy was taken"
    );
    // 4. A resolve of it without her check-in.
    let resolve = |checkin: Option<&SignedEvent>| Body::Resolve {
        alert: id,
        note: "falsa alarma".into(),
        checkin: checkin.map(|c| c.to_bytes()),
    };
    let bytes = forge(&evil.event(now, doc.clone(), resolve(None)), &evil.key);
    assert!(
        evil.push(&doc, &bytes).is_err(),
        "a node resolved without a check-in"
    );

    // At the due time the honest nodes raise it, in her region, severe, and open.
    for node in [&a, &c] {
        let alert = wait_for("the missed check-in alert", || {
            missed_for(node, &key).into_iter().next()
        });
        assert_eq!(alert["region"], "oaxaca");
        assert_eq!(alert["severity"], "severe");
        assert_eq!(alert["status"], "open");
    }
    // 5. A resolve citing her check-in from before the due time is stored but counts nowhere.
    let doc = DocId::alerts("oaxaca", Timestamp::now());
    let later = Timestamp::now();
    let bytes = forge(
        &evil.event(later, doc.clone(), resolve(Some(&first))),
        &evil.key,
    );
    evil.push(&doc, &bytes).expect("well formed, stored");
    wait_converged(&[&a, &c]);
    for node in [&a, &c] {
        let alerts = missed_for(node, &key);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0]["status"], "open", "{}", alerts[0]);
    }
    // Her next check-in resolves it everywhere.
    bea.run(&["checkin", "--note", "ya volví"]).ok();
    for node in [&a, &c] {
        wait_for("the alert to resolve", || {
            missed_for(node, &key)
                .into_iter()
                .find(|a| a["status"] == "resolved")
        });
    }
    assert!(a.status()["peer_faults"].as_u64().unwrap_or(0) >= 4);
}

/// Finding: a duress alert's id followed from the member's check-in, which every node holds,
/// so a hostile node could write one first in plain text (seen by everyone) and resolve it.
/// A plain duress alert is now refused by every node.
#[test]
fn a_hostile_node_cannot_write_a_plain_duress_alert() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let member: PublicKey = bea.key().parse().expect("key");
    let mut evil = Hostile::join(&a);
    let at = Timestamp::now();
    let mut duress = AlertBody::missed_checkin(member, "red-oax", "oaxaca", at);
    duress.kind = AlertKind::Duress;
    duress.id = AlertBody::id_for(&evil.key.public(), at);
    let doc = DocId::alerts("oaxaca", at);
    let bytes = forge(
        &evil.event(at, doc.clone(), Body::Alert(Box::new(duress))),
        &evil.key,
    );
    assert!(evil.push(&doc, &bytes).is_err());
    let alerts = a.tejido(&["alerts", "--json"]).json();
    assert_eq!(alerts, serde_json::json!([]));
}

/// Finding (reproduced on the release binaries before): a security contact of another
/// region and organisation resolved someone's panic, and it showed as resolved on every
/// node. Now their node refuses it, and so does every other.
#[test]
fn a_foreign_regions_security_contact_cannot_resolve_or_assign_a_panic() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let b = Node::start(&t, "b", "casa-chis");
    b.join_network(&a.invite_node());
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let sol = Member::join(&t, "sol", &a.invite("Sol", "security-contact", "oaxaca"));
    let carla = Member::join(
        &t,
        "carla",
        &b.invite("Carla", "security-contact", "chiapas"),
    );
    let panic = bea.json(&["panic", "--note", "me siguen"]);
    let id = panic["id"].as_str().expect("id").to_string();
    wait_converged(&[&a, &b]);
    wait_for("the panic at B", || {
        carla
            .json(&["alerts"])
            .as_array()?
            .iter()
            .any(|x| x["id"] == id.as_str())
            .then_some(())
    });
    let resolve = carla.run(&["alert", "resolve", &id, "--note", "todo en orden"]);
    assert_ne!(resolve.code, Some(0), "{resolve:?}");
    assert!(resolve.stderr.contains("own region"), "{resolve:?}");
    let assign = carla.run(&["alert", "assign", &id, &carla.key()]);
    assert_ne!(assign.code, Some(0), "{assign:?}");
    // She may still say she saw it.
    carla.run(&["alert", "ack", &id]).ok();
    wait_converged(&[&a, &b]);
    for node in [&a, &b] {
        let shown = node.tejido(&["alerts", "--json"]).json();
        let alert = shown
            .as_array()
            .expect("alerts")
            .iter()
            .find(|x| x["id"] == id.as_str())
            .expect("the panic")
            .clone();
        assert_eq!(alert["status"], "acknowledged", "{alert}");
        assert!(alert["assignee"].is_null());
    }
    // Her region's security contact answers for it.
    sol.run(&["alert", "resolve", &id, "--note", "a salvo"])
        .ok();
    wait_for("the resolution at B", || {
        b.tejido(&["alerts", "--json"])
            .json()
            .as_array()?
            .iter()
            .any(|x| x["id"] == id.as_str() && x["status"] == "resolved")
            .then_some(())
    });
}

/// Finding: any node could write a shelter request under an existing request's id with an
/// earlier time, and the earliest copy won. The id now derives from the relaying node and
/// the sealed part, so the copy is refused and the member's request stands.
#[test]
fn a_shelter_request_cannot_be_shadowed() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let ana = Member::join(&t, "ana", &a.invite("Ana", "admin", "oaxaca"));
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let shelter = crate::shelters::add_shelter(&ana, "8");
    bea.run(&[
        "shelter",
        "request",
        &shelter[..8],
        "--people",
        "2",
        "--note",
        "hoy",
    ])
    .ok();
    let mut evil = Hostile::join(&a);
    let doc = DocId::shelters("oaxaca");
    let (_, _, events) = evil.fetch(&doc);
    let request = events
        .iter()
        .find_map(|e| match &e.event().body {
            Body::ShelterRequest(r) => Some((r.clone(), e.event().at)),
            _ => None,
        })
        .expect("the request");
    let (mut shadow, at) = request;
    shadow.sealed = vec![7; 200];
    let bytes = forge(
        &evil.event(at.plus_ms(-1000), doc.clone(), Body::ShelterRequest(shadow)),
        &evil.key,
    );
    assert!(
        evil.push(&doc, &bytes).is_err(),
        "a shadow request was taken"
    );
    let seen = ana.json(&["shelter", "requests"]);
    assert_eq!(seen.as_array().map(Vec::len), Some(1), "{seen}");
    assert_eq!(seen[0]["requester_name"], "Bea");
    assert_eq!(seen[0]["signature_ok"], true);
    assert_eq!(seen[0]["via_node"], a.id().as_str());
}

/// Finding: gossip published the duress alert, live, to whoever listened. Members no longer
/// hear gossip at all (`gossip_gate`); and a duress alert is never gossiped, even to a node:
/// a node listening on gossip hears her panic, and nothing of her duress check-in while the
/// security contact reads it.
#[test]
fn a_duress_alert_is_never_gossiped() {
    use futures::StreamExt;
    use libp2p::swarm::SwarmEvent;
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let sol = Member::join(&t, "sol", &a.invite("Sol", "security-contact", "oaxaca"));
    let set = crate::safety::run_with_stdin(&bea, &["duress", "set"], "9999\n");
    assert!(set.ok().contains("Duress code set"), "{set:?}");
    let key = SecretKey::generate();
    join_as_node(&runtime(), &a, &key, &SecretKey::generate());
    let (a_peer, a_addr) = node_addr(&a);
    let heard: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>> = Default::default();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listener = {
        let (heard, stop) = (heard.clone(), stop.clone());
        std::thread::spawn(move || {
            let rt = runtime();
            let _in_runtime = rt.enter();
            let mut swarm = crate::hostile::gossip_swarm(&key, a_peer, &a_addr);
            rt.block_on(async {
                let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    tokio::select! {
                        event = swarm.select_next_some() => {
                            if let SwarmEvent::Behaviour(libp2p::gossipsub::Event::Message { message, .. }) = event {
                                heard.lock().expect("lock").push(message.data);
                            }
                        }
                        _ = tick.tick() => {}
                    }
                }
            });
        })
    };
    std::thread::sleep(std::time::Duration::from_secs(2));
    bea.run(&["checkin", "--code", "9999", "--note", "todo bien"])
        .ok();
    wait_for("the duress alert, read by the security contact", || {
        sol.json(&["alerts"])
            .as_array()?
            .iter()
            .any(|x| x["kind"] == "duress")
            .then_some(())
    });
    // Her panic, after it, reaches the listening node by gossip: had the duress alert been
    // published, it would have come first.
    let panic = bea.json(&["panic", "--note", "después"]);
    let panic_id = panic["id"].as_str().expect("id").to_string();
    wait_for("her panic on gossip", || {
        heard
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|d| SignedEvent::decode(d).ok())
            .any(|e| {
                e.event().body.created_alert().map(|id| id.to_string()) == Some(panic_id.clone())
            })
            .then_some(())
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    listener.join().expect("listener");
    for data in heard.lock().expect("lock").iter() {
        let Ok(event) = SignedEvent::decode(data) else {
            continue;
        };
        let duress = match &event.event().body {
            Body::SealedAlert(_) => true,
            Body::Alert(a) => a.kind == AlertKind::Duress,
            _ => false,
        };
        assert!(!duress, "the duress alert was gossiped: {event:?}");
    }
}
