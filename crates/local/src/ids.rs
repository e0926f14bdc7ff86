//! Identifiers and timestamps the driver makes: random uids (from the kernel's generator) and
//! RFC 3339 times. Kept here so everything else stays deterministic to test.

use jiff::Timestamp;
use std::io::Read;

/// A random RFC 4122 version-4 uid.
pub fn uid() -> String {
    let mut b = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok();
    if !filled {
        // Fall back on time and pid: unique enough for one machine.
        let t = Timestamp::now().as_nanosecond() as u128;
        let mixed = t ^ (u128::from(std::process::id()) << 64);
        b = mixed.to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Now, as written in status.
pub fn now() -> String {
    rfc3339(Timestamp::now())
}

/// A time as written in status (seconds, `Z`).
pub fn rfc3339(t: Timestamp) -> String {
    axon_core::rfc3339::format(t)
}

/// Parse a status time.
pub fn parse(s: &str) -> Option<Timestamp> {
    axon_core::rfc3339::parse(s)
}
