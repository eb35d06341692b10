//! Sealed shelter requests: sealing to several recipients and the request rules.

use super::*;

use crate::hpke_wrap::ENTRY;
use crate::sealed::SealError;

/// A sealed payload's parts as its format lays them out: the version tag, the recipients'
/// entries, the ciphertext.
fn parts(sealed: &[u8]) -> (u8, Vec<u8>, Vec<u8>) {
    let (tag, keys, ciphertext): (u8, serde_bytes::ByteBuf, serde_bytes::ByteBuf) =
        postcard::from_bytes(sealed).expect("a sealed payload");
    (tag, keys.into_vec(), ciphertext.into_vec())
}

/// A sealed payload from its parts, the entries sorted as sealing sorts them.
fn join(tag: u8, entries: &[&[u8]], ciphertext: &[u8]) -> Vec<u8> {
    let mut entries = entries.to_vec();
    entries.sort();
    postcard::to_stdvec(&(
        tag,
        serde_bytes::Bytes::new(&entries.concat()),
        serde_bytes::Bytes::new(ciphertext),
    ))
    .expect("encodes")
}

#[test]
fn sealed_opens_for_each_recipient_and_nobody_else() {
    let (a, b, c, x) = (key("alice"), key("beatriz"), key("carla"), key("stranger"));
    let context = b"request 1";
    let sealed = crate::sealed::seal(
        b"Mario, 3 people",
        &[a.public(), b.public(), c.public(), a.public()],
        context,
    )
    .expect("seals");
    for who in [&a, &b, &c] {
        assert_eq!(
            crate::sealed::open(&sealed, who, context).expect("well formed"),
            Some(b"Mario, 3 people".to_vec())
        );
    }
    assert_eq!(crate::sealed::open(&sealed, &x, context), Ok(None));
    // Duplicates are sealed once; the count is all that shows.
    assert_eq!(crate::sealed::recipients(&sealed), Ok(3));
    // Version 1: one entry of the same size per recipient (the encapsulated key, then the
    // sealed content key), sorted.
    let (tag, keys, _) = parts(&sealed);
    assert_eq!((tag, keys.len()), (1, 3 * ENTRY));
    let entries: Vec<&[u8]> = keys.chunks(ENTRY).collect();
    assert!(
        entries.windows(2).all(|w| w[0] < w[1]),
        "entries are sorted"
    );
    // Neither the recipients' keys (in either form) nor the text appear in the bytes.
    for k in [&a, &b, &c] {
        let pk = k.public();
        assert!(!sealed.windows(32).any(|w| w == pk.as_bytes()));
        let x25519 = ed25519_dalek::VerifyingKey::from_bytes(pk.as_bytes())
            .expect("valid key")
            .to_montgomery();
        assert!(!sealed.windows(32).any(|w| w == x25519.as_bytes()));
    }
    assert!(!sealed.windows(5).any(|w| w == b"Mario"));
    // Another context does not open it: it cannot be moved to another request.
    assert_eq!(crate::sealed::open(&sealed, &a, b"request 2"), Ok(None));
    // A flipped byte is refused, or opens to nothing, or (when it damaged another
    // recipient's entry) to the same text; never to other text. Flips in the ciphertext and in
    // one's own entry never open.
    let mut opened_anyway = 0;
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        if let Ok(Some(text)) = crate::sealed::open(&bad, &a, context) {
            assert_eq!(text, b"Mario, 3 people", "byte {i}");
            opened_anyway += 1;
        }
    }
    assert!(
        opened_anyway <= 2 * ENTRY,
        "only other recipients' entries may be hit"
    );
    assert!(crate::sealed::seal(b"x", &[], context).is_err());
    assert!(crate::sealed::open(b"garbage", &a, context).is_err());
    // Two seals of the same text differ (fresh keys).
    let again = crate::sealed::seal(b"Mario, 3 people", &[a.public()], context).expect("seals");
    let once = crate::sealed::seal(b"Mario, 3 people", &[a.public()], context).expect("seals");
    assert_ne!(again, once);
}

/// A shelter request that `node` writes, with `sealed` as its sealed part (and the id that
/// they make).
fn request_event(node: &SecretKey, t: Timestamp, sealed: Vec<u8>) -> SignedEvent {
    sign(
        node,
        t,
        DocId::shelters("oaxaca"),
        Body::ShelterRequest(Box::new(crate::event::ShelterRequestBody {
            id: crate::event::ShelterRequestBody::id_for(&node.public(), &sealed),
            shelter: rid("casa"),
            org: "org-a".into(),
            region: "oaxaca".into(),
            sealed,
        })),
    )
}

fn decision_event(key: &SecretKey, t: Timestamp, request: RecordId, accepted: bool) -> SignedEvent {
    sign(
        key,
        t,
        DocId::shelters("oaxaca"),
        Body::ShelterDecision {
            request,
            shelter: rid("casa"),
            org: "org-a".into(),
            region: "oaxaca".into(),
            accepted,
        },
    )
}

