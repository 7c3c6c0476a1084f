package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/status"
	"github.com/kipass/kipass/token"
	"github.com/kipass/kipass/uplink"
)

// durableCounts reads a queue's hourly counters as one device's visitor
// counts, as the agent does.
type durableCounts struct {
	q      *queue.Queue
	device string
}

func (c durableCounts) HourlyCounts(from, to time.Time) ([]status.HourCount, error) {
	hs, err := c.q.HourlyCounts(from, to)
	var out []status.HourCount
	for _, h := range hs {
		if h.Enqueued > 0 {
			out = append(out, status.HourCount{Hour: h.Hour, Device: c.device, Count: h.Enqueued})
		}
	}
	return out, err
}

// door is one entrance device: its queue, its uplink and its status server.
type door struct {
	device string
	q      *queue.Queue
	s      *uplink.Sender
	addr   string
}

func newDoor(t *testing.T, ctx context.Context, facility, device, url string) *door {
	t.Helper()
	q, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	srv, err := status.New(status.Options{Source: queueSource{q}, Counter: durableCounts{q, device}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx, ln)
	cl, err := client.New(client.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	return &door{device: device, q: q, s: uplink.New(q, uplink.Options{Central: cl}), addr: ln.Addr().String()}
}

// see records a token shown at the door now, as the agent does after a
// verified judgement.
func (d *door) see(t *testing.T, facility, tok string) {
	t.Helper()
	now := time.Now()
	if _, err := d.q.Enqueue(queue.Record{Scan: api.Scan{ID: token.ScanID(d.device, tok), Facility: facility, Device: d.device, DeviceTime: now, CorrectedTime: now, Token: tok, Verdict: string(token.Verified)}}); err != nil {
		t.Fatal(err)
	}
}

func (d *door) send(t *testing.T) {
	t.Helper()
	for {
		n, err := d.s.SendOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// stats runs `kipass-agent stats --json` against the door's status server.
func (d *door) stats(t *testing.T) status.Counts {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"stats", "--addr", d.addr, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("stats: exit %d: %s", code, errb.String())
	}
	var c status.Counts
	if err := json.Unmarshal(out.Bytes(), &c); err != nil {
		t.Fatalf("stats --json: %v\n%s", err, out.String())
	}
	return c
}

// TestDeviceAndCentralCountsAgree scripts a day at a facility with two
// entrances: visitors at one door or the other, one visitor who shows the
// same token at both doors (a repeat), one who shows it twice at one door
// after the dedup window and after its first scan was delivered (a
// replay), and a batch sent twice. Each door's `kipass-agent stats` and
// central's counts for that door agree, and the facility counts each
// visit once.
func TestDeviceAndCentralCountsAgree(t *testing.T) {
	key, _ := token.GenerateKey("dev")
	cs, err := central.Open(filepath.Join(t.TempDir(), "central.db"), central.Options{Keys: token.NewKeySet(key.Public())})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	hs := httptest.NewServer(cs.Handler())
	defer hs.Close()
	reg, _ := json.Marshal(api.Registration{BusinessNumber: "124-81-00998", Name: "행복 헬스장", Representative: "김철수",
		Phone: "02-123-4567", Address: "서울 중구 1", BusinessType: "gym"})
	resp, err := http.Post(hs.URL+api.PathFacilities, "application/json", bytes.NewReader(reg))
	if err != nil {
		t.Fatal(err)
	}
	var f api.Registered
	json.NewDecoder(resp.Body).Decode(&f)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	fac := f.Facility.ID
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	front, back := newDoor(t, ctx, fac, "gate-front", hs.URL), newDoor(t, ctx, fac, "gate-back", hs.URL)
	issue := func() string {
		tok, err := token.Signer{Key: key}.Issue(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	// Plain visitors: three at the front, two at the back.
	for i := 0; i < 3; i++ {
		front.see(t, fac, issue())
	}
	for i := 0; i < 2; i++ {
		back.see(t, fac, issue())
	}
	// A repeat: one token at both doors.
	both := issue()
	front.see(t, fac, both)
	back.see(t, fac, both)
	// A replay: a token seen, delivered, and shown again at the same door.
	twice := issue()
	front.see(t, fac, twice)
	front.send(t)
	front.see(t, fac, twice)
	front.send(t)
	back.send(t)
	// A batch sent twice: the back door's last scan is re-sent by hand.
	last := issue()
	back.see(t, fac, last)
	now := time.Now()
	batch, _ := json.Marshal(api.ScanBatch{Scans: []api.Scan{{ID: token.ScanID("gate-back", last), Facility: fac,
		Device: "gate-back", DeviceTime: now, CorrectedTime: now, Token: last, Verdict: "verified"}}})
	for i := 0; i < 2; i++ {
		if r, err := http.Post(hs.URL+api.PathScans, "application/json", bytes.NewReader(batch)); err != nil {
			t.Fatal(err)
		} else {
			r.Body.Close()
		}
	}
	back.send(t)

	var st api.Stats
	req, _ := http.NewRequest("GET", hs.URL+api.FacilityPath(fac, "stats"), nil)
	req.Header.Set("Authorization", "Bearer "+f.ManagerCredential)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	centralDays := map[string][]api.DayCount{}
	for _, d := range st.Devices {
		centralDays[d.Device] = d.Days
	}
	total := 0
	for _, d := range []*door{front, back} {
		c := d.stats(t)
		if len(c.Devices) != 1 || c.Devices[0].Device != d.device {
			t.Fatalf("%s: stats devices = %+v", d.device, c.Devices)
		}
		mine := c.Devices[0]
		cd := centralDays[d.device]
		if len(cd) != len(mine.Days) {
			t.Fatalf("%s: %d days on the device, %d at central", d.device, len(mine.Days), len(cd))
		}
		for i := range cd {
			if cd[i].Date != mine.Days[i].Day.Format("2006-01-02") || cd[i].Total != mine.Days[i].Count {
				t.Errorf("%s: day %d: device %s %d, central %s %d", d.device, i,
					mine.Days[i].Day.Format("2006-01-02"), mine.Days[i].Count, cd[i].Date, cd[i].Total)
			}
		}
		total += mine.DaysTotal()
	}
	// Front: 3 + both + twice = 5; back: 2 + both + last = 4. The facility:
	// 9 passages, one of them a repeat: 8 visits.
	if total != 9 {
		t.Fatalf("devices counted %d passages, want 9", total)
	}
	facility := 0
	for _, d := range st.Days {
		facility += d.Total
	}
	if facility != 8 {
		t.Fatalf("central counted %d visits, want 8", facility)
	}
}
