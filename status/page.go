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
	ScannerProblem:   "#b91c1c",
	NotRegistered:    "#7c2d12",
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
	SourceKey         string // "camera" or "scanner": the source this device reads
	Source, Clock     string
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
		Depth: snap.Queue.Depth, Updated: T(lang, "updated", now.In(loc).Format(TimeLayout)),
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
	v.SourceKey, v.Source = "camera", snap.Camera.State
	problem := snap.Camera.Problem
	if snap.Scanner != nil {
		v.SourceKey, v.Source, problem = "scanner", snap.Scanner.State, snap.Scanner.Problem
	}
	if _, ok := messages[v.SourceKey+"."+v.Source]; ok {
		v.Source = T(lang, v.SourceKey+"."+v.Source)
	}
	if problem != "" {
		v.Source += ": " + problem
	}
	switch {
	case !snap.Clock.Known:
		v.Clock = T(lang, "unknown")
	default:
		v.Clock = ClockOffset(lang, snap.Clock.Offset)
	}
	if snap.Clock.Problem != "" {
		v.Clock += ": " + snap.Clock.Problem
	}
	if countsErr != nil {
		return v
	}
	v.TodayChart = Chart{Values: counts.Hours[:], Labels: HourLabels(), Colour: HourBarColour,
		Width: 720, Height: 240, Title: T(lang, "chart.today"), ValueLabels: true}.SVG()
	dayVals, dayLabels := make([]int, len(counts.Days)), make([]string, len(counts.Days))
	for i, d := range counts.Days {
		dayVals[i], dayLabels[i] = d.Count, d.Day.Format("1/2")
	}
	v.DaysChart = Chart{Values: dayVals, Labels: dayLabels, Colour: DayBarColour,
		Width: 720, Height: 200, Title: T(lang, "chart.days"), ValueLabels: true}.SVG()
	for _, d := range counts.Devices {
		name := EntranceName(d, snap)
		v.Devices = append(v.Devices, deviceRow{Device: name, Today: d.TodayTotal(), Days: d.DaysTotal(),
			Chart: Chart{Values: d.Hours[:], Labels: make([]string, 24), Colour: DeviceBarColour,
				Width: 240, Height: 40, Title: name, Compact: true}.SVG()})
	}
	return v
}

// HourLabels labels every hour of a day chart, 0 to 23.
func HourLabels() []string {
	l := make([]string, 24)
	for h := range l {
		l[h] = fmt.Sprint(h)
	}
	return l
}

// EntranceName names a device's counts for people: its entrance (정문,
// 후문), this device's configured entrance, or else its id.
func EntranceName(d DeviceCounts, snap Snapshot) string {
	switch {
	case d.Entrance != "":
		return d.Entrance
	case d.Device == snap.Device && snap.Entrance != "":
		return snap.Entrance
	}
	return d.Device
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
