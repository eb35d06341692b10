//! Shelters: adding and updating them (status, capacity, arrivals and departures), asking for
//! places with a request sealed to the shelter organisation's admins and the member, and
//! those admins' decisions.

use anyhow::Context;
use protocol::event::{
    Body, ShelterBody, ShelterRequestBody, ShelterRequestPayload, ShelterStatus,
};
use protocol::ids::{DocId, PublicKey, RecordId, SecretKey, Timestamp};
use protocol::view::ShelterView;
use protocol::wire::{ClientRequestV0, ClientResponseV0};

use super::deliver::{deliver, query};
use super::home::{load, Home, Saved};
use super::sign;
use crate::args::ShelterCommand;
use crate::output::{self, OpenedRequest, Printer};
use crate::Exit;

/// Finds a shelter by id or unique prefix.
async fn find_shelter(key: &SecretKey, saved: &Saved, id: &str) -> anyhow::Result<ShelterView> {
    let request = ClientRequestV0::Shelters {
        region: None,
        available_only: false,
    };
    let ClientResponseV0::Shelters(list) = query(key, &saved.own_nodes(), request).await? else {
        anyhow::bail!(tr!("unexpected-answer"));
    };
    let prefix = id.to_ascii_lowercase();
    let mut found: Vec<_> = list
        .into_iter()
        .filter(|s| s.id.starts_with(&prefix))
        .collect();
    if found.len() != 1 {
        anyhow::bail!(tr!("no-single-shelter", id = id));
    }
    Ok(found.remove(0))
}

/// Every shelter request, split into those this key can open and how many it cannot.
async fn readable_requests(
    key: &SecretKey,
    saved: &Saved,
) -> anyhow::Result<(Vec<OpenedRequest>, usize)> {
    let ClientResponseV0::ShelterRequests(list) =
        query(key, &saved.own_nodes(), ClientRequestV0::ShelterRequests).await?
    else {
        anyhow::bail!(tr!("unexpected-answer"));
    };
    let mut opened = Vec::new();
    let mut others: usize = 0;
    for request in list {
        let readable = (|| {
            let body = ShelterRequestBody {
                id: request.id.parse().ok()?,
                shelter: request.shelter.parse().ok()?,
                org: request.org.clone(),
                region: request.region.clone(),
                sealed: data_encoding::BASE64
                    .decode(request.sealed.as_bytes())
                    .ok()?,
            };
            let node: PublicKey = request.via_node.parse().ok()?;
            let payload = ShelterRequestPayload::open(&body, &node, key)?;
            Some((payload.verify(&body.shelter, &node), payload))
        })();
        match readable {
            Some((signature_ok, payload)) => opened.push(OpenedRequest {
                request,
                requester: payload.requester.to_string(),
                requester_name: payload.name,
                people: payload.people,
                note: payload.note,
                signature_ok,
            }),
            None => others = others.saturating_add(1),
        }
    }
    Ok((opened, others))
}

