package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/kipass/kipass/queue"
	bolt "go.etcd.io/bbolt"
)

// OpenReport is what the child process of a damage trial found.
type OpenReport struct {
	// Alarms raised by Open (quarantine, key).
	Alarms int `json:"alarms"`
	// Quarantined is set when the file was moved aside.
	Quarantined bool `json:"quarantined"`
	// Readable records (Oldest) and Undecryptable records counted.
	Readable      int `json:"readable"`
	Undecryptable int `json:"undecryptable"`
	// EnqueueOK reports that a new scan could be recorded afterwards.
	EnqueueOK bool `json:"enqueue_ok"`
	// Err is an error from Open or a read.
	Err string `json:"err,omitempty"`
}

// OpenAndReport opens the queue at path as the agent would, reads every
// record, records one new scan and reports. The fault suite runs it in a
// child process (kipass-faults open-queue PATH), so that a crash is seen
// as a crash.
func OpenAndReport(path string) OpenReport {
	var r OpenReport
	q, err := queue.Open(path, queue.Options{Log: discard})
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer q.Close()
	for _, a := range q.Alarms() {
		r.Alarms++
		if a.QuarantinedTo != "" {
			r.Quarantined = true
		}
	}
	recs, err := q.Oldest(1 << 20)
	if err != nil {
		r.Err = err.Error()
	}
	r.Readable = len(recs)
	st, err := q.Stats()
	if err != nil && r.Err == "" {
		r.Err = err.Error()
	}
	r.Undecryptable = st.Undecryptable
	is, _ := NewIssuer()
	rec, _ := is.Record("F-DAMAGE", "D-DAMAGE", time.Now())
	if _, err := q.Enqueue(rec); err == nil {
		r.EnqueueOK = true
	} else if r.Err == "" {
		r.Err = err.Error()
	}
	return r
}

// damageTemplate writes a queue of n records and its key into dir, then
// commits an empty transaction so that both meta pages describe the same
// data (a damaged meta page then costs no record).
func damageTemplate(dir string, is *Issuer, n int) (string, error) {
	path := filepath.Join(dir, "template.db")
	if _, _, err := enqueueConcurrent(path, is, n, 32, nil); err != nil {
		return "", err
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return "", err
	}
	if err := db.Update(func(*bolt.Tx) error { return nil }); err != nil {
		db.Close()
		return "", err
	}
	return path, db.Close()
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func flipBytes(path string, offsets []int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, off := range offsets {
		b := []byte{0}
		if _, err := f.ReadAt(b, off); err != nil {
			return err
		}
		b[0] ^= byte(1 + rand.IntN(255))
		if _, err := f.WriteAt(b, off); err != nil {
			return err
		}
	}
	return nil
}

// childOpen runs OpenAndReport in a child process (this executable, via
// self, "open-queue PATH") and reports a crash as an error.
func childOpen(ctx context.Context, self, path string) (OpenReport, error) {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, self, "open-queue", path).Output()
	var r OpenReport
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
			if len(msg) > 300 {
				msg = msg[:300]
			}
		}
		return r, fmt.Errorf("child crashed: %v %s", err, msg)
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("child report: %w", err)
	}
	return r, nil
}

// CorruptScenarios damage a closed queue file — bytes flipped in the meta
// pages, bytes flipped in data pages, the file truncated — and open it in a
// child process twice: the first open must not crash and must either read
// every record (or count it as undecryptable) or quarantine the file with
// an alarm; the second open must be clean (no crash loop). self is an
// executable that understands "open-queue PATH" (kipass-faults).
func (sc Scale) CorruptScenarios(ctx context.Context, is *Issuer, self string) []Result {
	const records = 2000
	trials := sc.pick(10, 600) // make faults: ten times the 60 it ran before
	dir, err := os.MkdirTemp(sc.Dir, "corrupt-")
	if err != nil {
		return []Result{{Scenario: "corrupt", Err: err}}
	}
	defer os.RemoveAll(dir)
	tmpl, err := damageTemplate(dir, is, records)
	if err != nil {
		return []Result{{Scenario: "corrupt", Err: err}}
	}
	fi, err := os.Stat(tmpl)
	if err != nil {
		return []Result{{Scenario: "corrupt", Err: err}}
	}
	size := fi.Size()
	page := int64(os.Getpagesize())
	kinds := []struct {
		name   string
		damage func(path string) error
	}{
		{"corrupt-meta-pages", func(p string) error {
			// One or both meta pages, 1-4 bytes each, inside the meta struct.
			var offs []int64
			for _, pg := range [][]int64{{0}, {1}, {0, 1}}[rand.IntN(3)] {
				for i := 0; i < 1+rand.IntN(4); i++ {
					offs = append(offs, pg*page+16+rand.Int64N(64))
				}
			}
			return flipBytes(p, offs)
		}},
		{"corrupt-data-pages", func(p string) error {
			var offs []int64
			for i := 0; i < 1+rand.IntN(16); i++ {
				offs = append(offs, 2*page+rand.Int64N(size-2*page))
			}
			return flipBytes(p, offs)
		}},
		{"corrupt-truncated", func(p string) error { return os.Truncate(p, rand.Int64N(size)) }},
	}
	var out []Result
	for _, k := range kinds {
		res := Result{Scenario: k.name}
		start := time.Now()
		var quarantined, clean, crashes, secondBad, undecryptable, salvaged int
		for t := 0; t < trials && ctx.Err() == nil; t++ {
			tdir := filepath.Join(dir, fmt.Sprintf("%s-%d", k.name, t))
			os.MkdirAll(tdir, 0o700)
			path := filepath.Join(tdir, "queue.db")
			if err := copyFile(path, tmpl); err == nil {
				err = copyFile(path+".key", tmpl+".key")
			}
			if err == nil {
				err = copyFile(path+".keys", tmpl+".keys")
			}
			if err == nil {
				err = k.damage(path)
			}
			if err != nil {
				res.Err = err
				break
			}
			res.Confirmed += records
			r, err := childOpen(ctx, self, path)
			if err != nil {
				crashes++
				res.Err = err
				continue
			}
			switch {
			case r.Quarantined && r.EnqueueOK && r.Err == "":
				quarantined++
				salvaged += r.Readable
			case r.Err == "" && r.EnqueueOK:
				clean++
				res.Delivered += r.Readable
				undecryptable += r.Undecryptable
				// Every record is readable or counted: none may vanish.
				if miss := records - r.Readable - r.Undecryptable; miss > 0 {
					res.Lost += miss
				}
			default:
				res.Err = fmt.Errorf("trial %d: neither clean nor quarantined: %+v", t, r)
			}
			r2, err := childOpen(ctx, self, path)
			if err != nil || r2.Alarms != 0 || !r2.EnqueueOK {
				secondBad++
				if res.Err == nil {
					res.Err = fmt.Errorf("second open of trial %d: %+v %v", t, r2, err)
				}
			}
			os.RemoveAll(tdir)
		}
		res.Elapsed = time.Since(start)
		res.detail("trials=%d records_per_trial=%d opened_clean=%d quarantined_with_alarm=%d salvaged=%d undecryptable_counted=%d crashes=%d crash_loops=%d",
			trials, records, clean, quarantined, salvaged, undecryptable, crashes, secondBad)
		out = append(out, res)
	}
	return out
}
