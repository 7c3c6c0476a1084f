package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
)

func rms(s []float32) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(s), 1)))
}

// TestEveryPromptHasClipAndTone guards the verdict → prompt mapping: every
// prompt has a name, a voice clip in every language and a tone, and the
// embedded set has no stray files.
func TestEveryPromptHasClipAndTone(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Prompts() {
		name := p.String()
		if seen[name] || strings.HasPrefix(name, "prompt(") {
			t.Fatalf("prompt %d has a bad or duplicate name %q", int(p), name)
		}
		seen[name] = true
		if q, err := ParsePrompt(name); err != nil || q != p {
			t.Errorf("ParsePrompt(%q) = %v, %v", name, q, err)
		}
		for _, lang := range Languages {
			t.Run(lang+"/"+name, func(t *testing.T) {
				c, err := EmbeddedClip(lang, p)
				if err != nil {
					t.Fatal(err)
				}
				d := c.Duration()
				if c.Rate != SampleRate || d < 300*time.Millisecond || d > 5*time.Second {
					t.Errorf("clip %v at %d Hz: want 0.3..5 s at %d Hz", d, c.Rate, SampleRate)
				}
				if r := rms(c.Samples); r < 0.05 {
					t.Errorf("clip is nearly silent (RMS %.4f)", r)
				}
				// Trimmed: sound within the first and last 30 ms.
				edge := SampleRate * 30 / 1000
				if rms(c.Samples[:edge]) < 1e-3 || rms(c.Samples[len(c.Samples)-edge:]) < 1e-4 {
					t.Errorf("clip has untrimmed silence at an end (head RMS %.5f, tail RMS %.5f)",
						rms(c.Samples[:edge]), rms(c.Samples[len(c.Samples)-edge:]))
				}
			})
		}
		tone := Tone(p, SampleRate)
		if d := tone.Duration(); d < 100*time.Millisecond || d > 600*time.Millisecond {
			t.Errorf("tone %v lasts %v: want a short tone (0.1..0.6 s)", p, d)
		}
		for _, v := range tone.Samples {
			if v > 1 || v < -1 || math.IsNaN(float64(v)) {
				t.Fatalf("tone %v has sample %v out of range", p, v)
			}
		}
	}
	script, err := os.ReadFile(filepath.Join("prompts", "make-prompts.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range Languages {
		for _, p := range Prompts() {
			text := p.Text(lang)
			spoken := strings.ReplaceAll(text, "QR코드", "큐알코드")
			line := fmt.Sprintf("say %s ", lang)
			found := false
			for _, l := range strings.Split(string(script), "\n") {
				if strings.HasPrefix(l, line) && strings.Contains(l, " "+p.String()+" ") && strings.Contains(l, "'"+spoken+"'") {
					found = true
				}
			}
			if text == "" || !found {
				t.Errorf("%s/%v: text %q is not what make-prompts.sh speaks", lang, p, text)
			}
		}
	}
	err = fs.WalkDir(promptFS, "prompts", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := strings.TrimSuffix(filepath.Base(path), ".wav")
		if _, perr := ParsePrompt(base); perr != nil {
			t.Errorf("embedded %s belongs to no prompt", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTonesAreDistinct: no two outcomes may sound alike. Each pair differs
// in length by ≥ 30 ms or correlates below 0.5 at their common start.
func TestTonesAreDistinct(t *testing.T) {
	ps := Prompts()
	for i, a := range ps {
		for _, b := range ps[i+1:] {
			ta, tb := Tone(a, SampleRate), Tone(b, SampleRate)
			n := min(len(ta.Samples), len(tb.Samples))
			var ab, aa, bb float64
			for k := 0; k < n; k++ {
				x, y := float64(ta.Samples[k]), float64(tb.Samples[k])
				ab, aa, bb = ab+x*y, aa+x*x, bb+y*y
			}
			corr := ab / math.Sqrt(aa*bb)
			dlen := ta.Duration() - tb.Duration()
			if dlen < 0 {
				dlen = -dlen
			}
			if corr > 0.5 && dlen < 30*time.Millisecond {
				t.Errorf("tones %v and %v are alike: correlation %.2f, length difference %v", a, b, corr, dlen)
			}
		}
	}
}

func TestPromptString(t *testing.T) {
	if got := Prompt(42).String(); got != "prompt(42)" {
		t.Errorf("String of an unknown prompt = %q", got)
	}
	if _, err := ParsePrompt("hello"); !errors.Is(err, ErrConfig) {
		t.Errorf("ParsePrompt(hello) = %v, want ErrConfig", err)
	}
}

// wavBytes builds a WAV file by hand (format tag, bits, channels) from
// interleaved samples in [-1, 1].
func wavBytes(tag uint16, bits, channels int, rate int, samples []float64, extensible bool) []byte {
	var data []byte
	for _, v := range samples {
		switch {
		case tag == 1 && bits == 8:
			data = append(data, byte(int(math.Round(v*127))+128))
		case tag == 1 && bits == 16:
			data = binary.LittleEndian.AppendUint16(data, uint16(int16(math.Round(v*32767))))
		case tag == 1 && bits == 24:
			x := int32(math.Round(v * 8388607))
			data = append(data, byte(x), byte(x>>8), byte(x>>16))
		case tag == 1 && bits == 32:
			data = binary.LittleEndian.AppendUint32(data, uint32(int32(math.Round(v*2147483647))))
		case tag == 3 && bits == 32:
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32(v)))
		case tag == 3 && bits == 64:
			data = binary.LittleEndian.AppendUint64(data, math.Float64bits(v))
		default:
			data = append(data, make([]byte, bits/8)...)
		}
	}
	block := channels * bits / 8
	var fmtc []byte
	ftag := tag
	if extensible {
		ftag = 0xFFFE
	}
	fmtc = binary.LittleEndian.AppendUint16(fmtc, ftag)
	fmtc = binary.LittleEndian.AppendUint16(fmtc, uint16(channels))
	fmtc = binary.LittleEndian.AppendUint32(fmtc, uint32(rate))
	fmtc = binary.LittleEndian.AppendUint32(fmtc, uint32(rate*block))
	fmtc = binary.LittleEndian.AppendUint16(fmtc, uint16(block))
	fmtc = binary.LittleEndian.AppendUint16(fmtc, uint16(bits))
	if extensible {
		fmtc = binary.LittleEndian.AppendUint16(fmtc, 22)
		fmtc = binary.LittleEndian.AppendUint16(fmtc, uint16(bits))
		fmtc = binary.LittleEndian.AppendUint32(fmtc, 0)
		fmtc = binary.LittleEndian.AppendUint16(fmtc, tag)
		fmtc = append(fmtc, make([]byte, 14)...)
	}
	var b []byte
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(4+8+len(fmtc)+8+len(data)+8+2))
	b = append(b, "WAVE"...)
	b = append(b, "fmt "...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(fmtc)))
	b = append(b, fmtc...)
	b = append(b, "LIST"...) // an odd-sized chunk to skip, with its pad byte
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = append(b, 'x', 0)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

func TestDecodeWAV(t *testing.T) {
	// A 440 Hz sine, 50 ms, left and right channels opposite halves so the
	// mono mix is predictable: mono = (l+r)/2.
	const rate = 8000
	var mono, stereo []float64
	for i := 0; i < rate/20; i++ {
		v := 0.8 * math.Sin(2*math.Pi*440*float64(i)/rate)
		mono = append(mono, v)
		stereo = append(stereo, v, v/2)
	}
	cases := []struct {
		name       string
		tag        uint16
		bits, ch   int
		extensible bool
		tol        float64
	}{
		{"pcm8 mono", 1, 8, 1, false, 1.0 / 100},
		{"pcm16 mono", 1, 16, 1, false, 1e-4},
		{"pcm16 stereo", 1, 16, 2, false, 1e-4},
		{"pcm24 stereo", 1, 24, 2, false, 1e-6},
		{"pcm32 mono", 1, 32, 1, false, 1e-6},
		{"float32 stereo", 3, 32, 2, false, 1e-6},
		{"float64 mono", 3, 64, 1, false, 1e-6},
		{"extensible pcm24", 1, 24, 2, true, 1e-6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := mono
			if tc.ch == 2 {
				in = stereo
			}
			c, err := DecodeWAV(wavBytes(tc.tag, tc.bits, tc.ch, rate, in, tc.extensible))
			if err != nil {
				t.Fatal(err)
			}
			if c.Rate != rate || len(c.Samples) != len(mono) {
				t.Fatalf("got %d samples at %d Hz, want %d at %d", len(c.Samples), c.Rate, len(mono), rate)
			}
			for i, v := range c.Samples {
				want := mono[i]
				if tc.ch == 2 {
					want = (mono[i] + mono[i]/2) / 2
				}
				if math.Abs(float64(v)-want) > tc.tol {
					t.Fatalf("sample %d = %v, want %v", i, v, want)
				}
			}
		})
	}

	good := wavBytes(1, 16, 1, rate, mono, false)
	bad := map[string][]byte{
		"empty":          nil,
		"not riff":       []byte("this is not a wav file at all"),
		"truncated fmt":  good[:20],
		"no data":        good[:12+8+16],
		"adpcm":          wavBytes(2, 4, 1, rate, mono, false),
		"zero channels":  wavBytes(1, 16, 0, rate, nil, false),
		"absurd rate":    wavBytes(1, 16, 1, 1, mono, false),
		"no samples":     wavBytes(1, 16, 1, rate, nil, false),
		"mp3 with a wav": append([]byte("ID3\x03"), good...),
	}
	for name, b := range bad {
		if _, err := DecodeWAV(b); !errors.Is(err, ErrWAV) {
			t.Errorf("%s: err = %v, want ErrWAV", name, err)
		}
	}
}

func TestWAVRoundTripAndResample(t *testing.T) {
	c, err := EmbeddedClip("ko", Verified)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeWAV(c.EncodeWAV())
	if err != nil {
		t.Fatal(err)
	}
	if back.Rate != c.Rate || len(back.Samples) != len(c.Samples) {
		t.Fatalf("round trip changed the clip: %d@%d → %d@%d", len(c.Samples), c.Rate, len(back.Samples), back.Rate)
	}
	for i := range c.Samples {
		if math.Abs(float64(c.Samples[i]-back.Samples[i])) > 1.0/32767 {
			t.Fatalf("sample %d: %v → %v", i, c.Samples[i], back.Samples[i])
		}
	}
	up := c.Resample(48000)
	if want := len(c.Samples) * 3; up.Rate != 48000 || len(up.Samples) != want {
		t.Fatalf("resample to 48 kHz: %d samples, want %d", len(up.Samples), want)
	}
	down := up.Resample(SampleRate)
	var diff float64
	for i := range c.Samples {
		diff += math.Abs(float64(c.Samples[i] - down.Samples[i]))
	}
	if mean := diff / float64(len(c.Samples)); mean > 1e-3 {
		t.Errorf("16k → 48k → 16k changed samples by %.5f on average", mean)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notWAV := filepath.Join(dir, "note.wav")
	if err := os.WriteFile(notWAV, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  Options
		want error
	}{
		{"language", Options{Language: "fr"}, ErrConfig},
		{"volume high", Options{Volume: 1.5}, ErrConfig},
		{"volume negative", Options{Volume: -0.1}, ErrConfig},
		{"volume NaN", Options{Volume: math.NaN()}, ErrConfig},
		{"quiet hours hour", Options{QuietHours: "25:00-07:00"}, ErrConfig},
		{"quiet hours one end", Options{QuietHours: "22:00"}, ErrConfig},
		{"quiet hours empty", Options{QuietHours: "07:00-07:00"}, ErrConfig},
		{"quiet volume", Options{QuietVolume: 2}, ErrConfig},
		{"device quote", Options{Device: `hw:0" }`}, ErrConfig},
		{"buffer", Options{Buffer: time.Millisecond}, ErrConfig},
		{"clip name", Options{Clips: map[string]string{"welcome": notWAV}}, ErrConfig},
		{"clip missing", Options{Clips: map[string]string{"verified": filepath.Join(dir, "nope.wav")}}, ErrConfig},
		{"clip not wav", Options{Clips: map[string]string{"verified": notWAV}}, ErrWAV},
		{"command empty", Options{Command: []string{""}}, ErrConfig},
		{"command missing", Options{Command: []string{"/nonexistent/player"}}, ErrConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.cfg, slog.New(&recorder{}))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, %v; want %v", s, err, tc.want)
			}
			if !strings.Contains(err.Error(), "audio:") {
				t.Errorf("error %q does not say where it comes from", err)
			}
		})
	}
}

