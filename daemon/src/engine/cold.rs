//! Cold documents: the automerge document of a document nobody wrote or synced for a while
//! is dropped from memory and loaded again from the store when it is needed (sync, a write, a
//! save). Its events stay, so views read it as before; its heads stay, so summaries do too.
//!
//! A document goes cold only as one full save in the store (it is compacted first, if need
//! be), so warming it is one `Automerge::load`. The roster never goes cold, nor does a
//! check-in document, whose events are only in its automerge document (`protocol::doc`).

use protocol::doc::Document;
use protocol::ids::DocId;

use super::Engine;

/// Anti-entropy ticks (15 s each) a document stays warm after it was last written or synced.
pub(super) const COLD_AFTER_TICKS: u64 = 4;

impl Engine {
    /// Loads a cold document's automerge document again, and marks it used now. Nothing to do
    /// for a warm or an unknown document.
    pub(crate) fn warm(&mut self, id: &DocId) -> anyhow::Result<()> {
        let Some(doc) = self.docs.get(id) else {
            return Ok(());
        };
        self.last_used.insert(id.clone(), self.ticks);
        if !doc.is_cold() {
            return Ok(());
        }
        let chunks = self.store.load_doc(id)?;
        if let Some(doc) = self.docs.get_mut(id) {
            doc.warm(&chunks)
                .map_err(|e| anyhow::anyhow!("loading {id} again from the store: {e}"))?;
        }
        Ok(())
    }

