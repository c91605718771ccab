package pg_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/internal/testenv"
)

// Every pooled connection carries the server-side timeouts: a statement
// running past statement_timeout and a wait for a lock past lock_timeout
// are cancelled by PostgreSQL itself, whatever the client does.
func TestPooledConnectionsHaveTimeouts(t *testing.T) {
	url := testenv.Database(t)
	ctx := context.Background()
	pool, err := pg.Open(ctx, url, "app_timeouts", nil)
	require.NoError(t, err)
	defer pool.Close()
	for name, want := range map[string]string{"statement_timeout": "10s", "lock_timeout": "5s", "idle_in_transaction_session_timeout": "30s"} {
		var got string
		require.NoError(t, pool.QueryRow(ctx, "SHOW "+name).Scan(&got))
		require.Equal(t, want, got, name)
	}

	short, err := pg.Open(ctx, url, "app_timeouts", nil, pg.WithTimeouts(time.Second, 100*time.Millisecond, 0))
	require.NoError(t, err)
	defer short.Close()
	start := time.Now()
	_, err = short.Exec(ctx, "SELECT pg_sleep(30)")
	require.Equal(t, "57014", sqlState(err), "query_canceled: %v", err)
	require.Less(t, time.Since(start), 10*time.Second)

	_, err = pool.Exec(ctx, "CREATE TABLE held (id int)")
	require.NoError(t, err)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, "LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	err = pgx.BeginFunc(ctx, short, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "SELECT * FROM held")
		return err
	})
	require.Equal(t, "55P03", sqlState(err), "lock_not_available: %v", err)
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
