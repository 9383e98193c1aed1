//! What the node tells the control plane about itself: served models, hardware, load.

use super::*;

/// The hardware part of the specs, coarsened (VRAM tiers, GB to one decimal).
pub(super) fn hardware_specs(specs: &mut NodeSpecs, r: &crate::system::gpu::Report) {
    let gpus: Vec<wspecs::Gpu> = r
        .gpus
        .iter()
        .map(|g| wspecs::Gpu {
            vendor: g.vendor.to_ascii_lowercase(),
            vram_tier: g.vram_tier.clone(),
            model: g.model.clone(),
        })
        .collect();
    let vram_total: u64 = r.gpus.iter().filter_map(|g| g.vram_total).sum();
    let vram_used: u64 = r.gpus.iter().filter_map(|g| g.vram_used).sum();
    let gb = |b: u64| (b as f64 / 1e9 * 10.0).round() / 10.0;
    specs.cpu = Some(wspecs::Cpu {
        vendor: r.host.cpu_vendor.clone().unwrap_or_else(|| "other".into()),
        arch: r.host.arch.clone(),
        cores: r.host.logical_cores as u64,
        groups: 1,
        ram_gb: (r.host.ram_total as f64 / 1e9).round(),
    });
    specs.gpu_count = Some(gpus.len() as u64);
    specs.gpus = Some(gpus);
    specs.interconnects = Some(r.interconnects.clone());
    specs.load.ram = Some(wspecs::Memory {
        total_gb: gb(r.host.ram_total),
        free_gb: gb(r.host.ram_available),
    });
    specs.load.vram = Some(wspecs::Memory {
        total_gb: gb(vram_total),
        free_gb: gb(vram_total.saturating_sub(vram_used)),
    });
    // With a probe the field is sent, null when no GPU reported its utilisation.
    specs.load.gpu_utilization_max = Some(r.gpus.iter().filter_map(|g| g.utilization_pct).max());
}

impl Agent {
    pub(super) async fn refresh_served(&self, force: bool) -> Served {
        {
            let s = self.served.lock().unwrap_or_else(|e| e.into_inner());
            if !force && s.at.is_some_and(|t| t.elapsed() < Duration::from_secs(60)) {
                return s.clone();
            }
        }
        let by_model = crate::backend::served::list(&self.backends).await;
        let served = Served {
            by_model,
            at: Some(Instant::now()),
        };
        let changed = {
            let mut s = self.served.lock().unwrap_or_else(|e| e.into_inner());
            let changed = s.names() != served.names();
            *s = served.clone();
            changed
        };
        if changed {
            self.status.update(|s| s.served_models = served.names());
        }
        served
    }

    pub(super) async fn gpu_report(&self) -> Option<crate::system::gpu::Report> {
        if let Some((t, r)) = self.gpu.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && t.elapsed() < Duration::from_secs(300)
        {
            return Some(r.clone());
        }
        let r = tokio::task::spawn_blocking(crate::system::gpu::probe)
            .await
            .ok()?;
        *self.gpu.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), r.clone()));
        Some(r)
    }

    pub(super) async fn specs(&self, force_models: bool) -> NodeSpecs {
        let served = self.refresh_served(force_models).await;
        let active = self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        let mut specs = NodeSpecs::default();
        if let Some(r) = self.gpu_report().await {
            hardware_specs(&mut specs, &r);
        }
        let load = sysinfo::System::load_average();
        specs.load.active_jobs = active as u64;
        specs.load.concurrency_cap = self.cfg.concurrency_cap;
        specs.load.load_avg_1m = load.one;
        specs.load.measured_at = crate::backend::now_rfc3339();
        specs.served_models = served.names();
        specs.cli_version = Some(env!("CARGO_PKG_VERSION").to_string());
        let bench = self.bench.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if !bench.is_empty() {
            specs.bench = Some(wspecs::Bench {
                tokens_per_second_avg: bench.iter().sum::<f64>() / bench.len() as f64,
                samples: bench.len() as u64,
            });
        }
        specs
    }
}
