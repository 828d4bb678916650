//! daedalus protocol v1.
