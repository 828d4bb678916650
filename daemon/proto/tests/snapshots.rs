//! The encoding of every message type, byte for byte, as reviewed snapshots.

mod common;

use daedalus_proto::*;

#[test]
fn every_message_encoding() {
    let samples = common::samples();
    for t in MsgType::ALL {
        assert!(samples.iter().any(|(_, m)| m.ty() == t), "no sample of {t}");
    }
    for (name, msg) in &samples {
        insta::assert_snapshot!(*name, hex_dump(msg));
    }
}

#[test]
fn every_sample_round_trips() {
    for (name, msg) in common::samples() {
        let bytes = msg.encode().unwrap();
        assert_eq!(bytes.len(), msg.encoded_len(), "{name}");
        let back = Message::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back, msg, "{name}");
        assert_eq!(back.direction(), Direction::of_raw(msg.ty().raw()));
        assert_eq!(
            Message::decode_dir(&bytes, msg.direction()),
            Ok(msg.clone())
        );
        let other = match msg.direction() {
            Direction::Request => Direction::Response,
            Direction::Response => Direction::Request,
        };
        assert!(matches!(
            Message::decode_dir(&bytes, other),
            Err(ProtoError::WrongDirection { .. })
        ));
    }
}

#[test]
fn direction_is_the_high_bit() {
    for t in MsgType::ALL {
        let want = if t.name().starts_with("REQ_") {
            Direction::Request
        } else {
            Direction::Response
        };
        assert_eq!(t.direction(), want, "{t}");
    }
    assert_eq!(Direction::of_raw(0x8000), Direction::Response);
    assert_eq!(Direction::of_raw(0x7fff), Direction::Request);
}

#[test]
fn error_messages_read_well() {
    let errs = [
        ProtoError::Truncated { need: 24, have: 3 },
        ProtoError::BadMagic(0x1234),
        ProtoError::ForbiddenFlags {
            ty: MsgType::RespFrame,
            flags: 8,
            why: "LAST only with HAS_PIXELS",
        },
        ProtoError::DataLengthMismatch {
            ty: MsgType::ReqDecode,
            field: "bytes",
            declared: 10,
            actual: 9,
        },
    ];
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    insta::assert_snapshot!("error_display", text.join("\n"));
}

/// The encoding as hex, split into header, body and data lines.
pub fn hex_dump(msg: &Message) -> String {
    let bytes = msg.encode().expect("sample encodes");
    let body_end = HDR_SIZE + msg.ty().body_size();
    let hex = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = format!(
        "{} ({} bytes)\nhdr:  {}\n",
        msg.ty(),
        bytes.len(),
        hex(&bytes[..HDR_SIZE])
    );
    for (i, chunk) in bytes[HDR_SIZE..body_end].chunks(16).enumerate() {
        out.push_str(if i == 0 { "body: " } else { "      " });
        out.push_str(&hex(chunk));
        out.push('\n');
    }
    let data = &bytes[body_end..];
    if data.len() > 64 {
        // Offsets, 16 bytes a line, a run of zero lines as one `*`.
        out.push_str("data:\n");
        let mut zeros = false;
        for (i, chunk) in data.chunks(16).enumerate() {
            if chunk.iter().all(|&b| b == 0) && chunk.len() == 16 {
                if !zeros {
                    out.push_str("*\n");
                }
                zeros = true;
                continue;
            }
            zeros = false;
            out.push_str(&format!("{:06x}  {}\n", i * 16, hex(chunk)));
        }
        out.push_str(&format!("{:06x}\n", data.len()));
    } else if !data.is_empty() {
        out.push_str(&format!("data: {}\n", hex(data)));
    }
    out
}
