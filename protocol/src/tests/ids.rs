//! Text forms of keys, ids, document ids, invite codes and timestamps, and what parsing
//! refuses.

use super::*;

#[test]
fn public_key_text_round_trip() {
    for name in ["alice", "mario", "sofia", "node-a"] {
        let public = key(name).public();
        let text = public.to_string();
        assert_eq!(text.len(), 52);
        assert_eq!(text, text.to_ascii_lowercase());
        assert_eq!(text.parse::<PublicKey>(), Ok(public));
        assert_eq!(text.to_ascii_uppercase().parse::<PublicKey>(), Ok(public));
        // Read aloud in groups of four, with dashes and spaces.
        let grouped: Vec<String> = text
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8(c.to_vec()).expect("ascii"))
            .collect();
        assert_eq!(grouped.join("-").parse::<PublicKey>(), Ok(public));
        assert_eq!(
            format!("  {}  ", grouped.join(" ")).parse::<PublicKey>(),
            Ok(public)
        );
        assert_eq!(&text[..8], public.fmt_short());
        // The last character carries one bit of the key and four zero bits; other trailing
        // bits are refused, so each key has one text form (up to case and separators).
        let last = text.as_bytes()[51];
        assert!(last == b'a' || last == b'q', "{text}");
        let noisy = format!("{}{}", &text[..51], (last + 1) as char);
        assert!(noisy.parse::<PublicKey>().is_err(), "{noisy}");
        assert_eq!(PublicKey::from_bytes(*public.as_bytes()), public);
    }
}

#[test]
fn public_key_text_refuses_bad_input() {
    let text = key("alice").public().to_string();
    let bad = [
        String::new(),
        text[..51].to_string(),
        format!("{text}a"),
        format!("{text}aaaaaaaa"),
        format!("1{}", &text[1..]),
        format!("{}!", &text[..51]),
        "not a key".to_string(),
    ];
    for input in bad {
        assert!(input.parse::<PublicKey>().is_err(), "{input:?} parsed");
    }
}

#[test]
fn secret_key_derivation_is_deterministic() {
    assert_eq!(key("alice").public(), key("alice").public());
    assert_ne!(key("alice").public(), key("mario").public());
    assert_ne!(
        SecretKey::derive("test", b"alice").public(),
        SecretKey::derive("other", b"alice").public()
    );
    let k = key("alice");
    assert_eq!(SecretKey::from_bytes(k.to_bytes()).public(), k.public());
    // Debug never shows the secret.
    let debug = format!("{k:?}");
    let secret_hex = data_encoding::HEXLOWER.encode(&k.to_bytes());
    assert!(!debug.contains(&secret_hex));
    // Signatures verify under the right key only.
    let sig = k.sign(b"msg");
    assert!(k.public().verify(b"msg", &sig));
    assert!(!k.public().verify(b"msh", &sig));
    assert!(!key("mario").public().verify(b"msg", &sig));
}

#[test]
fn doc_id_text_round_trip() {
    let t = at(0);
    let cases = [
        (DocId::roster(), "roster", Collection::Roster, None, None),
        (
            DocId::alerts("oaxaca", t),
            "alerts/oaxaca/2026-03",
            Collection::Alerts,
            Some("oaxaca"),
            Some("2026-03"),
        ),
        (
            DocId::checkins("org-a", t),
            "checkins/org-a/2026-03",
            Collection::Checkins,
            Some("org-a"),
            Some("2026-03"),
        ),
        (
            DocId::shelters("oaxaca"),
            "shelters/oaxaca",
            Collection::Shelters,
            Some("oaxaca"),
            None,
        ),
    ];
    for (id, text, collection, scope, period) in cases {
        assert_eq!(id.to_string(), text);
        assert_eq!(id.as_str(), text);
        assert_eq!(text.parse::<DocId>(), Ok(id.clone()));
        assert_eq!(id.collection(), collection);
        assert_eq!(id.scope(), scope);
        assert_eq!(id.period(), period);
        // Serde goes through the checked text form.
        let bytes = postcard::to_stdvec(&id).expect("encodes");
        assert_eq!(postcard::from_bytes::<DocId>(&bytes).expect("decodes"), id);
    }
}

