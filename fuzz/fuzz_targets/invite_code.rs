//! `InviteCode::decode` on arbitrary text (codes are pasted by people, from chat or paper).
//! Whatever decodes must survive `decode(encode())` unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::wire::InviteCode;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(code) = InviteCode::decode(&text) else {
        return;
    };
    let encoded = code.encode();
    let again = InviteCode::decode(&encoded).expect("an encoded invite code decodes");
    assert_eq!(again, code);
    assert_eq!(again.encode(), encoded);
    // What a node and a newcomer derive from it.
    let identity = code.identity();
    let _ = code.proof_message(&identity.public());
});
