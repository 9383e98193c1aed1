//! Published vectors: EIP-55's examples, BIP-173/350's segwit addresses, the CashAddr
//! spec's, CIP-19's Shelley addresses, and well-known public addresses.
use super::*;

fn ok(coin: &str, network: &str, a: &str) {
    assert_eq!(
        check(coin, network, a).map(|p| p.address),
        Ok(a.to_string()),
        "{coin} {network} {a}"
    );
}

/// The reason after "is not a valid <network> address: ".
fn why(coin: &str, network: &str, a: &str) -> String {
    match check(coin, network, a) {
        Err(AddressError::Invalid { why, .. }) => why,
        other => panic!("{coin} {network} {a}: {other:?}"),
    }
}

#[test]
fn eip55_examples() {
    for a in [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        // All caps and all lower carry no checksum.
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77",
        "0x27b1fdb04752bbc536007a920d24acb045561c26",
    ] {
        for (coin, net) in [
            ("ETH", "ethereum"),
            ("POL", "polygon"),
            ("BNB", "bsc"),
            ("USDC", "base"),
            ("USDT", "ethereum"),
        ] {
            ok(coin, net, a);
        }
    }
    // One letter's case flipped.
    let e = check(
        "ETH",
        "ethereum",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "'0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD' is not a valid ethereum address: EIP-55 checksum mismatch"
    );
    assert_eq!(
        why(
            "ETH",
            "ethereum",
            "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        ),
        "must start with 0x"
    );
    assert_eq!(
        why(
            "ETH",
            "ethereum",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA"
        ),
        "38 hex digits after 0x, not 40"
    );
    assert_eq!(
        why(
            "ETH",
            "ethereum",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg"
        ),
        "'g' is not a hex digit"
    );
}

#[test]
fn bitcoin_legacy_and_segwit() {
    for a in [
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
        "1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu",
        // BIP-350's valid mainnet segwit addresses (v0 bech32, v1+ bech32m).
        "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
        "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "BC1SW50QGDZ25J",
        "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
    ] {
        ok("BTC", "bitcoin", a);
    }
}

#[test]
fn bitcoin_refusals_of_bip173_and_bip350() {
    let cases = [
        // Testnet is not a payout network.
        (
            "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
            "human-readable part 'tb' is not 'bc'",
        ),
        (
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
            "bech32 checksum mismatch",
        ),
        // BIP-173's v1 example: bech32, which BIP-350 replaced with bech32m.
        (
            "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
            "witness v1 needs the bech32m checksum (BIP-350)",
        ),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
            "witness v1 needs the bech32m checksum (BIP-350)",
        ),
        (
            "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
            "witness v16 needs the bech32m checksum (BIP-350)",
        ),
        (
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
            "witness v0 needs the bech32 checksum (BIP-350)",
        ),
        (
            "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
            "'o' is not a bech32 character",
        ),
        (
            "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
            "witness version 17 is above 16",
        ),
        ("bc1pw5dgrnzv", "witness program of 1 bytes (2 to 40)"),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
            "witness program of 41 bytes (2 to 40)",
        ),
        (
            "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
            "witness v0 program of 16 bytes (20 or 32)",
        ),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
            "bad padding in the witness program",
        ),
        ("bc1gmk9yu", "empty data part"),
        (
            "bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "mixes upper and lower case",
        ),
        (
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
            "base58check checksum mismatch",
        ),
        (
            "0A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "not base58 (a character outside its alphabet)",
        ),
        // A dogecoin address is valid base58check, with another version.
        (
            "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L",
            "version byte 0x1e is not a bitcoin mainnet one",
        ),
    ];
    for (a, reason) in cases {
        assert_eq!(why("BTC", "bitcoin", a), reason, "{a}");
    }
}

#[test]
fn bitcoin_cash_cashaddr_and_legacy() {
    for a in [
        "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
        "bitcoincash:ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq",
        "qr95sy3j9xwd2ap32xkykttr4cvcu7as4y0qverfuy",
        "1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu",
        "3CWFddi6m4ndiGyKqzYvsFYagqDLPVMTzC",
    ] {
        ok("BCH", "bitcoin-cash", a);
    }
    assert_eq!(
        why(
            "BCH",
            "bitcoin-cash",
            "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6c"
        ),
        "cashaddr checksum mismatch"
    );
}

