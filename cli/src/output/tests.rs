//! Output under hostile answers: a node can answer anything, and no answer may make the CLI
//! panic or write terminal control sequences. Ids shorter than a short id, multi-byte UTF-8
//! across the cut, empty strings, escape sequences, extreme times and counts go through every
//! function that prints an answer, in both modes.

use protocol::control::{DocInfo, MemberInfo, PeerInfo, Response, Status};
use protocol::event::{
    AlertKind, Certainty, CheckinStatus, Role, Severity, ShelterStatus, Urgency,
};
use protocol::view::{
    AlertView, CheckinView, DirectoryEntry, HistoryEntry, Receipt, ShelterRequestView, ShelterView,
};

use super::alerts::Change;
use super::*;

/// Strings a hostile node might put where ids, names and texts go.
pub(crate) fn hostile_strings() -> Vec<String> {
    vec![
        String::new(),
        "a".into(),
        "1234567".into(),
        // 'ñ' is two bytes and spans bytes 7 and 8: a byte slice [..8] cuts it.
        "abcdefgñ".into(),
        "ñññññññññ".into(),
        "😀😀😀😀😀😀😀😀😀".into(),
        "\u{1b}[2J\u{1b}[31mfake\nline\r\u{7}".into(),
    ]
}

fn entry(s: &str) -> HistoryEntry {
    HistoryEntry {
        at: s.into(),
        by: s.into(),
        by_name: None,
        action: s.into(),
        detail: None,
        event: s.into(),
    }
}

/// An alert whose every string is `s`, with extreme times and counts.
pub(crate) fn hostile_alert(s: &str) -> AlertView {
    let e = serde_json::to_value(entry(s)).expect("entry");
    let receipt = |after_ms, security_contact_node| Receipt {
        node: s.into(),
        org: s.into(),
        at: s.into(),
        after_ms,
        security_contact_node,
    };
    serde_json::from_value(serde_json::json!({
        "id": s, "kind": AlertKind::Panic, "severity": Severity::Extreme,
        "urgency": Urgency::Immediate, "certainty": Certainty::Observed,
        "region": s, "org": s, "text": s, "status": s, "author": s, "author_name": null,
        "created_at": s, "expires_at": s, "subject": s, "due": null,
        "acknowledgements": [e.clone()], "assignee": null, "resolution": null,
        "history": [e.clone(), e], "doc": s,
        "held_by": [receipt(i64::MIN, true), receipt(i64::MAX, false)],
        "network_nodes": usize::MAX, "first_ack_after_ms": i64::MIN,
    }))
    .expect("alert")
}

fn shelter(s: &str) -> ShelterView {
    ShelterView {
        id: s.into(),
        org: s.into(),
        name: s.into(),
        region: s.into(),
        capacity: u32::MAX,
        occupancy: i64::MIN,
        available: u32::MAX,
        services: vec![s.into()],
        accepts: vec![],
        contact: s.into(),
        status: ShelterStatus::Open,
        updated_at: s.into(),
        admins: vec![s.into()],
    }
}

fn checkin(s: &str) -> CheckinView {
    CheckinView {
        member: s.into(),
        device: Some(s.into()),
        name: s.into(),
        org: s.into(),
        region: None,
        status: Some(CheckinStatus::Danger),
        note: Some(s.into()),
        sealed: s.into(),
        at_ms: 0,
        at: s.into(),
        next_due: Some(s.into()),
        overdue: true,
        security_contacts: vec![s.into()],
    }
}

fn request(s: &str) -> OpenedRequest {
    OpenedRequest {
        request: ShelterRequestView {
            id: s.into(),
            shelter: s.into(),
            shelter_name: None,
            org: s.into(),
            region: s.into(),
            at: s.into(),
            via_node: s.into(),
            sealed: s.into(),
            decision: Some(entry(s)),
        },
        requester: s.into(),
        requester_name: s.into(),
        people: u32::MAX,
        note: s.into(),
        signature_ok: false,
    }
}

fn status(s: &str) -> Status {
    let mut status: Status = serde_json::from_value(serde_json::json!({
        "node_id": s, "peer_id": s, "org": s, "network": s, "listen_addrs": [s],
        "announced_addrs": [s], "connected_peers": [s], "documents": usize::MAX,
        "alerts": usize::MAX, "open_alerts": usize::MAX, "shelters": usize::MAX,
        "checkins": usize::MAX, "members": usize::MAX, "nodes": usize::MAX,
        "refused_connections": u64::MAX, "rejected_changes": u64::MAX,
        "gossip_accepted": u64::MAX, "gossip_rejected": u64::MAX,
        "throttled_requests": u64::MAX, "metrics_addr": s, "store_bytes": u64::MAX,
    }))
    .expect("status");
    status.org = s.into();
    status
}

