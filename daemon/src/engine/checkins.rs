//! The check-in views: each person's latest allowed check-in, indexed as check-ins arrive.
//!
//! Check-in documents are the bulk of what a node holds and do not keep their events decoded
//! (`protocol::doc`); every question asked of them (the members' list, the dead man's
//! switch) needs only each person's latest check-in. The index holds that one event per
//! person. Which check-in is a person's latest depends on the roster (who a device belongs
//! to, which keys are revoked and from when), so a roster change (but a node's new
//! addresses), or a check-in document dropped by retention, marks the index stale; the next
//! question folds it again from every check-in, decoded one at a time.

use std::collections::BTreeMap;

use protocol::event::{Body, SignedEvent};
use protocol::ids::{Collection, PublicKey, SecretKey, Timestamp};
use protocol::roster::Roster;

use super::Engine;

/// Each person's latest allowed check-in, by (time, id), from whichever of their devices: the
/// rule of [`protocol::view::checkins`], which is shown only these events.
#[derive(Debug, Default)]
pub(super) struct LatestIndex {
    by_person: BTreeMap<PublicKey, SignedEvent>,
}

impl LatestIndex {
    /// Keeps `e` if it is a check-in the roster allows, later than its person's latest.
    pub(super) fn offer(&mut self, roster: &Roster, e: &SignedEvent) {
        let ev = e.event();
        if !matches!(ev.body, Body::Checkin(_)) {
            return;
        }
        let person = roster.person_of(&ev.author);
        // Only a check-in later than the person's latest is asked of the roster: most of a
        // start-up's 60,000 are not (the same answer as asking first, with a few thousand
        // questions instead).
        if let Some(slot) = self.by_person.get(&person) {
            if (slot.event().at, slot.id()) >= (ev.at, e.id()) {
                return;
            }
        }
        if roster.authorize(ev).is_ok() {
            self.by_person.insert(person, e.clone());
        }
    }
}

/// A member's latest check-in, as the dead man's switch needs it.
#[derive(Clone)]
pub(crate) struct LatestCheckin {
    pub(crate) at: Timestamp,
    pub(crate) next_due: Option<Timestamp>,
    pub(crate) event: SignedEvent,
}

impl Engine {
    /// Offers events just stored to the index, where it is up to date.
    pub(super) fn index_checkins(&mut self, events: &[SignedEvent]) {
        let roster = &self.roster;
        if let Some(index) = self.latest.get_mut() {
            for e in events {
                if e.event().doc.collection() == Collection::Checkins {
                    index.offer(roster, e);
                }
            }
        }
    }

    /// Marks the index stale: the roster changed, or check-ins were dropped.
    pub(super) fn checkins_changed(&mut self) {
        *self.latest.get_mut() = None;
    }

    /// Folds the index from every check-in held, decoded one at a time.
    pub(super) fn fold_latest(&self) -> LatestIndex {
        let mut index = LatestIndex::default();
        for doc in self.docs.values() {
            if doc.id().collection() == Collection::Checkins {
                for e in doc.each_event() {
                    index.offer(&self.roster, &e);
                }
            }
        }
        index
    }

    /// Runs `f` on the index, folding it first if it is stale.
    fn with_latest<T>(&self, f: impl FnOnce(&LatestIndex) -> T) -> T {
        let mut slot = self.latest.borrow_mut();
        f(slot.get_or_insert_with(|| self.fold_latest()))
    }

    /// The latest check-ins, their private parts opened with `opener` where it is a reader.
    pub(crate) fn checkins(
        &self,
        overdue_only: bool,
        now: Timestamp,
        opener: Option<&SecretKey>,
    ) -> Vec<protocol::view::CheckinView> {
        self.with_latest(|index| {
            protocol::view::checkins(&self.roster, index.by_person.values(), now, opener)
        })
        .into_iter()
        .filter(|c| !overdue_only || c.overdue)
        .collect()
    }

    /// Each person's latest allowed check-in, from whichever of their devices.
    pub(crate) fn latest_checkins(&self) -> BTreeMap<PublicKey, LatestCheckin> {
        self.with_latest(|index| {
            index
                .by_person
                .iter()
                .filter_map(|(person, e)| {
                    let Body::Checkin(c) = &e.event().body else {
                        return None;
                    };
                    let latest = LatestCheckin {
                        at: e.event().at,
                        next_due: c.next_due,
                        event: e.clone(),
                    };
                    Some((*person, latest))
                })
                .collect()
        })
    }

