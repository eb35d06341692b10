//! In-process figures, measured before any node runs: micro-benchmarks of the hot operations
//! (sign, verify, decode, document insert, wire encoding of a `Submit`) and the throughput of
//! verifying and applying synced events, against raw ed25519 verification in the same run.

use std::hint::black_box;
use std::time::Instant;

use libp2p::request_response::Codec;
use libp2p::StreamProtocol;
use protocol::doc::Document;
use protocol::event::SignedEvent;
use protocol::ids::{DocId, SecretKey};
use protocol::wire::{ClientRequest, ClientRequestV0, ClientResponse};

use crate::report::{Figure, Goal, Report};
use crate::workload::Fixture;

const GROUP_MICRO: &str = "7. micro-benchmarks (one core, in-process)";
const GROUP_THROUGHPUT: &str = "5. verify+apply throughput (one core, in-process)";

/// Times `samples` batches of `iters` calls of `f`; returns microseconds per call, per batch.
fn per_call_us(samples: usize, iters: usize, mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..iters.min(100) {
        f();
    }
    (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / iters as f64
        })
        .collect()
}

fn codec() -> libp2p::request_response::cbor::codec::Codec<ClientRequest, ClientResponse> {
    libp2p::request_response::cbor::codec::Codec::default()
        .set_request_size_maximum(protocol::wire::MAX_REQUEST_BYTES)
        .set_response_size_maximum(protocol::wire::MAX_RESPONSE_BYTES)
}

/// The bytes `request` takes on a client stream (libp2p's CBOR codec, as the node reads it).
fn encode_submit(request: &ClientRequestV0) -> anyhow::Result<Vec<u8>> {
    let protocol = StreamProtocol::new(protocol::wire::CLIENT_PROTOCOL);
    let mut io = futures::io::Cursor::new(Vec::new());
    futures::executor::block_on(codec().write_request(
        &protocol,
        &mut io,
        ClientRequest::V0(request.clone()),
    ))?;
    Ok(io.into_inner())
}

fn decode_submit(bytes: &[u8]) -> anyhow::Result<ClientRequest> {
    let protocol = StreamProtocol::new(protocol::wire::CLIENT_PROTOCOL);
    let mut io = futures::io::Cursor::new(bytes);
    Ok(futures::executor::block_on(
        codec().read_request(&protocol, &mut io),
    )?)
}

