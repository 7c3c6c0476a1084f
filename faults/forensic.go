package faults

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/queue"
)

var (
	idField     = regexp.MustCompile(`"id":"([^"]{1,200})"`)
	sealedField = regexp.MustCompile(`"sealed":"([A-Za-z0-9+/]+=*)"`)
)

// Attack reads every file under dir raw, as a thief holding the device's
// storage would (freed bbolt pages included), and returns which of the
// tokens in want it recovers: found in clear anywhere, or opened from any
// sealed value in the files with any key the device holds. The keys tried
// are every 32-byte file (the device key), extra (a key held off the data
// directory), and every 32-byte slot of every *.keys file, each used raw
// and as the queue derives a record key from it under every device key.
func Attack(dir string, want []string, extra ...[]byte) (map[string]bool, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil {
			files[p] = b
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	got := map[string]bool{}
	for _, b := range files {
		for _, w := range want {
			if bytes.Contains(b, []byte(w)) {
				got[w] = true
			}
		}
	}
	masters := append([][]byte(nil), extra...)
	var slots [][]byte
	for p, b := range files {
		if len(b) == 32 {
			masters = append(masters, b)
		}
		if strings.HasSuffix(p, ".keys") {
			for i := 0; i+32 <= len(b); i += 32 {
				if !bytes.Equal(b[i:i+32], make([]byte, 32)) {
					slots = append(slots, b[i:i+32])
				}
			}
		}
	}
	keys := append([][]byte(nil), masters...)
	for _, s := range slots {
		keys = append(keys, s)
		for _, m := range masters {
			h := hmac.New(sha256.New, m)
			h.Write([]byte("kipass queue record key v1"))
			h.Write(s)
			keys = append(keys, h.Sum(nil))
		}
	}
	var aeads []cipher.AEAD
	for _, k := range keys {
		if blk, err := aes.NewCipher(k); err == nil {
			if a, err := cipher.NewGCM(blk); err == nil {
				aeads = append(aeads, a)
			}
		}
	}
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w] = true
	}
	for _, b := range files {
		ids := idField.FindAllSubmatchIndex(b, -1)
		for _, m := range sealedField.FindAllSubmatchIndex(b, -1) {
			sealed, err := base64.StdEncoding.DecodeString(string(b[m[2]:m[3]]))
			if err != nil {
				continue
			}
			// The record's id (the additional data) precedes its sealed token.
			var aad []byte
			for _, im := range ids {
				if im[0] < m[0] && m[0]-im[0] < 4096 {
					aad = b[im[2]:im[3]]
				}
			}
			for _, a := range aeads {
				ns := a.NonceSize()
				if len(sealed) < ns+a.Overhead() {
					continue
				}
				if pt, err := a.Open(nil, sealed[:ns], sealed[ns:], aad); err == nil && wanted[string(pt)] {
					got[string(pt)] = true
				}
			}
		}
	}
	return got, nil
}

// ForensicScenario records scans while central is away, then delivers
// some (acknowledged) and lets the 28-day purge destroy the rest, and
// after each step reads the data directory as an attacker with every key
// the device holds (Attack): no delivered or purged token may come back
// (recovered=0). The tokens still waiting must come back (control), or the
// attack proves nothing.
func (sc Scale) ForensicScenario(ctx context.Context, is *Issuer) Result {
	res := Result{Scenario: "forensic"}
	start := time.Now()
	dir, err := os.MkdirTemp(sc.Dir, "forensic-")
	if err != nil {
		res.Err = err
		return res
	}
	defer os.RemoveAll(dir)
	fc := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	q, err := queue.Open(filepath.Join(dir, "queue.db"), queue.Options{Clock: fc, Log: discard, Reserve: -1})
	if err != nil {
		res.Err = err
		return res
	}
	defer q.Close()
	n := sc.pick(60, 600)
	var toks, ids []string
	for i := 0; i < n; i++ {
		r, err := is.Record("F-FORENSIC", "D-FORENSIC", fc.Now())
		if err == nil {
			_, err = q.Enqueue(r)
		}
		if err != nil {
			res.Err = err
			return res
		}
		toks, ids = append(toks, r.Token), append(ids, r.ID)
		res.Confirmed++
		fc.Advance(time.Second)
	}
	control, err := Attack(dir, toks)
	if err != nil {
		res.Err = err
		return res
	}
	// Central comes back for the first half; then a day passes.
	half := n / 2
	if err := q.Ack(ids[:half]); err != nil {
		res.Err = err
		return res
	}
	res.Delivered = half
	got, err := Attack(dir, toks[:half])
	if err != nil {
		res.Err = err
		return res
	}
	recovered := len(got)
	live, _ := Attack(dir, toks[half:])
	// The rest is never delivered: 28 days later the purge destroys it.
	fc.Advance(queue.DefaultRetention + time.Minute)
	pc, err := q.Purge()
	if err != nil {
		res.Err = err
		return res
	}
	got, err = Attack(dir, toks)
	if err != nil {
		res.Err = err
		return res
	}
	recovered += len(got)
	if pc.Pending != n-half {
		res.Err = fmt.Errorf("purge destroyed %d of %d", pc.Pending, n-half)
	}
	res.Elapsed = time.Since(start)
	res.detail("recovered=%d control_before=%d/%d waiting_readable=%d/%d purged=%d", recovered, len(control), n, len(live), n-half, pc.Pending)
	switch {
	case recovered > 0 && res.Err == nil:
		res.Err = fmt.Errorf("%d delivered or purged tokens recovered from the data directory", recovered)
	case len(control) != n && res.Err == nil:
		res.Err = fmt.Errorf("the attack read only %d of %d waiting tokens: it proves nothing", len(control), n)
	}
	return res
}
