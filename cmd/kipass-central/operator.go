package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
)

// opCommand is one operator subcommand: a thin layer over one or two calls
// of central's HTTP API (docs/protocol.md).
type opCommand struct {
	// who is the credential the command needs, for its usage line.
	who string
	// args is the synopsis of the command's own flags.
	args string
	// help is one line on what the command does.
	help string
	// flags declares the command's own flags; run runs it once parsed.
	flags func(o *opEnv) func(ctx context.Context) error
}

// opCommands are the operator subcommands of kipass-central, by name.
var opCommands = map[string]opCommand{
	"register": {
		who:  "none",
		args: "--name NAME --representative NAME --phone PHONE --address ADDRESS --type TYPE [--business-number NNN-NN-NNNNN] --manager-credential FILE",
		help: "register a facility; writes its manager credential to FILE (0600) and prints the facility id",
		flags: func(o *opEnv) func(context.Context) error {
			var reg api.Registration
			o.fs.StringVar(&reg.Name, "name", "", "the facility's `name`")
			o.fs.StringVar(&reg.Representative, "representative", "", "the representative's `name`")
			o.fs.StringVar(&reg.Phone, "phone", "", "a Korean `phone` number")
			o.fs.StringVar(&reg.Address, "address", "", "the branch's `address`")
			o.fs.StringVar(&reg.BusinessType, "type", "", "business `type` code (kipass-central business-types lists them)")
			o.fs.StringVar(&reg.BusinessNumber, "business-number", "", "business registration `number` (사업자등록번호); without it the registration is held until an operator approves it")
			out := o.fs.String("manager-credential", "", "`file` to write the manager credential to (0600; must not exist)")
			return func(ctx context.Context) error {
				if *out == "" {
					return errors.New("--manager-credential FILE is required: central shows the manager credential once")
				}
				if _, err := os.Stat(*out); err == nil {
					return fmt.Errorf("%s exists; give a new file (a facility has one manager credential)", *out)
				}
				var r api.Registered
				if err := o.c.Do(ctx, http.MethodPost, api.PathFacilities, reg, &r); err != nil {
					return err
				}
				if err := writeSecret(*out, r.ManagerCredential); err != nil {
					return fmt.Errorf("facility %s registered, but its manager credential could not be written: %w", r.Facility.ID, err)
				}
				fmt.Fprintln(o.stdout, r.Facility.ID)
				fmt.Fprintf(o.stderr, "registered %s (%s), status %s; manager credential written to %s (0600)\n",
					r.Facility.ID, r.Facility.Name, r.Facility.Status, *out)
				if r.Facility.Status == api.FacilityHeld {
					fmt.Fprintf(o.stderr, "held until an operator runs: kipass-central approve --facility %s\n", r.Facility.ID)
				}
				return nil
			}
		},
	},
	"business-types": {
		who:  "none",
		help: "list the business type codes register accepts",
		flags: func(o *opEnv) func(context.Context) error {
			return func(ctx context.Context) error {
				return view(ctx, o, api.PathBusinessTypes, []string{"CODE", "HIGH RISK", "NAME", "ENGLISH"},
					func(ts []api.BusinessType) [][]string {
						rows := make([][]string, len(ts))
						for i, t := range ts {
							rows[i] = []string{t.Code, yesNo(t.HighRisk), t.Name, t.English}
						}
						return rows
					})
			}
		},
	},
	"facilities": {
		who:  "admin",
		args: "[--status held|disputed|active|removed]",
		help: "list registered facilities (held and disputed ones wait for approve or reject)",
		flags: func(o *opEnv) func(context.Context) error {
			status := o.fs.String("status", "", "only facilities with this `status`: held, disputed, active or removed")
			return func(ctx context.Context) error {
				path := api.PathFacilities
				if *status != "" {
					path += "?status=" + url.QueryEscape(*status)
				}
				return view(ctx, o, path, []string{"FACILITY", "STATUS", "TYPE", "NAME", "ADDRESS", "REGISTERED"},
					func(fs api.Facilities) [][]string {
						rows := make([][]string, len(fs.Facilities))
						for i, f := range fs.Facilities {
							rows[i] = []string{f.ID, f.Status, f.BusinessType, f.Name, f.Address, kst(f.CreatedAt)}
						}
						return rows
					})
			}
		},
	},
	"approve": {
		who:   "admin",
		args:  "--facility ID",
		help:  "approve a held or disputed registration (decision keep), so its devices may enroll and send scans",
		flags: func(o *opEnv) func(context.Context) error { return o.decide(api.DecisionKeep) },
	},
	"reject": {
		who:   "admin",
		args:  "--facility ID",
		help:  "reject a held or disputed registration (decision remove): its credentials stop working for good",
		flags: func(o *opEnv) func(context.Context) error { return o.decide(api.DecisionRemove) },
	},
	"dispute": {
		who:  "manager",
		args: "--facility BRANCH [--reason TEXT]",
		help: "say a branch registered under your business number is not yours: it is held until an operator decides",
		flags: func(o *opEnv) func(context.Context) error {
			o.facilityFlag()
			reason := o.fs.String("reason", "", "a note for the operator (at most 200 characters)")
			return func(ctx context.Context) error {
				if err := o.needFacility(); err != nil {
					return err
				}
				var f api.Facility
				if err := o.c.Do(ctx, http.MethodPost, api.FacilityPath(o.facility, "dispute"), api.DisputeRequest{Reason: *reason}, &f); err != nil {
					return err
				}
				fmt.Fprintf(o.stdout, "%s (%s) is %s until an operator decides\n", f.ID, f.Name, f.Status)
				return nil
			}
		},
	},
	"code": {
		who:  "manager",
		args: "--facility ID --entrance NAME",
		help: "issue a one-time enrollment code for a device at an entrance; prints the code",
		flags: func(o *opEnv) func(context.Context) error {
			o.facilityFlag()
			entrance := o.fs.String("entrance", "", "the `entrance` the device will guard (\"정문\")")
			return func(ctx context.Context) error {
				if err := o.needFacility(); err != nil {
					return err
				}
				var c api.EnrollmentCode
				if err := o.c.Do(ctx, http.MethodPost, api.FacilityPath(o.facility, "enrollment-codes"),
					api.CodeRequest{Entrance: *entrance}, &c); err != nil {
					return err
				}
				if o.asJSON {
					return o.printJSON(c)
				}
				fmt.Fprintln(o.stdout, c.Code)
				fmt.Fprintf(o.stderr, "one-time code for entrance %q of %s, valid until %s\non the device: kipass-agent enroll --code %s --config /etc/kipass/agent.json\n",
					c.Entrance, c.Facility, kst(c.ExpiresAt), c.Code)
				return nil
			}
		},
	},
	"devices": {
		who:  "manager, staff or admin",
		args: "[--facility ID] [--problems]",
		help: "list devices with their entrance and state (admin: every facility without --facility)",
		flags: func(o *opEnv) func(context.Context) error {
			o.facilityFlag()
			problems := o.fs.Bool("problems", false, "only devices with a problem")
			return func(ctx context.Context) error {
				q := url.Values{}
				if o.facility != "" {
					q.Set("facility", o.facility)
				}
				if *problems {
					q.Set("problems", "only")
				}
				path := api.PathFleet
				if len(q) > 0 {
					path += "?" + q.Encode()
				}
				return view(ctx, o, path, []string{"FACILITY", "ENTRANCE", "DEVICE", "STATE", "LAST SEEN", "QUEUE", "VERSION"},
					func(f api.Fleet) [][]string {
						rows := make([][]string, len(f.Devices))
						for i, d := range f.Devices {
							state := "ok"
							if len(d.Problems) > 0 {
								state = strings.Join(d.Problems, ",")
							}
							rows[i] = []string{d.Facility, orDash(d.Entrance), d.ID, state, kst(d.LastSeen), strconv.Itoa(d.QueueDepth), orDash(d.Version)}
						}
						return rows
					})
			}
		},
	},
	"rename": {
		who:  "manager",
		args: "--facility ID --device ID --entrance NAME",
		help: "change the entrance a device guards (how it is shown in counts and exports)",
		flags: func(o *opEnv) func(context.Context) error {
			o.facilityFlag()
			device := o.fs.String("device", "", "the device `id` (D-…; kipass-central devices lists them)")
			entrance := o.fs.String("entrance", "", "the new entrance `name`")
			return func(ctx context.Context) error {
				path, err := o.devicePath(*device)
				if err != nil {
					return err
				}
				if err := o.c.Do(ctx, http.MethodPatch, path, api.EntranceRequest{Entrance: *entrance}, nil); err != nil {
					return err
				}
				fmt.Fprintf(o.stdout, "%s now guards entrance %q\n", *device, *entrance)
				return nil
			}
		},
	},
	"remove": {
		who:  "manager",
		args: "--facility ID --device ID",
		help: "remove a device (lost, stolen, replaced): its credential stops working at once",
		flags: func(o *opEnv) func(context.Context) error {
			o.facilityFlag()
			device := o.fs.String("device", "", "the device `id` (D-…)")
			return func(ctx context.Context) error {
				path, err := o.devicePath(*device)
				if err != nil {
					return err
				}
				if err := o.c.Do(ctx, http.MethodDelete, path, nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(o.stdout, "%s removed; its credential is revoked\n", *device)
				return nil
			}
		},
	},
	"counts": {
		who:  "manager, staff, device or admin",
		args: "--facility ID",
		help: "today's visitors and the last 14 days, per entrance, QR and paper ledger side by side (counts only, never a list)",
		flags: func(o *opEnv) func(context.Context) error {
			o.facilityFlag()
			return func(ctx context.Context) error {
				if err := o.needFacility(); err != nil {
					return err
				}
				return view(ctx, o, api.FacilityPath(o.facility, "stats"), []string{"ENTRANCE", "DEVICE", "TODAY", "14 DAYS", "PAPER TODAY", "PAPER 14 DAYS"},
					func(s api.Stats) [][]string {
						devs := append([]api.DeviceCounts(nil), s.Devices...)
						sort.SliceStable(devs, func(i, j int) bool { return devs[i].Entrance < devs[j].Entrance })
						var rows [][]string
						for _, d := range devs {
							rows = append(rows, []string{orDash(d.Entrance), d.Device, strconv.Itoa(d.Today.Total), strconv.Itoa(sumDays(d.Days)),
								strconv.Itoa(d.Today.PaperTotal), strconv.Itoa(sumPaper(d.Days))})
						}
						return append(rows, []string{"all entrances", "", strconv.Itoa(s.Today.Total), strconv.Itoa(sumDays(s.Days)),
							strconv.Itoa(s.Today.PaperTotal), strconv.Itoa(sumPaper(s.Days))})
					})
			}
		},
	},
	"export": {
		who:  "authority",
		args: "--facility ID --from TIME --purpose TEXT [--to TIME] [--out FILE]",
		help: "the health authority's export of a facility's visits (JSON, times in KST; written to the audit log)",
		flags: func(o *opEnv) func(context.Context) error {
			o.facilityFlag()
			from := o.fs.String("from", "", "start of the window: RFC 3339 or YYYY-MM-DD (midnight KST)")
			to := o.fs.String("to", "", "end of the window, exclusive: RFC 3339 or YYYY-MM-DD (midnight KST); default now")
			purpose := o.fs.String("purpose", "", "why the visits are exported (written to the audit log)")
			out := o.fs.String("out", "", "write the export to `file` (0600) instead of standard output")
			return func(ctx context.Context) error {
				if err := o.needFacility(); err != nil {
					return err
				}
				lo, err := parseWhen("--from", *from, time.Time{})
				if err != nil {
					return err
				}
				hi, err := parseWhen("--to", *to, time.Now())
				if err != nil {
					return err
				}
				q := url.Values{"facility": {o.facility}, "from": {lo.Format(time.RFC3339Nano)}, "to": {hi.Format(time.RFC3339Nano)}, "purpose": {*purpose}}
				var e api.Export
				if err := o.c.Do(ctx, http.MethodGet, api.PathExport+"?"+q.Encode(), nil, &e); err != nil {
					return err
				}
				if *out == "" {
					return o.printJSON(e)
				}
				b, _ := json.MarshalIndent(e, "", "  ")
				if err := writeSecret(*out, string(b)); err != nil {
					return err
				}
				fmt.Fprintf(o.stderr, "%d visits of %s written to %s (audit entry %d)\n", len(e.Visits), e.Facility, *out, e.AuditSeq)
				return nil
			}
		},
	},
}

// opEnv is what every operator command shares: central's address, the
// credential, the output and the facility.
type opEnv struct {
	fs             *flag.FlagSet
	stdout, stderr io.Writer
	facility       string
	asJSON         bool
	c              caller
}

// facilityFlag declares --facility (default $KIPASS_FACILITY).
func (o *opEnv) facilityFlag() {
	o.fs.StringVar(&o.facility, "facility", os.Getenv("KIPASS_FACILITY"), "the facility `id` (F-…; env KIPASS_FACILITY)")
}

func (o *opEnv) needFacility() error {
	if o.facility == "" {
		return errors.New("--facility is required (or set KIPASS_FACILITY)")
	}
	return nil
}

// decide declares --facility and returns the run of an operator's
// decision on a held or disputed registration.
func (o *opEnv) decide(decision string) func(context.Context) error {
	o.facilityFlag()
	return func(ctx context.Context) error {
		if err := o.needFacility(); err != nil {
			return err
		}
		var f api.Facility
		if err := o.c.Do(ctx, http.MethodPost, api.FacilityPath(o.facility, "decide"), api.Decision{Decision: decision}, &f); err != nil {
			return err
		}
		fmt.Fprintf(o.stdout, "%s (%s) is %s\n", f.ID, f.Name, f.Status)
		return nil
	}
}

// devicePath is the path of one device of --facility; both are required.
func (o *opEnv) devicePath(device string) (string, error) {
	if err := o.needFacility(); err != nil {
		return "", err
	}
	if device == "" {
		return "", errors.New("--device is required (kipass-central devices lists them)")
	}
	return api.FacilityPath(o.facility, "devices", url.PathEscape(device)), nil
}

// runOperator runs the operator command name with args.
func runOperator(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	cmd := opCommands[name]
	o := &opEnv{fs: flag.NewFlagSet(name, flag.ContinueOnError), stdout: stdout, stderr: stderr}
	o.fs.SetOutput(stderr)
	base := o.fs.String("central", envOr("KIPASS_CENTRAL_URL", "http://127.0.0.1:8700"), "central's base `URL` (env KIPASS_CENTRAL_URL)")
	credFile := o.fs.String("credential", os.Getenv("KIPASS_CREDENTIAL_FILE"), "`file` holding the "+cmd.who+" credential (env KIPASS_CREDENTIAL_FILE)")
	ca := o.fs.String("ca", "", "PEM `file` of the CA that signed central's certificate (default: the system roots)")
	insecure := o.fs.Bool("insecure-http", false, "allow a plain http:// --central to a host other than loopback (credentials travel unencrypted)")
	o.fs.BoolVar(&o.asJSON, "json", false, "print central's JSON answer")
	run := cmd.flags(o)
	o.fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: kipass-central %s %s [--central URL] [--credential FILE] [--json]\n\n%s.\nCredential: %s.\n\nFlags:\n",
			name, cmd.args, cmd.help, cmd.who)
		o.fs.PrintDefaults()
	}
	if err := o.fs.Parse(args); err != nil {
		return err
	}
	if o.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (every value is a flag; -h lists them)", o.fs.Arg(0))
	}
	var credential string
	if *credFile != "" {
		b, err := os.ReadFile(*credFile)
		if err != nil {
			return fmt.Errorf("credential: %w", err)
		}
		credential = strings.TrimSpace(string(b))
	} else if cmd.who != "none" {
		return fmt.Errorf("--credential FILE is required: the %s credential", cmd.who)
	}
	c, err := client.New(client.Options{URL: *base, Credential: credential, CAFile: *ca, InsecureHTTP: *insecure,
		Timeout: 60 * time.Second, MaxAnswer: 64 << 20})
	if err != nil {
		return fmt.Errorf("--central: %w", err)
	}
	o.c = c
	return run(ctx)
}

