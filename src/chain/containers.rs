//! Which configured container pipeline a subscription's `containerId` hash names. The hash cannot
//! be inverted, so the node indexes candidate pipelines: every ordered selection of configured
//! containers while that stays small, and beyond that pipelines up to a bounded length (Ritual
//! enumerates every permutation of every subset, which is ~9.9M hashes for 10 containers).
use super::subscription::container_set_hash;
use alloy::primitives::B256;
use std::collections::HashMap;

/// Most hashes indexed; past this the pipeline length is capped.
const BUDGET: usize = 200_000;

#[derive(Debug, Clone, Default)]
pub struct ContainerIndex {
    by_hash: HashMap<B256, Vec<String>>,
    /// Longest pipeline indexed (None: every length).
    pub max_len: Option<usize>,
}

fn count(n: usize, len: usize) -> usize {
    // Σ_{k=1..len} n!/(n-k)!, saturating.
    let mut total = 0usize;
    let mut term = 1usize;
    for k in 0..len {
        term = term.saturating_mul(n - k);
        total = total.saturating_add(term);
    }
    total
}

impl ContainerIndex {
    pub fn new(ids: &[String]) -> Self {
        let n = ids.len();
        let mut len = n;
        while len > 1 && count(n, len) > BUDGET {
            len -= 1;
        }
        let mut by_hash = HashMap::with_capacity(count(n, len).min(BUDGET));
        let mut path = Vec::with_capacity(len);
        let mut used = vec![false; n];
        fn walk(
            ids: &[String],
            len: usize,
            path: &mut Vec<String>,
            used: &mut [bool],
            out: &mut HashMap<B256, Vec<String>>,
        ) {
            if !path.is_empty() {
                out.insert(container_set_hash(path), path.clone());
            }
            if path.len() == len {
                return;
            }
            for i in 0..ids.len() {
                if !used[i] {
                    used[i] = true;
                    path.push(ids[i].clone());
                    walk(ids, len, path, used, out);
                    path.pop();
                    used[i] = false;
                }
            }
        }
        walk(ids, len, &mut path, &mut used, &mut by_hash);
        let max_len = (len < n).then_some(len);
        if let Some(l) = max_len {
            tracing::warn!(
                containers = n,
                max_pipeline = l,
                "many containers configured: on-chain pipelines longer than {l} containers are not recognised"
            );
        }
        Self { by_hash, max_len }
    }

    pub fn lookup(&self, hash: &B256) -> Option<&[String]> {
        self.by_hash.get(hash).map(Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ordered_pipelines_and_stays_bounded() {
        let ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let idx = ContainerIndex::new(&ids);
        assert_eq!(idx.len(), 3 + 6 + 6);
        let ba = container_set_hash(&["b".into(), "a".into()]);
        assert_eq!(
            idx.lookup(&ba),
            Some(&["b".to_string(), "a".to_string()][..])
        );
        let many: Vec<String> = (0..12).map(|i| format!("c{i}")).collect();
        let big = ContainerIndex::new(&many);
        assert!(big.len() <= BUDGET, "{}", big.len());
        assert_eq!(big.max_len, Some(5));
    }
}
