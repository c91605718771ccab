package graph

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/subgraphs/identity/graph/model"
	"github.com/studio-platform/studio/subgraphs/identity/password"
	"github.com/studio-platform/studio/subgraphs/identity/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// MinPasswordLength is the shortest password signUp accepts.
const MinPasswordLength = 8

var errInvalidCredentials = &kit.Error{Code: kit.CodeUnauthenticated, Message: "invalid email or password"}

var errInvalidRefresh = &kit.Error{Code: kit.CodeUnauthenticated, Message: "invalid or expired refresh token"}

// dummyHash is checked against when the email is unknown, so login takes as
// long for unknown emails as for wrong passwords.
var dummyHash = func() string {
	h, err := password.Hash("not-a-real-password")
	if err != nil {
		panic(err)
	}
	return h
}()

// issue starts a new session (refresh-token family) for u and returns its
// first access and refresh tokens. The session is live in Redis before any
// token of it exists.
func (r *Resolver) issue(ctx context.Context, u *model.User) (*model.AuthPayload, error) {
	refresh, hash, err := newRefreshToken()
	if err != nil {
		return nil, err
	}
	t := store.RefreshToken{UserID: u.ID, OrgID: u.OrganizationID, FamilyID: uuid.NewString()}
	if r.Sessions != nil {
		if err := r.Sessions.Start(ctx, t.FamilyID, u.ID, r.RefreshTTL); err != nil {
			return nil, errSessionsUnavailable(err)
		}
	}
	if err := r.Store.InsertRefreshToken(ctx, hash, t, time.Now().Add(r.RefreshTTL)); err != nil {
		return nil, err
	}
	return r.payload(u, t.FamilyID, refresh)
}

// SignInExternal starts a session for the user an external identity provider
// signed in (package sso): store.ExternalUser finds or links the user, then
// the tokens are issued as by login.
func (r *Resolver) SignInExternal(ctx context.Context, ext store.ExternalIdentity) (*model.AuthPayload, error) {
	u, err := r.Store.ExternalUser(ctx, ext)
	if err != nil {
		return nil, err
	}
	return r.issue(ctx, u)
}

// errSessionsUnavailable is what the client sees when Redis is down.
func errSessionsUnavailable(err error) error {
	return &kit.Error{Code: kit.CodeServiceUnavailable, Message: "sessions are unavailable, try again later", Err: err}
}

// payload signs an access token of session sid for u and pairs it with refresh.
func (r *Resolver) payload(u *model.User, sid, refresh string) (*model.AuthPayload, error) {
	now := time.Now()
	exp := now.Add(r.AccessTTL).Truncate(time.Second) // JWT exp has second precision
	tok, err := r.Signer.Sign(auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   u.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        uuid.NewString(),
		},
		SessionID: sid,
		OrgID:     u.OrganizationID,
		Email:     u.Email,
	})
	if err != nil {
		return nil, fmt.Errorf("sign access token: %w", err)
	}
	return &model.AuthPayload{AccessToken: tok, RefreshToken: refresh, ExpiresAt: exp, User: u}, nil
}