/// The micro-benchmarks. Returns the raw verify figure (the baseline of several others).
pub(crate) fn micro(report: &mut Report, quick: bool) -> anyhow::Result<Figure> {
    let samples = if quick { 15 } else { 40 };
    let fx = Fixture::new("org-micro", "region-micro");
    let w = &fx.writer;
    let event = w.panic(
        "region-micro",
        protocol::ids::Timestamp::now(),
        "help, at the office".into(),
    );
    let bytes = event.to_bytes();
    let msg = vec![7u8; bytes.len()];
    let key = SecretKey::generate();
    let public = key.public();
    let sig = key.sign(&msg);

    let sign = report.add(Figure::from_samples(
        "micro_ed25519_sign",
        GROUP_MICRO,
        "ed25519 sign (SecretKey::sign)",
        "us",
        &per_call_us(samples, 200, || {
            black_box(key.sign(black_box(&msg)));
        }),
    ));
    let verify = report.add(
        Figure::from_samples(
            "micro_ed25519_verify",
            GROUP_MICRO,
            "ed25519 verify_strict (PublicKey::verify)",
            "us",
            &per_call_us(samples, 200, || {
                assert!(public.verify(black_box(&msg), &sig));
            }),
        )
        .with("message_bytes", msg.len()),
    );
    // Batch verification of 64 signatures, per signature (ed25519-dalek's `batch` feature).
    {
        let keys: Vec<SecretKey> = (0..64).map(|_| SecretKey::generate()).collect();
        let msgs: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i; bytes.len()]).collect();
        let sigs: Vec<ed25519_dalek::Signature> = keys
            .iter()
            .zip(&msgs)
            .map(|(k, m)| ed25519_dalek::Signature::from_bytes(&k.sign(m)))
            .collect();
        let vks: Vec<ed25519_dalek::VerifyingKey> = keys
            .iter()
            .filter_map(|k| ed25519_dalek::VerifyingKey::from_bytes(k.public().as_bytes()).ok())
            .collect();
        let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
        let per_batch = per_call_us(samples, 10, || {
            assert!(ed25519_dalek::verify_batch(&refs, &sigs, &vks).is_ok());
        });
        let per_sig: Vec<f64> = per_batch.iter().map(|v| v / 64.0).collect();
        report.add(
            Figure::from_samples(
                "micro_ed25519_verify_batch64",
                GROUP_MICRO,
                "ed25519 batch verify, per signature (64)",
                "us",
                &per_sig,
            )
            .against(&verify),
        );
    }
    // A check-in's private part sealed to 8 readers (its organisation's nodes and admins and
    // the region's security contacts), and opened by the last of them as a node does with
    // every check-in it receives (for the duress code).
    {
        let readers: Vec<SecretKey> = (0..8).map(|_| SecretKey::generate()).collect();
        let publics: Vec<protocol::ids::PublicKey> = readers.iter().map(|k| k.public()).collect();
        let at = protocol::ids::Timestamp(1_790_000_000_000);
        let private = protocol::private::CheckinPrivate::without_code(
            protocol::event::CheckinStatus::Ok,
            "salgo a la marcha, vuelvo a las 6".into(),
        );
        let sealed = private.seal(&public, at, &publics)?;
        report.add(
            Figure::from_samples(
                "micro_checkin_seal_8",
                GROUP_MICRO,
                "CheckinPrivate::seal to 8 readers (HPKE)",
                "us",
                &per_call_us(samples, 50, || {
                    black_box(private.seal(&public, at, &publics).ok());
                }),
            )
            .against(&sign)
            .with("sealed_bytes", sealed.len()),
        );
        let last = &readers[readers.len() - 1];
        report.add(
            Figure::from_samples(
                "micro_checkin_open_8",
                GROUP_MICRO,
                "CheckinPrivate::open by one of 8 readers (HPKE)",
                "us",
                &per_call_us(samples, 50, || {
                    assert!(
                        protocol::private::CheckinPrivate::open(&sealed, &public, at, last)
                            .is_some()
                    );
                }),
            )
            .against(&sign),
        );
    }
    report.add(
        Figure::from_samples(
            "micro_signed_event_sign",
            GROUP_MICRO,
            "SignedEvent::sign (panic)",
            "us",
            &per_call_us(samples, 200, || {
                black_box(w.panic(
                    "region-micro",
                    protocol::ids::Timestamp(1_790_000_000_000),
                    "help".into(),
                ));
            }),
        )
        .against(&sign),
    );
    report.add(
        Figure::from_samples(
            "micro_signed_event_decode",
            GROUP_MICRO,
            "SignedEvent::decode (panic, verifies)",
            "us",
            &per_call_us(samples, 200, || {
                assert!(SignedEvent::decode(black_box(&bytes)).is_ok());
            }),
        )
        .against(&verify)
        .with("event_bytes", bytes.len()),
    );
    {
        let fx2 = Fixture::new("org-micro", "region-micro");
        let events = fx2.writer.panics("region-micro", 2000, "insert");
        let mut doc = Document::new(events[0].event().doc.clone());
        let times: Vec<f64> = events
            .iter()
            .map(|e| {
                let start = Instant::now();
                doc.insert(std::slice::from_ref(e));
                start.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        report.add(
            Figure::from_samples(
                "micro_document_insert_1",
                GROUP_MICRO,
                "Document::insert, 1 event per change (to 2000)",
                "us",
                &times,
            )
            .with("note", "per call; one automerge change each"),
        );
        let events = fx2.writer.panics("region-micro", 64 * 40, "insert64");
        let mut doc = Document::new(events[0].event().doc.clone());
        let times: Vec<f64> = events
            .chunks(64)
            .map(|c| {
                let start = Instant::now();
                doc.insert(c);
                start.elapsed().as_secs_f64() * 1e6 / 64.0
            })
            .collect();
        report.add(Figure::from_samples(
            "micro_document_insert_64",
            GROUP_MICRO,
            "Document::insert, 64 per change, per event",
            "us",
            &times,
        ));
    }
    for n in [1usize, 64] {
        let events = w.panics("region-micro", n, "wire");
        let request = ClientRequestV0::Submit { events };
        let encoded = encode_submit(&request)?;
        report.add(
            Figure::from_samples(
                format!("micro_submit_encode_{n}"),
                GROUP_MICRO,
                format!("Submit of {n} encoded (libp2p CBOR codec)"),
                "us",
                &per_call_us(samples, if n == 1 { 200 } else { 10 }, || {
                    black_box(encode_submit(black_box(&request)).ok());
                }),
            )
            .with("wire_bytes", encoded.len()),
        );
        report.add(
            Figure::from_samples(
                format!("micro_submit_decode_{n}"),
                GROUP_MICRO,
                format!("Submit of {n} decoded (CBOR, verifies each)"),
                "us",
                &per_call_us(samples, if n == 1 { 200 } else { 10 }, || {
                    assert!(decode_submit(black_box(&encoded)).is_ok());
                }),
            )
            .with("wire_bytes", encoded.len()),
        );
    }
    Ok(verify)
}

/// Syncs a document of `k` events (`per_change` events per automerge change) into an empty
/// one, as a node receives it from a peer. Returns (seconds in the receiver's
/// `receive_sync_message`, seconds of the whole exchange, wire bytes of the sync messages).
fn sync_into_empty(fx: &Fixture, source: &Document) -> anyhow::Result<(f64, f64, usize)> {
    let mut src = Document::load(source.id().clone(), &[source.save()])?;
    let mut dst = Document::new(source.id().clone());
    let mut s_state = automerge::sync::State::new();
    let mut d_state = automerge::sync::State::new();
    let mut receive = 0.0;
    let mut bytes = 0;
    let start = Instant::now();
    loop {
        let mut progressed = false;
        if let Some(m) = src.generate_sync_message(&mut s_state)? {
            bytes += m.len();
            let t = Instant::now();
            dst.receive_sync_message(
                &mut d_state,
                &m,
                &fx.roster,
                protocol::ids::Timestamp::now(),
            )?;
            receive += t.elapsed().as_secs_f64();
            progressed = true;
        }
        if let Some(m) = dst.generate_sync_message(&mut d_state)? {
            bytes += m.len();
            src.receive_sync_message(
                &mut s_state,
                &m,
                &fx.roster,
                protocol::ids::Timestamp::now(),
            )?;
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
    let total = start.elapsed().as_secs_f64();
    if dst.len() != source.len() {
        anyhow::bail!("synced {} of {} events", dst.len(), source.len());
    }
    Ok((receive, total, bytes))
}

/// Figure 5: signed events verified and applied per second, and the document load and save
/// figures start-up depends on.
pub(crate) fn throughput(report: &mut Report, quick: bool, verify: &Figure) -> anyhow::Result<()> {
    const K: usize = 10_000;
    let trials = if quick { 3 } else { 5 };
    let fx = Fixture::new("org-tp", "region-tp");
    let events = fx.writer.panics("region-tp", K, "throughput");
    // Raw verification of as many signatures over messages of the same size, one core.
    let keys = SecretKey::generate();
    let pk = keys.public();
    let msgs: Vec<Vec<u8>> = events.iter().map(|e| e.to_bytes()).collect();
    let sigs: Vec<[u8; 64]> = msgs.iter().map(|m| keys.sign(m)).collect();
    let raw: Vec<f64> = (0..trials)
        .map(|_| {
            let start = Instant::now();
            for (m, s) in msgs.iter().zip(&sigs) {
                assert!(pk.verify(m, s));
            }
            K as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    let raw = report.add(
        Figure::from_samples(
            "raw_verify_per_s",
            GROUP_THROUGHPUT,
            "raw ed25519 verifies/s (PublicKey::verify)",
            "1/s",
            &raw,
        )
        .with("verify_us", verify.median),
    );
    for per_change in [1usize, 64] {
        let mut source = Document::new(DocId::alerts("region-tp", events[0].event().at));
        for c in events.chunks(per_change) {
            source.insert(c);
        }
        let mut recv_rates = Vec::new();
        let mut total_rates = Vec::new();
        let mut wire = 0;
        for _ in 0..trials {
            let (recv, total, bytes) = sync_into_empty(&fx, &source)?;
            recv_rates.push(K as f64 / recv);
            total_rates.push(K as f64 / total);
            wire = bytes;
        }
        let mut fig = Figure::from_samples(
            format!("verified_applied_per_s_{per_change}_per_change"),
            GROUP_THROUGHPUT,
            format!("verified+applied events/s, {per_change}/change (recv)"),
            "1/s",
            &recv_rates,
        )
        .against(&raw)
        .with("events", K)
        .with("sync_message_bytes", wire);
        if per_change == 1 {
            fig = fig.target(Goal::AtLeast(20_000.0));
        }
        report.add(fig);
        report.add(
            Figure::from_samples(
                format!("sync_both_sides_per_s_{per_change}_per_change"),
                GROUP_THROUGHPUT,
                format!("  whole exchange (both sides) events/s, {per_change}/chg"),
                "1/s",
                &total_rates,
            )
            .against(&raw),
        );
        if per_change == 1 {
            let saved = source.save();
            let loads: Vec<f64> = (0..trials)
                .map(|_| {
                    let start = Instant::now();
                    let d = Document::load(source.id().clone(), std::slice::from_ref(&saved));
                    let ms = start.elapsed().as_secs_f64() * 1e3;
                    assert!(d.is_ok());
                    ms
                })
                .collect();
            report.add(
                Figure::from_samples(
                    "document_load_10k_ms",
                    GROUP_THROUGHPUT,
                    "Document::load of 10000 events (1/change)",
                    "ms",
                    &loads,
                )
                .with("saved_bytes", saved.len()),
            );
            let saves: Vec<f64> = (0..trials)
                .map(|_| {
                    let start = Instant::now();
                    black_box(source.save());
                    start.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            report.add(Figure::from_samples(
                "document_save_10k_ms",
                GROUP_THROUGHPUT,
                "Document::save of 10000 events (1/change)",
                "ms",
                &saves,
            ));
        }
    }
    Ok(())
}
