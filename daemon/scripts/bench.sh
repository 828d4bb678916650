#!/usr/bin/env bash
# `make bench`: daedalusd over the loopback transport vs libavcodec alone on
# the same libx264 clip; prints a markdown table (pictures/s, ratio, peak RSS).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q --release -p daedalusd --bin daedalusd --example bench
exec target/release/examples/bench --daemon target/release/daedalusd "$@"
