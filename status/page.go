package status

import (
	"embed"
	"fmt"
	"html/template"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"t": T,
}).ParseFS(templateFS, "templates/*.html"))

// StateColour is the background of the state line for each state.
var StateColour = map[State]string{
	Scanning:         "#15803d",
	OfflineRecording: "#b45309",
	CameraProblem:    "#b91c1c",
	ClockProblem:     "#b91c1c",
	StorageProblem:   "#b91c1c",
}

// DeviceBarColour fills the small per-device charts.
const DeviceBarColour = "#93c5fd"

// pageView is what the status template renders.
type pageView struct {
	Lang, Other       string
	Snap              Snapshot
	State             State
	StateColour       string
	Depth             int
	Oldest, Last      string
	Camera, Clock     string
	Updated           string
	CountsErr         bool
	Counts            Counts
	TodayChart        template.HTML
	DaysChart         template.HTML
	Devices           []deviceRow
	SettingsAvailable bool
	Refresh           bool
	Ledger            ledgerView
}

type deviceRow struct {
	Device      string
	Today, Days int
	Chart       template.HTML
}

func otherLang(lang string) string {
	if lang == "en" {
		return "ko"
	}
	return "en"
}

func (s *Server) pageView(lang string, snap Snapshot, counts Counts, countsErr error) pageView {
	now := snap.At
	loc := s.o.Location
	v := pageView{
		Lang: lang, Other: otherLang(lang), Snap: snap, State: snap.State(),
		Depth: snap.Queue.Depth, Updated: T(lang, "updated", now.In(loc).Format("2006-01-02 15:04:05")),
		CountsErr: countsErr != nil, Counts: counts, SettingsAvailable: s.o.Settings != nil, Refresh: true,
	}
	v.StateColour = StateColour[v.State]
	if snap.Queue.Depth > 0 {
		v.Oldest = Age(lang, snap.Queue.OldestAge(now))
	} else {
		v.Oldest = "—"
	}
	if snap.Uplink.LastUpload.IsZero() {
		v.Last = T(lang, "never")
	} else {
		v.Last = T(lang, "ago", Age(lang, now.Sub(snap.Uplink.LastUpload)))
	}
	v.Camera = snap.Camera.State
	if _, ok := messages["camera."+v.Camera]; ok {
		v.Camera = T(lang, "camera."+v.Camera)
	}
	if snap.Camera.Problem != "" {
		v.Camera += ": " + snap.Camera.Problem
	}
	switch {
	case !snap.Clock.Known:
		v.Clock = T(lang, "unknown")
	default:
		v.Clock = fmt.Sprintf("%+.1f s", snap.Clock.Offset.Seconds())
	}
	if snap.Clock.Problem != "" {
		v.Clock += ": " + snap.Clock.Problem
	}
	if countsErr != nil {
		return v
	}
	hourLabels := make([]string, 24)
	for h := 0; h < 24; h += 3 {
		hourLabels[h] = fmt.Sprintf("%d", h)
	}
	v.TodayChart = Chart{Values: counts.Hours[:], Labels: hourLabels, Colour: HourBarColour,
		Width: 1040, Height: 260, Title: T(lang, "chart.today"), ValueLabels: true}.SVG()
	dayVals, dayLabels := make([]int, len(counts.Days)), make([]string, len(counts.Days))
	for i, d := range counts.Days {
		dayVals[i], dayLabels[i] = d.Count, d.Day.Format("1/2")
	}
	v.DaysChart = Chart{Values: dayVals, Labels: dayLabels, Colour: DayBarColour,
		Width: 1040, Height: 200, Title: T(lang, "chart.days"), ValueLabels: true}.SVG()
	for _, d := range counts.Devices {
		v.Devices = append(v.Devices, deviceRow{Device: d.Device, Today: d.TodayTotal(), Days: d.DaysTotal(),
			Chart: Chart{Values: d.Hours[:], Labels: make([]string, 24), Colour: DeviceBarColour,
				Width: 360, Height: 40, Title: d.Device, Compact: true}.SVG()})
	}
	return v
}

// settingsView is what the settings template renders.
type settingsView struct {
	Lang, Other string
	HavePIN     bool
	Unlocked    bool
	Message     string
	Error       string
	Settings    Settings
	VolumePct   int
	CanFlush    bool
	Refresh     bool
	HaveLedger  bool
}
