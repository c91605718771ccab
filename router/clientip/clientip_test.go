package clientip

import (
	"net"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIP(t *testing.T) {
	_, proxies, err := net.ParseCIDR("10.0.0.0/8")
	require.NoError(t, err)
	trusting := New(proxies)
	for _, tc := range []struct {
		name   string
		r      *Resolver
		remote string
		xff    []string
		want   string
	}{
		{"no proxy trusted: XFF ignored", &Resolver{}, "203.0.113.7:5000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"untrusted peer: XFF ignored", trusting, "203.0.113.7:5000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"trusted peer: right-most untrusted", trusting, "10.0.0.2:5000", []string{"6.6.6.6, 1.2.3.4, 10.0.0.9"}, "1.2.3.4"},
		{"several header lines", trusting, "10.0.0.2:5000", []string{"6.6.6.6", "1.2.3.4"}, "1.2.3.4"},
		{"only proxies", trusting, "10.0.0.2:5000", []string{"10.1.1.1"}, "10.1.1.1"},
		{"garbage stops the walk", trusting, "10.0.0.2:5000", []string{"1.2.3.4, garbage"}, "10.0.0.2"},
		{"no header", trusting, "10.0.0.2:5000", nil, "10.0.0.2"},
		{"ipv6 peer", &Resolver{}, "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"mapped ipv4", &Resolver{}, "[::ffff:192.0.2.1]:443", nil, "192.0.2.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			require.Equal(t, tc.want, tc.r.IP(req).String())
		})
	}
}

func TestKey(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "[2001:db8:1:2:3:4:5:6]:443"
	require.Equal(t, "2001:db8:1:2::/64", Key((&Resolver{}).IP(req)))
	req.RemoteAddr = "192.0.2.1:1"
	require.Equal(t, "192.0.2.1", Key((&Resolver{}).IP(req)))
	req.RemoteAddr = "nonsense"
	require.Equal(t, "unknown", Key((&Resolver{}).IP(req)))
}
