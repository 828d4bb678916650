//! daedalus replay engine.
