//! Wire messages between the CLI and nodes.

use super::*;

#[test]
fn signed_events_travel_in_client_requests() {
    let net = Net::new();
    let events = vec![
        checkin_event(&net.m, at(HOUR), CheckinStatus::Ok, None),
        panic_event(&net.m, at(HOUR)),
    ];
    let request = ClientRequest::V0(ClientRequestV0::Submit {
        events: events.clone(),
    });
    let bytes = postcard::to_stdvec(&request).expect("encodes");
    let ClientRequest::V0(ClientRequestV0::Submit { events: back }) =
        postcard::from_bytes::<ClientRequest>(&bytes).expect("decodes")
    else {
        panic!("wrong request");
    };
    assert_eq!(back, events);

    // A tampered event inside the request makes it undecodable.
    let sig_byte = bytes.len() - 1;
    let mut tampered = bytes.clone();
    tampered[sig_byte] ^= 1;
    assert!(postcard::from_bytes::<ClientRequest>(&tampered).is_err());
}