    /// One tick of the cold documents' clock: every document unused for
    /// [`COLD_AFTER_TICKS`] ticks (or since start-up) is compacted if it is not already, then
    /// made cold (compaction not flushed: until the flush, the store holds the same changes in
    /// chunks, and warming loads those). Returns how many documents went cold.
    pub(crate) fn cool_idle(&mut self) -> anyhow::Result<usize> {
        self.ticks += 1;
        let now = self.ticks;
        let idle: Vec<DocId> = self
            .docs
            .iter()
            .filter(|(id, doc)| {
                **id != DocId::roster() && doc.keeps_events() && !doc.is_cold() && !doc.is_empty()
            })
            .filter(|(id, _)| {
                self.last_used
                    .get(*id)
                    .is_none_or(|at| now.saturating_sub(*at) >= COLD_AFTER_TICKS)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &idle {
            let Some(doc) = self.docs.get_mut(id) else {
                continue;
            };
            if self.store.chunk_count(id) != 1 {
                let full = doc.save_for_store();
                self.store.compact(id, &full)?;
            }
            doc.set_cold();
            self.last_used.remove(id);
        }
        Ok(idle.len())
    }

    /// A document in automerge's binary format: the stored full save of a cold document.
    pub(crate) fn saved(&self, id: &DocId) -> anyhow::Result<Option<Vec<u8>>> {
        let Some(doc) = self.docs.get(id) else {
            return Ok(None);
        };
        if !doc.is_cold() {
            return Ok(Some(doc.save()));
        }
        let mut chunks = self.store.load_doc(id)?;
        // A full save (type 0 in the chunk header), not a lone change.
        if chunks.len() == 1 && chunks[0].get(8) == Some(&0) {
            return Ok(chunks.pop());
        }
        let loaded = Document::load(id.clone(), &chunks)
            .map_err(|e| anyhow::anyhow!("loading {id} from the store: {e}"))?;
        Ok(Some(loaded.save()))
    }
}

#[cfg(test)]
mod tests {
    use protocol::event::{
        AlertBody, AlertKind, Body, Certainty, Event, Severity, SignedEvent, Urgency,
    };
    use protocol::ids::{DocId, SecretKey, Timestamp};

    use super::COLD_AFTER_TICKS;
    use crate::engine::compact::tests::engine_with_checkins;
    use crate::engine::Engine;
    use crate::sync::Docs;

    fn cool(engine: &mut Engine) {
        for _ in 0..COLD_AFTER_TICKS {
            engine.cool_idle().expect("tick");
        }
    }

    /// An alert of `admin` in `doc`, at `at`.
    fn alert(engine: &mut Engine, admin: &SecretKey, doc: &DocId, at: Timestamp) -> SignedEvent {
        SignedEvent::sign(
            Event {
                author: admin.public(),
                at,
                seq: engine.next_seq(&admin.public()).expect("seq"),
                doc: doc.clone(),
                body: Body::Alert(Box::new(AlertBody {
                    id: AlertBody::id_for(&admin.public(), at),
                    kind: AlertKind::Panic,
                    severity: Severity::Extreme,
                    urgency: Urgency::Immediate,
                    certainty: Certainty::Observed,
                    region: "oaxaca".into(),
                    org: "casa".into(),
                    text: format!("alert at {}", at.0),
                    expires_at: None,
                    subject: None,
                    due: None,
                })),
            },
            admin,
        )
        .expect("sign")
    }

    /// An engine with a genesis, the region "oaxaca" and `alerts` alerts of its admin in the
    /// region's alerts document, stored one submit (one chunk) at a time. Returns the admin's
    /// key too.
    fn engine_with_alerts(dir: &std::path::Path, alerts: usize) -> (Engine, DocId, SecretKey) {
        let mut engine = Engine::open(dir, None).expect("engine");
        let admin = SecretKey::generate();
        let node = SecretKey::generate().public();
        let now = Timestamp::now();
        engine
            .genesis(&admin, node, "red", "casa", None, now)
            .expect("genesis");
        let declare = SignedEvent::sign(
            Event {
                author: admin.public(),
                at: now,
                seq: engine.next_seq(&admin.public()).expect("seq"),
                doc: DocId::roster(),
                body: Body::DeclareRegion {
                    org: "casa".into(),
                    region: "oaxaca".into(),
                },
            },
            &admin,
        )
        .expect("sign");
        engine.submit(None, vec![declare], now).expect("declared");
        let doc = DocId::alerts("oaxaca", now);
        for i in 0..alerts {
            let event = alert(&mut engine, &admin, &doc, now.plus_ms(-(i as i64) - 1));
            engine.submit(None, vec![event], now).expect("stored");
        }
        engine.flush().expect("flush");
        (engine, doc, admin)
    }

    #[test]
    fn an_idle_document_goes_cold_and_keeps_its_events_and_heads() {
        let dir = tempfile::tempdir().expect("dir");
        let (mut engine, doc, _) = engine_with_alerts(&dir.path().join("store"), 30);
        let heads = engine.docs[&doc].heads();
        assert_eq!(engine.store.chunk_count(&doc), 30);
        // Just written: warm for a while.
        for _ in 1..COLD_AFTER_TICKS {
            engine.cool_idle().expect("tick");
            assert!(!engine.docs[&doc].is_cold());
        }
        assert_eq!(engine.cool_idle().expect("tick"), 1);
        let cold = &engine.docs[&doc];
        assert!(cold.is_cold());
        assert_eq!(cold.heads(), heads);
        assert_eq!(cold.len(), 30);
        assert_eq!(
            engine.store.chunk_count(&doc),
            1,
            "compacted before it went cold"
        );
        assert!(
            !engine.docs[&DocId::roster()].is_cold(),
            "the roster stays warm"
        );
        assert_eq!(engine.alerts(None, false, Timestamp::now()).len(), 30);
        let saved = engine.saved(&doc).expect("saved").expect("a document");
        let reloaded = protocol::doc::Document::load(doc.clone(), &[saved]).expect("loads");
        assert_eq!(reloaded.heads(), heads);
        assert_eq!(reloaded.len(), 30);
    }

    #[test]
    fn a_check_in_document_has_its_events_only_in_automerge_and_stays_warm() {
        let dir = tempfile::tempdir().expect("dir");
        let (mut engine, doc, _) = engine_with_checkins(&dir.path().join("store"), 30);
        let heads = engine.docs[&doc].heads();
        for _ in 0..2 * COLD_AFTER_TICKS {
            assert_eq!(engine.cool_idle().expect("tick"), 0);
        }
        let warm = &engine.docs[&doc];
        assert!(!warm.is_cold() && !warm.keeps_events());
        assert!(warm.kept_events().is_empty(), "nothing decoded is held");
        assert_eq!((warm.len(), warm.events().len()), (30, 30));
        assert_eq!(warm.heads(), heads);
        assert_eq!(
            engine.store.chunk_count(&doc),
            30,
            "not compacted for nothing"
        );
        assert_eq!(engine.checkins(false, Timestamp::now(), None).len(), 1);
        assert_eq!(engine.checkin_count(), 30);
    }

    #[test]
    fn a_write_to_a_cold_document_warms_it_and_survives_a_restart() {
        let dir = tempfile::tempdir().expect("dir");
        let store = dir.path().join("store");
        let (mut engine, doc, admin) = engine_with_alerts(&store, 10);
        cool(&mut engine);
        assert!(engine.docs[&doc].is_cold());
        let before = engine.docs[&doc].heads();
        let now = Timestamp::now();
        let event = alert(&mut engine, &admin, &doc, now);
        engine
            .submit(None, vec![event], now)
            .expect("stored in the cold document");
        assert!(!engine.docs[&doc].is_cold());
        assert_ne!(engine.docs[&doc].heads(), before);
        let heads = engine.docs[&doc].heads();
        engine.flush().expect("flush");
        drop(engine);
        let reopened = Engine::open(&store, None).expect("reopened");
        assert_eq!(reopened.docs[&doc].len(), 11);
        assert_eq!(reopened.docs[&doc].heads(), heads);
    }

    #[test]
    fn a_cold_document_syncs_to_a_node_that_lacks_it() {
        let dir = tempfile::tempdir().expect("dir");
        let (mut a, doc, _) = engine_with_alerts(&dir.path().join("a"), 20);
        cool(&mut a);
        assert!(a.docs[&doc].is_cold());
        let me = *a.roster().nodes.keys().next().expect("a node");
        let mut b = Engine::open(&dir.path().join("b"), None).expect("engine");
        b.adopt_roster(&a.roster_bytes().expect("roster"), &me)
            .expect("roster adopted");
        let (mut sa, mut sb) = (automerge::sync::State::new(), automerge::sync::State::new());
        let now = Timestamp::now();
        for _ in 0..10 {
            let to_b = a.generate(&doc, &mut sa, None).expect("generate");
            if let Some(msg) = &to_b {
                b.receive(&doc, &mut sb, msg, now).expect("b takes it");
            }
            let to_a = b.generate(&doc, &mut sb, None).expect("generate");
            if let Some(msg) = &to_a {
                a.receive(&doc, &mut sa, msg, now).expect("a takes it");
            }
            if to_a.is_none() && to_b.is_none() {
                break;
            }
        }
        assert_eq!(b.docs[&doc].len(), 20);
        assert_eq!(b.docs[&doc].heads(), a.docs[&doc].heads());
        assert!(!a.docs[&doc].is_cold(), "syncing warmed it");
    }
}
