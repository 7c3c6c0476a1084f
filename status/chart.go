package status

import (
	"fmt"
	"html/template"
	"strings"
)

// Bar colours of the charts, fixed so that a screenshot test can find them.
const (
	// HourBarColour fills the bars of today's chart.
	HourBarColour = "#2563eb"
	// DayBarColour fills the bars of the 14-day chart.
	DayBarColour = "#0d9488"
)

// Chart is a server-rendered SVG bar chart: no script, no framework.
type Chart struct {
	// Values are the bar heights, left to right.
	Values []int
	// Labels name the bars; an empty label is not drawn.
	Labels []string
	// Colour fills the bars.
	Colour string
	// Width and Height are the drawing's size; the SVG scales to the width
	// of its container (up to twice Width) and keeps these proportions.
	Width, Height int
	// Title is the chart's accessible name.
	Title string
	// ValueLabels writes each non-zero value above its bar.
	ValueLabels bool
	// Compact leaves out the grid and the scale (small inline charts).
	Compact bool
}

// SVG renders the chart. The plot area starts 28 px from the left and 8 px
// from the top, and ends 22 px above the bottom (room for the labels); a
// bar of the largest value fills the plot's height.
func (c Chart) SVG() template.HTML {
	left, top, bottom, right := 28, 18, 22, 4
	if c.Compact {
		left, top, bottom, right = 2, 2, 2, 2
	}
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 720
	}
	if h <= 0 {
		h = 220
	}
	plotW, plotH := float64(w-left-right), float64(h-top-bottom)
	max := 0
	for _, v := range c.Values {
		max = maxInt(max, v)
	}
	scale := niceMax(max)
	var b strings.Builder
	// The chart scales to its container's width (Width and Height set the
	// drawing's proportions): the page fits screens from 360 to 1920 px.
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" preserveAspectRatio="xMidYMid meet" `+
		`style="display:block;width:100%%;max-width:%dpx;height:auto" role="img" aria-label="%s">`,
		w, h, w*2, template.HTMLEscapeString(c.Title))
	// Grid lines and the scale.
	for i := 0; i <= 4 && !c.Compact; i++ {
		y := float64(top) + plotH*float64(i)/4
		v := scale * (4 - i) / 4
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e7eb" stroke-width="1"/>`, left, y, w-right, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end" fill="#6b7280">%d</text>`, left-4, y+4, v)
	}
	n := len(c.Values)
	if n > 0 {
		slot := plotW / float64(n)
		barW := slot * 0.7
		for i, v := range c.Values {
			x := float64(left) + slot*float64(i) + (slot-barW)/2
			if v > 0 {
				bh := plotH * float64(v) / float64(scale)
				y := float64(top) + plotH - bh
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%d</title></rect>`,
					x, y, barW, bh, c.Colour, v)
				if c.ValueLabels {
					fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle" fill="#111827">%d</text>`,
						x+barW/2, y-3, v)
				}
			}
			if i < len(c.Labels) && c.Labels[i] != "" {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="#374151">%s</text>`,
					x+barW/2, h-6, template.HTMLEscapeString(c.Labels[i]))
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceMax rounds the largest value up to a scale with four even steps.
func niceMax(v int) int {
	if v <= 4 {
		return 4
	}
	step := 1
	for {
		for _, m := range []int{1, 2, 5} {
			if s := step * m; s*4 >= v {
				return s * 4
			}
		}
		step *= 10
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
