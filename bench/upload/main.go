// Command upload measures the router's memory while it streams uploads: the
// graph (identity, compliance, documents, policy on PostgreSQL and MinIO)
// runs in this process, the router in a process of its own (`studio router`,
// the dev profile), so that its resident memory can be read alone. For each
// size, the router's peak RSS is reset (/proc/PID/clear_refs), one file of
// that size is uploaded through it with the GraphQL multipart request spec
// (streamed by the client from a generator, no copy held), and the peak RSS
// over the upload is read (VmHWM) and compared with the RSS before it.
//
//	go build -o bin/studio ./cmd/studio
//	go run ./bench/upload [-sizes 1,100] [-studio bin/studio]
//
// PostgreSQL and MinIO come from DATABASE_URL / S3_URL when set (e.g. under
// `studio stack`), otherwise a private stack is started in a temporary
// directory. Linux only (it reads /proc).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/studio-platform/studio/internal/devstack"
	"github.com/studio-platform/studio/internal/platform"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
)

func main() {
	sizes := flag.String("sizes", "1,100", "upload sizes in MB (10^6 bytes), comma-separated")
	studio := flag.String("studio", "bin/studio", "the studio binary that runs the router")
	supergraph := flag.String("supergraph", "schema/supergraph.graphql", "supergraph file")
	flag.Parse()
	var mb []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "upload: bad size %q\n", s)
			os.Exit(2)
		}
		mb = append(mb, n)
	}
	if err := run(mb, *studio, *supergraph); err != nil {
		fmt.Fprintln(os.Stderr, "upload:", err)
		os.Exit(1)
	}
}

func run(sizes []int, studio, supergraph string) error {
	ctx := context.Background()
	if _, err := os.Stat(studio); err != nil {
		return fmt.Errorf("%s: build it first (go build -o bin/studio ./cmd/studio): %w", studio, err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, err := os.MkdirTemp("", "bench-upload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := devstack.Start(ctx, dir, devstack.WithoutNATS(), devstack.WithoutNeo4j(), devstack.WithoutRedis(),
		devstack.WithFastUnsafePostgres(), devstack.WithLogger(quiet))
	if err != nil {
		return err
	}
	defer st.Close()
	db, err := devstack.CreateDatabase(ctx, st.DatabaseURL, fmt.Sprintf("bench_upload_%d", time.Now().UnixNano()))
	if err != nil {
		return err
	}
	// No NATS: documents are stored, not processed (the router is measured).
	p, err := platform.Start(ctx, platform.Config{
		DatabaseURL:    db,
		SupergraphFile: supergraph,
		RouterAddr:     "127.0.0.1:0",
		IdentityAddr:   "127.0.0.1:0",
		ComplianceAddr: "127.0.0.1:0",
		DocumentsAddr:  "127.0.0.1:0",
		PolicyAddr:     "127.0.0.1:0",
		S3:             objects.Config{URL: st.S3URL, AccessKey: st.S3AccessKey, SecretKey: st.S3SecretKey, Bucket: fmt.Sprintf("bench-upload-%d", time.Now().UnixNano())},
		Seed:           true,
	}, platform.WithLogger(quiet))
	if err != nil {
		return err
	}
	defer p.Close()

	url, stop, err := startRouter(studio, supergraph, p)
	if err != nil {
		return err
	}
	defer stop()
	token, err := login(url)
	if err != nil {
		return err
	}
	for range 3 { // warm-up: connections, plans, buffers
		if _, err := uploadSize(url, token, 64<<10); err != nil {
			return err
		}
	}
	fmt.Printf("router pid %d (studio router, dev profile); uploads through it to the documents subgraph\n", routerPID)
	fmt.Printf("%-10s %-14s %-16s %-16s %s\n", "upload", "RSS before", "peak RSS during", "peak growth", "took")
	for _, n := range sizes {
		size := int64(n) * 1_000_000
		before, err := rss(routerPID, "VmRSS")
		if err != nil {
			return err
		}
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", routerPID), []byte("5"), 0); err != nil {
			return fmt.Errorf("reset the peak RSS: %w", err)
		}
		start := time.Now()
		stored, err := uploadSize(url, token, size)
		if err != nil {
			return err
		}
		took := time.Since(start)
		if stored != size {
			return fmt.Errorf("stored %d bytes, sent %d", stored, size)
		}
		peak, err := rss(routerPID, "VmHWM")
		if err != nil {
			return err
		}
		fmt.Printf("%-10s %-14s %-16s %-16s %s\n", fmt.Sprintf("%d MB", n), mib(before), mib(peak), mib(peak-before), took.Round(time.Millisecond))
	}
	return nil
}

var routerPID int

// startRouter runs `studio router` on a free port against the platform's
// subgraphs and waits for /health.
func startRouter(studio, supergraph string, p *platform.Platform) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(studio, "router", "--profile", "dev", "--supergraph", supergraph, "--listen", addr, "--access-log=false")
	cmd.Env = append(os.Environ(),
		"SUBGRAPH_URL_IDENTITY="+p.IdentityURL+"/graphql",
		"SUBGRAPH_URL_COMPLIANCE="+p.ComplianceURL+"/graphql",
		"SUBGRAPH_URL_DOCUMENTS="+p.DocumentsURL+"/graphql",
		"SUBGRAPH_URL_POLICY="+p.PolicyURL+"/graphql",
		"REDIS_URL=")
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	routerPID = cmd.Process.Pid
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base + "/graphql", stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("the router did not become healthy within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func login(url string) (string, error) {
	q, _ := json.Marshal(map[string]string{"query": fmt.Sprintf(`mutation { login(email: %q, password: %q) { accessToken } }`, demo.DemoUser.Email, demo.Password)})
	resp, err := http.Post(url, "application/json", strings.NewReader(string(q)))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Data struct{ Login struct{ AccessToken string } }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Data.Login.AccessToken == "" {
		return "", fmt.Errorf("login failed (%v)", err)
	}
	return out.Data.Login.AccessToken, nil
}

// uploadSize uploads size bytes of text through the router, streamed from a
// generator, and returns the size the documents subgraph stored.
func uploadSize(url, token string, size int64) (int64, error) {
	ops, _ := json.Marshal(map[string]any{
		"query":     `mutation($in: UploadDocumentInput!) { uploadDocument(input: $in) { size } }`,
		"variables": map[string]any{"in": map[string]any{"projectId": demo.ProjectID, "file": nil}},
	})
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := mw.WriteField("operations", string(ops))
		if err == nil {
			err = mw.WriteField("map", `{"0":["variables.in.file"]}`)
		}
		if err == nil {
			var w io.Writer
			if w, err = mw.CreateFormFile("0", "bench.txt"); err == nil {
				_, err = io.Copy(w, io.LimitReader(text{}, size))
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, url, pr)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var out struct {
		Data   struct{ UploadDocument struct{ Size int64 } }
		Errors []struct{ Message string }
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Errors) > 0 {
		return 0, fmt.Errorf("upload of %d bytes: HTTP %d: %s", size, resp.StatusCode, raw)
	}
	return out.Data.UploadDocument.Size, nil
}

// text is an endless line of plain text.
type text struct{}

func (text) Read(p []byte) (int, error) {
	const line = "Access to production is reviewed every quarter by its owner.\n"
	for i := range p {
		p[i] = line[i%len(line)]
	}
	return len(p), nil
}

// rss reads a memory field of /proc/PID/status, in bytes.
func rss(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
