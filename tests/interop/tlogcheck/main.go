// Command tlogcheck verifies an Aimaq service's signed checkpoint and RFC 9162
// proofs with Go's golang.org/x/mod/sumdb/note and sumdb/tlog: an
// implementation independent of Aimaq's. It reads one JSON document on stdin
// and exits 0 when every check passes.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type input struct {
	VerifierKey string        `json:"verifier_key"`
	Checkpoint  string        `json:"checkpoint"`
	Inclusions  []inclusion   `json:"inclusions"`
	Consistency []consistency `json:"consistency"`
}

type inclusion struct {
	Index    int64    `json:"index"`
	LeafData string   `json:"leaf_data"`
	Proof    []string `json:"proof"`
}

type consistency struct {
	OldSize int64    `json:"old_size"`
	OldRoot string   `json:"old_root"`
	Proof   []string `json:"proof"`
}

func hashes(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		h, err := tlog.ParseHash(s)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail("input: %v", err)
	}
	verifier, err := note.NewVerifier(in.VerifierKey)
	if err != nil {
		fail("verifier key: %v", err)
	}
	n, err := note.Open([]byte(in.Checkpoint), note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint signature: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != verifier.Name() {
		fail("checkpoint body: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("tree size: %v", err)
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("root hash: %v", err)
	}
	for _, inc := range in.Inclusions {
		data, err := base64.StdEncoding.DecodeString(inc.LeafData)
		if err != nil {
			fail("leaf data: %v", err)
		}
		proof, err := hashes(inc.Proof)
		if err != nil {
			fail("inclusion proof: %v", err)
		}
		if err := tlog.CheckRecord(proof, size, root, inc.Index, tlog.RecordHash(data)); err != nil {
			fail("record %d: %v", inc.Index, err)
		}
	}
	for _, c := range in.Consistency {
		old, err := tlog.ParseHash(c.OldRoot)
		if err != nil {
			fail("old root: %v", err)
		}
		proof, err := hashes(c.Proof)
		if err != nil {
			fail("consistency proof: %v", err)
		}
		if err := tlog.CheckTree(proof, size, root, c.OldSize, old); err != nil {
			fail("consistency from %d: %v", c.OldSize, err)
		}
	}
	fmt.Printf("ok: checkpoint of %d records, %d inclusion and %d consistency proofs verified by Go sumdb\n",
		size, len(in.Inclusions), len(in.Consistency))
}
