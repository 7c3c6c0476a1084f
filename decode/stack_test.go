package decode_test

import (
	"fmt"
	"github.com/kipass/kipass/clock"
	"image"
	"runtime"
	"testing"
	"time"

	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/decode/corpus"
	"github.com/kipass/kipass/decode/threadcpu"
	"github.com/kipass/kipass/screen"
)

// stackSequences are hand-held defocus sequences that single frames
// mostly fail on.
func stackSequences(t *testing.T, per int) []corpus.Sequence {
	t.Helper()
	var seqs []corpus.Sequence
	err := corpus.EachSequence(corpus.Config{Seed: 1, PerCategory: per, Categories: []string{"seq-defocus"}, Sizes: []image.Point{{1280, 720}}}, func(s corpus.Sequence) error {
		seqs = append(seqs, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

// firstReadsByStack plays each sequence through d from a Reset until its
// first read, which must be the sequence's text, and counts the sequences
// whose first read came from the stack stage.
func firstReadsByStack(t *testing.T, d *decode.Decoder, seqs []corpus.Sequence) int {
	t.Helper()
	byStack := 0
	for _, s := range seqs {
		d.Reset()
		for _, f := range s.Frames {
			before := d.Stats().ByStage["stack"]
			r, err := d.Decode(f)
			if err != nil {
				continue
			}
			if r.Text != s.Text {
				t.Fatalf("%s: read %q, want %q", s.Name, r.Text, s.Text)
			}
			if d.Stats().ByStage["stack"] > before {
				byStack++
			}
			break // the first read of the sequence
		}
	}
	return byStack
}

// The stack stage reads sequences that no single frame reads: on the
// frame where it reads, the cascade before it (the single-frame stages,
// with nothing read earlier in the sequence) failed. It never reads a
// wrong text.
func TestStackReadsWhatSingleFramesDoNot(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes about 30 hard frames")
	}
	seqs := stackSequences(t, 4)
	d := decode.New(decode.Options{Budget: testBudget, NoOpenCV: true})
	defer d.Close()
	byStack := firstReadsByStack(t, d, seqs)
	// measured: 2 of these 4 sequences are first read by the stack stage
	if byStack < 2 {
		t.Errorf("the stack stage read %d of %d sequences first, want at least 2", byStack, len(seqs))
	}
}

// Reset drops the stack: the frame that the stack reads after the frames
// before it is not read by the stack when the decoder was reset just
// before it.
func TestStackResetDropsFrames(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes hard frames")
	}
	d := decode.New(decode.Options{Budget: testBudget, NoOpenCV: true})
	defer d.Close()
	for _, s := range stackSequences(t, 4) {
		d.Reset()
		for k, f := range s.Frames {
			before := d.Stats().ByStage["stack"]
			_, err := d.Decode(f)
			if err == nil && d.Stats().ByStage["stack"] == before {
				break // read by a single-frame stage
			}
			if err != nil {
				continue
			}
			// frame k was read by the stack: replay with a reset before it
			e := decode.New(decode.Options{Budget: testBudget, NoOpenCV: true})
			defer e.Close()
			for _, g := range s.Frames[:k] {
				e.Decode(g)
			}
			e.Reset()
			if _, err := e.Decode(f); err == nil && e.Stats().ByStage["stack"] > 0 {
				t.Errorf("%s: frame %d read by the stack after Reset", s.Name, k)
			}
			return
		}
	}
	t.Fatal("no sequence read by the stack stage")
}

// Frames of one code followed, in the same place with the same hand
// tremor and focus hunting, by frames of another code never give a text
// other than the one on the frame: the stack notices the change, and a
// mixed average does not pass the QR's error correction.
func TestStackNeverMixesCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes hard frames")
	}
	seqs := stackSequences(t, 4)
	for _, stream := range []bool{false, true} {
		// The frames come at 30 fps on the decoder's clock, however long
		// rendering and decoding take here (emulated ARM is slow).
		clk := clock.NewFake(time.Unix(1e9, 0))
		d := decode.New(decode.Options{Budget: testBudget, Slice: time.Nanosecond, NoOpenCV: true, Stream: stream, Clock: clk})
		defer d.Close()
		reads := 0
		for i, s := range seqs {
			other := seqs[(i+1)%len(seqs)].Text
			if other == s.Text {
				continue
			}
			d.Reset()
			half := len(s.Options) / 2
			for k, o := range s.Options {
				text := s.Text
				if k >= half {
					text = other
				}
				img, err := screen.Render(text, o)
				if err != nil {
					t.Fatal(err)
				}
				clk.Advance(time.Second / 30)
				r, err := d.Decode(img)
				if err != nil {
					continue
				}
				reads++
				if r.Text != text {
					t.Fatalf("stream %v, %s frame %d: read %.20q…, the frame shows %.20q…", stream, s.Name, k, r.Text, text)
				}
			}
		}
		if d.Stats().ByStage["stack"] == 0 {
			t.Errorf("stream %v: nothing read by the stack stage (%d reads): the test checks nothing", stream, reads)
		}
		t.Logf("stream %v: %d reads, %d by the stack stage", stream, reads, d.Stats().ByStage["stack"])
	}
}

