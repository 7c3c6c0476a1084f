package decode

import (
	"math"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// Grid fitting for codes that no single perspective maps onto the image:
// labels on bottles and pillars, wrinkled paper, and tilted codes whose
// fourth corner the finders and one alignment pattern do not pin down.
// Starting from the finders' perspective transform, the grid is given an
// offset at nodes every few modules, found from the finders outwards: each
// node's offset is the one near its neighbours' that puts the sampling
// points well inside the modules around it (the binarized image agrees
// round each module's centre). Modules are sampled at the grid moved by the
// offsets interpolated between the nodes.

// gridStage samples the grid with timing and alignment corrections for
// the finder triples of the sweep.
func (f *frameCtx) gridStage() (Result, bool) {
	return f.sweepWith(f.gridDims)
}

// maxGrids bounds the grids fitted per frame: a fit samples the image
// some hundred thousand times.
const maxGrids = 4

// gridDims fits the grid for the estimated dimension and the next larger
// and smaller ones, with the alignment pattern when one is found, up to
// maxGrids fits per frame; in stream mode it stops once the frame's slice
// is spent after one fit.
func (f *frameCtx) gridDims(m *gozxing.BitMatrix, im img, tl, tr, bl *detector.FinderPattern) (Result, bool) {
	mod := (tl.GetEstimatedModuleSize() + tr.GetEstimatedModuleSize() + bl.GetEstimatedModuleSize()) / 3
	if mod < 0.8 {
		return Result{}, false
	}
	span := (gozxing.ResultPoint_Distance(tl, tr) + gozxing.ResultPoint_Distance(tl, bl)) / 2
	est := int(math.Round(span/mod)) + 7
	est = 4*((est-17+2)/4) + 17
	for _, dd := range []int{0, -4, 4} {
		dim := est + dd
		if dim < 21 || dim > 177 {
			continue
		}
		if f.timeUp() || f.grids >= maxGrids || f.d.o.Stream && f.grids > 0 && time.Since(f.start) > f.d.o.Slice {
			return Result{}, false
		}
		f.grids++
		ap := alignment(m, tl, tr, bl, mod, dim)
		g := newGrid(m, detector.Detector_createTransform(tl, tr, bl, ap, dim), dim)
		g.fit()
		dr, err := f.d.qr.Decode(g.sample(), f.d.hints)
		if err != nil || dr == nil {
			continue
		}
		pts := []gozxing.ResultPoint{bl, tl, tr}
		return Result{Text: dr.GetText(), Region: region(pts, im.w, im.h, im.v)}, true
	}
	return Result{}, false
}

// gridStep is the distance between the grid's nodes, in modules.
const gridStep = 5

// grid is a sampling grid: the perspective transform of module space and
// offsets to it at nodes every gridStep modules, in modules.
type grid struct {
	m      *gozxing.BitMatrix
	t      *common.PerspectiveTransform
	dim    int
	nodes  int       // nodes per side
	ou, ov []float64 // offsets at the nodes, row major
	pt     [2]float64
}

func newGrid(m *gozxing.BitMatrix, t *common.PerspectiveTransform, dim int) *grid {
	n := (dim+gridStep-1)/gridStep + 1
	return &grid{m: m, t: t, dim: dim, nodes: n, ou: make([]float64, n*n), ov: make([]float64, n*n)}
}

// dark reports the binarized image at module-space point (x, y) (false
// outside the image).
func (g *grid) dark(x, y float64) bool {
	g.pt = [2]float64{x, y}
	g.t.TransformPoints(g.pt[:])
	ix, iy := int(g.pt[0]), int(g.pt[1])
	if g.pt[0] < 0 || g.pt[1] < 0 || ix >= g.m.GetWidth() || iy >= g.m.GetHeight() {
		return false
	}
	return g.m.Get(ix, iy)
}

// node returns the module-space position of node (i, j).
func (g *grid) node(i int) float64 {
	return float64(i) * float64(g.dim) / float64(g.nodes-1)
}

// fit finds the nodes' offsets from the top-left finder outwards: each
// starts from its finished neighbours' mean and moves by up to half a
// module to where the modules round it sample most consistently; a finer
// pass then moves each node by up to a quarter module from the mean of
// itself and its neighbours.
func (g *grid) fit() {
	n := g.nodes
	for s := 0; s <= 2*(n-1); s++ {
		for i := max(0, s-(n-1)); i <= min(s, n-1); i++ {
			j := s - i
			g.search(i, j, [][2]int{{-1, 0}, {0, -1}}, 0.5, 0.25)
		}
	}
	for j := 0; j < n; j++ {
		for i := 0; i < n; i++ {
			g.search(i, j, [][2]int{{0, 0}, {-1, 0}, {1, 0}, {0, -1}, {0, 1}}, 0.25, 0.125)
		}
	}
}

// search sets node (i, j)'s offset: the best scoring within r modules (in
// steps) of the mean offset of the nodes at the given relative positions.
func (g *grid) search(i, j int, from [][2]int, r, step float64) {
	n := g.nodes
	var pu, pv float64
	k := 0
	for _, d := range from {
		a, b := i+d[0], j+d[1]
		if a >= 0 && b >= 0 && a < n && b < n {
			pu, pv, k = pu+g.ou[b*n+a], pv+g.ov[b*n+a], k+1
		}
	}
	if k > 0 {
		pu, pv = pu/float64(k), pv/float64(k)
	}
	a := g.local(g.node(i), g.node(j))
	best, bu, bv := -1, pu, pv
	for du := -r; du <= r; du += step {
		for dv := -r; dv <= r; dv += step {
			sc := g.score(a, pu+du, pv+dv)
			if sc > best || sc == best && du*du+dv*dv < (bu-pu)*(bu-pu)+(bv-pv)*(bv-pv) {
				best, bu, bv = sc, pu+du, pv+dv
			}
		}
	}
	g.ou[j*n+i], g.ov[j*n+i] = bu, bv
}

// affine is the transform near a node, linearised: module-space (x, y)
// maps to p + (x-x0)*jx + (y-y0)*jy.
type affine struct {
	x0, y0   float64
	px, py   float64
	jxx, jxy float64 // image step per module along x
	jyx, jyy float64 // image step per module along y
}

// local linearises the transform at module-space (x, y); over the few
// modules round a node the perspective's curvature is far below a pixel.
func (g *grid) local(x, y float64) affine {
	pt := [6]float64{x, y, x + 1, y, x, y + 1}
	g.t.TransformPoints(pt[:])
	return affine{x0: x, y0: y, px: pt[0], py: pt[1], jxx: pt[2] - pt[0], jxy: pt[3] - pt[1], jyx: pt[4] - pt[0], jyy: pt[5] - pt[1]}
}

// at reports the binarized image at module-space (x, y) through a.
func (g *grid) at(a *affine, x, y float64) bool {
	dx, dy := x-a.x0, y-a.y0
	fx, fy := a.px+dx*a.jxx+dy*a.jyx, a.py+dx*a.jxy+dy*a.jyy
	if fx < 0 || fy < 0 || int(fx) >= g.m.GetWidth() || int(fy) >= g.m.GetHeight() {
		return false
	}
	return g.m.Get(int(fx), int(fy))
}

// score counts, over the gridStep x gridStep modules round a's node, the
// points a third of a module from each module's centre that read like the
// centre, with the grid moved by (du, dv).
func (g *grid) score(a affine, du, dv float64) int {
	h := gridStep / 2
	sc := 0
	x, y := int(a.x0), int(a.y0)
	for my := max(y-h-1, 0); my <= min(y+h+1, g.dim-1); my++ {
		for mx := max(x-h-1, 0); mx <= min(x+h+1, g.dim-1); mx++ {
			cx, cy := float64(mx)+0.5+du, float64(my)+0.5+dv
			c := g.at(&a, cx, cy)
			for _, d := range [4][2]float64{{-1.0 / 3, 0}, {1.0 / 3, 0}, {0, -1.0 / 3}, {0, 1.0 / 3}} {
				if g.at(&a, cx+d[0], cy+d[1]) == c {
					sc++
				}
			}
		}
	}
	return sc
}

// offset interpolates the nodes' offsets bilinearly at module-space (x, y).
func (g *grid) offset(x, y float64) (float64, float64) {
	n := g.nodes
	fx := x / float64(g.dim) * float64(n-1)
	fy := y / float64(g.dim) * float64(n-1)
	i, j := min(int(fx), n-2), min(int(fy), n-2)
	ax, ay := fx-float64(i), fy-float64(j)
	at := func(v []float64) float64 {
		return (1-ay)*((1-ax)*v[j*n+i]+ax*v[j*n+i+1]) + ay*((1-ax)*v[(j+1)*n+i]+ax*v[(j+1)*n+i+1])
	}
	return at(g.ou), at(g.ov)
}

// sample reads the modules at the fitted grid.
func (g *grid) sample() *gozxing.BitMatrix {
	bits, _ := gozxing.NewSquareBitMatrix(g.dim)
	for y := 0; y < g.dim; y++ {
		for x := 0; x < g.dim; x++ {
			mx, my := float64(x)+0.5, float64(y)+0.5
			du, dv := g.offset(mx, my)
			if g.dark(mx+du, my+dv) {
				bits.Set(x, y)
			}
		}
	}
	return bits
}
