#!/usr/bin/env bash
# `make bench`: events per second through the v4l2_m2m mock and the real
# job core, one core.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo bench -q -p daedalus-replay --bench events
