package decode

import (
	"github.com/makiuchi-d/gozxing"
)

// hybrid is gozxing's HybridBinarizer, bit for bit (TestHybridMatchesGozxing
// compares them), computed on flat arrays and whole 32-bit words instead
// of a call per pixel: the binarizer was about 40% of the time of every
// attempt. Frames too small for it fall back to the global histogram, as
// gozxing's does.
type hybrid struct {
	gozxing.Binarizer // the global histogram binarizer: rows and the small-frame fallback
	src               *lumSource
	black             *[]int32 // reused black points (the Decoder's)
	m                 *gozxing.BitMatrix
}

// newHybrid returns the binarizer for src; points is a buffer it may reuse.
func newHybrid(src *lumSource, points *[]int32) gozxing.Binarizer {
	if points == nil {
		points = new([]int32)
	}
	return &hybrid{Binarizer: gozxing.NewGlobalHistgramBinarizer(src), src: src, black: points}
}

// CreateBinarizer returns a fresh binarizer of the same kind.
func (b *hybrid) CreateBinarizer(src gozxing.LuminanceSource) gozxing.Binarizer {
	if s, ok := src.(*lumSource); ok {
		return newHybrid(s, nil)
	}
	return gozxing.NewHybridBinarizer(src)
}

const (
	blockPow = gozxing.BLOCK_SIZE_POWER
	block    = gozxing.BLOCK_SIZE
	minRange = gozxing.MIN_DYNAMIC_RANGE
)

// GetBlackMatrix binarizes the frame once and caches the result.
func (b *hybrid) GetBlackMatrix() (*gozxing.BitMatrix, error) {
	if b.m != nil {
		return b.m, nil
	}
	w, h := b.src.w, b.src.h
	if w < gozxing.MINIMUM_DIMENSION || h < gozxing.MINIMUM_DIMENSION {
		m, err := b.Binarizer.GetBlackMatrix()
		if err != nil {
			return nil, err
		}
		b.m = m
		return m, nil
	}
	lum := b.src.pix[:w*h]
	sw, sh := (w+block-1)>>blockPow, (h+block-1)>>blockPow
	bp := blackPoints(lum, w, h, sw, sh, b.black)
	m, err := gozxing.NewBitMatrix(w, h)
	if err != nil {
		return nil, err
	}
	// Each 8x8 block is thresholded at the mean black point of the 5x5
	// blocks around it. The last block of a row or column is moved back
	// to end at the frame's edge, so it overlaps the one before: as in
	// gozxing, a pixel there is black when either block says so.
	words := (w + 31) / 32
	rows := gozxing.NewBitArray(w)
	bits := rows.GetBitArray()
	thr := make([]int, sw)
	for by := 0; by < sh; by++ {
		yo := min(by<<blockPow, h-block)
		top := clampi(by, 2, sh-3)
		for bx := 0; bx < sw; bx++ {
			left := clampi(bx, 2, sw-3)
			sum := 0
			for z := -2; z <= 2; z++ {
				r := bp[(top+z)*sw+left-2 : (top+z)*sw+left+3]
				sum += int(r[0] + r[1] + r[2] + r[3] + r[4])
			}
			thr[bx] = sum / 25
		}
		for y := yo; y < yo+block; y++ {
			// rows shared with the previous block row keep its bits
			if y < (by<<blockPow) && by > 0 {
				rows = m.GetRow(y, rows)
				bits = rows.GetBitArray()
			} else {
				clear(bits[:words])
			}
			row := lum[y*w : (y+1)*w]
			for bx := 0; bx < sw; bx++ {
				xo := min(bx<<blockPow, w-block)
				t := thr[bx]
				p := (*[block]byte)(row[xo : xo+block])
				// bit x is set when pixel x <= t, that is when t-p >= 0
				v := uint32(^((t-int(p[0]))>>63)&1 |
					^((t-int(p[1]))>>63)&1<<1 |
					^((t-int(p[2]))>>63)&1<<2 |
					^((t-int(p[3]))>>63)&1<<3 |
					^((t-int(p[4]))>>63)&1<<4 |
					^((t-int(p[5]))>>63)&1<<5 |
					^((t-int(p[6]))>>63)&1<<6 |
					^((t-int(p[7]))>>63)&1<<7)
				if v == 0 {
					continue
				}
				k, s := xo>>5, uint(xo&31)
				bits[k] |= v << s
				if s > 32-block && k+1 < words {
					bits[k+1] |= v >> (32 - s)
				}
			}
			m.SetRow(y, rows)
		}
	}
	b.m = m
	return m, nil
}

// blackPoints is gozxing's calculateBlackPoints on a flat array: per 8x8
// block, its mean, or for a flat block half its minimum, raised to the
// black point of its upper and left neighbours when its minimum is below
// theirs. gozxing stops tracking min and max once the range passes
// minRange; the result is the same as tracking them over the whole block.
func blackPoints(lum []byte, w, h, sw, sh int, buf *[]int32) []int32 {
	if cap(*buf) < sw*sh {
		*buf = make([]int32, sw*sh)
	}
	bp := (*buf)[:sw*sh]
	for by := 0; by < sh; by++ {
		yo := min(by<<blockPow, h-block)
		for bx := 0; bx < sw; bx++ {
			xo := min(bx<<blockPow, w-block)
			sum, lo, hi := 0, 255, 0
			for y := yo; y < yo+block; y++ {
				r := (*[block]byte)(lum[y*w+xo : y*w+xo+block])
				a0, a1, a2, a3 := int(r[0]), int(r[1]), int(r[2]), int(r[3])
				a4, a5, a6, a7 := int(r[4]), int(r[5]), int(r[6]), int(r[7])
				sum += a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7
				lo = min(lo, a0, a1, a2, a3, a4, a5, a6, a7)
				hi = max(hi, a0, a1, a2, a3, a4, a5, a6, a7)
			}
			avg := sum >> (2 * blockPow)
			if hi-lo <= minRange {
				avg = lo / 2
				if by > 0 && bx > 0 {
					nb := (int(bp[(by-1)*sw+bx]) + 2*int(bp[by*sw+bx-1]) + int(bp[(by-1)*sw+bx-1])) / 4
					if lo < nb {
						avg = nb
					}
				}
			}
			bp[by*sw+bx] = int32(avg)
		}
	}
	return bp
}
