package devstack

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	neo4jconfig "github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
)

// The launcher's source ships inside the binary, so `studio` works from any folder.
//
//go:embed neo4j/pom.xml neo4j/Launcher.java
var neo4jLauncherSrc embed.FS

const (
	neo4jInstallHint = "apt-get install -y openjdk-17-jdk-headless maven"
	neo4jPageCacheMB = 64
)

// neo4jJVMFlags keep the dev server small and quick to start: a bounded heap, the serial
// collector (one core is plenty) and the C1 JIT only (less compilation at start-up).
var neo4jJVMFlags = []string{"-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dfile.encoding=UTF-8"}

// neo4jBuildLayout names how the cache folder is laid out; it is part of the hash so a
// new layout gets a new folder.
const neo4jBuildLayout = "lib/*.jar launcher.jar neo4j.jsa (AppCDS)"

// neo4jLauncherHash identifies the launcher build: the first 12 hex digits of the
// sha256 of pom.xml, Launcher.java and the folder layout.
func neo4jLauncherHash() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", neo4jBuildLayout)
	for _, name := range []string{"neo4j/pom.xml", "neo4j/Launcher.java"} {
		b, err := neo4jLauncherSrc.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("read embedded %s: %w", name, err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// Neo4jLauncherDir is where the launcher for this build of the code is (or will be)
// built: <cache>/neo4j-<hash of pom.xml and Launcher.java>.
func Neo4jLauncherDir(cacheDir string) (string, error) {
	h, err := neo4jLauncherHash()
	if err != nil {
		return "", err
	}
	return filepath.Join(cacheDir, "neo4j-"+h), nil
}

// neo4jLauncher is a built launcher: its classpath and, when the build could make one,
// a class-data-sharing archive of the classes a start loads (cuts start-up ~3x).
type neo4jLauncher struct {
	dir       string
	classpath string
	archive   string // "" when none
}

func (l *neo4jLauncher) javaArgs(extra ...string) []string {
	args := append([]string{}, neo4jJVMFlags...)
	if l.archive != "" {
		args = append(args, "-XX:SharedArchiveFile="+l.archive, "-Xshare:auto")
	}
	args = append(args, extra...)
	return append(args, "-cp", l.classpath, "Launcher")
}

// buildNeo4jLauncher returns the launcher, building it first when the cache has no
// complete build: Maven resolves org.neo4j:neo4j and its dependencies into <dir>/lib,
// javac and jar make <dir>/launcher.jar (class data sharing needs jars only), then one
// training start records the classes loaded into the AppCDS archive <dir>/neo4j.jsa.
// The build happens in a temporary folder renamed into place, under a lock, so
// concurrent starts build once.
func buildNeo4jLauncher(ctx context.Context, cfg *config) (*neo4jLauncher, error) {
	dir, err := Neo4jLauncherDir(cfg.cacheDir)
	if err != nil {
		return nil, err
	}
	l := &neo4jLauncher{dir: dir, classpath: filepath.Join(dir, "launcher.jar") + string(os.PathListSeparator) + filepath.Join(dir, "lib", "*")}
	done := filepath.Join(dir, "ok")
	ready := func() (*neo4jLauncher, bool) {
		if _, err := os.Stat(done); err != nil {
			return nil, false
		}
		if _, err := os.Stat(filepath.Join(dir, "neo4j.jsa")); err == nil {
			l.archive = filepath.Join(dir, "neo4j.jsa")
		}
		return l, true
	}
	if l, ok := ready(); ok {
		return l, nil
	}
	tools, err := javaTools(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("create cache folder: %w", err)
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if l, ok := ready(); ok {
		return l, nil // built by another process while we waited
	}
	if err := compileNeo4jLauncher(ctx, cfg, tools, dir); err != nil {
		return nil, err
	}
	if err := trainNeo4jLauncher(ctx, cfg, l); err != nil {
		// Only slower starts: the launcher works without the archive.
		cfg.log.Warn("devstack: no class-data-sharing archive for Neo4j (slower starts)", "err", err)
	}
	l, _ = ready()
	return l, nil
}

func compileNeo4jLauncher(ctx context.Context, cfg *config, tools map[string]string, dir string) error {
	start := time.Now()
	cfg.log.Info("devstack: building the Neo4j launcher (first use; Maven downloads about 116 MB)", "dir", dir)
	tmp := dir + ".build"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("clear build folder: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("create build folder: %w", err)
	}
	for _, name := range []string{"pom.xml", "Launcher.java"} {
		b, err := neo4jLauncherSrc.ReadFile("neo4j/" + name)
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	logFile := filepath.Join(tmp, "build.log")
	steps := [][]string{
		{tools["mvn"], "-q", "-B", "-f", filepath.Join(tmp, "pom.xml"), "dependency:copy-dependencies",
			"-DincludeScope=runtime", "-DoutputDirectory=" + filepath.Join(tmp, "lib")},
		{tools["javac"], "-nowarn", "-cp", filepath.Join(tmp, "lib", "*"), "-d", filepath.Join(tmp, "classes"), filepath.Join(tmp, "Launcher.java")},
		{tools["jar"], "cf", filepath.Join(tmp, "launcher.jar"), "-C", filepath.Join(tmp, "classes"), "."},
	}
	for _, step := range steps {
		cmd, closeLog, err := command(ctx, nil, tmp, logFile, step[0], step[1:]...)
		if err != nil {
			return err
		}
		err = cmd.Run()
		closeLog()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", filepath.Base(step[0]), err, tail(logFile, 3000))
		}
	}
	_ = os.RemoveAll(filepath.Join(tmp, "target"))
	_ = os.RemoveAll(filepath.Join(tmp, "classes"))
	_ = os.RemoveAll(dir) // an incomplete earlier build
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("move build into place: %w", err)
	}
	cfg.log.Info("devstack: Neo4j launcher built", "dir", dir, "took", time.Since(start).Round(time.Second))
	return nil
}

// trainNeo4jLauncher starts Neo4j once on a throwaway database with
// -XX:ArchiveClassesAtExit, stops it, and keeps the archive as <dir>/neo4j.jsa. Then it
// marks the build complete (with or without the archive). The archive records the
// classpath, so this runs in the final folder.
func trainNeo4jLauncher(ctx context.Context, cfg *config, l *neo4jLauncher) (err error) {
	defer func() {
		if werr := os.WriteFile(filepath.Join(l.dir, "ok"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); werr != nil {
			err = errors.Join(err, fmt.Errorf("mark build complete: %w", werr))
		}
	}()
	start := time.Now()
	home := filepath.Join(l.dir, "train-home")
	defer os.RemoveAll(home)
	archive := filepath.Join(l.dir, "neo4j.jsa")
	port, err := freePort()
	if err != nil {
		return err
	}
	logFile := filepath.Join(l.dir, "train.log")
	args := l.javaArgs("-XX:ArchiveClassesAtExit=" + archive + ".tmp")
	args = append(args, home, strconv.Itoa(port), strconv.Itoa(neo4jPageCacheMB))
	cmd, done, err := command(nil, nil, l.dir, logFile, "java", args...)
	if err != nil {
		return err
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	proc, err := startProcess(cmd, done)
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, 2*cfg.startTimout)
	defer cancel()
	err = poll(tctx, proc.exited, func(ctx context.Context) error { return waitNeo4jOnce(ctx, "bolt://127.0.0.1:"+strconv.Itoa(port)) })
	if err != nil {
		_ = proc.stop(syscall.SIGKILL, 5*time.Second)
		return fmt.Errorf("training start: %w\n%s", err, tail(logFile, 2000))
	}
	// The archive is written while the JVM exits: give it time.
	if err := proc.stop(syscall.SIGTERM, 5*time.Minute); err != nil {
		return err
	}
	if err := os.Rename(archive+".tmp", archive); err != nil {
		return fmt.Errorf("keep archive: %w\n%s", err, tail(logFile, 2000))
	}
	cfg.log.Info("devstack: Neo4j class-data-sharing archive made", "archive", archive, "took", time.Since(start).Round(time.Second))
	return nil
}

// javaTools finds java, javac and mvn, installing the JDK and Maven with apt-get when
// one is missing and this process is root (and installs are allowed), as for Redis.
func javaTools(ctx context.Context, cfg *config) (map[string]string, error) {
	lookup := func() (map[string]string, error) {
		tools := map[string]string{}
		for _, tool := range []string{"java", "javac", "jar", "mvn"} {
			p, err := exec.LookPath(tool)
			if err != nil {
				return nil, fmt.Errorf("%s not found on PATH: Neo4j runs on Java 17 and its launcher is built with Maven; install them with `%s` (or set %s)", tool, neo4jInstallHint, EnvNeo4jURL)
			}
			tools[tool] = p
		}
		return tools, nil
	}
	tools, err := lookup()
	if err == nil || os.Geteuid() != 0 || !cfg.install {
		return tools, err
	}
	if err := aptInstall(ctx, cfg, func() bool { _, err := lookup(); return err == nil }, strings.Fields(strings.TrimPrefix(neo4jInstallHint, "apt-get install -y "))...); err != nil {
		return nil, err
	}
	return lookup()
}

func startNeo4j(ctx context.Context, st *Stack, cfg *config, dir string) (string, error) {
	began := time.Now()
	launcher, err := buildNeo4jLauncher(ctx, cfg)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.startTimout)
	defer cancel()
	data := filepath.Join(dir, "neo4j")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return "", fmt.Errorf("create data folder: %w", err)
	}
	logFile := filepath.Join(data, "neo4j.log")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := stablePort(filepath.Join(data, "port"))
		if err != nil {
			return "", err
		}
		args := append(launcher.javaArgs(), filepath.Join(data, "home"), strconv.Itoa(port), strconv.Itoa(neo4jPageCacheMB))
		cmd, done, err := command(nil, nil, data, logFile, "java", args...)
		if err != nil {
			return "", err
		}
		// SIGTERM runs the JVM's shutdown hook: Neo4j stops cleanly when we die.
		cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
		proc, err := startProcess(cmd, done)
		if err != nil {
			return "", err
		}
		url := "bolt://127.0.0.1:" + strconv.Itoa(port)
		err = waitNeo4j(ctx, proc.exited, url)
		if err != nil {
			select {
			case <-proc.exited:
				lastErr = fmt.Errorf("neo4j exited: %w\n%s", err, tail(logFile, 3000))
				_ = os.Remove(filepath.Join(data, "port"))
				continue
			default:
			}
			_ = proc.stop(syscall.SIGKILL, 5*time.Second)
			return "", fmt.Errorf("%w\n%s", err, tail(logFile, 3000))
		}
		st.addCloser(func() error {
			if err := proc.stop(syscall.SIGTERM, time.Minute); err != nil {
				return fmt.Errorf("stop neo4j: %w", err)
			}
			return nil
		})
		cfg.log.Info("devstack: neo4j started", "url", url, "data", data, "took", time.Since(began).Round(10*time.Millisecond))
		return url, nil
	}
	return "", lastErr
}

// waitNeo4j polls until a Bolt connection to url succeeds (auth is disabled on the
// dev server).
func waitNeo4j(ctx context.Context, exited <-chan struct{}, url string) error {
	drv, err := neo4j.NewDriverWithContext(url, neo4j.NoAuth(), func(c *neo4jconfig.Config) {
		c.SocketConnectTimeout = time.Second
		c.MaxConnectionPoolSize = 1
	})
	if err != nil {
		return fmt.Errorf("neo4j driver: %w", err)
	}
	defer drv.Close(context.Background())
	return poll(ctx, exited, drv.VerifyConnectivity)
}

// waitNeo4jOnce is one connectivity check with its own driver.
func waitNeo4jOnce(ctx context.Context, url string) error {
	drv, err := neo4j.NewDriverWithContext(url, neo4j.NoAuth())
	if err != nil {
		return err
	}
	defer drv.Close(context.Background())
	return drv.VerifyConnectivity(ctx)
}
