package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/kipass/kipass/faults"
)

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-queue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 20000, "records for the durable enqueue figures")
	backlog := fs.Int("backlog", 100000, "records in the drained backlog")
	workers := fs.Int("workers", 64, "concurrent enqueuers for the group-commit figure")
	dir := fs.String("dir", "", "put the files in `dir` (default: a temporary directory on the same disk as the queue would be)")
	parallel := fs.Int("parallel", 2, "batches in flight while draining")
	prof := fs.String("cpuprofile", "", "write a CPU profile to `file`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	lines, err := faults.BenchQueue(ctx, faults.BenchOptions{N: *n, Backlog: *backlog, Workers: *workers, Dir: *dir, Parallel: *parallel})
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench-queue:", err)
		return 1
	}
	return 0
}
