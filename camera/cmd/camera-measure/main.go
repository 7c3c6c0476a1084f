// Command camera-measure prints the camera stage's figures on this machine:
// the latency from a frame leaving a camera server to Next returning it,
// and the CPU the stage uses per minute at full rate and in low-power mode.
//
// A child process serves a 640×480 MJPEG stream at 30 fps on loopback, in
// place of a USB or phone camera; the parent reads it through
// camera.OpenLive and measures only its own CPU (getrusage RUSAGE_SELF).
// Each frame carries its index in 16 black/white blocks, so the parent
// knows when the child sent it.
//
//	go run ./camera/cmd/camera-measure [-secs 15] [-busy 40ms]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kipass/kipass/camera"
)

const (
	width, height = 640, 480
	fps           = 30
	blocks        = 16
)

func main() {
	serve := flag.String("serve", "", "internal: serve the stream on this address")
	secs := flag.Float64("secs", 15, "seconds per CPU measurement")
	busy := flag.Duration("busy", 40*time.Millisecond, "time a simulated decoder spends per frame in the busy-consumer latency run")
	flag.Parse()
	if *serve != "" {
		serveStream(*serve)
		return
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	child := exec.Command(os.Args[0], "-serve", addr)
	child.Stderr = os.Stderr
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		fail(err)
	}
	defer child.Process.Kill()
	sendTimes := newSendLog()
	go sendTimes.follow(stdout)
	waitListening(addr)

	fmt.Printf("camera stage on a %dx%d MJPEG stream at %d fps from a loopback server (child process)\n", width, height, fps)
	fmt.Printf("OpenCV linked: %v\n\n", camera.HaveOpenCV)
	specs := []string{"mjpeg+http://" + addr + "/"}
	if camera.HaveOpenCV {
		specs = append(specs, "http://"+addr+"/") // gocv VideoCapture, FFMPEG backend
	}
	for _, spec := range specs {
		name := "pure-Go MJPEG client"
		if !strings.HasPrefix(spec, "mjpeg+") {
			name = "gocv VideoCapture (FFMPEG)"
		}
		fmt.Printf("== %s (%s)\n", name, spec)
		latency(spec, sendTimes, 0, "idle consumer")
		latency(spec, sendTimes, *busy, fmt.Sprintf("consumer busy %v per frame", *busy))
		cpu(spec, sendTimes, *secs)
		fmt.Println()
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "camera-measure:", err)
	os.Exit(1)
}

func waitListening(addr string) {
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	fail(fmt.Errorf("server on %s did not start", addr))
}

// frameImage draws frame i: a mid-grey scene with the index in blocks
// along the top.
func frameImage(i int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, width, height))
	for p := range g.Pix {
		g.Pix[p] = 128
	}
	bw := width / blocks
	for b := 0; b < blocks; b++ {
		v := uint8(0)
		if i>>b&1 == 1 {
			v = 255
		}
		for y := 0; y < 40; y++ {
			for x := b * bw; x < (b+1)*bw; x++ {
				g.Pix[y*g.Stride+x] = v
			}
		}
	}
	return g
}

// frameIndex reads the index back from a received frame.
func frameIndex(g *image.Gray) int {
	bw := g.Rect.Dx() / blocks
	i := 0
	for b := 0; b < blocks; b++ {
		if g.GrayAt(b*bw+bw/2, 20).Y > 128 {
			i |= 1 << b
		}
	}
	return i
}

// serveStream is the child: it pre-encodes 256 frames and serves them in
// a loop at fps, printing "index unixnano" for each frame it sends.
func serveStream(addr string) {
	var jpegs [][]byte
	for i := 0; i < 256; i++ {
		var b bytes.Buffer
		jpeg.Encode(&b, frameImage(i), &jpeg.Options{Quality: 80})
		jpegs = append(jpegs, b.Bytes())
	}
	var mu sync.Mutex
	counter := 0
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=frame")
		fl := w.(http.Flusher)
		tick := time.NewTicker(time.Second / fps)
		defer tick.Stop()
		for {
			mu.Lock()
			counter++
			idx := counter % 65536
			mu.Unlock()
			j := jpegs[idx%256]
			// The index must be unique for the parent: encode it freshly
			// when it leaves the pre-encoded range.
			if idx >= 256 {
				var b bytes.Buffer
				jpeg.Encode(&b, frameImage(idx), &jpeg.Options{Quality: 80})
				j = b.Bytes()
			}
			fmt.Fprintf(w, "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", len(j))
			w.Write(j)
			w.Write([]byte("\r\n"))
			fl.Flush()
			fmt.Printf("%d %d\n", idx, time.Now().UnixNano())
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	})
	http.ListenAndServe(addr, nil)
}

