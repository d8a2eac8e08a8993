//! The pure domain of wellbeing: no I/O, no clocks read behind the caller's back. Analytics and
//! the aggregator both compute from these functions, so a number is the same wherever it is made.

pub mod time;
