//! Member clients over `/tejido/client/1`: the rate limit, their requests, and the
//! redemption of invites by newcomers.

use std::time::Instant;

use libp2p::request_response::{self, Message};
use libp2p::PeerId;
use protocol::event::{Body, SignedEvent};
use protocol::ids::{DocId, PublicKey, Timestamp};
use protocol::wire::{
    ClientRequest, ClientRequestV0, ClientResponse, ClientResponseV0, ErrorKind, InviteKind,
    NodeContact, Profile,
};
use tracing::{debug, info, warn};

use super::{
    alert_events, Action, Core, OwnError, Reply, Signer, CLIENT_REFUSALS_BEFORE_DISCONNECT,
};
use crate::engine::SubmitError;
use crate::limiter::Take;
use crate::net;
use crate::store::InviteRecord;

impl Core {
    pub(super) fn on_client_event(
        &mut self,
        event: request_response::Event<ClientRequest, ClientResponse>,
    ) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let ClientRequest::V0(request) = request;
                let response = if self.allow_client_request(peer) {
                    self.handle_client(peer, request)
                } else {
                    ClientResponseV0::Error {
                        kind: ErrorKind::BadRequest,
                        message: "too many requests: slow down".into(),
                    }
                };
                // Sent after the turn's flush (`finish_turn`): `Stored` must not overtake it.
                self.replies.push(Reply::Client {
                    peer,
                    channel,
                    response: Box::new(response),
                });
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "client request failed");
            }
            _ => {}
        }
    }

    /// Takes a token from the peer's bucket; a peer that keeps flooding is disconnected.
    pub(super) fn allow_client_request(&mut self, peer: PeerId) -> bool {
        match self.clients.take(&peer, 1.0, Instant::now()) {
            Take::Allowed => true,
            Take::Refused(in_a_row) => {
                self.engine.stats.throttled_requests += 1;
                if in_a_row % CLIENT_REFUSALS_BEFORE_DISCONNECT == 0 {
                    // The bucket stays until the connection closes: requests still in flight
                    // get no fresh burst.
                    warn!(%peer, "disconnecting a peer that keeps flooding");
                    self.actions.push(Action::Disconnect(peer));
                } else if in_a_row == 1 {
                    warn!(%peer, "throttling a peer");
                }
                false
            }
        }
    }

    pub(super) fn handle_client(
        &mut self,
        peer: PeerId,
        request: ClientRequestV0,
    ) -> ClientResponseV0 {
        let error = |kind, message: String| ClientResponseV0::Error { kind, message };
        let Some(key) = net::key_of(&peer) else {
            return error(ErrorKind::Forbidden, "unknown peer".into());
        };
        if let ClientRequestV0::Redeem { member, proof } = request {
            return self.redeem(peer, key, member, &proof);
        }
        if let ClientRequestV0::RedeemNode {
            node,
            org,
            admin,
            proof,
            add_node,
        } = request
        {
            return self.redeem_node(peer, key, node, org, admin, &proof, *add_node);
        }
        if !self.engine.roster().is_active(&key) {
            self.engine.stats.rejected_changes += 1;
            return error(
                ErrorKind::Forbidden,
                "this key is not a member of the network".into(),
            );
        }
        match request {
            ClientRequestV0::Redeem { .. } | ClientRequestV0::RedeemNode { .. } => {
                error(ErrorKind::BadRequest, "already a member".into())
            }
            ClientRequestV0::Submit { events } => {
                if let Err(why) = self.within_member_budget(&key, &events) {
                    self.engine.stats.throttled_requests += 1;
                    warn!(%peer, "member over budget");
                    return error(ErrorKind::BadRequest, why.to_string());
                }
                let under_duress: Vec<SignedEvent> = events
                    .iter()
                    .filter(|e| self.given_under_duress(e))
                    .cloned()
                    .collect();
                let alerts = alert_events(&events);
                // Stored at the end of the turn with the turn's other events, as one change
                // per document (`Core::commit_staged`), before the flush this answer waits for.
                match self.engine.stage(Some(key), events, Timestamp::now()) {
                    Ok((ids, changed)) => {
                        for doc in changed {
                            self.on_local_change(&doc, None);
                        }
                        self.publish_alerts(alerts);
                        for event in &under_duress {
                            self.raise_duress(event);
                        }
                        // The answer is the same as for any check-in or cancel: nothing on the
                        // member's device may show that the duress code was used. It leaves after the
                        // turn's flush; the change itself may already be on its way to peers.
                        ClientResponseV0::Stored { node: self.me, ids }
                    }
                    Err(e) => {
                        self.engine.stats.rejected_changes += 1;
                        warn!(%peer, error = %e, "refused client events");
                        let kind = match e {
                            SubmitError::BadRequest(_) => ErrorKind::BadRequest,
                            SubmitError::Forbidden(_) => ErrorKind::Forbidden,
                            SubmitError::NotFound(_) => ErrorKind::NotFound,
                            SubmitError::Internal(_) => ErrorKind::Internal,
                        };
                        error(kind, e.to_string())
                    }
                }
            }
            ClientRequestV0::InviteDevice { grant } => self.invite_device(key, *grant),
            ClientRequestV0::Whoami => match self.profile(&key) {
                Some(profile) => ClientResponseV0::Profile {
                    profile,
                    nodes: self.node_contacts(),
                },
                None => error(ErrorKind::NotFound, "not a member".into()),
            },
            ClientRequestV0::Alerts { region, open_only } => {
                // Sealed alerts go to those who may be among their readers (security contacts
                // and admins), who open them on their device; a plain member is never shown
                // one, so a captor holding their device sees nothing there.
                let responder = self
                    .engine
                    .roster()
                    .members
                    .get(&key)
                    .is_some_and(|m| m.role != protocol::event::Role::Member);
                let alerts = self
                    .engine
                    .alerts(region.as_deref(), open_only, Timestamp::now())
                    .into_iter()
                    .filter(|a| responder || a.sealed.is_none())
                    .collect();
                ClientResponseV0::Alerts(alerts)
            }
            ClientRequestV0::Checkins { overdue_only } => {
                ClientResponseV0::Checkins(self.checkins_for(&key, overdue_only))
            }
            ClientRequestV0::Shelters {
                region,
                available_only,
            } => {
                ClientResponseV0::Shelters(self.engine.shelters(region.as_deref(), available_only))
            }
            ClientRequestV0::Directory { region } => ClientResponseV0::Directory(
                protocol::view::directory(self.engine.roster(), region.as_deref()),
            ),
            ClientRequestV0::RequestShelter { request } => self.request_shelter(&key, request),
            ClientRequestV0::ShelterRequests => {
                ClientResponseV0::ShelterRequests(self.engine.shelter_requests())
            }
        }
    }

    /// Writes a member's sealed shelter request under this node's key. The node cannot read
    /// it either (unless its admin is a recipient); it only vouches that a member of the
    /// network sent it.
    fn request_shelter(
        &mut self,
        key: &PublicKey,
        request: protocol::event::ShelterRequestBody,
    ) -> ClientResponseV0 {
        let error = |kind, message: String| ClientResponseV0::Error { kind, message };
        // A member's own organisation's node relays their requests: it is the one node that
        // learns who asked.
        if self.engine.roster().org_of(key) != Some(self.org.as_str()) {
            return error(
                ErrorKind::Forbidden,
                "ask a node of your own organisation".into(),
            );
        }
        // The request goes in the shelter's own document: a region it names otherwise would
        // make documents for the asking.
        if !self
            .engine
            .has_shelter(request.shelter, &request.org, &request.region)
        {
            return error(
                ErrorKind::NotFound,
                format!(
                    "no shelter {} of {} in {}",
                    request.shelter, request.org, request.region
                ),
            );
        }
        if let Err(e) = protocol::sealed::recipients(&request.sealed) {
            return error(ErrorKind::BadRequest, e.to_string());
        }
        let doc = DocId::shelters(&request.region);
        let event = match self.sign_own(Signer::Node, doc, Body::ShelterRequest(Box::new(request)))
        {
            Ok(e) => e,
            Err(e) => return error(ErrorKind::BadRequest, e.to_string()),
        };
        let id = event.id();
        match self.store_own(vec![event]) {
            Ok(_) => ClientResponseV0::Stored {
                node: self.me,
                ids: vec![id],
            },
            Err(e) => error(own_error_kind(&e, ErrorKind::BadRequest), e.to_string()),
        }
    }

    /// Whether an event is a check-in, or the cancel of a panic, given with its author's
    /// duress code. Only a node of the member's organisation can tell: both the event's code
    /// and the member's duress tag are sealed to those nodes.
    fn given_under_duress(&self, event: &SignedEvent) -> bool {
        let ev = event.event();
        if !matches!(ev.body, Body::Checkin(_) | Body::Cancel { .. }) {
            return false;
        }
        let author = ev.author;
        let roster = self.engine.roster();
        // Sealed to her organisation's nodes only: any other node need not try.
        if roster.org_of(&author) != Some(self.org.as_str()) {
            return false;
        }
        let Some(registered) = roster.duress_tag(&author, &self.node_key) else {
            return false;
        };
        let tag = match &ev.body {
            Body::Checkin(checkin) => protocol::private::CheckinPrivate::open(
                &checkin.sealed,
                &author,
                ev.at,
                &self.node_key,
            )
            .map(|p| p.code_tag),
            Body::Cancel { alert, sealed, .. } => protocol::private::CancelPrivate::open(
                sealed,
                &author,
                ev.at,
                alert,
                &self.node_key,
            )
            .map(|p| p.code_tag),
            _ => None,
        };
        tag == Some(registered)
    }

    /// The latest check-ins as `key` may see them: the status and note only of the members
    /// whose check-ins `key` is a reader of (and only where this node is one too).
    pub(super) fn checkins_for(
        &self,
        key: &PublicKey,
        overdue_only: bool,
    ) -> Vec<protocol::view::CheckinView> {
        let roster = self.engine.roster();
        let mut list = self
            .engine
            .checkins(overdue_only, Timestamp::now(), Some(&self.node_key));
        for c in &mut list {
            let may_read = c
                .member
                .parse::<PublicKey>()
                .is_ok_and(|m| roster.checkin_readers(&m).contains(key));
            if !may_read {
                c.status = None;
                c.note = None;
            }
        }
        list
    }

    /// Takes a request's events, and the documents they would add, from the member's budgets.
    fn within_member_budget(
        &mut self,
        member: &PublicKey,
        events: &[SignedEvent],
    ) -> Result<(), OverBudget> {
        let now = Instant::now();
        let mut new_docs: Vec<&DocId> = events
            .iter()
            .map(|e| &e.event().doc)
            .filter(|d| !self.engine.has_doc(d))
            .collect();
        new_docs.sort();
        new_docs.dedup();
        if self.member_events.take(member, events.len() as f64, now) != Take::Allowed {
            return Err(OverBudget::Events);
        }
        if !new_docs.is_empty()
            && self.member_docs.take(member, new_docs.len() as f64, now) != Take::Allowed
        {
            return Err(OverBudget::Documents);
        }
        Ok(())
    }

    pub(super) fn profile(&self, key: &PublicKey) -> Option<Profile> {
        let roster = self.engine.roster();
        let m = roster.members.get(key)?;
        Some(Profile {
            key: *key,
            name: m.name.clone(),
            org: m.org.clone(),
            role: m.role,
            region: m.region.clone(),
            checkin_readers: roster.checkin_readers(key),
            org_nodes: roster.org_nodes(&m.org),
            person: Some(roster.person_of(key)),
        })
    }

    pub(super) fn node_contacts(&self) -> Vec<NodeContact> {
        let mut out = vec![NodeContact {
            key: self.me,
            addrs: self.listen_addrs(),
        }];
        let roster = self.engine.roster();
        for (key, node) in &roster.nodes {
            if *key != self.me && roster.is_active(key) && !node.addrs.is_empty() {
                out.push(NodeContact {
                    key: *key,
                    addrs: node.addrs.clone(),
                });
            }
        }
        out
    }

    /// Checks that `peer` (an invite identity) holds a live invite of `kind`, and that the
    /// newcomer proved their key. The invite is not used up here.
    fn check_invite(
        &mut self,
        peer: PeerId,
        identity: PublicKey,
        kind: InviteKind,
        newcomer: &PublicKey,
        proof: &[u8],
    ) -> Result<InviteRecord, (ErrorKind, &'static str)> {
        let invites = self.engine.store().invites().unwrap_or_default();
        let Some((_, invite)) = invites.into_iter().find(|(k, _)| *k == identity) else {
            return Err((
                ErrorKind::Forbidden,
                "this invite was already used or does not exist",
            ));
        };
        if invite.expires <= Timestamp::now() {
            let _ = self.engine.store().remove_invite(&identity);
            self.close_after_response.insert(peer);
            return Err((ErrorKind::Forbidden, "this invite has expired"));
        }
        // A device's invite is redeemed as a member's is: the newcomer proves their key.
        let device = kind == InviteKind::Member && invite.kind == InviteKind::Device;
        if invite.kind != kind && !device {
            return Err((
                ErrorKind::Forbidden,
                "this invite is for another kind of newcomer",
            ));
        }
        let Ok(proof): Result<[u8; 64], _> = proof.try_into() else {
            return Err((ErrorKind::BadRequest, "malformed proof"));
        };
        let msg = protocol::wire::redeem_proof_message(&identity, newcomer);
        if !newcomer.verify(&msg, &proof) {
            return Err((
                ErrorKind::Forbidden,
                "the proof does not match the newcomer's key",
            ));
        }
        Ok(invite)
    }

    /// Uses up an invite after its newcomer was admitted.
    pub(super) fn use_invite(&mut self, peer: PeerId, identity: &PublicKey) {
        if let Err(e) = self.engine.store().remove_invite(identity) {
            warn!(error = %format!("{e:#}"), "cannot remove used invite");
        }
        self.close_after_response.insert(peer);
        self.refresh_gate();
    }

    fn redeem(
        &mut self,
        peer: PeerId,
        identity: PublicKey,
        member: PublicKey,
        proof: &[u8],
    ) -> ClientResponseV0 {
        let error = |kind, message: &str| ClientResponseV0::Error {
            kind,
            message: message.to_string(),
        };
        let invite = match self.check_invite(peer, identity, InviteKind::Member, &member, proof) {
            Ok(invite) => invite,
            Err((kind, message)) => return error(kind, message),
        };
        if invite.kind == InviteKind::Device {
            return match &invite.device {
                Some(device) => self.redeem_device(peer, identity, member, device),
                None => error(ErrorKind::Internal, "this device's invite names nobody"),
            };
        }
        let body = Body::AddMember {
            org: self.org.clone(),
            member,
            name: invite.name.clone(),
            role: invite.role,
            region: invite.region.clone(),
        };
        let result = self.sign_and_store(Signer::Admin, DocId::roster(), body);
        match result {
            Ok(_) => {
                self.use_invite(peer, &identity);
                info!(member = %member.fmt_short(), name = %invite.name, "member joined");
                match self.profile(&member) {
                    Some(profile) => ClientResponseV0::Profile {
                        profile,
                        nodes: self.node_contacts(),
                    },
                    None => error(ErrorKind::Internal, "member was not added"),
                }
            }
            Err(e) => ClientResponseV0::Error {
                kind: own_error_kind(&e, ErrorKind::Forbidden),
                message: e.to_string(),
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn redeem_node(
        &mut self,
        peer: PeerId,
        identity: PublicKey,
        node: PublicKey,
        org: String,
        admin: PublicKey,
        proof: &[u8],
        add_node: SignedEvent,
    ) -> ClientResponseV0 {
        let error = |kind, message: String| ClientResponseV0::Error { kind, message };
        if let Err((kind, message)) =
            self.check_invite(peer, identity, InviteKind::Node, &node, proof)
        {
            return error(kind, message.to_string());
        }
        let ok_add_node = matches!(
            &add_node.event().body,
            Body::AddNode { org: o, node: n, .. } if *o == org && *n == node
        ) && add_node.event().author == admin;
        if !ok_add_node {
            return error(
                ErrorKind::BadRequest,
                "add_node must add this node to the new organisation, signed by its admin".into(),
            );
        }
        // In a network of three or more, one organisation does not admit another alone: the
        // others agree first (`tejido org approve`), and the invite stays valid until then.
        let approve = protocol::event::NetworkChange::Approve { org: org.clone() };
        let roster = self.engine.roster();
        let (mut have, need) = roster.consent_for(&approve);
        if !roster.agreed_to(&approve).contains(&self.org) {
            have += 1;
        }
        if have < need {
            return error(
                ErrorKind::Forbidden,
                format!(
                    "the network needs {need} organisations to agree to admit {org}, and {have} \
                     would: ask the operator of another organisation's node to run `tejido \
                     --data-dir DIR org approve {org}`, then join again with this invite"
                ),
            );
        }
        let body = Body::AddOrg {
            org: org.clone(),
            admin,
            admin_name: format!("{org} admin"),
        };
        let result = self
            .sign_own(Signer::Admin, DocId::roster(), body)
            .and_then(|e| self.store_own(vec![e, add_node]));
        match result {
            Ok(_) => {
                self.use_invite(peer, &identity);
                info!(node = %node.fmt_short(), %org, "organisation joined");
                match self.engine.roster_bytes() {
                    Some(roster) => ClientResponseV0::Network { roster },
                    None => error(ErrorKind::Internal, "no roster".into()),
                }
            }
            Err(e) => error(own_error_kind(&e, ErrorKind::Forbidden), e.to_string()),
        }
    }
}

/// The kind of error a client is told when one of the node's own events on its behalf failed:
/// a disk failure is the node's, not a refusal of the request.
pub(super) fn own_error_kind(e: &OwnError, refused: ErrorKind) -> ErrorKind {
    if e.is_store_failure() {
        ErrorKind::Internal
    } else {
        refused
    }
}

/// Which of a member's budgets a request would exceed.
#[derive(Debug, thiserror::Error)]
enum OverBudget {
    #[error("too many events from this member: slow down")]
    Events,
    #[error("too many new documents from this member: slow down")]
    Documents,
}
