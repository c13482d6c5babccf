//! Deterministic fault simulation of the reference broker with turmoil: seeded fault
//! schedules, invariants checked over the recorded history, replay and shrinking.
#![forbid(unsafe_code)]
