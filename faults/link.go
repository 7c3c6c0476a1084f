package faults

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/uplink"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Scale sizes the suite: Short is the CI version.
type Scale struct {
	// Short selects the CI sizes.
	Short bool
	// Dir holds the scenario files (a temporary directory when "").
	Dir string
	// Log receives the scenarios' component logs (discarded when nil).
	Log *slog.Logger
}

func (s Scale) pick(short, long int) int {
	if s.Short {
		return short
	}
	return long
}

func (s Scale) dur(short, long time.Duration) time.Duration {
	if s.Short {
		return short
	}
	return long
}

func (s Scale) log() *slog.Logger {
	if s.Log == nil {
		return discard
	}
	return s.Log
}

// linkCase is one scenario of the uplink against a misbehaving path.
type linkCase struct {
	name     string
	prefill  int
	trickle  int           // records enqueued during the fault window
	window   time.Duration // how long the fault lasts
	within   time.Duration // drain deadline after the window
	bad      int           // records signed by an unknown key (rejected per item)
	fault    *Fault        // central misbehaviour
	toxic    string        // toxiproxy toxic JSON, on during the window
	flap     time.Duration // link up/down period during the window
	noReuse  bool          // one connection per request (every request rolls the toxic)
	maxBkoff time.Duration
}

func (sc Scale) runLink(ctx context.Context, is *Issuer, lc linkCase) (res Result) {
	res.Scenario = lc.name
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	dir, err := os.MkdirTemp(sc.Dir, lc.name+"-")
	if err != nil {
		res.Err = err
		return res
	}
	defer os.RemoveAll(dir)

	var fh *FaultHandler
	var wrap func(http.Handler) http.Handler
	if lc.fault != nil {
		wrap = func(h http.Handler) http.Handler { fh = NewFaultHandler(h, *lc.fault); return fh }
	}
	c, err := StartCentral(dir, is.Keys, wrap)
	if err != nil {
		res.Err = err
		return res
	}
	centralOpen := true
	defer func() {
		if centralOpen {
			c.Close()
		}
	}()
	url := c.URL
	var proxy *toxiproxy.Proxy
	if lc.toxic != "" || lc.flap > 0 {
		zerolog.SetGlobalLevel(zerolog.Disabled) // toxics log through the global logger
		zl := zerolog.Nop()
		ts := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zl)
		proxy = toxiproxy.NewProxy(ts, "central", "127.0.0.1:0", c.Addr)
		if err := proxy.Start(); err != nil {
			res.Err = err
			return res
		}
		defer proxy.Stop()
		url = "http://" + proxy.Listen
	}

	q, err := queue.Open(filepath.Join(dir, "queue.db"), queue.Options{Log: sc.log()})
	if err != nil {
		res.Err = err
		return res
	}
	defer q.Close()
	led := NewLedger()
	enqueue := func(bad bool) error {
		var r queue.Record
		var err error
		if bad {
			other, _ := NewIssuer()
			r, err = other.Record("F-FAULTS", "D-LINK", time.Now())
		} else {
			r, err = is.Record("F-FAULTS", "D-LINK", time.Now())
		}
		if err != nil {
			return err
		}
		if _, err := q.Enqueue(r); err != nil {
			return err
		}
		led.Confirm(r.ID)
		return nil
	}
	for i := 0; i < lc.prefill; i++ {
		if err := enqueue(i < lc.bad); err != nil {
			res.Err = err
			return res
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = lc.noReuse
	maxB := lc.maxBkoff
	if maxB == 0 {
		maxB = 10 * time.Second
	}
	cl, err := centralClient(url, 10*time.Second, tr)
	if err != nil {
		res.Err = err
		return res
	}
	snd := uplink.New(q, uplink.Options{Central: cl,
		MinBackoff: 200 * time.Millisecond, MaxBackoff: maxB, ProbeMax: time.Second, ProbeTimeout: 3 * time.Second,
		Poll: 200 * time.Millisecond, Log: sc.log().With("scenario", lc.name)})
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); snd.Run(sctx) }()
	stopped := false
	stopSender := func() {
		if !stopped {
			stop()
			wg.Wait()
			stopped = true
		}
	}
	defer stopSender()

	// The fault window: the toxic is on (or the link flaps) while scans
	// keep arriving.
	if lc.toxic != "" {
		if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(lc.toxic)); err != nil {
			res.Err = fmt.Errorf("add toxic: %w", err)
			return res
		}
	}
	wend := time.Now().Add(lc.window)
	var fwg sync.WaitGroup
	flaps := 0
	if lc.flap > 0 {
		fwg.Add(1)
		go func() {
			defer fwg.Done()
			for cycle := 0; cycle < int(lc.window/(2*lc.flap)); cycle++ {
				time.Sleep(lc.flap)
				proxy.Stop()
				flaps++
				time.Sleep(lc.flap)
				if err := proxy.Start(); err != nil {
					sc.log().Error("proxy restart", "err", err)
				}
			}
		}()
	}
	for i := 0; i < lc.trickle; i++ {
		if err := enqueue(false); err != nil {
			res.Err = err
			return res
		}
		if lc.trickle > 0 {
			time.Sleep(lc.window / time.Duration(lc.trickle))
		}
	}
	if d := time.Until(wend); d > 0 {
		time.Sleep(d)
	}
	fwg.Wait()
	if lc.toxic != "" {
		proxy.Toxics.ResetToxics(context.Background())
	}
	cleared := time.Now()
	derr := waitDrained(ctx, q, lc.within)
	drainAfter := time.Since(cleared)
	st := snd.Status()
	stopSender()

	dead := map[string]bool{}
	dl, _ := q.DeadLetters(1 << 20)
	for _, d := range dl {
		dead[d.ID] = true
	}
	if fh != nil {
		fh.WaitSlow()
		f, p := fh.Counts()
		res.detail("faulted_posts=%d passed_posts=%d", f, p)
	}
	if lc.flap > 0 {
		res.detail("flaps=%d", flaps)
	}
	c.Close()
	centralOpen = false
	stored, err := ReadCentral(c.path)
	if err != nil {
		res.Err = err
		return res
	}
	led.Check(&res, stored, dead)
	res.detail("drained_after_fault=%s", drainAfter.Round(100*time.Millisecond))
	res.detail("final_batch=%d", st.Batch)
	if derr != nil {
		res.Err = derr
	}
	return res
}