#[test]
fn doc_id_months_are_1_to_12() {
    for month in ["00", "13", "20", "99"] {
        for collection in ["alerts/oaxaca", "receipts/oaxaca", "checkins/org-a"] {
            let input = format!("{collection}/2026-{month}");
            assert!(input.parse::<DocId>().is_err(), "{input:?} parsed");
        }
    }
    for month in 1..=12 {
        let input = format!("alerts/oaxaca/2026-{month:02}");
        let id: DocId = input.parse().expect("a month parses");
        assert!(id.period_end().is_some(), "{input}");
    }
}

#[test]
fn actions_and_receipts_are_not_dated_before_their_documents_period() {
    let net = Net::new();
    let march = DocId::alerts("oaxaca", at(0));
    let receipts = DocId::receipts_for(&march).expect("an alerts document");
    let start = march.period_start().expect("a period");
    assert_eq!(start.month(), "2026-03");
    assert_eq!(start.plus_ms(-1).month(), "2026-02");
    let alert = rid("a");
    let bodies = [
        (&net.m, march.clone(), Body::Ack { alert }),
        (
            &net.s,
            march.clone(),
            Body::Assign {
                alert,
                assignee: net.m.public(),
            },
        ),
        (
            &net.s,
            march.clone(),
            Body::Resolve {
                alert,
                note: "safe".into(),
                checkin: None,
            },
        ),
        (
            &net.n,
            receipts.clone(),
            Body::Held {
                alerts: vec![alert],
            },
        ),
    ];
    for (author, doc, body) in bodies {
        let event = |t: Timestamp| Event {
            author: author.public(),
            at: t,
            seq: (t).0 as u64,
            doc: doc.clone(),
            body: body.clone(),
        };
        for early in [start.plus_ms(-1), Timestamp(i64::MIN), Timestamp(0)] {
            assert!(
                matches!(
                    SignedEvent::sign(event(early), author),
                    Err(VerifyError::Invalid(_))
                ),
                "{body:?} at {early:?}"
            );
            let forged = forge(&event(early), author);
            assert!(SignedEvent::decode(&forged).is_err(), "{body:?} decoded");
        }
        // From the first instant of the month on, and after the month ends (an alert of
        // March may be acknowledged in April).
        for fine in [start, at(HOUR), start.plus_ms(40 * 24 * HOUR)] {
            SignedEvent::sign(event(fine), author).expect("signs");
        }
    }
}

#[test]
fn doc_id_text_refuses_bad_input() {
    let bad = [
        "",
        "rooster",
        "roster/x",
        "alerts",
        "alerts/oaxaca",
        "alerts/Oaxaca/2026-03",
        "alerts/oaxaca/2026-3",
        "alerts/oaxaca/2026_03",
        "alerts/oaxaca/20a6-03",
        "alerts/oaxaca/2026-03/x",
        "alerts//2026-03",
        "checkins/org a/2026-03",
        "checkins/org-a",
        "shelters/",
        "shelters/oaxaca/2026-03",
        "shelters/ñuu-savi",
        "alerts/oaxaca/2026-0é",
    ];
    for input in bad {
        assert!(input.parse::<DocId>().is_err(), "{input:?} parsed");
    }
    let long = format!("shelters/{}", "a".repeat(33));
    assert!(long.parse::<DocId>().is_err());
    let longest = format!("shelters/{}", "a".repeat(32));
    assert!(longest.parse::<DocId>().is_ok());
    // Deserialising refuses what parsing refuses.
    let bytes = postcard::to_stdvec("alerts/Oaxaca/2026-03").expect("encodes");
    assert!(postcard::from_bytes::<DocId>(&bytes).is_err());
}

