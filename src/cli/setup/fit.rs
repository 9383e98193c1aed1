//! `infernet setup`'s model step: what to offer (models the backend has, plus suggested Ollama
//! models to pull) and which to preselect (the configured one, else the largest that fits).
use infernet::backend::{BackendKind, ModelInfo};
use infernet::system::{Memory, gb};

/// Suggested Ollama models with their approximate download size.
pub const SUGGESTED: [(&str, u64); 6] = [
    ("qwen2.5:0.5b", 398_000_000),
    ("qwen2.5:3b", 1_900_000_000),
    ("qwen2.5:7b", 4_700_000_000),
    ("qwen2.5:14b", 9_000_000_000),
    ("qwen2.5:32b", 20_000_000_000),
    ("qwen2.5:72b", 47_000_000_000),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub label: String,
    pub name: String,
    pub size: Option<u64>,
    pub present: bool,
}

pub fn candidates(present: &[ModelInfo], kind: BackendKind, mem: &Memory) -> Vec<Candidate> {
    let fit_note = |size: Option<u64>| match mem.fits(size) {
        Some(false) => ", does not fit",
        _ => "",
    };
    let mut out: Vec<Candidate> = present
        .iter()
        .map(|m| Candidate {
            label: format!(
                "{} ({}{}, present)",
                m.name,
                m.size_bytes
                    .map(gb)
                    .unwrap_or_else(|| "size unknown".into()),
                fit_note(m.size_bytes)
            ),
            name: m.name.clone(),
            size: m.size_bytes,
            present: true,
        })
        .collect();
    if kind == BackendKind::Ollama {
        for (name, size) in SUGGESTED {
            if !out.iter().any(|c| c.name == name) {
                out.push(Candidate {
                    label: format!("{name} (~{}{}, pull)", gb(size), fit_note(Some(size))),
                    name: name.into(),
                    size: Some(size),
                    present: false,
                });
            }
        }
    }
    out
}

/// The preselected entry: the configured model, else the largest present model that fits,
/// else the largest one that fits, else the first.
pub fn default_choice(c: &[Candidate], current: Option<&str>, mem: &Memory) -> usize {
    let largest = |present_only: bool| {
        c.iter()
            .enumerate()
            .filter(|(_, x)| !present_only || x.present)
            .filter(|(_, x)| mem.fits(x.size) != Some(false))
            .max_by_key(|(_, x)| x.size.unwrap_or(0))
            .map(|(i, _)| i)
    };
    current
        .and_then(|m| c.iter().position(|x| x.name == m))
        .or_else(|| largest(true))
        .or_else(|| largest(false))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, size: u64) -> ModelInfo {
        ModelInfo {
            name: name.into(),
            size_bytes: Some(size),
        }
    }

    #[test]
    fn the_largest_model_that_fits_is_preselected() {
        let gpu24 = Memory {
            ram_bytes: 64_000_000_000,
            vram_bytes: Some(24_000_000_000),
        };
        let c = candidates(&[], BackendKind::Ollama, &gpu24);
        assert_eq!(c.len(), 6);
        // 0.85 × 24 GB = 20.4 GB: the 32b model (20 GB) fits, the 72b does not.
        assert_eq!(c[default_choice(&c, None, &gpu24)].name, "qwen2.5:32b");
        assert!(c[5].label.contains("does not fit"), "{}", c[5].label);
        let cpu16 = Memory {
            ram_bytes: 16_000_000_000,
            vram_bytes: None,
        };
        // 0.6 × 16 GB = 9.6 GB: the 14b model (9 GB).
        let c = candidates(&[], BackendKind::Ollama, &cpu16);
        assert_eq!(c[default_choice(&c, None, &cpu16)].name, "qwen2.5:14b");
        // A present model that fits wins over a bigger one that must be pulled.
        let c = candidates(
            &[info("llama3.2:3b", 2_000_000_000)],
            BackendKind::Ollama,
            &cpu16,
        );
        assert!(c[0].present && c[0].label.contains("present"));
        assert_eq!(c[default_choice(&c, None, &cpu16)].name, "llama3.2:3b");
        // The configured model wins over everything.
        assert_eq!(
            c[default_choice(&c, Some("qwen2.5:0.5b"), &cpu16)].name,
            "qwen2.5:0.5b"
        );
        // Other backends offer only what they serve.
        let c = candidates(&[info("m.gguf", 1)], BackendKind::Llamacpp, &cpu16);
        assert_eq!(c.len(), 1);
        assert_eq!(default_choice(&[], None, &cpu16), 0);
    }
}
