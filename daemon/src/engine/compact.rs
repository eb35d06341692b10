//! Compaction of documents into one full save each, so that the next start-up loads one
//! chunk per document: at shutdown, and once after a start-up that found documents in many
//! chunks (a node stopped by a crash or kill -9 compacted nothing before it stopped).

use protocol::ids::DocId;

use super::Engine;

impl Engine {
    /// Replaces the chunks of every document stored in more than one by one full save (not
    /// flushed). Returns how many documents were compacted.
    pub(crate) fn compact_all(&mut self) -> anyhow::Result<usize> {
        let ids: Vec<DocId> = self
            .docs
            .keys()
            .filter(|id| self.store.chunk_count(id) > 1)
            .cloned()
            .collect();
        self.compact_docs(&ids)
    }

    /// Compacts the documents that start-up found in more than one chunk, once (not
    /// flushed). Returns how many documents were compacted.
    pub(crate) fn compact_loaded(&mut self) -> anyhow::Result<usize> {
        let ids = std::mem::take(&mut self.loaded_in_chunks);
        self.compact_docs(&ids)
    }

    fn compact_docs(&mut self, ids: &[DocId]) -> anyhow::Result<usize> {
        let mut done = 0;
        for id in ids {
            let Some(doc) = self.docs.get(id) else {
                continue;
            };
            // A cold document is one full save already.
            if doc.is_cold() || self.store.chunk_count(id) <= 1 {
                continue;
            }
            let full = doc.save_for_store();
            self.store.compact(id, &full)?;
            done += 1;
        }
        Ok(done)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use protocol::event::{Body, CheckinBody, Event, Role, SignedEvent};
    use protocol::ids::{DocId, SecretKey, Timestamp};

    use super::Engine;

    /// A check-in of `member` in `doc`.
    pub(in crate::engine) fn checkin(
        member: &SecretKey,
        doc: &DocId,
        seq: u64,
        at: Timestamp,
    ) -> SignedEvent {
        SignedEvent::sign(
            Event {
                author: member.public(),
                at,
                seq,
                doc: doc.clone(),
                body: Body::Checkin(CheckinBody {
                    next_due: None,
                    sealed: vec![7; 32],
                }),
            },
            member,
        )
        .expect("sign")
    }

    /// An engine with a genesis and one member, and `checkins` of that member's check-ins
    /// stored one submit (one chunk) at a time. Returns the member's key too.
    pub(in crate::engine) fn engine_with_checkins(
        dir: &std::path::Path,
        checkins: usize,
    ) -> (Engine, DocId, SecretKey) {
        let mut engine = Engine::open(dir, None).expect("engine");
        let admin = SecretKey::generate();
        let node = SecretKey::generate().public();
        let now = Timestamp::now();
        engine
            .genesis(&admin, node, "red", "casa", None, now)
            .expect("genesis");
        let bea = SecretKey::generate();
        let add = SignedEvent::sign(
            Event {
                author: admin.public(),
                at: now,
                seq: engine.next_seq(&admin.public()).expect("seq"),
                doc: DocId::roster(),
                body: Body::AddMember {
                    org: "casa".into(),
                    member: bea.public(),
                    name: "Bea".into(),
                    role: Role::Member,
                    region: None,
                },
            },
            &admin,
        )
        .expect("sign");
        engine.submit(None, vec![add], now).expect("member added");
        let doc = DocId::checkins("casa", now);
        for i in 0..checkins {
            let event = checkin(&bea, &doc, i as u64 + 1, now.plus_ms(-(i as i64) - 1));
            engine
                .submit(Some(bea.public()), vec![event], now)
                .expect("stored");
        }
        engine.flush().expect("flush");
        (engine, doc, bea)
    }

    #[test]
    fn a_compacted_store_reopens_with_every_event_in_one_chunk_per_document() {
        let dir = tempfile::tempdir().expect("dir");
        let store = dir.path().join("store");
        let (mut engine, doc, _) = engine_with_checkins(&store, 40);
        let heads = engine.docs[&doc].heads();
        assert_eq!(engine.store.chunk_count(&doc), 40);
        assert_eq!(
            engine.compact_all().expect("compact"),
            2,
            "roster and check-ins"
        );
        assert_eq!(engine.store.chunk_count(&doc), 1);
        assert_eq!(engine.store.chunk_count(&DocId::roster()), 1);
        engine.flush().expect("flush");
        drop(engine);
        let mut reopened = Engine::open(&store, None).expect("reopened");
        assert_eq!(reopened.docs[&doc].len(), 40);
        assert_eq!(reopened.docs[&doc].heads(), heads);
        assert!(reopened.loaded_in_chunks.is_empty());
        assert_eq!(
            reopened.compact_all().expect("compact"),
            0,
            "nothing left to do"
        );
    }

    #[test]
    fn a_store_left_in_chunks_is_compacted_once_after_start_up() {
        let dir = tempfile::tempdir().expect("dir");
        let store = dir.path().join("store");
        let (engine, doc, _) = engine_with_checkins(&store, 300);
        let heads = engine.docs[&doc].heads();
        // Dropped without compacting, as after kill -9: 300 submits left a full save (made
        // at 256 chunks) and 44 chunks after it.
        drop(engine);
        let mut reopened = Engine::open(&store, None).expect("reopened");
        assert_eq!(reopened.store.chunk_count(&doc), 45);
        assert_eq!(reopened.docs[&doc].len(), 300);
        assert_eq!(reopened.docs[&doc].heads(), heads);
        assert_eq!(reopened.compact_loaded().expect("compact"), 2);
        assert_eq!(reopened.compact_loaded().expect("compact"), 0, "only once");
        assert_eq!(reopened.store.chunk_count(&doc), 1);
        reopened.flush().expect("flush");
        drop(reopened);
        let again = Engine::open(&store, None).expect("reopened");
        assert_eq!(again.docs[&doc].len(), 300);
        assert_eq!(again.docs[&doc].heads(), heads);
    }
}
