//! What this machine can hold: RAM (sysinfo) and GPU memory, for the model fit rule.
pub mod gpu;
pub mod sample;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Memory {
    pub ram_bytes: u64,
    /// Summed over GPUs; `None` when no NVIDIA GPU is visible.
    pub vram_bytes: Option<u64>,
}

impl Memory {
    pub fn probe() -> Self {
        let mut sys = sysinfo::System::new();
        sys.refresh_memory();
        Self {
            ram_bytes: sys.total_memory(),
            vram_bytes: nvidia_vram_bytes(),
        }
    }

    /// The largest model that fits: 0.85 × summed VRAM on a GPU box, else 0.6 × RAM
    /// (the rule of the Infernet Protocol CLI).
    pub fn fit_limit_bytes(&self) -> u64 {
        match self.vram_bytes {
            Some(v) if v > 0 => (v as f64 * 0.85) as u64,
            _ => (self.ram_bytes as f64 * 0.6) as u64,
        }
    }

    pub fn rule(&self) -> String {
        match self.vram_bytes {
            Some(v) if v > 0 => format!("0.85 × {} GPU memory", gb(v)),
            _ => format!("0.6 × {} RAM", gb(self.ram_bytes)),
        }
    }

    /// Unknown sizes pass, as in the reference rule.
    pub fn fits(&self, size: Option<u64>) -> Option<bool> {
        size.map(|s| s <= self.fit_limit_bytes())
    }
}

pub fn gb(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

/// Total GPU memory from `nvidia-smi` when it is installed (NVML support comes with `infernet gpu`).
fn nvidia_vram_bytes() -> Option<u64> {
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=memory.total", "--format=csv,noheader,nounits"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mib: u64 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .sum();
    (mib > 0).then_some(mib * 1024 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_rule_uses_vram_on_gpu_boxes_and_ram_otherwise() {
        let cpu = Memory {
            ram_bytes: 10_000_000_000,
            vram_bytes: None,
        };
        assert_eq!(cpu.fit_limit_bytes(), 6_000_000_000);
        assert_eq!(cpu.fits(Some(6_000_000_000)), Some(true));
        assert_eq!(cpu.fits(Some(6_000_000_001)), Some(false));
        assert_eq!(cpu.fits(None), None);
        let gpu = Memory {
            ram_bytes: 10_000_000_000,
            vram_bytes: Some(80_000_000_000),
        };
        assert_eq!(gpu.fit_limit_bytes(), 68_000_000_000);
        assert!(gpu.rule().starts_with("0.85 × 80.0 GB"));
    }
}
