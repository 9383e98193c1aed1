//! The transaction tracker's decisions: per block, which sent deliveries are final, dropped,
//! to be replaced with bumped fees or rebroadcast; and the local nonce.
