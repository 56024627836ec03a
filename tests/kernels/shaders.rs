//! Every shader parses and validates with naga: no GPU needed.

use std::collections::HashSet;

use facenet_gpu::shaders::{FILES, MODULES, module_source};

#[test]
fn every_module_validates() {
    for (module, _) in MODULES {
        let source = module_source(module);
        let parsed = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{module}: {}", e.emit_to_string(&source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&parsed)
        .unwrap_or_else(|e| panic!("{module}: {}", e.emit_to_string(&source)));
    }
}

#[test]
fn every_file_in_shaders_is_embedded_and_used() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let on_disk: HashSet<String> = std::fs::read_dir(&dir)
        .expect("shaders/ exists")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".wgsl"))
        .collect();
    let embedded: HashSet<String> = FILES.iter().map(|(name, _)| name.to_string()).collect();
    assert_eq!(on_disk, embedded, "shaders/ and shaders::FILES disagree");

    let used: HashSet<&str> = MODULES
        .iter()
        .flat_map(|(_, files)| files.iter().copied())
        .collect();
    for name in &embedded {
        assert!(
            used.contains(name.as_str()),
            "{name} is in no module of shaders::MODULES"
        );
    }
    for (name, text) in FILES {
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(&on_disk, text, "{name} changed on disk since the build");
    }
}
