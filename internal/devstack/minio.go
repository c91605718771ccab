package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MinIOModuleVersion is the pinned github.com/minio/minio module version the stack builds
// with `go install` (MinIO tags releases with non-semver names, so the Go module proxy
// serves it as a pseudo-version of the upstream default branch).
const MinIOModuleVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

const minioModule = "github.com/minio/minio"

// MinIOBinary is where the pinned MinIO binary is (or will be) built:
// <cache>/minio-<version>/minio.
func MinIOBinary(cacheDir string) string {
	return filepath.Join(cacheDir, "minio-"+MinIOModuleVersion, "minio")
}

// buildMinIO returns the MinIO binary, building it with `go install` on first use
// (several minutes, once per cache). The build goes to a temporary GOBIN renamed into
// place, under a lock, so concurrent starts build once.
func buildMinIO(ctx context.Context, cfg *config) (string, error) {
	bin := MinIOBinary(cfg.cacheDir)
	if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go not found on PATH: MinIO is built with `go install %s@%s` (or set %s)", minioModule, MinIOModuleVersion, EnvS3URL)
	}
	dir := filepath.Dir(bin)
	if err := os.MkdirAll(cfg.cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create cache folder: %w", err)
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // built by another process while we waited
	}
	start := time.Now()
	cfg.log.Warn("devstack: building MinIO with go install (first use only; takes minutes)", "version", MinIOModuleVersion, "into", dir)
	tmp := dir + ".build"
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("clear build folder: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", fmt.Errorf("create build folder: %w", err)
	}
	cmd := exec.CommandContext(ctx, goBin, "install", minioModule+"@"+MinIOModuleVersion)
	cmd.Dir = tmp // outside any module: go install pkg@version ignores the current module anyway
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-trimpath", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", minioModule, MinIOModuleVersion, err, tailString(string(out), 3000))
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("move build into place: %w", err)
	}
	cfg.log.Info("devstack: MinIO built", "bin", bin, "took", time.Since(start).Round(time.Second))
	return bin, nil
}

// minioCredentials returns the root user and password recorded in file, generating and
// recording random ones on first use (the data folder keeps working across restarts).
func minioCredentials(file string) (user, password string, err error) {
	if b, err := os.ReadFile(file); err == nil {
		if u, p, ok := strings.Cut(strings.TrimSpace(string(b)), "\n"); ok && u != "" && p != "" {
			return u, p, nil
		}
	}
	var rnd [24]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", "", fmt.Errorf("generate credentials: %w", err)
	}
	user, password = "studio-"+hex.EncodeToString(rnd[:4]), hex.EncodeToString(rnd[4:])
	if err := os.WriteFile(file, []byte(user+"\n"+password+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("record credentials: %w", err)
	}
	return user, password, nil
}

func startMinIO(ctx context.Context, st *Stack, cfg *config, dir string) (string, error) {
	began := time.Now()
	bin, err := buildMinIO(ctx, cfg)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.startTimout)
	defer cancel()
	root := filepath.Join(dir, "minio")
	data := filepath.Join(root, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return "", fmt.Errorf("create data folder: %w", err)
	}
	user, password, err := minioCredentials(filepath.Join(root, "credentials"))
	if err != nil {
		return "", err
	}
	logFile := filepath.Join(root, "minio.log")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := stablePort(filepath.Join(root, "port"))
		if err != nil {
			return "", err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		cmd, done, err := command(nil, nil, root, logFile, bin, "server", data, "--address", addr, "--quiet", "--anonymous")
		if err != nil {
			return "", err
		}
		cmd.Env = append(cmd.Env,
			"MINIO_ROOT_USER="+user, "MINIO_ROOT_PASSWORD="+password,
			"MINIO_BROWSER=off",          // no web console (and no second port)
			"MINIO_UPDATE=off",           // never phone home for updates
			"MINIO_CALLHOME_ENABLE=off",  // nor for diagnostics
			"MINIO_API_REQUESTS_MAX=256", // bounded memory on a small machine
		)
		cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
		proc, err := startProcess(cmd, done)
		if err != nil {
			return "", err
		}
		s3URL := "http://" + addr
		err = poll(ctx, proc.exited, func(ctx context.Context) error { return minioLive(ctx, s3URL) })
		if err != nil {
			select {
			case <-proc.exited:
				lastErr = fmt.Errorf("minio exited: %w\n%s", err, tail(logFile, 3000))
				_ = os.Remove(filepath.Join(root, "port"))
				continue
			default:
			}
			_ = proc.stop(syscall.SIGKILL, 5*time.Second)
			return "", fmt.Errorf("%w\n%s", err, tail(logFile, 3000))
		}
		st.addCloser(func() error {
			if err := proc.stop(syscall.SIGTERM, 30*time.Second); err != nil {
				return fmt.Errorf("stop minio: %w", err)
			}
			return nil
		})
		st.S3AccessKey, st.S3SecretKey = user, password
		cfg.log.Info("devstack: minio started", "url", s3URL, "data", data, "took", time.Since(began).Round(10*time.Millisecond))
		return s3URL, nil
	}
	return "", lastErr
}

// minioLive is MinIO's liveness probe: 200 from /minio/health/live.
func minioLive(ctx context.Context, s3URL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s3URL+"/minio/health/live", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("minio health: " + resp.Status)
	}
	return nil
}

// S3Client returns a minio-go client for an S3 URL (http[s]://host:port) and keys, such
// as a Stack's S3URL, S3AccessKey and S3SecretKey.
func S3Client(s3URL, accessKey, secretKey string) (*minio.Client, error) {
	u, err := url.Parse(s3URL)
	if err != nil {
		return nil, fmt.Errorf("parse S3 URL: %w", err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("S3 URL %q: want http://host:port or https://host:port", s3URL)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(accessKey, secretKey, ""),
		Secure: u.Scheme == "https",
	})
	if err != nil {
		return nil, fmt.Errorf("S3 client: %w", err)
	}
	return c, nil
}
