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

// RefreshToken is the stored side of a refresh token: whose it is and the
// family (session) it belongs to.
type RefreshToken struct {
	UserID   string
	OrgID    string
	FamilyID string
}

// InsertRefreshToken stores the hash of a new refresh token of t.UserID in
// organization t.OrgID, in family t.FamilyID (a new family at sign-in).
func (s *Store) InsertRefreshToken(ctx context.Context, hash []byte, t RefreshToken, expiresAt time.Time) error {
	_, err := s.Pool().Exec(ctx, `INSERT INTO refresh_tokens (token_hash, user_id, org_id, family_id, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, hash, t.UserID, t.OrgID, t.FamilyID, expiresAt)
	if err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// ReusedRefreshTokenError is returned by RotateRefreshToken for a token that
// was already rotated or revoked: its whole family has been revoked (in the
// same transaction), and the caller ends the family's session.
type ReusedRefreshTokenError struct{ Token RefreshToken }

func (e *ReusedRefreshTokenError) Error() string {
	return "refresh token reused: family " + e.Token.FamilyID + " revoked"
}

// Unwrap makes a reuse an ErrInvalidRefreshToken for the client.
func (e *ReusedRefreshTokenError) Unwrap() error { return ErrInvalidRefreshToken }

// RotateRefreshToken revokes the live token oldHash and stores newHash in the
// same family in one transaction, returning the user and the family. An
// unknown or expired token gives ErrInvalidRefreshToken; a token already
// revoked (a replayed, rotated token) revokes its whole family and gives a
// *ReusedRefreshTokenError.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, newHash []byte, expiresAt time.Time) (*model.User, RefreshToken, error) {
	var t RefreshToken
	var reused bool
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		var revoked, expired bool
		// The lookup is by the secret's hash: the caller is not signed in, so
		// there is no organization to scope it by yet; every later statement is.
		err := tx.QueryRow(ctx, `SELECT user_id::text, org_id::text, family_id::text, revoked_at IS NOT NULL, expires_at <= now()
			FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`, oldHash).Scan(&t.UserID, &t.OrgID, &t.FamilyID, &revoked, &expired)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return ErrInvalidRefreshToken
		case err != nil:
			return fmt.Errorf("find refresh token: %w", err)
		case revoked:
			reused = true
			return revokeFamily(ctx, tx, t.OrgID, t.FamilyID)
		case expired:
			return ErrInvalidRefreshToken
		}
		if _, err := tx.Exec(ctx, "UPDATE refresh_tokens SET revoked_at = now() WHERE token_hash = $1 AND org_id = $2", oldHash, t.OrgID); err != nil {
			return fmt.Errorf("revoke refresh token: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, user_id, org_id, family_id, expires_at)
			VALUES ($1, $2, $3, $4, $5)`, newHash, t.UserID, t.OrgID, t.FamilyID, expiresAt)
		if err != nil {
			return fmt.Errorf("insert refresh token: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, RefreshToken{}, err
	}
	if reused {
		return nil, RefreshToken{}, &ReusedRefreshTokenError{Token: t}
	}
	u, err := s.UserByID(ctx, t.OrgID, t.UserID)
	return u, t, err
}

func revokeFamily(ctx context.Context, tx pgx.Tx, orgID, familyID string) error {
	_, err := tx.Exec(ctx, "UPDATE refresh_tokens SET revoked_at = now() WHERE org_id = $1 AND family_id = $2 AND revoked_at IS NULL", orgID, familyID)
	if err != nil {
		return fmt.Errorf("revoke refresh token family: %w", err)
	}
	return nil
}

// RevokeRefreshFamily revokes the family of the token with hash (logout) and
// returns it; an unknown token gives ErrNotFound.
func (s *Store) RevokeRefreshFamily(ctx context.Context, hash []byte) (RefreshToken, error) {
	var t RefreshToken
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, "SELECT user_id::text, org_id::text, family_id::text FROM refresh_tokens WHERE token_hash = $1", hash).
			Scan(&t.UserID, &t.OrgID, &t.FamilyID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("find refresh token: %w", err)
		}
		return revokeFamily(ctx, tx, t.OrgID, t.FamilyID)
	})
	return t, err
}

