//! yolk-test
