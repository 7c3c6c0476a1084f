package audio

import "math"

// A note of a tone: frequency in Hz (0 is a rest) and length in ms.
type note struct {
	hz, ms float64
}

// toneNotes defines the short tone of each outcome, for noisy venues and
// quiet hours. They differ in pitch direction and rhythm so that staff can
// tell them apart without looking:
//
//	verified         two rising notes, bright        (E6 → A6, 70 ms each)
//	pending          one mid note, then a soft repeat (A5, A5)
//	invalid          two low buzzes                  (200 Hz square-ish ×2)
//	expired          two falling notes               (A5 → E5)
//	clock-problem    three quick high blips          (B5 ×3)
//	storage-failure  one long low warble             (250/280 Hz, 500 ms)
//	not-registered   two long low falling notes      (G4 → C4)
//	ledger-please    three falling notes             (G5 → E5 → C5)
//	ledger-instructions two long mid notes           (C5, C5)
//	paper-recorded   one bright note                 (C6, 150 ms)
//	control-refused  three short low buzzes          (300 Hz ×3)
var toneNotes = [numPrompts][]note{
	Verified:       {{1319, 70}, {1760, 110}},
	Pending:        {{880, 90}, {0, 60}, {880, 90}},
	Invalid:        {{200, 120}, {0, 60}, {200, 120}},
	Expired:        {{880, 110}, {659, 160}},
	ClockProblem:   {{988, 50}, {0, 40}, {988, 50}, {0, 40}, {988, 50}},
	StorageFailure: {{250, 125}, {280, 125}, {250, 125}, {280, 125}},
	NotRegistered:  {{392, 250}, {262, 300}},

	LedgerPlease:       {{784, 100}, {659, 100}, {523, 160}},
	LedgerInstructions: {{523, 180}, {0, 60}, {523, 180}},
	PaperRecorded:      {{1047, 150}},
	ControlRefused:     {{300, 80}, {0, 40}, {300, 80}, {0, 40}, {300, 80}},
}

// Tone synthesises the tone of prompt p at rate Hz. It is computed, not
// shipped: the same code gives the same tone at every rate.
func Tone(p Prompt, rate int) Clip {
	if !p.Valid() || rate <= 0 {
		return Clip{Rate: rate}
	}
	var out []float32
	buzz := p == Invalid || p == StorageFailure || p == ControlRefused // add odd harmonics: harsher, reads as "wrong"
	for _, n := range toneNotes[p] {
		count := int(n.ms * float64(rate) / 1000)
		fade := int(0.005 * float64(rate)) // 5 ms ramps: no clicks
		for i := 0; i < count; i++ {
			if n.hz == 0 {
				out = append(out, 0)
				continue
			}
			ph := 2 * math.Pi * n.hz * float64(i) / float64(rate)
			v := math.Sin(ph)
			if buzz {
				v = 0.6*v + 0.25*math.Sin(3*ph) + 0.15*math.Sin(5*ph)
			}
			g := 0.7
			if i < fade {
				g *= float64(i) / float64(fade)
			}
			if j := count - 1 - i; j < fade {
				g *= float64(j) / float64(fade)
			}
			out = append(out, float32(v*g))
		}
	}
	return Clip{Rate: rate, Samples: out}
}
