//! `export-doc`: one document written for other automerge tools. The replicated document maps
//! event ids to signed bytes, which a JavaScript dashboard cannot read; this one holds the
//! same records folded as the node shows them (an alert's kind, text, region, status, times
//! and history), as plain automerge values (maps, lists, strings, numbers, booleans), next to
//! every event's signed bytes for whoever wants to verify them.
//!
//! Root map:
//! - `tejido`: `{ doc, exported_by, exported_at, format }` (`format` is this layout's version, 1)
//! - one of `alerts`, `checkins`, `shelters` or `members`: record id to record
//! - `events`: event id to `{ author, at (Unix ms), signed (bytes) }`
//!
//! Check-ins carry what every node reads (who, when, the next due time); their sealed status
//! and note stay out.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ScalarValue, ROOT};
use protocol::doc::Document;
use protocol::ids::{Collection, PublicKey, Timestamp};
use protocol::roster::Roster;
use serde_json::Value;

/// The version of the layout above.
const FORMAT: i64 = 1;

/// Where a value goes: a key of a map or the end of a list.
enum At<'a> {
    Key(&'a str),
    End(usize),
}

fn put_value(doc: &mut AutoCommit, obj: &ObjId, at: At<'_>, value: &Value) -> anyhow::Result<()> {
    let scalar = match value {
        Value::Object(map) => {
            let child = match at {
                At::Key(k) => doc.put_object(obj, k, ObjType::Map)?,
                At::End(i) => doc.insert_object(obj, i, ObjType::Map)?,
            };
            for (k, v) in map {
                put_value(doc, &child, At::Key(k), v)?;
            }
            return Ok(());
        }
        Value::Array(items) => {
            let child = match at {
                At::Key(k) => doc.put_object(obj, k, ObjType::List)?,
                At::End(i) => doc.insert_object(obj, i, ObjType::List)?,
            };
            for (i, v) in items.iter().enumerate() {
                put_value(doc, &child, At::End(i), v)?;
            }
            return Ok(());
        }
        Value::Null => ScalarValue::Null,
        Value::Bool(b) => ScalarValue::Boolean(*b),
        Value::String(s) => ScalarValue::Str(s.as_str().into()),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => ScalarValue::Int(i),
            (None, Some(u)) => ScalarValue::Uint(u),
            _ => ScalarValue::F64(n.as_f64().unwrap_or(0.0)),
        },
    };
    match at {
        At::Key(k) => doc.put(obj, k, scalar)?,
        At::End(i) => doc.insert(obj, i, scalar)?,
    }
    Ok(())
}

/// Records keyed by their `id` field (or their position when they have none).
fn keyed(records: Value, id_field: &str) -> Value {
    let Value::Array(items) = records else {
        return Value::Object(Default::default());
    };
    let map = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let key = item[id_field]
                .as_str()
                .map_or_else(|| i.to_string(), str::to_string);
            (key, item)
        })
        .collect();
    Value::Object(map)
}

/// The document `doc` as plain automerge values (see the module doc), saved.
pub(crate) fn export(
    doc: &Document,
    roster: &Roster,
    me: &PublicKey,
    now: Timestamp,
) -> anyhow::Result<Vec<u8>> {
    let events = doc.events();
    let events = events.iter();
    let (name, records) = match doc.id().collection() {
        Collection::Alerts => (
            "alerts",
            keyed(
                serde_json::to_value(protocol::view::alerts(roster, events, now))?,
                "id",
            ),
        ),
        Collection::Checkins => {
            let mut list =
                serde_json::to_value(protocol::view::checkins(roster, events, now, None))?;
            // Sealed parts stay sealed: no status or note, opened or not.
            if let Value::Array(items) = &mut list {
                for item in items {
                    if let Value::Object(map) = item {
                        map.remove("status");
                        map.remove("note");
                    }
                }
            }
            ("checkins", keyed(list, "member"))
        }
        Collection::Shelters => (
            "shelters",
            keyed(
                serde_json::to_value(protocol::view::shelters(roster, events))?,
                "id",
            ),
        ),
        Collection::Roster => {
            let members: serde_json::Map<String, Value> = roster
                .members
                .iter()
                .map(|(k, m)| {
                    let value = serde_json::json!({
                        "key": k.to_string(),
                        "name": m.name,
                        "org": m.org,
                        "role": m.role.as_str(),
                        "region": m.region,
                        "revoked": m.revoked_at.is_some(),
                    });
                    (k.to_string(), value)
                })
                .collect();
            ("members", Value::Object(members))
        }
        _ => ("records", Value::Object(Default::default())),
    };
    let mut out = AutoCommit::new();
    let header = serde_json::json!({
        "doc": doc.id().to_string(),
        "exported_by": me.to_string(),
        "exported_at": now.rfc3339(),
        "format": FORMAT,
    });
    put_value(&mut out, &ROOT, At::Key("tejido"), &header)?;
    put_value(&mut out, &ROOT, At::Key(name), &records)?;
    let events_obj = out.put_object(ROOT, "events", ObjType::Map)?;
    for e in doc.each_event() {
        let entry = out.put_object(&events_obj, e.id().to_string(), ObjType::Map)?;
        out.put(&entry, "author", e.event().author.to_string())?;
        out.put(&entry, "at", e.event().at.0)?;
        out.put(&entry, "signed", ScalarValue::Bytes(e.to_bytes()))?;
    }
    Ok(out.save())
}
