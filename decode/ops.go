package decode

import "image"

// Image operations on contiguous grey buffers (row stride = width). Each
// writes into a caller-owned destination so buffers are reused per frame.

// downscale2 halves a w*h image with a 2x2 box filter; it returns the new
// size.
func downscale2(dst, src []byte, w, h int) (int, int) {
	nw, nh := w/2, h/2
	for y := 0; y < nh; y++ {
		r0 := src[2*y*w:]
		r1 := src[(2*y+1)*w:]
		out := dst[y*nw : (y+1)*nw]
		for x := range out {
			out[x] = byte((int(r0[2*x]) + int(r0[2*x+1]) + int(r1[2*x]) + int(r1[2*x+1]) + 2) >> 2)
		}
	}
	return nw, nh
}

// crop copies rectangle r of a w-wide image into dst.
func crop(dst, src []byte, w int, r image.Rectangle) {
	cw := r.Dx()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(dst[(y-r.Min.Y)*cw:(y-r.Min.Y+1)*cw], src[y*w+r.Min.X:y*w+r.Max.X])
	}
}

// invert writes 255-v for every pixel.
func invert(dst, src []byte) {
	for i, v := range src {
		dst[i] = 255 - v
	}
}

// stretch maps the 1st..99th percentile of src linearly onto 0..255 and
// reports whether that changed anything worth a new attempt (the range was
// narrow).
func stretch(dst, src []byte) bool {
	var hist [256]int
	for _, v := range src {
		hist[v]++
	}
	n := len(src)
	lo, hi, acc := 0, 255, 0
	for i := 0; i < 256; i++ {
		acc += hist[i]
		if acc > n/100 {
			lo = i
			break
		}
	}
	acc = 0
	for i := 255; i >= 0; i-- {
		acc += hist[i]
		if acc > n/100 {
			hi = i
			break
		}
	}
	if hi-lo >= 160 || hi <= lo {
		return false
	}
	var lut [256]byte
	for i := range lut {
		v := (i - lo) * 255 / (hi - lo)
		lut[i] = byte(min(max(v, 0), 255))
	}
	for i, v := range src {
		dst[i] = lut[v]
	}
	return true
}

// box3 is a 3x3 mean filter, which flattens screen-grid moiré and sensor
// noise. tmp must hold w*h ints' worth of bytes*2 (row sums kept in uint16).
func box3(dst, src []byte, tmp []uint16, w, h int) {
	for y := 0; y < h; y++ {
		row := src[y*w : (y+1)*w]
		t := tmp[y*w : (y+1)*w]
		for x := 0; x < w; x++ {
			a := row[max(x-1, 0)]
			c := row[min(x+1, w-1)]
			t[x] = uint16(a) + uint16(row[x]) + uint16(c)
		}
	}
	for y := 0; y < h; y++ {
		r0 := tmp[max(y-1, 0)*w:]
		r1 := tmp[y*w:]
		r2 := tmp[min(y+1, h-1)*w:]
		out := dst[y*w : (y+1)*w]
		for x := range out {
			out[x] = byte((uint32(r0[x]) + uint32(r1[x]) + uint32(r2[x]) + 4) / 9)
		}
	}
}

// sharpen is an unsharp mask: src + k*(src - box3(src)), k = 1. blur must
// already hold box3(src).
func sharpen(dst, src, blur []byte) {
	for i, v := range src {
		s := 2*int(v) - int(blur[i])
		dst[i] = byte(min(max(s, 0), 255))
	}
}