// NetworkScenarios are the link faults through toxiproxy.
func (sc Scale) NetworkScenarios(ctx context.Context, is *Issuer) []Result {
	n := sc.pick(200, 2000)
	tr := sc.pick(40, 200)
	w := sc.dur(8*time.Second, 30*time.Second)
	cases := []linkCase{
		{name: "net-latency-2s", prefill: n, trickle: tr, window: w, within: 2 * time.Minute,
			toxic: `{"name":"lat","type":"latency","stream":"downstream","attributes":{"latency":2000}}`},
		{name: "net-reset-peer", prefill: n, trickle: tr, window: w, within: 2 * time.Minute, noReuse: true,
			toxic: `{"name":"reset","type":"reset_peer","stream":"downstream","toxicity":0.5,"attributes":{"timeout":0}}`},
		{name: "net-timeout", prefill: n, trickle: tr, window: sc.dur(15*time.Second, 60*time.Second), within: 2 * time.Minute, noReuse: true,
			toxic: `{"name":"timeout","type":"timeout","stream":"downstream","toxicity":0.5,"attributes":{"timeout":0}}`},
		{name: "net-bandwidth-1KBps", prefill: sc.pick(30, 100), trickle: sc.pick(10, 30), window: sc.dur(20*time.Second, 90*time.Second), within: 5 * time.Minute,
			toxic: `{"name":"bw","type":"bandwidth","stream":"upstream","attributes":{"rate":1}}`},
		{name: "net-flap-5s", prefill: n, trickle: sc.pick(60, 300), window: sc.dur(20*time.Second, 60*time.Second), within: 2 * time.Minute,
			flap: 5 * time.Second},
	}
	var out []Result
	for _, lc := range cases {
		if ctx.Err() != nil {
			break
		}
		out = append(out, sc.runLink(ctx, is, lc))
	}
	return out
}

// CentralScenarios are central answering errors through a fault handler.
func (sc Scale) CentralScenarios(ctx context.Context, is *Issuer) []Result {
	n := sc.pick(300, 3000)
	cases := []linkCase{
		{name: "central-500", prefill: n, window: time.Second, within: time.Minute,
			fault: &Fault{Status: 500, Times: 5}},
		{name: "central-429-retry-after", prefill: n, window: time.Second, within: time.Minute,
			fault: &Fault{Status: 429, RetryAfter: "2", Times: 3}},
		{name: "central-400-and-rejects", prefill: n, bad: 3, window: time.Second, within: time.Minute, maxBkoff: 3 * time.Second,
			fault: &Fault{Status: 400, Times: 2}},
		{name: "central-slow-30s", prefill: n, window: time.Second, within: time.Minute,
			fault: &Fault{Delay: 30 * time.Second, Times: 1}},
	}
	var out []Result
	for _, lc := range cases {
		if ctx.Err() != nil {
			break
		}
		out = append(out, sc.runLink(ctx, is, lc))
	}
	return out
}
