//! The fixed-layout structs of the uapi header, field for field.
//!
//! Each struct is declared once through `wire_struct!`, which derives its
//! little-endian encoder, decoder and layout table from the same field list;
//! `tests/c_layout.rs` checks that table against the C compiler's `sizeof`
//! and `offsetof`, so the codec cannot drift from the header unnoticed.

/// One field's place in a wire struct, for the layout check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldLayout {
    /// The C field name (arrays without their brackets).
    pub name: &'static str,
    pub offset: usize,
    pub size: usize,
}

/// A scalar or array field as it sits on the wire.
pub trait WireField: Sized + Copy {
    const SIZE: usize;
    fn put(&self, out: &mut Vec<u8>);
    /// Reads from the start of `buf`, which holds at least `SIZE` bytes.
    fn get(buf: &[u8]) -> Self;
}

macro_rules! le_field {
    ($($t:ty),*) => {$(
        impl WireField for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(buf: &[u8]) -> Self {
                let mut b = [0u8; std::mem::size_of::<$t>()];
                b.copy_from_slice(&buf[..Self::SIZE]);
                <$t>::from_le_bytes(b)
            }
        }
    )*};
}
le_field!(u16, u32, u64);

impl<T: WireField + Default, const N: usize> WireField for [T; N] {
    const SIZE: usize = T::SIZE * N;
    fn put(&self, out: &mut Vec<u8>) {
        for v in self {
            v.put(out);
        }
    }
    fn get(buf: &[u8]) -> Self {
        let mut a = [T::default(); N];
        for (i, v) in a.iter_mut().enumerate() {
            *v = T::get(&buf[i * T::SIZE..]);
        }
        a
    }
}

/// A struct of the uapi header with its C name and layout.
pub trait WireStruct: Sized {
    /// `struct <C_NAME>` in the header.
    const C_NAME: &'static str;
    /// Its size in bytes, also its `sizeof` (no implicit padding).
    const SIZE: usize;
    fn layout() -> Vec<FieldLayout>;
    fn put(&self, out: &mut Vec<u8>);
    /// Reads from the start of `buf`, which holds at least `SIZE` bytes.
    fn get(buf: &[u8]) -> Self;
}

