//! Points on the Earth's surface, in metres: an offset from a point and the distance between two.

use depin_core::modules::coverage::actions::Location;
use depin_core::modules::coverage::radio::great_circle_distance_m;

/// The point `north_m`, `east_m` metres from `from`.
pub fn offset(from: Location, north_m: f64, east_m: f64) -> Location {
    let lat = from.lat_deg() + north_m / 111_320.0;
    let lon = from.lon_deg() + east_m / (111_320.0 * from.lat_deg().to_radians().cos());
    Location::from_degrees(lat, lon)
}

/// Great-circle distance between two locations, metres.
pub fn distance_m(a: Location, b: Location) -> f64 {
    great_circle_distance_m(a.lat_udeg, a.lon_udeg, b.lat_udeg, b.lon_udeg)
}