// TestOperatorClip replaces the success prompt with an operator recording
// (stereo, 44.1 kHz) and checks it is what gets played, resampled.
func TestOperatorClip(t *testing.T) {
	var samples []float64
	for i := 0; i < 44100/2; i++ {
		v := 0.5 * math.Sin(2*math.Pi*300*float64(i)/44100)
		samples = append(samples, v, v)
	}
	path := filepath.Join(t.TempDir(), "welcome.wav")
	if err := os.WriteFile(path, wavBytes(1, 16, 2, 44100, samples, false), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Options{Language: "en", Clips: map[string]string{"verified": path}}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	lib, err := loadLibrary(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := lib.voice[Verified]
	if got.Rate != SampleRate || got.Duration() < 490*time.Millisecond || got.Duration() > 510*time.Millisecond {
		t.Fatalf("operator clip: %v at %d Hz, want 0.5 s at %d Hz", got.Duration(), got.Rate, SampleRate)
	}
	if r := rms(got.Samples); math.Abs(r-0.5/math.Sqrt2) > 0.01 {
		t.Errorf("operator clip RMS %.3f, want %.3f", r, 0.5/math.Sqrt2)
	}
	if lib.source[Verified] != path || !strings.HasPrefix(lib.source[Invalid], "embedded:en") {
		t.Errorf("sources: %v", lib.source)
	}
}

// TestQuietHours drives the policy with a fake clock through a window that
// wraps midnight, through the silent speaker's log.
func TestQuietHours(t *testing.T) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.Local)
	fake := clock.NewFake(day.Add(12 * time.Hour))
	rec := &recorder{}
	s, err := Open(Options{Device: "none", Volume: 0.8, QuietHours: "22:00-07:00", Clock: fake}, slog.New(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cfg, _ := Options{Volume: 0.8, QuietHours: "22:00-07:00", Clock: fake}.normalize()
	pol := newPolicy(cfg)
	cases := []struct {
		at   time.Duration
		tone bool
		gain float64
	}{
		{12 * time.Hour, false, 0.8},
		{21*time.Hour + 59*time.Minute, false, 0.8},
		{22 * time.Hour, true, 0.8 * DefaultQuietVolume},
		{23*time.Hour + 30*time.Minute, true, 0.8 * DefaultQuietVolume},
		{24*time.Hour + 3*time.Hour, true, 0.8 * DefaultQuietVolume},
		{24*time.Hour + 7*time.Hour, false, 0.8},
	}
	for _, tc := range cases {
		fake.Set(day.Add(tc.at))
		ch := pol.choose()
		if ch.tone != tc.tone || math.Abs(ch.gain-tc.gain) > 1e-9 {
			t.Errorf("at %v: tone=%v gain=%.2f, want tone=%v gain=%.2f", tc.at, ch.tone, ch.gain, tc.tone, tc.gain)
		}
		if err := s.Say(Verified); err != nil {
			t.Fatal(err)
		}
		want := "kind=voice"
		if tc.tone {
			want = "kind=tone"
		}
		lines := strings.Split(rec.String(), "\n")
		if last := lines[len(lines)-1]; !strings.Contains(last, want) || !strings.Contains(last, "prompt=verified") {
			t.Errorf("at %v: logged %q, want %s", tc.at, last, want)
		}
	}
	// A window inside one day, and Tones at all hours.
	w, _, err := parseQuietHours("12:00-13:30")
	if err != nil {
		t.Fatal(err)
	}
	for at, want := range map[time.Duration]bool{11 * time.Hour: false, 12 * time.Hour: true, 13*time.Hour + 29*time.Minute: true, 13*time.Hour + 30*time.Minute: false} {
		if got := w.contains(day.Add(at)); got != want {
			t.Errorf("12:00-13:30 contains %v = %v", at, got)
		}
	}
	cfg, _ = Options{Tones: true, Clock: fake}.normalize()
	fake.Set(day.Add(12 * time.Hour))
	if ch := newPolicy(cfg).choose(); !ch.tone || ch.gain != 1 {
		t.Errorf("Tones: %+v, want a tone at full volume", ch)
	}
}

func TestSilentSpeaker(t *testing.T) {
	rec := &recorder{}
	s, err := Open(Options{Device: "none"}, slog.New(rec))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Prompts() {
		if err := s.Say(p); err != nil {
			t.Fatalf("Say(%v): %v", p, err)
		}
	}
	if err := s.Say(Prompt(99)); !errors.Is(err, ErrPrompt) {
		t.Errorf("Say(99) = %v, want ErrPrompt", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Say(Verified); !errors.Is(err, ErrClosed) {
		t.Errorf("Say after Close = %v, want ErrClosed", err)
	}
	if n := rec.count(slog.LevelInfo); n != len(Prompts())+1 {
		t.Errorf("want the Open note and one Info per prompt, got %d:\n%s", n, rec)
	}
	if n := rec.count(slog.LevelWarn); n != 0 {
		t.Errorf("device none is a choice, not a warning; got %d warnings", n)
	}
}

// TestPromptScriptMatchesClips regenerates the clips into a temp dir (when
// espeak-ng and sox are installed) and checks that the committed clips are
// what the committed script makes: byte-identical with the same tool
// versions, and within 10 % of the length with others.
func TestPromptScriptMatchesClips(t *testing.T) {
	for _, tool := range []string{"espeak-ng", "sox", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (only needed to regenerate clips)", tool)
		}
	}
	out := t.TempDir()
	cmd := exec.Command("sh", filepath.Join("prompts", "make-prompts.sh"))
	cmd.Env = append(os.Environ(), "KIPASS_PROMPTS_OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make-prompts.sh: %v\n%s", err, b)
	}
	same := 0
	for _, lang := range Languages {
		for _, p := range Prompts() {
			name := lang + "/" + p.String() + ".wav"
			fresh, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			committed, err := promptFS.ReadFile("prompts/" + name)
			if err != nil {
				t.Fatal(err)
			}
			if string(fresh) == string(committed) {
				same++
				continue
			}
			a, errA := DecodeWAV(fresh)
			b, errB := DecodeWAV(committed)
			if errA != nil || errB != nil {
				t.Fatalf("%s: %v, %v", name, errA, errB)
			}
			if r := float64(a.Duration()) / float64(b.Duration()); r < 0.9 || r > 1.1 {
				t.Errorf("%s: the script makes %v, the committed clip lasts %v: regenerate the clips", name, a.Duration(), b.Duration())
			}
		}
	}
	t.Logf("%d of %d clips byte-identical to a fresh run of make-prompts.sh", same, len(Languages)*len(Prompts()))
}