    /// How many check-ins the node holds.
    pub(crate) fn checkin_count(&self) -> usize {
        self.docs
            .values()
            .filter(|d| d.id().collection() == Collection::Checkins)
            .map(|d| d.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use protocol::event::{Body, Event, Role, SignedEvent};
    use protocol::ids::{DocId, SecretKey, Timestamp};

    use crate::engine::compact::tests::checkin;
    use crate::engine::Engine;

    fn roster_event(engine: &mut Engine, key: &SecretKey, body: Body) -> SignedEvent {
        SignedEvent::sign(
            Event {
                author: key.public(),
                at: Timestamp::now(),
                seq: engine.next_seq(&key.public()).expect("seq"),
                doc: DocId::roster(),
                body,
            },
            key,
        )
        .expect("sign")
    }

    fn add_member(engine: &mut Engine, admin: &SecretKey, name: &str) -> SecretKey {
        let member = SecretKey::generate();
        let add = roster_event(
            engine,
            admin,
            Body::AddMember {
                org: "casa".into(),
                member: member.public(),
                name: name.into(),
                role: Role::Member,
                region: None,
            },
        );
        engine
            .submit(None, vec![add], Timestamp::now())
            .expect("added");
        member
    }

    /// What the index answers, against the view folded from every check-in held.
    fn assert_as_folded(engine: &Engine, now: Timestamp) {
        let all: Vec<SignedEvent> = engine
            .docs
            .values()
            .flat_map(|d| d.events().into_owned())
            .collect();
        let folded = protocol::view::checkins(&engine.roster, &all, now, None);
        assert_eq!(engine.checkins(false, now, None), folded);
    }

    #[test]
    fn the_latest_check_ins_follow_new_check_ins_roster_changes_and_restarts() {
        let dir = tempfile::tempdir().expect("dir");
        let store = dir.path().join("store");
        let mut engine = Engine::open(&store, None).expect("engine");
        let admin = SecretKey::generate();
        let node = SecretKey::generate();
        let now = Timestamp::now();
        engine
            .genesis(&admin, node.public(), "red", "casa", None, now)
            .expect("genesis");
        let bea = add_member(&mut engine, &admin, "Bea");
        let carla = add_member(&mut engine, &admin, "Carla");
        let doc = DocId::checkins("casa", now);
        let mut events: Vec<SignedEvent> = (1..=3)
            .map(|seq| checkin(&bea, &doc, seq, now.plus_ms(seq as i64 - 4)))
            .collect();
        events.push(checkin(&carla, &doc, 1, now.plus_ms(-5)));
        for e in events {
            let author = e.event().author;
            engine.submit(Some(author), vec![e], now).expect("stored");
        }
        let at_of = |engine: &Engine, who: &SecretKey| {
            engine.latest_checkins().get(&who.public()).map(|l| l.at)
        };
        assert_eq!(at_of(&engine, &bea), Some(now.plus_ms(-1)));
        assert_eq!(at_of(&engine, &carla), Some(now.plus_ms(-5)));
        assert_as_folded(&engine, now);

        // A new check-in is indexed as it is stored.
        let later = checkin(&bea, &doc, 4, now.plus_ms(1));
        engine
            .submit(Some(bea.public()), vec![later.clone()], now)
            .expect("stored");
        assert_eq!(at_of(&engine, &bea), Some(now.plus_ms(1)));
        let latest = engine.latest_checkins();
        assert_eq!(latest[&bea.public()].event.id(), later.id());
        assert_as_folded(&engine, now);

        // A node's new addresses change no check-in's standing: the index stays as it is.
        let announce = roster_event(
            &mut engine,
            &node,
            Body::AddNode {
                org: "casa".into(),
                node: node.public(),
                addrs: vec!["/ip4/127.0.0.1/tcp/4001".into()],
            },
        );
        engine.submit(None, vec![announce], now).expect("announced");
        assert_eq!(engine.roster.nodes[&node.public()].addrs.len(), 1);
        assert!(
            engine.latest.borrow().is_some(),
            "an address announcement made the index stale"
        );
        assert_as_folded(&engine, now);

        // A revocation that accepts Bea's events up to number 3 makes the one before her
        // latest count again; one that accepts none of Carla's leaves her without any.
        for (who, last) in [(&bea, 3), (&carla, 0)] {
            let revoke = roster_event(
                &mut engine,
                &admin,
                Body::Revoke {
                    key: who.public(),
                    reason: "phone lost".into(),
                    last,
                },
            );
            engine.submit(None, vec![revoke], now).expect("revoked");
        }
        assert!(
            engine.latest.borrow().is_none(),
            "a revocation left the index"
        );
        assert_eq!(at_of(&engine, &bea), Some(now.plus_ms(-1)));
        assert_eq!(at_of(&engine, &carla), None);
        assert_as_folded(&engine, now);

        // Folded at start-up the same.
        engine.flush().expect("flush");
        drop(engine);
        let engine = Engine::open(&store, None).expect("reopened");
        assert_eq!(at_of(&engine, &bea), Some(now.plus_ms(-1)));
        assert_eq!(at_of(&engine, &carla), None);
        assert_as_folded(&engine, now);
        assert_eq!(engine.checkin_count(), 5);
    }
}