fn responses(s: &str) -> Vec<Response> {
    vec![
        Response::Status(Box::new(status(s))),
        Response::Invite {
            code: s.into(),
            expires_at: s.into(),
        },
        Response::Alerts {
            alerts: vec![hostile_alert(s)],
        },
        Response::Checkins {
            checkins: vec![checkin(s)],
        },
        Response::Shelters {
            shelters: vec![shelter(s)],
        },
        Response::Members {
            members: vec![MemberInfo {
                key: s.into(),
                name: s.into(),
                org: s.into(),
                role: Role::Member,
                region: None,
                revoked: true,
                cloned: false,
                devices: vec![s.into()],
            }],
        },
        Response::Peers {
            peers: vec![PeerInfo {
                key: s.into(),
                org: s.into(),
                addrs: vec![s.into()],
                connected: false,
                connections: vec![],
                last_sync: None,
                revoked: false,
                faults: u64::MAX,
                suspended_until: Some(s.into()),
            }],
        },
        Response::Docs {
            docs: vec![DocInfo {
                doc: s.into(),
                heads: vec![s.into(), s.into()],
                events: usize::MAX,
            }],
        },
        Response::File {
            data: s.into(),
            summary: s.into(),
        },
        Response::Done { message: s.into() },
    ]
}

/// Runs `f` with a printer on memory and returns what it wrote to standard output and error.
pub(crate) fn printed(
    json: bool,
    f: impl FnOnce(&mut Printer<'_>) -> anyhow::Result<()>,
) -> (String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    f(&mut Printer::new(&mut out, &mut err, json)).expect("printing");
    (
        String::from_utf8(out).expect("utf-8"),
        String::from_utf8(err).expect("utf-8"),
    )
}

/// Human output of a hostile answer: no control characters but line ends, and nothing of
/// the escape sequence survives.
fn assert_terminal_safe(text: &str) {
    for c in text.chars() {
        assert!(c == '\n' || !c.is_control(), "control {c:?} in {text:?}");
    }
}

#[test]
fn every_output_survives_hostile_answers() {
    for s in hostile_strings() {
        for json in [false, true] {
            let a = hostile_alert(&s);
            let mut outputs = vec![
                printed(json, |p| alerts(p, std::slice::from_ref(&a))),
                printed(json, |p| alert_detail(p, &a)),
                printed(json, |p| receipts(p, &a)),
                printed(json, |p| watch_line(p, Change::New, &a)),
                printed(json, |p| watch_line(p, Change::Changed, &a)),
                printed(json, |p| shelters(p, &[shelter(&s)])),
                printed(json, |p| checkins(p, &[checkin(&s)])),
                printed(json, |p| shelter_requests(p, &[request(&s)], usize::MAX)),
                printed(json, |p| {
                    directory(
                        p,
                        &[DirectoryEntry {
                            region: s.clone(),
                            name: s.clone(),
                            org: s.clone(),
                            role: Role::Admin,
                            key: s.clone(),
                        }],
                    )
                }),
            ];
            for response in responses(&s) {
                outputs.push(printed(json, |p| operator(p, &response)));
            }
            for (out, err) in outputs {
                assert!(!out.is_empty(), "nothing printed for {s:?}");
                if !json {
                    assert_terminal_safe(&out);
                    assert_terminal_safe(&err);
                }
            }
        }
    }
}

#[test]
fn human_lines_show_short_ids_whole_characters() {
    let a = hostile_alert("ñññññññññ");
    let (out, _) = printed(false, |p| alerts(p, &[a]));
    // Eight whole characters, not eight bytes.
    let row = out.lines().nth(1).expect("a row");
    assert!(row.starts_with("ññññññññ  "), "{out}");
    let (line, _) = printed(false, |p| watch_line(p, Change::New, &hostile_alert("")));
    assert!(line.contains(" - "), "an empty id reads as -: {line}");
}

#[test]
fn extreme_times_read_as_plain_seconds() {
    assert_eq!(seconds(i64::MIN), "0.0");
    assert_eq!(seconds(-1), "0.0");
    assert_eq!(seconds(1500), "1.5");
    assert!(seconds(i64::MAX).starts_with("92233720368547"));
}

#[test]
fn short_and_clean_never_cut_a_character() {
    assert_eq!(short(""), "-");
    assert_eq!(short("abc"), "abc");
    assert_eq!(short("abcdefgñxyz"), "abcdefgñ");
    assert_eq!(short("😀😀😀😀😀😀😀😀😀"), "😀😀😀😀😀😀😀😀");
    assert_eq!(clean("a\nb\tc"), "a b c");
    assert_eq!(clean("\u{1b}[2J"), "\u{FFFD}[2J");
    assert!(matches!(clean("plain"), std::borrow::Cow::Borrowed(_)));
}

#[test]
fn json_output_keeps_the_answer_as_it_came() {
    let a = hostile_alert("\u{1b}[2J");
    let (out, _) = printed(true, |p| alert_detail(p, &a));
    let back: AlertView = serde_json::from_str(&out).expect("json");
    assert_eq!(back.id, "\u{1b}[2J");
}

#[test]
fn a_table_row_longer_than_its_header_is_cut_not_a_panic() {
    let (out, _) = printed(false, |p| {
        p.table(&["col-id"], vec![vec!["a".into(), "b".into()], vec![]])
    });
    assert_eq!(out.lines().count(), 3);
}
