// Package store is identity's PostgreSQL storage (schema "identity"):
// organizations, users, refresh tokens and the token signing key.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/subgraphs/identity/graph/model"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Schema is the Postgres schema identity owns.
const Schema = "identity"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded migrations (the *.sql files at its root).
func Migrations() fs.FS { return pg.Dir(migrationFiles, "migrations") }

// Errors.
var (
	ErrNotFound            = errors.New("not found")
	ErrEmailTaken          = errors.New("email already registered")
	ErrSlugTaken           = errors.New("organization slug already taken")
	ErrInvalidRefreshToken = errors.New("invalid or expired refresh token")
)

// Store reads and writes identity's tables.
type Store struct {
	*pg.DB
}

// New returns the store on db (opened on Schema with Migrations, e.g. by kit.Open).
func New(db *pg.DB) *Store { return &Store{DB: db} }

const userCols = "id::text, org_id::text, email, name, role, created_at"

func scanUser(row pgx.CollectableRow) (*model.User, error) {
	var u model.User
	var role string
	if err := row.Scan(&u.ID, &u.OrganizationID, &u.Email, &u.Name, &role, &u.CreatedAt); err != nil {
		return nil, err
	}
	u.Role = model.Role(role)
	return &u, nil
}

func scanOrg(row pgx.CollectableRow) (*model.Organization, error) {
	var o model.Organization
	err := row.Scan(&o.ID, &o.Name, &o.Slug)
	return &o, err
}

func (s *Store) users(ctx context.Context, sql string, args ...any) ([]*model.User, error) {
	rows, err := s.Pool().Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query users: %w", err)
	}
	us, err := pgx.CollectRows(rows, scanUser)
	if err != nil {
		return nil, fmt.Errorf("query users: %w", err)
	}
	return us, nil
}

// UsersByIDs returns the users of organization orgID with the given ids, in
// key order, nil where there is none. One query.
func (s *Store) UsersByIDs(ctx context.Context, orgID string, ids []string) ([]*model.User, error) {
	us, err := s.users(ctx, "SELECT "+userCols+" FROM users WHERE id = ANY($1::uuid[]) AND org_id = $2::uuid",
		kit.UUIDs(ids), orgID)
	if err != nil {
		return nil, err
	}
	return kit.Order(ids, us, func(u *model.User) string { return u.ID }), nil
}

// membersOf lists an organization's users, oldest first, scoped by the caller's organization ($2).
var membersOf = kit.PageQuery{Select: userCols, From: "users", Key: "org_id", Where: "org_id = $2::uuid", Order: "created_at, email, id"}

func userFields(u *model.User) []any {
	return []any{&u.ID, &u.OrganizationID, &u.Email, &u.Name, &u.Role, &u.CreatedAt}
}

// UsersByOrgIDs returns, per key, a page of its organization's members (oldest
// first); only orgID's members are visible (other keys get none). One query.
func (s *Store) UsersByOrgIDs(ctx context.Context, orgID string, keys []kit.PageKey) ([]*model.UserConnection, error) {
	return kit.Pages(ctx, s.Pool(), membersOf, keys, userFields, orgID)
}

// UsersInOrg returns page p of the members of orgID. One query.
func (s *Store) UsersInOrg(ctx context.Context, orgID string, p kit.Page) (*model.UserConnection, error) {
	cs, err := s.UsersByOrgIDs(ctx, orgID, []kit.PageKey{{ID: orgID, Page: p}})
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// UserByID returns a user of organization orgID, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, orgID, id string) (*model.User, error) {
	us, err := s.UsersByIDs(ctx, orgID, []string{id})
	if err != nil {
		return nil, err
	}
	if us[0] == nil {
		return nil, ErrNotFound
	}
	return us[0], nil
}

// UserByEmail returns the user with email (case-insensitive) and their
// password hash, or ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (*model.User, string, error) {
	rows, err := s.Pool().Query(ctx, "SELECT "+userCols+", password_hash FROM users WHERE lower(email) = lower($1)", email)
	if err != nil {
		return nil, "", fmt.Errorf("query user by email: %w", err)
	}
	var hash string
	u, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (*model.User, error) {
		var u model.User
		var role string
		if err := row.Scan(&u.ID, &u.OrganizationID, &u.Email, &u.Name, &role, &u.CreatedAt, &hash); err != nil {
			return nil, err
		}
		u.Role = model.Role(role)
		return &u, nil
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", fmt.Errorf("query user by email: %w", err)
	}
	return u, hash, nil
}

// OrganizationsByIDs returns organizations in key order, nil where there is
// none; only orgID itself is visible. One query.
func (s *Store) OrganizationsByIDs(ctx context.Context, orgID string, ids []string) ([]*model.Organization, error) {
	rows, err := s.Pool().Query(ctx, "SELECT id::text, name, slug FROM organizations WHERE id = ANY($1::uuid[]) AND id = $2::uuid", kit.UUIDs(ids), orgID)
	if err != nil {
		return nil, fmt.Errorf("query organizations: %w", err)
	}
	os, err := pgx.CollectRows(rows, scanOrg)
	if err != nil {
		return nil, fmt.Errorf("query organizations: %w", err)
	}
	return kit.Order(ids, os, func(o *model.Organization) string { return o.ID }), nil
}

