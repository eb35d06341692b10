//! `export-doc`: a document other automerge tools can read. Read back with the automerge crate
//! as a plain map (and, when `TEJIDO_AUTOMERGE_JS` names a directory where
//! `@automerge/automerge` is installed, as `.ci/run` does, with the JavaScript library too),
//! an exported alert document holds the alert's text as a string, its history as a list, and
//! every event's signed bytes, which verify.

use automerge::{ReadDoc, ScalarValue, Value, ROOT};
use tests::{Member, Node, TestDir};

fn get_str(doc: &automerge::AutoCommit, obj: &automerge::ObjId, key: &str) -> String {
    match doc.get(obj, key).expect("get") {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Str(text) => text.to_string(),
            other => panic!("{key} is not a string: {other:?}"),
        },
        other => panic!("{key} is not a scalar: {other:?}"),
    }
}

fn get_obj(doc: &automerge::AutoCommit, obj: &automerge::ObjId, key: &str) -> automerge::ObjId {
    match doc.get(obj, key).expect("get") {
        Some((Value::Object(_), id)) => id,
        other => panic!("{key} is not an object: {other:?}"),
    }
}

#[test]
fn an_exported_alert_document_is_read_by_a_standard_automerge_reader() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let ana = Member::join(&t, "ana", &a.invite("Ana", "security-contact", "oaxaca"));
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let text = "me están siguiendo en el mercado";
    let panic = bea.json(&["panic", "--note", text]);
    let id = panic["id"].as_str().expect("id").to_string();
    ana.run(&["alert", "ack", &id]).ok();

    let alerts = a.tejido(&["alerts", "--json"]).json();
    let doc_id = alerts[0]["doc"].as_str().expect("doc").to_string();
    let file = t.path("alerts.automerge");
    a.tejido(&["export-doc", &doc_id, "--to", &file.display().to_string()])
        .ok();
    let bytes = std::fs::read(&file).expect("exported");

    let doc = automerge::AutoCommit::load(&bytes).expect("a standard automerge document");
    let header = get_obj(&doc, &ROOT, "tejido");
    assert_eq!(get_str(&doc, &header, "doc"), doc_id);
    let records = get_obj(&doc, &ROOT, "alerts");
    let alert = get_obj(&doc, &records, &id);
    assert_eq!(get_str(&doc, &alert, "text"), text);
    assert_eq!(get_str(&doc, &alert, "kind"), "panic");
    assert_eq!(get_str(&doc, &alert, "region"), "oaxaca");
    assert_eq!(get_str(&doc, &alert, "status"), "acknowledged");
    let history = get_obj(&doc, &alert, "history");
    assert!(doc.length(&history) >= 2, "raised and acknowledged");
    let first = match doc.get(&history, 0).expect("get") {
        Some((Value::Object(_), obj)) => obj,
        other => panic!("history entries are maps: {other:?}"),
    };
    assert_eq!(get_str(&doc, &first, "action"), "raised");

    // Every event's signed bytes are there and verify.
    let events = get_obj(&doc, &ROOT, "events");
    let keys: Vec<String> = doc.keys(&events).collect();
    assert!(keys.len() >= 2);
    for key in &keys {
        let entry = get_obj(&doc, &events, key);
        let signed = match doc.get(&entry, "signed").expect("get") {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Bytes(b) => b.clone(),
                other => panic!("signed is not bytes: {other:?}"),
            },
            other => panic!("no signed bytes: {other:?}"),
        };
        let event = protocol::event::SignedEvent::decode(&signed).expect("a valid signed event");
        assert_eq!(&event.id().to_string(), key);
    }

    // The replicated document itself, on request: event ids to signed bytes, and nothing else.
    let raw = t.path("raw.automerge");
    a.tejido(&[
        "export-doc",
        &doc_id,
        "--raw",
        "--to",
        &raw.display().to_string(),
    ])
    .ok();
    let raw = automerge::AutoCommit::load(&std::fs::read(&raw).expect("raw")).expect("load");
    let mut raw_keys: Vec<String> = raw.keys(ROOT).collect();
    let mut event_keys = keys.clone();
    raw_keys.sort();
    event_keys.sort();
    assert_eq!(raw_keys, event_keys);

    if let Ok(dir) = std::env::var("TEJIDO_AUTOMERGE_JS") {
        let dir = std::path::Path::new(&dir);
        let script = dir.join("read-tejido-export.mjs");
        std::fs::write(&script, JS_READER).expect("write the script");
        let out = std::process::Command::new("node")
            .arg(&script)
            .arg(&file)
            .output()
            .expect("running node");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let read: serde_json::Value = serde_json::from_str(&stdout).expect("json");
        assert_eq!(read[&id]["text"], text, "{stdout}");
        assert_eq!(read[&id]["status"], "acknowledged", "{stdout}");
    }
}

/// What README shows: a JavaScript program that loads an export with @automerge/automerge.
const JS_READER: &str = r#"import { readFileSync } from "node:fs";
import * as Automerge from "@automerge/automerge";

const doc = Automerge.load(new Uint8Array(readFileSync(process.argv[2])));
const out = {};
for (const [id, alert] of Object.entries(doc.alerts)) {
  out[id] = { text: alert.text, status: alert.status, history: alert.history.length };
}
console.log(JSON.stringify(out));
"#;