// sendLog maps frame indices to the time the child sent them.
type sendLog struct {
	mu sync.Mutex
	at map[int]time.Time
}

func newSendLog() *sendLog { return &sendLog{at: map[int]time.Time{}} }

func (s *sendLog) follow(r interface{ Read([]byte) (int, error) }) {
	var idx int
	var ns int64
	for {
		if _, err := fmt.Fscan(r, &idx, &ns); err != nil {
			return
		}
		s.mu.Lock()
		s.at[idx] = time.Unix(0, ns)
		s.mu.Unlock()
	}
}

func (s *sendLog) get(i int) (time.Time, bool) {
	for try := 0; try < 50; try++ {
		s.mu.Lock()
		t, ok := s.at[i]
		s.mu.Unlock()
		if ok {
			return t, true
		}
		time.Sleep(time.Millisecond)
	}
	return time.Time{}, false
}

// latency reads 150 frames and prints percentiles of sent→Next and
// At→Next.
func latency(spec string, sent *sendLog, busy time.Duration, label string) {
	live, err := camera.OpenLive(spec, camera.Options{IdleAfter: -1})
	if err != nil {
		fail(err)
	}
	defer live.Close()
	ctx := context.Background()
	var wire, handoff []time.Duration
	var seqGaps uint64
	var lastSeq uint64
	for n := 0; n < 150+10; n++ {
		f, err := live.Next(ctx)
		if err != nil {
			fail(err)
		}
		now := time.Now()
		if n < 10 { // warm-up
			lastSeq = f.Seq
			continue
		}
		if f.Seq > lastSeq+1 {
			seqGaps += f.Seq - lastSeq - 1
		}
		lastSeq = f.Seq
		handoff = append(handoff, now.Sub(f.At))
		if t, ok := sent.get(frameIndex(f.Gray)); ok {
			wire = append(wire, now.Sub(t))
		}
		if busy > 0 {
			time.Sleep(busy)
		}
	}
	fmt.Printf("  latency, %s: server send → Next %s; capture (Frame.At) → Next %s; frames dropped as stale: %d\n",
		label, pct(wire), pct(handoff), seqGaps)
}

func pct(d []time.Duration) string {
	if len(d) == 0 {
		return "n/a"
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	ms := func(x time.Duration) string { return fmt.Sprintf("%.2f", float64(x)/1e6) }
	return fmt.Sprintf("p50 %s / p95 %s / max %s ms (n=%d)", ms(d[len(d)/2]), ms(d[len(d)*95/100]), ms(d[len(d)-1]), len(d))
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpu measures CPU seconds per minute with a consumer that takes every
// frame, first at full rate and then in low-power mode (a static scene,
// IdleAfter 1 s, LowFPS 2).
func cpu(spec string, sent *sendLog, secs float64) {
	for _, low := range []bool{false, true} {
		o := camera.Options{IdleAfter: -1}
		if low {
			o = camera.Options{IdleAfter: time.Second, LowFPS: 2, MotionThreshold: 1000}
		}
		live, err := camera.OpenLive(spec, o)
		if err != nil {
			fail(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		// Settle: open, and in low mode wait to enter low power.
		settle := time.Now().Add(2 * time.Second)
		for time.Now().Before(settle) {
			if _, err := live.Next(ctx); err != nil {
				fail(err)
			}
		}
		if low && !live.Health().LowPower {
			fail(fmt.Errorf("did not enter low-power mode"))
		}
		c0, t0 := cpuTime(), time.Now()
		frames := 0
		var age []time.Duration
		end := t0.Add(time.Duration(secs * float64(time.Second)))
		for time.Now().Before(end) {
			f, err := live.Next(ctx)
			if err != nil {
				fail(err)
			}
			if t, ok := sent.get(frameIndex(f.Gray)); ok {
				age = append(age, time.Since(t))
			}
			frames++
		}
		c1, t1 := cpuTime(), time.Now()
		cancel()
		live.Close()
		wall := t1.Sub(t0).Seconds()
		mode := "full rate   "
		if low {
			mode = "low power   "
		}
		fmt.Printf("  CPU, %s: %.2f CPU-s per minute (%.1f%% of one core), %.1f frames/s delivered, over %.0f s; frame age at Next %s\n",
			mode, (c1-c0).Seconds()/wall*60, (c1-c0).Seconds()/wall*100, float64(frames)/wall, wall, pct(age))
	}
}
