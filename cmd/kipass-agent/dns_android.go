package main

import (
	"context"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// A static Go binary on Android finds no /etc/resolv.conf, so Go's resolver
// would ask 127.0.0.1:53 and fail to find central by name. Dial the DNS
// servers in KIPASS_DNS (comma-separated host:port; public resolvers when
// unset) for every lookup. See cross-compile/ANDROID.md.
func init() {
	servers := []string{"1.1.1.1:53", "8.8.8.8:53"}
	if v := os.Getenv("KIPASS_DNS"); v != "" {
		servers = strings.Split(v, ",")
	}
	var next atomic.Uint32
	net.DefaultResolver = &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: 3 * time.Second}
			return d.DialContext(ctx, network, servers[int(next.Add(1))%len(servers)])
		},
	}
}
