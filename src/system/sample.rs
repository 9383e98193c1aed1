//! Live host and GPU samples for the TUI and `status`: CPU, RAM and load (sysinfo), and per
//! GPU utilisation, memory, temperature and power (NVML through `nvml-wrapper`, loaded at run
//! time, so machines without an NVIDIA driver run fine and say why no GPU is listed).
use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostSample {
    pub cpu_pct: f32,
    pub cores: usize,
    /// Each logical core's use, percent.
    pub per_core: Vec<f32>,
    pub ram_used: u64,
    pub ram_total: u64,
    pub load: [f64; 3],
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GpuSample {
    pub index: u32,
    pub name: String,
    pub util_pct: u32,
    pub mem_used: u64,
    pub mem_total: u64,
    pub temp_c: Option<u32>,
    pub power_w: Option<f64>,
    pub power_limit_w: Option<f64>,
}

/// GPU sampling behind a capability trait; `NvmlProbe` is the NVIDIA implementation.
pub trait GpuProbe: Send {
    fn sample(&mut self) -> Result<Vec<GpuSample>, String>;
}

pub struct NvmlProbe {
    nvml: Nvml,
}

impl NvmlProbe {
    /// Loads NVML. The error is the sentence the operator sees instead of GPU rows.
    pub fn open() -> Result<Self, String> {
        match Nvml::init() {
            Ok(nvml) => Ok(NvmlProbe { nvml }),
            Err(nvml_wrapper::error::NvmlError::LibloadingError(_))
            | Err(nvml_wrapper::error::NvmlError::LibraryNotFound) => Err(
                "no GPU detected: NVIDIA's NVML library (libnvidia-ml.so.1, part of the driver) is not installed; CPU backends still work"
                    .into(),
            ),
            Err(nvml_wrapper::error::NvmlError::DriverNotLoaded) => Err(
                "no GPU detected: the NVIDIA driver is installed but not loaded (check `nvidia-smi`)".into(),
            ),
            Err(e) => Err(format!("no GPU detected: NVML could not start ({e})")),
        }
    }
}

impl GpuProbe for NvmlProbe {
    fn sample(&mut self) -> Result<Vec<GpuSample>, String> {
        let n = self
            .nvml
            .device_count()
            .map_err(|e| format!("NVML: cannot count GPUs ({e})"))?;
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let d = match self.nvml.device_by_index(i) {
                Ok(d) => d,
                Err(e) => {
                    tracing::debug!(gpu = i, error = %e, "NVML device unavailable");
                    continue;
                }
            };
            let mem = d.memory_info().ok();
            out.push(GpuSample {
                index: i,
                name: d.name().unwrap_or_else(|_| format!("GPU {i}")),
                util_pct: d.utilization_rates().map(|u| u.gpu).unwrap_or(0),
                mem_used: mem.as_ref().map(|m| m.used).unwrap_or(0),
                mem_total: mem.as_ref().map(|m| m.total).unwrap_or(0),
                temp_c: d.temperature(TemperatureSensor::Gpu).ok(),
                power_w: d.power_usage().ok().map(|mw| mw as f64 / 1000.0),
                power_limit_w: d.enforced_power_limit().ok().map(|mw| mw as f64 / 1000.0),
            });
        }
        Ok(out)
    }
}

/// CPU, RAM and load through sysinfo. CPU use needs two refreshes apart in time: the first
/// sample after `new` reads 0.
pub struct HostProbe {
    sys: sysinfo::System,
}

impl Default for HostProbe {
    fn default() -> Self {
        Self::new()
    }
}

impl HostProbe {
    pub fn new() -> Self {
        let mut sys = sysinfo::System::new();
        sys.refresh_cpu_usage();
        sys.refresh_memory();
        HostProbe { sys }
    }

    pub fn sample(&mut self) -> HostSample {
        self.sys.refresh_cpu_usage();
        self.sys.refresh_memory();
        let l = sysinfo::System::load_average();
        HostSample {
            cpu_pct: self.sys.global_cpu_usage(),
            cores: self.sys.cpus().len(),
            per_core: self.sys.cpus().iter().map(|c| c.cpu_usage()).collect(),
            ram_used: self.sys.used_memory(),
            ram_total: self.sys.total_memory(),
            load: [l.one, l.five, l.fifteen],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_sample_reports_this_machine() {
        let mut p = HostProbe::new();
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let s = p.sample();
        assert!(s.cores >= 1);
        assert!(s.ram_total > 0 && s.ram_used <= s.ram_total);
        assert!((0.0..=100.0).contains(&s.cpu_pct));
    }

    #[test]
    fn without_nvml_the_reason_is_a_sentence() {
        // On machines with an NVIDIA driver this samples real GPUs instead.
        match NvmlProbe::open() {
            Ok(mut p) => {
                let gpus = p.sample().expect("NVML sample");
                assert!(gpus.iter().all(|g| g.mem_total >= g.mem_used));
            }
            Err(e) => assert!(e.starts_with("no GPU detected"), "{e}"),
        }
    }
}