// view GETs path into a T and prints it: central's JSON with --json, else
// the rows that rows makes of it under header, as a table.
func view[T any](ctx context.Context, o *opEnv, path string, header []string, rows func(T) [][]string) error {
	var v T
	if err := o.c.Do(ctx, http.MethodGet, path, nil, &v); err != nil {
		return err
	}
	if o.asJSON {
		return o.printJSON(v)
	}
	return printTable(o.stdout, append([][]string{header}, rows(v)...))
}

// printTable prints rows as columns two spaces apart, aligned on a
// terminal: Hangul and other wide characters take two cells.
func printTable(w io.Writer, rows [][]string) error {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], cells(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		line := ""
		for i, c := range r {
			if i < len(r)-1 {
				c += strings.Repeat(" ", widths[i]-cells(c)+2)
			}
			line += c
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cells is the width of s on a terminal.
func cells(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x1100 && r <= 0x115F || r >= 0x2E80 && r <= 0xA4CF || r >= 0xAC00 && r <= 0xD7A3 ||
			r >= 0xF900 && r <= 0xFAFF || r >= 0xFE30 && r <= 0xFE4F || r >= 0xFF00 && r <= 0xFF60 || r >= 0xFFE0 && r <= 0xFFE6 {
			n++
		}
	}
	return n
}

func (o *opEnv) printJSON(v any) error {
	enc := json.NewEncoder(o.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeSecret writes a credential or an export to a new file, 0600.
func writeSecret(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(strings.TrimRight(s, "\n") + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parseWhen reads an RFC 3339 time or a KST date; def when s is empty
// (an error when def is zero).
func parseWhen(flagName, s string, def time.Time) (time.Time, error) {
	if s == "" {
		if def.IsZero() {
			return def, fmt.Errorf("%s is required", flagName)
		}
		return def, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, api.KST); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("%s %q: want YYYY-MM-DD or an RFC 3339 time such as 2026-12-03T09:00:00+09:00", flagName, s)
	}
	return t, nil
}

// kst shows a time to a person: in Korea Standard Time, with its zone.
func kst(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.In(api.KST).Format("2006-01-02 15:04:05 KST")
}

func sumDays(ds []api.DayCount) int {
	n := 0
	for _, d := range ds {
		n += d.Total
	}
	return n
}

// sumPaper is the paper-ledger visits of the days.
func sumPaper(ds []api.DayCount) int {
	n := 0
	for _, d := range ds {
		n += d.Paper
	}
	return n
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
