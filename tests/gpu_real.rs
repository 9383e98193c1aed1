//! Checks that need a real NVIDIA GPU and driver. They are ignored by default (no GPU on the CI
//! machines); run them on a GPU box with `cargo test --test gpu_real -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

#[test]
#[ignore = "needs an NVIDIA GPU with its driver (NVML)"]
fn nvml_lists_every_gpu_with_memory_and_a_tier() {
    let inv = infernet::system::gpu::read_nvml().expect("NVML answers on a GPU box");
    assert!(!inv.devices.is_empty(), "NVML lists no GPU");
    assert!(inv.driver_version.is_some());
    for d in &inv.devices {
        assert!(d.memory_total > 0, "{d:?}");
        assert_ne!(infernet::system::gpu::vram_tier(d.memory_total), "unknown");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_infernet"))
        .args(["gpu", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["gpu_source"], "nvml");
    assert_eq!(v["gpus"].as_array().unwrap().len(), inv.devices.len());
}
