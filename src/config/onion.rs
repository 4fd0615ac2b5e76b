//! `.onion` host names, checked as Tor reads them (rend-spec-v3, "Encoding
//! onion addresses"), so that a typo in an address is caught by `check`
//! instead of showing up as a source that never answers.
//!
//! A v3 address is 56 base32 characters encoding the service's 32-byte
//! public key, a 2-byte checksum and the version byte 3; the checksum is the
//! first two bytes of SHA3-256(".onion checksum" | key | version). v2
//! addresses (16 characters) stopped working in Tor 0.4.6 (October 2021).

use sha3::{Digest, Sha3_256};

/// Base32 characters in a v3 address.
pub const V3_LEN: usize = 56;
/// Base32 characters in a v2 address.
const V2_LEN: usize = 16;

/// True for `x.onion` and `x.onion.`, in any case: the names that must
/// never be looked up outside Tor.
pub fn is_onion(host: &str) -> bool {
    let host = host.trim_end_matches('.').as_bytes();
    host.len() >= 6 && host[host.len() - 6..].eq_ignore_ascii_case(b".onion")
}

/// Checks the service id of an `.onion` host (the label before `.onion`;
/// labels before it are the service's own subdomains). The error says what is
/// wrong, for a message that names the source and key.
pub fn check(host: &str) -> Result<(), String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let Some(rest) = host.strip_suffix(".onion") else {
        return Ok(());
    };
    let id = rest.rsplit('.').next().unwrap_or(rest);
    if id.len() == V2_LEN && decode_base32(id).is_some() {
        return Err(format!(
            "`{host}` is a v2 onion address: Tor stopped serving v2 onion services in 2021 (0.4.6); find the site's v3 address (56 characters)"
        ));
    }
    if id.len() != V3_LEN {
        return Err(format!(
            "`{host}`: an onion address has {V3_LEN} characters before .onion, this one has {}: check it for a missing or extra character",
            id.len()
        ));
    }
    let Some(bytes) = decode_base32(id) else {
        return Err(format!(
            "`{host}`: an onion address holds only the letters a-z and the digits 2-7: check it for a typo"
        ));
    };
    let (key, rest) = bytes.split_at(32);
    let (checksum, version) = (&rest[..2], rest[2]);
    if version != 3 {
        return Err(format!(
            "`{host}`: version byte {version}, not 3: this is not a v3 onion address; check it for a typo"
        ));
    }
    if checksum != &expected_checksum(key)[..] {
        return Err(format!(
            "`{host}`: the checksum does not match: a character is wrong; copy the address again from where you found it"
        ));
    }
    Ok(())
}

fn expected_checksum(key: &[u8]) -> [u8; 2] {
    let mut h = Sha3_256::new();
    h.update(b".onion checksum");
    h.update(key);
    h.update([3u8]);
    let digest = h.finalize();
    [digest[0], digest[1]]
}

/// RFC 4648 base32, lowercase, no padding; `None` on any other character.
fn decode_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for b in text.bytes() {
        let value = match b {
            b'a'..=b'z' => b - b'a',
            b'2'..=b'7' => b - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onion_names() {
        assert!(is_onion("abc.onion"));
        assert!(is_onion("abc.ONION."));
        assert!(!is_onion("onion"));
        assert!(!is_onion("abc.onion.example"));
        assert!(!is_onion("notonion"));
        assert!(!is_onion("é.onio"), "no panic on non-ASCII");
    }

    /// LockBit 2.0's address as the RansomLook groups file lists it.
    const REAL: &str = "lockbitapt6vx57t3eeqjofwgcglmutr3a35nygvokja5uuccip4ykyd.onion";

    #[test]
    fn a_real_v3_address_passes_and_a_changed_character_fails() {
        assert_eq!(check(REAL), Ok(()));
        assert_eq!(check(&format!("www.{REAL}")), Ok(()), "subdomains of a service");
        assert_eq!(check(&REAL.to_ascii_uppercase()), Ok(()));
        let typo = REAL.replacen("apt6", "apt7", 1);
        assert!(check(&typo).unwrap_err().contains("checksum"), "{typo}");
        let short = REAL.replacen("apt6", "apt", 1);
        assert!(check(&short).unwrap_err().contains("this one has 55"));
        let bad_char = REAL.replacen("apt6", "apt1", 1);
        assert!(check(&bad_char).unwrap_err().contains("a-z and the digits 2-7"));
    }

    #[test]
    fn v2_addresses_are_refused_with_the_reason() {
        let e = check("ekbgzchl6x2ias37.onion").unwrap_err();
        assert!(e.contains("v2") && e.contains("2021"), "{e}");
    }

    #[test]
    fn the_version_byte_is_checked() {
        // The same key with version byte 4 and a checksum made for it.
        let mut bytes = decode_base32(&REAL[..V3_LEN]).unwrap();
        bytes[34] = 4;
        let id = encode_base32(&bytes);
        assert!(check(&format!("{id}.onion")).unwrap_err().contains("version byte 4"));
    }

    fn encode_base32(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
        let (mut out, mut buffer, mut bits) = (String::new(), 0u32, 0u32);
        for &b in bytes {
            buffer = (buffer << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
            }
            buffer &= (1 << bits) - 1;
        }
        out
    }

    #[test]
    fn clearnet_hosts_are_not_onion_addresses() {
        assert_eq!(check("leak.example.org"), Ok(()));
        assert!(is_onion("x.onion."));
    }
}
