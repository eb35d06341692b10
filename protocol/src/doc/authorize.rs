//! Whether a batch of events may enter a document: each allowed by the roster, and in the
//! roster document, events of the batch authorising later ones.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::event::{Body, EventId, SignedEvent};
use crate::ids::{DocId, PublicKey};
use crate::roster::{AuthError, Roster};

use super::SyncError;

/// Checks that every event of a batch is allowed. In the roster document, events of the batch
/// may authorise later ones (a new organisation's admin adding its node).
pub fn authorize_batch(
    doc: &DocId,
    events: &[SignedEvent],
    roster: &Roster,
) -> Result<(), SyncError> {
    if *doc != DocId::roster() {
        for event in events {
            if is_roster_body(&event.event().body) {
                return Err(SyncError::InvalidChange(
                    "roster event outside the roster".into(),
                ));
            }
            roster.admit(event.event()).map_err(SyncError::Auth)?;
        }
        return Ok(());
    }
    authorize_roster_batch(events, roster).0
}

/// The roster document's part of [`authorize_batch`], with the work it did (how many times it
/// tried to apply an event), for tests.
///
/// The rule is that of passes over the batch in (time, id) order, each applying what it can,
/// until all is applied (allowed) or a pass applies nothing (refused, with the error of the
/// last event left). As in [`Roster::from_events_with_work`], events are tried by (pass, time,
/// id) from a priority queue instead, which gives the same order: an event that fails for lack
/// of a key waits until the key is added, and is retried in the same pass if it comes after
/// the event that added it, in the next otherwise. Only two failures can turn into success:
/// an unknown author, and a revocation of a key not known yet. Every other refusal stays a
/// refusal (roles, organisations and keys never change, revocations only move earlier), and
/// the passes would keep the event to the end. A message with a chain of events each dated
/// before the one that added its author took one pass per link.
pub(crate) fn authorize_roster_batch(
    events: &[SignedEvent],
    roster: &Roster,
) -> (Result<(), SyncError>, u64) {
    type Key = (u64, crate::ids::Timestamp, EventId);
    let key_of = |e: &SignedEvent| (e.event().at, e.id());
    let mut queue: BinaryHeap<Reverse<(Key, usize)>> = events
        .iter()
        .enumerate()
        .map(|(i, e)| Reverse(((0, e.event().at, e.id()), i)))
        .collect();
    let mut waiting: HashMap<PublicKey, Vec<usize>> = HashMap::new();
    let mut applied = vec![false; events.len()];
    let mut scratch = roster.clone();
    let mut work = 0;
    while let Some(Reverse(((pass, at, id), i))) = queue.pop() {
        work += 1;
        let event = &events[i];
        match scratch.apply_admitted(event) {
            Ok(added) => {
                applied[i] = true;
                for key in added {
                    for j in waiting.remove(&key).unwrap_or_default() {
                        let e = &events[j];
                        let pass = if key_of(e) > (at, id) { pass } else { pass + 1 };
                        queue.push(Reverse(((pass, e.event().at, e.id()), j)));
                    }
                }
            }
            Err(AuthError::UnknownAuthor(_)) => {
                waiting.entry(event.event().author).or_default().push(i);
            }
            Err(AuthError::Forbidden(_)) => {
                if let Body::Revoke { key, .. } = &event.event().body {
                    if scratch.org_of(key).is_none() {
                        waiting.entry(*key).or_default().push(i);
                    }
                }
            }
            Err(AuthError::Revoked(_)) => {}
        }
    }
    // The passes' last pass ran on the final roster and kept the last error in (time, id)
    // order.
    let last = (0..events.len())
        .filter(|&i| !applied[i])
        .max_by_key(|&i| key_of(&events[i]));
    match last {
        None => (Ok(()), work),
        Some(i) => {
            let err = scratch
                .admit(events[i].event())
                .err()
                .unwrap_or(AuthError::Forbidden("roster".into()));
            (Err(SyncError::Auth(err)), work)
        }
    }
}

/// The passes that [`authorize_roster_batch`] replaces, kept as the reference its results are
/// tested against.
#[cfg(test)]
pub(crate) fn authorize_roster_batch_by_passes(
    events: &[SignedEvent],
    roster: &Roster,
) -> (Result<(), SyncError>, u64) {
    let mut work = 0;
    let mut scratch = roster.clone();
    let mut pending: Vec<&SignedEvent> = events.iter().collect();
    pending.sort_by_key(|e| (e.event().at, e.id()));
    loop {
        let mut progressed = false;
        let mut last_err = None;
        pending.retain(|e| {
            work += 1;
            match scratch.apply_admitted(e) {
                Ok(_) => {
                    progressed = true;
                    false
                }
                Err(err) => {
                    last_err = Some(err);
                    true
                }
            }
        });
        if pending.is_empty() {
            return (Ok(()), work);
        }
        if !progressed {
            return (
                Err(SyncError::Auth(
                    last_err.unwrap_or(AuthError::Forbidden("roster".into())),
                )),
                work,
            );
        }
    }
}

/// Whether an event body belongs to the roster.
pub fn is_roster_body(body: &Body) -> bool {
    matches!(
        body,
        Body::Genesis { .. }
            | Body::AddOrg { .. }
            | Body::AddNode { .. }
            | Body::AddMember { .. }
            | Body::Revoke { .. }
            | Body::DuressSet { .. }
            | Body::DeclareRegion { .. }
            | Body::Network { .. }
    )
}