// BenchmarkStack measures the cost per frame in stream mode (as the
// daemon runs the decoder: a frame interval's budget, the default slice)
// on hand-held defocus sequences that no single frame reads, with and
// without the stack stage; frames are fed in order, sequence after
// sequence. It reports the thread CPU time per frame, mean and largest.
func BenchmarkStack(b *testing.B) {
	for _, sz := range []image.Point{{640, 480}, {1280, 720}} {
		var frames []*image.Gray
		var starts []bool
		err := corpus.EachSequence(corpus.Config{Seed: 1, PerCategory: 2, Categories: []string{"seq-defocus"}, Sizes: []image.Point{sz}}, func(s corpus.Sequence) error {
			for k, f := range s.Frames {
				frames = append(frames, f)
				starts = append(starts, k == 0)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, noStack := range []bool{false, true} {
			name := fmt.Sprintf("%dx%d", sz.X, sz.Y)
			if noStack {
				name += "-nostack"
			}
			b.Run(name, func(b *testing.B) {
				d := decode.New(decode.Options{Stream: true, Budget: time.Second / 30, NoOpenCV: true, NoStack: noStack})
				defer d.Close()
				b.ReportAllocs()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var total, worst time.Duration
				for i := 0; i < b.N; i++ {
					k := i % len(frames)
					if starts[k] {
						d.Reset()
					}
					c0 := threadcpu.Now()
					d.Decode(frames[k])
					c := threadcpu.Now() - c0
					total += c
					worst = max(worst, c)
				}
				// thread CPU, which load on the machine does not inflate
				b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "cpu-ms/frame")
				b.ReportMetric(float64(worst.Microseconds())/1000, "max-cpu-ms")
			})
		}
	}
}

// In stream mode (as the daemon runs it) the stack stage registers every
// frame and makes one attempt every few frames, beside the cascade's
// stages spread over the frames; it reads sequences before the
// single-frame stages do.
func TestStackInStreamMode(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes hard frames")
	}
	seqs := stackSequences(t, 6)
	// a large budget and the least slice (one stage past the zoom per
	// frame) keep the result independent of machine load
	d := decode.New(decode.Options{Budget: testBudget, Slice: time.Nanosecond, NoOpenCV: true, Stream: true})
	defer d.Close()
	byStack := firstReadsByStack(t, d, seqs)
	// measured: 4 of these 6 sequences are first read by the stack stage
	if byStack < 2 {
		t.Errorf("in stream mode the stack stage read %d of %d sequences first, want at least 1", byStack, len(seqs))
	}
}
