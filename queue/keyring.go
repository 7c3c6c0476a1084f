package queue

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Crypto-shredding. Every record's token is sealed under its own record
// key, kept in a slot of the key file PATH.keys (32 bytes a slot), never
// in queue.db. The sealing key is HMAC-SHA256(device key, record key), so
// the key file alone opens nothing either. When a record leaves the queue
// for good (central acknowledged it, or the purge destroyed it) its slot
// is overwritten with zeros in place and the file fsync'd: the sealed
// bytes that bbolt leaves in freed pages, and every older version of the
// record's value, can no longer be opened by anyone, with any key the
// device holds. The key file is only ever written in place (never through
// a temporary copy and a rename), so no older version of it exists as a
// file. At Open every slot that no record refers to is zeroed (a shred
// that a crash interrupted, keys made ahead and never used).
//
// Keys are made ahead in groups (poolSize) with one fsync, so the key file
// costs no fsync on the enqueue path.

// slotSize is the size of one record key.
const slotSize = 32

// noSlot marks a record sealed under the device key itself (written
// before record keys existed); it cannot be shredded.
const noSlot = ^uint32(0)

// poolSize is how many record keys are made, and fsync'd, at once.
const poolSize = 4096

// keyring hands out record keys and shreds them.
type keyring struct {
	master []byte

	mu      sync.Mutex
	f       *os.File
	n       uint32   // slots in the file
	pool    []uint32 // fresh keys on disk, not yet given to a record
	free    []uint32 // zeroed slots
	shut    bool     // closed
	filling bool     // a background fill is writing keys
}

func openKeyring(path string, master []byte) (*keyring, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: record keys: %w", ErrKey, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: record keys: %w", ErrKey, err)
	}
	// A power cut must not lose the file's directory entry once records
	// refer to its keys.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return &keyring{master: master, f: f, n: uint32(fi.Size() / slotSize)}, nil
}

// keep zeroes every non-zero slot that is not in used, and notes the free
// slots; Open calls it once with the slots the records refer to.
func (k *keyring) keep(used map[uint32]bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	buf := make([]byte, 64*1024)
	zero := make([]byte, slotSize)
	var shred []uint32
	for off := int64(0); off < int64(k.n)*slotSize; off += int64(len(buf)) {
		m, err := k.f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: record keys: %w", ErrKey, err)
		}
		for i := 0; i+slotSize <= m; i += slotSize {
			s := uint32((off + int64(i)) / slotSize)
			if used[s] {
				continue
			}
			if string(buf[i:i+slotSize]) != string(zero) {
				shred = append(shred, s)
			}
			k.free = append(k.free, s)
		}
	}
	return k.zero(shred)
}

// zero overwrites the slots with zeros in place (runs of neighbours in
// one write) and fsyncs the file. k.mu is held.
func (k *keyring) zero(slots []uint32) error {
	if len(slots) == 0 {
		return nil
	}
	slices.Sort(slots)
	zeros := make([]byte, 0)
	for i := 0; i < len(slots); {
		j := i + 1
		for j < len(slots) && slots[j] == slots[j-1]+1 {
			j++
		}
		if need := (j - i) * slotSize; len(zeros) < need {
			zeros = make([]byte, need)
		}
		if _, err := k.f.WriteAt(zeros[:(j-i)*slotSize], int64(slots[i])*slotSize); err != nil {
			return fmt.Errorf("%w: shred record keys: %w", ErrKey, err)
		}
		i = j
	}
	if err := k.f.Sync(); err != nil {
		return fmt.Errorf("%w: shred record keys: %w", ErrKey, err)
	}
	return nil
}

