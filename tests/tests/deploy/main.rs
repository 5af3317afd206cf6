//! The deployment manifests keep their security and lifecycle properties: every
//! overlay is rendered with `kubectl kustomize` and checked here, so a later change
//! cannot silently drop a probe, a limit or a policy. (Schema validation against
//! Kubernetes 1.30 runs in `.ci/run`.) Without kubectl these tests skip, unless
//! `AIMAQ_REQUIRE_KUBECTL=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_yaml_ng::Value;

mod witnesses;

use witnesses::check_witnesses;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The rendered overlay's objects, or `None` when kubectl is not installed.
fn render(overlay: &str) -> Option<Vec<Value>> {
    let required = std::env::var("AIMAQ_REQUIRE_KUBECTL").is_ok_and(|v| v == "1");
    let dir = repo().join("deploy/k8s/overlays").join(overlay);
    let output = match Command::new("kubectl").arg("kustomize").arg(&dir).output() {
        Ok(output) => output,
        Err(error) if !required => {
            eprintln!("SKIPPED: manifest checks: kubectl is not available ({error})");
            return None;
        }
        Err(error) => panic!("kubectl is required (AIMAQ_REQUIRE_KUBECTL=1): {error}"),
    };
    assert!(
        output.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    Some(
        serde_yaml_ng::Deserializer::from_str(&text)
            .map(|document| Value::deserialize(document).unwrap())
            .filter(|value| !value.is_null())
            .collect(),
    )
}

fn kind(object: &Value) -> &str {
    object["kind"].as_str().unwrap_or_default()
}

fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

fn of_kind<'a>(objects: &'a [Value], wanted: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| kind(o) == wanted).collect()
}

/// The pod template of a workload.
fn pod(object: &Value) -> &Value {
    &object["spec"]["template"]["spec"]
}

const SERVERS: [&str; 4] = ["gateway", "governance", "budget", "grants"];
const BACKENDS: [&str; 3] = ["governance", "budget", "grants"];

/// Every connection of ours is mutual TLS: URLs are `https://` and every
/// server requires client certificates.
fn check_tls_settings(objects: &[Value]) {
    let config = objects
        .iter()
        .find(|o| kind(o) == "ConfigMap" && name(o).starts_with("aimaq-config"))
        .expect("the servers' ConfigMap");
    let data = &config["data"];
    for url in ["AIMAQ_GOVERNANCE_URL", "AIMAQ_OTLP_ENDPOINT"] {
        let value = data[url].as_str().unwrap_or_default();
        assert!(value.starts_with("https://"), "{url} = {value:?}");
    }
    for setting in [
        "AIMAQ_TLS_CERT",
        "AIMAQ_TLS_KEY",
        "AIMAQ_TLS_CA",
        "AIMAQ_TLS_CLIENT_CA",
    ] {
        assert!(
            data[setting].as_str().is_some_and(|v| !v.is_empty()),
            "{setting} unset"
        );
    }
    assert!(data["AIMAQ_PLAINTEXT"].is_null(), "plaintext in a cluster");
}

