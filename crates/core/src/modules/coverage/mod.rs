//! Wireless coverage (like Helium): hotspots prove radio coverage with beacons their neighbours
//! witness. This folder grows with the coverage issue; today it holds the radio physics the
//! witness checks rest on.

pub mod radio;