/// The C name of a Rust field: `type` is a Rust keyword, so it is `ty` here.
fn c_field_name(rust: &'static str) -> &'static str {
    if rust == "ty" { "type" } else { rust }
}

macro_rules! wire_struct {
    (
        $(#[$m:meta])*
        pub struct $name:ident = $cname:literal {
            $( $(#[$fm:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fm])* pub $field: $ty ),*
        }

        impl WireStruct for $name {
            const C_NAME: &'static str = $cname;
            const SIZE: usize = 0 $( + <$ty as WireField>::SIZE )*;

            fn layout() -> Vec<FieldLayout> {
                let mut offset = 0;
                let mut fields = Vec::new();
                $(
                    let size = <$ty as WireField>::SIZE;
                    fields.push(FieldLayout { name: c_field_name(stringify!($field)), offset, size });
                    offset += size;
                )*
                let _ = offset;
                fields
            }

            fn put(&self, out: &mut Vec<u8>) {
                $( WireField::put(&self.$field, out); )*
            }

            fn get(buf: &[u8]) -> Self {
                let mut at = 0;
                $(
                    let $field = <$ty as WireField>::get(&buf[at..]);
                    at += <$ty as WireField>::SIZE;
                )*
                let _ = at;
                Self { $( $field ),* }
            }
        }
    };
}

wire_struct! {
    /// `struct daedalus_hdr`: in front of every message.
    pub struct Hdr = "daedalus_hdr" {
        magic: u32,
        version: u16,
        /// An enum daedalus_msg_type value.
        ty: u16,
        /// Bytes after the header: fixed body plus data.
        payload_len: u32,
        reserved: u32,
        /// The job (REQ_DECODE, RESP_FRAME, RESP_STREAM_INFO), a PING/PONG
        /// token, or zero.
        cookie: u64,
    }
}

wire_struct! {
    /// `struct daedalus_req_hello`: the first message the kernel sends.
    pub struct ReqHello = "daedalus_req_hello" {
        proto_version: u32,
        max_contexts: u32,
        max_payload: u32,
        reserved: u32,
    }
}

wire_struct! {
    /// `struct daedalus_resp_hello`: the daemon's capabilities.
    pub struct RespHello = "daedalus_resp_hello" {
        proto_version: u32,
        /// (major << 16) | (minor << 8) | patch
        daemon_version: u32,
        /// Mask of `Codec::bit()`.
        codecs: u32,
        /// Mask of `Pixfmt::bit()`.
        pixfmts: u32,
        max_width: u32,
        max_height: u32,
        /// `HELLO_F_*`.
        flags: u32,
        reserved: u32,
    }
}

wire_struct! {
    /// `struct daedalus_req_session_open`: a context starts streaming.
    pub struct ReqSessionOpen = "daedalus_req_session_open" {
        ctx_id: u32,
        codec: u32,
        pixfmt: u32,
        width: u32,
        height: u32,
        reserved: u32,
    }
}

wire_struct! {
    /// `struct daedalus_req_session_close`: every cookie of the context is dead.
    pub struct ReqSessionClose = "daedalus_req_session_close" {
        ctx_id: u32,
        reserved: u32,
    }
}

wire_struct! {
    /// `struct daedalus_req_decode`: one job, named by the header's cookie.
    pub struct ReqDecode = "daedalus_req_decode" {
        ctx_id: u32,
        codec: u32,
        /// `DECODE_F_*`.
        flags: u32,
        generation: u32,
        /// The OUTPUT buffer's timestamp in ns; 0 with `DECODE_F_NO_SRC`.
        timestamp: u64,
        src_index: u32,
        dst_index: u32,
        /// Bitstream bytes; unless mapped they follow the struct.
        bytes: u32,
        dst_size: u32,
        src_map: u64,
        dst_map: u64,
    }
}

wire_struct! {
    /// `struct daedalus_resp_frame`: progress of the job named by the cookie.
    pub struct RespFrame = "daedalus_resp_frame" {
        ctx_id: u32,
        /// `FRAME_*`.
        flags: u32,
        /// With HAS_PIXELS: the timestamp of the source that produced the picture.
        timestamp: u64,
        /// With HAS_PIXELS: picture bytes; unless mapped they follow the struct.
        bytesused: u32,
        generation: u32,
        reserved: [u32; 2],
    }
}

wire_struct! {
    /// `struct daedalus_resp_stream_info`: the stream's format.
    pub struct RespStreamInfo = "daedalus_resp_stream_info" {
        ctx_id: u32,
        generation: u32,
        coded_width: u32,
        coded_height: u32,
        visible_left: u32,
        visible_top: u32,
        visible_width: u32,
        visible_height: u32,
        pixfmt: u32,
        dpb_size: u32,
        reserved: [u32; 2],
    }
}

wire_struct! {
    /// `struct daedalus_req_flush`: drain the context.
    pub struct ReqFlush = "daedalus_req_flush" {
        ctx_id: u32,
        generation: u32,
    }
}

wire_struct! {
    /// `struct daedalus_req_reset`: drop all decoder state and jobs.
    pub struct ReqReset = "daedalus_req_reset" {
        ctx_id: u32,
        /// The new stream generation.
        generation: u32,
    }
}

wire_struct! {
    /// `struct daedalus_req_capture_off`: CAPTURE was streamed off; every
    /// cookie of the context issued so far is dead, the decoder state stays.
    pub struct ReqCaptureOff = "daedalus_req_capture_off" {
        ctx_id: u32,
        /// The context's stream generation, unchanged.
        generation: u32,
    }
}

wire_struct! {
    /// `struct daedalus_req_capture_fmt`: CAPTURE starts streaming with
    /// this pixel format; pictures go out in it from now on.
    pub struct ReqCaptureFmt = "daedalus_req_capture_fmt" {
        ctx_id: u32,
        /// `enum daedalus_pixfmt` of the CAPTURE format.
        pixfmt: u32,
    }
}

wire_struct! {
    /// `struct daedalus_resp_reset_done`: the answer to REQ_RESET.
    pub struct RespResetDone = "daedalus_resp_reset_done" {
        ctx_id: u32,
        generation: u32,
    }
}

wire_struct! {
    /// `struct daedalus_ping`: REQ_PING and RESP_PONG.
    pub struct Ping = "daedalus_ping" {
        seq: u32,
        reserved: u32,
    }
}

wire_struct! {
    /// `struct daedalus_resp_session_error`: the session is unusable.
    pub struct RespSessionError = "daedalus_resp_session_error" {
        ctx_id: u32,
        error: u32,
    }
}

/// Every wire struct's C name and layout, for the drift check.
pub fn all_layouts() -> Vec<(&'static str, usize, Vec<FieldLayout>)> {
    fn one<T: WireStruct>() -> (&'static str, usize, Vec<FieldLayout>) {
        (T::C_NAME, T::SIZE, T::layout())
    }
    vec![
        one::<Hdr>(),
        one::<ReqHello>(),
        one::<RespHello>(),
        one::<ReqSessionOpen>(),
        one::<ReqSessionClose>(),
        one::<ReqDecode>(),
        one::<RespFrame>(),
        one::<RespStreamInfo>(),
        one::<ReqFlush>(),
        one::<ReqReset>(),
        one::<ReqCaptureOff>(),
        one::<ReqCaptureFmt>(),
        one::<RespResetDone>(),
        one::<Ping>(),
        one::<RespSessionError>(),
    ]
}
