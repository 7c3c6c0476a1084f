//go:build cgo && linux && !android && !noaudio

package audio

// The real playback test. ALSA is pointed (through ALSA_CONFIG_PATH, in a
// child process, since alsa-lib reads its config once per process) at a
// config whose default PCM is
//
//	plug (mono FLOAT_LE 16 kHz → 16 ch S32_LE 16 kHz; no resampling, and
//	      32-bit integers hold a float32's 24-bit mantissa exactly)
//	  → file plugin, slave null, output piped to "| audio.test (reader)"
//
// The reader is this test binary again. It paces its reads at the stream's
// real-time byte rate, which is what paces oto (the null slave does no
// pacing), and records when each chunk arrived. The 16-channel S32 format
// makes the byte rate 1 MB/s, so the smallest pipe (4 KiB, set with
// F_SETPIPE_SZ) holds only 4 ms: the arrival time of a sample is within 4 ms
// of the moment ALSA let go of it. The file plugin itself holds back one
// device buffer, as a sound card's ring buffer would.
//
// Measure: go test ./audio -run 'TestPlayback$' -count=1 -v
// (KIPASS_AUDIO_BUFFER=20ms sets Options.Buffer for the measurement.)

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	fileChannels   = 16
	fileFrameBytes = fileChannels * 4 // S32_LE
	fileByteRate   = SampleRate * fileFrameBytes
	pipeSize       = 4096
	fSetPipeSz     = 1031 // F_SETPIPE_SZ
)

func init() {
	helperMain = func() (int, bool) {
		if os.Getenv("KIPASS_AUDIO_READER") == "" {
			return 0, false
		}
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "reader: want OUT LOG")
			return 2, true
		}
		if err := runReader(os.Args[1], os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "reader:", err)
			return 1, true
		}
		return 0, true
	}
}

