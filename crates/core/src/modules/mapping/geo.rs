//! Distances between nearby frames in integer arithmetic: a local flat-Earth projection, exact
//! to well under a millimetre per metre over the few hundred metres between keyframes, with the
//! cosine of the latitude from a table (no floating point in the ledger's checks).

/// Cosine of whole degrees 0..=90, parts per million.
const COS_PPM: [i64; 91] = [
    1000000, 999848, 999391, 998630, 997564, 996195, 994522, 992546, 990268, 987688, 984808,
    981627, 978148, 974370, 970296, 965926, 961262, 956305, 951057, 945519, 939693, 933580, 927184,
    920505, 913545, 906308, 898794, 891007, 882948, 874620, 866025, 857167, 848048, 838671, 829038,
    819152, 809017, 798636, 788011, 777146, 766044, 754710, 743145, 731354, 719340, 707107, 694658,
    681998, 669131, 656059, 642788, 629320, 615661, 601815, 587785, 573576, 559193, 544639, 529919,
    515038, 500000, 484810, 469472, 453990, 438371, 422618, 406737, 390731, 374607, 358368, 342020,
    325568, 309017, 292372, 275637, 258819, 241922, 224951, 207912, 190809, 173648, 156434, 139173,
    121869, 104528, 87156, 69756, 52336, 34899, 17452, 0,
];

/// Millimetres per 1000 microdegrees of latitude (one degree is 111.32 km on the mean sphere).
const MM_PER_MILLIDEG: i64 = 111_320;

/// Cosine of a latitude in microdegrees, parts per million, interpolated linearly between whole
/// degrees (error below 40 ppm).
pub fn cos_ppm(lat_udeg: i32) -> i64 {
    let a = i64::from(lat_udeg).abs().min(90_000_000);
    let deg = (a / 1_000_000) as usize;
    if deg >= 90 {
        return 0;
    }
    let frac = a % 1_000_000;
    let (lo, hi) = (COS_PPM[deg], COS_PPM[deg + 1]);
    lo + (hi - lo) * frac / 1_000_000
}

/// Distance in millimetres between two points in microdegrees (valid for points a few
/// kilometres apart; further ones come out larger than the great circle, never smaller than
/// what the frame checks need: a long jump stays long). Longitudes are taken the short way
/// around the antimeridian.
pub fn distance_mm(lat_a: i32, lon_a: i32, lat_b: i32, lon_b: i32) -> u64 {
    let dlat = i64::from(lat_b) - i64::from(lat_a);
    let mut dlon = (i64::from(lon_b) - i64::from(lon_a)).abs();
    if dlon > 180_000_000 {
        dlon = 360_000_000 - dlon;
    }
    let mid = ((i64::from(lat_a) + i64::from(lat_b)) / 2) as i32;
    // |dlat| <= 1.8e8 udeg -> dy <= 2e10 mm; squares fit i128 with room to spare.
    let dy = i128::from(dlat * MM_PER_MILLIDEG / 1_000);
    let dx = i128::from(dlon * MM_PER_MILLIDEG / 1_000) * i128::from(cos_ppm(mid)) / 1_000_000;
    let squared = (dx * dx + dy * dy) as u128;
    squared.isqrt() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_degree_of_latitude_is_111_km_and_of_longitude_shrinks_with_cos() {
        assert_eq!(distance_mm(0, 0, 1_000_000, 0), 111_320_000);
        assert_eq!(distance_mm(0, 0, 0, 1_000_000), 111_320_000);
        // At 60° a degree of longitude is half as long.
        let d = distance_mm(60_000_000, 0, 60_000_000, 1_000_000);
        assert_eq!(d, 55_660_000);
        assert_eq!(cos_ppm(-60_000_000), 500_000);
        assert_eq!(cos_ppm(90_000_000), 0);
    }

    #[test]
    fn ten_metres_in_berlin_measure_ten_metres() {
        // 10 m north and 10 m east of 52.52 N, 13.405 E, as a client would compute them.
        let (lat, lon) = (52_520_000, 13_405_000);
        let north = distance_mm(lat, lon, lat + 90, lon);
        assert!((north as i64 - 10_000).abs() < 50, "{north}");
        let east = distance_mm(lat, lon, lat, lon + 148);
        assert!((east as i64 - 10_000).abs() < 50, "{east}");
    }

    #[test]
    fn extreme_inputs_do_not_overflow() {
        let d = distance_mm(-90_000_000, -180_000_000, 90_000_000, 180_000_000);
        assert_eq!(d, 20_037_600_000);
        let d = distance_mm(i32::MIN, i32::MIN, i32::MAX, i32::MAX);
        assert!(d > 0);
    }
}
