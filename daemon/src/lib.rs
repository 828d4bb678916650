//! daedalusd: the userspace decoder behind daedalus_v4l2.ko. It reads
//! protocol v1 requests from a transport (`/dev/daedalus` or a loopback
//! socket), keeps one backend session per kernel context and writes the
//! sessions' results back as responses.

pub mod backend;
pub mod clip;
pub mod daemon;
pub mod ffmpeg;
pub mod h264_params;
pub mod kernel_role;
pub mod layout;
pub mod mapping;
pub mod park;
pub mod sandbox;
pub mod scripted;
pub mod stateless;
pub mod transport;