// runReader copies stdin to out at fileByteRate and logs, per read, the
// wall time and the byte offset. The log is renamed into place when stdin
// ends, which tells the test the stream is complete.
func runReader(out, logPath string) error {
	// The pipe is shrunk to pipeSize so that ALSA cannot run ahead of the
	// paced reader by more than a few milliseconds; the default 64 KiB
	// would add 64 ms to the measured latency.
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var lines strings.Builder
	buf := make([]byte, pipeSize)
	var total int64
	var (
		start time.Time // pacing starts once the pipe is small
		base  int64     // bytes read before that
		tries int
	)
	for {
		if start.IsZero() {
			// F_SETPIPE_SZ fails with EBUSY while the pipe holds more
			// than the new size: read (unpaced) until it succeeds.
			_, _, errno := syscall.Syscall(syscall.SYS_FCNTL, 0, fSetPipeSz, pipeSize)
			if tries++; errno == 0 || tries > 1000 {
				if errno != 0 {
					fmt.Fprintf(os.Stderr, "reader: cannot shrink the pipe: %v\n", errno)
				}
				start, base = time.Now(), total
			}
		} else {
			due := start.Add(time.Duration(total-base) * time.Second / fileByteRate)
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		n, rerr := os.Stdin.Read(buf)
		if n > 0 {
			now := time.Now()
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			fmt.Fprintf(&lines, "%d %d %d\n", now.UnixNano(), total, n)
			total += int64(n)
		}
		if rerr != nil {
			break
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(logPath+".tmp", []byte(lines.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(logPath+".tmp", logPath)
}

// alsaFileConfig returns an ALSA config with a PCM `name` that records
// into out through the paced reader, and makes it the default PCM. With
// systemDefault set, the default is instead defined like a box's
// /etc/asound.conf or ~/.asoundrc would: in a file loaded by a hook.
func alsaFileConfig(t *testing.T, name, out, logPath string, systemDefault string) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	plug := fmt.Sprintf(`{ type plug slave { pcm "kipass_file" format S32_LE channels %d rate %d } }`, fileChannels, SampleRate)
	top := "pcm.!default " + plug
	if systemDefault != "" {
		sys := filepath.Join(filepath.Dir(out), "system.conf")
		if err := os.WriteFile(sys, []byte("pcm.!default "+systemDefault+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		top = fmt.Sprintf(`@hooks [ { func load files [ "%s" ] } ]`, sys)
	}
	return fmt.Sprintf(`%s
pcm.%s %s
pcm.kipass_file {
	type file
	slave.pcm { type null }
	file "| KIPASS_AUDIO_READER=1 exec '%s' '%s' '%s'"
	format "raw"
}
`, top, name, plug, exe, out, logPath)
}

// event is one Say made by the child, as reported to the parent.
type event struct {
	Prompt Prompt
	Tone   bool
	Lang   string
	Gain   float64
	SayNs  int64
	CallNs int64 // how long the Say call itself took
}

// runChild runs TestPlaybackChild in a subprocess with the given ALSA
// config and scenario, and returns its output.
func runChild(t *testing.T, scenario, alsaConf, events string) string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "asound.conf")
	if err := os.WriteFile(conf, []byte(alsaConf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPlaybackChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"ALSA_CONFIG_PATH="+conf,
		"KIPASS_AUDIO_CHILD="+scenario,
		"KIPASS_AUDIO_EVENTS="+events,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", scenario, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestPlaybackChild") {
		t.Fatalf("child %s did not run:\n%s", scenario, out)
	}
	return string(out)
}

// TestPlaybackChild is the child side of the playback tests; it does
// nothing unless started by them.
func TestPlaybackChild(t *testing.T) {
	scenario := os.Getenv("KIPASS_AUDIO_CHILD")
	if scenario == "" {
		t.Skip("child process of TestPlayback; run by it")
	}
	logs := &recorder{}
	log := slog.New(logs)
	var events []event
	say := func(s Speaker, cfg Options, p Prompt) {
		c, _ := cfg.normalize()
		ch := newPolicy(c).choose()
		ev := event{Prompt: p, Tone: ch.tone, Lang: c.Language, Gain: ch.gain, SayNs: time.Now().UnixNano()}
		if err := s.Say(p); err != nil {
			t.Fatalf("Say(%v): %v", p, err)
		}
		ev.CallNs = time.Now().UnixNano() - ev.SayNs
		events = append(events, ev)
	}
	open := func(cfg Options) Speaker {
		s, err := Open(cfg, log)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
	buffer, _ := time.ParseDuration(os.Getenv("KIPASS_AUDIO_BUFFER")) // measurement knob; 0 = DefaultBuffer
	switch scenario {
	case "main":
		voice := Options{Volume: 0.5, Buffer: buffer}
		s := open(voice)
		if _, ok := s.(*otoSpeaker); !ok {
			t.Fatalf("Open gave %T, want the oto speaker; log:\n%s", s, logs)
		}
		time.Sleep(300 * time.Millisecond) // let the stream settle
		say(s, voice, Verified)
		time.Sleep(1700 * time.Millisecond)
		say(s, voice, Expired)
		time.Sleep(400 * time.Millisecond)
		say(s, voice, Verified) // cuts Expired off
		time.Sleep(1700 * time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Say(Verified); err != ErrClosed {
			t.Fatalf("Say after Close: %v, want ErrClosed", err)
		}
		tones := Options{Tones: true, Language: "en", Buffer: buffer}
		s = open(tones)
		for round := 0; round < 2; round++ {
			for i, p := range Prompts() {
				say(s, tones, p)
				// 550..590 ms apart, so the onsets fall at
				// different phases of the device period.
				time.Sleep(550*time.Millisecond + time.Duration(round*6+i)*3*time.Millisecond)
			}
		}
		// The file plugin holds back one device buffer: let it out
		// before the process exits.
		time.Sleep(300*time.Millisecond + 2*max(buffer, DefaultBuffer))
		_ = s.Close()
	case "device":
		cfg := Options{Device: "kipass_out", Language: "en"}
		s := open(cfg)
		if _, ok := s.(*otoSpeaker); !ok {
			t.Fatalf("Open(Device kipass_out) gave %T; log:\n%s", s, logs)
		}
		time.Sleep(300 * time.Millisecond)
		say(s, cfg, Invalid)
		time.Sleep(2300 * time.Millisecond)
		_ = s.Close()
	case "nodevice":
		s, err := Open(Options{}, log)
		if err != nil {
			t.Fatalf("Open without a device must not fail: %v", err)
		}
		if _, ok := s.(*silent); !ok {
			t.Fatalf("Open without a device gave %T, want the silent speaker", s)
		}
		for _, p := range Prompts() {
			if err := s.Say(p); err != nil {
				t.Fatalf("silent Say(%v): %v", p, err)
			}
		}
		// A second Open in the same process: again one warning, no error.
		s2, err := Open(Options{Tones: true}, log)
		if err != nil {
			t.Fatal(err)
		}
		_ = s2.Say(Verified)
		_ = s.Close()
		_ = s2.Close()
		warns, infos := logs.count(slog.LevelWarn), logs.count(slog.LevelInfo)
		if warns != 2 {
			t.Fatalf("want one warning per Open (2), got %d:\n%s", warns, logs)
		}
		if infos != len(Prompts())+1 {
			t.Fatalf("want one Info per prompt (%d), got %d:\n%s", len(Prompts())+1, infos, logs)
		}
		if !strings.Contains(logs.String(), "no sound device") {
			t.Fatalf("warning does not say what is wrong:\n%s", logs)
		}
		t.Logf("log:\n%s", logs)
	default:
		t.Fatalf("unknown scenario %q", scenario)
	}
	data, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(os.Getenv("KIPASS_AUDIO_EVENTS"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// chunk is one read of the paced reader.
type chunk struct {
	ns       int64
	off, len int64
}

// recording is what reached the ALSA file plugin: channel 0 of the stream
// and the arrival time of each chunk.
type recording struct {
	samples []float64
	chunks  []chunk
}

// loadRecording waits for the reader to finish and loads its output.
func loadRecording(t *testing.T, out, logPath string) recording {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(logPath); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ALSA pipe reader did not finish (%s)", logPath)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var r recording
	logData, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(logData)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		ns, _ := strconv.ParseInt(f[0], 10, 64)
		off, _ := strconv.ParseInt(f[1], 10, 64)
		n, _ := strconv.ParseInt(f[2], 10, 64)
		r.chunks = append(r.chunks, chunk{ns, off, n})
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	frames := len(raw) / fileFrameBytes
	r.samples = make([]float64, frames)
	for i := range r.samples {
		r.samples[i] = float64(int32(binary.LittleEndian.Uint32(raw[i*fileFrameBytes:]))) / (1 << 31)
	}
	if frames == 0 || len(r.chunks) == 0 {
		t.Fatalf("nothing reached the ALSA file plugin (%d bytes)", len(raw))
	}
	return r
}

// frameAfter returns the first frame read at or after ns: a sound asked
// for at ns cannot start before it.
func (r recording) frameAfter(ns int64) int {
	i := sort.Search(len(r.chunks), func(i int) bool { return r.chunks[i].ns >= ns })
	if i == len(r.chunks) {
		return len(r.samples)
	}
	return int(r.chunks[i].off / fileFrameBytes)
}

// readAt returns when the chunk holding frame f was read.
func (r recording) readAt(f int) int64 {
	b := int64(f) * fileFrameBytes
	i := sort.Search(len(r.chunks), func(i int) bool { return r.chunks[i].off+r.chunks[i].len > b })
	if i == len(r.chunks) {
		return r.chunks[len(r.chunks)-1].ns
	}
	return r.chunks[i].ns
}

// ncc is the normalised correlation of a and b over min(len) samples.
func ncc(a []float64, b []float32) float64 {
	var ab, aa, bb float64
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := a[i], float64(b[i])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// fitGain is the least-squares gain g minimising |a - g·b|.
func fitGain(a []float64, b []float32) float64 {
	var ab, bb float64
	for i := 0; i < min(len(a), len(b)); i++ {
		ab += a[i] * float64(b[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if bb == 0 {
		return 0
	}
	return ab / bb
}

// locate finds where ref starts in rec within [from, to).
func locate(rec []float64, ref []float32, from, to int) (int, float64) {
	head := ref[:min(len(ref), 512)]
	best, bestC := -1, -2.0
	for lag := from; lag < to && lag+len(head) <= len(rec); lag++ {
		if c := ncc(rec[lag:lag+len(head)], head); c > bestC {
			best, bestC = lag, c
		}
	}
	return best, bestC
}

// expected returns the clip the child played for ev.
func expected(t *testing.T, ev event) Clip {
	t.Helper()
	if ev.Tone {
		return Tone(ev.Prompt, SampleRate)
	}
	c, err := EmbeddedClip(ev.Lang, ev.Prompt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// placed is an event found in the recording.
type placed struct {
	ev      event
	clip    Clip
	onset   int // frame
	latency time.Duration
}

// place finds every event's clip in the recording and checks the samples
// match: the played part (up to the next prompt's onset) must correlate
// with the clip at ≥ 0.99 and carry the configured gain within 2 %.
func place(t *testing.T, r recording, events []event) []placed {
	t.Helper()
	var ps []placed
	for _, ev := range events {
		c := expected(t, ev)
		from := r.frameAfter(ev.SayNs)
		onset, corr := locate(r.samples, c.Samples, from, from+SampleRate)
		if onset < 0 || corr < 0.99 {
			t.Fatalf("%v (%s) not found within 1 s of Say: best correlation %.3f", ev.Prompt, kindOf(ev), corr)
		}
		ps = append(ps, placed{ev: ev, clip: c, onset: onset,
			latency: time.Duration(r.readAt(onset) - ev.SayNs)})
	}
	for i, p := range ps {
		end := p.onset + len(p.clip.Samples)
		if i+1 < len(ps) && ps[i+1].onset < end {
			// Cut off by the next prompt: the switch lands on a buffer
			// boundary near the next onset, so the last 20 ms before it
			// may hold either clip and are not compared.
			end = max(p.onset+1, ps[i+1].onset-SampleRate/50)
		}
		if end > len(r.samples) {
			t.Fatalf("%v: recording ends before the clip (%d > %d frames)", p.ev.Prompt, end, len(r.samples))
		}
		seg := r.samples[p.onset:end]
		corr := ncc(seg, p.clip.Samples)
		gain := fitGain(seg, p.clip.Samples)
		if corr < 0.99 || math.Abs(gain-p.ev.Gain) > 0.02*p.ev.Gain {
			t.Errorf("%v (%s): played samples do not match the clip: correlation %.4f, gain %.3f (want %.3f)",
				p.ev.Prompt, kindOf(p.ev), corr, gain, p.ev.Gain)
		}
		t.Logf("%-16s %-5s onset frame %7d, %5d of %5d samples played, corr %.5f, gain %.3f, Say→first sample %5.1f ms",
			p.ev.Prompt, kindOf(p.ev), p.onset, end-p.onset, len(p.clip.Samples), corr, gain, ms(p.latency))
	}
	return ps
}

func kindOf(ev event) string {
	if ev.Tone {
		return "tone"
	}
	return "voice"
}

// TestPlayback plays voice prompts and tones through the real oto → ALSA
// path into the file plugin, checks that the written samples are the clips
// (volume applied, a new Say cutting the old one off), and prints the
// Say-to-first-sample latency.
func TestPlayback(t *testing.T) {
	dir := t.TempDir()
	out, logPath := filepath.Join(dir, "out.raw"), filepath.Join(dir, "reader.log")
	events := filepath.Join(dir, "events.json")
	runChild(t, "main", alsaFileConfig(t, "kipass_out", out, logPath, ""), events)
	r := loadRecording(t, out, logPath)
	var evs []event
	data, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &evs); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %.2f s through ALSA (%d reads)", float64(len(r.samples))/SampleRate, len(r.chunks))
	ps := place(t, r, evs)

	// Cut-off: the second prompt (Expired) is interrupted by the third
	// (Verified) after ~400 ms, and nothing of it resumes afterwards.
	exp, ver := ps[1], ps[2]
	if exp.ev.Prompt != Expired || ver.ev.Prompt != Verified {
		t.Fatalf("unexpected scenario order: %v, %v", exp.ev.Prompt, ver.ev.Prompt)
	}
	played := ver.onset - exp.onset
	if played >= len(exp.clip.Samples) {
		t.Errorf("Expired was not cut off: %d of %d samples played", played, len(exp.clip.Samples))
	}
	after := r.samples[ver.onset+len(ver.clip.Samples) : ver.onset+len(ver.clip.Samples)+SampleRate/5]
	for i, v := range after {
		if math.Abs(v) > 1e-4 {
			t.Errorf("sound %.4f at %d ms after Verified ended: the cut-off prompt resumed", v, i*1000/SampleRate)
			break
		}
	}

	var lat, call []float64
	for _, p := range ps {
		lat = append(lat, ms(p.latency))
		call = append(call, float64(p.ev.CallNs)/1e6)
	}
	sort.Float64s(lat)
	sort.Float64s(call)
	t.Logf("Say call returns in: median %.3f ms, max %.3f ms (playback continues in oto)", call[len(call)/2], call[len(call)-1])
	buffer := DefaultBuffer
	if b, err := time.ParseDuration(os.Getenv("KIPASS_AUDIO_BUFFER")); err == nil && b > 0 {
		buffer = b
	}
	t.Logf("Say → first sample written by ALSA, %d prompts: min %.1f ms, median %.1f ms, max %.1f ms (device buffer %v; includes ≤ %.0f ms of pipe)",
		len(lat), lat[0], lat[len(lat)/2], lat[len(lat)-1], buffer, float64(pipeSize)*1000/fileByteRate)
}

// TestPlaybackDevice checks Options.Device: the box's ALSA config (loaded by
// a hook, as /etc/asound.conf and ~/.asoundrc are) makes the default PCM a
// nonexistent card, and the prompt must still reach the named PCM.
func TestPlaybackDevice(t *testing.T) {
	dir := t.TempDir()
	out, logPath := filepath.Join(dir, "out.raw"), filepath.Join(dir, "reader.log")
	events := filepath.Join(dir, "events.json")
	runChild(t, "device", alsaFileConfig(t, "kipass_out", out, logPath, `{ type hw card 99 }`), events)
	r := loadRecording(t, out, logPath)
	var evs []event
	data, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &evs); err != nil {
		t.Fatal(err)
	}
	place(t, r, evs)
}

// TestNoDevice points ALSA at a card that does not exist: Open must not
// fail, must warn once and must return a speaker that logs each prompt.
func TestNoDevice(t *testing.T) {
	dir := t.TempDir()
	out := runChild(t, "nodevice", "pcm.!default { type hw card 99 }\n", filepath.Join(dir, "events.json"))
	if strings.Contains(out, "ALSA lib") {
		t.Errorf("alsa-lib printed its own errors; want only our one warning:\n%s", out)
	}
}
