//! yolk