fn check_common(objects: &[Value]) {
    check_tls_settings(objects);
    let workloads: Vec<&Value> = objects
        .iter()
        .filter(|o| matches!(kind(o), "Deployment" | "StatefulSet" | "Job"))
        .collect();
    assert!(workloads.len() >= 8, "workloads: {}", workloads.len());
    for workload in &workloads {
        let label = format!("{} {}", kind(workload), name(workload));
        let pod = pod(workload);
        assert_eq!(
            pod["securityContext"]["runAsNonRoot"],
            Value::Bool(true),
            "{label}"
        );
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"].as_str(),
            Some("RuntimeDefault"),
            "{label}"
        );
        assert_eq!(
            pod["automountServiceAccountToken"],
            Value::Bool(false),
            "{label}"
        );
        let containers = pod["containers"].as_sequence().unwrap();
        for container in containers {
            let label = format!("{label} container {}", container["name"].as_str().unwrap());
            let security = &container["securityContext"];
            assert_eq!(
                security["readOnlyRootFilesystem"],
                Value::Bool(true),
                "{label}"
            );
            assert_eq!(
                security["allowPrivilegeEscalation"],
                Value::Bool(false),
                "{label}"
            );
            assert_eq!(security["runAsNonRoot"], Value::Bool(true), "{label}");
            assert!(
                security["capabilities"]["drop"]
                    .as_sequence()
                    .is_some_and(|drop| drop.iter().any(|c| c.as_str() == Some("ALL"))),
                "{label}: capabilities not dropped"
            );
            for bound in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        !container["resources"][bound][resource].is_null(),
                        "{label}: no {bound}.{resource}"
                    );
                }
            }
            if kind(workload) != "Job" {
                for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
                    assert!(!container[probe].is_null(), "{label}: no {probe}");
                }
            }
        }
    }

    for service_account in of_kind(objects, "ServiceAccount") {
        assert_eq!(
            service_account["automountServiceAccountToken"],
            Value::Bool(false),
            "{}",
            name(service_account)
        );
    }

    for server in SERVERS {
        let deployment = objects
            .iter()
            .find(|o| kind(o) == "Deployment" && name(o) == server)
            .unwrap_or_else(|| panic!("no Deployment {server}"));
        let pod = pod(deployment);
        let container = &pod["containers"][0];
        // The kubelet's gRPC probe cannot speak TLS: the image's probe does.
        let probe_command = |probe: &str| -> Vec<String> {
            container[probe]["exec"]["command"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{server}: {probe} is not the image's probe"))
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        };
        for probe in ["startupProbe", "livenessProbe"] {
            assert_eq!(
                probe_command(probe),
                ["/usr/local/bin/aimaq-probe", "--answering"],
                "{server}: {probe} must not restart a server whose database is away"
            );
        }
        let readiness = probe_command("readinessProbe");
        assert_eq!(readiness[0], "/usr/local/bin/aimaq-probe", "{server}");
        assert_eq!(
            readiness[1], "--service",
            "{server}: readiness asks about its own service"
        );
        let tls_secret = pod["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|v| v["name"].as_str() == Some("tls"))
            .unwrap_or_else(|| panic!("{server}: no certificate mounted"));
        assert_eq!(
            tls_secret["secret"]["secretName"].as_str(),
            Some(format!("aimaq-{server}-tls").as_str())
        );
        let certificate = objects
            .iter()
            .find(|o| kind(o) == "Certificate" && name(o) == server)
            .unwrap_or_else(|| panic!("no Certificate for {server}"));
        let dns_names: Vec<&str> = certificate["spec"]["dnsNames"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(dns_names.contains(&server), "{server}: {dns_names:?}");
        assert!(
            dns_names.contains(&"localhost"),
            "{server}: the probe calls localhost"
        );
        assert!(
            !container["lifecycle"]["preStop"].is_null(),
            "{server}: no preStop pause"
        );
        // preStop (5 s) + NOT_SERVING delay + drain must fit in the grace period.
        let grace = pod["terminationGracePeriodSeconds"].as_i64().unwrap();
        assert!(
            grace > 30,
            "{server}: terminationGracePeriodSeconds {grace}"
        );
        for kind_wanted in ["HorizontalPodAutoscaler", "PodDisruptionBudget"] {
            assert!(
                objects
                    .iter()
                    .any(|o| kind(o) == kind_wanted && name(o) == server),
                "{server}: no {kind_wanted}"
            );
        }
    }

    for backend in BACKENDS {
        let service = objects
            .iter()
            .find(|o| kind(o) == "Service" && name(o) == backend)
            .unwrap();
        assert_eq!(
            service["spec"]["clusterIP"].as_str(),
            Some("None"),
            "{backend} is headless"
        );
        let job = objects
            .iter()
            .find(|o| kind(o) == "Job" && name(o) == format!("{backend}-migrate"))
            .unwrap_or_else(|| panic!("no migration Job for {backend}"));
        let command: Vec<&str> = pod(job)["containers"][0]["command"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(command.ends_with(&["--migrate", "only"]), "{command:?}");
    }

    let policies = of_kind(objects, "NetworkPolicy");
    let deny = policies
        .iter()
        .find(|p| name(p) == "default-deny")
        .expect("a default-deny NetworkPolicy");
    assert_eq!(
        deny["spec"]["podSelector"],
        serde_yaml_ng::from_str::<Value>("{}").unwrap()
    );
    assert_eq!(deny["spec"]["policyTypes"].as_sequence().unwrap().len(), 2);
    for wanted in [
        "gateway-ingress",
        "backends-ingress",
        "aimaq-egress",
        "allow-dns",
    ] {
        assert!(
            policies.iter().any(|p| name(p) == wanted),
            "no NetworkPolicy {wanted}"
        );
    }
    // Only the gateway accepts traffic from outside: every other ingress rule names
    // its peers.
    for policy in &policies {
        if name(policy) == "gateway-ingress" {
            continue;
        }
        for rule in policy["spec"]["ingress"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            assert!(!rule["from"].is_null(), "{} admits anyone", name(policy));
            for peer in rule["from"].as_sequence().unwrap() {
                assert!(
                    peer["ipBlock"].is_null(),
                    "{} admits an address block",
                    name(policy)
                );
                assert!(
                    peer["namespaceSelector"].is_null(),
                    "{} admits other namespaces",
                    name(policy)
                );
            }
        }
    }
}

#[test]
fn dev_overlay_is_secure_and_complete() {
    let Some(objects) = render("dev") else { return };
    check_common(&objects);
    let postgres = objects
        .iter()
        .find(|o| kind(o) == "StatefulSet" && name(o) == "postgres")
        .expect("an in-cluster PostgreSQL");
    assert!(!postgres["spec"]["volumeClaimTemplates"].is_null());
    for deployment in of_kind(&objects, "Deployment") {
        assert_eq!(
            deployment["spec"]["replicas"].as_i64(),
            Some(1),
            "{}",
            name(deployment)
        );
    }
    // Database URLs come from Secrets, and no Secret carries a password.
    for secret in of_kind(&objects, "Secret") {
        let text = serde_yaml_ng::to_string(secret).unwrap();
        assert!(
            !text.to_lowercase().contains("password"),
            "{}",
            name(secret)
        );
    }
}

#[test]
fn prod_overlay_is_secure_and_spread() {
    let Some(objects) = render("prod") else {
        return;
    };
    check_common(&objects);
    let stateful: Vec<&str> = of_kind(&objects, "StatefulSet")
        .into_iter()
        .map(name)
        .collect();
    assert_eq!(
        stateful,
        ["nats"],
        "prod uses an external database; only NATS keeps state in the cluster"
    );
    assert!(
        of_kind(&objects, "Secret").is_empty(),
        "prod Secrets are created by the operator"
    );
    for server in SERVERS {
        let deployment = objects
            .iter()
            .find(|o| kind(o) == "Deployment" && name(o) == server)
            .unwrap();
        assert_eq!(deployment["spec"]["replicas"].as_i64(), Some(3), "{server}");
        let spread = pod(deployment)["topologySpreadConstraints"]
            .as_sequence()
            .unwrap();
        assert!(
            spread
                .iter()
                .any(|c| c["topologyKey"].as_str() == Some("topology.kubernetes.io/zone")),
            "{server} is spread over zones"
        );
    }
    check_witnesses(&objects);
    check_nats(&objects);
    check_shared_rate_limits(&objects);
    check_way_in(&objects);
}

/// Each backend publishes its change feed over TLS to a three-node NATS
/// cluster with JetStream, which keeps each stream on all three nodes.
fn check_nats(objects: &[Value]) {
    for backend in ["governance", "budget", "grants"] {
        let deployment = objects
            .iter()
            .find(|o| kind(o) == "Deployment" && name(o) == backend)
            .unwrap();
        let env = pod(deployment)["containers"][0]["env"]
            .as_sequence()
            .unwrap();
        let value = |wanted: &str| {
            env.iter()
                .find(|e| e["name"].as_str() == Some(wanted))
                .and_then(|e| e["value"].as_str())
        };
        assert_eq!(
            value("AIMAQ_NATS_URL"),
            Some("tls://nats:4222"),
            "{backend}"
        );
        assert_eq!(value("AIMAQ_NATS_REPLICAS"), Some("3"), "{backend}");
    }
    let nats = objects
        .iter()
        .find(|o| kind(o) == "StatefulSet" && name(o) == "nats")
        .unwrap();
    assert_eq!(nats["spec"]["replicas"].as_u64(), Some(3));
    let config = objects
        .iter()
        .find(|o| kind(o) == "ConfigMap" && name(o) == "nats-config")
        .unwrap();
    let conf = config["data"]["nats.conf"].as_str().unwrap();
    for wanted in ["jetstream {", "verify: true", "nats-2.nats-cluster"] {
        assert!(conf.contains(wanted), "nats.conf lacks {wanted}");
    }
    assert!(
        objects
            .iter()
            .any(|o| kind(o) == "PodDisruptionBudget" && name(o) == "nats"),
        "a node at a time may go"
    );
}

/// The way in is the Gateway API: agencies' TLS passed through to the
/// gateway (their client certificates reach it), the portal's ended and
/// made again to it, and no route times a long-lived stream out.
fn check_way_in(objects: &[Value]) {
    assert!(of_kind(objects, "Ingress").is_empty(), "no ingress-nginx");
    let gateway = of_kind(objects, "Gateway");
    assert_eq!(gateway.len(), 1);
    let listeners = gateway[0]["spec"]["listeners"].as_sequence().unwrap();
    let agencies = listeners
        .iter()
        .find(|l| l["name"].as_str() == Some("agencies"))
        .unwrap();
    assert_eq!(agencies["protocol"].as_str(), Some("TLS"));
    assert_eq!(agencies["tls"]["mode"].as_str(), Some("Passthrough"));
    for route in ["TLSRoute", "GRPCRoute", "HTTPRoute"] {
        let routes = of_kind(objects, route);
        assert_eq!(routes.len(), 1, "{route}");
        for rule in routes[0]["spec"]["rules"].as_sequence().unwrap() {
            let backend = &rule["backendRefs"][0];
            assert_eq!(backend["name"].as_str(), Some("gateway"), "{route}");
            assert_eq!(backend["port"].as_u64(), Some(50050), "{route}");
            if route == "HTTPRoute" {
                assert_eq!(rule["timeouts"]["request"].as_str(), Some("0s"));
            }
        }
    }
    let policy = of_kind(objects, "BackendTLSPolicy");
    assert_eq!(
        policy[0]["spec"]["validation"]["hostname"].as_str(),
        Some("gateway"),
        "the portal's calls are TLS again to the gateway"
    );
}

/// The gateway replicas share their rate limits in the store the operator
/// names, and without it each admits its share at the largest scale.
fn check_shared_rate_limits(objects: &[Value]) {
    let gateway = objects
        .iter()
        .find(|o| kind(o) == "Deployment" && name(o) == "gateway")
        .unwrap();
    let env = pod(gateway)["containers"][0]["env"].as_sequence().unwrap();
    let variable = |wanted: &str| {
        env.iter()
            .find(|e| e["name"].as_str() == Some(wanted))
            .unwrap_or_else(|| panic!("gateway: no {wanted}"))
    };
    assert_eq!(
        variable("AIMAQ_RATE_LIMIT_URL")["valueFrom"]["secretKeyRef"]["name"].as_str(),
        Some("aimaq-rate-limit-store")
    );
    let largest = objects
        .iter()
        .filter(|o| kind(o) == "HorizontalPodAutoscaler")
        .find(|o| o["spec"]["scaleTargetRef"]["name"].as_str() == Some("gateway"))
        .and_then(|o| o["spec"]["maxReplicas"].as_u64())
        .unwrap();
    assert_eq!(
        variable("AIMAQ_GATEWAY_REPLICAS")["value"].as_str(),
        Some(largest.to_string().as_str()),
        "the share without the store is of the largest scale"
    );
}

#[test]
fn compose_runs_the_servers_locked_down() {
    let text = std::fs::read_to_string(repo().join("deploy/compose.yaml")).unwrap();
    let compose: Value = serde_yaml_ng::from_str(&text).unwrap();
    let services = compose["services"].as_mapping().unwrap();
    for wanted in [
        "postgres",
        "otel-collector",
        "gateway",
        "governance",
        "budget",
        "grants",
    ] {
        assert!(services.contains_key(wanted), "compose lacks {wanted}");
    }
    // YAML merge keys are resolved by compose; look at the shared server block.
    let server = &compose["x-server"];
    assert_eq!(server["read_only"], Value::Bool(true));
    assert_eq!(server["user"].as_str(), Some("65532:65532"));
    assert_eq!(server["cap_drop"][0].as_str(), Some("ALL"));
    assert!(!compose["services"]["postgres"]["healthcheck"].is_null());
    // Each backend signs its audit log with the key the stack made, kept
    // across restarts rather than made anew by each process.
    let mounts = server["volumes"].as_sequence().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m.as_str() == Some("../data/log-keys:/etc/aimaq/log:ro"))
    );
    for backend in ["governance", "budget", "grants"] {
        let key = &compose["services"][backend]["environment"]["AIMAQ_LOG_SIGNING_KEY"];
        assert_eq!(
            key.as_str(),
            Some(format!("/etc/aimaq/log/{backend}.key").as_str())
        );
    }
}

#[test]
fn the_image_runs_as_non_root_without_a_shell() {
    let dockerfile = std::fs::read_to_string(repo().join("deploy/docker/Dockerfile")).unwrap();
    let last_from = dockerfile
        .lines()
        .rfind(|line| line.starts_with("FROM "))
        .unwrap();
    assert!(last_from.contains("distroless"), "{last_from}");
    assert!(
        dockerfile
            .lines()
            .any(|line| line.starts_with("USER 65532"))
    );
    assert!(dockerfile.contains("HEALTHCHECK"));
    for binary in [
        "aimaq-governance",
        "aimaq-budget",
        "aimaq-grants",
        "aimaq-gateway",
        "aimaq-probe",
    ] {
        assert!(dockerfile.contains(binary), "the image lacks {binary}");
    }
}