/// Seals a request for places to the shelter organisation's admins and the member, and has
/// the member's node write it.
async fn request_places(
    p: &mut Printer<'_>,
    key: &SecretKey,
    saved: &Saved,
    id: &str,
    people: u32,
    note: &str,
) -> anyhow::Result<Exit> {
    let shelter = find_shelter(key, saved, id).await?;
    let sid: RecordId = shelter.id.parse()?;
    let mut recipients: Vec<PublicKey> = shelter
        .admins
        .iter()
        .filter_map(|k| k.parse().ok())
        .collect();
    if recipients.is_empty() {
        anyhow::bail!(tr!(
            "shelter-request-not-admins",
            org = output::clean(&shelter.org).as_ref()
        ));
    }
    recipients.push(key.public());
    // The member's own node relays it, bound to that node: tried one by one until one
    // stores it.
    let mut errors = Vec::new();
    let mut stored = None;
    for contact in saved.own_nodes() {
        let payload =
            ShelterRequestPayload::sign(key, &sid, &contact.key, &saved.profile.name, people, note);
        let request = payload
            .seal(
                &sid,
                &shelter.org,
                &shelter.region,
                &contact.key,
                &recipients,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let rid = request.id;
        match query(
            key,
            std::slice::from_ref(&contact),
            ClientRequestV0::RequestShelter { request },
        )
        .await
        {
            Ok(ClientResponseV0::Stored { node, ids }) => {
                stored = Some((rid, node, ids));
                break;
            }
            Ok(_) => anyhow::bail!(tr!("unexpected-answer")),
            Err(e) if e.downcast_ref::<super::deliver::Unreachable>().is_some() => {
                errors.push(e.to_string())
            }
            Err(e) => return Err(e),
        }
    }
    let Some((rid, node, ids)) = stored else {
        anyhow::bail!(super::deliver::Unreachable(errors.join("; ")));
    };
    if p.json() {
        p.json_line(&serde_json::json!({
            "id": rid.to_string(),
            "shelter": shelter.id,
            "people": people,
            "stored_by": node.to_string(),
            "event": ids.first().map(|e| e.to_string()),
        }))?;
    } else {
        p.line(&tr!(
            "shelter-request-sent",
            id = output::short(&rid.to_string()),
            people = people,
            shelter = output::clean(&shelter.name).as_ref(),
            node = node.fmt_short(),
            org = output::clean(&shelter.org).as_ref()
        ))?;
    }
    Ok(Exit::Ok)
}

pub(super) async fn shelter(
    p: &mut Printer<'_>,
    home: &Home,
    action: ShelterCommand,
) -> anyhow::Result<Exit> {
    let (key, saved) = load(home)?;
    let at = Timestamp::now();
    let org = saved.profile.org.clone();
    let mut events = Vec::new();
    let mut what = "shelter update";
    match action {
        ShelterCommand::Request { id, people, note } => {
            return request_places(p, &key, &saved, &id, people, &note).await;
        }
        ShelterCommand::Requests => {
            let (opened, others) = readable_requests(&key, &saved).await?;
            output::shelter_requests(p, &opened, others)?;
            return Ok(Exit::Ok);
        }
        ShelterCommand::Decide {
            request: id,
            accepted,
        } => {
            let (opened, _) = readable_requests(&key, &saved).await?;
            let prefix = id.to_ascii_lowercase();
            let found: Vec<_> = opened
                .iter()
                .filter(|o| o.request.id.starts_with(&prefix))
                .collect();
            let [o] = found.as_slice() else {
                anyhow::bail!(tr!("no-readable-request", id = id.as_str()));
            };
            let r = &o.request;
            let body = Body::ShelterDecision {
                request: r.id.parse()?,
                shelter: r.shelter.parse()?,
                org: r.org.clone(),
                region: r.region.clone(),
                accepted,
            };
            events.push(sign(home, &key, DocId::shelters(&r.region), at, body)?);
            what = "shelter decision";
        }
        ShelterCommand::Add {
            name,
            region,
            capacity,
            services,
            accepts,
            contact,
        } => {
            let body = Body::Shelter(Box::new(ShelterBody {
                id: RecordId::random(),
                org,
                name,
                region: region.clone(),
                capacity,
                services,
                accepts,
                contact,
                status: ShelterStatus::Open,
            }));
            events.push(sign(home, &key, DocId::shelters(&region), at, body)?);
        }
        ShelterCommand::Update {
            id,
            status,
            capacity,
            arrive,
            leave,
        } => {
            let shelter = &find_shelter(&key, &saved, &id).await?;
            let sid: RecordId = shelter.id.parse()?;
            if status.is_some() || capacity.is_some() {
                let body = Body::Shelter(Box::new(ShelterBody {
                    id: sid,
                    org: shelter.org.clone(),
                    name: shelter.name.clone(),
                    region: shelter.region.clone(),
                    capacity: capacity.unwrap_or(shelter.capacity),
                    services: shelter.services.clone(),
                    accepts: shelter.accepts.clone(),
                    contact: shelter.contact.clone(),
                    status: status.unwrap_or(match shelter.status {
                        ShelterStatus::Full => ShelterStatus::Open,
                        s => s,
                    }),
                }));
                events.push(sign(
                    home,
                    &key,
                    DocId::shelters(&shelter.region),
                    at,
                    body,
                )?);
            }
            let delta = i64::from(arrive) - i64::from(leave);
            if delta != 0 {
                let body = Body::Occupancy {
                    shelter: sid,
                    org: shelter.org.clone(),
                    region: shelter.region.clone(),
                    delta: i32::try_from(delta).with_context(|| tr!("too-many-people"))?,
                };
                events.push(sign(
                    home,
                    &key,
                    DocId::shelters(&shelter.region),
                    at,
                    body,
                )?);
            }
        }
    }
    let Some(first) = events.first() else {
        anyhow::bail!(tr!("nothing-to-update"));
    };
    let first = first.clone();
    let nodes = saved.own_nodes();
    let delivery = deliver(home, &key, &nodes, events).await?;
    output::delivery(p, what, &first, &delivery, nodes.len())?;
    if delivery.stored_by.is_empty() {
        let why = delivery
            .refused
            .first()
            .map(|(_, w)| w.clone())
            .unwrap_or_else(|| tr!("no-node-reachable"));
        anyhow::bail!(tr!("not-stored", why = why));
    }
    Ok(Exit::Ok)
}
