package kit

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/graph-gophers/dataloader/v7"
	"github.com/jackc/pgx/v5"
)

// Page sizes of connections (first).
const (
	DefaultFirst = 20
	MaxFirst     = 100
)

// Connection is a Relay-style connection: one page of a list, its edges (each
// with a cursor), its nodes, whether more follow and the list's total size.
// A subgraph's model binds its XConnection and XEdge to it by alias:
//
//	type ProjectConnection = kit.Connection[Project]
//	type ProjectEdge = kit.Edge[Project]
type Connection[T any] struct {
	Edges      []*Edge[T] `json:"edges"`
	Nodes      []*T       `json:"nodes"`
	PageInfo   *PageInfo  `json:"pageInfo"`
	TotalCount int        `json:"totalCount"`
}

// Edge is one node of a connection and its cursor.
type Edge[T any] struct {
	Cursor string `json:"cursor"`
	Node   *T     `json:"node"`
}

// PageInfo says whether a connection has more nodes after its last one.
type PageInfo struct {
	HasNextPage bool    `json:"hasNextPage"`
	EndCursor   *string `json:"endCursor"`
}

// Page is a validated (first, after) pair: Limit nodes after the first Offset.
// It is comparable, so loader keys can carry it (PageKey).
type Page struct {
	Offset int
	Limit  int
}

// PageKey is the loader key of a paginated relation: the parent's id and the
// page asked for.
type PageKey struct {
	ID   string
	Page Page
}

// PageArgs validates a connection field's first and after: first between 0
// and MaxFirst (DefaultFirst when nil), after a cursor of this list (nil:
// from the start). Problems are BAD_USER_INPUT.
func PageArgs(first *int, after *string) (Page, error) {
	p := Page{Limit: DefaultFirst}
	var in Input
	if first != nil {
		if *first < 0 || *first > MaxFirst {
			in.Problemf("first must be between 0 and %d", MaxFirst)
		}
		p.Limit = *first
	}
	if after != nil && in.MaxLen("after", *after, MaxID) {
		off, ok := decodeCursor(*after)
		if !ok {
			in.Problemf("after is not a cursor of this list")
		}
		p.Offset = off
	}
	return p, in.Err()
}

const cursorPrefix = "offset:"

// Cursor is the opaque cursor of the n-th node (1-based) of a list: after it,
// a page starts at node n+1. Cursors are positions (like graphql-relay's
// arrayconnection): a page after a cursor skips the first n nodes as the list
// stands when the page is read.
func Cursor(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.Itoa(n)))
}

func decodeCursor(c string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(raw), cursorPrefix) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), cursorPrefix))
	if err != nil || n < 0 || n > 1<<30 {
		return 0, false
	}
	return n, true
}

// NewConnection returns the connection of page p holding nodes, of a list of total nodes.
func NewConnection[T any](p Page, nodes []*T, total int) *Connection[T] {
	c := &Connection[T]{Edges: make([]*Edge[T], len(nodes)), Nodes: nodes, PageInfo: &PageInfo{}, TotalCount: total}
	for i, n := range nodes {
		c.Edges[i] = &Edge[T]{Cursor: Cursor(p.Offset + i + 1), Node: n}
	}
	if len(nodes) > 0 {
		end := c.Edges[len(nodes)-1].Cursor
		c.PageInfo.EndCursor = &end
	}
	c.PageInfo.HasNextPage = p.Offset+len(nodes) < total
	return c
}

// Querier runs SQL (a *pgxpool.Pool, a pgx.Tx).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// PageQuery describes the lists of many parents in one table: the rows whose
// Key column is a parent's id, filtered by Where, in Order. Pages runs it
// for a batch of parents as ONE statement.
type PageQuery struct {
	// Select lists the columns, in the order Fields scans them ("id::text, name").
	Select string
	// From is the table.
	From string
	// Key is the uuid column naming the parent (matched against $1::uuid[]).
	Key string
	// Where is the rest of the condition, with parameters from $2: it must
	// scope by organization ("org_id = $2::uuid").
	Where string
	// Order orders each parent's list; it must end with a unique column.
	Order string
}

// SQL is the statement: every parent's rows numbered by a window function,
// with the parent's total; the page's rows are kept, plus each parent's
// first row so a page past the end still carries the total (Pages drops it).
// nargs is the number of parameters Where uses ($2…); offset and limit follow.
func (q PageQuery) SQL(nargs int) string {
	off, lim := nargs+2, nargs+3
	return fmt.Sprintf(`SELECT * FROM (SELECT %s, %s::text AS kit_key,
	row_number() OVER (PARTITION BY %s ORDER BY %s) AS kit_n,
	count(*) OVER (PARTITION BY %s) AS kit_total
	FROM %s WHERE %s = ANY($1::uuid[]) AND (%s)) AS kit_page
WHERE (kit_n > $%d AND kit_n <= $%d + $%d) OR kit_n = 1
ORDER BY kit_key, kit_n`, q.Select, q.Key, q.Key, q.Order, q.Key, q.From, q.Key, q.Where, off, off, lim)
}

// Pages returns, for each key, the page it asks for of its parent's list, in
// key order: one statement per distinct page among keys (one, unless a
// request asks for different pages of the same field). fields returns the
// scan destinations of a row, in PageQuery.Select order; args are Where's
// parameters ($2…). Malformed ids get an empty connection.
func Pages[T any](ctx context.Context, db Querier, q PageQuery, keys []PageKey, fields func(*T) []any, args ...any) ([]*Connection[T], error) {
	byPage := map[Page][]string{}
	for _, k := range keys {
		byPage[k.Page] = append(byPage[k.Page], k.ID)
	}
	type list struct {
		nodes []*T
		total int
	}
	lists := make(map[PageKey]*list, len(keys))
	sql := q.SQL(len(args))
	for p, ids := range byPage {
		params := append(append([]any{UUIDs(ids)}, args...), p.Offset, p.Limit)
		rows, err := db.Query(ctx, sql, params...)
		if err != nil {
			return nil, fmt.Errorf("query %s pages: %w", q.From, err)
		}
		var key string
		var n, total int
		for rows.Next() {
			t := new(T)
			if err := rows.Scan(append(fields(t), &key, &n, &total)...); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan %s pages: %w", q.From, err)
			}
			l := lists[PageKey{ID: key, Page: p}]
			if l == nil {
				l = &list{}
				lists[PageKey{ID: key, Page: p}] = l
			}
			l.total = total
			if n > p.Offset && n <= p.Offset+p.Limit {
				l.nodes = append(l.nodes, t)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("query %s pages: %w", q.From, err)
		}
	}
	out := make([]*Connection[T], len(keys))
	for i, k := range keys {
		l := lists[k]
		if l == nil {
			l = &list{}
		}
		if l.nodes == nil {
			l.nodes = []*T{}
		}
		out[i] = NewConnection(k.Page, l.nodes, l.total)
	}
	return out, nil
}

// LoadPage validates first and after and loads parent id's page through
// loader (a loader of PageKey built on Pages): the body of every paginated
// relation resolver.
func LoadPage[T any](ctx context.Context, loader *dataloader.Loader[PageKey, *Connection[T]], id string, first *int, after *string) (*Connection[T], error) {
	p, err := PageArgs(first, after)
	if err != nil {
		return nil, err
	}
	return loader.Load(ctx, PageKey{ID: id, Page: p})()
}