// zoom2 doubles rectangle r of a w-wide image with bilinear interpolation
// into dst, which must hold 4*r.Dx()*r.Dy() bytes.
func zoom2(dst, src []byte, w, h int, r image.Rectangle) (int, int) {
	cw, ch := r.Dx(), r.Dy()
	nw, nh := 2*cw, 2*ch
	for y := 0; y < nh; y++ {
		// sample centre of destination pixel in source coordinates
		fy2 := y - 1 // (2*sy) where sy = (y+0.5)/2-0.5  => 2*sy = y-0.5; use half-steps
		y0 := r.Min.Y + floorDiv(fy2, 2)
		wy := fy2 - 2*floorDiv(fy2, 2) // 0 or 1 (in halves)
		y0c, y1c := clampi(y0, 0, h-1), clampi(y0+1, 0, h-1)
		out := dst[y*nw : (y+1)*nw]
		for x := 0; x < nw; x++ {
			fx2 := x - 1
			x0 := r.Min.X + floorDiv(fx2, 2)
			wx := fx2 - 2*floorDiv(fx2, 2)
			x0c, x1c := clampi(x0, 0, w-1), clampi(x0+1, 0, w-1)
			a := int(src[y0c*w+x0c])*(2-wx) + int(src[y0c*w+x1c])*wx
			b := int(src[y1c*w+x0c])*(2-wx) + int(src[y1c*w+x1c])*wx
			out[x] = byte((a*(2-wy) + b*wy + 2) / 4)
		}
	}
	return nw, nh
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func clampi(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// sharpness is a Tenengrad-like focus score: the mean squared gradient over
// the central part of the frame, sampled every other pixel.
func sharpness(pix []byte, w, h int) float64 {
	x0, x1 := w/5, w-w/5-1
	y0, y1 := h/5, h-h/5-1
	var sum uint64
	var n int
	for y := y0; y < y1; y += 2 {
		row := pix[y*w:]
		next := pix[(y+1)*w:]
		for x := x0; x < x1; x += 2 {
			gx := int(row[x+1]) - int(row[x])
			gy := int(next[x]) - int(row[x])
			sum += uint64(gx*gx + gy*gy)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(sum) / float64(n)
}

// deglare removes a smooth additive hot spot (glare on the screen's glass):
// it finds the local black floor (the minimum over about 12x12 pixels,
// from 4x4 blocks) and stretches each pixel between that floor and white.
// Areas with no dark pixel nearby (floor close to white) become white.
// blk must hold ((w+3)/4)*((h+3)/4) bytes; fl is reused between calls.
func deglare(dst, src, blk []byte, fl *[]deglareBlock, w, h int) {
	bw, bh := (w+3)/4, (h+3)/4
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			m := byte(255)
			for y := by * 4; y < min(by*4+4, h); y++ {
				for x := bx * 4; x < min(bx*4+4, w); x++ {
					m = min(m, src[y*w+x])
				}
			}
			blk[by*bw+bx] = m
		}
	}
	// the floor of each block: the least minimum of it and its eight
	// neighbours, and the reciprocal of its span for the stretch (exact
	// for these numerators: (v-floor)*255 < 2^16)
	n := bw * bh
	if cap(*fl) < n {
		*fl = make([]deglareBlock, n)
	}
	fb := (*fl)[:n]
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			floor := byte(255)
			for yy := max(by-1, 0); yy <= min(by+1, bh-1); yy++ {
				for xx := max(bx-1, 0); xx <= min(bx+1, bw-1); xx++ {
					floor = min(floor, blk[yy*bw+xx])
				}
			}
			b := deglareBlock{floor: int(floor)}
			if span := 255 - int(floor); span >= 48 {
				b.inv = (1<<32 + uint64(span) - 1) / uint64(span)
			}
			fb[by*bw+bx] = b
		}
	}
	for y := 0; y < h; y++ {
		row, out := src[y*w:(y+1)*w], dst[y*w:(y+1)*w]
		bl := fb[(y/4)*bw : (y/4+1)*bw]
		for x := range row {
			b := bl[x>>2]
			if b.inv == 0 {
				out[x] = 255 // no dark pixel nearby
				continue
			}
			out[x] = byte(uint64((int(row[x])-b.floor)*255) * b.inv >> 32)
		}
	}
}

// deglareBlock is a 4x4 block's black floor and 2^32/(255-floor), rounded
// up (0: the floor is too close to white to stretch).
type deglareBlock struct {
	floor int
	inv   uint64
}
