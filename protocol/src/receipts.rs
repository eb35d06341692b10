//! Who signs a delivery receipt for an alert.
//!
//! A receipt tells the sender that a node that matters to the alert holds it: a node of the
//! alert's organisation (the member's own, or for a missed check-in or duress alert the
//! member's), or a node of an organisation with a security contact for the alert's region (the
//! people who answer). Every other node stores and relays the alert all the same, but a receipt
//! from it would tell the sender nothing, and every receipt reaches every node: with every node
//! signing, a network of N nodes moved N receipts to N nodes per alert. With only these nodes
//! signing, an alert costs a number of receipts that does not grow with the network, each
//! replicated to every node.
//!
//! "Held by n of m" counts the receipts of these nodes (n) against how many there are (m,
//! [`crate::view::AlertView::network_nodes`]); the receipts of other nodes (nodes of earlier
//! releases signed for everything) are left out of the view.

use std::collections::BTreeSet;

use crate::event::Body;
use crate::ids::PublicKey;
use crate::roster::Roster;

/// The organisation and region of an alert event (`Alert` or `SealedAlert`).
pub fn alert_scope(body: &Body) -> Option<(&str, &str)> {
    match body {
        Body::Alert(a) => Some((a.org.as_str(), a.region.as_str())),
        Body::SealedAlert(a) => Some((a.org.as_str(), a.region.as_str())),
        _ => None,
    }
}

/// The active nodes that sign a receipt for an alert of `org` in `region`: `org`'s nodes and
/// the nodes of every organisation with an active security contact for `region`.
pub fn receipt_signers(roster: &Roster, org: &str, region: &str) -> BTreeSet<PublicKey> {
    let mut orgs: BTreeSet<&str> = roster
        .region_contacts(region)
        .iter()
        .filter_map(|k| roster.members.get(k).map(|m| m.org.as_str()))
        .collect();
    orgs.insert(org);
    roster
        .nodes
        .iter()
        .filter(|(k, n)| orgs.contains(n.org.as_str()) && roster.is_active(k))
        .map(|(k, _)| *k)
        .collect()
}

/// Whether `node` signs a receipt for the alert that `body` raises.
pub fn signs_receipt_for(roster: &Roster, node: &PublicKey, body: &Body) -> bool {
    alert_scope(body).is_some_and(|(org, region)| {
        let Some(n) = roster.nodes.get(node) else {
            return false;
        };
        roster.is_active(node)
            && (n.org == org
                || roster
                    .region_contacts(region)
                    .iter()
                    .any(|k| roster.members.get(k).is_some_and(|m| m.org == n.org)))
    })
}