// RevokeSession revokes the refresh tokens of session (family) sid of user
// userID in orgID.
func (s *Store) RevokeSession(ctx context.Context, orgID, userID, sid string) error {
	_, err := s.Pool().Exec(ctx, "UPDATE refresh_tokens SET revoked_at = now() WHERE org_id = $1 AND user_id = $2 AND family_id = $3 AND revoked_at IS NULL", orgID, userID, sid)
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// RevokeUserRefreshTokens revokes every live refresh token of user userID in
// orgID (sign out everywhere).
func (s *Store) RevokeUserRefreshTokens(ctx context.Context, orgID, userID string) error {
	_, err := s.Pool().Exec(ctx, "UPDATE refresh_tokens SET revoked_at = now() WHERE org_id = $1 AND user_id = $2 AND revoked_at IS NULL", orgID, userID)
	if err != nil {
		return fmt.Errorf("revoke refresh tokens: %w", err)
	}
	return nil
}

// SigningKey is a stored token-signing key.
type SigningKey struct {
	Kid string
	PEM []byte
	// ActivatesAt is when the key starts signing (it is published before).
	ActivatesAt time.Time
	CreatedAt   time.Time
}

// activeKeySQL selects the active key: the newest whose activation has come.
const activeKeySQL = `SELECT kid FROM signing_keys WHERE retired_at IS NULL AND activates_at <= now()
	ORDER BY activates_at DESC, created_at DESC, kid DESC LIMIT 1`

// SigningKeys returns the published (not retired) signing keys, the active
// one first, then the others by activation, newest first. On first start
// (no key at all) it creates one with generate; concurrent first starts
// agree on one key.
func (s *Store) SigningKeys(ctx context.Context, generate func() (kid string, pem []byte, err error)) ([]SigningKey, error) {
	var keys []SigningKey
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('studio.identity.signing_keys'))"); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM signing_keys").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			kid, pemBytes, err := generate()
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO signing_keys (kid, private_key_pem) VALUES ($1, $2)", kid, string(pemBytes)); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT kid, private_key_pem, activates_at, created_at FROM signing_keys WHERE retired_at IS NULL
			ORDER BY kid = (`+activeKeySQL+`) IS TRUE DESC, activates_at DESC, created_at DESC, kid DESC`)
		if err != nil {
			return err
		}
		keys, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (SigningKey, error) {
			var k SigningKey
			var pemText string
			err := row.Scan(&k.Kid, &pemText, &k.ActivatesAt, &k.CreatedAt)
			k.PEM = []byte(pemText)
			return k, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return keys, nil
}

// AddSigningKey stores a new signing key, published at once and signing
// from activatesAt.
func (s *Store) AddSigningKey(ctx context.Context, kid string, pemBytes []byte, activatesAt time.Time) error {
	_, err := s.Pool().Exec(ctx, "INSERT INTO signing_keys (kid, private_key_pem, activates_at) VALUES ($1, $2, $3)", kid, string(pemBytes), activatesAt)
	if err != nil {
		return fmt.Errorf("add signing key: %w", err)
	}
	return nil
}

// ErrActiveKey refuses to retire the key that signs new tokens.
var ErrActiveKey = errors.New("the active signing key cannot be retired: rotate first")

// RetireSigningKey takes key kid out of the JWKS now (tokens it signed stop
// being accepted). The active key cannot be retired (ErrActiveKey); an
// unknown or already retired key gives ErrNotFound.
func (s *Store) RetireSigningKey(ctx context.Context, kid string) error {
	var active string
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('studio.identity.signing_keys'))"); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, activeKeySQL).Scan(&active); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if kid == active {
			return ErrActiveKey
		}
		tag, err := tx.Exec(ctx, "UPDATE signing_keys SET retired_at = now() WHERE kid = $1 AND retired_at IS NULL", kid)
		if err == nil && tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("retire signing key %s: %w", kid, err)
	}
	return nil
}

// RetireSupersededKeys retires every key that was replaced at least `after`
// ago: the keys activated before a key whose activation is older than
// now - after. With after at least the access tokens' lifetime, no valid
// token carries a retired key. It returns the kids retired.
func (s *Store) RetireSupersededKeys(ctx context.Context, after time.Duration) ([]string, error) {
	rows, err := s.Pool().Query(ctx, `UPDATE signing_keys SET retired_at = now()
		WHERE retired_at IS NULL AND activates_at < (SELECT max(activates_at) FROM signing_keys
			WHERE retired_at IS NULL AND activates_at <= now() - make_interval(secs => $1))
		RETURNING kid`, after.Seconds())
	if err != nil {
		return nil, fmt.Errorf("retire superseded keys: %w", err)
	}
	kids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("retire superseded keys: %w", err)
	}
	return kids, nil
}
