// Command load drives a GraphQL gateway (or, with -replay, the subgraphs directly) with
// a constant number of virtual users, each request carrying its own
// "Authorization: Bearer <random>" header, and reports RPS, latency percentiles,
// errors and the gateway's peak RSS. It only targets loopback addresses and stops by
// itself after warm-up + duration (or -max-requests).
//
//	load -url http://127.0.0.1:4000/graphql -query query.graphql -expected expected.json -pid PID
//	load -check -url ... -query ... -expected ...        one request, compare, exit 0/1
//	load -replay record.jsonl                             replay recorded subgraph requests
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/maphash"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type config struct {
	url, queryFile, expectedFile, replayFile string
	vus                                      int
	warmup, duration, timeout                time.Duration
	maxRequests                              int64
	pid, subPid                              int
	name, command, out, mismatchFile, auth   string
	check, jsonOut                           bool
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "http://127.0.0.1:4000/graphql", "gateway GraphQL URL (loopback only)")
	flag.StringVar(&c.queryFile, "query", "bench/federation/query.graphql", "query file")
	flag.StringVar(&c.expectedFile, "expected", "", "expected response (JSON); responses that differ count as errors")
	flag.StringVar(&c.replayFile, "replay", "", "replay recorded subgraph requests (JSON lines {url, body}) instead of querying a gateway")
	flag.IntVar(&c.vus, "vus", 50, "virtual users (constant concurrency)")
	flag.DurationVar(&c.warmup, "warmup", 10*time.Second, "warm-up, not measured")
	flag.DurationVar(&c.duration, "duration", 60*time.Second, "measured duration")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Second, "per-request timeout")
	flag.Int64Var(&c.maxRequests, "max-requests", 10_000_000, "stop after this many requests in all")
	flag.IntVar(&c.pid, "pid", 0, "gateway process to sample RSS and CPU of (/proc/PID)")
	flag.IntVar(&c.subPid, "subgraphs-pid", 0, "subgraphs process, to report its CPU use")
	flag.StringVar(&c.name, "name", "gateway", "name in the results row")
	flag.StringVar(&c.command, "cmd", "", "gateway command, for the results row")
	flag.StringVar(&c.out, "out", "", "append a markdown table row to this file")
	flag.StringVar(&c.mismatchFile, "save-mismatch", "", "write the first response that differs from the expected one here")
	flag.StringVar(&c.auth, "auth", "", "Authorization header of the -check request (default: a random bearer token)")
	flag.BoolVar(&c.check, "check", false, "send one request, compare it with -expected, print the verdict and exit")
	flag.BoolVar(&c.jsonOut, "json", false, "also print the result as JSON")
	flag.Parse()
	if err := run(c); err != nil {
		log.Fatal(err)
	}
}

func requireLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	h := u.Hostname()
	if h == "localhost" {
		return nil
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to send load to %s: loopback addresses only", raw)
}

// target is one request to send: a URL and a JSON body.
type target struct {
	url  string
	body []byte
}