// newRefreshToken returns a random opaque token and the sha256 stored for it.
func newRefreshToken() (token string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("refresh token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token), nil
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func (r *Resolver) signUp(ctx context.Context, in model.SignUpInput) (*model.AuthPayload, error) {
	var v kit.Input
	email := strings.ToLower(v.Text("email", in.Email, kit.MaxEmail))
	name := v.Text("name", in.Name, kit.MaxName)
	orgName := v.Text("organizationName", in.OrganizationName, kit.MaxName)
	if a, err := mail.ParseAddress(email); email != "" && (err != nil || a.Address != email) {
		v.Problemf("email is not a valid address")
	}
	if len(in.Password) < MinPasswordLength {
		v.Problemf("password must have at least %d characters", MinPasswordLength)
	}
	v.MaxLen("password", in.Password, kit.MaxPassword)
	if err := v.Err(); err != nil {
		return nil, err
	}
	hash, err := password.Hash(in.Password)
	if err != nil {
		return nil, err
	}
	u := &model.User{ID: uuid.NewString(), Email: email, Name: name, Role: model.RoleAdmin}
	slug := Slugify(orgName)
	for attempt := 0; ; attempt++ {
		org := &model.Organization{ID: uuid.NewString(), Name: orgName, Slug: slug}
		err = r.Store.CreateOrganizationWithAdmin(ctx, org, u, hash)
		if errors.Is(err, store.ErrSlugTaken) && attempt < 5 {
			slug = Slugify(orgName) + "-" + randomSuffix()
			continue
		}
		break
	}
	switch {
	case errors.Is(err, store.ErrEmailTaken):
		return nil, &kit.Error{Code: kit.CodeBadUserInput, Message: "email is already registered", Err: err}
	case err != nil:
		return nil, err
	}
	return r.issue(ctx, u)
}

func (r *Resolver) login(ctx context.Context, email, pw string) (*model.AuthPayload, error) {
	var v kit.Input
	v.MaxLen("email", email, kit.MaxEmail)
	v.MaxLen("password", pw, kit.MaxPassword)
	if err := v.Err(); err != nil {
		return nil, err
	}
	u, hash, err := r.Store.UserByEmail(ctx, strings.TrimSpace(email))
	if errors.Is(err, store.ErrNotFound) {
		_ = password.Check(pw, dummyHash)
		return nil, errInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	if err := password.Check(pw, hash); err != nil {
		if errors.Is(err, password.ErrMismatch) {
			return nil, errInvalidCredentials
		}
		return nil, err
	}
	return r.issue(ctx, u)
}

func (r *Resolver) refresh(ctx context.Context, token string) (*model.AuthPayload, error) {
	if err := checkToken(token); err != nil {
		return nil, err
	}
	next, nextHash, err := newRefreshToken()
	if err != nil {
		return nil, err
	}
	u, t, err := r.Store.RotateRefreshToken(ctx, hashToken(token), nextHash, time.Now().Add(r.RefreshTTL))
	var reused *store.ReusedRefreshTokenError
	if errors.As(err, &reused) {
		// A rotated token came back: someone holds a copy. The family is
		// revoked in Postgres already; end its access tokens too.
		if r.Sessions != nil {
			if err := r.Sessions.End(ctx, reused.Token.FamilyID, reused.Token.UserID); err != nil {
				return nil, errSessionsUnavailable(err)
			}
		}
		return nil, errInvalidRefresh
	}
	if errors.Is(err, store.ErrInvalidRefreshToken) || errors.Is(err, store.ErrNotFound) {
		return nil, errInvalidRefresh
	}
	if err != nil {
		return nil, err
	}
	if r.Sessions != nil {
		err := r.Sessions.Extend(ctx, t.FamilyID, t.UserID, r.RefreshTTL)
		if errors.Is(err, auth.ErrSessionEnded) {
			// Ended in Redis (logoutAll racing this refresh): end it in Postgres too.
			if err := r.Store.RevokeSession(ctx, t.OrgID, t.UserID, t.FamilyID); err != nil {
				return nil, err
			}
			return nil, errInvalidRefresh
		}
		if err != nil {
			return nil, errSessionsUnavailable(err)
		}
	}
	return r.payload(u, t.FamilyID, next)
}

// logout ends the session of a refresh token: its family in Postgres, then
// the session in Redis (so its access tokens stop at once).
func (r *Resolver) logout(ctx context.Context, token string) (bool, error) {
	if err := checkToken(token); err != nil {
		return false, err
	}
	t, err := r.Store.RevokeRefreshFamily(ctx, hashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if r.Sessions != nil {
		if err := r.Sessions.End(ctx, t.FamilyID, t.UserID); err != nil {
			return false, errSessionsUnavailable(err)
		}
	}
	return true, nil
}

// logoutAll ends every session of the caller: Redis first (their access
// tokens stop at once, atomically), then the refresh tokens in Postgres.
func (r *Resolver) logoutAll(ctx context.Context) (bool, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return false, err
	}
	if r.Sessions != nil {
		if _, err := r.Sessions.EndAll(ctx, c.Subject); err != nil {
			return false, errSessionsUnavailable(err)
		}
	}
	if err := r.Store.RevokeUserRefreshTokens(ctx, c.OrgID, c.Subject); err != nil {
		return false, err
	}
	return true, nil
}

// Slugify turns an organization name into a URL slug ("Acme Corp" -> "acme-corp").
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(name) {
		switch {
		case c < unicode.MaxASCII && (unicode.IsLetter(c) || unicode.IsDigit(c)):
			b.WriteRune(c)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if len(s) > 48 {
		s = strings.TrimSuffix(s[:48], "-")
	}
	if s == "" {
		s = "org"
	}
	return s
}

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// checkToken bounds the length of a refresh token argument.
func checkToken(token string) error {
	var v kit.Input
	v.MaxLen("refreshToken", token, kit.MaxToken)
	return v.Err()
}
