// Package zxingcpp runs zxing-cpp's QR reader in-process in a persistent
// Python worker (Debian's python3-zxing-cpp under /usr/bin/python3), so
// that benchmarks can compare our decoder with it on the same grey frames.
// Frames go to the worker over a pipe as raw bytes; the worker times only
// the zxingcpp.read_barcodes call on a numpy array, so process start,
// image loading and the pipe are not in the figure.
package zxingcpp

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os/exec"
	"strings"
	"time"
)

// Python is the interpreter that has Debian's zxingcpp module. A python3
// earlier on PATH (a pyenv build, say) does not see Debian's packages.
const Python = "/usr/bin/python3"

// ErrUnavailable means the worker could not start: the interpreter or the
// zxingcpp or numpy module is missing.
var ErrUnavailable = errors.New("zxingcpp: python3-zxing-cpp or python3-numpy is not installed")

// worker reads "w h\n" and w*h grey bytes, answers one JSON line with the
// texts read and the time spent in read_barcodes (wall and thread CPU).
const worker = `
import sys, json, time
try:
    import numpy, zxingcpp
except ImportError as e:
    sys.stdout.write(json.dumps({"error": str(e)}) + "\n"); sys.stdout.flush(); sys.exit(3)
fmt = zxingcpp.BarcodeFormat.QRCode
inp, out = sys.stdin.buffer, sys.stdout
out.write(json.dumps({"ready": True}) + "\n"); out.flush()
while True:
    hdr = inp.readline()
    if not hdr:
        break
    w, h = map(int, hdr.split())
    buf = inp.read(w * h)
    if len(buf) < w * h:
        break
    a = numpy.frombuffer(buf, dtype=numpy.uint8).reshape(h, w)
    t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
    rs = zxingcpp.read_barcodes(a, formats=fmt)
    t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
    texts = [r.text for r in rs if getattr(r, "valid", True)]
    out.write(json.dumps({"texts": texts, "ns": t1 - t0, "cpu_ns": c1 - c0}) + "\n"); out.flush()
`

// Reader is one worker process. It is not safe for concurrent use.
type Reader struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	buf []byte
}

// Result is what zxing-cpp read in one frame.
type Result struct {
	// Texts are the QR codes read, in zxing-cpp's order.
	Texts []string
	// Elapsed is the wall time of the read_barcodes call alone.
	Elapsed time.Duration
	// CPU is the worker thread's CPU time in that call.
	CPU time.Duration
}

// Has reports whether want is among the texts read.
func (r Result) Has(want string) bool {
	for _, t := range r.Texts {
		if t == want {
			return true
		}
	}
	return false
}

type reply struct {
	Ready bool     `json:"ready"`
	Error string   `json:"error"`
	Texts []string `json:"texts"`
	NS    int64    `json:"ns"`
	CPUNS int64    `json:"cpu_ns"`
}

// Start launches a worker and waits until zxingcpp is imported.
func Start() (*Reader, error) {
	cmd := exec.Command(Python, "-c", worker)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	r := &Reader{cmd: cmd, in: in, out: bufio.NewReader(out)}
	rep, err := r.reply()
	if err != nil || !rep.Ready {
		r.Close()
		if rep.Error != "" {
			return nil, fmt.Errorf("%w: %s", ErrUnavailable, rep.Error)
		}
		return nil, fmt.Errorf("%w: worker did not start: %v %s", ErrUnavailable, err, strings.TrimSpace(stderr.String()))
	}
	return r, nil
}

func (r *Reader) reply() (reply, error) {
	line, err := r.out.ReadBytes('\n')
	if err != nil {
		return reply{}, fmt.Errorf("zxingcpp: worker: %w", err)
	}
	var rep reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return reply{}, fmt.Errorf("zxingcpp: worker reply %q: %w", line, err)
	}
	return rep, nil
}

// Read sends one grey frame to the worker and returns what it read.
func (r *Reader) Read(img *image.Gray) (Result, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 1 || h < 1 {
		return Result{}, fmt.Errorf("zxingcpp: empty frame %dx%d", w, h)
	}
	hdr := fmt.Sprintf("%d %d\n", w, h)
	n := len(hdr) + w*h
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	buf := r.buf[:n]
	copy(buf, hdr)
	for y := 0; y < h; y++ {
		off := (b.Min.Y-img.Rect.Min.Y+y)*img.Stride + (b.Min.X - img.Rect.Min.X)
		copy(buf[len(hdr)+y*w:], img.Pix[off:off+w])
	}
	if _, err := r.in.Write(buf); err != nil {
		return Result{}, fmt.Errorf("zxingcpp: write frame: %w", err)
	}
	rep, err := r.reply()
	if err != nil {
		return Result{}, err
	}
	return Result{Texts: rep.Texts, Elapsed: time.Duration(rep.NS), CPU: time.Duration(rep.CPUNS)}, nil
}

// Close stops the worker.
func (r *Reader) Close() error {
	r.in.Close()
	return r.cmd.Wait()
}
