// Package clientip finds the client's address of an HTTP request: the
// peer's, or, when the peer is a trusted proxy, the right-most address of
// X-Forwarded-For that is not a trusted proxy (the left part of the header
// is whatever the client wrote and is never believed).
package clientip

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds client addresses. The zero value trusts no proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver trusting the given proxy networks.
func New(trusted ...*net.IPNet) *Resolver {
	r := &Resolver{}
	for _, n := range trusted {
		addr, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		ones, _ := n.Mask.Size()
		r.trusted = append(r.trusted, netip.PrefixFrom(addr.Unmap(), ones))
	}
	return r
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// IP returns the client address (invalid when the peer address is unreadable).
func (r *Resolver) IP(req *http.Request) netip.Addr {
	peer := parse(req.RemoteAddr)
	if !peer.IsValid() || !r.isTrusted(peer) {
		return peer
	}
	client := peer
	hops := req.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a := parse(strings.TrimSpace(parts[j]))
			if !a.IsValid() {
				return client // garbage: stop at the last address we could trust
			}
			client = a
			if !r.isTrusted(a) {
				return a
			}
		}
	}
	return client
}

// Key is the address as a rate-limit key: IPv4 as is, IPv6 by its /64 (one
// subscriber usually holds a whole /64).
func Key(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func parse(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}