#[test]
fn shelter_requests_are_relayed_by_nodes_and_decided_by_the_operators_admins() {
    use crate::event::ShelterRequestPayload;
    let net = Net::new();
    let roster = net.roster();
    let shelter = rid("casa");
    let node = net.n.public();
    let note = "two children, one needs insulin";
    let payload = ShelterRequestPayload::sign(&net.m, &shelter, &node, "Mario", 3, note);
    assert!(payload.verify(&shelter, &node));
    let mut forged = payload.clone();
    forged.people = 30;
    assert!(!forged.verify(&shelter, &node), "the count is signed");
    let mut renamed = payload.clone();
    renamed.name = "Alice".into();
    assert!(!renamed.verify(&shelter, &node), "so is the name");
    assert!(
        !payload.verify(&shelter, &net.b.public()),
        "so is the node that relays it"
    );

    let context = crate::event::ShelterRequestBody::context(&shelter, "org-a", &node);
    let body = payload
        .seal(
            &shelter,
            "org-a",
            "oaxaca",
            &node,
            &[net.a.public(), net.m.public()],
        )
        .expect("seals");
    let (id, sealed) = (body.id, body.sealed.clone());
    let request = request_event(&net.n, at(HOUR), sealed.clone());
    assert_eq!(request.event().body, Body::ShelterRequest(Box::new(body)));
    assert_eq!(roster.authorize(request.event()), Ok(()));
    // The member does not sign it (that would name them), nor does anyone but a node.
    for who in [&net.m, &net.a] {
        assert!(matches!(
            roster.authorize(request_event(who, at(HOUR), sealed.clone()).event()),
            Err(AuthError::Forbidden(_))
        ));
    }
    // The stored event names neither the requester nor the note.
    assert!(!request
        .to_bytes()
        .windows(32)
        .any(|w| w == net.m.public().as_bytes()));
    assert!(!request
        .to_bytes()
        .windows(8)
        .any(|w| w == &note.as_bytes()[..8]));
    // Too large a sealed part is refused.
    assert!(SignedEvent::sign(
        Event {
            author: net.n.public(),
            at: at(HOUR),
            seq: (at(HOUR)).0 as u64,
            doc: DocId::shelters("oaxaca"),
            body: Body::ShelterRequest(Box::new(crate::event::ShelterRequestBody {
                id: crate::event::ShelterRequestBody::id_for(
                    &net.n.public(),
                    &[0; crate::event::MAX_SEALED_BYTES + 1],
                ),
                shelter,
                org: "org-a".into(),
                region: "oaxaca".into(),
                sealed: vec![0; crate::event::MAX_SEALED_BYTES + 1],
            })),
        },
        &net.n,
    )
    .is_err());

    // Decisions: admins of the shelter's organisation only.
    let accept = decision_event(&net.a, at(HOUR + MIN), id, true);
    assert_eq!(roster.authorize(accept.event()), Ok(()));
    for who in [&net.s, &net.m, &net.n, &net.b] {
        assert!(matches!(
            roster.authorize(decision_event(who, at(HOUR + MIN), id, true).event()),
            Err(AuthError::Forbidden(_))
        ));
    }

    let decline = decision_event(&net.a, at(HOUR + 2 * MIN), id, false);
    let events = vec![
        shelter_event(&net.a, at(HOUR - MIN), shelter, "org-a", 10),
        request.clone(),
        accept,
    ];
    let list = view::shelter_requests(&roster, &events);
    assert_eq!(list.len(), 1);
    let r = &list[0];
    assert_eq!(r.id, id.to_string());
    assert_eq!(r.shelter_name.as_deref(), Some("Casa Refugio"));
    assert_eq!(r.via_node, net.n.public().to_string());
    assert_eq!(
        r.decision.as_ref().map(|d| d.action.as_str()),
        Some("accepted")
    );
    let sealed_back = data_encoding::BASE64
        .decode(r.sealed.as_bytes())
        .expect("base64");
    let opened = crate::sealed::open(&sealed_back, &net.a, &context)
        .expect("well formed")
        .expect("the admin can read it");
    let back: ShelterRequestPayload = postcard::from_bytes(&opened).expect("decodes");
    assert_eq!(back, payload);
    assert_eq!(
        crate::sealed::open(&sealed_back, &net.s, &context),
        Ok(None)
    );
    // The latest decision counts.
    let mut later = events.clone();
    later.push(decline);
    assert_eq!(
        view::shelter_requests(&roster, &later)[0]
            .decision
            .as_ref()
            .map(|d| d.action.as_str()),
        Some("declined")
    );
}

#[test]
fn sealed_payloads_take_their_randomness_from_the_caller() {
    let (a, b) = (key("alice"), key("beatriz"));
    let context = b"context";
    let seal = |k: [u8; 32], seed: [u8; 32]| {
        crate::sealed::seal_with_randomness(
            b"Mario, 3 people",
            &[a.public(), b.public()],
            context,
            k,
            seed,
        )
        .expect("seals")
    };
    let sealed = seal([7; 32], [8; 32]);
    assert_eq!(seal([7; 32], [8; 32]), sealed);
    assert_ne!(seal([7; 32], [9; 32]), sealed);
    assert_ne!(seal([6; 32], [8; 32]), sealed);
    for me in [&a, &b] {
        let opened = crate::sealed::open(&sealed, me, context).expect("opens");
        assert_eq!(opened.as_deref(), Some(&b"Mario, 3 people"[..]));
    }
}

