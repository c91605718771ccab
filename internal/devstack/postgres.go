package devstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	defaultPGBin = "/usr/lib/postgresql/15/bin"
	pgRole       = "studio"
	pgDatabase   = "studio"
	pgPortFile   = "port"
	pgDataDir    = "data"
	pgLogFile    = "postgres.log"
)

// pgCluster is the on-disk location of the private cluster.
type pgCluster struct {
	root string // holds data/, port, postgres.log
	data string
	user *runAs
	bin  string
}

// FallbackPostgresDir is where the cluster for dir lives when, running as root, the
// "postgres" user cannot reach dir: /tmp/studio-pg-<first 12 hex of sha256(abs dir)>.
// It is always under /tmp (not $TMPDIR, which may itself be private).
func FallbackPostgresDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join("/tmp", "studio-pg-"+hex.EncodeToString(sum[:])[:12])
}

// locateCluster decides where the cluster for dir lives and prepares the folder:
//   - <dir>/postgres is a symlink (recorded fallback) -> its target;
//   - <dir>/postgres is a folder the postgres user can reach -> it;
//   - otherwise, if the postgres user can reach dir -> create <dir>/postgres;
//   - otherwise -> FallbackPostgresDir(dir), recorded as the symlink <dir>/postgres.
func locateCluster(ctx context.Context, cfg *config, dir string) (*pgCluster, error) {
	u, err := postgresUser()
	if err != nil {
		return nil, err
	}
	c := &pgCluster{user: u, bin: cfg.pgBin}
	link := filepath.Join(dir, "postgres")
	fi, err := os.Lstat(link)
	switch {
	case err == nil && fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(link)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", link, err)
		}
		c.root = target
	case err == nil && fi.IsDir() && canReach(ctx, u, link):
		c.root = link
	case err == nil && fi.IsDir():
		// An existing folder the postgres user cannot reach (the tree moved under a
		// private folder): keep it aside and use the fallback.
		aside := link + ".unreachable"
		cfg.log.Warn("devstack: postgres user cannot reach existing cluster folder; moving it aside", "from", link, "to", aside)
		if err := os.Rename(link, aside); err != nil {
			return nil, fmt.Errorf("move unreachable cluster aside: %w", err)
		}
		c.root = ""
	case err == nil:
		return nil, fmt.Errorf("%s exists and is neither a folder nor a symlink", link)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("stat %s: %w", link, err)
	}
	if c.root == "" {
		if canReach(ctx, u, dir) {
			c.root = link
		} else {
			c.root = FallbackPostgresDir(dir)
			cfg.log.Info("devstack: postgres user cannot reach dir; cluster placed in fallback folder", "dir", dir, "cluster", c.root, "user", u.name)
			if err := os.Symlink(c.root, link); err != nil {
				return nil, fmt.Errorf("record fallback cluster folder: %w", err)
			}
		}
	}
	if err := os.MkdirAll(c.root, 0o700); err != nil {
		return nil, fmt.Errorf("create cluster folder: %w", err)
	}
	if u != nil {
		fi, err := os.Stat(c.root)
		if err != nil {
			return nil, fmt.Errorf("stat cluster folder: %w", err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != u.uid && int(st.Uid) != 0 {
			return nil, fmt.Errorf("cluster folder %s is owned by uid %d, not %s or root; refusing to use it", c.root, st.Uid, u.name)
		}
		if err := u.chown(c.root); err != nil {
			return nil, err
		}
	}
	c.data = filepath.Join(c.root, pgDataDir)
	return c, nil
}

func (c *pgCluster) binary(name string) string { return filepath.Join(c.bin, name) }

func (c *pgCluster) run(ctx context.Context, name string, args ...string) error {
	cmd, done, err := command(ctx, c.user, c.root, "", c.binary(name), args...)
	if err != nil {
		return err
	}
	defer done()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (c *pgCluster) initialized() bool {
	_, err := os.Stat(filepath.Join(c.data, "PG_VERSION"))
	return err == nil
}

// runningPort returns the port of a live postmaster for this data folder, or 0.
func (c *pgCluster) runningPort() int {
	b, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		return 0
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0 // stale pid file; postgres cleans it up on start
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return 0
	}
	return port
}

func (c *pgCluster) initdb(ctx context.Context, log interface{ Info(string, ...any) }) error {
	if c.initialized() {
		return nil
	}
	if _, err := os.Stat(c.binary("initdb")); err != nil {
		return fmt.Errorf("PostgreSQL binaries not found in %s (install them with `apt-get install -y postgresql-15`): %w", c.bin, err)
	}
	// A half-written data folder from an interrupted initdb would make initdb fail.
	if err := os.RemoveAll(c.data); err != nil {
		return fmt.Errorf("remove incomplete data folder: %w", err)
	}
	log.Info("devstack: initdb", "data", c.data)
	if err := c.run(ctx, "initdb", "-D", c.data, "-U", pgRole, "--auth=trust",
		"--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"); err != nil {
		return err
	}
	// Only TCP from 127.0.0.1 (unix sockets are disabled at start).
	hba := "# written by devstack: trust, loopback TCP only\nhost all all 127.0.0.1/32 trust\n"
	if err := os.WriteFile(filepath.Join(c.data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fmt.Errorf("write pg_hba.conf: %w", err)
	}
	return nil
}

func pgURL(port int, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(pgRole),
		Host:     "127.0.0.1:" + strconv.Itoa(port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

func pgPing(ctx context.Context, connURL string) error {
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

func startPostgres(ctx context.Context, st *Stack, cfg *config, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.startTimout)
	defer cancel()

	// Serialise concurrent Starts on the same dir (e.g. parallel test binaries).
	unlock, err := lockFile(ctx, filepath.Join(dir, ".devstack-postgres.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()

	c, err := locateCluster(ctx, cfg, dir)
	if err != nil {
		return "", err
	}
	if err := c.initdb(ctx, cfg.log); err != nil {
		return "", err
	}

	if port := c.runningPort(); port != 0 {
		cfg.log.Info("devstack: reusing running postgres", "data", c.data, "port", port)
		if err := poll(ctx, nil, func(ctx context.Context) error { return pgPing(ctx, pgURL(port, "postgres")) }); err != nil {
			return "", fmt.Errorf("postgres already running on port %d (per %s) but not answering: %w", port, filepath.Join(c.data, "postmaster.pid"), err)
		}
		if err := ensureDatabase(ctx, pgURL(port, "postgres"), pgDatabase); err != nil {
			return "", err
		}
		return pgURL(port, pgDatabase), nil
	}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := stablePort(filepath.Join(c.root, pgPortFile))
		if err != nil {
			return "", err
		}
		proc, err := c.start(port, cfg.pgSettings)
		if err != nil {
			return "", err
		}
		err = poll(ctx, proc.exited, func(ctx context.Context) error { return pgPing(ctx, pgURL(port, "postgres")) })
		if err != nil {
			select {
			case <-proc.exited:
				// Probably lost a race for the port: try another one.
				lastErr = fmt.Errorf("postgres exited: %w\n%s", err, tail(filepath.Join(c.root, pgLogFile), 2000))
				_ = os.Remove(filepath.Join(c.root, pgPortFile))
				continue
			default:
			}
			_ = c.stop(proc)
			return "", fmt.Errorf("%w\n%s", err, tail(filepath.Join(c.root, pgLogFile), 2000))
		}
		st.addCloser(func() error { return c.stop(proc) })
		cfg.log.Info("devstack: postgres started", "data", c.data, "port", port, "user", c.userName())
		if err := ensureDatabase(ctx, pgURL(port, "postgres"), pgDatabase); err != nil {
			return "", err
		}
		return pgURL(port, pgDatabase), nil
	}
	return "", lastErr
}

func (c *pgCluster) userName() string {
	if c.user == nil {
		return "(current)"
	}
	return c.user.name
}

// start runs postgres in the foreground as a child process (so Pdeathsig applies:
// SIGINT = fast shutdown when this process dies).
func (c *pgCluster) start(port int, settings []string) (*process, error) {
	args := []string{
		"-D", c.data,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "logging_collector=off",
	}
	for _, s := range settings {
		args = append(args, "-c", s)
	}
	cmd, done, err := command(nil, c.user, c.root, filepath.Join(c.root, pgLogFile), c.binary("postgres"), args...)
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGINT
	return startProcess(cmd, done)
}

// stop runs `pg_ctl stop -m fast`, then makes sure the child is gone.
func (c *pgCluster) stop(p *process) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.run(ctx, "pg_ctl", "stop", "-D", c.data, "-m", "fast", "-w", "-t", "55"); err != nil {
		// Fall back to signalling the child directly (SIGINT = fast shutdown).
		if serr := p.stop(syscall.SIGINT, 30*time.Second); serr != nil {
			return fmt.Errorf("stop postgres: %w", errors.Join(err, serr))
		}
		return nil
	}
	if err := p.wait(10 * time.Second); err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	return nil
}

// ensureDatabase creates database name on the server at adminURL if missing.
func ensureDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "select exists(select 1 from pg_database where datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
		var pgErr interface{ SQLState() string }
		if errors.As(err, &pgErr) && pgErr.SQLState() == "42P04" { // duplicate_database: lost a race
			return nil
		}
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}

// DatabaseURL returns serverURL (a postgres:// URL) pointing at database name instead.
func DatabaseURL(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("devstack: %q is not a postgres:// URL", serverURL)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// CreateDatabase creates database name (which must not exist) on the server behind
// serverURL and returns a URL for it. The role in serverURL needs CREATEDB.
func CreateDatabase(ctx context.Context, serverURL, name string) (string, error) {
	dbURL, err := DatabaseURL(serverURL, name)
	if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("devstack: connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("devstack: create database %q: %w", name, err)
	}
	return dbURL, nil
}

// DropDatabase drops database name (if it exists) on the server behind serverURL,
// terminating its open connections first (DROP DATABASE ... WITH (FORCE)).
func DropDatabase(ctx context.Context, serverURL, name string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("devstack: connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "drop database if exists "+pgx.Identifier{name}.Sanitize()+" with (force)"); err != nil {
		return fmt.Errorf("devstack: drop database %q: %w", name, err)
	}
	return nil
}

// lockFile takes an exclusive flock on path, polling until ctx ends.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	err = poll(ctx, nil, func(context.Context) error {
		return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	})
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
