package status

import (
	"fmt"
	"sort"
	"time"
)

// HourCount is the number of visitors recorded by one device in one hour.
type HourCount struct {
	// Hour is the start of the hour.
	Hour time.Time `json:"hour"`
	// Device is the entrance device that recorded the scans.
	Device string `json:"device"`
	// Count is the number of recorded scans (verified or pending, each once).
	Count int `json:"count"`
}

// Counter reports visitor counts from the device's own records. The
// durable queue will provide it (its hourly-counter bucket); until then the
// agent keeps a counter of its own.
type Counter interface {
	// HourlyCounts returns the counts for the hours starting in [from, to),
	// one entry per hour and device that had visitors, in any order.
	HourlyCounts(from, to time.Time) ([]HourCount, error)
}

// Days is how many days the page and the CLI show, today included.
const Days = 14

// DayCount is one day's visitors.
type DayCount struct {
	// Day is local midnight.
	Day time.Time `json:"day"`
	// Count is the day's visitors.
	Count int `json:"count"`
}

// Counts are the visitor counts for the page and the CLI: today by hour
// and the last days by day, in total and per device.
type Counts struct {
	// Today is local midnight of the current day.
	Today time.Time `json:"today"`
	// Hours are today's visitors by local hour, 0–23.
	Hours [24]int `json:"hours"`
	// Days are the last days, oldest first, today last.
	Days []DayCount `json:"days"`
	// Devices are the same counts per entrance device, by device name.
	Devices []DeviceCounts `json:"devices"`
	// Source says whose counts these are: CountsFacility (every entrance,
	// from central) or CountsDevice (this device's own, from its queue).
	Source string `json:"source,omitempty"`
}

// Sources of Counts.
const (
	// CountsFacility: the whole facility by entrance, from central.
	CountsFacility = "facility"
	// CountsDevice: this device's own counts, from its queue (central
	// unreachable, or no credential).
	CountsDevice = "device"
)

// FacilityCounter gives the whole facility's counts by entrance, for the
// last Days days, in the page's zone.
type FacilityCounter interface {
	// FacilityCounts returns the counts, or an error when central cannot
	// tell (unreachable, refused).
	FacilityCounts() (Counts, error)
}

// DeviceCounts are one device's counts.
type DeviceCounts struct {
	// Device names the entrance device.
	Device string `json:"device"`
	// Entrance is the entrance the device guards (정문, 후문), when known.
	Entrance string `json:"entrance,omitempty"`
	// Hours are today's visitors by local hour.
	Hours [24]int `json:"hours"`
	// Days are the last days, oldest first, today last.
	Days []DayCount `json:"days"`
}

// TodayTotal is the sum of Hours.
func (c Counts) TodayTotal() int { return sum(c.Hours[:]) }

// TodayTotal is the sum of Hours.
func (d DeviceCounts) TodayTotal() int { return sum(d.Hours[:]) }

// DaysTotal is the sum over Days.
func (d DeviceCounts) DaysTotal() int {
	n := 0
	for _, x := range d.Days {
		n += x.Count
	}
	return n
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// Summarize reads the last days (today included) from c and sums them by
// hour of today and by day, in total and per device, in loc.
func Summarize(c Counter, now time.Time, loc *time.Location, days int) (Counts, error) {
	if days <= 0 {
		days = Days
	}
	now = now.In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	from := today.AddDate(0, 0, -(days - 1))
	to := today.AddDate(0, 0, 1)
	hcs, err := c.HourlyCounts(from, to)
	if err != nil {
		return Counts{}, fmt.Errorf("%w: %w", ErrCounts, err)
	}
	out := Counts{Today: today, Days: dayList(from, days)}
	perDev := map[string]*DeviceCounts{}
	for _, hc := range hcs {
		t := hc.Hour.In(loc)
		if t.Before(from) || !t.Before(to) || hc.Count <= 0 {
			continue
		}
		d := perDev[hc.Device]
		if d == nil {
			d = &DeviceCounts{Device: hc.Device, Days: dayList(from, days)}
			perDev[hc.Device] = d
		}
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		i := dayIndex(from, day, days)
		if i < 0 {
			continue
		}
		out.Days[i].Count += hc.Count
		d.Days[i].Count += hc.Count
		if day.Equal(today) {
			out.Hours[t.Hour()] += hc.Count
			d.Hours[t.Hour()] += hc.Count
		}
	}
	for _, d := range perDev {
		out.Devices = append(out.Devices, *d)
	}
	sort.Slice(out.Devices, func(i, j int) bool { return out.Devices[i].Device < out.Devices[j].Device })
	return out, nil
}

func dayList(from time.Time, days int) []DayCount {
	out := make([]DayCount, days)
	for i := range out {
		out[i].Day = from.AddDate(0, 0, i)
	}
	return out
}

// dayIndex finds day among the days from `from` by calendar date, so that
// a day of 23 or 25 hours (daylight saving) still lands in its slot.
func dayIndex(from, day time.Time, days int) int {
	for i := 0; i < days; i++ {
		d := from.AddDate(0, 0, i)
		if d.Year() == day.Year() && d.YearDay() == day.YearDay() {
			return i
		}
	}
	return -1
}
