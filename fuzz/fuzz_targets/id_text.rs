//! The text forms of ids, which come from peers (document ids in sync messages travel as
//! strings), from the command line and from config files: `DocId`, `PublicKey` and `RecordId`
//! parsing. Whatever parses must print to text that parses back to the same value.
#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use protocol::event::Role;
use protocol::ids::{check_slug, DocId, PublicKey, RecordId};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(doc) = DocId::from_str(text) {
        assert_eq!(doc.as_str(), text);
        assert_eq!(DocId::from_str(&doc.to_string()).as_ref(), Ok(&doc));
        let _ = (doc.collection(), doc.scope(), doc.period());
        let via_serde: Result<DocId, _> = DocId::try_from(text.to_string());
        assert_eq!(via_serde.as_ref(), Ok(&doc));
    }
    if let Ok(key) = PublicKey::from_str(text) {
        let shown = key.to_string();
        assert_eq!(PublicKey::from_str(&shown), Ok(key));
        assert_eq!(shown.len(), 52);
        let _ = key.fmt_short();
        // Verifying with a key that may not be a curve point must not panic.
        let _ = key.verify(b"msg", &[0u8; 64]);
    }
    if let Ok(id) = RecordId::from_str(text) {
        let shown = id.to_string();
        assert_eq!(RecordId::from_str(&shown), Ok(id));
        let _ = id.fmt_short();
    }
    let _ = check_slug("slug", text);
    let _ = Role::from_str(text);
});