#[test]
fn solana_ripple_dogecoin() {
    for a in [
        "11111111111111111111111111111111",
        "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
    ] {
        ok("SOL", "solana", a);
        ok("USDC", "solana", a);
    }
    for a in [
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwy",
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1vEPj",
    ] {
        let w = why("SOL", "solana", a);
        assert!(
            w.starts_with("decodes to ") && w.ends_with(" bytes, not 32"),
            "{w}"
        );
    }
    assert_eq!(
        why(
            "SOL",
            "solana",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        ),
        "not base58 (a character outside its alphabet)"
    );
    ok("XRP", "ripple", "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh");
    ok("XRP", "ripple", "rrrrrrrrrrrrrrrrrrrrrhoLvTp");
    assert_eq!(
        why("XRP", "ripple", "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTj"),
        "base58check checksum mismatch"
    );
    // A bitcoin address read with the ripple alphabet.
    assert!(check("XRP", "ripple", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").is_err());
    ok("DOGE", "dogecoin", "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L");
    assert_eq!(
        why("DOGE", "dogecoin", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        "version byte 0x00 is not a dogecoin one"
    );
}

#[test]
fn cardano_shelley_cip19() {
    for a in [
        "addr1qx2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzer3n0d3vllmyqwsx5wktcd8cc3sq835lu7drv2xwl2wywfgse35a3x",
        "addr1z8phkx6acpnf78fuvxn0mkew3l0fd058hzquvz7w36x4gten0d3vllmyqwsx5wktcd8cc3sq835lu7drv2xwl2wywfgs9yc0hh",
        "addr1yx2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzerkr0vd4msrxnuwnccdxlhdjar77j6lg0wypcc9uar5d2shs2z78ve",
        "addr1x8phkx6acpnf78fuvxn0mkew3l0fd058hzquvz7w36x4gt7r0vd4msrxnuwnccdxlhdjar77j6lg0wypcc9uar5d2shskhj42g",
        "addr1gx2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzer5pnz75xxcrzqf96k",
        "addr128phkx6acpnf78fuvxn0mkew3l0fd058hzquvz7w36x4gtupnz75xxcrtw79hu",
        "addr1vx2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzers66hrl8",
        "addr1w8phkx6acpnf78fuvxn0mkew3l0fd058hzquvz7w36x4gtcyjy7wx",
    ] {
        ok("ADA", "cardano", a);
    }
    assert_eq!(
        why(
            "ADA",
            "cardano",
            "addr_test1vz2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzerspjrlsz"
        ),
        "human-readable part 'addr_test' is not 'addr' (mainnet)"
    );
    assert_eq!(
        why(
            "ADA",
            "cardano",
            "stake1uyehkck0lajq8gr28t9uxnuvgcqrc6070x3k9r8048z8y5gh6ffgw"
        ),
        "human-readable part 'stake' is not 'addr' (mainnet)"
    );
    assert_eq!(
        why(
            "ADA",
            "cardano",
            "addr1vx2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzers66hrl9"
        ),
        "bech32 checksum mismatch"
    );
}

#[test]
fn coins_and_networks_are_named_in_refusals() {
    assert_eq!(
        check("XYZ", "ethereum", "0x").unwrap_err().to_string(),
        "unknown coin 'XYZ' (expected one of BTC, BCH, ETH, SOL, POL, BNB, XRP, ADA, DOGE, USDT, USDC)"
    );
    assert_eq!(
        check("USDT", "bitcoin", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
            .unwrap_err()
            .to_string(),
        "USDT is not on network 'bitcoin' (expected ethereum, polygon or solana)"
    );
    assert_eq!(
        check("ETH", "polygon", "0x").unwrap_err().to_string(),
        "ETH is not on network 'polygon' (expected ethereum)"
    );
    // Case and spaces are forgiven in coin and network, not in the address.
    assert_eq!(
        check(
            " eth ",
            "Ethereum",
            " 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\n"
        ),
        Ok(Payout {
            coin: "ETH".into(),
            network: "ethereum".into(),
            address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into(),
        })
    );
    assert_eq!(why("BTC", "bitcoin", ""), "empty");
    let long = "1".repeat(500);
    let e = check("BTC", "bitcoin", &long).unwrap_err().to_string();
    assert!(e.len() < 300 && e.contains('…'), "{e}");
}