#[test]
fn record_id_text_round_trip() {
    let id = rid("shelter");
    let text = id.to_string();
    assert_eq!(text.len(), 32);
    assert_eq!(text.parse::<RecordId>(), Ok(id));
    assert_eq!(text.to_ascii_uppercase().parse::<RecordId>(), Ok(id));
    assert_eq!(id.fmt_short(), &text[..8]);
    for bad in [
        String::new(),
        text[..31].to_string(),
        text[..30].to_string(),
        format!("{text}00"),
        format!("g{}", &text[1..]),
    ] {
        assert!(bad.parse::<RecordId>().is_err(), "{bad:?} parsed");
    }
    // Derived ids are stable and separate their parts.
    assert_eq!(
        RecordId::derive("l", &[b"ab", b"c"]),
        RecordId::derive("l", &[b"ab", b"c"])
    );
    assert_ne!(
        RecordId::derive("l", &[b"ab", b"c"]),
        RecordId::derive("l", &[b"a", b"bc"])
    );
    assert_ne!(
        RecordId::derive("l", &[b"a"]),
        RecordId::derive("m", &[b"a"])
    );
}

#[test]
fn invite_code_text_round_trip() {
    let code = InviteCode::V0 {
        kind: InviteKind::Member,
        node: key("node-a").public(),
        addrs: vec![
            "/ip4/10.0.0.1/tcp/4001".into(),
            "/dns4/a.example/udp/4001/quic-v1".into(),
        ],
        secret: [7; 32],
        expires: at(HOUR),
    };
    let text = code.encode();
    assert!(text.starts_with("tj0"));
    assert_eq!(text, text.to_ascii_lowercase());
    assert_eq!(InviteCode::decode(&text), Ok(code.clone()));
    assert_eq!(
        InviteCode::decode(&format!("  {}\n", text.to_ascii_uppercase())),
        Ok(code.clone())
    );
    // The one-time identity and the proof message depend on the secret only.
    let InviteCode::V0 { secret, .. } = &code;
    assert_eq!(
        code.identity().public(),
        SecretKey::derive("tejido invite identity v0", secret).public()
    );
    let newcomer = key("mario").public();
    let msg = code.proof_message(&newcomer);
    assert!(msg.starts_with(b"tejido redeem v0"));
    assert!(msg.ends_with(newcomer.as_bytes()));
    assert_ne!(msg, code.proof_message(&key("sofia").public()));
}

#[test]
fn invite_code_text_refuses_bad_input() {
    let code = InviteCode::V0 {
        kind: InviteKind::Node,
        node: key("node-a").public(),
        addrs: vec!["/ip4/10.0.0.1/tcp/4001".into()],
        secret: [9; 32],
        expires: at(HOUR),
    };
    let text = code.encode();
    let bad = vec![
        String::new(),
        "tj".to_string(),
        "tj0".to_string(),
        format!("tj1{}", &text[3..]),
        text[3..].to_string(),
        text[..text.len() - 10].to_string(),
        format!("{text}!"),
        format!("{}1", &text[..text.len() - 1]),
        format!("tj0{}", "a".repeat(5000)),
        "ñj0abc".to_string(),
    ];
    for input in bad {
        assert!(InviteCode::decode(&input).is_err(), "{input:?} decoded");
    }
    // Too many addresses.
    let crowded = InviteCode::V0 {
        kind: InviteKind::Node,
        node: key("node-a").public(),
        addrs: vec!["/ip4/10.0.0.1/tcp/1".into(); 17],
        secret: [9; 32],
        expires: at(HOUR),
    };
    assert!(InviteCode::decode(&crowded.encode()).is_err());
}

#[test]
fn timestamp_text_forms() {
    assert_eq!(Timestamp(0).month(), "1970-01");
    assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00Z");
    assert_eq!(Timestamp(999).rfc3339(), "1970-01-01T00:00:00Z");
    assert_eq!(Timestamp(-1).month(), "1969-12");
    assert_eq!(at(0).rfc3339(), "2026-03-10T00:00:00Z");
    assert_eq!(at(0).month(), "2026-03");
    assert_eq!(at(0).to_string(), "2026-03-10T00:00:00Z");
    assert_eq!(
        Timestamp(1_767_225_599_999).rfc3339(),
        "2025-12-31T23:59:59Z"
    );
    assert_eq!(Timestamp(1_767_225_599_999).month(), "2025-12");
    assert_eq!(Timestamp(1_767_225_600_000).month(), "2026-01");
    assert_eq!(Timestamp(5).plus_ms(7), Timestamp(12));
    assert_eq!(Timestamp(i64::MAX).plus_ms(1), Timestamp(i64::MAX));
}
