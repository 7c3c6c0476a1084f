package audio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Clip is decoded mono PCM audio: samples in [-1, 1] at Rate samples per
// second.
type Clip struct {
	// Rate is the sample rate in Hz.
	Rate int
	// Samples holds one float per frame (mono).
	Samples []float32
}

// Duration returns the clip's playing time.
func (c Clip) Duration() time.Duration {
	if c.Rate <= 0 {
		return 0
	}
	return time.Duration(len(c.Samples)) * time.Second / time.Duration(c.Rate)
}

// maxWAVSeconds bounds an operator clip; a prompt at the door longer than
// this is a configuration mistake, and the bound keeps memory small.
const maxWAVSeconds = 30

// DecodeWAV decodes a RIFF/WAVE file holding PCM (8, 16, 24 or 32-bit
// integer) or IEEE float (32 or 64-bit) samples, in any channel count, into
// a mono Clip (channels are averaged). It returns an error wrapping ErrWAV for
// anything else.
func DecodeWAV(data []byte) (Clip, error) {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return Clip{}, fmt.Errorf("%w: not a RIFF/WAVE file", ErrWAV)
	}
	var (
		haveFmt          bool
		format, channels uint16
		rate             uint32
		bits, blockAlign uint16
		pcm              []byte
		havePCM          bool
	)
	rest := data[12:]
	for len(rest) >= 8 {
		id := string(rest[0:4])
		size := binary.LittleEndian.Uint32(rest[4:8])
		body := rest[8:]
		if uint64(size) > uint64(len(body)) {
			if id == "data" {
				// Streams written by tools that never patched the
				// length: take what is there.
				size = uint32(len(body))
			} else {
				return Clip{}, fmt.Errorf("%w: chunk %q overruns the file", ErrWAV, id)
			}
		}
		chunk := body[:size]
		switch id {
		case "fmt ":
			if len(chunk) < 16 {
				return Clip{}, fmt.Errorf("%w: fmt chunk too short", ErrWAV)
			}
			format = binary.LittleEndian.Uint16(chunk[0:2])
			channels = binary.LittleEndian.Uint16(chunk[2:4])
			rate = binary.LittleEndian.Uint32(chunk[4:8])
			blockAlign = binary.LittleEndian.Uint16(chunk[12:14])
			bits = binary.LittleEndian.Uint16(chunk[14:16])
			if format == 0xFFFE { // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the real tag
				if len(chunk) < 26 {
					return Clip{}, fmt.Errorf("%w: extensible fmt chunk too short", ErrWAV)
				}
				format = binary.LittleEndian.Uint16(chunk[24:26])
			}
			haveFmt = true
		case "data":
			pcm = chunk
			havePCM = true
		}
		adv := 8 + uint64(size) + uint64(size&1) // chunks are word aligned
		if adv > uint64(len(rest)) {
			break
		}
		rest = rest[adv:]
	}
	if !haveFmt {
		return Clip{}, fmt.Errorf("%w: no fmt chunk", ErrWAV)
	}
	if !havePCM {
		return Clip{}, fmt.Errorf("%w: no data chunk", ErrWAV)
	}
	if channels == 0 || channels > 8 {
		return Clip{}, fmt.Errorf("%w: %d channels", ErrWAV, channels)
	}
	if rate < 4000 || rate > 192000 {
		return Clip{}, fmt.Errorf("%w: sample rate %d Hz", ErrWAV, rate)
	}
	var sample func(b []byte) float64
	switch {
	case format == 1 && bits == 8:
		sample = func(b []byte) float64 { return (float64(b[0]) - 128) / 128 }
	case format == 1 && bits == 16:
		sample = func(b []byte) float64 { return float64(int16(binary.LittleEndian.Uint16(b))) / (1 << 15) }
	case format == 1 && bits == 24:
		sample = func(b []byte) float64 {
			v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
			return float64(v) / (1 << 23)
		}
	case format == 1 && bits == 32:
		sample = func(b []byte) float64 { return float64(int32(binary.LittleEndian.Uint32(b))) / (1 << 31) }
	case format == 3 && bits == 32:
		sample = func(b []byte) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))) }
	case format == 3 && bits == 64:
		sample = func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) }
	default:
		return Clip{}, fmt.Errorf("%w: unsupported encoding (format tag %d, %d bits)", ErrWAV, format, bits)
	}
	bps := int(bits) / 8
	frame := bps * int(channels)
	if int(blockAlign) > frame {
		frame = int(blockAlign)
	}
	n := len(pcm) / frame
	if n == 0 {
		return Clip{}, fmt.Errorf("%w: no samples", ErrWAV)
	}
	if n > maxWAVSeconds*int(rate) {
		return Clip{}, fmt.Errorf("%w: longer than %d s", ErrWAV, maxWAVSeconds)
	}
	out := make([]float32, n)
	for i := 0; i < n; i++ {
		var sum float64
		f := pcm[i*frame:]
		for c := 0; c < int(channels); c++ {
			v := sample(f[c*bps:])
			if math.IsNaN(v) || math.IsInf(v, 0) {
				v = 0
			}
			sum += v
		}
		v := sum / float64(channels)
		out[i] = float32(math.Max(-1, math.Min(1, v)))
	}
	return Clip{Rate: int(rate), Samples: out}, nil
}

// Resample returns the clip converted to rate Hz by linear interpolation
// (the prompts are speech and beeps; this is good enough and cheap, and it
// runs once at Open, not per Say).
func (c Clip) Resample(rate int) Clip {
	if rate <= 0 || c.Rate == rate || len(c.Samples) == 0 {
		return c
	}
	n := int(int64(len(c.Samples)) * int64(rate) / int64(c.Rate))
	if n < 1 {
		n = 1
	}
	out := make([]float32, n)
	step := float64(c.Rate) / float64(rate)
	last := len(c.Samples) - 1
	for i := range out {
		pos := float64(i) * step
		j := int(pos)
		if j >= last {
			out[i] = c.Samples[last]
			continue
		}
		frac := float32(pos - float64(j))
		out[i] = c.Samples[j]*(1-frac) + c.Samples[j+1]*frac
	}
	return Clip{Rate: rate, Samples: out}
}

// EncodeWAV returns the clip as a mono 16-bit PCM WAV file.
func (c Clip) EncodeWAV() []byte {
	var b bytes.Buffer
	dataLen := uint32(2 * len(c.Samples))
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, 36+dataLen)
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(c.Rate), uint32(2 * c.Rate), uint16(2), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, dataLen)
	for _, s := range c.Samples {
		_ = binary.Write(&b, binary.LittleEndian, int16(math.Round(float64(s)*32767)))
	}
	return b.Bytes()
}

// float32LE returns the clip's samples scaled by gain as little-endian
// float32 bytes, the format the oto context is opened with.
func (c Clip) float32LE(gain float64) []byte {
	out := make([]byte, 4*len(c.Samples))
	g := float32(gain)
	for i, s := range c.Samples {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(s*g))
	}
	return out
}