// take returns a fresh record key's slot and its sealer; the key is on
// disk (fsync'd) before take returns.
func (k *keyring) take() (uint32, *sealer, error) {
	k.mu.Lock()
	if k.shut {
		k.mu.Unlock()
		return 0, nil, ErrClosed
	}
	if len(k.pool) == 0 {
		if err := k.fill(); err != nil {
			k.mu.Unlock()
			return 0, nil, err
		}
	}
	s := k.pool[len(k.pool)-1]
	k.pool = k.pool[:len(k.pool)-1]
	if len(k.pool) < poolSize/4 && !k.filling {
		// Make the next keys ahead, so that no enqueue waits for their fsync.
		k.filling = true
		go k.prefill()
	}
	k.mu.Unlock()
	sl, err := k.sealer(s)
	return s, sl, err
}

// fill makes poolSize fresh keys at once. k.mu is held.
func (k *keyring) fill() error {
	slots := k.reserve()
	if err := k.write(slots); err != nil {
		k.free = append(k.free, slots...)
		return err
	}
	k.pool = append(k.pool, slots...)
	return nil
}

// prefill makes poolSize fresh keys without holding k.mu during the
// writes and the fsync.
func (k *keyring) prefill() {
	k.mu.Lock()
	slots := k.reserve()
	k.mu.Unlock()
	err := k.write(slots)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.filling = false
	if err != nil || k.shut {
		k.free = append(k.free, slots...)
		return
	}
	k.pool = append(k.pool, slots...)
}

// reserve takes poolSize slots: free ones, or new ones at the end. k.mu
// is held.
func (k *keyring) reserve() []uint32 {
	slots := make([]uint32, 0, poolSize)
	for len(slots) < poolSize {
		if n := len(k.free); n > 0 {
			slots, k.free = append(slots, k.free[n-1]), k.free[:n-1]
			continue
		}
		slots = append(slots, k.n)
		k.n++
	}
	return slots
}

// write puts fresh random keys in the slots and fsyncs them.
func (k *keyring) write(slots []uint32) error {
	key := make([]byte, slotSize)
	for _, s := range slots {
		if _, err := rand.Read(key); err != nil {
			return fmt.Errorf("%w: record key: %w", ErrKey, err)
		}
		if _, err := k.f.WriteAt(key, int64(s)*slotSize); err != nil {
			return fmt.Errorf("%w: record key: %w", ErrKey, err)
		}
	}
	if err := k.f.Sync(); err != nil {
		return fmt.Errorf("%w: record key: %w", ErrKey, err)
	}
	return nil
}

// sealer returns the sealer of the record key in slot s; a zeroed slot
// (shredded) or a missing one is ErrCorrupt.
func (k *keyring) sealer(s uint32) (*sealer, error) {
	key := make([]byte, slotSize)
	if _, err := k.f.ReadAt(key, int64(s)*slotSize); err != nil {
		return nil, fmt.Errorf("%w: record key %d: %w", ErrCorrupt, s, err)
	}
	if string(key) == string(make([]byte, slotSize)) {
		return nil, fmt.Errorf("%w: record key %d shredded", ErrCorrupt, s)
	}
	k.mu.Lock()
	master := k.master
	k.mu.Unlock()
	if master == nil {
		return nil, fmt.Errorf("%w: queue key missing", ErrKey)
	}
	m := hmac.New(sha256.New, master)
	m.Write([]byte("kipass queue record key v1"))
	m.Write(key)
	return newSealer(m.Sum(nil))
}

// shred zeroes the slots of records that left the queue for good.
func (k *keyring) shred(slots []uint32) error {
	slots = slices.DeleteFunc(slices.Clone(slots), func(s uint32) bool { return s == noSlot })
	slices.Sort(slots)
	slots = slices.Compact(slots)
	if len(slots) == 0 {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.shut {
		return ErrClosed
	}
	if err := k.zero(slots); err != nil {
		return err
	}
	k.free = append(k.free, slots...)
	return nil
}

// setMaster sets the device key the record keys derive from.
func (k *keyring) setMaster(key []byte) {
	k.mu.Lock()
	k.master = key
	k.mu.Unlock()
}

func (k *keyring) close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.shut = true
	return k.f.Close()
}

func slotBytes(s uint32) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, s)
	return b
}
