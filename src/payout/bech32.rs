//! Bech32 and Bech32m (BIP-173, BIP-350): decoding with the checksum, and the 5-to-8-bit
//! regrouping of the data part.

const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32_CONST: u32 = 1;
const BECH32M_CONST: u32 = 0x2bc8_30a3;

/// Which checksum a string carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Bech32,
    Bech32m,
}

/// A decoded string: its human-readable part (lower case), the data's 5-bit groups (without
/// the checksum) and the checksum's variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub hrp: String,
    pub data: Vec<u8>,
    pub variant: Variant,
}

/// Why a string is not Bech32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    MixedCase,
    NoSeparator,
    EmptyHrp,
    HrpCharacter,
    DataCharacter(char),
    TooShort,
    TooLong(usize),
    Checksum,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::MixedCase => f.write_str("mixes upper and lower case"),
            Error::NoSeparator => f.write_str("no '1' separator"),
            Error::EmptyHrp => f.write_str("empty human-readable part"),
            Error::HrpCharacter => f.write_str("a character outside ASCII 33..126"),
            Error::DataCharacter(c) => write!(f, "'{c}' is not a bech32 character"),
            Error::TooShort => f.write_str("too short for a bech32 checksum"),
            Error::TooLong(n) => write!(f, "{n} characters, more than bech32's 90"),
            Error::Checksum => f.write_str("bech32 checksum mismatch"),
        }
    }
}

fn polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// Decodes `s`; `max_len` is 90 for segwit addresses, `None` where longer strings are used
/// (Cardano).
pub fn decode(s: &str, max_len: Option<usize>) -> Result<Decoded, Error> {
    if let Some(max) = max_len
        && s.len() > max
    {
        return Err(Error::TooLong(s.len()));
    }
    if s.bytes().any(|b| !(33..=126).contains(&b)) {
        return Err(Error::HrpCharacter);
    }
    let lower = s.bytes().any(|b| b.is_ascii_lowercase());
    let upper = s.bytes().any(|b| b.is_ascii_uppercase());
    if lower && upper {
        return Err(Error::MixedCase);
    }
    let s = s.to_ascii_lowercase();
    let sep = s.rfind('1').ok_or(Error::NoSeparator)?;
    if sep == 0 {
        return Err(Error::EmptyHrp);
    }
    let (hrp, rest) = (&s[..sep], &s[sep + 1..]);
    if rest.len() < 6 {
        return Err(Error::TooShort);
    }
    let data = rest
        .chars()
        .map(|c| {
            CHARSET
                .iter()
                .position(|&x| char::from(x) == c)
                .map(|p| p as u8)
                .ok_or(Error::DataCharacter(c))
        })
        .collect::<Result<Vec<u8>, Error>>()?;
    let expanded = hrp
        .bytes()
        .map(|b| b >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.bytes().map(|b| b & 31))
        .chain(data.iter().copied());
    let variant = match polymod(expanded) {
        BECH32_CONST => Variant::Bech32,
        BECH32M_CONST => Variant::Bech32m,
        _ => return Err(Error::Checksum),
    };
    Ok(Decoded {
        hrp: hrp.to_string(),
        data: data[..data.len() - 6].to_vec(),
        variant,
    })
}

/// 5-bit groups as bytes, without padding: `None` when more than 4 bits are left over or the
/// left-over bits are not zero.
pub fn to_bytes(data: &[u8]) -> Option<Vec<u8>> {
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut out = Vec::with_capacity(data.len() * 5 / 8);
    for &v in data {
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    (bits < 5 && (acc & ((1 << bits) - 1)) == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bip173_and_bip350_strings() {
        for s in [
            "A12UEL5L",
            "a12uel5l",
            "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
            "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
            "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
            "?1ezyfcl",
        ] {
            assert_eq!(decode(s, Some(90)).unwrap().variant, Variant::Bech32, "{s}");
        }
        for s in [
            "A1LQFN3A",
            "a1lqfn3a",
            "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
            "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
            "?1v759aa",
        ] {
            assert_eq!(
                decode(s, Some(90)).unwrap().variant,
                Variant::Bech32m,
                "{s}"
            );
        }
    }

    #[test]
    fn invalid_strings_say_why() {
        assert_eq!(decode(" 1nwldj5", Some(90)), Err(Error::HrpCharacter));
        assert_eq!(decode("\u{7f}1axkwrx", Some(90)), Err(Error::HrpCharacter));
        assert_eq!(
            decode(
                "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
                Some(90)
            ),
            Err(Error::TooLong(91))
        );
        assert_eq!(decode("pzry9x0s0muk", Some(90)), Err(Error::NoSeparator));
        assert_eq!(decode("1pzry9x0s0muk", Some(90)), Err(Error::EmptyHrp));
        assert_eq!(
            decode("x1b4n0q5v", Some(90)),
            Err(Error::DataCharacter('b'))
        );
        assert_eq!(decode("li1dgmt3", Some(90)), Err(Error::TooShort));
        assert_eq!(decode("A1G7SGD8", Some(90)), Err(Error::Checksum));
        assert_eq!(decode("10a06t8", Some(90)), Err(Error::EmptyHrp));
        assert_eq!(decode("1qzzfhee", Some(90)), Err(Error::EmptyHrp));
        assert_eq!(decode("M1VUXWEZ", Some(90)), Err(Error::Checksum));
        assert_eq!(
            decode(
                "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
                Some(90)
            ),
            Err(Error::MixedCase)
        );
    }

    #[test]
    fn regrouping_refuses_bad_padding() {
        assert_eq!(
            to_bytes(&[0x0e, 0x14, 0x0f, 0x07, 0x0c]),
            Some(vec![0x75, 0x1e, 0x76])
        );
        // 3 groups = 15 bits: 7 left over.
        assert_eq!(to_bytes(&[0, 0, 0]), None);
        // 2 groups = 10 bits: 2 left over, not zero.
        assert_eq!(to_bytes(&[0, 1]), None);
    }
}
