#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use proptest::prelude::*;

use crate::hash::{Hash, leaf_hash, root_of};
use crate::layout::{Node, consistency_spans, fold_span, inclusion_spans, span_nodes};
use crate::{
    Checkpoint, KeyRole, Note, NoteError, NoteSigner, NoteVerifier, ProofError, verify_consistency,
    verify_inclusion,
};

fn vector(name: &str) -> serde_json::Value {
    let path = format!("{}/testdata/argon2020/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hash_of(text: &serde_json::Value) -> Hash {
    BASE64
        .decode(text.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn hashes_of(list: &serde_json::Value) -> Vec<Hash> {
    list.as_array().unwrap().iter().map(hash_of).collect()
}

/// RFC 9162's checks accept the proofs of a real Certificate Transparency log.
#[test]
fn proofs_of_a_certificate_transparency_log_verify() {
    let sth = vector("sth.json");
    let size = sth["tree_size"].as_u64().unwrap();
    let root = hash_of(&sth["sha256_root_hash"]);
    let entry = BASE64
        .decode(
            vector("entries.json")["entries"][0]["leaf_input"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let proof = hashes_of(&vector("proof.json")["audit_path"]);
    let leaf = leaf_hash(&entry);
    verify_inclusion(10_000, size, &leaf, &proof, &root).unwrap();
    assert_eq!(
        verify_inclusion(10_001, size, &leaf, &proof, &root),
        Err(ProofError::RootMismatch)
    );
    let old_root = hash_of(&serde_json::json!(
        "AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ="
    ));
    let consistency = hashes_of(&vector("consistency.json")["consistency"]);
    verify_consistency(3_654_490, size, &old_root, &root, &consistency).unwrap();
    assert!(verify_consistency(3_654_491, size, &old_root, &root, &consistency).is_err());
    assert!(verify_consistency(3_654_490, size, &root, &root, &consistency).is_err());
    // The proof sizes are those of RFC 9162's paths: the inclusion spans this
    // log would serve for the same tree have as many hashes.
    assert_eq!(inclusion_spans(10_000, size).len(), proof.len());
    assert_eq!(consistency_spans(3_654_490, size).len(), consistency.len());
}

const PETER_SIGNER: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_LINE: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_LINE: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

/// Notes are signed and read as Go's `sumdb/note` signs and reads them.
#[test]
fn signed_notes_match_go_sumdb_note() {
    let signer = NoteSigner::parse(PETER_SIGNER).unwrap();
    assert_eq!(signer.verifier_key(), PETER);
    assert_eq!(signer.private_key(), PETER_SIGNER);
    assert_eq!(signer.sign(TEXT).unwrap(), format!("{TEXT}\n{PETER_LINE}"));
    let note = Note::parse(&format!("{TEXT}\n{PETER_LINE}{ENOCH_LINE}")).unwrap();
    assert_eq!(note.text, TEXT);
    note.verified_by(&NoteVerifier::parse(PETER).unwrap())
        .unwrap();
    note.verified_by(&NoteVerifier::parse(ENOCH).unwrap())
        .unwrap();
    let forged = Note::parse(&format!(
        "{TEXT}\n{}",
        PETER_LINE.replace("x08go/ZJ", "x08go/ZK")
    ))
    .unwrap();
    assert!(matches!(
        forged.verified_by(&NoteVerifier::parse(PETER).unwrap()),
        Err(NoteError::Unverified(_))
    ));
    for bad in [
        TEXT.to_owned(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_LINE[..PETER_LINE.len() - 1]),
        format!("\u{1}{TEXT}\n{PETER_LINE}"),
        format!("{TEXT}\n{PETER_LINE}Unexpected line.\n"),
        format!("{TEXT}\n{}", PETER_LINE.repeat(101)),
    ] {
        assert!(Note::parse(&bad).is_err(), "{bad:?}");
    }
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ] {
        assert!(NoteVerifier::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn cosignatures_are_timestamped_and_bound_to_their_key_type() {
    let log = NoteSigner::generate("aimaq.test/budget", KeyRole::Log).unwrap();
    let witness = NoteSigner::generate("aimaq.test/grants-witness", KeyRole::Cosigner).unwrap();
    let checkpoint = Checkpoint {
        origin: log.name().to_owned(),
        size: 7,
        root: leaf_hash(b"x"),
    };
    let signed = Note::parse(&log.sign(&checkpoint.text()).unwrap()).unwrap();
    let line = witness.signature_line(&signed.text).unwrap();
    let cosigned = Note::parse(&signed.with_signature(&line).unwrap()).unwrap();
    assert_eq!(cosigned.signatures.len(), 2);
    let time = cosigned
        .verified_by(&NoteVerifier::parse(&witness.verifier_key()).unwrap())
        .unwrap();
    assert!(time > 1_700_000_000);
    assert_eq!(
        cosigned
            .verified_by(&NoteVerifier::parse(&log.verifier_key()).unwrap())
            .unwrap(),
        0
    );
    // The same public key under the other type has another id: no confusion.
    assert!(
        !witness
            .verifier_key()
            .starts_with(&log.verifier_key()[..20])
    );
    assert_eq!(Checkpoint::parse(&cosigned.text).unwrap(), checkpoint);
    for bad in ["o\n01\nAA==\n", "\n1\n", "o\n1\nnot base64\n", "o\n-1\n"] {
        assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
    }
}

/// A tree whose every complete subtree is stored, as a log keeps it.
fn stored(leaves: &[Hash]) -> impl Fn(Node) -> Hash + '_ {
    move |(level, index)| {
        let width = 1usize << level;
        let start = usize::try_from(index).unwrap() * width;
        root_of(&leaves[start..start + width])
    }
}

fn proof(spans: &[(u64, u64)], node: &impl Fn(Node) -> Hash) -> Vec<Hash> {
    spans
        .iter()
        .map(|span| {
            let parts: Vec<Hash> = span_nodes(*span).into_iter().map(node).collect();
            fold_span(&parts).unwrap()
        })
        .collect()
}

proptest! {
    #[test]
    fn every_served_inclusion_proof_verifies(size in 1u64..300, pick in 0u64..300, flip in 0usize..32) {
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let root = root_of(&leaves);
        let index = pick % size;
        let path = proof(&inclusion_spans(index, size), &stored(&leaves));
        prop_assert!(verify_inclusion(index, size, &leaves[index as usize], &path, &root).is_ok());
        let mut longer = path.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(index, size, &leaves[index as usize], &longer, &root).is_err());
        if let Some(first) = path.first() {
            let mut bent = path.clone();
            bent[0][flip] ^= 1;
            prop_assert_ne!(bent[0], *first);
            prop_assert!(verify_inclusion(index, size, &leaves[index as usize], &bent, &root).is_err());
        }
    }

    #[test]
    fn every_served_consistency_proof_verifies(to in 1u64..300, pick in 0u64..300) {
        let leaves: Vec<Hash> = (0..to).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let from = 1 + pick % to;
        let (old, new) = (root_of(&leaves[..from as usize]), root_of(&leaves));
        let path = proof(&consistency_spans(from, to), &stored(&leaves));
        prop_assert!(verify_consistency(from, to, &old, &new, &path).is_ok());
        // A rewritten history is not consistent with the old root.
        let mut rewritten = leaves.clone();
        rewritten[0] = leaf_hash(b"rewritten");
        let path = proof(&consistency_spans(from, to), &stored(&rewritten));
        prop_assert!(verify_consistency(from, to, &old, &root_of(&rewritten), &path).is_err());
        prop_assert!(verify_consistency(to, from.saturating_sub(1), &new, &old, &[]).is_err() || from - 1 == to);
    }
}