// CreateOrganizationWithAdmin creates org and its first user in one transaction.
// The user's OrganizationID is set to org.ID. Returns ErrEmailTaken or ErrSlugTaken.
func (s *Store) CreateOrganizationWithAdmin(ctx context.Context, org *model.Organization, u *model.User, passwordHash string) error {
	u.OrganizationID = org.ID
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO organizations (id, name, slug) VALUES ($1, $2, $3)", org.ID, org.Name, org.Slug); err != nil {
			return classify(err)
		}
		if err := appendEvent(ctx, tx, SubjectOrganizationCreated, org.ID, OrganizationCreated{ID: org.ID, Name: org.Name, Slug: org.Slug}); err != nil {
			return err
		}
		return insertUser(ctx, tx, u, passwordHash)
	})
}

// CreateUser adds a user to an existing organization. Returns ErrEmailTaken.
func (s *Store) CreateUser(ctx context.Context, u *model.User, passwordHash string) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error { return insertUser(ctx, tx, u, passwordHash) })
}

// insertUser inserts u and appends its user.created event in tx.
func insertUser(ctx context.Context, tx pgx.Tx, u *model.User, passwordHash string) error {
	err := tx.QueryRow(ctx, `INSERT INTO users (id, org_id, email, name, role, password_hash)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
		u.ID, u.OrganizationID, u.Email, u.Name, string(u.Role), passwordHash).Scan(&u.CreatedAt)
	if err := classify(err); err != nil {
		return err
	}
	return appendEvent(ctx, tx, SubjectUserCreated, u.OrganizationID, userCreated(u.ID, u.OrganizationID, u.Email, u.Name, string(u.Role)))
}

func userCreated(id, orgID, email, name, role string) UserCreated {
	return UserCreated{ID: id, OrganizationID: orgID, Email: email, Name: name, Role: role}
}

func classify(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		switch {
		case strings.Contains(pgErr.ConstraintName, "email"):
			return ErrEmailTaken
		case strings.Contains(pgErr.ConstraintName, "slug"):
			return ErrSlugTaken
		}
	}
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	return nil
}

// InsertRefreshToken stores the hash of a new refresh token of userID.
func (s *Store) InsertRefreshToken(ctx context.Context, hash []byte, userID string, expiresAt time.Time) error {
	_, err := s.Pool().Exec(ctx, "INSERT INTO refresh_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)", hash, userID, expiresAt)
	if err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// RotateRefreshToken revokes the live token oldHash and stores newHash for
// the same user in one transaction, returning the user. A token that is
// unknown, revoked or expired gives ErrInvalidRefreshToken.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, newHash []byte, expiresAt time.Time) (*model.User, error) {
	var userID, orgID string
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE refresh_tokens SET revoked_at = now()
			WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()
			RETURNING user_id::text`, oldHash).Scan(&userID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrInvalidRefreshToken
		}
		if err != nil {
			return fmt.Errorf("revoke refresh token: %w", err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO refresh_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)", newHash, userID, expiresAt); err != nil {
			return fmt.Errorf("insert refresh token: %w", err)
		}
		return tx.QueryRow(ctx, "SELECT org_id::text FROM users WHERE id = $1", userID).Scan(&orgID)
	})
	if err != nil {
		return nil, err
	}
	return s.UserByID(ctx, orgID, userID)
}

// RevokeRefreshToken revokes the token with hash; unknown or already revoked tokens are ignored.
func (s *Store) RevokeRefreshToken(ctx context.Context, hash []byte) error {
	if _, err := s.Pool().Exec(ctx, "UPDATE refresh_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL", hash); err != nil {
		return fmt.Errorf("revoke refresh token: %w", err)
	}
	return nil
}

// SigningKey returns the active signing key (kid and PEM), creating it with
// generate when there is none. Concurrent first starts agree on one key.
func (s *Store) SigningKey(ctx context.Context, generate func() (kid string, pem []byte, err error)) (string, []byte, error) {
	var kid, pemText string
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('studio.identity.signing_keys'))"); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, "SELECT kid, private_key_pem FROM signing_keys ORDER BY created_at, kid LIMIT 1").Scan(&kid, &pemText)
		if err == nil || !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		newKid, pemBytes, err := generate()
		if err != nil {
			return err
		}
		kid, pemText = newKid, string(pemBytes)
		_, err = tx.Exec(ctx, "INSERT INTO signing_keys (kid, private_key_pem) VALUES ($1, $2)", kid, pemText)
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("signing key: %w", err)
	}
	return kid, []byte(pemText), nil
}
