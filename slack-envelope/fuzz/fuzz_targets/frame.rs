//! `cargo fuzz run frame`: `Frame::parse` and every payload view on arbitrary bytes.
//!
//! No input may panic, and what parses must be consistent: an envelope's ack frame is valid
//! JSON naming the same `envelope_id`, its payload slice is valid JSON, and its dedup key is
//! its `event_id` when it has one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slack_envelope::payload::{EventCallback, Interaction, SlashCommand};
use slack_envelope::{DisconnectReason, Envelope, Frame, ack_frame, payload_to_json};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    // The payload views straight on the text too (they also see the raw `payload` in real use).
    let _ = serde_json::from_str::<EventCallback>(&text).map(|e| e.event.event_type().len());
    let _ = serde_json::from_str::<SlashCommand>(&text);
    if let Ok(i) = serde_json::from_str::<Interaction>(&text) {
        interaction(&i);
    }
    match Frame::parse(text) {
        Ok(Frame::Envelope(e)) => envelope(&e),
        Ok(Frame::Hello(h)) => {
            let _ = h.approximate_connection_time();
        }
        Ok(Frame::Disconnect(d)) => {
            let r = DisconnectReason::from_text(d.reason.as_str());
            assert_eq!(r, d.reason, "a reason survives its text");
        }
        Ok(_) | Err(_) => {}
    }
});

fn envelope(e: &Envelope) {
    let id = e.envelope_id();
    let ack = ack_frame(id, None);
    let v: serde_json::Value = serde_json::from_str(&ack).expect("the ack frame is json");
    assert_eq!(v["envelope_id"].as_str(), Some(id), "the ack names the envelope");
    let with = ack_frame(id, Some(r#"{"text":"t"}"#));
    assert!(serde_json::from_str::<serde_json::Value>(&with).is_ok());
    let payload = payload_to_json(id, &serde_json::json!({"text": id}), 1 << 20)
        .expect("a small payload serializes");
    assert!(serde_json::from_str::<serde_json::Value>(&ack_frame(id, Some(&payload))).is_ok());

    let raw = e.payload_json();
    assert!(
        serde_json::from_str::<serde_json::Value>(raw).is_ok(),
        "the payload slice is json: {raw}"
    );
    let _ = e.payload_value();
    let _ = e.frame_text();
    match e.event_id() {
        Some(ev) => assert_eq!(e.dedup_key(), ev),
        None => assert_eq!(e.dedup_key(), id),
    }
    let _ = (e.kind(), e.accepts_response_payload(), e.retry_attempt(), e.retry_reason());
    if let Ok(cb) = e.events_api() {
        let _ = cb.event.event_type();
    }
    let _ = e.slash_command();
    if let Ok(i) = e.interactive() {
        interaction(&i);
    }
}

fn interaction(i: &Interaction) {
    let _ = (i.interaction_type(), i.callback_id(), i.action_ids(), i.trigger_id());
    if let Interaction::ViewSubmission(v) | Interaction::ViewClosed(v) = i {
        let _ = v.view.input_value("b", "a");
    }
}
