package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

const configUsage = `Usage:

	kipass-agent config check --config FILE

Check reads the config as run would and checks the files it names
(credential, manager PIN, central's CA, a folder source) and the status
address, without starting the agent. Every error names its key, with the
line and column for a key written wrong. It exits 0 when the config is
good and 1 otherwise.

A commented example with every key is docs/agent.example.jsonc.

Flags:
`

// cmdConfig runs `kipass-agent config check`.
func cmdConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stderr, configUsage)
			return flag.ErrHelp
		}
		fmt.Fprint(stderr, configUsage)
		return errors.New("want: config check --config FILE")
	}
	fs := newFlagSet("config check", configUsage, stderr)
	cfg, err := loadConfig(fs, args[1:], "the config `file` to check")
	if err != nil {
		return err
	}
	if err := cfg.CheckFiles(); err != nil {
		return err
	}
	kind := "camera"
	if cfg.IsScanEngine() {
		kind = "scan engine"
	}
	fmt.Fprintf(stdout, "config ok: facility %s, device %s, entrance %q, %s %s, central %s, status page %s\n",
		cfg.Facility, cfg.Device, cfg.Entrance, kind, cfg.Source, cfg.CentralURL, cfg.Status.Listen)
	return nil
}