#[test]
fn sealed_payloads_do_not_open_with_another_context() {
    let (a, b) = (key("alice"), key("beatriz"));
    let context = b"request 1";
    let sealed =
        crate::sealed::seal(b"Mario, 3 people", &[a.public(), b.public()], context).expect("seals");
    for who in [&a, &b] {
        assert!(crate::sealed::open(&sealed, who, context)
            .expect("opens")
            .is_some());
        // A shorter, a longer, an empty and a different context: none opens it.
        for other in [&b"request "[..], b"request 10", b"", b"request 2"] {
            assert_eq!(crate::sealed::open(&sealed, who, other), Ok(None));
        }
    }
    // The payload carries the context as associated data: the right entry with the ciphertext
    // of a payload sealed for another context does not open either.
    let (tag, keys, _) = parts(&sealed);
    let (_, _, foreign) = parts(
        &crate::sealed::seal(b"Mario, 3 people", &[a.public(), b.public()], b"request 2")
            .expect("seals"),
    );
    let mixed = join(tag, &keys.chunks(ENTRY).collect::<Vec<_>>(), &foreign);
    assert!(matches!(
        crate::sealed::open(&mixed, &a, context),
        Err(SealError::Malformed(_))
    ));
}

#[test]
fn an_entry_moved_to_another_sealed_payload_does_not_open() {
    let (a, b, c, d) = (key("alice"), key("beatriz"), key("carla"), key("dora"));
    let context = b"request 1";
    let first =
        crate::sealed::seal(b"Mario, 3 people", &[a.public(), b.public()], context).expect("seals");
    let second =
        crate::sealed::seal(b"Lucia, 2 people", &[c.public(), d.public()], context).expect("seals");
    let (tag, first_keys, _) = parts(&first);
    let (_, second_keys, second_ciphertext) = parts(&second);
    let second_entries: Vec<&[u8]> = second_keys.chunks(ENTRY).collect();
    // Each of the first payload's entries (so alice's and beatriz's) in place of each of the
    // second's: alice and beatriz cannot read the second payload, nor does it open to the
    // first payload's text.
    for moved in first_keys.chunks(ENTRY) {
        for replaced in 0..second_entries.len() {
            let mut entries = second_entries.clone();
            entries[replaced] = moved;
            let grafted = join(tag, &entries, &second_ciphertext);
            assert_eq!(crate::sealed::recipients(&grafted), Ok(2));
            for who in [&a, &b] {
                assert!(
                    !matches!(crate::sealed::open(&grafted, who, context), Ok(Some(_))),
                    "an entry from another payload opened"
                );
            }
        }
    }
    // Moved to a payload of another context, an entry does not even yield its content key.
    let elsewhere =
        crate::sealed::seal(b"Lucia, 2 people", &[c.public()], b"request 2").expect("seals");
    let (_, _, elsewhere_ciphertext) = parts(&elsewhere);
    for moved in first_keys.chunks(ENTRY) {
        let grafted = join(tag, &[moved], &elsewhere_ciphertext);
        for who in [&a, &b] {
            assert_eq!(crate::sealed::open(&grafted, who, b"request 2"), Ok(None));
        }
    }
}

#[test]
fn sealed_payloads_open_for_node_keys() {
    let net = Net::new();
    let roster = net.roster();
    // net.n is the network's first node (named by the genesis event).
    assert!(roster.is_active(&net.n.public()));
    assert_eq!(roster.org_of(&net.n.public()), Some("org-a"));
    let context = b"request 1";
    let sealed = crate::sealed::seal(b"to the node", &[net.n.public(), net.m.public()], context)
        .expect("seals");
    for who in [&net.n, &net.m] {
        assert_eq!(
            crate::sealed::open(&sealed, who, context),
            Ok(Some(b"to the node".to_vec()))
        );
    }
    // A node key read back from its 32 stored bytes, as the daemon loads node.key.
    let reloaded = SecretKey::from_bytes(net.n.to_bytes());
    assert_eq!(
        crate::sealed::open(&sealed, &reloaded, context),
        Ok(Some(b"to the node".to_vec()))
    );
    assert_eq!(crate::sealed::open(&sealed, &net.x, context), Ok(None));
}

#[test]
fn sealing_to_a_key_of_small_order_is_refused() {
    // The ed25519 identity point is a valid encoding whose X25519 form has small order: any
    // key agreed with it is known to everyone, so HPKE refuses it.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = PublicKey::from_bytes(identity);
    assert!(matches!(
        crate::sealed::seal(b"x", &[key("alice").public(), weak], b"context"),
        Err(SealError::Recipients(_))
    ));
}
