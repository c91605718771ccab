package pg_test

import "github.com/jackc/pgx/v5"

func pgxStart(sql string) pgx.TraceQueryStartData { return pgx.TraceQueryStartData{SQL: sql} }
