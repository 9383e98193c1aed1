//! What a worker signs in a `JobReceipt`: the receipt's JSON without its signature, with
//! c0mpute's field names in a fixed order, so the buyer rebuilds the same bytes.
use super::wire::JobReceipt;

pub fn signing_bytes(r: &JobReceipt) -> Vec<u8> {
    let mut unsigned = r.clone();
    unsigned.signature = None;
    serde_json::to_vec(&unsigned).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::c0mpute::ReceiptStatus;

    #[test]
    fn the_signature_is_not_part_of_what_is_signed() {
        let mut r = JobReceipt {
            job_id: "j".into(),
            worker_peer_id: "w".into(),
            worker_did: None,
            buyer_peer_id: "b".into(),
            output_hash: Some("ab".into()),
            status: ReceiptStatus::Completed,
            completed_at_ms: 5,
            signature: None,
        };
        let before = signing_bytes(&r);
        r.signature = Some("00".into());
        assert_eq!(signing_bytes(&r), before);
        r.output_hash = Some("cd".into());
        assert_ne!(signing_bytes(&r), before, "the output hash is covered");
    }
}
