//! deploy/ (issue 13, item 5): the Kubernetes manifests carry what the
//! DaemonSet needs to run `fw daemon` on every node (no schema checker
//! such as kubeconform is available here, so the fields are checked one
//! by one), and the Containerfile is the image `cargo xtask image --check`
//! builds and runs.

// Cargo gives every test all of the package's dependencies; this one
// does without these (the lab library or other tests use them).
use anyhow as _;
use libc as _;

use firewall::serde_norway::{self, Value};
use integration_tests::workspace_root;

fn docs() -> Vec<Value> {
    let text = std::fs::read_to_string(workspace_root().join("deploy/kubernetes/fw.yaml")).unwrap();
    text.split("\n---\n")
        .map(|d| serde_norway::from_str::<Value>(d).unwrap())
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} in deploy/kubernetes/fw.yaml"))
}

#[test]
fn the_daemonset_runs_fw_daemon_on_the_host_network_with_its_rules_and_pins() {
    let docs = docs();
    let ds = kind(&docs, "DaemonSet");
    assert_eq!(ds["apiVersion"].as_str(), Some("apps/v1"));
    let spec = &ds["spec"]["template"]["spec"];
    assert_eq!(spec["hostNetwork"].as_bool(), Some(true));
    let labels = &ds["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&ds["spec"]["selector"]["matchLabels"], labels);
    let c = &spec["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "daemon",
            "--rules",
            "/etc/fw/rules.yaml",
            "--metrics-addr",
            "0.0.0.0:9641"
        ]
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["privileged"].as_bool(), Some(false));
    let caps: Vec<&str> = sc["capabilities"]["add"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(caps, ["BPF", "PERFMON", "NET_ADMIN"]);
    assert_eq!(sc["capabilities"]["drop"][0].as_str(), Some("ALL"));
    // Each mount has its volume: the rules from the ConfigMap, the host's
    // bpffs where fw looks for it, fw's state directory.
    let mounts = c["volumeMounts"].as_sequence().unwrap();
    let volume = |name: &str| {
        spec["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|v| v["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no volume {name}"))
    };
    let path_of = |name: &str| {
        mounts
            .iter()
            .find(|m| m["name"].as_str() == Some(name))
            .and_then(|m| m["mountPath"].as_str())
            .unwrap_or_else(|| panic!("no mount {name}"))
    };
    assert_eq!(path_of("rules"), "/etc/fw");
    assert_eq!(path_of("bpffs"), "/run/fw-bpffs");
    assert_eq!(path_of("state"), "/run/fw");
    assert_eq!(
        volume("bpffs")["hostPath"]["path"].as_str(),
        Some("/sys/fs/bpf")
    );
    assert_eq!(
        volume("state")["hostPath"]["path"].as_str(),
        Some("/run/fw")
    );
    let cm_name = volume("rules")["configMap"]["name"].as_str().unwrap();
    // The ConfigMap's rules.yaml is a ruleset fw accepts.
    let cm = kind(&docs, "ConfigMap");
    assert_eq!(cm["metadata"]["name"].as_str(), Some(cm_name));
    let rules = cm["data"]["rules.yaml"].as_str().unwrap();
    let file = std::env::temp_dir().join(format!("fw-{}-cm-rules.yaml", std::process::id()));
    std::fs::write(&file, rules).unwrap();
    let out = std::process::Command::new(integration_tests::fw_bin())
        .args(["apply", "--check"])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The Service selects the pods and names their metrics port for
    // Prometheus.
    let svc = kind(&docs, "Service");
    for (k, v) in &svc["spec"]["selector"].as_mapping().unwrap().clone() {
        assert_eq!(&labels[k.as_str().unwrap()], v);
    }
    assert_eq!(svc["spec"]["ports"][0]["port"].as_u64(), Some(9641));
    assert_eq!(c["ports"][0]["containerPort"].as_u64(), Some(9641));
    let ann = &svc["metadata"]["annotations"];
    assert_eq!(ann["prometheus.io/scrape"].as_str(), Some("true"));
    assert_eq!(ann["prometheus.io/port"].as_str(), Some("9641"));
    for d in &docs {
        if d["kind"].as_str() != Some("Namespace") {
            assert_eq!(d["metadata"]["namespace"].as_str(), Some("fw"), "{d:?}");
        }
    }
}

#[test]
fn the_containerfile_starts_from_scratch_and_runs_the_daemon() {
    let text = std::fs::read_to_string(workspace_root().join("deploy/Containerfile")).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(lines[0], "FROM scratch");
    assert!(lines.contains(&"ENTRYPOINT [\"/usr/sbin/fw\"]"), "{text}");
    assert!(
        lines.contains(
            &"CMD [\"daemon\", \"--rules\", \"/etc/fw/rules.yaml\", \"--metrics-addr\", \"0.0.0.0:9641\"]"
        ),
        "{text}"
    );
}
