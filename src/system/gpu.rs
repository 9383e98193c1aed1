//! `infernet gpu`: what this machine offers. GPUs through NVML (`nvml-wrapper`, loaded at run
//! time) with `lspci` as the fallback when the driver is missing; CPU/RAM through sysinfo;
//! interconnects (NVLink, xGMI, InfiniBand, EFA) from NVML and sysfs. The report is built from
//! plain NVML-shaped records, so it is tested with recorded data on machines without a GPU.
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One GPU as NVML reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub index: u32,
    pub name: String,
    pub uuid: Option<String>,
    pub pci_bus_id: Option<String>,
    pub memory_total: u64,
    pub memory_used: u64,
    pub utilization_gpu: Option<u32>,
    pub temperature_c: Option<u32>,
    pub power_usage_mw: Option<u32>,
    pub power_limit_mw: Option<u32>,
    /// Active NVLink links.
    pub nvlink_active: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NvmlInventory {
    pub driver_version: Option<String>,
    /// e.g. "12.4"
    pub cuda_version: Option<String>,
    pub devices: Vec<DeviceRecord>,
}

/// Reads every GPU through NVML; the error is the operator-facing reason.
pub fn read_nvml() -> Result<NvmlInventory, String> {
    use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
    let nvml = match nvml_wrapper::Nvml::init() {
        Ok(n) => n,
        Err(nvml_wrapper::error::NvmlError::LibloadingError(_))
        | Err(nvml_wrapper::error::NvmlError::LibraryNotFound) => {
            return Err(
                "NVIDIA's NVML library (libnvidia-ml.so.1, part of the driver) is not installed"
                    .into(),
            );
        }
        Err(nvml_wrapper::error::NvmlError::DriverNotLoaded) => {
            return Err("the NVIDIA driver is installed but not loaded (check `nvidia-smi`, `lsmod | grep nvidia`)".into());
        }
        Err(e) => return Err(format!("NVML could not start ({e})")),
    };
    let count = nvml
        .device_count()
        .map_err(|e| format!("NVML cannot count GPUs ({e})"))?;
    let mut devices = Vec::new();
    for i in 0..count {
        let d = match nvml.device_by_index(i) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(gpu = i, error = %e, "NVML device unavailable");
                continue;
            }
        };
        let mem = d.memory_info().ok();
        let mut links = 0;
        for l in 0..18 {
            match d.link_wrapper_for(l).is_active() {
                Ok(true) => links += 1,
                Ok(false) => {}
                Err(_) => break,
            }
        }
        devices.push(DeviceRecord {
            index: i,
            name: d.name().unwrap_or_else(|_| format!("GPU {i}")),
            uuid: d.uuid().ok(),
            pci_bus_id: d.pci_info().ok().map(|p| p.bus_id),
            memory_total: mem.as_ref().map(|m| m.total).unwrap_or(0),
            memory_used: mem.as_ref().map(|m| m.used).unwrap_or(0),
            utilization_gpu: d.utilization_rates().ok().map(|u| u.gpu),
            temperature_c: d.temperature(TemperatureSensor::Gpu).ok(),
            power_usage_mw: d.power_usage().ok(),
            power_limit_mw: d.enforced_power_limit().ok(),
            nvlink_active: links,
        });
    }
    Ok(NvmlInventory {
        driver_version: nvml.sys_driver_version().ok(),
        cuda_version: nvml
            .sys_cuda_driver_version()
            .ok()
            .map(|v| format!("{}.{}", v / 1000, (v % 1000) / 10)),
        devices,
    })
}

/// The control plane's coarse VRAM class (8/16/24/48 GiB boundaries).
pub fn vram_tier(bytes: u64) -> &'static str {
    let gib = bytes as f64 / (1u64 << 30) as f64;
    match gib {
        g if g <= 0.0 => "unknown",
        g if g < 8.0 => "<8gb",
        g if g < 16.0 => "8-16gb",
        g if g < 24.0 => "16-24gb",
        g if g < 48.0 => "24-48gb",
        _ => ">=48gb",
    }
}

