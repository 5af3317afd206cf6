//! The prod overlay's witnessing: each backend witnesses the other two's
//! logs, and its own log takes their cosignatures.

use serde_yaml_ng::Value;

use crate::{kind, name, pod};

/// Each backend witnesses the other two's audit logs, with its own witness
/// key and the others' public log keys, and keeps what it cosigned.
pub fn check_witnesses(objects: &[Value]) {
    let backends = [("governance", 50051), ("budget", 50052), ("grants", 50053)];
    for (backend, _) in backends {
        let deployment = objects
            .iter()
            .find(|o| kind(o) == "Deployment" && name(o) == backend)
            .unwrap();
        let container = &pod(deployment)["containers"][0];
        let env = container["env"].as_sequence().unwrap();
        let value = |wanted: &str| {
            env.iter()
                .find(|e| e["name"].as_str() == Some(wanted))
                .map(|e| e["value"].as_str().unwrap_or_default().to_owned())
        };
        let peers = value("AIMAQ_WITNESS_PEERS").unwrap();
        let peers: Vec<&str> = peers.split(';').collect();
        let others: Vec<_> = backends.iter().filter(|(b, _)| *b != backend).collect();
        assert_eq!(peers.len(), others.len(), "{backend}: {peers:?}");
        for ((other, port), peer) in others.into_iter().zip(peers) {
            let variable = format!("{}_LOG_KEY", other.to_uppercase());
            assert_eq!(
                peer,
                format!("{other} https://{other}:{port} $({variable})"),
                "{backend}"
            );
            let key = env
                .iter()
                .find(|e| e["name"].as_str() == Some(variable.as_str()))
                .unwrap();
            assert_eq!(
                key["valueFrom"]["configMapKeyRef"]["name"].as_str(),
                Some("aimaq-log-public-keys")
            );
        }
        // Its log takes the other two witnesses' cosignatures.
        let cosigners = value("AIMAQ_LOG_COSIGNERS").unwrap();
        let expected: Vec<String> = backends
            .iter()
            .filter(|(b, _)| *b != backend)
            .map(|(other, _)| format!("$({}_WITNESS_KEY)", other.to_uppercase()))
            .collect();
        assert_eq!(cosigners, expected.join(";"), "{backend}");
        for variable in &expected {
            let name = variable.trim_start_matches("$(").trim_end_matches(')');
            let key = env.iter().find(|e| e["name"].as_str() == Some(name));
            assert_eq!(
                key.unwrap()["valueFrom"]["configMapKeyRef"]["name"].as_str(),
                Some("aimaq-witness-public-keys"),
                "{backend}: {name}"
            );
        }
        for variable in [
            "AIMAQ_WITNESS_KEY",
            "AIMAQ_WITNESS_TOKEN_FILE",
            "AIMAQ_WITNESS_FILE",
        ] {
            assert!(value(variable).is_some(), "{backend}: {variable}");
        }
        let volumes = pod(deployment)["volumes"].as_sequence().unwrap();
        assert!(
            volumes.iter().any(|v| v["secret"]["secretName"].as_str()
                == Some(format!("aimaq-{backend}-witness").as_str())),
            "{backend} mounts its witness key"
        );
    }
}
