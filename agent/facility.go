package agent

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/status"
)

// FacilityStatsEvery is how long the page reuses central's facility
// counts before asking again.
const FacilityStatsEvery = 30 * time.Second

// facilityStats reads the whole facility's counts by entrance from
// central (GET /v1/facilities/{id}/stats, which a device credential may
// read), for the status page and `kipass-agent stats`.
type facilityStats struct {
	facility string
	central  *client.Client
	clk      clock.Clock

	mu      sync.Mutex
	at      time.Time
	last    status.Counts
	lastErr error
}

// FacilityCounts returns central's counts, asked at most every
// FacilityStatsEvery; an error when central does not answer.
func (f *facilityStats) FacilityCounts() (status.Counts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clk.Now()
	if !f.at.IsZero() && now.Sub(f.at) < FacilityStatsEvery && now.After(f.at) {
		return f.last, f.lastErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	f.last, f.lastErr = f.fetch(ctx)
	f.at = now
	return f.last, f.lastErr
}

func (f *facilityStats) fetch(ctx context.Context) (status.Counts, error) {
	var st api.Stats
	if err := f.central.Do(ctx, http.MethodGet, api.FacilityPath(f.facility, "stats"), nil, &st); err != nil {
		return status.Counts{}, fmt.Errorf("facility stats: %w", err)
	}
	return countsFromStats(st)
}

// countsFromStats turns central's stats (KST days) into the page's counts.
func countsFromStats(st api.Stats) (status.Counts, error) {
	day := func(s string) (time.Time, error) { return time.ParseInLocation("2006-01-02", s, status.KST) }
	days := func(cs api.CountSeries) ([]status.DayCount, error) {
		out := make([]status.DayCount, len(cs.Days))
		for i, d := range cs.Days {
			t, err := day(d.Date)
			if err != nil {
				return nil, fmt.Errorf("facility stats: day %q: %w", d.Date, err)
			}
			out[i] = status.DayCount{Day: t, Count: d.Total}
		}
		return out, nil
	}
	today, err := day(st.Today.Date)
	if err != nil {
		return status.Counts{}, fmt.Errorf("facility stats: today %q: %w", st.Today.Date, err)
	}
	c := status.Counts{Today: today, Hours: st.Today.Hours}
	if c.Days, err = days(st.CountSeries); err != nil {
		return status.Counts{}, err
	}
	for _, d := range st.Devices {
		dd, err := days(d.CountSeries)
		if err != nil {
			return status.Counts{}, err
		}
		c.Devices = append(c.Devices, status.DeviceCounts{Device: d.Device, Entrance: d.Entrance, Hours: d.Today.Hours, Days: dd})
	}
	sort.Slice(c.Devices, func(i, j int) bool {
		return c.Devices[i].Entrance+c.Devices[i].Device < c.Devices[j].Entrance+c.Devices[j].Device
	})
	return c, nil
}

// facilityCounter is the page's source of facility counts: nil without a
// credential, so that the page shows this device's own counts.
func (o *observer) facilityCounter() status.FacilityCounter {
	if o.facilityStats == nil {
		return nil
	}
	return o.facilityStats
}