/// A display controller `lspci` lists (no driver needed; no memory or use figures).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PciGpu {
    pub slot: String,
    pub vendor: String,
    pub description: String,
}

/// Parses plain `lspci` output: VGA, 3D and display controllers.
pub fn parse_lspci(text: &str) -> Vec<PciGpu> {
    text.lines()
        .filter_map(|l| {
            let (slot, rest) = l.split_once(' ')?;
            let (class, desc) = rest.split_once(": ")?;
            let c = class.to_ascii_lowercase();
            if !(c.contains("vga")
                || c.contains("3d controller")
                || c.contains("display controller"))
            {
                return None;
            }
            let d = desc.to_ascii_lowercase();
            let vendor = if d.contains("nvidia") {
                "nvidia"
            } else if d.contains("advanced micro devices")
                || d.contains("amd")
                || d.contains("ati ")
            {
                "amd"
            } else if d.contains("intel") {
                "intel"
            } else {
                "other"
            };
            Some(PciGpu {
                slot: slot.to_string(),
                vendor: vendor.into(),
                description: desc.to_string(),
            })
        })
        .collect()
}

// The shapes the control-plane specs carry (one definition, in the wire types).
pub use infernet_core::wire::specs::{Adapters, Interconnects, Link, Ports};

/// InfiniBand ports (`/sys/class/infiniband/*/ports/*/state` = "4: ACTIVE"), EFA adapters
/// (`efa_*` devices there) and AMD xGMI hives (`/sys/class/drm/card*/device/xgmi_hive_info`).
pub fn sysfs_interconnects(root: &Path) -> (Ports, Adapters, Link) {
    let mut ib = Ports::default();
    let mut efa = Adapters::default();
    if let Ok(devs) = std::fs::read_dir(root.join("sys/class/infiniband")) {
        for d in devs.flatten() {
            let name = d.file_name().to_string_lossy().into_owned();
            if name.starts_with("efa") {
                efa.available = true;
                efa.adapter_count += 1;
                continue;
            }
            ib.available = true;
            if let Ok(ports) = std::fs::read_dir(d.path().join("ports")) {
                for p in ports.flatten() {
                    let state = std::fs::read_to_string(p.path().join("state")).unwrap_or_default();
                    if state.contains("ACTIVE") {
                        ib.active_port_count += 1;
                    }
                }
            }
        }
    }
    let mut xgmi = Link::default();
    if let Ok(cards) = std::fs::read_dir(root.join("sys/class/drm")) {
        for c in cards.flatten() {
            if c.path().join("device/xgmi_hive_info").exists() {
                xgmi.available = true;
                xgmi.link_count += 1;
            }
        }
        if xgmi.available {
            xgmi.topology = Some(format!("{} GPUs in an xGMI hive", xgmi.link_count));
        }
    }
    (ib, efa, xgmi)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuReport {
    pub vendor: String,
    pub index: u32,
    pub model: String,
    pub vram_total: Option<u64>,
    pub vram_used: Option<u64>,
    pub vram_tier: String,
    pub utilization_pct: Option<u32>,
    pub temperature_c: Option<u32>,
    pub power_w: Option<f64>,
    pub power_limit_w: Option<f64>,
    pub uuid: Option<String>,
    pub pci_bus_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostInfo {
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub arch: String,
    pub cpu_vendor: Option<String>,
    pub cpu_model: String,
    pub logical_cores: usize,
    pub physical_cores: Option<usize>,
    pub ram_total: u64,
    pub ram_available: u64,
    pub load_avg: [f64; 3],
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub host: HostInfo,
    /// "nvml", "lspci" or "none".
    pub gpu_source: String,
    pub driver_version: Option<String>,
    pub cuda_version: Option<String>,
    pub gpus: Vec<GpuReport>,
    /// Why GPU figures are missing or partial.
    pub note: Option<String>,
    pub interconnects: Interconnects,
    /// Largest model that fits, by the fit rule (0.85 × VRAM, else 0.6 × RAM).
    pub model_fit_limit: u64,
    pub fit_rule: String,
}

fn cpu_vendor(vendor_id: &str, brand: &str) -> Option<String> {
    let v = format!("{vendor_id} {brand}").to_ascii_lowercase();
    let name = if v.contains("intel") {
        "intel"
    } else if v.contains("amd") {
        "amd"
    } else if v.contains("apple") {
        "apple"
    } else if v.contains("graviton") || v.contains("aws") {
        "aws"
    } else if v.contains("ampere") {
        "ampere"
    } else {
        return None;
    };
    Some(name.into())
}

pub fn host_info() -> HostInfo {
    let mut sys = sysinfo::System::new();
    sys.refresh_memory();
    sys.refresh_cpu_all();
    let cpus = sys.cpus();
    let (vendor_id, brand) = cpus
        .first()
        .map(|c| (c.vendor_id().to_string(), c.brand().trim().to_string()))
        .unwrap_or_default();
    let l = sysinfo::System::load_average();
    HostInfo {
        hostname: sysinfo::System::host_name().unwrap_or_default(),
        os: sysinfo::System::long_os_version().unwrap_or_else(|| std::env::consts::OS.into()),
        kernel: sysinfo::System::kernel_version().unwrap_or_default(),
        arch: std::env::consts::ARCH.into(),
        cpu_vendor: cpu_vendor(&vendor_id, &brand),
        cpu_model: brand,
        logical_cores: cpus.len(),
        physical_cores: sysinfo::System::physical_core_count(),
        ram_total: sys.total_memory(),
        ram_available: sys.available_memory(),
        load_avg: [l.one, l.five, l.fifteen],
    }
}

/// Builds the report from what was read: NVML when it answered, else `lspci` rows.
pub fn build(
    host: HostInfo,
    nvml: Result<NvmlInventory, String>,
    lspci: Result<Vec<PciGpu>, String>,
    sysfs: (Ports, Adapters, Link),
) -> Report {
    let (ib, efa, xgmi) = sysfs;
    let mut inter = Interconnects {
        xgmi,
        infiniband: ib,
        efa,
        ..Default::default()
    };
    let (source, driver, cuda, gpus, note) = match nvml {
        Ok(inv) => {
            let links: u32 = inv.devices.iter().map(|d| d.nvlink_active).sum();
            if links > 0 {
                let with = inv.devices.iter().filter(|d| d.nvlink_active > 0).count();
                inter.nvlink = Link {
                    available: true,
                    topology: Some(format!("{with} of {} GPUs linked", inv.devices.len())),
                    link_count: links,
                };
            }
            let gpus: Vec<GpuReport> = inv
                .devices
                .iter()
                .map(|d| GpuReport {
                    vendor: "nvidia".into(),
                    index: d.index,
                    model: d.name.chars().take(64).collect(),
                    vram_total: Some(d.memory_total),
                    vram_used: Some(d.memory_used),
                    vram_tier: vram_tier(d.memory_total).into(),
                    utilization_pct: d.utilization_gpu,
                    temperature_c: d.temperature_c,
                    power_w: d.power_usage_mw.map(|m| m as f64 / 1000.0),
                    power_limit_w: d.power_limit_mw.map(|m| m as f64 / 1000.0),
                    uuid: d.uuid.clone(),
                    pci_bus_id: d.pci_bus_id.clone(),
                })
                .collect();
            let note = gpus
                .is_empty()
                .then(|| "NVML answered but lists no GPU".to_string());
            ("nvml", inv.driver_version, inv.cuda_version, gpus, note)
        }
        Err(why) => match lspci {
            Ok(rows) if !rows.is_empty() => {
                let gpus = rows
                    .iter()
                    .enumerate()
                    .map(|(i, p)| GpuReport {
                        vendor: p.vendor.clone(),
                        index: i as u32,
                        model: p.description.chars().take(64).collect(),
                        vram_total: None,
                        vram_used: None,
                        vram_tier: "unknown".into(),
                        utilization_pct: None,
                        temperature_c: None,
                        power_w: None,
                        power_limit_w: None,
                        uuid: None,
                        pci_bus_id: Some(p.slot.clone()),
                    })
                    .collect();
                let nvidia = rows.iter().any(|p| p.vendor == "nvidia");
                let note = if nvidia {
                    format!(
                        "{why}. lspci sees the cards, so memory and use are unknown; install the NVIDIA driver (Debian: apt-get install nvidia-driver) for full figures"
                    )
                } else {
                    format!(
                        "{why}. lspci lists these display controllers; only NVIDIA GPUs are measured (through NVML)"
                    )
                };
                ("lspci", None, None, gpus, Some(note))
            }
            Ok(_) => (
                "none",
                None,
                None,
                Vec::new(),
                Some(format!(
                    "no GPU detected: {why}; lspci lists no display controller. CPU backends still work"
                )),
            ),
            Err(lspci_why) => (
                "none",
                None,
                None,
                Vec::new(),
                Some(format!(
                    "no GPU detected: {why}; {lspci_why}. CPU backends still work"
                )),
            ),
        },
    };
    inter.rdma_capable = inter.infiniband.active_port_count > 0 || inter.efa.available;
    let vram: u64 = gpus.iter().filter_map(|g| g.vram_total).sum();
    let mem = super::Memory {
        ram_bytes: host.ram_total,
        vram_bytes: (vram > 0).then_some(vram),
    };
    Report {
        model_fit_limit: mem.fit_limit_bytes(),
        fit_rule: mem.rule(),
        host,
        gpu_source: source.into(),
        driver_version: driver,
        cuda_version: cuda,
        gpus,
        note,
        interconnects: inter,
    }
}

/// The report for this machine.
pub fn probe() -> Report {
    let lspci = || -> Result<Vec<PciGpu>, String> {
        let out = std::process::Command::new("lspci")
            .output()
            .map_err(|_| "lspci is not installed (Debian: apt-get install pciutils)".to_string())?;
        if !out.status.success() {
            return Err("lspci failed".into());
        }
        Ok(parse_lspci(&String::from_utf8_lossy(&out.stdout)))
    };
    let nvml = read_nvml();
    let pci = if nvml.is_ok() {
        Ok(Vec::new())
    } else {
        lspci()
    };
    build(host_info(), nvml, pci, sysfs_interconnects(Path::new("/")))
}

fn gib(b: u64) -> String {
    format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
}

/// The human report.
pub fn render(r: &Report) -> String {
    let h = &r.host;
    let mut s = String::new();
    s.push_str(&format!(
        "host      {} · {} · {} · kernel {}\n",
        h.hostname, h.os, h.arch, h.kernel
    ));
    s.push_str(&format!(
        "cpu       {} ({} logical cores{})\n",
        if h.cpu_model.is_empty() {
            "unknown model"
        } else {
            &h.cpu_model
        },
        h.logical_cores,
        h.physical_cores
            .map(|p| format!(", {p} physical"))
            .unwrap_or_default()
    ));
    s.push_str(&format!(
        "ram       {} total, {} available · load {:.2} {:.2} {:.2}\n",
        gib(h.ram_total),
        gib(h.ram_available),
        h.load_avg[0],
        h.load_avg[1],
        h.load_avg[2]
    ));
    if r.gpus.is_empty() {
        s.push_str("gpus      none\n");
    } else {
        let via = match (&r.driver_version, &r.cuda_version) {
            (Some(d), Some(c)) => format!(" (NVML, driver {d}, CUDA {c})"),
            (Some(d), None) => format!(" (NVML, driver {d})"),
            _ => format!(" ({})", r.gpu_source),
        };
        s.push_str(&format!("gpus      {}{via}\n", r.gpus.len()));
        for g in &r.gpus {
            let mut line = format!("  [{}:{}] {}", g.vendor, g.index, g.model);
            if let Some(t) = g.vram_total {
                line.push_str(&format!(" — {} ({})", gib(t), g.vram_tier));
            }
            let mut live = Vec::new();
            if let Some(u) = g.utilization_pct {
                live.push(format!("{u}%"));
            }
            if let (Some(used), Some(total)) = (g.vram_used, g.vram_total) {
                live.push(format!("{} / {} used", gib(used), gib(total)));
            }
            if let Some(t) = g.temperature_c {
                live.push(format!("{t}°C"));
            }
            if let Some(p) = g.power_w {
                live.push(match g.power_limit_w {
                    Some(l) => format!("{p:.0} / {l:.0} W"),
                    None => format!("{p:.0} W"),
                });
            }
            if !live.is_empty() {
                line.push_str(&format!(" ({})", live.join(", ")));
            }
            s.push_str(&line);
            s.push('\n');
        }
    }
    if let Some(n) = &r.note {
        s.push_str(&format!("note      {n}\n"));
    }
    let i = &r.interconnects;
    let mut links = Vec::new();
    if i.nvlink.available {
        links.push(format!(
            "NVLink {} links{}",
            i.nvlink.link_count,
            i.nvlink
                .topology
                .as_ref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default()
        ));
    }
    if i.xgmi.available {
        links.push(format!(
            "xGMI {}",
            i.xgmi.topology.clone().unwrap_or_default()
        ));
    }
    if i.infiniband.available {
        links.push(format!(
            "InfiniBand {} active ports",
            i.infiniband.active_port_count
        ));
    }
    if i.efa.available {
        links.push(format!("EFA {} adapters", i.efa.adapter_count));
    }
    s.push_str(&format!(
        "links     {}\n",
        if links.is_empty() {
            "none (PCIe only)".into()
        } else {
            links.join(", ")
        }
    ));
    s.push_str(&format!(
        "fit       models up to {:.1} GB ({})\n",
        r.model_fit_limit as f64 / 1e9,
        r.fit_rule
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostInfo {
        HostInfo {
            hostname: "gpu-box".into(),
            os: "Linux 12 (Debian)".into(),
            kernel: "6.1.0".into(),
            arch: "x86_64".into(),
            cpu_vendor: Some("amd".into()),
            cpu_model: "AMD EPYC 9454".into(),
            logical_cores: 96,
            physical_cores: Some(48),
            ram_total: 1_000_000_000_000,
            ram_available: 900_000_000_000,
            load_avg: [1.0, 0.5, 0.25],
        }
    }

    fn recorded(name: &str) -> NvmlInventory {
        let p = format!("{}/tests/fixtures/gpu/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    #[test]
    fn recorded_dgx_h100_reports_tiers_nvlink_and_fit() {
        let r = build(
            host(),
            Ok(recorded("nvml-dgx-h100.json")),
            Ok(Vec::new()),
            Default::default(),
        );
        assert_eq!(r.gpu_source, "nvml");
        assert_eq!(r.gpus.len(), 8);
        assert!(r.gpus.iter().all(|g| g.vram_tier == ">=48gb"));
        assert_eq!(r.gpus[1].power_w, Some(612.45));
        assert!(r.interconnects.nvlink.available);
        assert_eq!(r.interconnects.nvlink.link_count, 144);
        assert_eq!(r.model_fit_limit, (8.0 * 85520809984.0 * 0.85) as u64);
        let text = render(&r);
        assert!(
            text.contains("gpus      8 (NVML, driver 550.54.15, CUDA 12.4)"),
            "{text}"
        );
        assert!(text.contains("[nvidia:1] NVIDIA H100 80GB HBM3 — 79.6 GiB (>=48gb) (97%, 66.0 GiB / 79.6 GiB used, 64°C, 612 / 700 W)"), "{text}");
        assert!(
            text.contains("NVLink 144 links (8 of 8 GPUs linked)"),
            "{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["interconnects"]["nvlink"]["link_count"], 144);
        assert_eq!(
            json["gpus"][0]["uuid"],
            "GPU-5e8a0c4b-1d2f-4a6b-9c3e-000000000000"
        );
    }

    #[test]
    fn recorded_single_consumer_gpu_has_no_links() {
        let r = build(
            host(),
            Ok(recorded("nvml-rtx4090.json")),
            Ok(Vec::new()),
            Default::default(),
        );
        // 24,564 MiB is under the 24 GiB boundary, as the control plane classifies it.
        assert_eq!(r.gpus[0].vram_tier, "16-24gb");
        assert!(!r.interconnects.nvlink.available);
        assert!(render(&r).contains("links     none (PCIe only)"));
    }

    #[test]
    fn without_nvml_lspci_names_the_card_and_says_why_figures_are_missing() {
        let pci = parse_lspci(include_str!(
            "../../tests/fixtures/gpu/lspci-nvidia-no-driver.txt"
        ));
        assert_eq!(pci.len(), 2);
        assert_eq!(pci[1].vendor, "nvidia");
        assert_eq!(pci[1].slot, "00:05.0");
        let r = build(
            host(),
            Err("NVIDIA's NVML library is not installed".into()),
            Ok(pci),
            Default::default(),
        );
        assert_eq!(r.gpu_source, "lspci");
        assert_eq!(r.gpus[1].vram_tier, "unknown");
        let note = r.note.clone().unwrap();
        assert!(note.contains("install the NVIDIA driver"), "{note}");
        assert_eq!(r.fit_rule, "0.6 × 1000.0 GB RAM");
        let none = build(
            host(),
            Err("no driver".into()),
            Err("lspci is not installed (Debian: apt-get install pciutils)".into()),
            Default::default(),
        );
        assert_eq!(none.gpu_source, "none");
        assert!(none.note.unwrap().contains("apt-get install pciutils"));
    }

    #[test]
    fn tiers_follow_the_control_plane_boundaries() {
        let g = 1u64 << 30;
        assert_eq!(vram_tier(0), "unknown");
        assert_eq!(vram_tier(6 * g), "<8gb");
        assert_eq!(vram_tier(8 * g), "8-16gb");
        assert_eq!(vram_tier(16 * g), "16-24gb");
        assert_eq!(vram_tier(24 * g), "24-48gb");
        assert_eq!(vram_tier(48 * g), ">=48gb");
    }

    #[test]
    fn sysfs_infiniband_efa_and_xgmi() {
        let root = tempfile::tempdir().unwrap();
        let ib = root.path().join("sys/class/infiniband/mlx5_0/ports");
        for (port, state) in [("1", "4: ACTIVE"), ("2", "1: DOWN")] {
            std::fs::create_dir_all(ib.join(port)).unwrap();
            std::fs::write(ib.join(port).join("state"), state).unwrap();
        }
        std::fs::create_dir_all(root.path().join("sys/class/infiniband/efa_0")).unwrap();
        for c in ["card0", "card1"] {
            let d = root
                .path()
                .join("sys/class/drm")
                .join(c)
                .join("device/xgmi_hive_info");
            std::fs::create_dir_all(d).unwrap();
        }
        let (ib, efa, xgmi) = sysfs_interconnects(root.path());
        assert_eq!((ib.available, ib.active_port_count), (true, 1));
        assert_eq!((efa.available, efa.adapter_count), (true, 1));
        assert_eq!((xgmi.available, xgmi.link_count), (true, 2));
        let r = build(host(), Err("x".into()), Ok(Vec::new()), (ib, efa, xgmi));
        assert!(r.interconnects.rdma_capable);
    }
}