func run(c config) error {
	var targets []target // one iteration = all of them, in order
	if c.replayFile != "" {
		f, err := os.Open(c.replayFile)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var rec struct {
				URL  string          `json:"url"`
				Body json.RawMessage `json:"body"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				return fmt.Errorf("%s: %w", c.replayFile, err)
			}
			targets = append(targets, target{rec.URL, rec.Body})
		}
		f.Close()
		if len(targets) == 0 {
			return fmt.Errorf("%s: no recorded requests", c.replayFile)
		}
	} else {
		q, err := os.ReadFile(c.queryFile)
		if err != nil {
			return err
		}
		body, _ := json.Marshal(map[string]string{"query": string(q)})
		targets = []target{{c.url, body}}
	}
	for _, t := range targets {
		if err := requireLoopback(t.url); err != nil {
			return err
		}
	}
	v := &verifier{}
	if c.expectedFile != "" && c.replayFile == "" {
		ref, err := os.ReadFile(c.expectedFile)
		if err != nil {
			return err
		}
		if err := v.setReference(ref); err != nil {
			return fmt.Errorf("%s: %w", c.expectedFile, err)
		}
	}

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = c.vus * 8
	tr.MaxIdleConnsPerHost = c.vus
	tr.DisableCompression = true
	client := &http.Client{Transport: tr, Timeout: c.timeout}

	if c.check {
		return checkOnce(client, targets[0], v, c)
	}

	var (
		start       = time.Now()
		measureFrom = start.Add(c.warmup)
		end         = measureFrom.Add(c.duration)
		sent        atomic.Int64
		mu          sync.Mutex
		lat         []time.Duration
		st          stats
	)
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()

	var rss rssSampler
	if c.pid > 0 {
		go rss.run(ctx, c.pid)
	}
	var cpuGw, cpuSub, cpuSelf cpuWindow
	var mach machineWindow
	go func() {
		select {
		case <-time.After(time.Until(measureFrom)):
			cpuGw.start(c.pid)
			cpuSub.start(c.subPid)
			cpuSelf.start(os.Getpid())
			mach.start()
		case <-ctx.Done():
		}
	}()

	var wg sync.WaitGroup
	for i := range c.vus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
			var local []time.Duration
			var ls stats
			buf := make([]byte, 0, 128<<10)
			seq := 0
			for ctx.Err() == nil && sent.Add(1) <= c.maxRequests {
				t0 := time.Now()
				var kind errKind
				for _, t := range targets {
					seq++
					auth := fmt.Sprintf("Bearer %016x%016x-%d-%d", rng.Uint64(), rng.Uint64(), i, seq)
					buf, kind = do(ctx, client, t, auth, buf[:0])
					if kind == errNone {
						if c.replayFile != "" {
							if bytes.Contains(buf, []byte(`"errors"`)) {
								kind = errGraphQL
							}
						} else if v.ref != nil {
							kind = v.verify(buf, c.mismatchFile)
						}
					}
					if kind != errNone {
						break
					}
				}
				t1 := time.Now()
				if t1.Before(measureFrom) || t1.After(end) {
					continue
				}
				if kind == errCanceled {
					continue
				}
				ls.add(kind)
				if kind == errNone {
					local = append(local, t1.Sub(t0))
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			st.merge(ls)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := min(time.Since(measureFrom), c.duration)
	cpuGw.stop()
	cpuSub.stop()
	cpuSelf.stop()
	mach.stop()
	cancel()

	slices.Sort(lat)
	r := result{
		Name: c.name, Command: c.command, VUs: c.vus, Duration: c.duration.String(), Warmup: c.warmup.String(),
		OK: st.ok, Errors: st.total() - st.ok, ErrorKinds: st.kinds(),
		RPS: float64(st.ok) / elapsed.Seconds(),
		P50: pct(lat, 50), P95: pct(lat, 95), P99: pct(lat, 99),
		PeakRSSMB:  float64(rss.peak.Load()) / 1024,
		HWMMB:      float64(readStatusKB(c.pid, "VmHWM")) / 1024,
		GatewayCPU: cpuGw.cores(), SubgraphsCPU: cpuSub.cores(), LoadCPU: cpuSelf.cores(),
		MachineBusy: mach.busyCores(),
		Targets:     len(targets), Replay: c.replayFile != "",
	}
	if c.pid <= 0 {
		r.PeakRSSMB, r.HWMMB = 0, 0
	}
	fmt.Println(r.text())
	if c.jsonOut {
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
	}
	if c.out != "" {
		f, err := os.OpenFile(c.out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = fmt.Fprintln(f, r.row())
		return err
	}
	return nil
}

func checkOnce(client *http.Client, t target, v *verifier, c config) error {
	auth := c.auth
	if auth == "" {
		auth = "Bearer check-" + strconv.FormatUint(rand.Uint64(), 16)
	}
	body, kind := do(context.Background(), client, t, auth, nil)
	if kind == errNone && v.ref != nil {
		kind = v.verify(body, c.mismatchFile)
	}
	fmt.Printf("check %s: %d bytes, verdict: %s\n", c.name, len(body), kind)
	if kind != errNone {
		if kind == errMismatch || kind == errGraphQL {
			fmt.Println(describeDiff(v.refData, body))
		} else {
			fmt.Printf("body: %.500s\n", body)
		}
		return errors.New("check failed")
	}
	return nil
}

type errKind int

const (
	errNone errKind = iota
	errTransport
	errStatus
	errGraphQL
	errMismatch
	errCanceled
	numKinds
)

func (k errKind) String() string {
	return [...]string{"ok", "transport", "http-status", "graphql-errors", "mismatch", "canceled"}[k]
}

func do(ctx context.Context, client *http.Client, t target, auth string, buf []byte) ([]byte, errKind) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(t.body))
	if err != nil {
		return buf, errTransport
	}
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["Accept"] = []string{"application/graphql-response+json, application/json"}
	req.Header["Authorization"] = []string{auth}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return buf, errCanceled
		}
		return buf, errTransport
	}
	defer resp.Body.Close()
	b := bytes.NewBuffer(buf)
	if _, err := b.ReadFrom(resp.Body); err != nil {
		if ctx.Err() != nil {
			return b.Bytes(), errCanceled
		}
		return b.Bytes(), errTransport
	}
	if resp.StatusCode != http.StatusOK {
		return b.Bytes(), errStatus
	}
	return b.Bytes(), errNone
}

// verifier compares responses with the reference: byte-equal is the fast path; other
// bodies are compared as JSON (data equal, no errors) once per distinct body hash.
type verifier struct {
	ref     []byte
	refData any
	seed    maphash.Seed
	mu      sync.Mutex
	seen    map[uint64]errKind
	saved   atomic.Bool
}

func (v *verifier) setReference(ref []byte) error {
	var doc map[string]any
	if err := json.Unmarshal(ref, &doc); err != nil {
		return err
	}
	if doc["errors"] != nil || doc["data"] == nil {
		return errors.New("the reference has errors or no data")
	}
	v.ref = bytes.TrimSpace(ref)
	v.refData = doc["data"]
	v.seed = maphash.MakeSeed()
	v.seen = map[uint64]errKind{}
	return nil
}

func (v *verifier) verify(body []byte, saveTo string) errKind {
	if bytes.Equal(bytes.TrimSpace(body), v.ref) {
		return errNone
	}
	h := maphash.Bytes(v.seed, body)
	v.mu.Lock()
	k, ok := v.seen[h]
	v.mu.Unlock()
	if ok {
		return k
	}
	k = v.compare(body)
	v.mu.Lock()
	if len(v.seen) < 10000 {
		v.seen[h] = k
	}
	v.mu.Unlock()
	if k != errNone && saveTo != "" && v.saved.CompareAndSwap(false, true) {
		_ = os.WriteFile(saveTo, body, 0o644)
	}
	return k
}

func (v *verifier) compare(body []byte) errKind {
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return errMismatch
	}
	if errs, ok := doc["errors"].([]any); ok && len(errs) > 0 {
		return errGraphQL
	}
	if !reflect.DeepEqual(doc["data"], v.refData) {
		return errMismatch
	}
	return errNone
}

// describeDiff names the first few paths where body's data differs from ref.
func describeDiff(ref any, body []byte) string {
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Sprintf("not JSON: %v: %.300s", err, body)
	}
	var out []string
	if e, ok := doc["errors"]; ok {
		b, _ := json.Marshal(e)
		out = append(out, fmt.Sprintf("errors: %.600s", b))
	}
	var walk func(path string, a, b any)
	walk = func(path string, a, b any) {
		if len(out) >= 10 {
			return
		}
		switch a := a.(type) {
		case map[string]any:
			bm, ok := b.(map[string]any)
			if !ok {
				out = append(out, fmt.Sprintf("%s: expected object, got %.100v", path, b))
				return
			}
			for k, av := range a {
				bv, ok := bm[k]
				if !ok {
					out = append(out, fmt.Sprintf("%s.%s: missing", path, k))
					continue
				}
				walk(path+"."+k, av, bv)
			}
			for k := range bm {
				if _, ok := a[k]; !ok {
					out = append(out, fmt.Sprintf("%s.%s: unexpected field", path, k))
				}
			}
		case []any:
			bl, ok := b.([]any)
			if !ok || len(bl) != len(a) {
				out = append(out, fmt.Sprintf("%s: expected list of %d, got %.100v", path, len(a), b))
				return
			}
			for i := range a {
				walk(fmt.Sprintf("%s[%d]", path, i), a[i], bl[i])
			}
		default:
			if !reflect.DeepEqual(a, b) {
				out = append(out, fmt.Sprintf("%s: expected %v, got %v", path, a, b))
			}
		}
	}
	walk("data", ref, doc["data"])
	if len(out) == 0 {
		return "same data"
	}
	return strings.Join(out, "\n")
}

type stats struct {
	ok int64
	n  [numKinds]int64
}

func (s *stats) add(k errKind) {
	s.n[k]++
	if k == errNone {
		s.ok++
	}
}

func (s *stats) merge(o stats) {
	s.ok += o.ok
	for i := range s.n {
		s.n[i] += o.n[i]
	}
}

func (s *stats) total() int64 {
	var t int64
	for _, n := range s.n {
		t += n
	}
	return t
}

func (s *stats) kinds() map[string]int64 {
	m := map[string]int64{}
	for k := errTransport; k < numKinds; k++ {
		if s.n[k] > 0 {
			m[k.String()] = s.n[k]
		}
	}
	return m
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// rssSampler keeps the peak VmRSS (kB) seen every 100 ms.
type rssSampler struct{ peak atomic.Int64 }

func (s *rssSampler) run(ctx context.Context, pid int) {
	tk := time.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	for {
		if kb := readStatusKB(pid, "VmRSS"); kb > s.peak.Load() {
			s.peak.Store(kb)
		}
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
	}
}

func readStatusKB(pid int, field string) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// cpuWindow measures a process's CPU time (utime+stime) over the measured window.
type cpuWindow struct {
	pid     int
	t0      time.Time
	c0, c1  int64
	wall    time.Duration
	started atomic.Bool
}

func (w *cpuWindow) start(pid int) {
	if pid <= 0 {
		return
	}
	w.pid, w.t0, w.c0 = pid, time.Now(), cpuTicks(pid)
	w.started.Store(true)
}

func (w *cpuWindow) stop() {
	if !w.started.Load() {
		return
	}
	w.c1, w.wall = cpuTicks(w.pid), time.Since(w.t0)
}

// cores is the average number of cores used (ticks are 1/100 s on Linux).
func (w *cpuWindow) cores() float64 {
	if !w.started.Load() || w.wall <= 0 {
		return 0
	}
	return float64(w.c1-w.c0) / 100 / w.wall.Seconds()
}

// machineWindow measures the machine's busy CPU (all of /proc/stat's cpu line but idle
// and iowait) over the measured window.
type machineWindow struct {
	t0        time.Time
	busy0, b1 int64
	wall      time.Duration
	started   atomic.Bool
}

func (m *machineWindow) start() {
	m.t0, m.busy0 = time.Now(), machineBusyTicks()
	m.started.Store(true)
}

func (m *machineWindow) stop() {
	if m.started.Load() {
		m.b1, m.wall = machineBusyTicks(), time.Since(m.t0)
	}
}

func (m *machineWindow) busyCores() float64 {
	if !m.started.Load() || m.wall <= 0 {
		return 0
	}
	return float64(m.b1-m.busy0) / 100 / m.wall.Seconds()
}

func machineBusyTicks() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:8] { // user nice system idle iowait irq softirq
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy
}

func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

type result struct {
	Name, Command, Duration, Warmup string
	VUs, Targets                    int
	Replay                          bool
	OK, Errors                      int64
	ErrorKinds                      map[string]int64
	RPS                             float64
	P50, P95, P99                   time.Duration
	PeakRSSMB, HWMMB                float64
	GatewayCPU, SubgraphsCPU        float64
	LoadCPU, MachineBusy            float64
}

// otherCPU is the CPU that neither the gateway, the subgraphs nor this load generator used:
// other processes on the machine, which make the measurement noisier.
func (r result) otherCPU() float64 {
	sub := r.SubgraphsCPU
	if r.Replay {
		sub = 0 // -pid and -subgraphs-pid are the same process
	}
	return max(0, r.MachineBusy-r.GatewayCPU-sub-r.LoadCPU)
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }

func (r result) errText() string {
	if r.Errors == 0 {
		return "0"
	}
	var parts []string
	for k, n := range r.ErrorKinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(parts)
	return fmt.Sprintf("%d (%s)", r.Errors, strings.Join(parts, ", "))
}

func (r result) text() string {
	unit := "req/s"
	if r.Replay {
		unit = fmt.Sprintf("queries/s (%d subgraph requests each; %.0f subgraph req/s)", r.Targets, r.RPS*float64(r.Targets))
	}
	return fmt.Sprintf("%s: %.1f %s, p50 %s ms, p95 %s ms, p99 %s ms, ok %d, errors %s, peak RSS %.1f MB (VmHWM %.1f MB), gateway CPU %.2f cores, subgraphs CPU %.2f cores, load generator CPU %.2f cores, other processes %.2f cores (machine busy %.2f of %d), %d VUs, %s after %s warm-up",
		r.Name, r.RPS, unit, ms(r.P50), ms(r.P95), ms(r.P99), r.OK, r.errText(), r.PeakRSSMB, r.HWMMB, r.GatewayCPU, r.SubgraphsCPU, r.LoadCPU, r.otherCPU(), r.MachineBusy, runtime.NumCPU(), r.VUs, r.Duration, r.Warmup)
}

// row is a markdown table row: | gateway | VUs | duration | RPS | p50 | p95 | p99 | errors | peak RSS | gateway CPU | subgraphs CPU | load CPU | other CPU | command |
func (r result) row() string {
	rss := "-"
	if r.PeakRSSMB > 0 {
		rss = fmt.Sprintf("%.1f MB", r.PeakRSSMB)
	}
	gcpu := "-"
	if r.GatewayCPU > 0 {
		gcpu = fmt.Sprintf("%.2f", r.GatewayCPU)
	}
	scpu := "-"
	if r.SubgraphsCPU > 0 {
		scpu = fmt.Sprintf("%.2f", r.SubgraphsCPU)
	}
	cmd := strings.ReplaceAll(r.Command, "|", `\|`)
	return fmt.Sprintf("| %s | %d | %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f | `%s` |",
		r.Name, r.VUs, r.Duration, r.RPS, ms(r.P50), ms(r.P95), ms(r.P99), r.errText(), rss, gcpu, scpu, r.LoadCPU, r.otherCPU(), cmd)
}
