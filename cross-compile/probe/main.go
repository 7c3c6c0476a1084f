// Command probe is the cross-compile smoke test: it exercises each native or
// pure-Go dependency of the agent once (bbolt, gozxing, and, when built with
// cgo, gocv and oto) and prints one line per check, so running it under
// qemu-user shows that a cross-built binary really works on the target ABI.
//
// It exits non-zero when a check that must work fails. A missing sound
// device is reported, not treated as a failure.
package main

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	bolt "go.etcd.io/bbolt"
)

// check is one smoke check; optional checks report but do not fail the run.
type check struct {
	name     string
	optional bool
	run      func(qr image.Image) (string, error)
}

// checks is filled by init functions in the build-tagged files.
var checks = []check{
	{name: "bbolt", run: checkBolt},
	{name: "gozxing", run: checkZXing},
}

func main() {
	version := flag.Bool("version", false, "print versions and exit")
	flag.Parse()
	fmt.Printf("probe %s/%s %s\n", runtime.GOOS, runtime.GOARCH, runtime.Version())
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "CGO_ENABLED" || s.Key == "-tags" || s.Key == "GOARM" {
				fmt.Printf("  build %s=%s\n", s.Key, s.Value)
			}
		}
		for _, d := range bi.Deps {
			fmt.Printf("  dep %s %s\n", d.Path, d.Version)
		}
	}
	if *version {
		return
	}
	qr, err := encodeQR("KIPASS-PROBE-0123456789")
	if err != nil {
		fmt.Println("FAIL encode:", err)
		os.Exit(1)
	}
	failed := 0
	for _, c := range checks {
		start := time.Now()
		msg, err := c.run(qr)
		d := time.Since(start).Round(time.Millisecond)
		switch {
		case err == nil:
			fmt.Printf("ok   %-8s %-8s %s\n", c.name, d, msg)
		case c.optional:
			fmt.Printf("warn %-8s %-8s %v\n", c.name, d, err)
		default:
			fmt.Printf("FAIL %-8s %-8s %v\n", c.name, d, err)
			failed++
		}
	}
	if failed > 0 {
		os.Exit(1)
	}
}

// encodeQR renders text as a QR code image with a quiet zone.
func encodeQR(text string) (image.Image, error) {
	bm, err := qrcode.NewQRCodeWriter().Encode(text, gozxing.BarcodeFormat_QR_CODE, 240, 240, nil)
	if err != nil {
		return nil, fmt.Errorf("encode qr: %w", err)
	}
	return bm, nil
}

func checkZXing(img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("bitmap: %w", err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		return "", fmt.Errorf("decode: %w", err)
	}
	if !strings.HasPrefix(res.GetText(), "KIPASS-PROBE-") {
		return "", errors.New("decoded text differs from the encoded text")
	}
	return "decoded the QR it encoded", nil
}

func checkBolt(image.Image) (string, error) {
	dir, err := os.MkdirTemp("", "probe-bolt-")
	if err != nil {
		return "", fmt.Errorf("tempdir: %w", err)
	}
	defer os.RemoveAll(dir)
	// Small initial mmap: 32-bit ARM cannot map 1 GiB.
	db, err := bolt.Open(filepath.Join(dir, "q.db"), 0o600, &bolt.Options{Timeout: time.Second, InitialMmapSize: 1 << 20})
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	const n = 100
	for i := 0; i < n; i++ {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("q"))
			if err != nil {
				return err
			}
			seq, _ := b.NextSequence()
			return b.Put([]byte(fmt.Sprintf("%016d", seq)), []byte("x"))
		})
		if err != nil {
			return "", fmt.Errorf("update: %w", err)
		}
	}
	var count int
	if err := db.View(func(tx *bolt.Tx) error {
		count = tx.Bucket([]byte("q")).Stats().KeyN
		return nil
	}); err != nil {
		return "", fmt.Errorf("view: %w", err)
	}
	if count != n {
		return "", fmt.Errorf("stored %d keys, read back %d", n, count)
	}
	return fmt.Sprintf("%d fsync'd commits read back", count), nil
}
